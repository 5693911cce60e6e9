# wagtail-training-pay: `make demo` serves the sandbox, `make test` runs the whole suite.
# PYTHON=... picks the interpreter, DATABASE_URL=... the database (SQLite by default).

SHELL := /bin/bash
PYENV_ROOT := $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
# Python 3.13 or 3.12 when available (on PATH or under pyenv), else python3.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for c in $(wildcard $(PYENV_ROOT)/versions/3.13.*/bin/python) python3.13 \
	$(wildcard $(PYENV_ROOT)/versions/3.12.*/bin/python) python3.12; do \
	"$$c" -c 'import sys' >/dev/null 2>&1 && { echo "$$c"; exit 0; }; done; echo python3)
endif
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV ?= .venv-$(PY_VERSION)
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

WHEEL_VENV ?= .venv-wheel-$(PY_VERSION)

.PHONY: demo simulators test test-wheel test-postgresql lint format messages bench wheel clean help

help:
	@echo "make demo    serve the sandbox with demo content at http://$(HOST):$(PORT)/, and its task worker"
	@echo "            WTP_SIMULATORS=1 make demo: with the PayPal variants, against 'make simulators'"
	@echo "make simulators  serve the PayPal gateway simulators on 127.0.0.1:8101-8103 (development only)"
	@echo "make test    run the whole test suite (PYTHON=..., DATABASE_URL=... to override)"
	@echo "make test-wheel  build the wheel, install it in a fresh venv, run .ci/stock_project.py and the suite against it"
	@echo "make lint    ruff check and format check"
	@echo "make bench   run the benchmarks under bench/"

$(STAMP): pyproject.toml
	@test -n "$(PY_VERSION)" || { echo "No Python found (tried $(PYTHON))"; exit 1; }
	@echo "Using $(PYTHON) (Python $(PY_VERSION)) in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[testing,sandbox]'
	@touch $(STAMP)

# HOST and PORT reach the sandbox's settings too: payment returns, emails, .ics files and the Wagtail Site
# all use the address the demo is served on.
demo: export HOST := $(HOST)
demo: export PORT := $(PORT)
demo: $(STAMP)
	$(VPY) sandbox/manage.py migrate --noinput
	$(VPY) sandbox/manage.py load_demo
	@if [ "$$WTP_SIMULATORS" = 1 ]; then $(VPY) sandbox/manage.py use_simulators; fi
	@echo "Background tasks: sandbox/manage.py db_worker runs beside the web server (docs/deployment.md)"
	$(VPY) sandbox/manage.py db_worker --interval 0.5 & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT; \
	$(VPY) sandbox/manage.py runserver $(HOST):$(PORT)

simulators: $(STAMP)
	$(VPY) sandbox/run_simulators.py

test: $(STAMP)
	$(VPY) -m pytest $(PYTEST_ARGS)

# The wheel as users get it: a fresh venv with only the wheel and its dependencies runs a stock
# `wagtail start` project set up by the README (.ci/stock_project.py); then the test tools are added and the
# suite runs against the installed package (the source tree is only on the path for `tests`, after it).
test-wheel: $(STAMP)
	rm -rf dist $(WHEEL_VENV)
	$(VPY) -m build --wheel --outdir dist/ >/dev/null
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(WHEEL_VENV)/bin/python -m pip install --quiet dist/*.whl
	$(WHEEL_VENV)/bin/python .ci/stock_project.py
	$(WHEEL_VENV)/bin/python -m pip install --quiet "$$(ls dist/*.whl)[testing,sandbox]"
	$(WHEEL_VENV)/bin/python -c 'import site, sys; open(site.getsitepackages()[0] + "/wtp_tests.pth", "w").write(sys.argv[1])' "$(CURDIR)"
	WTP_INSTALLED_WHEEL=1 $(WHEEL_VENV)/bin/python -P -m pytest --import-mode=append -p no:cacheprovider $(PYTEST_ARGS)

test-postgresql:
	$(MAKE) test DATABASE_URL=postgres://postgres@127.0.0.1:5432/test

lint: $(STAMP)
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

format: $(STAMP)
	$(VPY) -m ruff check --fix .
	$(VPY) -m ruff format .

messages: $(STAMP)
	cd wagtail_training_pay && DJANGO_SETTINGS_MODULE=tests.settings PYTHONPATH=.. ../$(VPY) -m django makemessages -l fr --no-obsolete --add-location file
	cd wagtail_training_pay && DJANGO_SETTINGS_MODULE=tests.settings PYTHONPATH=.. ../$(VPY) -m django compilemessages -l fr

bench: $(STAMP)
	$(VPY) bench/run.py

wheel: $(STAMP)
	$(VPY) -m build --wheel --outdir dist/

clean:
	rm -rf .venv-* build dist *.egg-info sandbox/db.sqlite3 tests/test.sqlite3
