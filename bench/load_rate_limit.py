#!/usr/bin/env python
"""The registration rate limit across gunicorn worker processes, over HTTP, on PostgreSQL.

    python bench/load_rate_limit.py --database postgres://postgres@127.0.0.1:5432/wtp_ratelimit
    python bench/load_rate_limit.py --cache locmem   # the per-process cache: the limit does not hold

``attempts`` registrations are posted at once from one client address to the sandbox served by
``workers`` gunicorn processes, with a limit of ``limit`` per hour. With the sandbox's database cache
exactly ``limit`` get through; with the local-memory cache each process counts apart.
Prints the figures and one ``RATELIMIT {json}`` line; exits 1 when the limit did not hold (database cache).
"""

import argparse
import json
import os
import re
import sys
import tempfile
import time
from argparse import Namespace
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sandbox")]

from bench.load_registrations import (  # noqa: E402
    free_port,
    recreate_database,
    register_once,
    run_all,
    server_environment,
    set_up_content,
    start_gunicorn,
    stop,
    wait_until_served,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database",
        default=os.environ.get("WTP_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wtp_ratelimit"),
        help="PostgreSQL URL of a throw-away database on loopback (dropped and created again)",
    )
    parser.add_argument("--attempts", type=int, default=24)
    parser.add_argument("--limit", type=int, default=3, help="registrations allowed per hour and address")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--cache", choices=("database", "locmem"), default="database")
    args = parser.parse_args(argv)
    for name in ("attempts", "limit", "workers", "threads", "concurrency"):
        if not 1 <= getattr(args, name) <= 500:
            parser.error(f"--{name} must be between 1 and 500")
    return args


def main(argv=None):
    args = parse_args(argv)
    port = free_port()
    mail_dir = tempfile.mkdtemp(prefix="wtp-ratelimit-mail-")
    os.environ.update(server_environment(args, port, mail_dir))
    os.environ.update(WTP_LOAD_RATE_LIMIT=f"{args.limit}/h", WTP_LOAD_CACHE=args.cache)
    recreate_database(args.database)

    import django

    django.setup()
    content = set_up_content(Namespace(seats=args.attempts + 10, hosts=1))
    from django.db import connections

    connections.close_all()
    base = f"http://127.0.0.1:{port}"
    path = content["session"].get_url()
    with tempfile.TemporaryFile(mode="w+") as log:
        server = start_gunicorn(args, port, dict(os.environ), log)
        try:
            wait_until_served(base, path, server, time.monotonic() + 60)
            started = time.monotonic()
            jobs = [lambda n=n: register_once(base, path, n) for n in range(args.attempts)]
            results = run_all(jobs, args.concurrency)
            duration = time.monotonic() - started
        finally:
            stop(server)
            log.seek(0)
            server_log = log.read()
    outcomes = Counter("limited" if result == ("other", 429) else result[0] for result in results)
    figures = {
        "cache": args.cache,
        "workers": args.workers,
        "attempts": args.attempts,
        "limit": args.limit,
        "allowed": outcomes["held"],
        "limited": outcomes["limited"],
        "errors": outcomes["error"] + outcomes["exception"] + outcomes["other"] + outcomes["full"],
        "server_errors_logged": len(re.findall(r"^(?:ERROR|Internal Server Error|Traceback)", server_log, re.M)),
        "duration_s": round(duration, 2),
    }
    held = figures["allowed"] == args.limit and figures["limited"] == args.attempts - args.limit
    figures["limit_held"] = held and not figures["errors"] and not figures["server_errors_logged"]
    print(
        f"{args.workers} gunicorn workers, {args.cache} cache: {args.attempts} registrations from one address "
        f"at once against {args.limit}/h -> {figures['allowed']} allowed, {figures['limited']} refused (429), "
        f"{figures['errors']} errors, in {figures['duration_s']} s"
    )
    if figures["server_errors_logged"]:
        print(server_log[-4000:])
    print("RATELIMIT " + json.dumps(figures))
    return 0 if figures["limit_held"] or args.cache == "locmem" else 1


if __name__ == "__main__":
    sys.exit(main())
