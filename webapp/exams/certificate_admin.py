"""Certificates as an admin (or the operator at the command line) handles them: listing and
searching those of the org-unit scope, a detail view, and revocation.

A certificate belongs to the scope of the org unit its holder's account is in now (an admin of a
province reaches the certificates of the province's communes and wards). ``actor=None`` is the
operator, who is not scoped. Viewing another person's certificate and revoking one are audited
(``certificate.view``, ``certificate.revoke``); a revocation and its audit entry are committed in
one transaction, and a certificate is revoked once: a second revocation is a conflict, so the
first reason and date stand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from item_bank.models import Course
from webapp.exams.certificates import certificate_by_code
from webapp.exams.models import Certificate, CertificateStatus
from webapp.exceptions import ConflictError, InvalidInputError, PermissionDeniedError
from webapp.models import OrgUnit, User
from webapp.services.accounts import require_admin
from webapp.services.audit import record_audit
from webapp.services.org_units import is_org_unit_in_scope, visible_org_unit_ids

REASON_MAX_LENGTH = 1000


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate with its holder's account, as the admin pages and ``sathach certificates``
    show it. ``holder_name`` and ``org_unit_name`` are as printed on the certificate;
    ``holder_org_unit`` is the unit the account is in now (which decides the scope)."""

    code: str
    holder_user_id: int
    holder_username: str
    holder_name: str
    holder_org_unit: str
    org_unit_name: str | None
    course_id: str
    course_vi: str
    course_en: str | None
    issued_at: datetime
    status: str
    revoked_at: datetime | None
    revoked_reason: str | None

    @property
    def revoked(self) -> bool:
        return self.status == CertificateStatus.REVOKED.value


@dataclass(frozen=True)
class CertificatePage:
    """One page of a certificate listing and the number of matching certificates."""

    records: list[CertificateRecord]
    total: int


def _records() -> Select[tuple[Certificate, str, str, str, str | None]]:
    return (
        select(Certificate, User.username, OrgUnit.name, Course.title_vi, Course.title_en)
        .join(User, User.id == Certificate.user_id)
        .join(OrgUnit, OrgUnit.id == User.org_unit_id)
        .join(Course, Course.id == Certificate.course_id)
    )


def _record(
    certificate: Certificate, username: str, unit: str, course_vi: str, course_en: str | None
) -> CertificateRecord:
    return CertificateRecord(
        code=certificate.code,
        holder_user_id=certificate.user_id,
        holder_username=username,
        holder_name=certificate.holder_name,
        holder_org_unit=unit,
        org_unit_name=certificate.org_unit_name,
        course_id=certificate.course_id,
        course_vi=course_vi,
        course_en=course_en,
        issued_at=certificate.issued_at,
        status=certificate.status,
        revoked_at=certificate.revoked_at,
        revoked_reason=certificate.revoked_reason,
    )


