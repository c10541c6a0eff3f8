"""The analysis package must not pull in the web stack."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_does_not_load_flask_or_sqlalchemy():
    code = (
        "import analysis, sys; "
        "assert 'flask' not in sys.modules and 'sqlalchemy' not in sys.modules; "
        "assert 'feedback' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
