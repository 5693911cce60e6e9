"""The rate limit holds across four gunicorn worker processes (``bench/load_rate_limit.py``, issue 17)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]


def figures_of(cache):
    parts = urlsplit(os.environ["DATABASE_URL"])
    database = urlunsplit(parts._replace(path="/" + (parts.path.lstrip("/") or "wtp") + "_ratelimit"))
    command = [sys.executable, str(ROOT / "bench" / "load_rate_limit.py"), f"--database={database}"]
    command += ["--workers=4", "--attempts=24", "--limit=3", f"--cache={cache}"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RATELIMIT ")]
    assert lines, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(lines[-1][len("RATELIMIT ") :])


def test_four_workers_sharing_the_database_cache_let_exactly_the_limit_through():
    figures = figures_of("database")
    assert (figures["allowed"], figures["limited"], figures["errors"]) == (3, 21, 0), figures
    assert figures["server_errors_logged"] == 0
