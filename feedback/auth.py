"""Staff accounts: password hashing, log-in and log-out, roles and commune access checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from . import audit
from .extensions import db, limiter, login
from .models import ROLES, Commune, ServicePoint, User, utcnow

bp = Blueprint("auth", __name__)

PASSWORD_METHOD = "scrypt"
MIN_PASSWORD_LENGTH = 8
# Checked against when the e-mail is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method=PASSWORD_METHOD)


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(lazy_gettext("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=200)])


def hash_password(password: str) -> str:
    """A salted scrypt hash of the password."""
    return generate_password_hash(password, method=PASSWORD_METHOD)


def find_user(email: str) -> User | None:
    """The account with this e-mail address (case-insensitive), if any."""
    return db.session.execute(db.select(User).filter_by(email=email.strip().lower())).scalar_one_or_none()


def authenticate(email: str, password: str) -> User | None:
    """The active account whose password matches, or None; always spends one hash check."""
    user = find_user(email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def create_user(email: str, role: str, password: str, commune_codes: Iterable[str] = ()) -> User:
    """Add an account (not committed); raises ValueError with a message for a bad request."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValueError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if find_user(email) is not None:
        raise ValueError(f"a user with e-mail {email} exists already")
    communes = communes_by_code(commune_codes)
    if role == "officer" and not communes:
        raise ValueError("an officer needs at least one commune (--commune CODE)")
    user = User(email=email, role=role, password_hash=hash_password(password), communes=communes)
    db.session.add(user)
    db.session.flush()
    return user


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


@login.user_loader
def load_user(user_id: str) -> User | None:
    """The logged-in account; a deactivated account is logged out at its next request."""
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


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
    """The commune if the current user may see it; 404 for others, so no existence leaks."""
    codes = current_user.commune_codes
    if codes is not None and code not in codes:
        abort(404)
    return db.get_or_404(Commune, code)


def point_or_404(point_id: int) -> ServicePoint:
    """The service point if it belongs to one of the current user's communes, else 404."""
    point = db.get_or_404(ServicePoint, point_id)
    commune_or_404(point.commune_code)
    return point


def editor_required() -> None:
    """403 for read-only roles (analysts)."""
    if not current_user.can_edit:
        abort(403)


def _login_key() -> str:
    """Count attempts per e-mail address as well, so spreading guesses over addresses fails."""
    return "login:" + request.form.get("email", "").strip().lower()[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"], key_func=_login_key)
def login_page():
    """Log a staff member in and send them to the officer pages (or where they were going)."""
    if current_user.is_authenticated:
        return redirect(url_for("officer.index"))
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            session.clear()  # a fresh session on every log-in: no fixation
            session.permanent = True
            login_user(user)
            user.last_login_at = utcnow()
            audit.record("login", target=user.email)
            db.session.commit()
            target = request.args.get("next", "")
            # Only local paths: an open redirect would let a link send officers elsewhere.
            if not target.startswith("/") or target.startswith("//") or "\\" in target:
                target = url_for("officer.index")
            return redirect(target)
        audit.record("login_failed", target=form.email.data.strip().lower()[:120])
        db.session.commit()
        failed = True
    return render_template("auth/login.html", form=form, failed=failed), 401 if failed else 200


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """End the staff session."""
    logout_user()
    session.clear()
    flash(_("You are logged out."))
    return redirect(url_for("auth.login_page"))


def init_app(app: Flask) -> None:
    """Bind Flask-Login and the limiter, and register the log-in pages."""
    login.init_app(app)
    login.login_view = "auth.login_page"
    login.login_message = lazy_gettext("Please log in to see this page.")
    login.session_protection = "basic"
    limiter.init_app(app)
    app.register_blueprint(bp)
