"""Load and fault benchmark: the real app under gunicorn, many concurrent clients, then the database.

    .venv/bin/python -m benchmarks.load --db sqlite            # 60 s, 100 clients, 2×cores workers
    .venv/bin/python -m benchmarks.load --db postgres          # PostgreSQL at 127.0.0.1:5432 (feedback_load)
    .venv/bin/python -m benchmarks.load --db sqlite --fault kill
    .venv/bin/python -m benchmarks.load --db postgres --fault kill
    .venv/bin/python -m benchmarks.load --db postgres --fault pg-stop   # a private PostgreSQL of its own

What one run does:

1. prepares a fresh database (a SQLite file in a temporary folder, or a PostgreSQL database
   dropped and created again) with the real CLI: ``db upgrade``, ``load-units``,
   ``seed-demo --responses 0`` (service points for every commune, no responses);
2. starts ``gunicorn -w N wsgi:app`` on a free port with DATABASE_URL, SECRET_KEY and BASE_URL
   (rate limits switched off, as for trusted bulk loading: this measures the submission path,
   not the limiter, and all clients share one address);
3. measures a trivial endpoint (``GET /api/v1/surveys``: no database) with the same number of
   concurrent clients, and the submission path (``POST /api/v1/responses``) for ``--duration``
   seconds, alternating in ``--rounds`` blocks so both meet the machine in the same state; it
   prints throughput, p50/p99 and the CPU per request of the server and of the whole machine.
   A share of the clients (``--retry-share``) are flaky phones: they send every response
   twice, and resend the same body after a failure (timeout, dropped connection, 503);
4. optionally injects a fault mid-run: ``kill`` sends SIGKILL to the gunicorn master and workers
   and starts gunicorn again on the same port; ``pg-stop`` stops a private PostgreSQL with
   ``pg_ctl stop -m fast`` (the shared server at 127.0.0.1:5432 is never touched), checks that the
   API answers 503 during the outage, and starts it again — the same gunicorn must recover alone;
5. checks the database: every acknowledged (2xx) id stored exactly once with all its answers,
   no response without answers or answers without a response, nothing stored that no client
   sent, no 5xx (503 during a PostgreSQL outage is counted apart), SQLite ``integrity_check``.

The functions are importable: tests/test_load.py runs a short version.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SHARED_PG_URL = "postgresql://postgres@127.0.0.1:5432/feedback_load"
# Seconds allowed for a server or database to (re)start and answer, or a fault to be over: a
# last resort only, as everything waits for readiness; generous for a busy 2-core machine,
# where a gunicorn restart was seen to take 18–37 s.
FAULT_DEADLINE = 120
Log = Callable[[str], None]


# --------------------------------------------------------------------------- databases


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sa_url(url: str) -> str:
    """The URL as SQLAlchemy wants it (psycopg 3 for PostgreSQL)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def recreate_pg_database(url: str) -> None:
    """Drop and create the database named in ``url`` (never the server itself)."""
    target = sa.make_url(sa_url(url))
    if target.database in (None, "", "postgres", "template0", "template1"):
        raise ValueError(f"refusing to recreate database {target.database!r}")
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def app_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "load-benchmark-" + uuid.uuid4().hex,
            "BASE_URL": "http://127.0.0.1",
            # Trusted bulk loading: every client shares 127.0.0.1, so per-address limits would turn
            # the run into a limiter benchmark.
            "FLASK_RATELIMIT_ENABLED": "false",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


PREPARE = """
from feedback import create_app
app = create_app()
runner = app.test_cli_runner()
for args in (["db", "upgrade"], ["load-units"], ["seed-demo", "--responses", "0"]):
    result = runner.invoke(args=args)
    if result.exit_code:
        raise SystemExit(f"flask {' '.join(args)} failed: {result.output}{result.exception!r}")
    print("flask", *args, "->", result.output.strip().splitlines()[-1:] )
"""


