"""The bridge reads the database into exactly the frames ``analysis`` expects."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from feedback.bridge import (
    communes_frame,
    load_analysis_input,
    margins_frame,
    period_bounds,
    respondents_frame,
    response_keys,
    scores_frame,
)
from feedback.extensions import db
from feedback.models import Answer, PopulationMargin, Response

OWN, OTHER = "04465", "02647"  # Xã Khao Mang, Phường Lào Cai


def add_response(
    commune: str,
    submitted: datetime,
    answers: list[tuple],
    *,
    flags: str = "",
    person: tuple[str | None, str | None, str | None] = ("female", "18-29", "hmong"),
) -> str:
    """Store one health response with the respondent block and ``(question, value, sub, score)`` answers."""
    rid = uuid.uuid4()
    response = Response(
        id=rid,
        survey="health",
        survey_version=1,
        commune_code=commune,
        lang="vi",
        mode="web",
        submitted_at=submitted,
        received_at=submitted,
        content_hash="0" * 64,
        flags=flags,
    )
    rows = [Answer(question_id=q, position=0, value=v, subdimension=s, score=x) for q, v, s, x in answers]
    for qid, value in zip(("sex", "age_band", "ethnic_group"), person, strict=False):
        if value is not None:
            rows.append(Answer(question_id=qid, position=0, value=value))
    response.answers = rows
    db.session.add(response)
    return str(rid)


def seed(app, *, own: int = 8, other: int = 3, flagged: int = 1) -> dict[str, list[str]]:
    """``own`` good responses in Khao Mang, ``other`` in Phường Lào Cai, ``flagged`` low-quality ones."""
    ids: dict[str, list[str]] = {"own": [], "other": [], "flagged": []}
    with app.app_context():
        for i in range(own):
            ids["own"].append(
                add_response(
                    OWN,
                    datetime(2025, 8, 1 + i % 20, 3),
                    [
                        ("used_service", "yes", None, None),
                        ("wait_time", "lt15" if i % 2 else "gt60", "6.1", 1.0 if i % 2 else 0.0),
                        ("overall", "4", "6.1", 0.75),
                        ("informal_payment", "no" if i % 4 else "yes", "4.2", 1.0 if i % 4 else 0.0),
                        ("comment", "Số điện thoại 0912345678", None, None),
                    ],
                    person=("female" if i % 2 else "male", "30-44", "kinh" if i % 3 else "hmong"),
                )
            )
        for _ in range(other):
            ids["other"].append(
                add_response(
                    OTHER,
                    datetime(2025, 8, 5, 3),
                    [
                        ("wait_time", "15-30", "6.1", 0.67),
                        ("informal_payment", "no", "4.2", 1.0),
                    ],
                    person=(None, "60+", "tay"),
                )
            )
        for _ in range(flagged):
            ids["flagged"].append(
                add_response(
                    OWN,
                    datetime(2025, 8, 6, 3),
                    [
                        ("wait_time", "gt60", "6.1", 0.0),
                        ("overall", "1", "6.1", 0.0),
                    ],
                    flags="too_fast",
                )
            )
        db.session.commit()
    return ids


WARDS = {"02647": 0.8, "02674": 0.75}  # Phường Lào Cai, Phường Cam Đường: mostly favourable answers
COMMUNES = {OWN: 0.35, "02680": 0.3, "02683": 0.4}  # Xã Khao Mang, Xã Hợp Thành, Xã Bát Xát


def seed_every_subdimension(app, places: dict[str, float] | None = None, *, n: int = 12, seed: int = 11) -> None:
    """``n`` respondents per commune answering every sub-dimension of the current structure.

    Each answer is favourable (1) with the commune's probability in ``places`` (default: two
    wards doing well and three communes doing less well), so every commune has a direct
    estimate of every sub-dimension, dimension and the aggregate, and wards differ from communes.
    """
    from analysis import get_structure

    rng = np.random.default_rng(seed)
    subs = get_structure("current").subdimensions
    with app.app_context():
        for commune, favourable in (places or {**WARDS, **COMMUNES}).items():
            for i in range(n):
                answers = [(f"q{s}", "x", s, float(rng.random() < favourable)) for s in subs]
                add_response(
                    commune,
                    datetime(2025, 8, 1 + i % 28, 3),
                    answers,
                    person=(("female", "male")[i % 2], "30-44", "kinh"),
                )
        db.session.commit()


def _canon(ids: pd.Series) -> list[str]:
    """The frames' response keys as stored ids (32 hex digits), whatever the database uses as key."""
    keys = response_keys()
    return [keys[k] for k in ids]


