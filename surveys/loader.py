"""Load and validate survey definitions from YAML files into frozen ``Survey`` objects.

Layout: ``definitions/<slug>/v<N>.yaml`` (one file per shipped version, never edited once
shipped; ``versions.lock`` holds their digests, ``releases.yaml`` the day each shipped) and
``respondent/v<N>.yaml`` (the optional respondent block that every survey version names).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from .model import (
    CHOICE_TYPES,
    QUESTION_TYPES,
    RESPONDENT_IDS,
    Condition,
    Option,
    Question,
    Survey,
    Text,
)

__all__ = ["Catalog", "load_catalog", "load_survey", "catalog", "SUBDIMENSIONS", "LOCK_FILE"]

ROOT = Path(__file__).parent
LOCK_FILE = ROOT / "versions.lock"
VIET_NAM_OFFSET = timezone(timedelta(hours=7))  # Viet Nam has kept UTC+7 all year since 1975
RELEASES_FILE = "releases.yaml"  # under the root: "slug@version: YYYY-MM-DD" (Viet Nam day)
SERVICE_AREAS = ("health", "school", "one_stop", "land", "commune_office")
# Every sub-dimension code of PAPI's 2018 and current (2021+) structures.
SUBDIMENSIONS = (
    "1.1 1.2 1.3 1.4 2.1 2.2 2.3 2.4 3.1 3.2 3.3 4.1 4.2 4.3 4.4 "
    "5.1 5.2 5.3 5.4 6.1 6.2 6.3 6.4 7.1 7.2 7.3 8.1 8.2 8.3"
).split()
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

RATING_LABELS = {
    "1": ("Rất không hài lòng", "Very dissatisfied"),
    "2": ("Không hài lòng", "Dissatisfied"),
    "3": ("Bình thường", "Neutral"),
    "4": ("Hài lòng", "Satisfied"),
    "5": ("Rất hài lòng", "Very satisfied"),
}
YES_NO_LABELS = {
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "dont_know": ("Không biết", "Don't know"),
}


class Catalog:
    """Every version of every survey; the highest version of a slug is its current one."""

    def __init__(self, surveys: list[Survey]):
        self._all = {(s.slug, s.version): s for s in surveys}
        self._current: dict[str, Survey] = {}
        for s in sorted(surveys, key=lambda s: s.version):
            self._current[s.slug] = s

    def current(self, slug: str) -> Survey | None:
        return self._current.get(slug)

    def get(self, slug: str, version: int) -> Survey | None:
        return self._all.get((slug, version))

    def all_current(self) -> list[Survey]:
        order = {area: i for i, area in enumerate(SERVICE_AREAS)}
        return sorted(self._current.values(), key=lambda s: order[s.service_area])

    def all_versions(self) -> list[Survey]:
        return list(self._all.values())

    def for_area(self, service_area: str) -> Survey | None:
        return next((s for s in self._current.values() if s.service_area == service_area), None)


def _text(raw: Any, where: str) -> Text:
    if not isinstance(raw, dict) or not isinstance(raw.get("vi"), str) or not isinstance(raw.get("en"), str):
        raise ValueError(f"{where}: expected a text with 'vi' and 'en' strings, got {raw!r}")
    if not raw["vi"].strip() or not raw["en"].strip():
        raise ValueError(f"{where}: empty text")
    return Text(vi=raw["vi"].strip(), en=raw["en"].strip())


def _score(raw: Any, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 <= raw <= 1:
        raise ValueError(f"{where}: score must be a number in [0, 1] or null, got {raw!r}")
    return float(raw)


def _options(q: dict[str, Any], where: str) -> tuple[Option, ...]:
    qtype = q["type"]
    scores = q.get("score")
    scored = q.get("subdimension") is not None
    raw_opts: Any
    if qtype == "rating":
        if scores is None and scored:
            scores = {v: (int(v) - 1) / 4 for v in RATING_LABELS}
        labels = {v: {"vi": vi, "en": en} for v, (vi, en) in RATING_LABELS.items()}
        raw_opts = [{"value": v, "label": labels[v]} for v in RATING_LABELS]
    elif qtype == "yes_no":
        raw_opts = [{"value": v, "label": {"vi": vi, "en": en}} for v, (vi, en) in YES_NO_LABELS.items()]
    else:
        raw_opts = q.get("options")
        if not isinstance(raw_opts, list) or len(raw_opts) < 2:
            raise ValueError(f"{where}: a {qtype} question needs a list of at least 2 options")
    if scores is not None:
        if not scored:
            raise ValueError(f"{where}: has a score map but no subdimension")
        if not isinstance(scores, dict):
            raise ValueError(f"{where}: score must map option values to numbers")
        known = {str(o.get("value")) for o in raw_opts if isinstance(o, dict)}
        unknown = {str(k) for k in scores} - known
        if unknown:
            raise ValueError(f"{where}: score names unknown options {sorted(unknown)}")
        scores = {str(k): v for k, v in scores.items()}
    options = []
    for i, o in enumerate(raw_opts):
        ow = f"{where}, option {i + 1}"
        if not isinstance(o, dict) or "value" not in o:
            raise ValueError(f"{ow}: expected {{value, label}}")
        value = str(o["value"])
        if not re.fullmatch(r"[a-z0-9_+\-]{1,40}", value):
            raise ValueError(f"{ow}: option value {value!r} must be lower-case letters, digits, _ + -")
        option_score = _score((scores or {}).get(value, o.get("score")), ow)
        options.append(Option(value=value, label=_text(o.get("label"), ow), score=option_score))
    values = [o.value for o in options]
    if len(set(values)) != len(values):
        raise ValueError(f"{where}: duplicate option values")
    if scored and all(o.score is None for o in options):
        raise ValueError(f"{where}: scored question (subdimension {q['subdimension']}) gives no option a score")
    return tuple(options)


def _question(q: Any, where: str, seen: dict[str, Question], respondent: bool) -> Question:
    if not isinstance(q, dict):
        raise ValueError(f"{where}: expected a mapping")
    qid = q.get("id")
    if not isinstance(qid, str) or not ID_PATTERN.match(qid):
        raise ValueError(f"{where}: id {qid!r} must be lower-case letters, digits and _")
    where = f"{where} ({qid})"
    if qid in seen:
        raise ValueError(f"{where}: duplicate question id")
    known_keys = {
        "id",
        "type",
        "label",
        "hint",
        "required",
        "options",
        "min",
        "max",
        "max_length",
        "relevant",
        "subdimension",
        "score",
        "module",
    }
    extra = set(q) - known_keys
    if extra:
        raise ValueError(f"{where}: unknown keys {sorted(extra)}")
    qtype = q.get("type")
    if qtype not in QUESTION_TYPES:
        raise ValueError(f"{where}: type must be one of {QUESTION_TYPES}, got {qtype!r}")
    sub = q.get("subdimension")
    if sub is not None:
        sub = str(sub)
        if sub not in SUBDIMENSIONS:
            raise ValueError(f"{where}: unknown PAPI sub-dimension {sub!r}")
        if qtype not in ("rating", "yes_no", "single"):
            raise ValueError(f"{where}: only rating, yes_no and single questions can be scored")
    options = _options({**q, "subdimension": sub}, where) if qtype in CHOICE_TYPES else ()
    if qtype not in CHOICE_TYPES and ("options" in q or "score" in q):
        raise ValueError(f"{where}: a {qtype} question takes no options or score")
    lo = hi = None
    if qtype == "integer":
        lo, hi = q.get("min"), q.get("max")
        if not (isinstance(lo, int) and isinstance(hi, int)) or isinstance(lo, bool) or isinstance(hi, bool) or lo > hi:
            raise ValueError(f"{where}: an integer question needs whole numbers min <= max")
    max_length = q.get("max_length", 500)
    if not isinstance(max_length, int) or not 1 <= max_length <= 2000:
        raise ValueError(f"{where}: max_length must be a whole number 1-2000")
    relevant = None
    if q.get("relevant") is not None:
        r = q["relevant"]
        if not isinstance(r, dict) or set(r) != {"question", "in"} or not isinstance(r["in"], list):
            raise ValueError(f"{where}: relevant must be {{question: id, in: [values]}}")
        target = seen.get(r["question"])
        if target is None:
            raise ValueError(f"{where}: relevant names {r['question']!r}, which is not an earlier question")
        if target.type not in CHOICE_TYPES:
            raise ValueError(f"{where}: relevant can only depend on a choice question")
        values = tuple(str(v) for v in r["in"])
        bad = set(values) - set(target.option_values)
        if not values or bad:
            raise ValueError(f"{where}: relevant values {sorted(bad) or values} are not options of {target.id}")
        relevant = Condition(question=target.id, values=values)
    required = q.get("required", False)
    if not isinstance(required, bool):
        raise ValueError(f"{where}: required must be true or false")
    module = q.get("module")
    if module is not None:
        if respondent or not isinstance(module, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,19}", module):
            raise ValueError(f"{where}: module must be a short lower-case name (main questions only)")
        if required:
            raise ValueError(f"{where}: a question in a module cannot be required (most people never see it)")
    if relevant is not None and seen[relevant.question].module not in (None, module):
        raise ValueError(f"{where}: relevant names {relevant.question!r} from another module")
    return Question(
        id=qid,
        type=qtype,
        label=_text(q.get("label"), where),
        required=required,
        hint=_text(q["hint"], f"{where} hint") if q.get("hint") else None,
        options=options,
        min=lo,
        max=hi,
        max_length=max_length,
        relevant=relevant,
        subdimension=sub,
        respondent=respondent,
        module=module,
    )


@lru_cache(maxsize=1)
def _yaml12_loader() -> type:
    """SafeLoader with YAML 1.2 booleans: only true/false, so option values yes/no stay strings.

    Built on first use: PyYAML costs a web worker's start ~25 ms and surveys are read when first asked for.
    """
    import yaml

    class _Yaml12Loader(yaml.SafeLoader):
        pass

    _Yaml12Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _Yaml12Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return _Yaml12Loader


def read_yaml(path: Path) -> Any:
    """Parse a YAML file with YAML 1.2 booleans."""
    import yaml

    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_yaml12_loader())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc


def digest_of(data: Any) -> str:
    """SHA-256 of a definition's canonical JSON form (whitespace and key order do not count)."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_survey(path: Path, root: Path = ROOT) -> Survey:
    """Load and validate one survey version file; raise ValueError naming file and question."""
    raw = read_yaml(path)
    where = str(path.relative_to(root) if path.is_relative_to(root) else path)
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping at the top")
    for key in ("slug", "version", "service_area", "title", "questions"):
        if key not in raw:
            raise ValueError(f"{where}: missing {key!r}")
    slug, version = raw["slug"], raw["version"]
    if not isinstance(slug, str) or not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", slug):
        raise ValueError(f"{where}: bad slug {slug!r}")
    if path.parent.name != slug or path.stem != f"v{version}":
        raise ValueError(f"{where}: file must be definitions/{slug}/v{version}.yaml")
    if raw["service_area"] not in SERVICE_AREAS:
        raise ValueError(f"{where}: service_area must be one of {SERVICE_AREAS}")
    if not isinstance(raw["questions"], list) or not raw["questions"]:
        raise ValueError(f"{where}: questions must be a non-empty list")
    block_name = raw.get("respondent_block")
    block_raw: list[Any] = []
    if block_name is not None:
        block_path = root / "respondent" / f"{block_name}.yaml"
        if not block_path.exists():
            raise ValueError(f"{where}: respondent_block {block_name!r} not found at {block_path}")
        block_raw = read_yaml(block_path)["questions"]
    seen: dict[str, Question] = {}
    for i, q in enumerate(raw["questions"]):
        question = _question(q, f"{where}, question {i + 1}", seen, respondent=False)
        if question.id in RESPONDENT_IDS:
            raise ValueError(f"{where}: {question.id!r} is reserved for the respondent block")
        seen[question.id] = question
    for i, q in enumerate(block_raw):
        question = _question(q, f"{where}, respondent block question {i + 1}", seen, respondent=True)
        seen[question.id] = question
    if block_name is not None and tuple(q.id for q in seen.values() if q.respondent) != RESPONDENT_IDS:
        raise ValueError(f"{where}: the respondent block must ask exactly {RESPONDENT_IDS}")
    return Survey(
        slug=slug,
        version=version,
        service_area=raw["service_area"],
        title=_text(raw["title"], f"{where} title"),
        intro=_text(raw.get("intro") or raw["title"], f"{where} intro"),
        questions=tuple(seen.values()),
        source=where,
        digest=digest_of({"survey": raw, "respondent": block_raw}),
    )


