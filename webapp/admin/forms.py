"""Forms of the admin pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from webapp.exams.certificate_admin import REASON_MAX_LENGTH
from webapp.models import OrgUnitKind, Role

ROLE_LABELS = {
    Role.LEARNER: _l("Learner"),
    Role.PSYCHOMETRICIAN: _l("Psychometrician"),
    Role.MANAGER: _l("Manager"),
    Role.ADMIN: _l("Administrator"),
}
KIND_LABELS = {
    OrgUnitKind.PROVINCE: _l("Province"),
    OrgUnitKind.COMMUNE: _l("Commune"),
    OrgUnitKind.WARD: _l("Ward"),
}


class UserForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(_l("Enter a username.")), Length(max=64)],
        render_kw={"autocapitalize": "none", "spellcheck": "false"},
    )
    full_name = StringField(
        _l("Full name"), validators=[DataRequired(_l("Enter the full name.")), Length(max=200)]
    )
    email = EmailField(_l("E-mail (optional)"), validators=[Optional(), Length(max=254)])
    org_unit_id = SelectField(_l("Org unit"), coerce=int)
    role = SelectField(
        _l("Role"), choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]
    )
    password = PasswordField(
        _l("Initial password (optional)"),
        validators=[Optional(), Length(max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Create account"))


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[
            FileRequired(_l("Choose a CSV file.")),
            FileAllowed(["csv", "txt"], _l("The file must be a .csv file.")),
        ],
    )
    submit = SubmitField(_l("Import"))


class OrgUnitForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter a code.")), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")), Length(max=200)])
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice(kind.value, KIND_LABELS[kind])
            for kind in (OrgUnitKind.COMMUNE, OrgUnitKind.WARD)
        ],
    )
    parent_id = SelectField(_l("Province"), coerce=int)
    submit = SubmitField(_l("Create org unit"))


class ConfirmForm(FlaskForm):
    """A button that only carries the CSRF token (deactivate, reactivate)."""

    submit = SubmitField(_l("Confirm"))


def _stripped(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class RevokeCertificateForm(FlaskForm):
    """The reason of a revocation, which the public page does not show but the audit log keeps."""

    reason = TextAreaField(
        _l("Reason for the revocation"),
        validators=[
            DataRequired(_l("Reason: enter why the certificate is revoked.")),
            # Length fills in %(max)d and %(length)d.
            Length(
                max=REASON_MAX_LENGTH,
                message=_l("Reason: at most %(max)d characters (%(length)d given)."),
            ),
        ],
        filters=[_stripped],
        render_kw={"rows": 4, "maxlength": REASON_MAX_LENGTH},
    )
    submit = SubmitField(_l("Revoke this certificate"))
