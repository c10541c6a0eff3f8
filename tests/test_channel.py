"""How a response arrived (issue 14): poster, landing page, paper or API, stored, shown and exported."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from feedback.exports import build_response_export, response_bytes
from feedback.extensions import db
from feedback.forms import _serializer, read_state
from feedback.models import CHANNELS, Response, ServicePoint, channel_of, utcnow
from feedback.responses import receive_web
from surveys import catalog

from .conftest import OWN_COMMUNE, hidden_fields
from .helpers import module_in_page, valid_answers

HEALTH = catalog().current("health")


def _send(client, url: str, *, state: str | None = None):
    """Open a survey page as a citizen and send valid answers; the page's signed state unless ``state``."""
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    survey = catalog().current(url.split("/")[3].split("?")[0]) if url.startswith("/c/") else HEALTH
    fields = hidden_fields(html)
    if state is not None:
        fields["state"] = state
    r = client.post(url, data={**fields, **valid_answers(survey, module=module_in_page(survey, html)), "send": "1"})
    assert r.status_code == 303 and "/thanks/" in r.location, r.get_data(as_text=True)[:500]
    return fields


def _state(app, token: str):
    with app.app_context():
        return read_state(token)


def _stored(app) -> list[tuple[str, str, int | None]]:
    with app.app_context():
        return [
            tuple(r)
            for r in db.session.execute(sa.select(Response.channel, Response.mode, Response.service_point_id)).all()
        ]


def test_a_poster_scan_is_the_posters(app, client, point):
    _send(client, f"/s/{point['token']}")
    assert _stored(app) == [("poster", "web", point["id"])]


def test_the_landing_page_led_to_a_poster_is_the_landing_pages(app, client, point):
    """The landing page sends the citizen to the point's survey: counted there, but as the landing page's."""
    r = client.get(f"/start?commune={OWN_COMMUNE}&survey=health")
    assert r.status_code == 302 and r.location.endswith(f"/s/{point['token']}?via=landing")
    fields = _send(client, r.location)
    assert _state(app, fields["state"]).via == "landing"
    assert _stored(app) == [("landing", "web", point["id"])]


def test_the_landing_pages_commune_survey_is_the_landing_pages(app, client):
    r = client.get(f"/start?commune={OWN_COMMUNE}&survey=land")
    assert r.status_code == 302 and r.location.endswith(f"/c/{OWN_COMMUNE}/land")
    _send(client, f"/c/{OWN_COMMUNE}/land")
    assert _stored(app) == [("landing", "web", None)]


def test_answering_again_after_the_landing_page_keeps_its_mark(app, client, point):
    """A filling opened from the landing page and sent: 'answer again' begins a new one, still the landing page's."""
    _send(client, f"/s/{point['token']}?via=landing")
    page = client.get(f"/s/{point['token']}?via=landing")
    again = client.post(
        f"/s/{point['token']}?via=landing", data={**hidden_fields(page.get_data(as_text=True)), "new_response": "1"}
    )
    assert again.status_code == 303 and again.location.endswith(f"/s/{point['token']}?via=landing")
    assert _state(app, hidden_fields(client.get(again.location).get_data(as_text=True))["state"]).via == "landing"


def test_a_paper_form_is_paper_and_an_api_response_api(app, client, point, users):
    with app.test_request_context():
        state = read_state(hidden_fields(client.get(f"/s/{point['token']}").get_data(as_text=True))["state"])
        stored, problems = receive_web(
            HEALTH,
            valid_answers(HEALTH),
            response_id=uuid.uuid4(),
            started_at=utcnow() - timedelta(minutes=3),
            commune_code=OWN_COMMUNE,
            service_point_id=point["id"],
            lang="vi",
            mode="paper",
            entered_by=users["officer"]["id"],
            via=state.via,
        )
    assert problems == [] and stored is not None
    r = client.post(
        "/api/v1/responses",
        json={
            "id": str(uuid.uuid4()),
            "survey": "health",
            "version": HEALTH.version,
            "commune": OWN_COMMUNE,
            "service_point": point["id"],
            "answers": valid_answers(HEALTH),
            "lang": "vi",
            "started_at": (utcnow() - timedelta(minutes=3)).isoformat() + "+00:00",
            "submitted_at": utcnow().isoformat() + "+00:00",
        },
    )
    assert r.status_code == 201, r.get_json()
    assert sorted(_stored(app)) == [("api", "api", point["id"]), ("paper", "paper", point["id"])]