def prepare_database(database_url: str, log: Log = print) -> None:
    """``flask db upgrade``, ``load-units``, ``seed-demo --responses 0`` (one process, the real commands)."""
    if database_url.startswith("postgres"):
        recreate_pg_database(database_url)
    out = subprocess.run(
        [str(BIN / "python"), "-c", PREPARE],
        cwd=ROOT,
        env=app_env(database_url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode:
        raise RuntimeError(f"preparing {database_url} failed:\n{out.stdout}\n{out.stderr}")
    for line in out.stdout.splitlines():
        log("  " + line)


class PrivatePostgres:
    """A throw-away PostgreSQL server (initdb + pg_ctl) in a temporary folder, on a spare port."""

    def __init__(self, log: Log = print):
        self.log = log
        self.bindir = find_pg_bindir()
        if self.bindir is None:
            raise RuntimeError("initdb not found under /usr/lib/postgresql/*/bin or on PATH")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="feedback-pg-"))
        self.data = self.dir / "data"
        self.logfile = self.dir / "server.log"
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/feedback_load"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
        return out

    def init(self) -> PrivatePostgres:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
            timeout=120,
        )
        self.start()
        return self

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            str(FAULT_DEADLINE),
            "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c max_connections=200",
            "start",
            timeout=FAULT_DEADLINE + 30,
        )

    def stop(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-m",
            "fast",
            "-w",
            "-t",
            str(FAULT_DEADLINE),
            "stop",
            check=False,
            timeout=FAULT_DEADLINE + 30,
        )

    def destroy(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def find_pg_bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


# --------------------------------------------------------------------------- the server


def machine_cpu_seconds() -> float:
    """CPU time used by every core since boot, idle and I/O wait left out (Linux /proc/stat)."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class Gunicorn:
    """``gunicorn -w N -b 127.0.0.1:PORT wsgi:app`` in its own process group (master + workers)."""

    def __init__(self, database_url: str, workers: int, port: int | None = None, log: Log = print):
        self.env = app_env(database_url)
        self.workers = workers
        self.port = port or free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.logfile = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = FAULT_DEADLINE) -> None:
        cmd = [
            str(BIN / "gunicorn"),
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--backlog",
            "2048",
            "--timeout",
            "60",
            "wsgi:app",
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=self.logfile, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + "/api/v1/surveys", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer in time:\n" + self.output()[-3000:])

    def kill(self) -> None:
        """SIGKILL the master and every worker at once (their process group)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its workers (their process group; Linux /proc)."""
        if self.proc is None:
            return 0.0
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # a process that ended meanwhile
            if int(fields[2]) == self.proc.pid:  # process group
                total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    def output(self) -> str:
        self.logfile.flush()
        return Path(self.logfile.name).read_text(errors="replace")

    def close(self) -> None:
        self.stop()
        self.logfile.close()
        if not os.environ.get("KEEP_GUNICORN_LOG"):
            os.unlink(self.logfile.name)


# --------------------------------------------------------------------------- clients


def answers_for(survey: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A valid answer set for a survey as the API describes it (relevance conditions honoured)."""
    answers: dict[str, Any] = {}
    for q in survey["questions"]:
        rel = q.get("relevant")
        if rel is not None:
            given = answers.get(rel["question"])
            chosen = given if isinstance(given, list) else [given]
            if given is None or not any(str(v) in rel["in"] for v in chosen):
                continue
        if not q["required"] and rng.random() < 0.15:
            continue
        values = [o["value"] for o in q.get("options") or []]
        kind = q["type"]
        if kind == "multiple":
            answers[q["id"]] = rng.sample(values, rng.randint(1, min(3, len(values))))
        elif kind == "integer":
            answers[q["id"]] = rng.randint(q.get("min", 0), min(q.get("max", 10), q.get("min", 0) + 20))
        elif kind == "text":
            answers[q["id"]] = rng.choice(["Nhân viên nhiệt tình", "Phải chờ lâu", "Tốt", "Cần thêm ghế ngồi"])
        else:
            answers[q["id"]] = rng.choice(values)
    return answers


def answer_rows(answers: dict[str, Any]) -> int:
    """Rows the answers table should hold for these answers (one per chosen option)."""
    return sum(len(v) if isinstance(v, list) else 1 for v in answers.values())


@dataclass
class Stats:
    """Requests of one phase: status counts, failures and latencies of answered requests."""

    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # no HTTP answer: connection refused or dropped, timeout
    outage_statuses: dict[int, int] = field(default_factory=dict)  # answers while PostgreSQL was down
    client_cpu: float = 0.0  # CPU seconds the load generator itself used (it shares the machine)
    server_cpu: float = 0.0  # CPU seconds gunicorn's master and workers used
    machine_cpu: float = 0.0  # CPU seconds the whole machine used (also PostgreSQL, the kernel)

    @classmethod
    def combine(cls, parts: list[Stats]) -> Stats:
        """One phase measured in several blocks, as one."""
        total = cls(parts[0].name)
        for part in parts:
            total.seconds += part.seconds
            total.latencies += part.latencies
            total.errors += part.errors
            total.client_cpu += part.client_cpu
            total.server_cpu += part.server_cpu
            total.machine_cpu += part.machine_cpu
            for mine, theirs in ((total.statuses, part.statuses), (total.outage_statuses, part.outage_statuses)):
                for status, n in theirs.items():
                    mine[status] = mine.get(status, 0) + n
        return total

    def record(self, status: int, latency: float, *, outage: bool = False) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if outage:
            self.outage_statuses[status] = self.outage_statuses.get(status, 0) + 1

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    def count(self, predicate: Callable[[int], bool]) -> int:
        return sum(n for s, n in self.statuses.items() if predicate(s))

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.answered,
            "req_per_s": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50) * 1000, 1),
            "p99_ms": round(self.percentile(99) * 1000, 1),
            "statuses": dict(sorted(self.statuses.items())),
            "errors": self.errors,
            "outage_statuses": dict(sorted(self.outage_statuses.items())),
            "client_cpu_share": round(self.client_cpu / self.seconds, 2) if self.seconds else 0.0,
            "server_cpu_ms_per_request": self.per_request(self.server_cpu),
            "machine_cpu_ms_per_request": self.per_request(self.machine_cpu),
        }

    def per_request(self, cpu_seconds: float) -> float:
        return round(cpu_seconds / self.answered * 1000, 2) if self.answered and cpu_seconds else 0.0


