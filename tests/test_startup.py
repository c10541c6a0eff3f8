"""Web workers start light: no statistics, PDF, QR, spreadsheet or Parquet library until a page needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Libraries a page loads when it needs them, never at start-up (issue 13: import wsgi <= 1 s).
HEAVY = ("scipy", "pandas", "numpy", "matplotlib", "fpdf", "fontTools", "segno", "openpyxl", "xlsxwriter",
         "pyarrow", "analysis.compare", "analysis.scoring")


def _loaded_after(statement: str, tmp_path: Path) -> list[str]:
    """The HEAVY modules in sys.modules after running ``statement`` in a fresh interpreter."""
    code = f"import json, sys; {statement}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'start.sqlite'}"}
    env.pop("FLASK_ENV", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_wsgi_loads_no_heavy_library(tmp_path):
    assert _loaded_after("import wsgi", tmp_path) == []


def test_a_scores_page_loads_them_when_it_needs_them(tmp_path):
    loaded = _loaded_after("import wsgi; from feedback.analyst import service; "
                           "import feedback.score_cache as c; c._decode", tmp_path)
    assert loaded == []  # naming the functions loads nothing either
    assert "pandas" in _loaded_after("import wsgi; from feedback.exports import suppress_small_cells", tmp_path)