def list_certificates(
    session: Session,
    actor: User | None,
    *,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> CertificatePage:
    """Certificates of holders in ``actor``'s scope, newest first.

    ``search`` matches a code however it is typed (case, spaces and dashes do not matter, a part
    of a code is enough), the holder's username, the account's full name or the name printed on
    the certificate.

    Raises
    ------
    PermissionDeniedError
        ``actor`` is not an admin.
    """
    require_admin(actor)
    conditions = []
    visible = visible_org_unit_ids(session, actor)
    if visible is not None:
        conditions.append(User.org_unit_id.in_(visible))
    search = (search or "").strip()
    if search:
        needle = search.lower()  # wildcards in it are literal (autoescape)
        matches = [
            User.username.contains(needle, autoescape=True),
            func.lower(User.full_name).contains(needle, autoescape=True),
            func.lower(Certificate.holder_name).contains(needle, autoescape=True),
        ]
        compact = "".join(character for character in search.upper() if character.isalnum())
        if compact:
            matches.append(func.replace(Certificate.code, "-", "").like(f"%{compact}%"))
        conditions.append(or_(*matches))
    total = session.scalar(
        select(func.count(Certificate.id))
        .join(User, User.id == Certificate.user_id)
        .where(*conditions)
    )
    rows = session.execute(
        _records()
        .where(*conditions)
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return CertificatePage(records=[_record(*row) for row in rows], total=int(total or 0))


def _certificate_in_scope(
    session: Session, actor: User | None, code: str, *, for_update: bool = False
) -> tuple[Certificate, User]:
    """The certificate with ``code`` (typed loosely) and its holder, if in ``actor``'s scope."""
    certificate = certificate_by_code(session, code, for_update=for_update)
    holder = session.get(User, certificate.user_id)
    assert holder is not None  # a foreign key
    if not is_org_unit_in_scope(session, actor, holder.org_unit_id):
        raise PermissionDeniedError(gettext("This certificate is outside your area."))
    return certificate, holder


def _record_of(session: Session, certificate: Certificate) -> CertificateRecord:
    row = session.execute(_records().where(Certificate.id == certificate.id)).one()
    return _record(*row)


def get_certificate_for_actor(
    session: Session,
    actor: User | None,
    code: str,
    *,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> CertificateRecord:
    """The certificate with ``code`` as seen by admin ``actor``; the view is audited (and
    committed) when ``actor`` is not the holder, as an account's detail view is.

    Raises
    ------
    PermissionDeniedError
        ``actor`` is not an admin, or the holder is outside its scope.
    NotFoundError
        No certificate has that code.
    """
    require_admin(actor)
    certificate, holder = _certificate_in_scope(session, actor, code)
    record = _record_of(session, certificate)
    if actor is not None and actor.id != holder.id:
        record_audit(
            session,
            actor,
            "certificate.view",
            target_user=holder,
            details={"code": certificate.code},
            ip_address=ip_address,
            now=now,
        )
        session.commit()
    return record


def _checked_reason(reason: str) -> str:
    """``reason`` trimmed, or :class:`InvalidInputError` saying what is wrong with it."""
    reason = reason.strip()
    if not reason:
        raise InvalidInputError(
            gettext("Reason: enter why the certificate is revoked."), code="reason_missing"
        )
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInputError(
            gettext(
                "Reason: at most %(max)d characters (%(length)d given).",
                max=REASON_MAX_LENGTH,
                length=len(reason),
            ),
            code="reason_too_long",
        )
    return reason


def revoke_certificate(
    session: Session,
    actor: User | None,
    code: str,
    *,
    reason: str,
    now: datetime,
    ip_address: str | None = None,
) -> CertificateRecord:
    """Revoke the certificate with ``code`` and commit, with its ``certificate.revoke`` audit
    entry; the public verification page and API then say it is revoked.

    Raises
    ------
    PermissionDeniedError
        ``actor`` is not an admin, or the holder is outside its scope.
    NotFoundError
        No certificate has that code.
    ConflictError
        The certificate is already revoked (code ``already_revoked``); nothing is written.
    InvalidInputError
        The reason is empty (code ``reason_missing``) or longer than
        :data:`REASON_MAX_LENGTH` (``reason_too_long``).
    """
    require_admin(actor)
    certificate, holder = _certificate_in_scope(session, actor, code, for_update=True)
    if certificate.status == CertificateStatus.REVOKED.value:
        raise ConflictError(
            gettext("Certificate %(code)s has already been revoked.", code=certificate.code),
            code="already_revoked",
        )
    reason = _checked_reason(reason)
    certificate.status = CertificateStatus.REVOKED.value
    certificate.revoked_at = now
    certificate.revoked_reason = reason
    record_audit(
        session,
        actor,
        "certificate.revoke",
        target_user=holder,
        details={"code": certificate.code, "reason": reason},
        ip_address=ip_address,
        now=now,
    )
    record = _record_of(session, certificate)
    session.commit()
    return record
