"""Certificates: issuing one for a passed final exam, looking one up by its verification code,
and the PDF's data. Revocation, by an admin or the operator, is in
:mod:`webapp.exams.certificate_admin`.

Codes are 12 characters of an alphabet without look-alikes (no 0/O, 1/I/L), in groups of four,
from :mod:`secrets`: 60 bits, so a code cannot be guessed and a typo is unlikely to hit another.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session, aliased

from item_bank.db import attach_loaded
from item_bank.models import Course
from reports.certificates import CertificateData
from webapp.exams.models import Certificate, CertificateStatus, ExamSession
from webapp.exceptions import ConflictError, NotFoundError
from webapp.models import OrgUnit, User

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUPS = 3
CODE_GROUP_LENGTH = 4


def new_certificate_code() -> str:
    """A fresh random verification code such as ``K7Q2-9XHM-T4PD``."""
    groups = (
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
        for _ in range(CODE_GROUPS)
    )
    return "-".join(groups)


def normalize_code(code: str) -> str:
    """A code as typed (lower case, spaces, missing dashes) in its stored form."""
    compact = "".join(character for character in code.upper() if character.isalnum())
    if len(compact) != CODE_GROUPS * CODE_GROUP_LENGTH:
        return code.strip().upper()
    return "-".join(
        compact[start : start + CODE_GROUP_LENGTH]
        for start in range(0, len(compact), CODE_GROUP_LENGTH)
    )


def issue_certificate(session: Session, exam_session: ExamSession, *, now: datetime) -> Certificate:
    """Issue the certificate of a passed, finished final exam (idempotent per exam session)."""
    if not exam_session.passed:
        raise ConflictError(
            f"exam session {exam_session.id} was not passed: no certificate",
            code="not_passed",
        )
    return issue_certificate_for(
        session,
        session_id=exam_session.id,
        user_id=exam_session.user_id,
        course_id=exam_session.exam.course_id,
        scale_score=float(exam_session.scale_score or 0.0),
        now=now,
    )


def issue_certificate_for(
    session: Session,
    *,
    session_id: int,
    user_id: int,
    course_id: str,
    scale_score: float,
    now: datetime,
) -> Certificate:
    """Issue the certificate of the passed exam session ``session_id`` (idempotent), for a
    caller that holds the session's values rather than its row."""
    holder = session.execute(_HOLDER, {"user_id": user_id, "session_id": session_id}).one()
    if holder.existing_id is not None:
        existing = session.get(Certificate, holder.existing_id)
        assert existing is not None  # just read
        return existing
    values = {
        "code": new_certificate_code(),
        "user_id": user_id,
        "course_id": course_id,
        "session_id": session_id,
        "holder_name": holder.full_name,
        "org_unit_name": (
            f"{holder.unit}, {holder.province}" if holder.province is not None else holder.unit
        ),
        "scale_score": scale_score,
        "issued_at": now,
        "status": CertificateStatus.VALID.value,
        "revoked_at": None,
        "revoked_reason": None,
    }
    # a Core INSERT, and the row attached as loaded: the unit of work's add and flush cost
    # more than the statement itself on the request that finishes a passed exam
    certificate_id = session.execute(_INSERT_CERTIFICATE, values).scalar_one()
    return attach_loaded(session, Certificate, {"id": certificate_id, **values})


# The holder's name and org unit ("Xã A, Tỉnh B") and any certificate of the session already
# issued, in one statement: it runs in the transaction that finishes a passed exam.
_PROVINCE = aliased(OrgUnit)
_EXISTING = aliased(Certificate, name="existing")
_HOLDER = (
    select(
        User.full_name,
        OrgUnit.name.label("unit"),
        _PROVINCE.name.label("province"),
        _EXISTING.id.label("existing_id"),
    )
    .join(OrgUnit, OrgUnit.id == User.org_unit_id)
    .outerjoin(_PROVINCE, _PROVINCE.id == OrgUnit.parent_id)
    .outerjoin(_EXISTING, _EXISTING.session_id == bindparam("session_id"))
    .where(User.id == bindparam("user_id"))
)
_INSERT_CERTIFICATE = insert(Certificate.__table__).returning(Certificate.__table__.c.id)


@dataclass(frozen=True)
class CertificateView:
    """What the public verification shows of a certificate."""

    code: str
    holder: str
    org_unit: str | None
    course_id: str
    course_vi: str
    course_en: str | None
    issued_at: datetime
    status: str
    revoked_at: datetime | None
    scale_score: float

    @property
    def valid(self) -> bool:
        return self.status == CertificateStatus.VALID.value

    def to_json(self) -> dict[str, object]:
        """The public JSON of ``GET /api/v1/certificates/<code>``."""
        return {
            "valid": self.valid,
            "code": self.code,
            "holder": self.holder,
            "course": self.course_vi,
            "course_en": self.course_en,
            "course_id": self.course_id,
            "issued_at": self.issued_at.isoformat(),
            "status": self.status,
        }


def verify_certificate(session: Session, code: str) -> CertificateView:
    """The public view of the certificate with ``code``.

    Raises
    ------
    NotFoundError
        When no certificate has that code.
    """
    certificate = certificate_by_code(session, code)
    course = session.get(Course, certificate.course_id)
    assert course is not None
    return CertificateView(
        code=certificate.code,
        holder=certificate.holder_name,
        org_unit=certificate.org_unit_name,
        course_id=course.id,
        course_vi=course.title_vi,
        course_en=course.title_en,
        issued_at=certificate.issued_at,
        status=certificate.status,
        revoked_at=certificate.revoked_at,
        scale_score=certificate.scale_score,
    )


def certificate_by_code(session: Session, code: str, *, for_update: bool = False) -> Certificate:
    """The certificate with ``code``, typed loosely (case, spaces and dashes do not matter).

    ``for_update`` locks its row (PostgreSQL) and reloads it, so that of two admins revoking at
    once the second waits for the first and then sees the certificate revoked.

    Raises
    ------
    NotFoundError
        When no certificate has that code; the message is in the request's language.
    """
    statement = select(Certificate).where(Certificate.code == normalize_code(code))
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    certificate = session.scalar(statement)
    if certificate is None:
        raise NotFoundError(
            gettext("No certificate has the code %(code)s.", code=code.strip()),
            code="certificate_not_found",
        )
    return certificate


def certificate_pdf_data(view: CertificateView, verify_url: str) -> CertificateData:
    """The data of the certificate's PDF (:func:`reports.render_certificate_pdf`)."""
    return CertificateData(
        code=view.code,
        holder=view.holder,
        org_unit=view.org_unit or "",
        course_vi=view.course_vi,
        course_en=view.course_en or "",
        issued_at=view.issued_at,
        scale_score=view.scale_score,
        verify_url=verify_url,
    )
