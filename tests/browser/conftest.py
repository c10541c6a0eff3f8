"""Browser fixtures: the app served by a real WSGI server in a thread, Debian's Chromium
driven by Playwright, axe-core from the npm registry (installed by `make browser`)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".browser/node_modules/axe-core/axe.min.js"
# Pictures go to an ignored folder, so a test run leaves the work tree clean; `make screenshots`
# sets SCREENSHOTS_DIR=docs/screenshots to refresh the README's pictures on purpose.
SCREENSHOTS_DEFAULT = ROOT / "build/screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Milliseconds any page action, navigation or expectation may take: the tests wait for what
# they look for, so this deadline is a last resort, generous for a busy 2-core machine
# (Playwright's defaults are 30 s, and 5 s for `expect`).
DEADLINE_MS = 120_000
# Flags that keep Chromium off the network beyond localhost (this machine has no internet).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return "Chromium is not installed (run `make browser`, which installs Debian's chromium)"
    if not AXE.exists():
        return "axe-core is not installed (run `make browser`)"
    return None


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the browser tests, closed when they end: Playwright's sync API runs
    an event loop that would otherwise stay alive under later tests that use asyncio."""
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot be skipped in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=DEADLINE_MS)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app):
    """The app behind a real threaded HTTP server on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


def new_page(browser, **options):
    """A page in a context of its own, with the suite's deadline for every wait."""
    context = browser.new_context(**options)
    context.set_default_timeout(DEADLINE_MS)
    return context.new_page()


@pytest.fixture
def phone(browser):
    """A 360 × 640 touch phone."""
    page = new_page(
        browser, viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True, device_scale_factor=2
    )
    yield page
    page.context.close()


@pytest.fixture
def phone_without_js(browser):
    page = new_page(
        browser, viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True, java_script_enabled=False
    )
    yield page
    page.context.close()


@pytest.fixture
def desktop(browser):
    page = new_page(browser, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield page
    page.context.close()


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (WCAG 2 A/AA rules) on the page; the violations of the given impacts."""
    # Evaluated through the DevTools protocol, so the page's CSP (no inline script) still holds.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => await axe.run(document,"
        " {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']}})"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "nodes": [(n["target"], n["html"][:120], n.get("failureSummary", "")[:200]) for n in v["nodes"]][:3],
        }
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def assert_accessible(page) -> None:
    violations = axe_violations(page)
    assert not violations, json.dumps(violations, indent=1)


def screenshot_path(name: str) -> Path:
    """Where the picture ``name`` goes: ``$SCREENSHOTS_DIR/<name>.png``, by default in build/screenshots."""
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or SCREENSHOTS_DEFAULT)
    folder = folder if folder.is_absolute() else ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def screenshot(page, name: str) -> Path:
    """Save a picture of the page (for the README with `make screenshots`); returns its path."""
    path = screenshot_path(name)
    # A phone picture shows the first screen, as the citizen sees it; desktop pages in full.
    page.screenshot(path=str(path), full_page=page.viewport_size["width"] > 600)
    return path
