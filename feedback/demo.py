"""Demo data: a service point of each kind per commune and a year of synthetic, plausible responses.

The design is what a province would see after a year at its commune service points: each commune
answers in proportion to its population (docs/demo_margins_lao_cai.csv), communes differ overall
and differ in what they are good at, and the respondents over-represent young, male, Kinh people
as phone surveys at service points do, so weighting to the population margins matters.
"""

from __future__ import annotations

import csv
import math
import uuid
import zlib
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from surveys import Survey, catalog, check_answers

from .extensions import db
from .models import CHANNELS, SERVICE_AREAS, Answer, Commune, Response, ServicePoint, new_token, utcnow
from .places import bare_name
from .responses import Submission
from .score_cache import bump_commune_data_versions
from .times import day_start, local_day, whole_seconds

POINT_NAMES = {
    "health": "Trạm Y tế {name}",
    "school": "Trường Tiểu học {name}",
    "one_stop": "Bộ phận Một cửa UBND {name}",
    "land": "Văn phòng Đăng ký đất đai – điểm {name}",
    "commune_office": "Nhà văn hoá trung tâm {name}",
}
# The demo population: synthetic margins per commune (sex, age band, ethnic group); a commune's
# population is the sum of its sex margins.
DEMO_MARGINS = Path(__file__).resolve().parent.parent / "docs" / "demo_margins_lao_cai.csv"
# Who answers phone surveys at service points: younger, more often male and Kinh than the population.
SERVICE_POINT_MIX = {
    "sex": {"female": 0.48, "male": 0.52},
    "age_band": {"18-29": 0.34, "30-44": 0.36, "45-59": 0.20, "60+": 0.10},
    "ethnic_group": {
        "kinh": 0.45,
        "hmong": 0.17,
        "tay": 0.12,
        "dao": 0.10,
        "giay": 0.04,
        "nung": 0.04,
        "thai": 0.05,
        "other": 0.03,
    },
}
# A commune's respondents: this share drawn like its own population, the rest like the mix above.
OWN_POPULATION_SHARE = 0.5
GROUP_EFFECT = {"kinh": 0.25, "hmong": -0.45, "dao": -0.25, "female": -0.05, "60+": 0.2, "18-29": -0.15}
AREA_EFFECT = {"health": 0.4, "school": 0.6, "one_stop": 0.3, "land": -0.3, "commune_office": -0.2}
# Lào Cai's official 2018 profile as log-odds (dimension score d on 1–10 → logit((d − 1)/9)):
# strong on procedures and services, weak on environment and e-governance.
DIMENSION_EFFECT = {"1": -0.04, "2": -0.02, "3": -0.27, "4": 0.40, "5": 0.86, "6": 0.78, "7": -0.55, "8": -0.99}
# Between communes on the logit scale: overall, and per commune × service area and × dimension,
# so that communes are good at different things. Within a commune, respondents vary by RESPONDENT_SD.
COMMUNE_SD, COMMUNE_AREA_SD, COMMUNE_DIMENSION_SD, RESPONDENT_SD = 0.6, 0.3, 0.3, 0.7
UNSCORED_SHARE = 0.05  # of each option without a score, such as "don't know"
# Per commune and year: the median-sized commune gets PER_COMMUNE, others in proportion to their
# population, clipped to PER_COMMUNE_RANGE.
PER_COMMUNE, PER_COMMUNE_RANGE, DAYS = 200, (60, 400), 365
# Opening hours of service points (seconds after midnight, Viet Nam time); times are stored as
# naive UTC at whole seconds, like every response time (feedback/times.py).
OPEN, CLOSE = 7 * 3600, 17 * 3600 + 1800
# How the responses arrive (feedback/models.py CHANNELS): most scan the poster at the service
# point, some start from the landing page (which leads to the same point's survey), officers type
# in the paper forms of citizens without a smartphone, and a few come from a kiosk tablet (API).
CHANNEL_MIX = {"poster": 0.70, "landing": 0.12, "paper": 0.15, "api": 0.03}
MODE_OF_CHANNEL = {"poster": "web", "landing": "web", "paper": "paper", "api": "api"}
# A paper form is typed in between an hour and five days after the interview (never after now).
PAPER_TYPED_AFTER = (3600, 5 * 86400)
# Comments citizens write, by the service area of the survey they answer: a comment is only
# ever stored on a survey of its own area (a medicine comment never lands at the cultural house).
COMMENTS = {
    "health": (
        "Cần thêm thuốc cho trẻ em ở trạm.",
        "Phải chờ lâu, nên có thêm ghế ngồi cho người già.",
        "Y sĩ khám kỹ, dặn dò cẩn thận.",
    ),
    "school": (
        "Nhà vệ sinh của trường cần sửa.",
        "Cô giáo quan tâm đến từng cháu.",
        "Nên có bữa trưa cho học sinh nhà xa.",
    ),
    "one_stop": (
        "Cán bộ nhiệt tình, hướng dẫn rõ ràng.",
        "Thủ tục nhanh hơn năm ngoái.",
        "Mong có người nói tiếng Mông ở bộ phận một cửa.",
        "Nên niêm yết phí bằng cả tiếng dân tộc.",
    ),
    "land": (
        "Làm sổ đỏ vẫn phải đi lại nhiều lần.",
        "Nên công khai bản đồ quy hoạch tại xã.",
        "Cán bộ địa chính giải thích rõ ràng.",
    ),
    "commune_office": (
        "Đường vào xã mùa mưa rất khó đi.",
        "Nên họp dân vào buổi tối để mọi người cùng dự.",
        "Cần công khai các khoản đóng góp của dân.",
    ),
}


