"""Pictures the browser tests take: in an ignored folder, unless `make screenshots` asks for docs/."""

from __future__ import annotations

import subprocess

from .conftest import ROOT, screenshot


def _ignored_by_git(path) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT).returncode == 0


def test_a_test_run_leaves_the_tracked_pictures_alone(phone, monkeypatch):
    monkeypatch.delenv("SCREENSHOTS_DIR", raising=False)
    phone.set_content("<h1>Ảnh thử</h1>")
    path = screenshot(phone, "test-picture")
    try:
        assert path.is_file() and path.stat().st_size > 0
        assert path.parent != ROOT / "docs" / "screenshots"
        assert _ignored_by_git(path), f"{path} would leave the work tree dirty"
    finally:
        path.unlink(missing_ok=True)


def test_screenshots_dir_points_the_pictures_elsewhere(phone, monkeypatch, tmp_path):
    monkeypatch.setenv("SCREENSHOTS_DIR", str(tmp_path / "pictures"))
    phone.set_content("<h1>Ảnh thử</h1>")
    assert screenshot(phone, "test-picture") == tmp_path / "pictures" / "test-picture.png"
    assert (tmp_path / "pictures" / "test-picture.png").is_file()
