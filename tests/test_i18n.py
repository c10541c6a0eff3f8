"""Every user-visible string is in the Vietnamese catalog, translated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def test_every_extracted_string_has_a_vietnamese_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with (ROOT / "translations/vi/LC_MESSAGES/messages.po").open("rb") as f:
        catalog = {m.id: m for m in read_po(f) if m.id}
    missing = sorted(str(i) for i in wanted - set(catalog))
    assert not missing, f"run `make messages` and translate: {missing}"
    untranslated = sorted(str(i) for i in wanted if not catalog[i].string or catalog[i].fuzzy)
    assert not untranslated, f"untranslated or fuzzy in messages.po: {untranslated}"


def test_language_link_keeps_the_pages_other_query_parameters(client):
    """The header's language link changes only ``lang``: the commune chosen on the landing page
    (or an analyst's period and filters) stay."""
    import html
    import re

    page = client.get("/?commune=02&missing=1").get_data(as_text=True)
    link = html.unescape(re.search(r'<a class="lang" href="([^"]+)"', page).group(1))
    assert link.startswith("/?")
    assert "commune=02" in link and "missing=1" in link and "lang=en" in link
    page = client.get(link).get_data(as_text=True)
    link = html.unescape(re.search(r'<a class="lang" href="([^"]+)"', page).group(1))
    assert "commune=02" in link and "lang=vi" in link and "lang=en" not in link


def test_the_chosen_language_outlives_the_session(app, client):
    """Found by a user's walk: a staff session that ended turned the log-in page and every page
    after it back to Vietnamese. The choice is remembered in a cookie of its own (a year)."""
    session_cookie = app.config.get("SESSION_COOKIE_NAME", "session")
    chosen = client.get("/?lang=en")
    header = next(h for h in chosen.headers.getlist("Set-Cookie") if h.startswith("lang="))
    assert header.startswith("lang=en;") and "HttpOnly" in header and "SameSite=Lax" in header
    assert "Max-Age=31536000" in header
    client.delete_cookie(session_cookie)
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)
    client.get("/?lang=vi")
    client.delete_cookie(session_cookie)
    assert '<html lang="vi">' in client.get("/login").get_data(as_text=True)
    client.set_cookie("lang", "fr")  # only the languages the site has
    client.delete_cookie(session_cookie)
    assert '<html lang="vi">' in client.get("/login").get_data(as_text=True)
    assert not any(h.startswith("lang=") for h in client.get("/").headers.getlist("Set-Cookie"))  # unchanged
