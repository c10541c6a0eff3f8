"""Demo data: a service point of each kind per commune and synthetic, plausible responses."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa

from surveys import Survey, catalog, check_answers, scored_rows

from .extensions import db
from .models import SERVICE_AREAS, Answer, Commune, Response, ServicePoint, new_token, utcnow
from .places import bare_name

POINT_NAMES = {
    "health": "Trạm Y tế {name}",
    "school": "Trường Tiểu học {name}",
    "one_stop": "Bộ phận Một cửa UBND {name}",
    "land": "Văn phòng Đăng ký đất đai – điểm {name}",
    "commune_office": "Nhà văn hoá trung tâm {name}",
}
# Who answers phone surveys at service points: younger, more often Kinh than the population.
SEX = (["female", "male"], [0.48, 0.52])
AGE = (["18-29", "30-44", "45-59", "60+"], [0.34, 0.36, 0.20, 0.10])
ETHNIC = (["kinh", "hmong", "tay", "dao", "giay", "nung", "thai", "other"],
          [0.45, 0.17, 0.12, 0.10, 0.04, 0.04, 0.05, 0.03])
GROUP_EFFECT = {"kinh": 0.25, "hmong": -0.45, "dao": -0.25, "female": -0.05, "60+": 0.2, "18-29": -0.15}
COMMENTS = (
    "Cán bộ nhiệt tình, hướng dẫn rõ ràng.",
    "Phải chờ lâu, nên có thêm ghế ngồi cho người già.",
    "Nên niêm yết phí bằng cả tiếng dân tộc.",
    "Đường vào xã mùa mưa rất khó đi.",
    "Cần thêm thuốc cho trẻ em ở trạm.",
    "Thủ tục nhanh hơn năm ngoái.",
    "Mong có người nói tiếng Mông ở bộ phận một cửa.",
    "Nhà vệ sinh của trường cần sửa.",
)
AREA_EFFECT = {"health": 0.4, "school": 0.6, "one_stop": 0.3, "land": -0.3, "commune_office": -0.2}


def ensure_service_points(communes: list[Commune]) -> int:
    """Give every commune one active service point of each service area it lacks."""
    have = set(db.session.execute(
        sa.select(ServicePoint.commune_code, ServicePoint.service_area).where(ServicePoint.active)
    ).all())
    created = 0
    for commune in communes:
        bare = bare_name(commune.name)
        for area in SERVICE_AREAS:
            if (commune.code, area) not in have:
                db.session.add(ServicePoint(commune_code=commune.code, service_area=area,
                                            name=POINT_NAMES[area].format(name=bare), token=new_token()))
                created += 1
    db.session.commit()
    return created


def _pick(rng: np.random.Generator, survey: Survey, commune_effect: float, person: dict[str, str]) -> dict:
    """Draw one plausible set of answers: better communes and groups answer more favourably."""
    latent = commune_effect + AREA_EFFECT[survey.service_area] + sum(
        GROUP_EFFECT.get(v, 0.0) for v in person.values()) + rng.normal(0, 0.7)
    answers: dict[str, object] = {}
    module = survey.modules[rng.integers(len(survey.modules))] if survey.modules else None
    for q in survey.main_questions:
        if q.module not in (None, module):
            continue
        if q.relevant is not None and not q.relevant.holds(answers):
            continue
        if not q.required and rng.random() < 0.08:
            continue
        if q.options and q.type != "multiple":
            scores = np.array([o.score if o.score is not None else np.nan for o in q.options])
            if q.scored:
                # Options closer to the respondent's latent satisfaction are likelier.
                target = 1 / (1 + np.exp(-latent))
                weight = np.where(np.isnan(scores), 0.06, np.exp(-8 * np.abs(np.nan_to_num(scores) - target)))
            elif q.id.startswith("used") or q.id == "used_service":
                weight = np.array([0.85 if o.value == "yes" else 0.1 for o in q.options])
            else:
                weight = np.ones(len(q.options))
            answers[q.id] = q.options[rng.choice(len(q.options), p=weight / weight.sum())].value
        elif q.type == "multiple":
            answers[q.id] = [o.value for o in q.options if rng.random() < 0.3] or [q.options[0].value]
        elif q.type == "integer":
            answers[q.id] = int(rng.integers(q.min, q.max + 1))
        elif q.type == "text" and rng.random() < 0.12:
            answers[q.id] = COMMENTS[int(rng.integers(len(COMMENTS)))]
    for qid, value in person.items():
        if rng.random() < 0.85:
            answers[qid] = value
    return answers


def seed_demo(*, responses: int, seed: int) -> tuple[int, int]:
    """Service points for every commune plus ``responses`` synthetic responses.

    The same seed gives the same response ids and answers, so running it again stores nothing
    new. Times fall in the 90 days before today. Returns (service points created, responses stored).
    """
    communes = db.session.execute(db.select(Commune).order_by(Commune.code)).scalars().all()
    if not communes:
        raise ValueError("no communes loaded: run `flask load-units` first")
    created_points = ensure_service_points(communes)
    points = {(p.commune_code, p.service_area): p.id for p in db.session.execute(
        db.select(ServicePoint).where(ServicePoint.active).order_by(ServicePoint.id.desc())).scalars()}
    rng = np.random.default_rng(seed)
    effects = rng.normal(0, 0.6, len(communes))
    sizes = rng.gamma(2.0, 1.0, len(communes))
    surveys = catalog().all_current()
    today = datetime.combine(utcnow().date(), datetime.min.time())
    response_rows, answer_rows = [], []
    for _ in range(responses):
        ci = rng.choice(len(communes), p=sizes / sizes.sum())
        survey = surveys[rng.integers(len(surveys))]
        person = {"sex": rng.choice(SEX[0], p=SEX[1]), "age_band": rng.choice(AGE[0], p=AGE[1]),
                  "ethnic_group": rng.choice(ETHNIC[0], p=ETHNIC[1])}
        person = {k: str(v) for k, v in person.items()}
        answers, problems = check_answers(survey, _pick(rng, survey, effects[ci], person))
        if problems:
            raise ValueError(f"demo generator made an invalid answer for {survey.slug}: {problems}")
        rid = uuid.UUID(bytes=rng.bytes(16), version=4)
        submitted = today - timedelta(days=int(rng.integers(0, 90)), seconds=-int(rng.integers(6 * 3600, 20 * 3600)))
        commune = communes[ci].code
        response_rows.append({
            "id": rid, "survey": survey.slug, "survey_version": survey.version, "commune_code": commune,
            "service_point_id": points.get((commune, survey.service_area)), "lang": "vi" if rng.random() < 0.9 else "en",
            "mode": "web", "started_at": submitted - timedelta(seconds=int(rng.integers(40, 180))),
            "submitted_at": submitted, "received_at": submitted, "content_hash": "demo",
        })
        answer_rows.extend({"response_id": rid, **row} for row in scored_rows(survey, answers))
    return created_points, _insert_new(response_rows, answer_rows)


def _insert_new(response_rows: list[dict], answer_rows: list[dict]) -> int:
    """Bulk-insert the responses whose ids are not stored yet, with their answers."""
    ids = [r["id"] for r in response_rows]
    stored: set[uuid.UUID] = set()
    for start in range(0, len(ids), 500):
        stored.update(db.session.execute(sa.select(Response.id).where(Response.id.in_(ids[start:start + 500]))).scalars())
    new_responses = [r for r in response_rows if r["id"] not in stored]
    new_answers = [a for a in answer_rows if a["response_id"] not in stored]
    if new_responses:
        db.session.execute(sa.insert(Response), new_responses)
        db.session.execute(sa.insert(Answer), new_answers)
    db.session.commit()
    return len(new_responses)


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