def load_catalog(root: Path = ROOT) -> Catalog:
    """Load every survey version under ``root/definitions``; one service area per survey."""
    surveys = [load_survey(p, root) for p in sorted((root / "definitions").glob("*/v*.yaml"))]
    released = read_releases(root)
    surveys = [dataclasses.replace(s, released=released.get(f"{s.slug}@{s.version}")) for s in surveys]
    areas: dict[str, str] = {}
    for s in surveys:
        if areas.setdefault(s.service_area, s.slug) != s.slug:
            raise ValueError(f"{s.source}: service area {s.service_area} already has survey {areas[s.service_area]}")
    return Catalog(surveys)


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The shipped catalog, loaded once per process."""
    return load_catalog()


def read_lock() -> dict[str, str]:
    return json.loads(LOCK_FILE.read_text()) if LOCK_FILE.exists() else {}


def read_releases(root: Path = ROOT) -> dict[str, date]:
    """The day each version shipped, by ``slug@version`` (empty when there is no releases file)."""
    path = root / RELEASES_FILE
    raw = read_yaml(path) if path.exists() else None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected lines 'slug@version: YYYY-MM-DD'")
    for key, day in raw.items():
        if not isinstance(day, date) or isinstance(day, datetime):
            raise ValueError(f"{path}: {key}: expected a day YYYY-MM-DD, got {day!r}")
    return {str(k): v for k, v in raw.items()}


def write_lock(cat: Catalog, *, today: date | None = None) -> dict[str, str]:
    """Record the digest of every version, and ``today`` (Viet Nam) as the release day of each
    version that has none; existing entries are kept, never rewritten."""
    lock = read_lock()
    for s in cat.all_versions():
        lock.setdefault(f"{s.slug}@{s.version}", s.digest)
    LOCK_FILE.write_text(json.dumps(dict(sorted(lock.items())), indent=2) + "\n")
    released = read_releases()
    new = sorted(f"{s.slug}@{s.version}" for s in cat.all_versions() if f"{s.slug}@{s.version}" not in released)
    if new:
        today = today or datetime.now(VIET_NAM_OFFSET).date()
        with (ROOT / RELEASES_FILE).open("a", encoding="utf-8") as f:  # appended: the comments stay
            f.writelines(f"{key}: {today.isoformat()}\n" for key in new)
    return lock
