"""Start the production processes locally (gunicorn with deploy/gunicorn.conf.py, job workers),
wait for them with a deadline, and stop exactly what was started.

Used by ``make prod-check`` (deploy/prod_check.py) and the tests that need real servers
(tests/test_backup.py, tests/test_hosts.py). Never touches the shared PostgreSQL or Redis
servers themselves: only databases and Redis numbers it is given.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

__all__ = [
    "ROOT",
    "BIN",
    "GUNICORN_CONF",
    "free_port",
    "wait_until",
    "Service",
    "app_env",
    "flask",
    "start_web",
    "start_worker",
    "recreate_pg_database",
]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
# Ports tried for local servers: FEEDBACK_PORTS="first-last" (default 5680-5699).
DEFAULT_PORTS = "5680-5699"
T = TypeVar("T")


def free_port() -> int:
    """A port of FEEDBACK_PORTS nobody listens on now."""
    first, last = (int(p) for p in os.environ.get("FEEDBACK_PORTS", DEFAULT_PORTS).split("-"))
    for port in range(first, last + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{last} (FEEDBACK_PORTS)")


def wait_until(check: Callable[[], T], *, timeout: float, what: str, every: float = 0.05) -> T:
    """Call ``check`` until it returns something truthy, and return that; RuntimeError naming
    ``what`` after ``timeout`` seconds. Exceptions from ``check`` count as not yet."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - "not ready yet", whatever the reason
            last = exc
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s" + (f" (last error: {last!r})" if last else ""))
        time.sleep(every)


class Service:
    """A command in its own process group (so its children stop with it), output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def __repr__(self) -> str:
        return f"{self.name} (pid {self.proc.pid})"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the group (gunicorn and RQ finish what they are doing), SIGKILL after ``timeout``."""
        if self.running():
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.log.close()
        if not os.environ.get("KEEP_SERVICE_LOGS"):
            Path(self.log.name).unlink(missing_ok=True)


def app_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of the app's processes: this one's minus any FLASK_* setting, plus the
    database and ``settings`` (names as in the systemd EnvironmentFile, e.g. FLASK_JOB_QUEUE)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GUNICORN_"))}
    env.pop("DATABASE_URL", None)
    env.update({"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT), "GUNICORN_ACCESSLOG": "-"})
    env.update(settings)
    return env


def flask(
    args: list[str], env: dict[str, str], *, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess:
    """``flask --app wsgi ARGS`` as an operator would run it; RuntimeError with its output on failure."""
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False


def start_web(
    env: dict[str, str], port: int | None = None, *, workers: int = 2, timeout: float = 120
) -> tuple[Service, str]:
    """gunicorn with deploy/gunicorn.conf.py on 127.0.0.1:PORT; returns (service, base URL) once
    /healthz answers 200."""
    port = port or free_port()
    service = Service(
        f"gunicorn-{port}",
        [str(BIN / "gunicorn"), "-c", str(GUNICORN_CONF), "-b", f"127.0.0.1:{port}", "-w", str(workers), "wsgi:app"],
        env,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if not service.running():
            raise SystemExit(f"gunicorn exited with {service.proc.returncode}:\n{service.output()[-3000:]}")
        return _healthy(base)

    try:
        wait_until(ready, timeout=timeout, what=f"gunicorn on port {port} healthy")
    except (RuntimeError, SystemExit) as exc:
        output = service.output()
        service.stop()
        raise RuntimeError(f"{exc}\n{output[-3000:]}") from None
    return service, base


def start_worker(env: dict[str, str], name: str = "worker") -> Service:
    """``flask --app wsgi worker`` (an RQ worker for the job queue). It needs no readiness wait:
    queued jobs wait in Redis until it takes them."""
    return Service(name, [str(BIN / "flask"), "--app", "wsgi", "worker"], env)


def recreate_pg_database(url: str) -> None:
    """Drop and create the database named in ``url`` (never the server, never a system database)."""
    target = sa.make_url(url)
    if target.drivername in ("postgresql", "postgres"):
        target = target.set(drivername="postgresql+psycopg")
    if target.database in (None, "", "postgres", "template0", "template1"):
        raise ValueError(f"refusing to recreate database {target.database!r}")
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
