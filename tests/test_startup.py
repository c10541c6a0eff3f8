"""Web workers start light: no statistics, PDF, QR, spreadsheet or Parquet library until a page needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Libraries a page loads when it needs them, never at start-up (issue 13: import wsgi <= 1 s).
HEAVY = (
    "scipy",
    "pandas",
    "numpy",
    "matplotlib",
    "fpdf",
    "fontTools",
    "segno",
    "openpyxl",
    "xlsxwriter",
    "pyarrow",
    "analysis.compare",
    "analysis.scoring",
)
#: Loaded on first use too: Alembic and Flask-Migrate by the ``db`` commands, psycopg by the
#: first PostgreSQL engine (this start is on SQLite), e-mail checks and YAML surveys when asked for.
DEFERRED = ("alembic", "flask_migrate", "psycopg", "email_validator", "yaml")


def _loaded_after(statement: str, tmp_path: Path, modules: tuple[str, ...] = HEAVY) -> list[str]:
    """The ``modules`` in sys.modules after running ``statement`` in a fresh interpreter."""
    code = f"import json, sys; {statement}; print(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'start.sqlite'}"}
    env.pop("FLASK_ENV", None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_wsgi_loads_no_heavy_library(tmp_path):
    assert _loaded_after("import wsgi", tmp_path) == []


def test_a_scores_page_loads_them_when_it_needs_them(tmp_path):
    loaded = _loaded_after(
        "import wsgi; from feedback.analyst import service; import feedback.score_cache as c; c._decode", tmp_path
    )
    assert loaded == []  # naming the functions loads nothing either
    assert "pandas" in _loaded_after("import wsgi; from feedback.exports import suppress_small_cells", tmp_path)


def test_import_wsgi_defers_what_a_request_may_not_need(tmp_path):
    assert _loaded_after("import wsgi", tmp_path, DEFERRED) == []


def test_the_db_commands_load_flask_migrate_when_run(tmp_path):
    run = (
        "import wsgi; from flask.testing import FlaskCliRunner; "
        "result = FlaskCliRunner(wsgi.app).invoke(args={args!r}); "
        "assert result.exit_code == 0, result.output; print(result.output, file=sys.stderr)"
    )
    assert _loaded_after(run.format(args=["--help"]), tmp_path, DEFERRED) == []  # lists "db" without loading it
    assert _loaded_after(run.format(args=["db", "--help"]), tmp_path, ("flask_migrate",)) == ["flask_migrate"]


def test_db_commands_keep_flask_migrate_options(runner, tmp_path):
    result = runner.invoke(args=["db", "--help"])
    assert result.exit_code == 0, result.output
    assert "--directory" in result.output and "--x-arg" in result.output and "upgrade" in result.output
    assert runner.invoke(args=["db", "-d", str(ROOT / "migrations"), "heads"]).exit_code == 0
    assert runner.invoke(args=["db", "-d", str(tmp_path / "none"), "heads"]).exit_code == 1  # -d is honoured
