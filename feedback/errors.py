"""Error pages: JSON ``{"errors": [...]}`` under /api, a plain translated page elsewhere."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


def _describe(error: HTTPException) -> str:
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
    """Answer an HTTP error in the form the caller reads."""
    if request.path.startswith("/api/"):
        message = error.description if error.code == 400 and error.description else _describe(error)
        return jsonify({"errors": [{"field": "body" if error.code in (400, 413) else "", "message": message}]}), error.code
    return render_template("errors/error.html", code=error.code, message=_describe(error)), error.code


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