def test_period_bounds_are_viet_nam_days():
    start, end = period_bounds(date(2025, 8, 1), date(2025, 8, 31))
    assert start == datetime(2025, 7, 31, 17) and end == datetime(2025, 8, 31, 17)
    with pytest.raises(ValueError, match="after it ends"):
        period_bounds(date(2025, 9, 1), date(2025, 8, 1))


def test_respondents_and_scores_equal_hand_built_frames(app):
    with app.app_context():
        a = add_response(
            OWN,
            datetime(2025, 8, 1, 3),
            [
                ("used_service", "yes", None, None),
                ("wait_time", "lt15", "6.1", 1.0),
                ("overall", "2", "6.1", 0.25),
                ("informal_payment", "yes", "4.2", 0.0),
            ],
        )
        b = add_response(
            OTHER,
            datetime(2025, 8, 2, 3),
            [("wait_time", "gt60", "6.1", 0.0)],
            person=(None, "60+", None),
            flags="too_fast;burst",
        )
        db.session.commit()
        respondents = respondents_frame()
        scores = scores_frame(include_flagged=True)
        unflagged = scores_frame()
        dialect = db.engine.dialect.name
        got_ids, got_score_ids, unflagged_ids = (_canon(f["response_id"]) for f in (respondents, scores, unflagged))
    got = pd.DataFrame(
        {
            "response_id": got_ids,
            **{
                c: respondents[c].astype(object).where(respondents[c].notna(), None).tolist()
                for c in ("commune", "sex", "age_band", "ethnic_group", "flagged")
            },
        }
    ).sort_values("response_id", ignore_index=True)
    expected = pd.DataFrame(
        {
            "response_id": [uuid.UUID(a).hex, uuid.UUID(b).hex],
            "commune": [OWN, OTHER],
            "sex": ["female", None],
            "age_band": ["18-29", "60+"],
            "ethnic_group": ["hmong", None],
            "flagged": [False, True],
        }
    ).sort_values("response_id", ignore_index=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)

    # Rows are scored answers (PostgreSQL) or a respondent's mean per sub-dimension (SQLite):
    # either way, each respondent's value per sub-dimension is the mean of their answers.
    got_scores = (
        pd.DataFrame(
            {
                "response_id": got_score_ids,
                "subdimension": scores["subdimension"].astype(str),
                "score": scores["score"].to_numpy(dtype=float),
            }
        )
        .groupby(["response_id", "subdimension"], as_index=False)["score"]
        .mean()
    )
    expected_scores = pd.DataFrame(
        {
            "response_id": [uuid.UUID(a).hex] * 2 + [uuid.UUID(b).hex],
            "subdimension": ["4.2", "6.1", "6.1"],
            "score": [0.0, 0.625, 0.0],
        }
    ).sort_values(["response_id", "subdimension"], ignore_index=True)
    pd.testing.assert_frame_equal(got_scores, expected_scores, check_dtype=False)
    assert set(unflagged_ids) == {uuid.UUID(a).hex}  # flagged answers not read
    if dialect == "sqlite":  # one row per respondent and sub-dimension
        assert len(scores) == 3


