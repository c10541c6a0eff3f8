"""Versioned static URLs: ``/static/survey.js?v=<content hash>``, so that nginx may let browsers
keep every static file for a year (deploy/nginx/feedback.conf) and a new version is a new URL.

The version is a hash of the file's bytes, not its time: every web host of a deployment gives
the same URL for the same file.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from flask import Flask, current_app

__all__ = ["init_app", "static_version"]


@lru_cache(maxsize=256)
def _hash(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def static_version(filename: str) -> str | None:
    """The first 12 hex digits of the file's SHA-256, or None when there is no such file."""
    folder = current_app.static_folder
    path = os.path.join(folder, filename) if folder else None
    try:
        stat = os.stat(path) if path else None
    except OSError:
        return None
    return _hash(path, stat.st_mtime_ns, stat.st_size) if stat else None


def _add_version(endpoint: str, values: dict) -> None:
    if endpoint == "static" and "v" not in values and values.get("filename"):
        version = static_version(values["filename"])
        if version:
            values["v"] = version


def init_app(app: Flask) -> None:
    app.url_defaults(_add_version)
