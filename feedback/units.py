"""Load communes and wards from the vietnam-provinces package (two-tier structure, 2025)."""

from __future__ import annotations

from vietnam_provinces import Province, ProvinceCode, VietNamDivisionType, Ward

from .extensions import db
from .models import Commune

#: ``Commune.division_type`` of a ward (phường); the others are communes (xã) and special zones.
WARD = VietNamDivisionType.PHUONG.value


def official_units(province_code: str) -> list[dict[str, str]]:
    """The province's communes, wards and special zones with official codes and names."""
    try:
        code = ProvinceCode(int(province_code))
    except ValueError as exc:
        raise ValueError(f"unknown province code {province_code!r}") from exc
    province = Province.from_code(code)
    return [
        {
            "code": f"{int(w.code):05d}",
            "name": w.name,
            "division_type": w.division_type.value,
            "codename": w.codename,
            "province_code": f"{int(province.code):02d}",
            "province_name": province.name,
        }
        for w in Ward.iter_by_province(code)
    ]


def load_units(province_code: str) -> tuple[int, int]:
    """Insert new and update changed units of a province; returns (inserted, updated)."""
    units = official_units(province_code)
    existing = {c.code: c for c in db.session.execute(
        db.select(Commune).where(Commune.code.in_([u["code"] for u in units]))
    ).scalars()}
    inserted = updated = 0
    for unit in units:
        commune = existing.get(unit["code"])
        if commune is None:
            db.session.add(Commune(**unit))
            inserted += 1
        elif any(getattr(commune, k) != v for k, v in unit.items()):
            for k, v in unit.items():
                setattr(commune, k, v)
            updated += 1
    db.session.commit()
    return inserted, updated