def test_a_respondents_value_is_the_mean_of_their_answers(app):
    """Whether the database sends answers (PostgreSQL) or a mean per respondent and
    sub-dimension (SQLite), each respondent's value is the mean of their answers, to the 15
    significant digits SQLite's text keeps (PostgreSQL's binary floats: exactly)."""
    one_third, two_thirds = 1 / 3, 2 / 3
    with app.app_context():
        single = add_response(OWN, datetime(2025, 8, 1, 3), [("wait_time", "a", "6.1", one_third)])
        pair = add_response(
            OWN,
            datetime(2025, 8, 1, 3),
            [
                ("wait_time", "b", "6.1", 0.1),
                ("overall", "c", "6.1", two_thirds),
                ("informal_payment", "d", "4.2", 0.7),
            ],
        )
        db.session.commit()
        scores = scores_frame()
        keys = {v: k for k, v in response_keys().items()}
        exact = db.engine.dialect.name == "postgresql"
    got = scores.assign(
        response_id=scores["response_id"].astype(object), subdimension=scores["subdimension"].astype(str)
    )
    means = got.groupby(["response_id", "subdimension"])["score"].mean()
    expected = {
        (single, "6.1"): one_third,
        (pair, "6.1"): (0.1 + two_thirds) / 2,
        (pair, "4.2"): 0.7,
    }
    assert len(means) == len(expected)
    for (rid, sub), value in expected.items():
        got_value = means[(keys[rid.replace("-", "")], sub)]
        assert got_value == value if exact else got_value == pytest.approx(value, rel=1e-15, abs=0)


def test_period_filters_on_local_submission_day(app):
    with app.app_context():
        late = add_response(
            OWN, datetime(2025, 7, 31, 17, 30), [("wait_time", "lt15", "6.1", 1.0)]
        )  # 1 Aug, 00:30 local
        add_response(OWN, datetime(2025, 7, 31, 16, 30), [("wait_time", "lt15", "6.1", 1.0)])  # 31 Jul, 23:30 local
        db.session.commit()
        august = respondents_frame(date(2025, 8, 1), None)
        july = respondents_frame(None, date(2025, 7, 31))
        scores = scores_frame(date(2025, 8, 1), date(2025, 8, 1))
        august_ids, july_ids, score_ids = (_canon(f["response_id"]) for f in (august, july, scores))
    assert august_ids == [uuid.UUID(late).hex]
    assert len(july_ids) == 1 and uuid.UUID(late).hex not in july_ids
    assert score_ids == [uuid.UUID(late).hex]


def test_analysis_input_is_consistent_and_counts_flagged(app):
    ids = seed(app)
    with app.app_context():
        data = load_analysis_input(province_code="15")
    assert data.flagged == len(ids["flagged"])
    assert len(data.respondents) == sum(map(len, ids.values()))
    # Scores' ids are a categorical over exactly the respondents' ids: no hashing per answer.
    assert list(data.scores["response_id"].cat.categories) == list(data.respondents["response_id"])
    assert len(data.communes) == 99 and data.margins is None
    assert np.isin(data.scores["subdimension"].astype(str), ["6.1", "4.2"]).all()


def test_communes_carry_their_division_type_and_wards(app):
    with app.app_context():
        communes = communes_frame("15")
        data = load_analysis_input(province_code="15", commune_codes=[OWN, OTHER])
    types = dict(zip(communes["commune_code"], communes["division_type"], strict=False))
    assert types[OWN] == "xã" and types[OTHER] == "phường"
    assert sorted(set(types.values())) == ["phường", "xã"]
    assert data.wards == [OTHER]  # only the communes read
    with app.app_context():
        everything = load_analysis_input(province_code="15")
    assert len(everything.wards) == 10 and OTHER in everything.wards and OWN not in everything.wards


def test_margins_frame(app):
    with app.app_context():
        db.session.add_all(
            [
                PopulationMargin(commune_code=OWN, variable="sex", category=c, population=p)
                for c, p in (("female", 510), ("male", 490))
            ]
        )
        db.session.commit()
        frame = margins_frame()
    assert frame.to_dict("records") == [
        {"commune": OWN, "variable": "sex", "category": "female", "population": 510.0},
        {"commune": OWN, "variable": "sex", "category": "male", "population": 490.0},
    ]