@dataclass
class Ledger:
    """What the clients sent and what the server acknowledged."""

    sent: dict[str, int] = field(default_factory=dict)  # id → answer rows expected
    acknowledged: set[str] = field(default_factory=set)
    resends: int = 0


class LoadClients:
    """Many concurrent clients on one asyncio loop; ``outage`` marks answers given during a fault."""

    def __init__(self, base: str, clients: int, retry_share: float, seed: int = 5):
        self.base = base
        self.clients = clients
        self.retry_share = retry_share
        self.rng = random.Random(seed)
        self.ledger = Ledger()
        self.outage = False
        # While a fault is under way the clients go on past the planned end, so that what comes
        # after it (a restarted server, a database back) meets load too, however slowly it comes.
        self.fault_pending = False
        self.surveys: list[dict[str, Any]] = []
        self.places: dict[str, list[tuple[str, int | None]]] = {}
        self.ready: collections.deque[tuple[str, bytes, int]] = collections.deque()

    def load_catalog(self, database_url: str, fetch: Callable[[str], Any] | None = None) -> None:
        """Surveys from the API (``fetch(path)`` → JSON; over HTTP by default); communes and
        their service points from the database."""

        def over_http(path: str) -> Any:
            with urllib.request.urlopen(self.base + path, timeout=10) as r:
                return json.load(r)

        fetch = fetch or over_http
        for s in fetch("/api/v1/surveys"):
            self.surveys.append(fetch(f"/api/v1/surveys/{s['slug']}"))
        engine = sa.create_engine(sa_url(database_url))
        try:
            with engine.connect() as conn:
                points = conn.execute(
                    sa.text("SELECT id, commune_code, service_area FROM service_point WHERE active")
                ).all()
                communes = conn.scalars(sa.text("SELECT code FROM commune")).all()
        finally:
            engine.dispose()
        for s in self.surveys:
            here = [(c, pid) for pid, c, area in points if area == s["service_area"]]
            # Most submissions come from a poster (a service point); some from the landing page.
            self.places[s["slug"]] = here + [(c, None) for c in communes[: max(1, len(here) // 5)]]

    def body(self) -> dict[str, Any]:
        survey = self.rng.choice(self.surveys)
        commune, point = self.rng.choice(self.places[survey["slug"]])
        now = datetime.now(UTC)
        return {
            "id": str(uuid.uuid4()),
            "survey": survey["slug"],
            "version": survey["version"],
            "commune": commune,
            "service_point": point,
            "answers": answers_for(survey, self.rng),
            "started_at": (now - timedelta(seconds=self.rng.randint(60, 240))).isoformat(),
            "submitted_at": now.isoformat(),
            "lang": self.rng.choice(["vi", "en"]),
        }

    def prepare(self, count: int) -> None:
        """Make bodies ahead of a phase (JSON text), so that the clients' CPU time, which the
        server shares, goes into sending them rather than into making random answers."""
        while len(self.ready) < count:
            body = self.body()
            self.ready.append((body["id"], json.dumps(body).encode(), answer_rows(body["answers"])))

    def next_body(self) -> tuple[str, bytes, int]:
        """``(id, JSON body, answer rows)`` of a new response."""
        if not self.ready:
            self.prepare(1)
        return self.ready.popleft()

    async def _request(
        self, session: aiohttp.ClientSession, stats: Stats, method: str, path: str, body: bytes | None = None
    ) -> int | None:
        start = time.perf_counter()
        outage = self.outage
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            async with session.request(method, self.base + path, data=body, headers=headers) as r:
                await r.read()
                stats.record(r.status, time.perf_counter() - start, outage=outage or self.outage)
                return r.status
        except (TimeoutError, aiohttp.ClientError, OSError):
            stats.errors += 1
            return None

    def loading(self, until: float) -> bool:
        """Whether the clients keep sending: until the planned end, or while a fault is pending
        (never past ``FAULT_DEADLINE`` seconds after the planned end)."""
        now = time.monotonic()
        return now < until or (self.fault_pending and now < until + FAULT_DEADLINE)

    async def _submitter(self, session: aiohttp.ClientSession, stats: Stats, flaky: bool, until: float) -> None:
        while self.loading(until):
            response_id, body, rows = self.next_body()
            self.ledger.sent[response_id] = rows
            # A steady client sends once (a failure just loses that attempt, as a closed browser
            # tab would); a flaky phone sends twice and resends the same body after a failure.
            attempts = 0
            acked_sends = 0
            while self.loading(until + (5 if flaky else 0)):
                status = await self._request(session, stats, "POST", "/api/v1/responses", body)
                attempts += 1
                if status is not None and 200 <= status < 300:
                    self.ledger.acknowledged.add(response_id)
                    acked_sends += 1
                if not flaky or acked_sends >= 2 or attempts >= 12:
                    break
                self.ledger.resends += 1
                if status is None or status >= 500:
                    await asyncio.sleep(0.2)  # the phone notices the failure, waits, resends

    async def _reader(self, session: aiohttp.ClientSession, stats: Stats, until: float) -> None:
        while time.monotonic() < until:
            await self._request(session, stats, "GET", "/api/v1/surveys")

    async def run(self, phase: str, seconds: float, fault: Callable[[], Any] | None = None) -> Stats:
        stats = Stats(phase)
        timeout = aiohttp.ClientTimeout(total=15)
        connector = aiohttp.TCPConnector(limit=self.clients, force_close=False)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            start = time.monotonic()
            cpu_start = time.process_time()
            machine_start = machine_cpu_seconds()
            until = start + seconds
            if phase == "submit":
                flaky = int(round(self.clients * self.retry_share))
                tasks = [self._submitter(session, stats, i < flaky, until) for i in range(self.clients)]
            else:
                tasks = [self._reader(session, stats, until) for _ in range(self.clients)]
            if fault is not None:
                tasks.append(self._pending(fault()))
            await asyncio.gather(*tasks)
            stats.seconds = time.monotonic() - start
            stats.client_cpu = time.process_time() - cpu_start
            stats.machine_cpu = machine_cpu_seconds() - machine_start
        return stats

    async def _pending(self, fault: Awaitable[Any]) -> None:
        self.fault_pending = True
        try:
            await fault
        finally:
            self.fault_pending = False


# --------------------------------------------------------------------------- the database check


@dataclass
class DbCheck:
    acknowledged: int = 0
    lost: int = 0  # acknowledged but not stored
    duplicated: int = 0  # ids stored more than once
    incomplete: int = 0  # stored with fewer/more answer rows than were sent
    without_answers: int = 0
    orphan_answers: int = 0
    unknown: int = 0  # stored but never sent
    stored_unacknowledged: int = 0  # complete, sent, not acknowledged (e.g. committed as the server died)
    integrity: str = "n/a"

    @property
    def clean(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.incomplete
            or self.without_answers
            or self.orphan_answers
            or self.unknown
        ) and self.integrity in ("ok", "n/a")


def check_database(database_url: str, ledger: Ledger) -> DbCheck:
    engine = sa.create_engine(sa_url(database_url))
    check = DbCheck(acknowledged=len(ledger.acknowledged))
    try:
        with engine.connect() as conn:
            # Ids are compared as 32 hex digits: SQLite stores UUIDs that way, PostgreSQL as uuid.
            rows = conn.execute(sa.text("SELECT r.id, COUNT(*) AS copies FROM response r GROUP BY r.id")).all()
            counts = {_hex(i): n for i, n in rows}
            answers = dict(
                (_hex(i), n)
                for i, n in conn.execute(sa.text("SELECT response_id, COUNT(*) FROM answer GROUP BY response_id")).all()
            )
            check.without_answers = conn.scalar(
                sa.text(
                    "SELECT COUNT(*) FROM response r"
                    " WHERE NOT EXISTS (SELECT 1 FROM answer a WHERE a.response_id = r.id)"
                )
            )
            check.orphan_answers = conn.scalar(
                sa.text(
                    "SELECT COUNT(*) FROM answer a"
                    " WHERE NOT EXISTS (SELECT 1 FROM response r WHERE r.id = a.response_id)"
                )
            )
            if engine.dialect.name == "sqlite":
                check.integrity = "; ".join(r[0] for r in conn.execute(sa.text("PRAGMA integrity_check")).all())
    finally:
        engine.dispose()
    sent = {_hex(i): rows for i, rows in ledger.sent.items()}
    acked = {_hex(i) for i in ledger.acknowledged}
    check.duplicated = sum(1 for n in counts.values() if n > 1)
    check.lost = sum(1 for i in acked if i not in counts)
    check.unknown = sum(1 for i in counts if i not in sent)
    check.incomplete = sum(1 for i in counts if i in sent and answers.get(i, 0) != sent[i])
    check.stored_unacknowledged = sum(1 for i in counts if i in sent and i not in acked)
    return check


def _hex(value: Any) -> str:
    return uuid.UUID(str(value)).hex


# --------------------------------------------------------------------------- one run


@dataclass
class Report:
    db: str
    fault: str
    clients: int
    workers: int
    trivial: Stats | None
    submit: Stats
    check: DbCheck
    resends: int
    fault_notes: dict[str, Any] = field(default_factory=dict)

    @property
    def server_errors(self) -> int:
        """5xx outside a deliberate PostgreSQL outage, plus any 500 at all (an outage must give 503)."""
        during = self.submit.outage_statuses
        return sum(n - during.get(s, 0) for s, n in self.submit.statuses.items() if s >= 500) + during.get(500, 0)

    @property
    def ratio(self) -> float:
        return (
            self.submit.throughput / self.trivial.throughput
            if self.trivial and self.trivial.throughput
            else float("nan")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "fault": self.fault,
            "clients": self.clients,
            "workers": self.workers,
            "trivial": self.trivial.summary() if self.trivial else None,
            "submit": self.submit.summary(),
            "ratio": round(self.ratio, 3),
            "server_errors": self.server_errors,
            "resends": self.resends,
            "check": self.check.__dict__,
            "fault_notes": self.fault_notes,
        }


def default_workers() -> int:
    return 2 * (os.cpu_count() or 2)


def run(
    db: str = "sqlite",
    duration: float = 60,
    clients: int = 100,
    workers: int | None = None,
    retry_share: float = 0.2,
    fault: str = "none",
    trivial_duration: float | None = None,
    pg_url: str = SHARED_PG_URL,
    rounds: int = 3,
    down: float = 0.0,
    log: Log = print,
) -> Report:
    """Prepare a database, serve it with gunicorn, load it (with an optional fault), check it.

    ``down``: seconds a killed server stays down before it is started again (``fault="kill"``),
    a slow restart such as a busy machine gives.
    """
    if fault not in ("none", "kill", "pg-stop"):
        raise ValueError(f"unknown fault {fault!r}")
    if db not in ("sqlite", "postgres"):
        raise ValueError(f"unknown database {db!r}")
    if fault == "pg-stop" and db != "postgres":
        raise ValueError("--fault pg-stop needs --db postgres (it runs a private PostgreSQL)")
    workers = workers or default_workers()
    trivial_duration = min(duration, 20) if trivial_duration is None else trivial_duration
    tmp = Path(tempfile.mkdtemp(prefix="feedback-load-"))
    private: PrivatePostgres | None = None
    server: Gunicorn | None = None
    try:
        if db == "sqlite":
            database_url = f"sqlite:///{tmp / 'load.sqlite'}"
        elif fault == "pg-stop":
            log("starting a private PostgreSQL (initdb + pg_ctl)")
            private = PrivatePostgres(log).init()
            database_url = private.url
        else:
            database_url = pg_url
        log(f"preparing {database_url}")
        prepare_database(database_url, log)
        server = Gunicorn(database_url, workers, log=log)
        server.start()
        log(f"gunicorn -w {workers} on {server.base}")
        clients_ = LoadClients(server.base, clients, retry_share)
        clients_.load_catalog(database_url)
        if trivial_duration > 0:
            asyncio.run(clients_.run("trivial", min(2.0, trivial_duration)))  # warm up the workers
        notes: dict[str, Any] = {}
        fault_task = None
        if fault == "kill":
            fault_task = lambda: _kill_and_restart(server, clients_, duration * 0.4, notes, log, down=down)  # noqa: E731
        elif fault == "pg-stop":
            fault_task = lambda: _stop_postgres(  # noqa: E731
                private,
                clients_,
                server.base,
                duration * 0.3,
                min(10.0, duration * 0.3),
                notes,
                log,
            )
        # The two phases alternate in blocks, so that both meet the machine in the same mood
        # (on a shared machine its speed drifts by tens of percent within a minute). A run
        # with a fault keeps one block of each, the fault in the middle of the submissions.
        rounds = 1 if fault != "none" else max(1, rounds)
        trivial_parts, submit_parts = [], []
        for _ in range(rounds):
            if trivial_duration > 0:
                trivial_parts.append(_measured(server, clients_, "trivial", trivial_duration / rounds))
            clients_.prepare(int(duration / rounds * 800))  # more than a block can send
            submit_parts.append(_measured(server, clients_, "submit", duration / rounds, fault_task))
        trivial = Stats.combine(trivial_parts) if trivial_parts else None
        submit = Stats.combine(submit_parts)
        if trivial is not None:
            log(f"trivial GET /api/v1/surveys: {trivial.summary()}")
        if fault == "kill":
            submit.server_cpu = 0.0  # a killed server's CPU time is gone with it
            notes["acknowledged_after_restart"] = len(clients_.ledger.acknowledged) - notes["acknowledged_before_kill"]
        log(f"submit POST /api/v1/responses: {submit.summary()}")
        if fault == "pg-stop":
            notes["acknowledged_after_restart"] = _post_one(clients_, server.base)
        check = check_database(database_url, clients_.ledger)
        report = Report(db, fault, clients, workers, trivial, submit, check, clients_.ledger.resends, notes)
        if report.server_errors:
            log("server log (last lines):\n" + server.output()[-4000:])
        return report
    finally:
        if server is not None:
            server.close()
        if private is not None:
            private.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


def _measured(
    server: Gunicorn, clients: LoadClients, phase: str, seconds: float, fault: Callable[[], Any] | None = None
) -> Stats:
    """One block of one phase, with the CPU time the server used meanwhile."""
    cpu = server.cpu_seconds()
    stats = asyncio.run(clients.run(phase, seconds, fault))
    stats.server_cpu = server.cpu_seconds() - cpu
    return stats


async def _kill_and_restart(
    server: Gunicorn, clients: LoadClients, after: float, notes: dict, log: Log, down: float = 0.0
) -> None:
    await asyncio.sleep(after)
    await _until_acknowledged(clients, 0)  # the server took load before it dies, however slow the machine
    pid = server.proc.pid
    server.kill()
    notes["acknowledged_before_kill"] = len(clients.ledger.acknowledged)
    killed = time.monotonic()
    log(
        f"SIGKILL gunicorn master {pid} and its workers at t={after:.1f}s; restarting on port {server.port}"
        + (f" after {down:.1f} s down" if down else "")
    )
    await asyncio.sleep(down)
    await asyncio.to_thread(server.start)
    notes.update({"killed_at_s": round(after, 1), "restart_s": round(time.monotonic() - killed, 2)})
    # The fault is over once the restarted server has acknowledged a submission (the clients
    # go on meanwhile, past the planned end if need be).
    await _until_acknowledged(clients, len(clients.ledger.acknowledged))


async def _until_acknowledged(clients: LoadClients, count: int) -> None:
    """Wait until more than ``count`` submissions are acknowledged (``FAULT_DEADLINE`` at most)."""
    deadline = time.monotonic() + FAULT_DEADLINE
    while len(clients.ledger.acknowledged) <= count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _stop_postgres(
    pg: PrivatePostgres, clients: LoadClients, base: str, after: float, outage: float, notes: dict, log: Log
) -> None:
    await asyncio.sleep(after)
    log(f"pg_ctl stop -m fast (private PostgreSQL on port {pg.port}) at t={after:.1f}s")
    # The outage window opens as the stop begins: fast shutdown ends sessions at once.
    clients.outage = True
    stopped = time.monotonic()
    await asyncio.to_thread(pg.stop)
    # During the outage: what does the API answer? (the load goes on meanwhile)
    probe = await asyncio.to_thread(_probe_status, clients, base)
    notes["probe_status_during_outage"] = probe
    await asyncio.sleep(max(0.0, outage - (time.monotonic() - stopped)))
    log(f"pg_ctl start after {time.monotonic() - stopped:.1f}s down")
    await asyncio.to_thread(pg.start)
    restarted = time.monotonic()
    # Recovery: the first acknowledged submission after the restart, same gunicorn, no restart.
    recovered = None
    while time.monotonic() - restarted < FAULT_DEADLINE:
        status = await asyncio.to_thread(_probe_status, clients, base)
        if status is not None and 200 <= status < 300:
            recovered = time.monotonic() - restarted
            break
        await asyncio.sleep(0.2)
    clients.outage = False
    notes.update(
        {
            "stopped_at_s": round(after, 1),
            "outage_s": round(restarted - stopped, 1),
            "recovered_after_s": None if recovered is None else round(recovered, 2),
        }
    )
    log(f"recovered {notes['recovered_after_s']} s after the restart")


def _probe_status(clients: LoadClients, base: str) -> int | None:
    """POST one valid response and return the status; acknowledged ids go into the ledger."""
    body = clients.body()
    clients.ledger.sent[body["id"]] = answer_rows(body["answers"])
    req = urllib.request.Request(
        base + "/api/v1/responses",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:  # a slow answer is still an answer
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except OSError:
        return None
    if 200 <= status < 300:
        clients.ledger.acknowledged.add(body["id"])
    return status


def _post_one(clients: LoadClients, base: str) -> int | None:
    return _probe_status(clients, base)


# --------------------------------------------------------------------------- the command line


def table(report: Report) -> str:
    rows = [("endpoint", "requests", "req/s", "p50 ms", "p99 ms", "2xx", "4xx", "5xx", "no answer")]
    for stats in (report.trivial, report.submit):
        if stats is None:
            continue
        s = stats.summary()
        rows.append(
            (
                stats.name,
                str(s["requests"]),
                f"{s['req_per_s']:.0f}",
                f"{s['p50_ms']:.1f}",
                f"{s['p99_ms']:.1f}",
                str(stats.ok),
                str(stats.count(lambda c: 400 <= c < 500)),
                str(stats.count(lambda c: c >= 500)),
                str(stats.errors),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    c = report.check
    lines += [
        f"submission/trivial throughput ratio: {report.ratio:.2f}",
        f"acknowledged {c.acknowledged}, lost {c.lost}, duplicated {c.duplicated}, incomplete {c.incomplete}, "
        f"without answers {c.without_answers}, orphan answers {c.orphan_answers}, never sent {c.unknown}, "
        f"stored but unacknowledged (complete) {c.stored_unacknowledged}",
        f"5xx (a 500 at any time, or any 5xx outside a PostgreSQL outage): {report.server_errors}; "
        f"flaky-phone resends: {report.resends}; integrity_check: {c.integrity}",
    ]
    if report.submit.outage_statuses or report.fault_notes:
        lines.append(
            f"fault {report.fault}: {report.fault_notes}; answers during the outage: "
            f"{dict(sorted(report.submit.outage_statuses.items()))}, no answer: counted above"
        )
    verdict = "PASS" if report.check.clean and not report.server_errors else "FAIL"
    lines.append(f"{verdict}: {report.db}, {report.clients} clients, {report.workers} workers, fault {report.fault}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=SHARED_PG_URL,
        help="PostgreSQL database to (re)create for --db postgres (default: %(default)s)",
    )
    parser.add_argument("--duration", type=float, default=60, help="seconds of submission load (default 60)")
    parser.add_argument(
        "--trivial-duration",
        type=float,
        default=None,
        help="seconds of load on the trivial endpoint (default: min(duration, 20); 0 skips)",
    )
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients (default 100)")
    parser.add_argument(
        "--workers", type=int, default=None, help=f"gunicorn workers (default 2×cores = {default_workers()})"
    )
    parser.add_argument(
        "--retry-share", type=float, default=0.2, help="share of flaky clients that resend (default 0.2)"
    )
    parser.add_argument("--fault", choices=["none", "kill", "pg-stop"], default="none")
    parser.add_argument(
        "--down",
        type=float,
        default=0.0,
        help="seconds a killed gunicorn stays down before its restart (--fault kill; default 0)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="blocks the trivial and submission phases alternate in (default 3; 1 with a fault)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    args = parser.parse_args(argv)
    report = run(
        db=args.db,
        duration=args.duration,
        clients=args.clients,
        workers=args.workers,
        retry_share=args.retry_share,
        fault=args.fault,
        trivial_duration=args.trivial_duration,
        pg_url=args.pg_url,
        rounds=args.rounds,
        down=args.down,
    )
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    ok = report.check.clean and not report.server_errors
    if args.fault == "pg-stop":
        ok = (
            ok
            and report.submit.outage_statuses.get(500, 0) == 0
            and report.fault_notes.get("recovered_after_s") is not None
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
