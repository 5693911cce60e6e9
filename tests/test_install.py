"""What an institution's developer meets first: the README's install blocks, start-up without PAYMENT_HOST, the
package metadata. The stock project itself is set up and exercised by .ci/stock_project.py (make test-wheel)."""

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def stock_project_script():
    spec = importlib.util.spec_from_file_location("stock_project", REPOSITORY / ".ci" / "stock_project.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_has_an_install_block_per_project_file_and_none_repeats_a_stock_app():
    blocks = stock_project_script().install_blocks((REPOSITORY / "README.md").read_text())
    paths = [path for path, _code in blocks]
    assert paths == [
        "mysite/settings/base.py",
        "mysite/settings/dev.py",
        "mysite/urls.py",
        "mysite/settings/production.py",
    ]
    base = dict(blocks)["mysite/settings/base.py"]
    for stock_app in ("wagtail.contrib.forms", "wagtail.contrib.redirects", "wagtail.admin", "django.contrib.sites"):
        assert f'"{stock_app}"' not in base
    for code in dict(blocks).values():
        compile(code, "README", "exec")


def test_without_payment_host_or_sites_framework_the_app_says_what_to_set():
    code = (
        "import django\n"
        "from django.conf import settings\n"
        "settings.configure(INSTALLED_APPS=['wagtail_training_pay', 'wagtail.contrib.settings', "
        "'wagtail.contrib.forms', 'wagtail', 'payments', 'django_countries', 'taggit', 'modelcluster', "
        "'django.contrib.auth', 'django.contrib.contenttypes'])\n"
        "django.setup()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPOSITORY)
    assert result.returncode != 0
    assert "ImproperlyConfigured: wagtail_training_pay: PAYMENT_HOST is not set" in result.stderr
    assert "PAYMENT_HOST = '127.0.0.1:8000'" in result.stderr


def test_the_package_declares_every_supported_django():
    classifiers = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["classifiers"]
    for version in ("5.2", "6.0", "6.1"):
        assert f"Framework :: Django :: {version}" in classifiers
