"""Time the web app's start: ``import wsgi`` beside a hello-world Flask app, and a gunicorn worker's
return after SIGKILL (with and without ``--preload``).

Usage::

    .venv/bin/python benchmarks/start_speed.py                 # 7 imports each, 5 kills per mode
    .venv/bin/python benchmarks/start_speed.py --runs 11 --kills 9 --port 5640

Import: each run is a fresh interpreter (with a bytecode cache, as on a deployed host, unless
``--no-bytecode-cache``); printed are the medians of the time spent in the
import alone (``perf_counter`` around it) and of the whole process (interpreter start and exit
included), for ``import wsgi`` and, in the same run, for a hello-world Flask app (the floor).

Restart: gunicorn with 2 sync workers serves ``wsgi:app`` (wrapped to say which worker answered)
on a migrated SQLite file. A worker is killed with SIGKILL; four clients then ask ``/healthz``
over and over until a worker that did not exist before the kill answers. Printed: the median
time from the kill to that first answer. Without ``--preload`` the new worker imports the app
itself; with it, the master forks a copy that has it already.

Goals (issue #13): ``import wsgi`` ≤ 1 s; a worker killed with SIGKILL serves again within 3 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HELLO = "from flask import Flask\napp = Flask('hello')\n@app.get('/')\ndef hello():\n    return 'hello'\n"
# The app as gunicorn serves it, plus a header naming the worker that answered.
PID_APP = """
import os
from wsgi import app as flask_app


def app(environ, start_response):
    def named(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Worker-Pid", str(os.getpid()))], exc_info)
    return flask_app(environ, named)
"""


def _env(database: str, pycache: Path | None) -> dict[str, str]:
    """Production-like settings; bytecode cached in ``pycache`` (as a deployed host has it) unless None."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "benchmark-secret-not-for-production",
        "FLASK_ENV": "production",
        "BASE_URL": "http://127.0.0.1",
    }
    env.pop("TEST_DATABASE_URL", None)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def time_import(module_code: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(seconds in the import, seconds for the whole interpreter) of one fresh process."""
    code = f"import time\nt = time.perf_counter()\n{module_code}\nprint(time.perf_counter() - t)"
    start = time.perf_counter()
    out = subprocess.run([PYTHON, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1]), time.perf_counter() - start


def import_figures(runs: int, env: dict[str, str], scratch: Path) -> None:
    (scratch / "hello.py").write_text(HELLO)
    hello_env = {**env, "PYTHONPATH": f"{scratch}{os.pathsep}{ROOT}"}
    rows = {"import wsgi": [], "hello-world Flask": []}
    time_import("import wsgi", env, ROOT)  # writes the bytecode cache, if any
    time_import("import hello", hello_env, scratch)
    for _ in range(runs):  # interleaved, so both see the same machine load
        rows["import wsgi"].append(time_import("import wsgi", env, ROOT))
        rows["hello-world Flask"].append(time_import("import hello", hello_env, scratch))
    print(f"import time, median of {runs} fresh interpreters (import alone / whole process):")
    for name, values in rows.items():
        print(
            f"  {name:<18} {statistics.median(v[0] for v in values):6.3f} s / "
            f"{statistics.median(v[1] for v in values):6.3f} s"
        )


def _get(url: str, timeout: float = 2.0) -> int | None:
    """The answering worker's pid, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.headers["X-Worker-Pid"])
    except urllib.error.HTTPError as error:  # a 503 is still an answer from a worker
        return int(error.headers["X-Worker-Pid"]) if error.headers.get("X-Worker-Pid") else None
    except (OSError, ValueError):
        return None


def _workers(master: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def _wait(predicate, deadline: float, what: str):
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise TimeoutError(what)


def restart_figures(kills: int, port: int, preload: bool, env: dict[str, str], scratch: Path) -> list[float]:
    """Seconds from SIGKILL of a worker to the first answer from its replacement, per kill."""
    (scratch / "pid_app.py").write_text(PID_APP)
    url = f"http://127.0.0.1:{port}/healthz"
    args = [
        PYTHON,
        "-m",
        "gunicorn",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        *(["--preload"] if preload else []),
        "pid_app:app",
    ]
    server = subprocess.Popen(
        args, env={**env, "PYTHONPATH": f"{scratch}{os.pathsep}{ROOT}"}, cwd=scratch, start_new_session=True
    )
    times = []
    try:
        _wait(lambda: len(_workers(server.pid)) == 2 and _get(url), time.monotonic() + 120, "gunicorn start")
        for _ in range(kills):
            before = _wait(
                lambda: len(_workers(server.pid)) == 2 and _workers(server.pid), time.monotonic() + 60, "two workers"
            )
            for _ in range(10):  # both workers have answered once (warm), as in production
                _get(url)
            victim = min(before)
            found = threading.Event()
            answered_at: list[float] = []
            killed = time.perf_counter()
            os.kill(victim, signal.SIGKILL)

            def poll(found=found, killed=killed, before=before, answered_at=answered_at):  # this kill's
                while not found.is_set() and time.perf_counter() - killed < 60:
                    pid = _get(url)
                    if pid is not None and pid not in before:
                        answered_at.append(time.perf_counter())
                        found.set()

            clients = [threading.Thread(target=poll) for _ in range(4)]
            for c in clients:
                c.start()
            for c in clients:
                c.join()
            if not answered_at:
                raise TimeoutError("the new worker never answered")
            times.append(min(answered_at) - killed)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per import figure")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs per gunicorn mode")
    parser.add_argument("--port", type=int, default=5640)
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile every module at every start (PYTHONDONTWRITEBYTECODE, as some sandboxes run)",
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="start_speed_") as tmp:
        scratch = Path(tmp)
        database = scratch / "start.sqlite"
        env = _env(str(database), None if options.no_bytecode_cache else scratch / "pycache")
        print("bytecode cache:", "none (every module compiled at start)" if options.no_bytecode_cache else "on")
        subprocess.run(
            [PYTHON, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        import_figures(options.runs, env, scratch)
        print(f"gunicorn, 2 sync workers, SIGKILL of one -> first answer from its replacement ({options.kills} kills):")
        for preload in (False, True):
            times = restart_figures(options.kills, options.port, preload, env, scratch)
            print(
                f"  {'--preload' if preload else 'no --preload':<13} median {statistics.median(times):6.3f} s "
                f"(min {min(times):.3f}, max {max(times):.3f})"
            )
    print("goals: import wsgi <= 1 s; SIGKILL -> serving <= 3 s")


if __name__ == "__main__":
    main()
