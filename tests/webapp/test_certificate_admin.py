"""The certificate use cases of admins and the operator: a listing scoped to the holder's org
unit, newest first, searched by loosely typed codes and names; a revocation that needs a reason,
happens once, stays in scope and is audited in its own transaction."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from webapp.exams.certificate_admin import (
    REASON_MAX_LENGTH,
    get_certificate_for_actor,
    list_certificates,
    revoke_certificate,
)
from webapp.exams.models import Certificate
from webapp.exceptions import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from webapp.models import AuditEntry, User


@pytest.fixture
def codes(issue_certificate_to, clock) -> dict[str, str]:
    """One certificate each for learner_x1 (HN-X1), learner_hp (HP-X1) and learner_x2
    (HN-X2), issued a day apart in that order."""
    issued = {}
    for username in ("learner_x1", "learner_hp", "learner_x2"):
        issued[username] = issue_certificate_to(username)
        clock.advance(days=1)
    return issued


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _audit_entries(session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _listed(session, actor, **options) -> list[str]:
    return [record.code for record in list_certificates(session, actor, **options).records]


def test_the_listing_is_scoped_to_the_holders_org_units_newest_first(session, codes) -> None:
    x1, hp, x2 = codes["learner_x1"], codes["learner_hp"], codes["learner_x2"]
    assert _listed(session, _user(session, "admin_hn")) == [x2, x1]
    assert _listed(session, _user(session, "admin_x1")) == [x1]
    assert _listed(session, _user(session, "admin_hp")) == [hp]
    assert _listed(session, None) == [x2, hp, x1]
    page = list_certificates(session, None, limit=2, offset=2)
    assert [record.code for record in page.records] == [x1] and page.total == 3
    with pytest.raises(PermissionDeniedError):
        list_certificates(session, _user(session, "manager_hn"))


def test_the_search_takes_codes_as_typed_usernames_and_names(session, codes) -> None:
    admin = _user(session, "admin_hn")
    x1, x2 = codes["learner_x1"], codes["learner_x2"]
    assert _listed(session, admin, search=f"  {x1.replace('-', ' ').lower()} ") == [x1]
    assert _listed(session, admin, search=x2[3:8].replace("-", "").lower()) == [x2]
    assert _listed(session, admin, search="learner_x2") == [x2]
    assert _listed(session, admin, search="NGƯỜI LEARNER_X1") == [x1]  # name printed on it
    # another province's certificate is not found by its exact code
    assert _listed(session, admin, search=codes["learner_hp"]) == []
    assert _listed(session, admin, search="%") == []  # LIKE wildcards are literal


def test_a_revocation_is_stored_and_audited_in_one_commit(session, codes, clock) -> None:
    admin = _user(session, "admin_hn")
    holder = _user(session, "learner_x1")
    record = revoke_certificate(
        session,
        admin,
        codes["learner_x1"].lower(),
        reason="  Thi hộ: gian lận  ",
        now=clock(),
        ip_address="10.1.2.3",
    )
    assert record.revoked and record.revoked_reason == "Thi hộ: gian lận"
    session.rollback()  # nothing is left pending: the service committed
    stored = session.scalar(select(Certificate).where(Certificate.code == codes["learner_x1"]))
    assert (stored.status, stored.revoked_at, stored.revoked_reason) == (
        "revoked",
        clock(),
        "Thi hộ: gian lận",
    )
    [entry] = _audit_entries(session, "certificate.revoke")
    assert (entry.actor_id, entry.target_user_id, entry.org_unit_id) == (
        admin.id,
        holder.id,
        holder.org_unit_id,
    )
    assert json.loads(entry.details) == {"code": codes["learner_x1"], "reason": "Thi hộ: gian lận"}
    assert (entry.ip_address, entry.occurred_at) == ("10.1.2.3", clock())


def test_a_second_revocation_is_a_conflict_and_writes_nothing(session, codes, clock) -> None:
    code = codes["learner_x2"]
    revoke_certificate(session, None, code, reason="cấp nhầm", now=clock())
    clock.advance(hours=1)
    with pytest.raises(ConflictError) as raised:
        revoke_certificate(session, _user(session, "admin_hn"), code, reason="lần hai", now=clock())
    assert raised.value.code == "already_revoked" and raised.value.status_code == 409
    session.rollback()
    stored = session.scalar(select(Certificate).where(Certificate.code == code))
    assert stored.revoked_reason == "cấp nhầm"
    assert len(_audit_entries(session, "certificate.revoke")) == 1


@pytest.mark.parametrize(
    ("reason", "error_code"),
    [("", "reason_missing"), (" \n\t", "reason_missing"), ("x" * 1001, "reason_too_long")],
)
def test_a_revocation_needs_a_reason_of_reasonable_length(
    session, codes, clock, reason, error_code
) -> None:
    assert REASON_MAX_LENGTH == 1000
    with pytest.raises(InvalidInputError) as raised:
        revoke_certificate(session, None, codes["learner_x1"], reason=reason, now=clock())
    assert raised.value.code == error_code
    assert raised.value.message.startswith("Lý do thu hồi: ")  # names the field, in Vietnamese
    session.rollback()
    assert session.scalar(select(func.count()).where(Certificate.status == "revoked")) == 0
    assert _audit_entries(session, "certificate.revoke") == []


def test_out_of_scope_unknown_and_non_admin_revocations_change_nothing(
    session, codes, clock
) -> None:
    code = codes["learner_x1"]
    for username in ("admin_hp", "admin_x1"):
        actor = _user(session, username)
        target = code if username == "admin_hp" else codes["learner_x2"]
        with pytest.raises(PermissionDeniedError):
            revoke_certificate(session, actor, target, reason="gian lận", now=clock())
        with pytest.raises(PermissionDeniedError):
            get_certificate_for_actor(session, actor, target)
    with pytest.raises(PermissionDeniedError):
        revoke_certificate(session, _user(session, "manager_hn"), code, reason="x", now=clock())
    with pytest.raises(NotFoundError) as raised:
        revoke_certificate(session, None, "AAAA-BBBB-CCCC", reason="x", now=clock())
    assert raised.value.code == "certificate_not_found" and "AAAA-BBBB-CCCC" in raised.value.message
    session.rollback()
    assert session.scalar(select(func.count()).where(Certificate.status == "revoked")) == 0
    assert session.scalar(select(func.count(AuditEntry.id))) == 0


def test_an_admins_view_is_audited_and_the_operators_is_not(session, codes) -> None:
    admin = _user(session, "admin_hn")
    record = get_certificate_for_actor(session, admin, codes["learner_x2"], ip_address="10.0.0.9")
    assert (record.holder_username, record.holder_org_unit) == ("learner_x2", "Phường Hai")
    assert record.org_unit_name == "Phường Hai, Hà Nội" and not record.revoked
    get_certificate_for_actor(session, None, codes["learner_x2"])
    [entry] = _audit_entries(session, "certificate.view")
    assert (entry.actor_id, entry.target_user_id, entry.ip_address) == (
        admin.id,
        _user(session, "learner_x2").id,
        "10.0.0.9",
    )
    assert json.loads(entry.details) == {"code": codes["learner_x2"]}