def _without_channel(app, token: str) -> str:
    """A form state as signed before channels were kept: the same, without its channel."""
    with app.test_request_context():
        data = _serializer().loads(token)
        del data["w"]
        return _serializer().dumps(data)


@pytest.mark.parametrize("where", ["poster", "landing"])
def test_a_form_opened_before_channels_were_kept_still_counts(app, client, point, where):
    """A form in flight over the upgrade carries no channel: it is stored, by its page's (service point's) channel."""
    url = f"/s/{point['token']}" if where == "poster" else f"/c/{OWN_COMMUNE}/health"
    old = _without_channel(app, hidden_fields(client.get(url).get_data(as_text=True))["state"])
    assert _state(app, old) is not None and _state(app, old).via is None
    _send(client, url, state=old)
    assert _stored(app) == [(where, "web", point["id"] if where == "poster" else None)]


def test_channel_of_every_mode():
    assert channel_of("paper", via="landing", service_point_id=1) == "paper"
    assert channel_of("api", service_point_id=None) == "api"
    assert channel_of("web", via="landing", service_point_id=1) == "landing"
    assert channel_of("web", via=None, service_point_id=1) == "poster"
    assert channel_of("web", via="forged", service_point_id=None) == "landing"


def _one_of_each(app, point) -> None:
    """One stored response of each channel (through the ORM, whose default follows the mode)."""
    with app.app_context():
        for channel in CHANNELS:
            mode = channel if channel in ("paper", "api") else "web"
            response = Response(
                id=uuid.uuid4(),
                survey="health",
                survey_version=HEALTH.version,
                commune_code=OWN_COMMUNE,
                lang="vi",
                mode=mode,
                submitted_at=utcnow(),
                service_point_id=point["id"] if channel != "landing" else None,
                content_hash="0" * 64,
            )
            db.session.add(response)
        db.session.commit()
        assert sorted(db.session.execute(sa.select(Response.channel)).scalars()) == sorted(CHANNELS)


def test_every_export_format_has_the_channel_with_its_labels(app, point):
    _one_of_each(app, point)
    with app.app_context():
        export = build_response_export()
        files = {fmt: response_bytes(export, fmt) for fmt in ("csv", "xlsx", "parquet", "dta")}
    csv = pd.read_csv(io.BytesIO(files["csv"][""]), dtype=str, encoding="utf-8-sig")
    assert list(csv.columns[csv.columns.get_loc("mode") :][:2]) == ["mode", "channel"]
    assert sorted(csv["channel"]) == sorted(CHANNELS)
    assert sorted(pd.read_excel(io.BytesIO(files["xlsx"][""]), sheet_name="responses")["channel"]) == sorted(CHANNELS)
    assert sorted(pq.read_table(io.BytesIO(files["parquet"][""])).column("channel").to_pylist()) == sorted(CHANNELS)
    stata = pd.read_stata(io.BytesIO(files["dta"][""]))
    assert set(stata["channel"]) == {
        "poster: Áp phích (mã QR) / Poster (QR code)",
        "landing: Trang chủ / Home page",
        "paper: Phiếu giấy / Paper form",
        "api: API (ứng dụng, máy tính bảng) / API (app or tablet)",
    }
    with pd.io.stata.StataReader(io.BytesIO(files["dta"][""])) as reader:
        assert reader.variable_labels()["channel"].startswith("How it arrived: poster (QR code), landing")
    # The codebook (beside CSV and Parquet, a sheet of XLSX) names its values in both languages.
    codebook = pd.read_csv(
        io.BytesIO(files["csv"][".codebook.csv"]), dtype=str, encoding="utf-8-sig", keep_default_na=False
    )
    row = codebook[codebook["column"] == "channel"].iloc[0]
    assert row["survey"] == "" and row["survey_version"] == "" and row["label_en"].startswith("How it arrived")
    assert (
        "paper = Phiếu giấy / Paper form" in row["value_labels"]
        and "landing = Trang chủ / Home page" in row["value_labels"]
    )
    assert codebook.loc[codebook["column"] == "overall", "survey_version"].str.fullmatch(r"\d+").all()
    sheet = openpyxl.load_workbook(io.BytesIO(files["xlsx"][""]))["codebook"]
    assert any(cells[3] == "channel" for cells in sheet.iter_rows(values_only=True))


