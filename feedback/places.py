"""Queries about communes and service points shared by several blueprints."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy.engine import Engine

from .extensions import db
from .models import Commune, ServicePoint

T = TypeVar("T")


def province_communes(province_code: str) -> list[Commune]:
    """A province's communes and wards in Vietnamese alphabetical order of their names."""
    communes = db.session.execute(db.select(Commune).filter_by(province_code=province_code)).scalars().all()
    return sorted_by_name(communes)


def bare_name(name: str) -> str:
    """A unit's name without its type: "Xã Khao Mang" → "Khao Mang"."""
    return name.removeprefix("Xã ").removeprefix("Phường ").removeprefix("Đặc khu ")


_collators = threading.local()


def name_key(name: str) -> bytes:
    """Sort key of a name in Vietnamese alphabetical order, a unit's type ("Xã", "Phường") left out.

    ICU's collation with CLDR's Vietnamese rules: ă and â after a, đ after d, ê after e, ô and
    ơ after o, ư after u; tone marks only break ties (ngang, huyền, sắc, hỏi, ngã, nặng).
    The Unicode default order (DUCET, e.g. pyuca) gets these letters wrong.
    """
    collator = getattr(_collators, "vi", None)
    if collator is None:  # one per thread: ICU collators are not meant to be shared between threads
        import icu  # imported on first use: ICU's data is large and most requests never sort names

        collator = _collators.vi = icu.Collator.createInstance(icu.Locale("vi"))
    return collator.getSortKey(bare_name(name))


def sorted_by_name(items: Iterable[T], name: Callable[[T], str] = lambda item: item.name) -> list[T]:
    """Communes, provinces or service points in Vietnamese alphabetical order of ``name(item)``."""
    return sorted(items, key=lambda item: name_key(name(item)))


def active_point(commune_code: str, service_area: str) -> ServicePoint | None:
    """The commune's oldest active service point of a service area, if any."""
    return db.session.execute(
        db.select(ServicePoint)
        .filter_by(commune_code=commune_code, service_area=service_area, active=True)
        .order_by(ServicePoint.id)
        .limit(1)
    ).scalar_one_or_none()


# Facts that never change once in the database, remembered per process and engine: units
# are never deleted, and a service point is retired rather than deleted, its commune and
# service fixed when it is created (only its name and poster token change).
_known_communes: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
_point_places: weakref.WeakKeyDictionary[Engine, dict[int, tuple[str, str]]] = weakref.WeakKeyDictionary()


def commune_exists(code: str) -> bool:
    """Whether a commune code is loaded."""
    known = _known_communes.setdefault(db.engine, set())
    if code in known:
        return True
    if db.session.get(Commune, code) is None:
        return False
    known.update(db.session.scalars(db.select(Commune.code)))  # a first look: remember them all
    return True


def point_place(point_id: int) -> tuple[str, str] | None:
    """A service point's ``(commune_code, service_area)``, or None if there is no such point."""
    places = _point_places.setdefault(db.engine, {})
    if point_id not in places:
        # A first look remembers every point at once; later, only points created since (ids
        # only grow, as points are never deleted), so an unknown id costs one indexed query.
        rows = db.session.execute(
            db.select(ServicePoint.id, ServicePoint.commune_code, ServicePoint.service_area).where(
                ServicePoint.id > max(places, default=0)
            )
        )
        places.update((pid, (commune, area)) for pid, commune, area in rows)
    return places.get(point_id)


def point_is_active(point_id: int) -> bool:
    """Whether a service point is still in use (not retired).

    Never remembered, unlike ``point_place``: an officer may retire a point at any time.
    """
    return bool(db.session.scalar(db.select(ServicePoint.active).where(ServicePoint.id == point_id)))
