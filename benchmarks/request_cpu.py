"""CPU time of one request inside the app, without a server, a network or concurrency.

    .venv/bin/python -m benchmarks.request_cpu [--db sqlite|postgres] [--requests 2000]

Prepares a fresh database as ``benchmarks.load`` does, then calls the WSGI app directly in this
process: ``GET /api/v1/surveys`` (the trivial endpoint) and ``POST /api/v1/responses`` with the
load benchmark's random valid bodies. Prints the CPU milliseconds per request (the best and the
median of 7 blocks), which is what the app itself costs before gunicorn, the client and the
other processes on the machine add theirs (compare with ``benchmarks.load``). On PostgreSQL it
also prints what the database server's backends spent per submission (when they run on this
machine and /proc shows them).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.load import SHARED_PG_URL, LoadClients, app_env, prepare_database, recreate_pg_database

# Its own database, so that it never drops the one a running benchmarks.load is using.
PG_URL = SHARED_PG_URL.rsplit("/", 1)[0] + "/feedback_cpu"


def backend_cpu_seconds(url: str) -> float | None:
    """CPU time so far of the PostgreSQL backends connected to the database of ``url`` (Linux /proc)."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        pids = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    try:
        ticks = sum(
            sum(map(int, Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13])) for pid in pids
        )
    except (OSError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint (default 2000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'cpu.sqlite'}"
        else:
            url = PG_URL
            recreate_pg_database(url)
        prepare_database(url, log=lambda *_: None)
        os.environ.update(app_env(url))
        from feedback import create_app

        app = create_app()
        clients = LoadClients("", 1, 0.0)
        client = app.test_client()
        clients.load_catalog(url, fetch=lambda path: client.get(path).get_json())
        bodies = [
            json.dumps(clients.body()).encode() for _ in range(args.requests + 201)
        ]  # the last one is sent at the end

        def call(method: str, body: bytes = b"") -> str:
            environ = {
                "REQUEST_METHOD": method,
                "SERVER_NAME": "bench",
                "SERVER_PORT": "80",
                "PATH_INFO": "/api/v1/responses" if body else "/api/v1/surveys",
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(body),
                "CONTENT_LENGTH": str(len(body)),
                "CONTENT_TYPE": "application/json",
                "REMOTE_ADDR": "127.0.0.1",
                "wsgi.errors": sys.stderr,
            }
            status = []
            result = app.wsgi_app(environ, lambda s, h, e=None: status.append(s))
            b"".join(result)
            getattr(result, "close", lambda: None)()
            return status[0]

        def per_request(requests) -> tuple[float, float]:
            blocks = []
            for block in requests:
                start = time.process_time()
                for request in block:
                    request()
                blocks.append((time.process_time() - start) / len(block) * 1000)
            return min(blocks), statistics.median(blocks)

        for body in bodies[:200]:  # warm up: catalog, caches, connections
            call("POST", body)
            call("GET")
        n = args.requests // 7
        trivial = per_request([[lambda: call("GET")] * n for _ in range(7)])
        rest = iter(bodies[200:])
        backend_start = None if args.db == "sqlite" else backend_cpu_seconds(url)
        submit = per_request([[lambda b=next(rest): call("POST", b) for _ in range(n)] for _ in range(7)])  # noqa: B008 - one body each
        backend_end = None if backend_start is None else backend_cpu_seconds(url)
        statuses = {call("POST", bodies[-1]), call("POST", bodies[-1])}
    print(f"{args.db}: CPU ms per request, best / median of 7 blocks of {n}")
    print(f"  trivial GET /api/v1/surveys     {trivial[0]:.3f} / {trivial[1]:.3f}")
    print(f"  submit  POST /api/v1/responses  {submit[0]:.3f} / {submit[1]:.3f}   (last statuses: {sorted(statuses)})")
    if backend_start is not None and backend_end is not None:
        print(f"  PostgreSQL backends per submission {(backend_end - backend_start) / (7 * n) * 1000:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
