"""Admin views: thin wrappers validating forms and calling :mod:`webapp.services` (and
:mod:`webapp.exams.certificate_admin` for certificates)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from webapp import clock
from webapp.admin import bp
from webapp.admin.forms import (
    KIND_LABELS,
    ROLE_LABELS,
    ConfirmForm,
    ImportForm,
    OrgUnitForm,
    RevokeCertificateForm,
    UserForm,
)
from webapp.exams import certificate_admin
from webapp.exceptions import ConflictError, CsvImportError, InvalidInputError
from webapp.extensions import db
from webapp.models import OrgUnitKind, Role, User
from webapp.security import client_address, role_required
from webapp.services import accounts, audit, csv_import, org_units

PAGE_SIZE = 50


def _actor() -> User:
    return current_user._get_current_object()


def _org_unit_choices() -> list[SelectChoice]:
    """The org units of the admin's scope, communes indented under their province."""
    return [
        SelectChoice(
            str(unit.id),
            f"{'— ' if unit.parent_id is not None else ''}{unit.name} ({unit.code})",
        )
        for unit in org_units.list_org_units(db.session, _actor())
    ]


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"role_labels": ROLE_LABELS, "kind_labels": KIND_LABELS}


@bp.route("/")
@role_required(Role.ADMIN)
def index() -> Response:
    return redirect(url_for("admin.users"))