def ensure_service_points(communes: list[Commune]) -> int:
    """Give every commune one active service point of each service area it lacks."""
    have = set(
        db.session.execute(
            sa.select(ServicePoint.commune_code, ServicePoint.service_area).where(ServicePoint.active)
        ).all()
    )
    created = 0
    for commune in communes:
        bare = bare_name(commune.name)
        for area in SERVICE_AREAS:
            if (commune.code, area) not in have:
                db.session.add(
                    ServicePoint(
                        commune_code=commune.code,
                        service_area=area,
                        name=POINT_NAMES[area].format(name=bare),
                        token=new_token(),
                    )
                )
                created += 1
    db.session.commit()
    return created


def read_population(path: Path = DEMO_MARGINS) -> dict[str, dict[str, dict[str, float]]]:
    """Commune code → variable → category → population, from a margins CSV (empty if no file)."""
    margins: dict[str, dict[str, dict[str, float]]] = {}
    if not path.is_file():
        return margins
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            by_var = margins.setdefault(row["commune_code"], {}).setdefault(row["variable"], {})
            by_var[row["category"]] = by_var.get(row["category"], 0.0) + float(row["population"])
    return margins


def planned_counts(
    codes: Sequence[str],
    margins: dict[str, dict[str, dict[str, float]]],
    *,
    per_commune: int = PER_COMMUNE,
    per_commune_range: tuple[int, int] = PER_COMMUNE_RANGE,
    total: int | None = None,
) -> np.ndarray:
    """Responses per commune over the demo period.

    A commune of the province's median population (over every commune in ``margins``, not only
    ``codes``) gets ``per_commune``; the others in proportion to their population, clipped to
    ``per_commune_range``. A commune without margins counts as median-sized. With ``total``,
    the same shares are scaled to exactly ``total`` responses (largest remainders).
    """
    low, high = per_commune_range
    if not 0 <= low <= high or per_commune < 0 or (total is not None and total < 0):
        raise ValueError(f"responses per commune must satisfy 0 ≤ min ≤ max (got {low}–{high}), and counts be ≥ 0")
    sizes = {code: sum(m.get("sex", {}).values()) for code, m in margins.items()}
    median = float(np.median([s for s in sizes.values() if s > 0])) if any(s > 0 for s in sizes.values()) else 1.0
    people = np.array([sizes.get(code) or median for code in codes], dtype=float)
    counts = np.clip(np.rint(per_commune * people / median), low, high).astype(int)
    if total is None:
        return counts
    if counts.sum() == 0:
        counts = np.ones(len(codes), dtype=int)
    share = total * counts / max(counts.sum(), 1)
    scaled = np.floor(share).astype(int)
    scaled[np.argsort(-(share - scaled), kind="stable")[: total - scaled.sum()]] += 1
    return scaled