def test_a_clock_flag_alone_keeps_a_response_in_the_scores(app):
    """``clock`` (an untrusted client time, replaced by the receive time) does not exclude; any
    other flag beside it does, wherever it stands in the list."""
    answers = [("wait_time", "lt15", "6.1", 1.0)]
    with app.app_context():
        kept = [add_response(OWN, datetime(2025, 8, 1, 3), answers, flags=f) for f in ("", "clock")]
        for flags in ("too_fast;clock", "clock;burst", "straight_lined;clock;honeypot", "too_fast"):
            add_response(OWN, datetime(2025, 8, 1, 3), answers, flags=flags)
        db.session.commit()
        respondents = respondents_frame()
        scores = scores_frame()
        data = load_analysis_input(province_code="15")
        kept_keys = sorted(uuid.UUID(k).hex for k in kept)
        assert sorted(_canon(respondents.loc[~respondents["flagged"], "response_id"])) == kept_keys
        assert sorted(_canon(scores["response_id"])) == kept_keys
    assert data.flagged == 4


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    plain = frame.copy()
    for name in plain.columns:
        if isinstance(plain[name].dtype, pd.CategoricalDtype):
            plain[name] = plain[name].astype(object)
    return plain.sort_values(list(plain.columns), ignore_index=True, key=lambda s: s.astype(str))


def test_reads_in_many_chunks_equal_one_read(app, monkeypatch):
    """PostgreSQL reads large tables in page ranges on two connections, SQLite in ranges of
    responses: the same rows as one query (forced here by one page or 7 responses per chunk)."""
    from feedback import bridge

    seed(app, own=30, other=10, flagged=3)
    with app.app_context():
        add_response(OWN, datetime(2025, 8, 3, 3), [("wait_time", "lt15", "6.1", 1.0)], person=(None, None, None))
        db.session.commit()

        def frames() -> list[pd.DataFrame]:
            respondents = respondents_frame()
            head, answers, _ = bridge.response_export_frames(question_ids=["wait_time", "comment", "sex"])
            return [
                respondents,
                scores_frame(include_flagged=True),
                scores_frame(),
                scores_frame(response_ids=pd.Index(respondents["response_id"])),
                head,
                answers,
            ]

        whole = frames()
        monkeypatch.setattr(bridge, "PG_SPLIT_PAGES", 0)
        monkeypatch.setattr(bridge, "PG_CHUNK_PAGES", 1)
        monkeypatch.setattr(bridge, "CHUNK_RESPONSES", 7)  # SQLite: ranges of 7 responses
        chunked = frames()
    assert len(whole[0]) == 44 and len(whole[1]) > len(whole[2]) > 0
    for one, many in zip(whole, chunked, strict=True):
        assert one.dtypes.astype(str).to_dict() == many.dtypes.astype(str).to_dict()
        pd.testing.assert_frame_equal(_sorted(one), _sorted(many))


def test_answers_of_a_response_stored_after_the_respondents_were_read_are_left_out(app):
    """A refresh job reads respondents, then answers, while citizens submit: an answer whose
    response arrived in between belongs to no respondent and is dropped, without a warning."""
    import warnings

    seed(app, own=3, other=0, flagged=0)
    with app.app_context():
        respondents = respondents_frame()
        late = add_response(OWN, datetime(2025, 8, 2, 3), [("wait_time", "gt60", "6.1", 0.0)])
        db.session.commit()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            scores = scores_frame(response_ids=pd.Index(respondents["response_id"]))
            late_key = next(k for k, v in response_keys().items() if v == late.replace("-", ""))
            everything = scores_frame()
        dialect = db.engine.dialect.name
    assert len(everything) == len(scores) + 1 and late_key in set(everything["response_id"])
    # three respondents' answers in 6.1, 6.1 and 4.2: SQLite reads a mean per sub-dimension
    assert scores["response_id"].notna().all() and len(scores) == 3 * (2 if dialect == "sqlite" else 3)