@pytest.mark.parametrize(
    ("lang", "labels"),
    [
        ("vi", ["Áp phích (mã QR)", "Trang chủ", "Phiếu giấy", "API (ứng dụng, máy tính bảng)"]),
        ("en", ["Poster (QR code)", "Home page", "Paper form", "API (app or tablet)"]),
    ],
)
def test_officers_see_counts_by_channel(app, client, auth, users, point, lang, labels):
    _one_of_each(app, point)
    auth.login(users["officer"]["email"])
    for url, expected in (
        (f"/officer/c/{OWN_COMMUNE}", [1, 1, 1, 1]),
        (f"/officer/points/{point['id']}", [1, 0, 1, 1]),
    ):
        html = client.get(f"{url}?lang={lang}").get_data(as_text=True)
        for channel, label, n in zip(CHANNELS, labels, expected, strict=False):
            row = html.split(f'<tr data-channel="{channel}">', 1)[1].split("</tr>", 1)[0]
            assert f"<td>{label}</td>" in row and f'data-label="{"All" if lang == "en" else "Tất cả"}">{n}<' in row, (
                url,
                row,
            )


def test_the_typed_form_check_page_names_its_channel(app, client, auth, users, point):
    with app.test_request_context():
        stored, _ = receive_web(
            HEALTH,
            valid_answers(HEALTH),
            response_id=uuid.uuid4(),
            started_at=utcnow(),
            commune_code=OWN_COMMUNE,
            service_point_id=point["id"],
            lang="vi",
            mode="paper",
            entered_by=users["officer"]["id"],
        )
    auth.login(users["officer"]["email"])
    html = client.get(f"/officer/responses/{stored}?lang=vi").get_data(as_text=True)
    assert "kênh: Phiếu giấy" in html and "kênh: paper" not in html


def test_a_moved_filling_keeps_the_channel_it_began_with(app, client, point):
    """A poster's form sent after its link was re-issued (past the grace period) moves to the commune's
    page, which the landing page leads to; it began with a scan, so it still counts as the poster's."""
    app.config["POSTER_GRACE_HOURS"] = 0
    url = f"/s/{point['token']}"
    page = client.get(url).get_data(as_text=True)
    with app.app_context():
        db.session.get(ServicePoint, point["id"]).token = "reissued-token"
        db.session.commit()
    answers = valid_answers(HEALTH, module=module_in_page(HEALTH, page))
    moved = client.post(url, data={**hidden_fields(page), **answers, "send": "1"})
    assert moved.status_code == 410 and f'action="/c/{OWN_COMMUNE}/health"' in moved.get_data(as_text=True)
    r = client.post(
        f"/c/{OWN_COMMUNE}/health", data={**hidden_fields(moved.get_data(as_text=True)), **answers, "send": "1"}
    )
    assert r.status_code == 303
    assert _stored(app) == [("poster", "web", None)]
