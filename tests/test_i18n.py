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
