"""Flask application factory for the citizen feedback platform."""

from __future__ import annotations

import os
import select
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from . import messages, security
from .config import Config
from .extensions import babel, csrf, db, migrate
from .responses import checkpoint_wal

ROOT = Path(__file__).resolve().parent.parent


def database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the usual ``postgres(ql)://`` form."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# The reader's language, remembered for a year beside the session: a session that ends (a staff
# log-in expiring, a browser's session cookie dropped) does not turn the pages back to Vietnamese.
# It names a language, nothing about the reader.
LANG_COOKIE = "lang"
LANG_COOKIE_DAYS = 365


def select_locale() -> str:
    """Vietnamese unless the reader chose English (``?lang=`` or the form's switch), in this
    session or, with the language cookie, an earlier one."""
    chosen = request.args.get("lang")
    if chosen is None and request.mimetype == "application/x-www-form-urlencoded":
        try:
            chosen = request.form.get("switch_lang")
        except HTTPException:  # an oversized body: the error page still needs a language
            chosen = None
    languages = current_app.config["LANGUAGES"]
    if chosen in languages:
        session["lang"] = g.lang_chosen = chosen
        return chosen
    if session.get("lang") in languages:
        return session["lang"]
    remembered = request.cookies.get(LANG_COOKIE)
    return remembered if remembered in languages else "vi"


def remember_language(response: Response) -> Response:
    """Set the language cookie when the reader chose a language in this request."""
    chosen = g.get("lang_chosen")
    if chosen is not None and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_DAYS * 86400,
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            httponly=True,
            samesite="Lax",
        )
    return response


def lang_url(lang: str) -> str:
    """This page's address in ``lang``: the other query parameters (a chosen commune, an
    analyst's period) are kept, only ``lang`` changes."""
    args = request.args.copy()
    args["lang"] = lang
    return f"{request.path}?{urlencode(list(args.items(multi=True)))}"


class DatabaseIntegerConverter(IntegerConverter):
    """``<int:…>`` in URLs: only numbers a database id column holds (32-bit on PostgreSQL), so a
    longer number is a 404, never an overflow in the query."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits, min, 2**31 - 1 if max is None else max, signed)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the cookie signer for a request that
    brings no session cookie (every API call, a citizen's first page): its session is empty."""

    def open_session(self, app: Flask, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then instance config.py and environment (or ``test_config``)."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    app.session_interface = CookieSessions()
    app.url_map.converters["int"] = DatabaseIntegerConverter
    app.config.from_object(Config)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
        if os.environ.get("DATABASE_URL"):
            app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
        for key in ("SECRET_KEY", "BASE_URL", "REDIS_URL"):
            if os.environ.get(key):
                app.config[key] = os.environ[key]
        app.config["BASE_URL_SET"] = bool(os.environ.get("BASE_URL") or os.environ.get("FLASK_BASE_URL"))
    else:
        app.config.update(test_config)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "feedback.sqlite")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["BASE_URL"] = app.config["BASE_URL"].rstrip("/")
    security.init_app(app)
    if app.config["PROXY_COUNT"]:
        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(ROOT / "translations"))

    from . import analyst, api, auth, citizen, cli, errors, officer  # analyst first: it adds /api/v1/scores

    app.register_blueprint(citizen.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    # Survey forms check their CSRF token themselves, so a failure keeps the answers on screen.
    csrf.exempt(citizen.bp)
    auth.init_app(app)
    app.register_blueprint(officer.bp)
    app.register_blueprint(analyst.bp)
    from . import health, static_files

    app.register_blueprint(health.bp)
    static_files.init_app(app)
    errors.init_app(app)
    app.context_processor(lambda: {"lang": str(get_locale())})
    app.add_template_global(lang_url)
    from .places import sorted_by_name

    app.add_template_filter(sorted_by_name, "by_name")  # names in Vietnamese alphabetical order
    app.before_request(messages.translate_wtforms)
    app.after_request(checkpoint_after_response)
    app.after_request(remember_language)
    cli.init_app(app)
    from . import jobs

    jobs.init_app(app)
    return app


def checkpoint_after_response(response: Response) -> Response:
    """Run a WAL checkpoint a submission asked for once the response has been sent."""
    engine = g.pop("wal_checkpoint", None)
    if engine is not None:
        response.call_on_close(lambda: checkpoint_wal(engine))
    return response


@event.listens_for(Pool, "checkout")
def _drop_closed_postgres(dbapi_connection, connection_record, connection_proxy) -> None:
    """PostgreSQL: never hand out a pooled connection the server has closed (after a restart).

    An idle connection has nothing to read unless the server ended it (EOF, or a FATAL
    "terminating connection"), so a readable socket means a dead connection. This costs no
    round trip, unlike ``pool_pre_ping``; the pool replaces a connection refused here.
    """
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return  # not psycopg (SQLite has no connection to lose)
    from psycopg.pq import ConnStatus  # loaded already: the connection is psycopg's

    if dbapi_connection.closed or pgconn.status != ConnStatus.OK:
        raise DisconnectionError("connection closed")
    readable, _, _ = select.select([pgconn.socket], [], [], 0)
    if readable:
        raise DisconnectionError("the server ended this connection")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite: WAL so readers never block the writer, a busy timeout so writers queue, every
    commit synced to disk before the answer goes out (NORMAL would lose the last acknowledged
    responses to a power cut or an OS crash), and memory-mapped reads (each worker re-reads
    pages another worker changed)."""
    if type(dbapi_connection).__module__ == "sqlite3":
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.close()
