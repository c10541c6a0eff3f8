"""``GET /healthz``: whether this host can serve (database, and Redis when configured), for the
load balancer, systemd checks and monitoring."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from .extensions import db

bp = Blueprint("health", __name__)

# A check that takes longer than this counts as failed: a health probe must answer quickly.
REDIS_TIMEOUT_SECONDS = 2


def redis_urls() -> list[str]:
    """The Redis servers this host depends on: the rate-limit storage and the job queue."""
    urls = []
    limits = str(current_app.config.get("RATELIMIT_STORAGE_URI", ""))
    if limits.startswith(("redis://", "rediss://", "redis+unix://")):
        urls.append(limits)
    if current_app.config.get("JOB_QUEUE") == "rq":
        urls.append(current_app.config.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return list(dict.fromkeys(urls))


def check_database() -> tuple[str, str | None]:
    """("ok" | "not migrated" | "unavailable", schema revision or None), in one round trip."""
    try:
        with db.engine.connect() as conn:
            revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        return ("ok", revision) if revision else ("not migrated", None)
    except ProgrammingError:  # PostgreSQL without alembic_version: `flask db upgrade` never ran
        return "not migrated", None
    except OperationalError as exc:
        if "no such table" in str(exc.orig):  # the same on SQLite
            return "not migrated", None
        return "unavailable", None
    except SQLAlchemyError:
        return "unavailable", None


def check_redis(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


@bp.route("/healthz")
def healthz():
    """200 ``{"status": "ok", "database": "ok", "schema": rev, "redis": "ok"|"not used"}``, or 503
    with the failing part marked "unavailable" (or the database "not migrated"). No details of
    errors: the page is public."""
    database, revision = check_database()
    redis = redis_urls()
    redis_ok = all(check_redis(url) for url in redis)
    healthy = database == "ok" and redis_ok
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "schema": revision,
        "redis": ("ok" if redis_ok else "unavailable") if redis else "not used",
    }
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
