"""Backups of the app's database and their restore: SQLite's online backup API, ``pg_dump -Fc``.

A backup is one consistent snapshot taken while the app keeps serving: SQLite copies every page
in a single read transaction (WAL mode: writers go on meanwhile); ``pg_dump`` reads in one
repeatable-read transaction. Every response acknowledged before the backup began is in it.

Exported files of background jobs (``job``, ``job_file_chunk``) are left out: they expire
within ``EXPORT_KEEP_HOURS`` and can be made again, and at national scale they would dwarf
the data.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

__all__ = [
    "BackupResult",
    "RestorePlan",
    "backup_database",
    "plan_restore",
    "restore_database",
    "backup_kind",
    "pg_tool",
    "TRANSIENT_TABLES",
]

# Tables whose rows a backup leaves out (the schema stays): finished export files and their jobs.
TRANSIENT_TABLES = ("job_file_chunk", "job")
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class BackupResult:
    """A written backup: its path, kind ("sqlite" or "postgresql"), size in bytes, seconds taken."""

    path: Path
    kind: str
    size_bytes: int
    seconds: float


@dataclass(frozen=True)
class RestorePlan:
    """What a restore would do: the file's kind, the target (password hidden), and what the
    target holds now (``tables``: application tables, ``responses``: None without that table)."""

    kind: str
    target: str
    tables: int
    responses: int | None

    @property
    def empty(self) -> bool:
        return self.tables == 0

    def describe(self, path: str | os.PathLike) -> str:
        """One sentence for the operator: what will be replaced by what."""
        what = "a SQLite database file" if self.kind == "sqlite" else "a PostgreSQL dump in pg_dump's custom format"
        now = (
            "is empty"
            if self.empty
            else (
                f"holds {self.tables} tables"
                + (f" and {self.responses} responses" if self.responses is not None else "")
            )
        )
        return f"restore {path} ({what}) into {self.target}, which {now}"


def _sa_url(url: str) -> sa.URL:
    return sa.make_url(url)


def _is_sqlite(url: str) -> bool:
    return _sa_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    database = _sa_url(url).database
    if not database or database == ":memory:":
        raise ValueError("an in-memory SQLite database has nothing to back up or restore into")
    return Path(database)


def backup_kind(path: str | os.PathLike) -> str:
    """ "sqlite" or "postgresql", from the file's first bytes; ValueError for anything else."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    raise ValueError(f"{path} is neither a SQLite database nor a pg_dump custom-format file")


# --------------------------------------------------------------------------- PostgreSQL tools


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment that carries it
    (so it never shows in the process list)."""
    parsed = _sa_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_tool(name: str) -> str:
    """The path of ``pg_dump``/``pg_restore`` (``PG_BINDIR`` first, then PATH); ValueError if missing."""
    bindir = os.environ.get("PG_BINDIR")
    found = str(Path(bindir) / name) if bindir and (Path(bindir) / name).exists() else shutil.which(name)
    if not found:
        raise ValueError(
            f"{name} is not installed: install the PostgreSQL client of the server's version "
            "(Debian: apt-get install postgresql-client-15) or set PG_BINDIR"
        )
    return found


def _major(version_text: str) -> int:
    """The major version in ``pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)``."""
    match = re.search(r"\(PostgreSQL\)\s*(\d+)", version_text) or re.search(r"(\d+)", version_text)
    if not match:
        raise ValueError(f"cannot read a PostgreSQL version from {version_text!r}")
    return int(match.group(1))


def _check_client_version(tool: str, engine: sa.Engine) -> None:
    """pg_dump cannot dump a newer server, and pg_restore cannot read a newer dump: the client's
    major version must be at least the server's."""
    client = _major(subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout)
    with engine.connect() as conn:
        server = int(conn.exec_driver_sql("SHOW server_version_num").scalar()) // 10000
    if client < server:
        raise ValueError(
            f"{Path(tool).name} is version {client} but the server is {server}: install postgresql-client-{server}"
        )


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{Path(args[0]).name} failed ({done.returncode}):\n{done.stderr.strip()}")


# --------------------------------------------------------------------------- backup


