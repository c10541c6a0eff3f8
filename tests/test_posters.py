"""QR posters: the QR decoded from the rendered PDF opens that service point's survey."""

from __future__ import annotations

from html import unescape
from urllib.parse import urlsplit

import pypdfium2 as pdfium
import pytest
import zxingcpp

from feedback.extensions import db
from feedback.models import AuditEvent, ServicePoint
from feedback.posters import posters_pdf
from surveys import catalog

from .conftest import BASE_URL, OTHER_COMMUNE, OWN_COMMUNE, count


def decode_pages(pdf: bytes, *, scale: float = 2) -> list[tuple[list[str], str]]:
    """Each page's decoded QR texts (the survey's first, then the results page's) and its text layer."""
    document = pdfium.PdfDocument(pdf)
    pages = []
    for page in document:
        image = page.render(scale=scale).to_pil()
        text = page.get_textpage().get_text_range()
        codes = [r.text for r in zxingcpp.read_barcodes(image)]
        pages.append((sorted(codes, key=lambda code: "/results/" in code), text))
    document.close()
    return pages


@pytest.fixture
def points(app):
    """Two active points in Khao Mang, one retired, and one in another commune."""
    with app.app_context():
        made = [
            ServicePoint(commune_code=OWN_COMMUNE, service_area="health", name="Trạm Y tế Khao Mang"),
            ServicePoint(commune_code=OWN_COMMUNE, service_area="one_stop", name="Bộ phận Một cửa UBND xã Khao Mang"),
            ServicePoint(commune_code=OWN_COMMUNE, service_area="land", name="Điểm cũ", active=False),
            ServicePoint(commune_code=OTHER_COMMUNE, service_area="school", name="Trường Tiểu học Kim Tân"),
        ]
        db.session.add_all(made)
        db.session.commit()
        return [{"id": p.id, "token": p.token, "name": p.name, "area": p.service_area} for p in made]


@pytest.mark.parametrize("size", ["a4", "a6"])
def test_decoded_qr_opens_that_service_points_survey(app, client, auth, users, points, size):
    point = points[0]
    auth.login("officer@khaomang.test")
    r = client.get(f"/officer/points/{point['id']}/poster.pdf", query_string={"size": size})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    [(codes, text)] = decode_pages(r.data)
    assert codes == [f"{BASE_URL}/s/{point['token']}", f"{BASE_URL}/results/{OWN_COMMUNE}"]
    # The short link is written out for typing, with the names, in Vietnamese with diacritics.
    assert f"poster.test/s/{point['token']}" in text
    assert "Xã Khao Mang" in text and "Trạm Y tế Khao Mang" in text
    assert "Quét mã QR" in text and "Scan the QR code" in text and "ẩn danh" in text.lower()
    link = urlsplit(codes[0])
    survey_page = client.get(link.path)
    html = unescape(survey_page.get_data(as_text=True))
    assert survey_page.status_code == 200
    assert catalog().for_area("health").title.vi in html and point["name"] in html
    assert count(app, AuditEvent, action="posters_printed") == 1


def test_poster_embeds_a_unicode_font(app, points):
    with app.app_context():
        pdf = posters_pdf([db.session.get(ServicePoint, points[0]["id"])], base_url=BASE_URL)
    assert b"/FontFile2" in pdf and b"DejaVu" in pdf
    assert len(pdf) < 150_000  # subset fonts, vector QR


def test_commune_batch_has_one_page_per_active_point(client, auth, users, points):
    auth.login("officer@khaomang.test")
    r = client.get(f"/officer/c/{OWN_COMMUNE}/posters.pdf")
    pages = decode_pages(r.data, scale=1.5)
    assert [codes[0] for codes, _ in pages] == [f"{BASE_URL}/s/{p['token']}" for p in points[:2]]


def test_reissued_token_changes_the_qr(app, client, auth, users, points):
    auth.login("officer@khaomang.test")
    from .conftest import csrf_token

    client.post(
        f"/officer/points/{points[0]['id']}/reissue",
        data={"csrf_token": csrf_token(client, f"/officer/c/{OWN_COMMUNE}")},
    )
    [(codes, _)] = decode_pages(client.get(f"/officer/points/{points[0]['id']}/poster.pdf").data)
    assert codes[0] != f"{BASE_URL}/s/{points[0]['token']}"
    assert client.get(urlsplit(codes[0]).path).status_code == 200
    assert client.get(f"/s/{points[0]['token']}").status_code == 404


def test_make_posters_for_commune_and_province(app, runner, points, tmp_path):
    out = tmp_path / "commune.pdf"
    r = runner.invoke(args=["make-posters", "--commune", OWN_COMMUNE, "--size", "a6", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "2 pages (A6)" in r.output
    assert len(pdfium.PdfDocument(str(out))) == 2
    out = tmp_path / "province.pdf"
    r = runner.invoke(args=["make-posters", "--province", "15", "-o", str(out)])
    assert r.exit_code == 0, r.output
    pages = decode_pages(out.read_bytes(), scale=1)
    assert sorted(c[0] for c, _ in pages) == sorted(
        f"{BASE_URL}/s/{p['token']}" for p in points if p["name"] != "Điểm cũ"
    )
    assert count(app, AuditEvent, action="posters_printed") == 2


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "exactly one of"),
        (["--commune", OWN_COMMUNE, "--province", "15"], "exactly one of"),
        (["--commune", "99999"], "no active service points"),
        (["--commune", OWN_COMMUNE, "--size", "a3"], "Invalid value"),
    ],
)
def test_make_posters_refuses_bad_requests(runner, points, tmp_path, args, message):
    r = runner.invoke(args=["make-posters", *args, "-o", str(tmp_path / "x.pdf")])
    assert r.exit_code != 0 and message in r.output, r.output