def respondent_mix(own: dict[str, dict[str, float]]) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per respondent question, its categories and the chance of each among a commune's respondents.

    ``OWN_POPULATION_SHARE`` of them are drawn like the commune's population (``own``: its
    margins), the rest like the service-point mix; without margins, only the mix.
    """
    mix = {}
    for variable, shares in SERVICE_POINT_MIX.items():
        categories = list(shares)
        skewed = np.array([shares[c] for c in categories])
        people = np.array([own.get(variable, {}).get(c, 0.0) for c in categories])
        p = (
            skewed
            if people.sum() <= 0
            else (OWN_POPULATION_SHARE * people / people.sum() + (1 - OWN_POPULATION_SHARE) * skewed)
        )
        mix[variable] = (categories, p / p.sum())
    return mix


class _Plan:
    """One survey's questions, prepared once so that drawing thousands of answers is quick."""

    def __init__(self, survey: Survey):
        self.survey = survey
        self.area = SERVICE_AREAS.index(survey.service_area)
        self.modules = survey.modules
        self.comments = COMMENTS[survey.service_area]
        self.questions = []
        for q in survey.main_questions:
            slopes = weights = dimension = None
            if q.options and q.type != "multiple":
                if q.scored:
                    scored = [o.score for o in q.options if o.score is not None]
                    spread = float(np.var(scored))
                    # Slope making the logit of the expected score ≈ the latent near 0 (1 for yes/no).
                    slope = 0.25 / spread if spread > 0 else 1.0
                    slopes = tuple(None if o.score is None else slope * o.score for o in q.options)
                    dimension = q.subdimension.split(".")[0]
                elif q.id.startswith("used"):
                    weights = tuple(0.85 if o.value == "yes" else 0.1 for o in q.options)
                else:
                    weights = (1.0,) * len(q.options)
            self.questions.append((q, slopes, weights, dimension))
        # What ``scored_rows`` stores for each question, in its order: id, subdimension and the
        # score of each option value (None for a question without scores).
        self.stored = [
            (q.id, q.subdimension, {o.value: o.score for o in q.options} if q.scored else None)
            for q in survey.questions
        ]

    def answer_rows(self, response_id: uuid.UUID, answers: dict) -> list[tuple]:
        """The answer rows ``scored_rows`` makes of clean ``answers``, as tuples in ANSWER_COLUMNS order."""
        rows = []
        for qid, subdimension, scores in self.stored:
            if qid not in answers:
                continue
            given = answers[qid]
            for position, value in enumerate(given if isinstance(given, list) else [given]):
                value = str(value)
                rows.append(
                    (response_id, qid, position, value, subdimension, None if scores is None else scores.get(value))
                )
        return rows


def _choose(rng: np.random.Generator, weights: Sequence[float]) -> int:
    """An index drawn with chances proportional to ``weights`` (a few options: plain Python is quicker)."""
    left = rng.random() * sum(weights)
    for i, w in enumerate(weights):
        left -= w
        if left < 0:
            return i
    return len(weights) - 1