@bp.route("/users")
@role_required(Role.ADMIN)
def users() -> str:
    org_unit_id = request.args.get("org_unit", type=int)
    search = request.args.get("q", "").strip() or None
    page = max(1, request.args.get("page", 1, type=int))
    result = accounts.list_users(
        db.session,
        _actor(),
        org_unit_id=org_unit_id,
        search=search,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render_template(
        "admin/users.html",
        result=result,
        page=page,
        n_pages=max(1, -(-result.total // PAGE_SIZE)),
        org_unit_choices=_org_unit_choices(),
        selected_org_unit=org_unit_id,
        search=search or "",
        confirm_form=ConfirmForm(),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def create_user() -> str | Response | tuple[str, int]:
    form = UserForm()
    form.org_unit_id.choices = _org_unit_choices()
    if form.validate_on_submit():
        config = current_app.config
        try:
            created = accounts.create_user(
                db.session,
                _actor(),
                username=form.username.data or "",
                full_name=form.full_name.data or "",
                email=form.email.data,
                org_unit_id=form.org_unit_id.data,
                role=form.role.data or "",
                password=form.password.data or None,
                hash_method=config["PASSWORD_HASH_METHOD"],
                min_password_length=int(config["PASSWORD_MIN_LENGTH"]),
                ip_address=client_address(),
                now=clock.now(),
            )
        except ConflictError as error:
            form.username.errors = [*form.username.errors, error.message]
        except InvalidInputError as error:
            form.form_errors.append(error.message)
        else:
            flash(gettext("Account %(username)s created.", username=created.username), "success")
            return render_template("admin/created.html", accounts=[created])
        return render_template("admin/user_form.html", form=form), 400
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form), status


@bp.route("/users/<int:user_id>")
@role_required(Role.ADMIN)
def user_detail(user_id: int) -> str:
    user = accounts.get_user_for_actor(
        db.session, _actor(), user_id, ip_address=client_address(), now=clock.now()
    )
    return render_template("admin/user_detail.html", user=user, confirm_form=ConfirmForm())


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@role_required(Role.ADMIN)
def deactivate_user(user_id: int) -> Response:
    return _set_active(user_id, active=False)


@bp.route("/users/<int:user_id>/activate", methods=["POST"])
@role_required(Role.ADMIN)
def activate_user(user_id: int) -> Response:
    return _set_active(user_id, active=True)


def _set_active(user_id: int, *, active: bool) -> Response:
    user = accounts.set_user_active(
        db.session, _actor(), user_id, active, ip_address=client_address(), now=clock.now()
    )
    if active:
        flash(gettext("Account %(username)s reactivated.", username=user.username), "success")
    else:
        flash(gettext("Account %(username)s deactivated.", username=user.username), "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/import", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def import_users() -> str | tuple[str, int]:
    form = ImportForm()
    if form.validate_on_submit():
        try:
            text = csv_import.decode_csv_upload(form.file.data.read())
            result = csv_import.import_users_csv(
                db.session,
                _actor(),
                text,
                ip_address=client_address(),
                now=clock.now(),
            )
        except CsvImportError as error:
            db.session.rollback()
            return render_template(
                "admin/import.html", form=form, import_error=error, columns=csv_import.CSV_COLUMNS
            ), 400
        flash(gettext("%(n)d accounts imported.", n=len(result.accounts)), "success")
        return render_template("admin/created.html", accounts=result.accounts)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/import.html", form=form, import_error=None, columns=csv_import.CSV_COLUMNS
    ), status


@bp.route("/org-units", endpoint="org_units")
@role_required(Role.ADMIN)
def org_units_list() -> str:
    return render_template(
        "admin/org_units.html", units=org_units.list_org_units(db.session, _actor())
    )


@bp.route("/org-units/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def create_org_unit() -> str | Response | tuple[str, int]:
    form = OrgUnitForm()
    form.parent_id.choices = [
        SelectChoice(str(unit.id), f"{unit.name} ({unit.code})")
        for unit in org_units.list_org_units(db.session, _actor())
        if unit.kind is OrgUnitKind.PROVINCE
    ]
    if form.validate_on_submit():
        try:
            unit = org_units.create_org_unit(
                db.session,
                _actor(),
                code=form.code.data or "",
                name=form.name.data or "",
                kind=form.kind.data or "",
                parent_id=form.parent_id.data,
            )
        except ConflictError as error:
            form.code.errors = [*form.code.errors, error.message]
        except InvalidInputError as error:
            form.form_errors.append(error.message)
        else:
            flash(gettext("Org unit %(code)s created.", code=unit.code), "success")
            return redirect(url_for("admin.org_units"))
        return render_template("admin/org_unit_form.html", form=form), 400
    status = 400 if request.method == "POST" else 200
    return render_template("admin/org_unit_form.html", form=form), status


@bp.route("/audit", endpoint="audit")
@role_required(Role.ADMIN)
def audit_log() -> str:
    return render_template(
        "admin/audit.html", entries=audit.list_audit_entries(db.session, _actor(), limit=200)
    )


@bp.route("/certificates", endpoint="certificates")
@role_required(Role.ADMIN)
def certificates_list() -> str:
    search = request.args.get("q", "").strip() or None
    page = max(1, request.args.get("page", 1, type=int))
    result = certificate_admin.list_certificates(
        db.session, _actor(), search=search, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render_template(
        "admin/certificates.html",
        result=result,
        page=page,
        n_pages=max(1, -(-result.total // PAGE_SIZE)),
        search=search or "",
    )


@bp.route("/certificates/<code>")
@role_required(Role.ADMIN)
def certificate_detail(code: str) -> str:
    return _render_certificate(code, RevokeCertificateForm())


def _render_certificate(code: str, form: RevokeCertificateForm) -> str:
    """The detail page; showing it is an audited view of the holder's data."""
    record = certificate_admin.get_certificate_for_actor(
        db.session, _actor(), code, ip_address=client_address(), now=clock.now()
    )
    return render_template("admin/certificate_detail.html", certificate=record, form=form)


@bp.route("/certificates/<code>/revoke", methods=["POST"])
@role_required(Role.ADMIN)
def revoke_certificate(code: str) -> Response | tuple[str, int]:
    form = RevokeCertificateForm()
    if form.validate_on_submit():
        try:
            record = certificate_admin.revoke_certificate(
                db.session,
                _actor(),
                code,
                reason=form.reason.data or "",
                now=clock.now(),
                ip_address=client_address(),
            )
        except InvalidInputError as error:
            form.reason.errors = [*form.reason.errors, error.message]
        else:
            flash(gettext("Certificate %(code)s revoked.", code=record.code), "success")
            return redirect(url_for("admin.certificate_detail", code=record.code))
    return _render_certificate(code, form), 400
