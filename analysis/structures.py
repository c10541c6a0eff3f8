"""PAPI structures, names, plan 170 targets and official Lào Cai scores, kept as data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from os import PathLike
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # pandas loads with the first table asked for, not with the names (web start-up)
    import pandas as pd

__all__ = [
    "DIMENSIONS",
    "DIMENSION_NAMES",
    "SUBDIMENSION_NAMES",
    "PLAN_TARGETS",
    "STRUCTURES",
    "Label",
    "PlanTarget",
    "Structure",
    "get_structure",
    "load_official_scores",
    "plan_targets_frame",
]

DIMENSIONS: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8")


class Label(NamedTuple):
    """English and Vietnamese name of a dimension or sub-dimension."""

    en: str
    vi: str


class PlanTarget(NamedTuple):
    """Official 2018 value and 2019 target of plan 170/KH-UBND for one code."""

    baseline_2018: float
    target_2019: float


class Structure(Mapping[str, tuple[str, ...]]):
    """One version of the PAPI structure: dimension code -> sub-dimension codes.

    Behaves as a read-only mapping, so ``STRUCTURES["current"]["5"]`` is
    ``("5.1", "5.3", "5.4")``.
    """

    __slots__ = ("_dimensions", "_parent", "name")

    def __init__(self, name: str, dimensions: Mapping[str, tuple[str, ...]]) -> None:
        if tuple(dimensions) != DIMENSIONS:
            raise ValueError(f"structure {name!r} must list dimensions 1 to 8 in order")
        self.name = name
        self._dimensions = MappingProxyType({d: tuple(s) for d, s in dimensions.items()})
        self._parent = MappingProxyType({sub: dim for dim, subs in self._dimensions.items() for sub in subs})

    def __getitem__(self, dimension: str) -> tuple[str, ...]:
        return self._dimensions[dimension]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dimensions)

    def __len__(self) -> int:
        return len(self._dimensions)

    def __repr__(self) -> str:
        return f"Structure({self.name!r}, {dict(self._dimensions)!r})"

    @property
    def subdimensions(self) -> tuple[str, ...]:
        """All sub-dimension codes in dimension order."""
        return tuple(self._parent)

    def dimension_of(self, subdimension: str) -> str:
        """Dimension code that a sub-dimension belongs to."""
        try:
            return self._parent[subdimension]
        except KeyError:
            raise ValueError(f"sub-dimension {subdimension!r} is not part of the {self.name} structure") from None

    def k(self, dimension: str) -> int:
        """Number of sub-dimensions of a dimension (the k of ``1/k + 9p/k``)."""
        return len(self[dimension])


_COMMON = {
    "1": ("1.1", "1.2", "1.3", "1.4"),
    "2": ("2.1", "2.2", "2.3", "2.4"),
    "3": ("3.1", "3.2", "3.3"),
    "4": ("4.1", "4.2", "4.3", "4.4"),
    "6": ("6.1", "6.2", "6.3", "6.4"),
    "7": ("7.1", "7.2", "7.3"),
}


def _structure(name: str, d5: tuple[str, ...], d8: tuple[str, ...]) -> Structure:
    parts = dict(_COMMON, **{"5": d5, "8": d8})
    return Structure(name, {d: parts[d] for d in DIMENSIONS})


#: PAPI structures by version. "2018" is the baseline of plan 170, "2019" the
#: 2019–2020 structure (5.2 still present, 8.3 added) and "current" 2021 onward.
STRUCTURES: Mapping[str, Structure] = MappingProxyType(
    {
        "2018": _structure("2018", ("5.1", "5.2", "5.3", "5.4"), ("8.1", "8.2")),
        "2019": _structure("2019", ("5.1", "5.2", "5.3", "5.4"), ("8.1", "8.2", "8.3")),
        "current": _structure("current", ("5.1", "5.3", "5.4"), ("8.1", "8.2", "8.3")),
    }
)

DIMENSION_NAMES: Mapping[str, Label] = MappingProxyType(
    {
        "1": Label("Participation at Local Levels", "Tham gia của người dân ở cấp cơ sở"),
        "2": Label("Transparency in Local Decision-making", "Công khai, minh bạch"),
        "3": Label("Vertical Accountability Towards Citizens", "Trách nhiệm giải trình với người dân"),
        "4": Label(
            "Control of Corruption in the Public Sector",
            "Kiểm soát tham nhũng trong khu vực công",
        ),
        "5": Label("Public Administrative Procedures", "Thủ tục hành chính công"),
        "6": Label("Public Service Delivery", "Cung ứng dịch vụ công"),
        "7": Label("Environmental Governance", "Quản trị môi trường"),
        "8": Label("E-Governance", "Quản trị điện tử"),
        "total": Label("Aggregate", "Tổng hợp"),
    }
)

# Several names come from third-party codebooks: labels, not quotations (papi.md §3).
SUBDIMENSION_NAMES: Mapping[str, Label] = MappingProxyType(
    {
        "1.1": Label("Civic knowledge", "Tri thức công dân"),
        "1.2": Label("Opportunities for participation (elections)", "Cơ hội tham gia"),
        "1.3": Label("Quality of village-head elections", "Chất lượng bầu cử trưởng thôn/tổ trưởng dân phố"),
        "1.4": Label("Voluntary contributions", "Đóng góp tự nguyện"),
        "2.1": Label("Access to information", "Tiếp cận thông tin"),
        "2.2": Label("Poverty lists", "Công khai danh sách hộ nghèo"),
        "2.3": Label("Commune budgets", "Công khai ngân sách cấp xã"),
        "2.4": Label(
            "Land-use plans and price frames",
            "Công khai quy hoạch, kế hoạch sử dụng đất, khung giá đất",
        ),
        "3.1": Label("Interactions with local authorities", "Tương tác với chính quyền địa phương"),
        "3.2": Label("Responsiveness to citizens' appeals", "Giải quyết khiếu nại, tố cáo, kiến nghị"),
        "3.3": Label("Access to justice services", "Tiếp cận dịch vụ tư pháp"),
        "4.1": Label(
            "Limits on corruption in local government",
            "Kiểm soát tham nhũng trong chính quyền địa phương",
        ),
        "4.2": Label(
            "Limits on corruption in public service delivery",
            "Kiểm soát tham nhũng trong cung ứng dịch vụ công",
        ),
        "4.3": Label("Equity in state employment", "Công bằng trong tuyển dụng vào khu vực nhà nước"),
        "4.4": Label("Willingness to fight corruption", "Quyết tâm chống tham nhũng"),
        "5.1": Label("Certification procedures", "Chứng thực, xác nhận"),
        "5.2": Label("Construction permits (2018–2020 only)", "Cấp phép xây dựng"),
        "5.3": Label("Land-use-right certificates (LURC)", "Cấp giấy chứng nhận quyền sử dụng đất"),
        "5.4": Label("Commune-level personal procedures", "Thủ tục hành chính cấp xã/phường"),
        "6.1": Label("Public health care", "Y tế công lập"),
        "6.2": Label("Public primary education", "Giáo dục tiểu học công lập"),
        "6.3": Label("Basic infrastructure", "Cơ sở hạ tầng căn bản"),
        "6.4": Label("Law and order", "An ninh, trật tự khu dân cư"),
        "7.1": Label(
            "Seriousness in environmental protection",
            "Mức độ nghiêm túc trong bảo vệ môi trường",
        ),
        "7.2": Label("Air quality", "Chất lượng không khí"),
        "7.3": Label("Water quality", "Chất lượng nguồn nước sinh hoạt"),
        "8.1": Label(
            "Use of e-government portals and online services",
            "Sử dụng cổng thông tin điện tử/dịch vụ công trực tuyến",
        ),
        "8.2": Label("Internet access", "Tiếp cận Internet"),
        "8.3": Label(
            "E-responsiveness of local authorities (from 2019)",
            "Phản hồi trực tuyến của chính quyền",
        ),
    }
)

# Plan 170/KH-UBND (25 April 2019): official 2018 value -> 2019 target. For
# dimension 6 the plan's "+0.5" increment contradicts its own target; the target
# value is used (papi.md §2).
PLAN_TARGETS: Mapping[str, PlanTarget] = MappingProxyType(
    {
        "1": PlanTarget(5.41, 5.60),
        "2": PlanTarget(5.45, 5.88),
        "3": PlanTarget(4.89, 5.56),
        "4": PlanTarget(6.38, 6.60),
        "5": PlanTarget(7.33, 7.50),
        "6": PlanTarget(7.17, 7.22),
        "7": PlanTarget(4.30, 4.60),
        "8": PlanTarget(3.44, 4.00),
        "total": PlanTarget(44.37, 46.96),
    }
)

_OFFICIAL_COLUMNS = ("year", "code", "level", "score")
_LEVELS = ("subdimension", "dimension", "aggregate")


def get_structure(structure: str | Structure) -> Structure:
    """Return a :class:`Structure` from its name (``"2018"``, ``"2019"``, ``"current"``)."""
    if isinstance(structure, Structure):
        return structure
    try:
        return STRUCTURES[structure]
    except (KeyError, TypeError):
        raise ValueError(f"unknown PAPI structure {structure!r}; use one of {', '.join(STRUCTURES)}") from None


def plan_targets_frame() -> pd.DataFrame:
    """Plan 170 targets as a table with columns ``code, level, baseline_2018, target_2019``."""
    import pandas as pd

    codes = list(PLAN_TARGETS)
    return pd.DataFrame(
        {
            "code": codes,
            "level": ["aggregate" if c == "total" else "dimension" for c in codes],
            "baseline_2018": [PLAN_TARGETS[c].baseline_2018 for c in codes],
            "target_2019": [PLAN_TARGETS[c].target_2019 for c in codes],
        }
    )


def load_official_scores(path: str | PathLike[str]) -> pd.DataFrame:
    """Read the official PAPI scores of Lào Cai (``papi_official_lao_cai.csv``).

    Parameters
    ----------
    path
        CSV file with columns ``year, code, level, score``; ``code`` is ``"6"``,
        ``"6.1"`` or ``"total"``; ``level`` is ``subdimension``, ``dimension`` or
        ``aggregate``.

    Returns
    -------
    pandas.DataFrame
        Columns ``year`` (int), ``code`` (str, read as text so ``"1.10"`` stays a
        code), ``level`` (str) and ``score`` (float).

    Examples
    --------
    >>> official = load_official_scores("papi_official_lao_cai.csv")  # doctest: +SKIP
    >>> official.query("year == 2018 and code == 'total'").score.item()  # doctest: +SKIP
    44.37
    """
    import pandas as pd

    frame = pd.read_csv(path, dtype={"code": str, "level": str})
    missing = [c for c in _OFFICIAL_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: official scores file lacks column(s) {', '.join(missing)}")
    bad_levels = sorted(set(frame["level"].dropna()) - set(_LEVELS))
    if bad_levels or frame["level"].isna().any():
        raise ValueError(f"{path}: unknown level(s) {bad_levels}; expected {', '.join(_LEVELS)}")
    score = pd.to_numeric(frame["score"], errors="coerce")
    if score.isna().any():
        raise ValueError(f"{path}: column score has empty or non-numeric values")
    year = pd.to_numeric(frame["year"], errors="coerce")
    if year.isna().any():
        raise ValueError(f"{path}: column year has empty or non-numeric values")
    return pd.DataFrame(
        {
            "year": year.astype("int64"),
            "code": frame["code"].astype(str),
            "level": frame["level"].astype(str),
            "score": score.astype("float64"),
        }
    )