def test_low_quality_follows_the_flags_whoever_writes_them(app):
    """``response.low_quality`` is computed by the database from ``flags``: on insert by any
    channel and on burst flagging's later update; only "clock" leaves a response counted."""
    import sqlalchemy as sa

    with app.app_context():
        ids = {
            flags: add_response(OWN, datetime(2025, 8, 1, 3), [("wait_time", "lt15", "6.1", 1.0)], flags=flags)
            for flags in ("", "clock", "too_fast", "clock;burst", "honeypot")
        }
        db.session.commit()
        db.session.execute(sa.update(Response).where(Response.id == uuid.UUID(ids[""])).values(flags="burst"))
        db.session.commit()
        stored = {str(rid): flag for rid, flag in db.session.execute(sa.select(Response.id, Response.low_quality))}
        respondents = respondents_frame().assign(response_id=lambda f: _canon(f["response_id"]))
    assert {flags: stored[rid] for flags, rid in ids.items()} == {
        "": True,
        "clock": False,
        "too_fast": True,
        "clock;burst": True,
        "honeypot": True,
    }
    flagged = dict(zip(respondents["response_id"], respondents["flagged"], strict=False))
    assert {flags: flagged[uuid.UUID(rid).hex] for flags, rid in ids.items()} == {
        "": True,
        "clock": False,
        "too_fast": True,
        "clock;burst": True,
        "honeypot": True,
    }


def _meanwhile(app) -> tuple[str, str]:
    """Another connection flags the first Khao Mang response and stores a new one, committed."""
    with db.engine.begin() as conn:
        victim = conn.scalar(sa.select(Response.id).where(Response.commune_code == OWN).order_by(Response.id).limit(1))
        conn.execute(sa.update(Response).where(Response.id == victim).values(flags="burst"))
    late = add_response(OWN, datetime(2025, 8, 2, 3), [("wait_time", "gt60", "6.1", 0.0)])
    db.session.commit()
    return str(victim).replace("-", ""), late.replace("-", "")


def test_the_reads_of_a_score_export_see_one_moment(app, monkeypatch):
    """A response flagged, and another stored, between the respondents read and the scores read:
    both reads see the database before them, so counts and scores agree (a burst flag landing
    mid-read once left the excluded count at 0 while the scores left the response out)."""
    from feedback import bridge

    seed(app, own=6, other=2, flagged=0)
    original, changed = bridge.scores_frame, []

    def scores_after_a_write(*args, **kwargs):
        changed.extend(_meanwhile(app))
        return original(*args, **kwargs)

    monkeypatch.setattr(bridge, "scores_frame", scores_after_a_write)
    with app.app_context():
        data = load_analysis_input(province_code="15")
        keys = {v: k for k, v in response_keys().items()}
    victim, late = (keys[k] for k in changed)
    assert data.flagged == 0 and len(data.respondents) == 8
    assert late not in set(data.respondents["response_id"])
    assert victim in set(data.scores["response_id"].astype(object))  # as it was: not yet flagged
    with app.app_context():
        after = load_analysis_input(province_code="15")
    assert after.flagged == 1 and len(after.respondents) == 9  # the next read sees both


def test_the_reads_of_a_response_export_see_one_moment(app):
    """The same between a response export's responses, its answers and its excluded count."""
    from feedback import bridge

    seed(app, own=6, other=2, flagged=0)
    changed: list[str] = []
    with app.app_context():
        head, answers, excluded = bridge.response_export_frames(
            question_ids=["wait_time"], on_head=lambda rows: changed.extend(_meanwhile(app))
        )
        keys = {v: k for k, v in response_keys().items()}
    victim, late = (keys[k] for k in changed)
    assert excluded == 0 and len(head) == 8 and late not in set(head["response_id"])
    assert victim in set(answers["response_id"].astype(object))