def _pick(
    rng: np.random.Generator, plan: _Plan, latent: float, dimension_effect: dict[str, float], module: str | None
) -> dict:
    """Draw one plausible set of answers: the higher the respondent's latent (logit scale: the
    commune's, its service area's and the dimension's effects, the group's and their own), the
    likelier the favourable options of that dimension's questions."""
    answers: dict[str, object] = {}
    for q, slopes, weights, dimension in plan.questions:
        if q.module not in (None, module):
            continue
        if q.relevant is not None and not q.relevant.holds(answers):
            continue
        if not q.required and rng.random() < 0.08:
            continue
        if slopes is not None:
            # Adjacent-category logit: option j has odds exp(slope · score_j · latent), so on a
            # yes/no item the latent is the log-odds of the favourable answer; each option without
            # a score ("don't know", "not applicable") is chosen by UNSCORED_SHARE of respondents.
            eta = latent + dimension_effect[dimension]
            odds = [0.0 if b is None else math.exp(b * eta) for b in slopes]
            scale = (1 - UNSCORED_SHARE * slopes.count(None)) / sum(odds)
            answers[q.id] = q.options[
                _choose(rng, [UNSCORED_SHARE if b is None else o * scale for b, o in zip(slopes, odds, strict=False)])
            ].value
        elif weights is not None:
            answers[q.id] = q.options[_choose(rng, weights)].value
        elif q.type == "multiple":
            answers[q.id] = [o.value for o in q.options if rng.random() < 0.3] or [q.options[0].value]
        elif q.type == "integer":
            answers[q.id] = int(rng.integers(q.min, q.max + 1))
        elif q.type == "text" and rng.random() < 0.12:
            answers[q.id] = plan.comments[int(rng.integers(len(plan.comments)))]
    return answers


def _stream(seed: int, code: str, purpose: int) -> np.random.Generator:
    """A commune's own random stream: its effects and responses do not depend on the other communes."""
    return np.random.default_rng([seed, int(code) if code.isdigit() else zlib.crc32(code.encode()), purpose])


# Each run passes the first answers it draws for every survey through ``check_answers`` (the
# rule every channel's submissions meet): a guard against a generator that drifted from the
# survey files. The rest are valid by construction (tests/test_demo.py checks every one).
CHECKED_PER_SURVEY = 50
SECOND = timedelta(seconds=1)
# The columns the demo fills; every other column of ``response`` keeps its default (NULL, or
# "" for ``flags``: demo responses carry no quality flag, and count in every score).
RESPONSE_COLUMNS = (
    "id",
    "survey",
    "survey_version",
    "commune_code",
    "service_point_id",
    "lang",
    "mode",
    "channel",
    "module",
    "started_at",
    "submitted_at",
    "received_at",
    "content_hash",
    "flags",
)
ANSWER_COLUMNS = ("response_id", "question_id", "position", "value", "subdimension", "score")


