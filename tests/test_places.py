"""Names of communes, wards, provinces and service points in Vietnamese alphabetical order.

The expected order comes from the Vietnamese alphabet as taught in school (a ă â b c d đ e ê …
o ô ơ … u ư …; the tone marks only break ties, in the dictionaries' order ngang, huyền, hỏi,
ngã, sắc, nặng: ma, mà, mả, mã, má, mạ), written out here independently of the collation
library the app uses.
"""

from __future__ import annotations

import re
import unicodedata
from html import unescape

import pytest

from feedback.places import bare_name, name_key, province_communes
from feedback.units import official_units, province_codes

from .conftest import OWN_COMMUNE

ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
LETTER_MARKS = {"\u0306", "\u0302", "\u031b"}  # breve (ă), circumflex (â ê ô), horn (ơ ư)
TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền hỏi ngã sắc nặng


def textbook_key(name: str) -> tuple:
    """Letters first (spaces and punctuation before any letter), then tones, then case."""
    letters: list[int] = []
    tones: list[int] = []
    for syllable_char in unicodedata.normalize("NFC", bare_name(name)):
        base, *marks = unicodedata.normalize("NFD", syllable_char.lower())
        letter = unicodedata.normalize("NFC", base + "".join(m for m in marks if m in LETTER_MARKS))
        letters.append(ALPHABET.index(letter) if letter in ALPHABET else ord(letter) - 100_000)
        tones.append(max([TONES.get(m, 0) for m in marks], default=0))
    return letters, tones, bare_name(name)


@pytest.mark.parametrize(
    "earlier, later",
    [
        ("Xã Bản Hồ", "Xã Bát Xát"),
        ("Xã Bát Xát", "Xã Bắc Hà"),  # a before ă; tones only break ties
        ("Xã Lục Yên", "Xã Lương Thịnh"),  # u before ư
        ("Xã Dương Quỳ", "Xã Đông Cuông"),  # d before đ
        ("Xã Ông", "Xã Ơn"),
        ("Xã Ôn", "Xã Ông"),
        ("Xã Uyên", "Xã Ưng"),
        ("Xã An", "Xã Ăn"),
        ("Xã Ăn", "Xã Âu"),
        ("Xã Ma", "Xã Mà"),
        ("Xã Mà", "Xã Mả"),
        ("Xã Mả", "Xã Mã"),
        ("Xã Mã", "Xã Má"),
        ("Xã Má", "Xã Mạ"),
        ("Xã Mạ", "Xã Mai"),
        ("Xã Ea H’leo", "Xã Ea Hiao"),
        ("Phường Cam Đường", "Xã Cốc San"),  # the unit's type is not part of its name's order
    ],
)
def test_vietnamese_alphabetical_order(earlier, later):
    assert name_key(earlier) < name_key(later)
    assert textbook_key(earlier) < textbook_key(later)  # the test's own key agrees


@pytest.mark.parametrize("province", province_codes())
def test_every_province_sorts_as_the_alphabet_says(province):
    names = [u["name"] for u in official_units(province)]
    assert sorted(names, key=name_key) == sorted(names, key=textbook_key)


def test_the_provinces_communes_are_in_alphabetical_order(app):
    with app.app_context():
        names = [c.name for c in province_communes("15")]
    assert len(names) == 99
    assert names == sorted(names, key=textbook_key)
    at = {bare_name(n): i for i, n in enumerate(names)}
    assert at["Bản Hồ"] < at["Bát Xát"] < at["Bắc Hà"] and at["Lục Yên"] < at["Lương Thịnh"]


def _option_names(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<option value="\d{5}"[^>]*>([^<]+)</option>', html)]


def test_landing_page_lists_communes_in_alphabetical_order(client):
    names = _option_names(client.get("/").get_data(as_text=True))
    assert len(names) == 99 and names == sorted(names, key=textbook_key)


def test_officer_pages_list_communes_and_points_in_alphabetical_order(app, client, auth, users):
    from feedback.extensions import db
    from feedback.models import Commune, ServicePoint, User

    with app.app_context():
        for name in ("Trường Tiểu học Đông", "Trường Tiểu học Dương", "Trạm Y tế", "Trường Mầm non"):
            db.session.add(ServicePoint(commune_code=OWN_COMMUNE, service_area="school", name=name))
        officer = db.session.get(User, users["officer"]["id"])
        # Codes 02647 (Phường Lào Cai) < 04465 (Khao Mang) < 04492, but by name Khao Mang comes first.
        officer.communes = [db.session.get(Commune, c) for c in ("02647", "04465")]
        db.session.commit()
    auth.login(users["admin"]["email"])
    html = client.get("/officer/").get_data(as_text=True)
    rows = [unescape(n) for n in re.findall(r'<a href="/officer/c/\d{5}">([^<]+)</a>', html)]
    assert len(rows) == 99 and rows == sorted(rows, key=textbook_key)
    html = client.get(f"/officer/c/{OWN_COMMUNE}").get_data(as_text=True)
    points = [unescape(n) for n in re.findall(r'<a href="/officer/points/\d+">([^<]+)</a>', html)]
    assert points == ["Trạm Y tế", "Trường Mầm non", "Trường Tiểu học Dương", "Trường Tiểu học Đông"]
    auth.logout()
    auth.login(users["officer"]["email"])
    html = client.get("/officer/").get_data(as_text=True)
    nav = html.split('<nav class="staff">', 1)[1].split("</nav>", 1)[0]
    assert nav.index("Khao Mang") < nav.index("Phường Lào Cai")
