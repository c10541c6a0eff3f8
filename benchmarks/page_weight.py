"""Print the transferred size (gzip) of every survey page: HTML + inlined CSS + survey.js.

Run: .venv/bin/python benchmarks/page_weight.py   (uses a throw-away SQLite database)
"""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from feedback import create_app  # noqa: E402
from feedback.units import load_units  # noqa: E402
from surveys import catalog  # noqa: E402


def transferred_gzip(client, path: str, scripts: tuple[str, ...] = ()) -> int:
    """Bytes of a page and its scripts gzip-compressed (level 6), as a compressing proxy sends them over 3G."""
    total = len(gzip.compress(client.get(path).data, 6))
    for script in scripts:
        total += len(gzip.compress(client.get(script).data, 6))
    return total


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/b.sqlite",
                "BASE_URL": "http://127.0.0.1:5000",
            }
        )
        with app.app_context():
            upgrade()
            load_units("15")
        client = app.test_client()
        with client.get("/static/survey.js") as r:
            script = r.data
        js = len(gzip.compress(script, 6))
        print(f"{'survey':<18}{'lang':<6}{'html raw':>10}{'html gz':>9}{'js gz':>7}{'total gz':>10}")
        for survey in catalog().all_current():
            for lang in ("vi", "en"):
                html = client.get(f"/c/04465/{survey.slug}?lang={lang}").data
                gz = len(gzip.compress(html, 6))
                print(f"{survey.slug:<18}{lang:<6}{len(html):>10}{gz:>9}{js:>7}{gz + js:>10}")


if __name__ == "__main__":
    main()
