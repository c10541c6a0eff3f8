"""Admin pages for registered API clients: issue a token (shown once) and revoke one."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..api_clients import NAME_LENGTH, create_api_client, find_api_client, list_api_clients, revoke_api_client
from ..auth import chosen_province, role_required, staff_province
from ..extensions import db
from ..forms import clean_line, no_control_characters
from ..models import ApiClient
from ..places import province_communes
from . import bp
from .forms import ActionForm


class ApiClientForm(FlaskForm):
    """A new API client: a name for the device or tool, and the communes it may send for."""

    name = StringField(
        lazy_gettext("Name of the device or tool"),
        filters=[clean_line],
        validators=[DataRequired(), Length(max=NAME_LENGTH), no_control_characters],
    )
    communes = SelectMultipleField(lazy_gettext("Communes (none: every commune of the province)"), choices=[])


def _client_form() -> ApiClientForm:
    form = ApiClientForm()
    province = chosen_province(current_user, request.args.get("province"))
    form.communes.choices = [SelectChoice(c.code, f"{c.name} ({c.code})") for c in province_communes(province)]
    return form


def _client_provinces(client: ApiClient) -> set[str]:
    """The provinces a client may send for: its communes', or DEFAULT_PROVINCE's when it has none."""
    return {c.province_code for c in client.communes} or {current_app.config["DEFAULT_PROVINCE"]}


def _visible(client: ApiClient) -> bool:
    """National admins see every client; a province's admins those that send for their province."""
    own = staff_province(current_user)
    return own is None or own in _client_provinces(client)


@bp.route("/api-clients", methods=["GET", "POST"])
@role_required("admin")
def api_clients():
    """List API clients and issue a new one; its token is on the answer to the POST only."""
    form = _client_form()
    token = None
    own = staff_province(current_user)
    if form.validate_on_submit():
        if own is not None and not form.communes.data and own != current_app.config["DEFAULT_PROVINCE"]:
            # "No commune" means every commune of DEFAULT_PROVINCE, which is not this admin's.
            flash(_("Choose the communes this client may send for."), "error")
        elif find_api_client(form.name.data) is not None:
            flash(_("An API client with this name exists already (names stay taken after revocation)."), "error")
        else:
            client, token = create_api_client(form.name.data, form.communes.data, created_by=current_user)
            db.session.commit()
            flash(_("API client %(name)s created.", name=client.name))
            form = _client_form()
            form.name.data, form.communes.data = "", []
    return render_template(
        "officer/api_clients.html",
        form=form,
        token=token,
        clients=[c for c in list_api_clients() if _visible(c)],
        revoke_form=ActionForm(),
    )


@bp.post("/api-clients/<int:client_id>/revoke")
@role_required("admin")
def revoke_client(client_id: int):
    """End a client's token for good (admins)."""
    client = db.get_or_404(ApiClient, client_id)
    if not _visible(client):
        abort(404)
    if ActionForm().validate_on_submit() and client.revoked_at is None:
        revoke_api_client(client.name, revoked_by=current_user)
        db.session.commit()
        flash(_("API client %(name)s revoked: its token no longer works.", name=client.name))
    return redirect(url_for(".api_clients"), code=303)
