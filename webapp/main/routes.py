"""Home page and ``/healthz``."""

from __future__ import annotations

from flask import current_app, jsonify, redirect, render_template, url_for
from flask_babel import lazy_gettext
from flask_login import current_user
from sqlalchemy import text
from werkzeug.wrappers import Response

from webapp.extensions import db
from webapp.main import bp
from webapp.models import Role

# Starting points per role: (endpoint, label). An endpoint that is not registered (a blueprint
# of the exam half not yet there) is left out of the page.
HOME_LINKS: dict[Role, list[tuple[str, object]]] = {
    Role.LEARNER: [("learner.dashboard", lazy_gettext("My courses and exams"))],
    Role.PSYCHOMETRICIAN: [("psychometrics.index", lazy_gettext("Item bank and calibration"))],
    Role.MANAGER: [("manager.index", lazy_gettext("Reports of my area"))],
    Role.ADMIN: [
        ("admin.users", lazy_gettext("Accounts")),
        ("admin.org_units", lazy_gettext("Org units")),
        ("admin.audit", lazy_gettext("Audit log")),
    ],
}


@bp.route("/")
def index() -> str | Response:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    endpoints = current_app.view_functions
    links = [
        (url_for(endpoint), label)
        for endpoint, label in HOME_LINKS.get(current_user.role, [])
        if endpoint in endpoints
    ]
    links.append((url_for("auth.change_password"), lazy_gettext("Change password")))
    return render_template("main/index.html", links=links)


@bp.route("/healthz")
def healthz() -> Response:
    """200 when the database answers; used by load balancers and the serve test."""
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
