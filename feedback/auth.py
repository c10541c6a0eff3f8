"""Staff accounts: password and e-mail rules, log-in with throttling, sessions that really end,
log-out, roles and commune access checks."""

from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from urllib.parse import urljoin, urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_timedelta, lazy_gettext
from flask_babel import gettext as _
from flask_limiter import RequestLimit
from flask_login import current_user, login_url, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from . import audit
from .extensions import db, limiter, login
from .models import ROLES, Commune, ServicePoint, User, utcnow

bp = Blueprint("auth", __name__)

PASSWORD_METHOD = "scrypt"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
# zxcvbn's score: 3 means "safely unguessable" (about 10^8 guesses or more), out of reach of
# on-line guessing under the log-in throttle.
MIN_PASSWORD_SCORE = 3
# Words of this site that zxcvbn's English lists do not know; a password built on them is weak.
SITE_WORDS = (
    "lao",
    "cai",
    "laocai",
    "lào cai",
    "matkhau",
    "mật khẩu",
    "khau",
    "phanhoi",
    "phản hồi",
    "feedback",
    "vietnam",
    "việt nam",
    "admin",
    "officer",
    "analyst",
    "canbo",
    "cán bộ",
    "demo",
    "papi",
)
# Checked against when the e-mail is unknown, so a wrong address takes as long as a wrong password.
# A scrypt hash (PASSWORD_METHOD's parameters) of a random password nobody kept, written out
# rather than computed at import: hashing costs 0.1–0.4 s at every worker's start.
_DUMMY_HASH = (
    "scrypt:32768:8:1$pbUoGyZet8uakJ2x$2a940c016816ce28680a93135cab60b11dfcee4ca10f37a3bb48a52777ed6f3c8b3"
    "19d6de2ef358412436de239342f5178242413fddfbea3cf08e0d838ecc257"
)
# Session keys of a staff log-in (Flask-Login's own, plus the generation and log-in time).
_LOGIN_KEYS = ("_user_id", "_fresh", "_id", "epoch", "issued")
# A signed cookie naming the accounts that logged in from this browser before: they skip the
# account delay, so an attacker guessing elsewhere cannot keep the real user out.
KNOWN_BROWSER_COOKIE = "staff_browser"
_KNOWN_BROWSER_MAX = 5


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(lazy_gettext("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class LogoutForm(FlaskForm):
    """The log-out button: only the CSRF token."""


# Passwords and e-mail addresses.


def normalize_password(password: str) -> str:
    """The password in Unicode NFC: Vietnamese keyboards type the same text composed (NFC) or
    decomposed (NFD). Hashes of non-ASCII passwords set before this normalisation was added
    only match if they were typed in NFC; such accounts need ``set-password`` again."""
    return unicodedata.normalize("NFC", password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password (in any Unicode form) matches the stored hash."""
    return check_password_hash(password_hash, normalize_password(password))


def hash_password(password: str) -> str:
    """A salted scrypt hash of the password (in NFC)."""
    return generate_password_hash(normalize_password(password), method=PASSWORD_METHOD)


def check_password(password: str, *, email: str = "") -> None:
    """Raise ValueError unless the password is long enough and not common or guessable.

    Common passwords, keyboard runs, dates, l33t spellings and words of the account's e-mail
    or of this site are recognised by zxcvbn (Dropbox's estimator, whose lists hold the most
    common leaked passwords); a password must need about 10^8 guesses or more. Control and
    format characters (line breaks, NUL, direction marks) are refused: no keyboard types them.
    """
    password = normalize_password(password)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in password):
        raise ValueError(lazy_gettext("The password must not contain control characters (such as line breaks)."))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(lazy_gettext("The password must have at least %(num)d characters.", num=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(lazy_gettext("The password must have at most %(num)d characters.", num=MAX_PASSWORD_LENGTH))
    from zxcvbn import zxcvbn  # its word lists load with the first password set, not at start-up

    personal = [part for part in email.lower().replace("@", ".").replace("-", ".").replace("_", ".").split(".") if part]
    if zxcvbn(password[:100], user_inputs=[*SITE_WORDS, *personal])["score"] < MIN_PASSWORD_SCORE:
        raise ValueError(
            lazy_gettext(
                "This password is too easy to guess: it is a common password or close to "
                "one. Use a phrase of several words that is not about you or this site."
            )
        )


def normalize_email(email: str) -> str:
    """The address in its normal, lower-case form; raises ValueError if it is not one.

    Checked by email-validator (syntax only, no DNS). Test runs accept the reserved ``.test``
    domain (RFC 2606), as that library's test mode does.
    """
    from email_validator import EmailNotValidError, validate_email  # its tables cost every start ~20 ms

    try:
        valid = validate_email(
            fold_email(email), check_deliverability=False, test_environment=bool(current_app.config.get("TESTING"))
        )
    except EmailNotValidError as exc:
        raise ValueError(lazy_gettext("This is not an e-mail address (%(reason)s).", reason=str(exc))) from exc
    return fold_email(valid.normalized)


def fold_email(email: str) -> str:
    """The form addresses are stored and compared in: NFKC, case-folded, so look-alikes such as
    ``ofﬁcer@…`` (the ﬁ ligature) or a capital letter name the same account."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())


def find_user(email: str) -> User | None:
    """The account with this e-mail address (NFKC, case-insensitive), if any."""
    return db.session.execute(db.select(User).filter_by(email=fold_email(email))).scalar_one_or_none()


def create_user(
    email: str, role: str, password: str, commune_codes: Iterable[str] = (), *, province_code: str | None = None
) -> User:
    """Add an account (not committed); raises ValueError with a message for a bad request.

    ``province_code`` scopes an admin or analyst to one province (None: national); an
    officer's communes must all lie in it when it is given.
    """
    email = normalize_email(email)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_password(password, email=email)
    if find_user(email) is not None:
        raise ValueError(f"a user with e-mail {email} exists already")
    if province_code is not None and not province_known(province_code):
        raise ValueError(f"unknown province code {province_code!r} (load its communes with load-units first)")
    communes = communes_by_code(commune_codes)
    if role == "officer" and not communes:
        raise ValueError("an officer needs at least one commune (--commune CODE)")
    outside = sorted(c.code for c in communes if province_code is not None and c.province_code != province_code)
    if outside:
        raise ValueError(f"commune(s) {', '.join(outside)} are not in province {province_code}")
    if role == "officer" and province_code is None:
        province_code = _single_province(communes)
    user = User(
        email=email, role=role, password_hash=hash_password(password), communes=communes, province_code=province_code
    )
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Give the account a new password (checked); every session of it ends, and any delay."""
    check_password(password, email=user.email)
    user.password_hash = hash_password(password)
    user.failed_logins, user.login_delay_until = 0, None
    end_sessions(user)


def change_account(user: User, *, email: str, role: str, communes: list[Commune], active: bool) -> bool:
    """Apply an admin's change (not committed); returns True if the account's sessions ended.

    A change of role, communes or active flag ends every session of the account: a copied
    cookie must not keep the old access, nor come back to life after a re-activation.
    """
    before = (user.role, {c.code for c in user.communes}, user.active)
    access_changed = before != (role, {c.code for c in communes}, active)
    user.email, user.role, user.communes, user.active = email, role, communes, active
    if access_changed:
        end_sessions(user)
    return access_changed


def communes_by_code(codes: Iterable[str]) -> list[Commune]:
    """The communes with these official codes; raises ValueError naming unknown codes."""
    wanted = sorted(set(codes))
    if not wanted:
        return []
    found = db.session.execute(db.select(Commune).where(Commune.code.in_(wanted))).scalars().all()
    unknown = set(wanted) - {c.code for c in found}
    if unknown:
        raise ValueError(f"unknown commune code(s): {', '.join(sorted(unknown))}")
    return list(found)


# Log-in attempts: per-account progressive delay.


@dataclass(frozen=True)
class LoginAttempt:
    """The outcome of a log-in attempt: the account, or how many seconds it must wait."""

    user: User | None
    wait: int = 0


def login_delay(failures: int) -> int:
    """Seconds an account waits after ``failures`` failed log-ins in a row: none for the first
    few, then LOGIN_DELAY_SECONDS doubling per failure, capped at LOGIN_DELAY_MAX_SECONDS."""
    config = current_app.config
    over = failures - config["LOGIN_FREE_FAILURES"]
    if over < 0:
        return 0
    return min(config["LOGIN_DELAY_SECONDS"] * 2 ** min(over, 30), config["LOGIN_DELAY_MAX_SECONDS"])


def attempt_login(email: str, password: str, *, known_browser: Iterable[int] = ()) -> LoginAttempt:
    """Check a log-in (not committed). During an account's delay the password is not checked,
    unless this browser logged into the account before; a success resets the delay."""
    user = find_user(email)
    now = utcnow()
    if (
        user is not None
        and user.id not in set(known_browser)
        and user.login_delay_until is not None
        and user.login_delay_until > now
    ):
        return LoginAttempt(None, wait=max(1, math.ceil((user.login_delay_until - now).total_seconds())))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return LoginAttempt(None)
    if not verify_password(user.password_hash, password) or not user.active:
        _count_failure(user, now)
        return LoginAttempt(None)
    user.failed_logins, user.login_delay_until = 0, None
    return LoginAttempt(user)


def _count_failure(user: User, now) -> None:
    """One more failure in a row (counted in the database, so parallel guesses all count)."""
    failures = db.session.execute(
        sa.update(User)
        .where(User.id == user.id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    ).scalar_one()
    delay = login_delay(failures)
    if delay:
        user.login_delay_until = now + timedelta(seconds=delay)


def _known_browser_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="known-staff-browser")


def known_browser_accounts() -> list[int]:
    """The accounts this browser has logged into before (from its signed cookie)."""
    value = request.cookies.get(KNOWN_BROWSER_COOKIE)
    if not value:
        return []
    max_age = current_app.config["LOGIN_KNOWN_BROWSER_DAYS"] * 86400
    try:
        ids = _known_browser_serializer().loads(value, max_age=max_age)
    except BadSignature:
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def remember_browser(response: Response, user: User) -> None:
    """Mark this browser as one the account logs in from (a signed cookie for /login only)."""
    ids = [user.id] + [i for i in known_browser_accounts() if i != user.id]
    response.set_cookie(
        KNOWN_BROWSER_COOKIE,
        _known_browser_serializer().dumps(ids[:_KNOWN_BROWSER_MAX]),
        max_age=current_app.config["LOGIN_KNOWN_BROWSER_DAYS"] * 86400,
        path=url_for("auth.login_page"),
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )


# Sessions: each carries the account's session generation and its log-in time.


def start_session(user: User) -> None:
    """Log the user in with a fresh session (no fixation) stamped with its generation; only the
    chosen language is carried over."""
    lang = session.get("lang")
    session.clear()
    if lang is not None:
        session["lang"] = lang
    session.permanent = True
    login_user(user)
    session["epoch"] = user.session_epoch
    session["issued"] = int(time.time())


def end_sessions(user: User) -> None:
    """End every session of the account: cookies issued before now are refused."""
    user.session_epoch = (user.session_epoch or 0) + 1


def keep_this_session(user: User) -> None:
    """After ending the account's sessions, let the current request's session go on."""
    session["epoch"] = user.session_epoch


def session_is_current(user: User) -> bool:
    """Whether the request's session was issued under the account's generation, and not
    longer ago than SESSION_ABSOLUTE_LIFETIME (the idle limit is the cookie signature's)."""
    issued = session.get("issued")
    if session.get("epoch") != user.session_epoch or not isinstance(issued, int):
        return False
    return 0 <= time.time() - issued <= current_app.config["SESSION_ABSOLUTE_LIFETIME"]


@login.user_loader
def load_user(user_id: str) -> User | None:
    """The logged-in account, if it is active and the session is current; else log out.

    Flask-Login's remember-me cookie passes through here too, and carries no generation, so
    it is refused like any stale session.
    """
    user = db.session.get(User, int(user_id)) if user_id.isascii() and user_id.isdigit() else None
    if user is None or not user.active or not session_is_current(user):
        for key in _LOGIN_KEYS:
            session.pop(key, None)
        return None
    return user


# Access checks.


def role_required(*roles: str) -> Callable:
    """View decorator: 403 unless the logged-in user has one of ``roles``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def commune_or_404(code: str) -> Commune:
    """The commune if the current user may see it (an officer's own, a province's staff their
    province's); 404 for others, so no existence leaks."""
    codes = current_user.commune_codes
    if codes is not None and code not in codes:
        abort(404)
    commune = db.get_or_404(Commune, code)
    province = staff_province(current_user)
    if province is not None and commune.province_code != province:
        abort(404)
    return commune


def point_or_404(point_id: int) -> ServicePoint:
    """The service point if it belongs to one of the current user's communes, else 404."""
    point = db.get_or_404(ServicePoint, point_id)
    commune_or_404(point.commune_code)
    return point


# Provinces: an admin or analyst works for one province (``User.province_code``) or for the
# nation (None, which sees every province and chooses one on the pages).


def province_known(province_code: str) -> bool:
    """Whether any commune of this province is loaded."""
    return db.session.scalar(sa.select(sa.exists().where(Commune.province_code == province_code))) or False


def _single_province(communes: Iterable[Commune]) -> str | None:
    provinces = {c.province_code for c in communes}
    return provinces.pop() if len(provinces) == 1 else None


def staff_province(user: User) -> str | None:
    """The province a staff member is scoped to (two digits), or None for every province.

    Admins and analysts: their ``province_code`` (None: national). Officers: theirs, else
    the one province of their communes (they see only those communes either way).
    """
    if user.province_code is not None or user.role != "officer":
        return user.province_code
    return _single_province(user.communes)


def chosen_province(user: User, requested: str | None = None) -> str:
    """The province a page shows: a scoped user's own; a national user's choice (``requested``,
    e.g. ``?province=15``) or ``DEFAULT_PROVINCE``. 404 for another province than one's own
    or a province with no communes loaded."""
    own = staff_province(user)
    if own is not None:
        if requested not in (None, "", own):
            abort(404)
        return own
    if not requested:
        return current_app.config["DEFAULT_PROVINCE"]
    if not (requested.isascii() and requested.isdigit() and len(requested) == 2) or not province_known(requested):
        abort(404)
    return requested


def loaded_provinces() -> list[tuple[str, str]]:
    """(code, name) of every province with communes loaded, by code: a national user's choices."""
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(Commune.province_code, sa.func.min(Commune.province_name))
            .group_by(Commune.province_code)
            .order_by(Commune.province_code)
        )
    ]


def national_accounts() -> list[str]:
    """E-mails of active admins and analysts without a province: they see every province loaded."""
    return list(
        db.session.scalars(
            sa.select(User.email)
            .where(User.active, User.role.in_(("admin", "analyst")), User.province_code.is_(None))
            .order_by(User.email)
        )
    )


def in_province(province_code: str) -> sa.ColumnElement[bool]:
    """WHERE clause on ``user_account``: staff of a province. Admins and analysts by their
    province; officers by theirs or, when it is unset (accounts made before provinces), by
    any of their communes lying in it."""
    from .models import user_commune

    officer_there = sa.exists().where(
        user_commune.c.user_id == User.id,
        user_commune.c.commune_code == Commune.code,
        Commune.province_code == province_code,
    )
    return sa.or_(
        User.province_code == province_code,
        sa.and_(User.province_code.is_(None), User.role == "officer", officer_there),
    )


def user_or_404(user_id: int) -> User:
    """A staff account the current admin may manage: national admins any, others their province's."""
    user = db.get_or_404(User, user_id)
    province = staff_province(current_user)
    if province is not None and not db.session.scalar(
        sa.select(sa.exists().where(User.id == user.id, in_province(province)))
    ):
        abort(404)
    return user


def editor_required() -> None:
    """403 for read-only roles (analysts)."""
    if not current_user.can_edit:
        abort(403)


# Where a log-in leads.


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirect, no bad header).

    Browsers drop tabs and newlines from URLs, read ``\\`` as ``/`` and fold full-width
    characters, so ``/\\t/evil.example`` would become ``//evil.example``: such characters are
    refused, in the text as given and in its NFKC form, before resolving it like a browser.
    """
    if not target or len(target) > 2000:
        return None
    for text in (target, unicodedata.normalize("NFKC", target)):
        if "\\" in text or any(unicodedata.category(ch)[0] in "CZ" for ch in text):
            return None  # control, format, surrogate and space characters
        if not text.startswith("/") or text.startswith("//"):
            return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "//" in parts.path or {".", ".."} & set(parts.path.split("/")):
        return None
    here, there = urlsplit(request.host_url), urlsplit(urljoin(request.host_url, target))
    if (there.scheme, there.netloc) != (here.scheme, here.netloc):
        return None
    return target


# Views.


def _wait_text(seconds: int) -> str:
    return format_timedelta(timedelta(seconds=seconds), granularity="second", threshold=2.0)


def too_many_attempts(seconds: int) -> tuple[str, int, dict]:
    """The log-in page, saying how long to wait, as a 429 with Retry-After."""
    return (
        render_template("auth/login.html", form=LoginForm(), failed=False, wait=_wait_text(seconds)),
        429,
        {"Retry-After": str(seconds)},
    )


def _address_limited(limit: RequestLimit) -> Response:
    """Flask-Limiter's answer when an address has failed too often: the log-in 429 page."""
    seconds = max(1, math.ceil(limit.reset_at - time.time()))
    return current_app.make_response(too_many_attempts(seconds))


def _counts_against_address(response: Response) -> bool:
    """Only failed attempts count toward the per-address limit; a log-in redirects."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT"],
    methods=["POST"],
    deduct_when=_counts_against_address,
    on_breach=_address_limited,
)
def login_page():
    """Log a staff member in and send them to the officer pages (or where they were going)."""
    if current_user.is_authenticated:
        return redirect(url_for("officer.index"))
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        email = fold_email(form.email.data)
        attempt = attempt_login(email, form.password.data, known_browser=known_browser_accounts())
        if attempt.wait:
            audit.record("login_failed", target=email[:120], detail={"delayed": attempt.wait})
            db.session.commit()
            return too_many_attempts(attempt.wait)
        if attempt.user is not None:
            start_session(attempt.user)
            attempt.user.last_login_at = utcnow()
            audit.record("login", target=attempt.user.email)
            db.session.commit()
            response = redirect(safe_next(request.args.get("next")) or url_for("officer.index"))
            remember_browser(response, attempt.user)
            return response
        audit.record("login_failed", target=email[:120])
        db.session.commit()
        failed = True
    return render_template("auth/login.html", form=form, failed=failed), 401 if failed else 200


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """End the staff session (and every other session of the account) on a POST with its CSRF
    token; a GET only shows the log-out button."""
    if request.method == "GET":
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login_page"))
        return render_template("auth/logout.html", form=LogoutForm())
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        end_sessions(user)
        audit.record("logout", target=user.email)
        db.session.commit()
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang is not None:
        session["lang"] = lang  # the chosen language is not part of the staff session
    flash(_("You are logged out."))
    return redirect(url_for("auth.login_page"))


def _wants_json() -> bool:
    """The caller reads JSON (a page's script polling a status), not a page to show."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def unauthorized():
    """No staff session (never had one, or it expired): a script gets a 401 in JSON, which it
    answers by reloading the page; a browser is sent to the log-in page, and back after."""
    if _wants_json():
        message = _("Your session has ended. Please log in again.")
        return jsonify({"errors": [{"field": "", "message": message}], "login_url": url_for(login.login_view)}), 401
    flash(str(login.login_message), login.login_message_category)
    return redirect(login_url(login.login_view, next_url=request.url))


def init_app(app: Flask) -> None:
    """Bind Flask-Login and the limiter, and register the log-in pages."""
    login.init_app(app)
    login.login_view = "auth.login_page"
    login.unauthorized_handler(unauthorized)
    login.login_message = lazy_gettext("Please log in to see this page.")
    login.session_protection = "basic"
    limiter.init_app(app)
    app.register_blueprint(bp)