def seed_demo(
    *,
    seed: int,
    responses: int | None = None,
    per_commune: int = PER_COMMUNE,
    per_commune_range: tuple[int, int] = PER_COMMUNE_RANGE,
    days: int = DAYS,
    communes: Sequence[str] = (),
    margins_path: Path = DEMO_MARGINS,
    now: datetime | None = None,
) -> tuple[int, int, np.ndarray]:
    """Service points for every commune, and synthetic responses over the last ``days`` days.

    Responses per commune follow ``planned_counts`` (about ``responses`` in all when given), only
    for ``communes`` when given. Each falls on one of the ``days`` local days up to today, in
    opening hours (Viet Nam time), strictly before ``now`` (default: now). The same seed gives the
    same response ids and answers, so running it again stores nothing new. Each arrives by a
    channel drawn from ``CHANNEL_MIX``: a paper form is dated by its interview day (the start of
    that Viet Nam day, as paper entry stores it) and received when typed in, later but before
    ``now``. Rows are stored as the submission path stores them (feedback/responses.py:
    whole-second times, the canonical content hash), set-wise: one COPY (PostgreSQL) or
    executemany (SQLite) per table, in one transaction.
    Returns (service points created, responses stored, responses planned per commune).
    Raises ValueError for an unknown commune, no communes loaded or ``days`` < 1.
    """
    if days < 1:
        raise ValueError("the demo period must be at least one day")
    every = db.session.execute(db.select(Commune).order_by(Commune.code)).scalars().all()
    if not every:
        raise ValueError("no communes loaded: run `flask load-units` first")
    unknown = sorted(set(communes) - {c.code for c in every})
    if unknown:
        raise ValueError(f"unknown commune code(s): {', '.join(unknown)}")
    created_points = ensure_service_points(every)
    chosen = [c.code for c in every if not communes or c.code in communes]
    points = {
        (p.commune_code, p.service_area): p.id
        for p in db.session.execute(
            db.select(ServicePoint).where(ServicePoint.active).order_by(ServicePoint.id.desc())
        ).scalars()
    }
    margins = read_population(margins_path)
    counts = planned_counts(
        chosen, margins, per_commune=per_commune, per_commune_range=per_commune_range, total=responses
    )
    plans = [_Plan(s) for s in catalog().all_current()]
    now = whole_seconds(now or utcnow())
    today = local_day(now)
    checked: Counter = Counter()
    response_rows: list[tuple] = []
    answer_rows: list[tuple] = []
    for code, n in zip(chosen, counts, strict=False):
        effects = _stream(seed, code, 0)
        overall = effects.normal(0, COMMUNE_SD)
        by_area = overall + effects.normal(0, COMMUNE_AREA_SD, len(SERVICE_AREAS))
        by_dimension = {d: e + effects.normal(0, COMMUNE_DIMENSION_SD) for d, e in DIMENSION_EFFECT.items()}
        rng = _stream(seed, code, 1)
        mix = respondent_mix(margins.get(code, {}))
        people = {variable: rng.choice(len(cats), size=n, p=p) for variable, (cats, p) in mix.items()}
        said = rng.random((n, len(mix))) < 0.85  # the respondent block is optional
        survey_of = rng.integers(len(plans), size=n)
        days_back = rng.integers(0, days, size=n)
        earlier = rng.integers(1, max(days, 2), size=n)  # for today's hours still to come
        seconds = rng.integers(OPEN, CLOSE, size=n)
        durations = rng.integers(40, 180, size=n)
        english = rng.random(n) >= 0.9
        noise = rng.normal(0, RESPONDENT_SD, n)
        ids = rng.bytes(16 * n)
        # Their own stream, so that adding channels left every other draw as it was.
        routes = _stream(seed, code, 2)
        channel_codes = routes.choice(len(CHANNELS), size=n, p=[CHANNEL_MIX[c] for c in CHANNELS])
        typed_after = routes.integers(*PAPER_TYPED_AFTER, size=n)
        for i in range(n):
            plan = plans[survey_of[i]]
            survey = plan.survey
            person = {variable: mix[variable][0][people[variable][i]] for variable in mix}
            latent = (
                by_area[plan.area]
                + AREA_EFFECT[survey.service_area]
                + noise[i]
                + sum(GROUP_EFFECT.get(v, 0.0) for v in person.values())
            )
            module = plan.modules[rng.integers(len(plan.modules))] if plan.modules else None
            answers = _pick(rng, plan, latent, by_dimension, module)
            answers.update({variable: value for j, (variable, value) in enumerate(person.items()) if said[i, j]})
            if checked[survey.slug] < CHECKED_PER_SURVEY:
                checked[survey.slug] += 1
                clean, problems = check_answers(survey, answers)
                if problems or clean != answers:
                    raise ValueError(f"demo generator made an invalid answer for {survey.slug}: {problems}")
            rid = uuid.UUID(bytes=ids[16 * i : 16 * i + 16], version=4)
            # A local day and opening hour, stored as UTC; an hour of today still to come moves to an
            # earlier day of the period (not all to yesterday, which would then have twice as many).
            submitted = day_start(today - timedelta(days=int(days_back[i]))) + timedelta(seconds=int(seconds[i]))
            if submitted >= now:
                submitted -= timedelta(days=int(earlier[i]))
            started, received = submitted - timedelta(seconds=int(durations[i])), submitted
            channel = CHANNELS[channel_codes[i]]
            if channel == "paper":  # no start time; the interview day, typed in later
                started, received = None, min(submitted + timedelta(seconds=int(typed_after[i])), now - SECOND)
                submitted = day_start(local_day(submitted))
            point = points.get((code, survey.service_area))
            lang = "vi" if channel == "paper" else "en" if english[i] else "vi"  # the printed form is Vietnamese
            content_hash = Submission(
                id=rid,
                survey=survey,
                commune_code=code,
                service_point_id=point,
                answers=answers,
                lang=lang,
                mode=MODE_OF_CHANNEL[channel],
                started_at=started,
                submitted_at=submitted,
                received_at=received,
            ).content_hash()
            response_rows.append(
                (
                    rid,
                    survey.slug,
                    survey.version,
                    code,
                    point,
                    lang,
                    MODE_OF_CHANNEL[channel],
                    channel,
                    module,
                    started,
                    submitted,
                    received,
                    content_hash,
                    "",
                )
            )
            answer_rows.extend(plan.answer_rows(rid, answers))
    return created_points, _insert_new(response_rows, answer_rows), counts


