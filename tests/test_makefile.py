"""What `make run` hands the app: the port it serves on is the port its links point to."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _base_url_under_make_run(port: str, **env: str) -> str:
    """Run `make run`'s serving line with `flask run` swapped for a print of the app's BASE_URL."""
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", f"PORT={port}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k not in ("BASE_URL", "FLASK_BASE_URL")},
    )
    line = next(line for line in reversed(dry.stdout.splitlines()) if "flask run" in line)
    prefix, _, args = line.partition("flask run")
    assert f"--port {port}" in args
    probe = f"{shlex.quote(sys.executable)} -c 'import wsgi; print(wsgi.app.config[\"BASE_URL\"])'"
    assignments = prefix.strip().rpartition(" ")[0]  # what precedes the path of `flask`
    command = f"{assignments} {probe}"
    clean = {k: v for k, v in os.environ.items() if k not in ("BASE_URL", "FLASK_BASE_URL", "DATABASE_URL")}
    out = subprocess.run(
        ["sh", "-c", command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**clean, "DATABASE_URL": "sqlite://", **env},
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("port", ["5055", "8000"])
def test_make_run_points_links_at_its_own_port(port):
    assert _base_url_under_make_run(port) == f"http://127.0.0.1:{port}"


def test_make_run_keeps_a_base_url_that_is_set():
    assert _base_url_under_make_run("5055", BASE_URL="https://gopy.laocai.gov.vn/") == "https://gopy.laocai.gov.vn"
    assert _base_url_under_make_run("5055", FLASK_BASE_URL="http://10.0.0.5:5055") == "http://10.0.0.5:5055"
