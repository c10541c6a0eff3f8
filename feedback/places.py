"""Queries about communes and service points shared by several blueprints."""

from __future__ import annotations

import unicodedata

from .extensions import db
from .models import Commune, ServicePoint


def province_communes(province_code: str) -> list[Commune]:
    """A province's communes and wards in Vietnamese alphabetical order of their names."""
    communes = db.session.execute(db.select(Commune).filter_by(province_code=province_code)).scalars().all()
    return sorted(communes, key=lambda c: _sort_key(c.name))


def bare_name(name: str) -> str:
    """A unit's name without its type: "Xã Khao Mang" → "Khao Mang"."""
    return name.removeprefix("Xã ").removeprefix("Phường ").removeprefix("Đặc khu ")


def _sort_key(name: str) -> str:
    # Đ sorts after D in Vietnamese; NFD puts accented vowels beside their base letter.
    return unicodedata.normalize("NFD", bare_name(name).replace("Đ", "D~").replace("đ", "d~")).lower()


def active_point(commune_code: str, service_area: str) -> ServicePoint | None:
    """The commune's oldest active service point of a service area, if any."""
    return db.session.execute(
        db.select(ServicePoint)
        .filter_by(commune_code=commune_code, service_area=service_area, active=True)
        .order_by(ServicePoint.id)
        .limit(1)
    ).scalar_one_or_none()


_known_communes: set[tuple[str, str]] = set()


def commune_exists(code: str) -> bool:
    """Whether a commune code is loaded; remembered per database, since units are never deleted."""
    key = (str(db.engine.url), code)
    if key in _known_communes:
        return True
    if db.session.get(Commune, code) is None:
        return False
    _known_communes.add(key)
    return True
