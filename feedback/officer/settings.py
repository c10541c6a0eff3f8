"""Admin page for a province's public results: the public commune pages and the public ranking, on or off."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField

from ..auth import chosen_province, loaded_provinces, role_required, staff_province
from ..extensions import db
from ..results import change_public_settings, public_settings
from . import bp


class PublicSettingsForm(FlaskForm):
    """What the province shows the public."""

    public_results = BooleanField(lazy_gettext("Public results page of every commune (no log-in)"))
    public_ranking = BooleanField(lazy_gettext("Show each commune's rank among the province's communes"))


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def public_settings_page():
    """Switch the province's public results pages and public ranking on or off (admins of the
    province; a national admin picks the province with ``?province=``)."""
    province = chosen_province(current_user, request.args.get("province"))
    national = staff_province(current_user) is None
    current = public_settings(province)
    form = PublicSettingsForm(data={"public_results": current.public_results, "public_ranking": current.public_ranking})
    if form.validate_on_submit():
        if change_public_settings(
            province, public_results=form.public_results.data, public_ranking=form.public_ranking.data
        ):
            db.session.commit()
            flash(_("Settings saved."))
        else:
            flash(_("Nothing changed."))
        return redirect(url_for(".public_settings_page", **({"province": province} if national else {})), code=303)
    provinces = loaded_provinces() if national else []
    return render_template("officer/settings.html", form=form, province=province, provinces=provinces)
