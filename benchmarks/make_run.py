"""`make run` on a fresh machine: seconds from a fresh copy of the tree until the demo serves HTTP.

    .venv/bin/python -m benchmarks.make_run --port 5700                     # cold caches (empty)
    .venv/bin/python -m benchmarks.make_run --port 5700 --warm              # again, caches kept
    .venv/bin/python -m benchmarks.make_run --port 5701 --src /tmp/old_tree # another tree, e.g. a baseline

What one run does:

1. copies ``--src`` (default: this checkout) to ``--dest`` without ``.venv``, ``instance``,
   ``.browser``, ``.git`` and caches — what a fresh ``git clone`` has, plus any uncommitted
   edits;
2. points pip's and uv's caches at ``--cache`` (``PIP_CACHE_DIR``, ``UV_CACHE_DIR``), emptied
   first unless ``--warm``, so "cold" means no downloaded or built package on the machine;
3. runs ``make run PORT=<port>`` (SQLite in ``instance/``: DATABASE_URL is removed from the
   environment) in its own process group, time-stamps every line it prints, and polls
   ``http://127.0.0.1:<port>/`` until any HTTP answer (deadline ``--timeout``);
4. stops the whole process group (the make and the flask server it started) and prints the
   time line and the breakdown: install, translations, migrate + load-units, seed-demo,
   margins + users, server start. Phases end when the next one's first line appears; the seed
   block prints one line per command when it ends.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXCLUDE = (".venv", "instance", ".browser", ".git", "__pycache__", ".pytest_cache", ".hypothesis", "artifacts")


def copy_tree(src: Path, dest: Path) -> None:
    """``dest`` becomes a copy of ``src`` without the ignored folders (removed first if present)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*EXCLUDE))


def answers_http(port: int) -> bool:
    """True when something answers HTTP (any status) on 127.0.0.1:``port``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, urllib.error.URLError):
        return False


def run(dest: Path, port: int, cache: Path, timeout: float) -> tuple[float | None, list[tuple[float, str]]]:
    """Start ``make run`` in ``dest``; (seconds until it served or None, [(seconds, output line)])."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIRTUAL_ENV", "FLASK_APP")}
    env.update(PIP_CACHE_DIR=str(cache / "pip"), UV_CACHE_DIR=str(cache / "uv"), PYTHONUNBUFFERED="1")
    lines: list[tuple[float, str]] = []
    start = time.monotonic()
    proc = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=dest,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append((time.monotonic() - start, line.rstrip()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    served = None
    try:
        while time.monotonic() - start < timeout and proc.poll() is None:
            if answers_http(port):
                served = time.monotonic() - start
                break
            time.sleep(0.2)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=5)
    return served, lines


def breakdown(served: float, lines: list[tuple[float, str]]) -> list[tuple[str, float]]:
    """Phase durations from the time-stamped make output: each phase starts at the first line
    matching its pattern (a command make echoes, or the last line of the command before it) and
    lasts until the next phase starts (the last one until the server answered)."""
    marks = [
        ("install", r""),
        ("translations", r"pybabel compile"),
        ("migrate + load-units", r"flask db upgrade"),
        ("seed-demo", r"^province \d+: "),
        ("margins + users", r"responses in \d+ communes"),
        ("server start", r"flask run"),
    ]
    found = [("install", 0.0)]
    for name, pattern in marks[1:]:
        t = next((t for t, line in lines if re.search(pattern, line)), None)
        if t is not None:
            found.append((name, t))
    ends = [t for _, t in found[1:]] + [served]
    return [(name, max(0.0, end - t)) for (name, t), end in zip(found, ends, strict=False)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=ROOT)
    parser.add_argument("--dest", type=Path, default=None, help="default: /tmp/make_run_<port>")
    parser.add_argument("--port", type=int, default=5700)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/make_run_cache"))
    parser.add_argument("--warm", action="store_true", help="keep the pip/uv caches of an earlier run")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--keep", action="store_true", help="keep the copy afterwards")
    args = parser.parse_args(argv)
    dest = args.dest or Path(f"/tmp/make_run_{args.port}")
    if answers_http(args.port):
        parser.error(f"something already answers on port {args.port}")
    if not args.warm and args.cache.exists():
        shutil.rmtree(args.cache)
    args.cache.mkdir(parents=True, exist_ok=True)
    copy_tree(args.src.resolve(), dest)
    served, lines = run(dest, args.port, args.cache, args.timeout)
    for t, line in lines:
        print(f"{t:7.1f}s  {line[:160]}")
    cache_state = "warm" if args.warm else "cold"
    if served is None:
        print(f"make run did not serve within {args.timeout:.0f} s ({cache_state} caches)")
        return 1
    print(f"\nmake run served HTTP after {served:.1f} s ({cache_state} pip/uv caches at {args.cache})")
    for name, seconds in breakdown(served, lines):
        print(f"  {name:22s} {seconds:6.1f} s")
    if not args.keep:
        shutil.rmtree(dest, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
