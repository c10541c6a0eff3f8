"""Citizen pages on a slow phone: Chromium with slow 3G (400 kbit/s, 400 ms round trip) and a
4× slower CPU. Prints, per survey and for a commune's public results page (the demo's year of
responses, its last two full quarters published; each gunicorn worker has served the page once,
so the first request's imports are not counted), the time until the page is usable
(DOMContentLoaded, after the deferred script ran) and the bytes on the wire (the app itself
sends them uncompressed; a proxy with gzip would send the last column).

Run: .venv/bin/python benchmarks/phone_speed.py   (needs `make browser`; uses a throw-away SQLite)
"""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from surveys import catalog  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True}
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp: str) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp}/phone.sqlite",
        "FLASK_APP": "wsgi",
        "SECRET_KEY": "bench",
        "BASE_URL": "http://127.0.0.1",
    }
    flask = str(ROOT / ".venv/bin/flask")
    for args in (
        ["db", "upgrade"],
        ["load-units"],
        ["seed-demo"],
        *(["publish-period", "--from", start.isoformat(), "--to", end.isoformat()] for start, end in _last_quarters()),
    ):
        subprocess.run([flask, *args], cwd=ROOT, env=env, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/privacy", timeout=1)
            return server, base
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def _last_quarters(today: date | None = None) -> list[tuple[date, date]]:
    """The two full calendar quarters before today's, older first."""
    today = today or date.today()
    start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    out = []
    for _ in range(2):
        end = start - timedelta(days=1)
        start = date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
        out.append((start, end))
    return out[::-1]


def measure(page, url: str) -> tuple[float, int]:
    """Milliseconds until DOMContentLoaded and bytes on the wire, cold cache, slow 3G, CPU ÷ 4."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    sizes: dict[str, float] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(url, wait_until="load")
    usable = page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
    cdp.detach()
    return usable, int(sum(sizes.values()))


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server, base = _serve(tmp)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                print(
                    "slow 3G (400 kbit/s, 400 ms RTT), CPU slowed 4x, cold cache; "
                    "served by gunicorn without compression"
                )
                print(f"{'survey':<18}{'lang':<6}{'usable ms':>10}{'bytes':>8}{'if gzipped':>12}")
                for survey in catalog().all_current():
                    for lang in ("vi", "en"):
                        context = browser.new_context(**PHONE)
                        page = context.new_page()
                        url = f"{base}/c/04465/{survey.slug}?lang={lang}"
                        usable, transferred = measure(page, url)
                        html = urllib.request.urlopen(url).read()
                        js = urllib.request.urlopen(base + "/static/survey.js").read()
                        gz = len(gzip.compress(html)) + len(gzip.compress(js))
                        print(f"{survey.slug:<18}{lang:<6}{usable:>10.0f}{transferred:>8}{gz:>12}")
                        context.close()
                for _ in range(4):  # both workers load pandas and the snapshot once
                    urllib.request.urlopen(f"{base}/results/04465").read()
                for lang in ("vi", "en"):  # no script: the page alone
                    context = browser.new_context(**PHONE)
                    page = context.new_page()
                    url = f"{base}/results/04465?lang={lang}"
                    usable, transferred = measure(page, url)
                    gz = len(gzip.compress(urllib.request.urlopen(url).read()))
                    print(f"{'results/04465':<18}{lang:<6}{usable:>10.0f}{transferred:>8}{gz:>12}")
                    context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
