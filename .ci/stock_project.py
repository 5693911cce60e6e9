"""A stock Wagtail project with the plugin installed by the README's steps, then a smoke test against it.

Run with the Python of an environment where the built wheel is installed (``make test-wheel`` does):

    python .ci/stock_project.py

It runs `wagtail start mysite` in a temporary folder, pastes each block of the README marked
``<!-- install: append to <file> -->`` at the end of that file, migrates, runs ``manage.py check`` with the
development and the production settings, runs a task through the production settings' queue (``db_worker``)
and ``run_sweepers``, and then, inside the project (``--smoke``), checks what a
developer would look at first: a session page inside the stock ``base.html`` with the plugin's stylesheet,
the userbar for an editor, a learner registering and paying with the dummy provider, the email's links on the
project's host, the page in French. Exits non-zero on the first failure.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
README = REPOSITORY / "README.md"
MARKER = re.compile(r"<!-- install: append to (?P<path>\S+) -->\s*```python\n(?P<code>.*?)```", re.DOTALL)
PROJECT = "mysite"
DEV_HOST = "127.0.0.1:8000"


def install_blocks(readme_text):
    """``[(relative path, code)]`` in README order."""
    return [(match["path"], match["code"]) for match in MARKER.finditer(readme_text)]


def run(*args, cwd, env=None, check=True):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)  # noqa: S603 - our own commands
    if check and result.returncode:
        sys.exit(f"FAILED: {' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}")
    return result


def build_project(folder):
    wagtail = Path(sys.executable).with_name("wagtail")
    run(str(wagtail), "start", PROJECT, cwd=folder)
    project = folder / PROJECT
    blocks = install_blocks(README.read_text())
    targets = {path for path, _code in blocks}
    needed = {f"{PROJECT}/settings/base.py", f"{PROJECT}/settings/dev.py", f"{PROJECT}/urls.py"}
    if not needed <= targets:
        sys.exit(f"README lacks install blocks for {sorted(needed - targets)}")
    for path, code in blocks:
        with (project / path).open("a") as target:
            target.write("\n\n" + code)
    print(f"{len(blocks)} README blocks pasted into {sorted(targets)}")
    return project


QUEUE_A_SWEEP = "from wagtail_training_pay.tasks import run_sweepers_task; print(run_sweepers_task.enqueue().status)"
SWEEP_STATUS = (
    "from django_tasks_db.models import DBTaskResult; "
    "print(DBTaskResult.objects.get(task_path__endswith='run_sweepers_task').status)"
)


def check_project(project):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": f"{PROJECT}.settings.dev"}
    env.pop("DATABASE_URL", None)
    run(sys.executable, "manage.py", "migrate", "--noinput", cwd=project, env=env)
    checked = run(sys.executable, "manage.py", "check", cwd=project, env=env)
    if "wagtail_training_pay" in checked.stdout + checked.stderr:
        sys.exit(f"manage.py check (dev) reports the plugin:\n{checked.stdout}{checked.stderr}")
    production = {
        **env,
        "DJANGO_SETTINGS_MODULE": f"{PROJECT}.settings.production",
        "PAYMENT_HOST": "training.example.edu",
        "PAYFLOW_VENDOR": "vendor",
        "PAYFLOW_USER": "user",
        "PAYFLOW_PASSWORD": "password",
    }
    (project / PROJECT / "settings" / "local.py").write_text('SECRET_KEY = "stock-project-smoke-test"\n')
    checked = run(sys.executable, "manage.py", "check", cwd=project, env=production)
    if "wagtail_training_pay" in checked.stdout + checked.stderr:
        sys.exit(f"manage.py check (production) reports the plugin:\n{checked.stdout}{checked.stderr}")
    # The production block's task queue: a task waits in the database until `db_worker` runs it; the sweepers'
    # cron line runs.
    queued = run(sys.executable, "manage.py", "shell", "-c", QUEUE_A_SWEEP, cwd=project, env=production)
    if queued.stdout.split()[-1:] != ["READY"]:
        sys.exit(f"the production settings do not queue tasks in the database:\n{queued.stdout}{queued.stderr}")
    run(sys.executable, "manage.py", "db_worker", "--batch", cwd=project, env=production)
    finished = run(sys.executable, "manage.py", "shell", "-c", SWEEP_STATUS, cwd=project, env=production)
    if finished.stdout.split()[-1:] != ["SUCCESSFUL"]:
        sys.exit(f"db_worker did not run the queued task:\n{finished.stdout}{finished.stderr}")
    swept = run(sys.executable, "manage.py", "run_sweepers", cwd=project, env=production)
    if len(swept.stdout.splitlines()) != 5:
        sys.exit(f"run_sweepers should print a line per sweeper:\n{swept.stdout}")
    print("production: tasks queued in the database and run by db_worker; run_sweepers runs every sweeper")
    without_host = {**production, "DJANGO_SETTINGS_MODULE": f"{PROJECT}.settings.base"}
    refused = run(sys.executable, "manage.py", "check", cwd=project, env=without_host, check=False)
    if refused.returncode == 0 or "PAYMENT_HOST = '127.0.0.1:8000'" not in refused.stderr:
        sys.exit(f"without PAYMENT_HOST the app should say what to set:\n{refused.stderr}")
    smoke = run(sys.executable, str(Path(__file__).resolve()), "--smoke", cwd=project, env=env)
    print(smoke.stdout, end="")


def smoke():
    """Inside the project (its dev settings): the checks of the README's promise."""
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.contrib.staticfiles import finders
    from django.core import mail
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone
    from wagtail.models import Page

    import wagtail_training_pay
    from wagtail_training_pay.models import Registration, TrainingIndexPage, TrainingSessionPage

    setup_test_environment()  # the locmem email backend: the outbox can be read
    origin = Path(wagtail_training_pay.__file__).resolve()
    if os.environ.get("WTP_STOCK_FROM_SOURCE") != "1":
        assert origin.parent.parent != REPOSITORY, f"the plugin comes from the source tree, not the wheel: {origin}"
    assert finders.find("wagtail_training_pay/training.css"), "the wheel lacks the stylesheet"

    home = Page.objects.get(depth=2)
    index = home.add_child(instance=TrainingIndexPage(title="Training", slug="training"))
    session = index.add_child(
        instance=TrainingSessionPage(
            title="Wagtail for editors",
            slug="wagtail-for-editors",
            start_at=timezone.now() + timezone.timedelta(days=10),
            duration_minutes=90,
            capacity=12,
            fee="45.00",
            currency="EUR",
        )
    )
    client = Client(HTTP_HOST=DEV_HOST)
    html = client.get(session.url).content.decode()
    assert f"css/{PROJECT}.css" in html, "the session page is not inside the project's base.html"
    assert "wagtail_training_pay/training.css" in html.split("</head>")[0], "the plugin's stylesheet is missing"
    assert "wtp-skip-link" not in html and "Wagtail for editors" in html
    assert "<wagtail-userbar" not in html
    print("session page inside the stock base.html, with the plugin's stylesheet")

    from django.contrib.auth import get_user_model

    editor = get_user_model().objects.create_superuser("editor", "editor@example.edu", "x")
    client.force_login(editor)
    assert "<wagtail-userbar" in client.get(session.url).content.decode(), "no userbar for an editor"
    client.logout()
    print("userbar for an editor")

    french = client.get(session.url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "45,00" in french and "S’inscrire" in french, "the page is not in French"
    print("the page in French")

    sys.path.append(str(REPOSITORY))  # after site-packages: the plugin still comes from the wheel
    from tests.registration_helpers import LEARNER, pay_with_dummy

    response = client.post(session.url, LEARNER)
    assert response.status_code == 302, f"the registration was refused: {response.status_code}"
    registration = Registration.objects.get(email=LEARNER["email"])
    pay = client.get(response["Location"], follow=True)
    assert f"css/{PROJECT}.css" in pay.content.decode(), "the payment step is not inside the project's base.html"
    paid = client.get(pay_with_dummy(client, registration)["Location"], follow=True)
    registration.refresh_from_db()
    assert registration.status == "confirmed", registration.status
    assert f"css/{PROJECT}.css" in paid.content.decode()
    print("registered and paid with the dummy provider")

    (message,) = mail.outbox
    links = re.findall(r"https?://[^\s\"'<>]+", message.body)
    assert links and all(link.startswith(f"http://{DEV_HOST}/") for link in links), links
    manage = client.get(links[0].removeprefix(f"http://{DEV_HOST}"))
    assert manage.status_code == 200 and "Lovelace" in manage.content.decode()
    print(f"the email's links are on http://{DEV_HOST}/ and open the manage page")

    index_html = client.get(index.url).content.decode()
    assert f"css/{PROJECT}.css" in index_html and "Wagtail for editors" in index_html
    forms = get_user_model().objects.get(username="editor")
    from wagtail.contrib.forms.utils import get_forms_for_user

    assert not get_forms_for_user(forms).exists(), "sessions listed in the Forms menu"
    print("index page inside the stock base.html; sessions not in the Forms menu")


def main():
    if "--smoke" in sys.argv:
        smoke()
        return
    folder = Path(tempfile.mkdtemp(prefix="wtp-stock-"))
    try:
        project = build_project(folder)
        check_project(project)
        print("stock project: OK")
    finally:
        if os.environ.get("WTP_KEEP_STOCK_PROJECT") != "1":
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {folder}")


if __name__ == "__main__":
    main()
