"""Error pages: JSON ``{"errors": [...]}`` under /api, a plain translated page elsewhere."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from .extensions import db

RETRY_AFTER_SECONDS = 10


STAFF_PREFIXES = ("/officer", "/analyst")


def _staff_page() -> bool:
    """A request for a staff page (officers, analysts, admins), matched or not."""
    return request.blueprint in ("officer", "analyst") or request.path.startswith(STAFF_PREFIXES)


def _describe(error: HTTPException) -> str:
    if _staff_page() and error.code in (403, 404):
        return _("This page does not exist, or it is about a commune or province you do not look after.")
    texts = {
        400: _("The request could not be read."),
        403: _("You do not have access to this page."),
        404: _("This page does not exist. If you scanned a poster, please ask staff for a new one."),
        405: _("This action is not allowed here."),
        413: _("What you sent is too large."),
        429: _("Too many submissions from here in a short time. Please wait a minute and try again."),
    }
    return texts.get(error.code, error.description or _("Something went wrong."))


def handle_http_error(error: HTTPException):
    """Answer an HTTP error in the form the caller reads, keeping headers such as Allow."""
    if error.response is not None:
        return error.response  # the error brought its own page (e.g. the log-in limit's)
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if request.path.startswith("/api/"):
        message = error.description if error.code == 400 and error.description else _describe(error)
        return (
            jsonify({"errors": [{"field": "body" if error.code in (400, 413) else "", "message": message}]}),
            error.code,
            headers,
        )
    fields = _survey_fields() if error.code == 429 else None
    if fields:
        # A limited survey submission: hand the answers back with a resend button.
        return (
            render_template(
                "errors/unavailable.html",
                message=_describe(error),
                fields=fields,
                staff_form=request.blueprint != "citizen",
            ),
            429,
            headers,
        )
    return (
        render_template("errors/error.html", code=error.code, message=_describe(error), staff=_staff_page()),
        error.code,
        headers,
    )


# Survey forms typed in by staff (paper questionnaires); every citizen form is a survey form.
STAFF_SURVEY_ENDPOINTS = ("officer.paper_entry",)


def _survey_fields() -> list[tuple[str, str]] | None:
    """The posted answers of a survey form, to hand back on a 429 or 503 page; None for any
    other form, so that nothing typed into a password field is ever rendered back.

    A staff form's CSRF token is not echoed: the page renders the session's own token.
    """
    if request.method != "POST" or request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None
    citizen = request.blueprint == "citizen"
    if not citizen and request.endpoint not in STAFF_SURVEY_ENDPOINTS:
        return None
    return [
        (k, v)
        for k, values in request.form.lists()
        for v in values
        if k != "switch_lang" and (citizen or k != "csrf_token")
    ] or None


def handle_database_down(error: SQLAlchemyError):
    """The database cannot be reached: 503, nothing stored, and the answers handed back.

    The page needs no database: it re-posts the very same fields (same signed response id),
    so a retry after the database returns stores the response once.
    """
    if (
        isinstance(error, DBAPIError)
        and not isinstance(error, (OperationalError, InterfaceError))
        and not error.connection_invalidated
    ):
        raise error  # e.g. an integrity error: a bug to surface, not an outage
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass  # the connection is gone; removing the session below discards it
    db.session.remove()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    message = _("The service is busy for a moment. Nothing was lost: your answers are kept, please try again.")
    if request.path.startswith("/api/"):
        return jsonify({"errors": [{"field": "", "message": message}]}), 503, headers
    fields = _survey_fields() or []
    return (
        render_template(
            "errors/unavailable.html", message=message, fields=fields, staff_form=request.blueprint != "citizen"
        ),
        503,
        headers,
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    # Outages only: server gone or restarting, connection dropped mid-request (also when the
    # driver reports it as another DB-API error), a session left failed by it, SQLite busy past
    # its timeout, or no pooled connection free in time. Other errors are bugs and stay 500s.
    for error in (OperationalError, InterfaceError, DBAPIError, PendingRollbackError, PoolTimeoutError):
        app.register_error_handler(error, handle_database_down)
    # Registered after Flask-SQLAlchemy's, so it runs first (teardowns run in reverse order).
    app.teardown_appcontext(_end_session)


def _end_session(exc: BaseException | None) -> None:
    """End the request's session; if the database went away meanwhile, the answer stands.

    Ending a session rolls back what it only read. When the server has just gone, that
    rollback fails; the answer already decided (a 201 for a committed response, or a 503) must
    not turn into a 500. The connection is dropped from the pool either way.
    """
    try:
        db.session.remove()
    except (OperationalError, InterfaceError) as error:
        db.session.registry.clear()  # a fresh session next time, not this broken one
        current_app.logger.warning("session ended with the database gone: %s", error)
