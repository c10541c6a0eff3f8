"""Time the whole-province poster PDF: `flask make-posters --province 15` on demo data.

Run: .venv/bin/python benchmarks/posters.py [--size a4|a6] [--responses N]
It makes a throw-away SQLite database, runs `flask load-units` and `flask seed-demo` (a service
point of each of the 5 kinds per commune), then times the same command an administrator runs
and prints the seconds, the page count (read back from the PDF) and the file size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def flask(env: dict[str, str], *args: str) -> str:
    """Run one `flask --app wsgi` command and return what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("a4", "a6"), default="a4")
    parser.add_argument("--responses", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite", "SECRET_KEY": "bench"}
        flask(env, "db", "upgrade")
        print(flask(env, "load-units", "--province", "15"))
        print(flask(env, "seed-demo", "--responses", str(args.responses)))
        out = Path(tmp) / "province.pdf"
        start = time.perf_counter()
        print(flask(env, "make-posters", "--province", "15", "--size", args.size, "-o", str(out)))
        seconds = time.perf_counter() - start
        try:
            import pypdfium2 as pdfium

            pages = len(pdfium.PdfDocument(str(out)))
        except ImportError:  # a runtime-only install: count page objects instead
            pages = out.read_bytes().count(b"/Type /Page\n")
        print(
            f"whole-province posters ({args.size.upper()}): {seconds:.2f} s for the command "
            f"(including interpreter start-up), {pages} pages, {out.stat().st_size / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
