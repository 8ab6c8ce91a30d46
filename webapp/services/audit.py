"""The audit log: account administration and every access to another person's data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import AuditEntry, User, utcnow
from webapp.services.org_units import visible_org_unit_ids


def record_audit(
    session: Session,
    actor: User | None,
    action: str,
    *,
    target_user: User | None = None,
    org_unit_id: int | None = None,
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session`` (flushed, committed with the caller's transaction)."""
    entry = AuditEntry(
        occurred_at=now or utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        target_user_id=target_user.id if target_user is not None else None,
        org_unit_id=(
            org_unit_id
            if org_unit_id is not None
            else (target_user.org_unit_id if target_user is not None else None)
        ),
        details=json.dumps(details, ensure_ascii=False, sort_keys=True) if details else None,
        ip_address=ip_address,
    )
    session.add(entry)
    session.flush()
    return entry


def record_personal_data_access(
    session: Session,
    actor: User,
    target_user: User,
    what: str,
    *,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Log that ``actor`` viewed ``what`` (e.g. ``"results"``) of ``target_user``, and commit.

    Call it from every manager or admin view that shows another person's data.
    """
    entry = record_audit(
        session,
        actor,
        "personal_data.view",
        target_user=target_user,
        details={"what": what},
        ip_address=ip_address,
        now=now,
    )
    session.commit()
    return entry


def list_audit_entries(
    session: Session, actor: User | None, *, limit: int = 100
) -> list[AuditEntry]:
    """The newest audit entries about org units in ``actor``'s scope."""
    statement = select(AuditEntry).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
    visible = visible_org_unit_ids(session, actor)
    if visible is not None:
        statement = statement.where(AuditEntry.org_unit_id.in_(visible))
    return list(session.scalars(statement.limit(limit)))