def backup_database(url: str, output: str | os.PathLike) -> BackupResult:
    """Write a consistent backup of the database at ``url`` to ``output``.

    The file appears only when complete (written beside it, synced, then renamed), so a failed
    or interrupted backup never leaves a half file under the backup's name.

    Raises ValueError for an unusable setup (missing pg_dump, in-memory database) and
    RuntimeError when pg_dump fails.
    """
    output = Path(output)
    started = time.monotonic()
    partial = Path(tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent or ".")[1])
    try:
        if _is_sqlite(url):
            kind = "sqlite"
            _backup_sqlite(_sqlite_path(url), partial)
        else:
            kind = "postgresql"
            _backup_postgres(url, partial)
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(output, kind, output.stat().st_size, time.monotonic() - started)


def _backup_sqlite(source: Path, target: Path) -> None:
    if not source.exists():
        raise ValueError(f"the SQLite database {source} does not exist")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        # pages=-1: every page in one step, i.e. one read transaction: a single snapshot, while
        # writers carry on in the WAL (several steps would restart whenever another
        # connection wrote in between).
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        tables = {row[0] for row in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        with dst:
            for table in TRANSIENT_TABLES:
                if table in tables:
                    dst.execute(f'DELETE FROM "{table}"')
        dst.execute("VACUUM")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise RuntimeError(f"the backup copy failed its integrity check: {check}")
    finally:
        dst.close()
        src.close()


def _backup_postgres(url: str, target: Path) -> None:
    tool = pg_tool("pg_dump")
    engine = sa.create_engine(url)
    try:
        _check_client_version(tool, engine)
    finally:
        engine.dispose()
    conninfo, env = _libpq(url)
    args = [tool, "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
    args += [f"--exclude-table-data={table}" for table in TRANSIENT_TABLES]
    _run(args + ["--dbname", conninfo], env)


# --------------------------------------------------------------------------- restore


def plan_restore(url: str, backup: str | os.PathLike) -> RestorePlan:
    """What restoring ``backup`` into ``url`` would replace; ValueError if the kinds differ."""
    kind = backup_kind(backup)
    target_kind = "sqlite" if _is_sqlite(url) else "postgresql"
    if kind != target_kind:
        raise ValueError(
            f"{backup} is a {kind} backup but the configured database is {target_kind}: "
            "restore it into a database of the same kind (DATABASE_URL)"
        )
    parsed = _sa_url(url)
    target = parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=True)
    if kind == "sqlite" and not _sqlite_path(url).exists():
        return RestorePlan(kind, target, 0, None)
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        tables = inspector.get_table_names()
        responses = None
        if "response" in tables:
            with engine.connect() as conn:
                responses = conn.exec_driver_sql("SELECT count(*) FROM response").scalar()
    finally:
        engine.dispose()
    return RestorePlan(kind, target, len(tables), responses)


def restore_database(url: str, backup: str | os.PathLike, *, force: bool = False) -> RestorePlan:
    """Replace the database at ``url`` with the backup's contents and return the plan carried out.

    Refuses (ValueError) a database that is not empty unless ``force``; with ``force`` all its
    tables are dropped first. Stop the web and worker services before a restore.
    """
    plan = plan_restore(url, backup)
    if not plan.empty and not force:
        raise ValueError(
            f"refusing to {plan.describe(backup)}: everything in it would be replaced. "
            "Run again with --force to replace it"
        )
    if plan.kind == "sqlite":
        _restore_sqlite(Path(backup), _sqlite_path(url))
    else:
        _restore_postgres(url, Path(backup), wipe=not plan.empty)
    return plan


def _restore_sqlite(backup: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        # The backup API replaces the target's pages under its own locks (and WAL), which a
        # plain file copy over an open database would not.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=WAL")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise RuntimeError(f"the restored database failed its integrity check: {check}")
    finally:
        dst.close()
        src.close()


def _restore_postgres(url: str, backup: Path, *, wipe: bool) -> None:
    tool = pg_tool("pg_restore")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        _check_client_version(tool, engine)
        if wipe:
            with engine.connect() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()
    conninfo, env = _libpq(url)
    _run(
        [
            tool,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            conninfo,
            str(backup),
        ],
        env,
    )