def test_posters_pdf_checks_its_input(app, points):
    with app.app_context():
        point = db.session.get(ServicePoint, points[0]["id"])
        with pytest.raises(ValueError, match="size"):
            posters_pdf([point], base_url=BASE_URL, size="a3")
        with pytest.raises(ValueError, match="no active"):
            posters_pdf([], base_url=BASE_URL)


def test_admin_prints_the_whole_province(client, auth, users, points):
    auth.login("admin@laocai.test")
    r = client.get("/officer/posters.pdf?size=a6")
    assert r.status_code == 200 and len(pdfium.PdfDocument(r.data)) == 3
    assert client.get("/officer/posters.pdf?size=b5").status_code == 404


def test_new_user_story(app, client, runner, auth):
    """Admin creates an officer; the officer adds a point, prints it, the QR opens its survey,
    and the officer types in a paper form."""
    from .conftest import csrf_token, hidden_fields
    from .helpers import paper_date, valid_answers

    r = runner.invoke(
        args=["create-user", "--email", "admin@laocai.test", "--role", "admin"],
        input="province secret\nprovince secret\n",
    )
    assert r.exit_code == 0, r.output
    auth.login("admin@laocai.test", "province secret")
    client.post(
        "/officer/users",
        data={
            "csrf_token": csrf_token(client, "/officer/users"),
            "email": "can.bo@khaomang.test",
            "role": "officer",
            "communes": [OWN_COMMUNE],
            "password": "commune secret",
            "active": "y",
        },
    )
    client.post("/logout", data={"csrf_token": csrf_token(client, "/officer/")})

    assert auth.login("can.bo@khaomang.test", "commune secret").status_code == 302
    r = client.post(
        f"/officer/c/{OWN_COMMUNE}/points",
        data={
            "csrf_token": csrf_token(client, f"/officer/c/{OWN_COMMUNE}"),
            "name": "Bộ phận Một cửa xã Khao Mang",
            "service_area": "one_stop",
        },
    )
    point_url = r.location
    poster = client.get(f"{point_url}/poster.pdf")
    [(codes, _)] = decode_pages(poster.data)
    survey = client.get(urlsplit(codes[0]).path)
    assert survey.status_code == 200 and catalog().current("one-stop").title.vi in unescape(
        survey.get_data(as_text=True)
    )

    fields = hidden_fields(client.get(f"{point_url}/paper").get_data(as_text=True))
    r = client.post(
        f"{point_url}/paper", data={**fields, **valid_answers(catalog().current("one-stop")), **paper_date()}
    )
    assert r.status_code == 303
    from feedback.models import Response

    with app.app_context():
        stored = db.session.execute(db.select(Response)).scalar_one()
        assert (stored.mode, stored.survey, stored.commune_code) == ("paper", "one-stop", OWN_COMMUNE)
    assert count(app, AuditEvent, action="paper_entered") == 1


def test_poster_tokens_never_start_or_end_with_a_hyphen_or_underscore():
    """Printed under the QR code, a link ending in "-" reads as a word broken at the line's end."""
    from feedback.models import new_token

    tokens = [new_token() for _ in range(3000)]
    assert all(len(t) == 12 and t[0] not in "-_" and t[-1] not in "-_" for t in tokens)
    assert len(set(tokens)) == len(tokens)


@pytest.mark.parametrize("size", ["a4", "a6"])
def test_second_qr_opens_the_communes_public_results_and_the_survey_qr_still_scans(client, auth, users, points, size):
    point = points[0]
    auth.login("officer@khaomang.test")
    r = client.get(f"/officer/points/{point['id']}/poster.pdf", query_string={"size": size})
    [(codes, text)] = decode_pages(r.data, scale=2)
    survey_url, results_url = f"{BASE_URL}/s/{point['token']}", f"{BASE_URL}/results/{OWN_COMMUNE}"
    assert codes == [survey_url, results_url]
    assert f"poster.test/results/{OWN_COMMUNE}" in text  # the short link, for typing
    assert "Xem kết quả của xã" in text and "See your commune's results" in text
    auth.logout()
    page = client.get(urlsplit(results_url).path)
    assert page.status_code == 200 and "Xã Khao Mang" in page.get_data(as_text=True)
    assert client.get(urlsplit(survey_url).path).status_code == 200


def test_no_results_qr_while_the_province_keeps_public_pages_off(app, client, auth, users, points):
    from feedback.models import ProvinceSetting

    with app.app_context():
        db.session.add(ProvinceSetting(province_code="15", public_results=False))
        db.session.commit()
    auth.login("officer@khaomang.test")
    [(codes, text)] = decode_pages(client.get(f"/officer/points/{points[0]['id']}/poster.pdf").data)
    assert codes == [f"{BASE_URL}/s/{points[0]['token']}"]
    assert "/results/" not in text and "Xem kết quả" not in text
