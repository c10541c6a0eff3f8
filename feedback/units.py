"""Load communes and wards from the vietnam-provinces package (two-tier structure, 2025)."""

from __future__ import annotations

from vietnam_provinces import Province, ProvinceCode, VietNamDivisionType, Ward

from .extensions import db
from .models import Commune
from .score_cache import bump_data_version

__all__ = ["WARD", "province_codes", "province_name", "official_units", "load_units", "load_all_units"]

#: ``Commune.division_type`` of a ward (phường); the others are communes (xã) and special zones.
WARD = VietNamDivisionType.PHUONG.value


def province_codes() -> list[str]:
    """The official two-digit codes of the 34 provinces and centrally-run cities (2025), sorted."""
    return sorted(f"{int(p.code):02d}" for p in Province.iter_all())


def _province(province_code: str) -> Province:
    try:
        return Province.from_code(ProvinceCode(int(province_code)))
    except ValueError as exc:
        raise ValueError(f"unknown province code {province_code!r}") from exc


def province_name(province_code: str) -> str:
    """The official name of a province (``ValueError`` for an unknown code)."""
    return _province(province_code).name


def official_units(province_code: str) -> list[dict[str, str]]:
    """The province's communes, wards and special zones with official codes and names."""
    province = _province(province_code)
    return [
        {
            "code": f"{int(w.code):05d}",
            "name": w.name,
            "division_type": w.division_type.value,
            "codename": w.codename,
            "province_code": f"{int(province.code):02d}",
            "province_name": province.name,
        }
        for w in Ward.iter_by_province(province.code)
    ]


def load_units(province_code: str, *, commit: bool = True) -> tuple[int, int]:
    """Insert new and update changed units of a province; returns (inserted, updated)."""
    units = official_units(province_code)
    existing = {
        c.code: c
        for c in db.session.execute(db.select(Commune).where(Commune.code.in_([u["code"] for u in units]))).scalars()
    }
    inserted = updated = 0
    new = []
    for unit in units:
        commune = existing.get(unit["code"])
        if commune is None:
            new.append(unit)
        elif any(getattr(commune, k) != v for k, v in unit.items()):
            for k, v in unit.items():
                setattr(commune, k, v)
            updated += 1
    if new:
        # One executemany, not an ORM object per unit: the whole country is 3,321 rows.
        db.session.execute(Commune.__table__.insert(), new)
        inserted = len(new)
        bump_data_version(db.session, new[0]["province_code"])  # scores list every commune (score cache)
    if commit:
        db.session.commit()
    return inserted, updated


def load_all_units() -> tuple[int, int]:
    """``load_units`` for every province, in one transaction; returns (inserted, updated)."""
    inserted = updated = 0
    for code in province_codes():
        i, u = load_units(code, commit=False)
        inserted += i
        updated += u
    db.session.commit()
    return inserted, updated