def _insert_new(response_rows: list[tuple], answer_rows: list[tuple]) -> int:
    """Store the responses whose ids are not stored yet, with their answers, in one transaction.

    Rows are tuples in RESPONSE_COLUMNS / ANSWER_COLUMNS order. Bumps the data version of the
    provinces that got responses (feedback/score_cache.py) before the commit. Returns how many
    responses were stored.
    """
    ids = [r[0] for r in response_rows]
    stored: set[uuid.UUID] = set()
    for start in range(0, len(ids), 500):
        stored.update(
            db.session.execute(sa.select(Response.id).where(Response.id.in_(ids[start : start + 500]))).scalars()
        )
    new_responses = [r for r in response_rows if r[0] not in stored]
    new_answers = [a for a in answer_rows if a[0] not in stored] if stored else answer_rows
    if new_responses:
        connection = db.session.connection()
        _bulk_insert(connection, Response.__table__, RESPONSE_COLUMNS, new_responses)
        _bulk_insert(connection, Answer.__table__, ANSWER_COLUMNS, new_answers)
        bump_commune_data_versions(db.session, {r[3] for r in new_responses})
    db.session.commit()
    return len(new_responses)


def _bulk_insert(connection: sa.Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) on the session's own connection and transaction.

    PostgreSQL: one ``COPY … FROM STDIN`` through psycopg, which adapts UUIDs, times and floats
    itself. SQLite: one driver ``executemany`` of values made by each column's own SQLAlchemy
    bind processor, so they are stored exactly as the ORM and feedback/responses.py store them
    (a UUID as 32 hex digits, a time as ``YYYY-MM-DD HH:MM:SS.ffffff``).
    """
    driver = connection.connection.driver_connection
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    dialect = connection.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    if any(processors):
        processed = [
            column if process is None else list(map(process, column))
            for column, process in zip(zip(*rows, strict=False), processors, strict=False)
        ]
        rows = list(zip(*processed, strict=False))
    driver.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)


DEMO_PASSWORD = "demo-lao-cai-2019"
DEMO_USERS = (
    ("admin@demo.laocai.vn", "admin", ()),
    ("analyst@demo.laocai.vn", "analyst", ()),
    ("officer@demo.laocai.vn", "officer", ("04465",)),  # Xã Khao Mang
)


def create_demo_users() -> list[str]:
    """Demo accounts for `make run` (one per role), created once; never for production."""
    from .auth import create_user, find_user

    created = []
    for email, role, communes in DEMO_USERS:
        if find_user(email) is None:
            create_user(email, role, DEMO_PASSWORD, communes)
            created.append(email)
    db.session.commit()
    return created
