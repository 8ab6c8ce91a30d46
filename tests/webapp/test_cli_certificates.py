"""``sathach certificates revoke / show``: the operator revokes once, audited, with a reason;
unknown codes and missing reasons fail with a message naming them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from webapp.cli import main
from webapp.exams.models import Certificate
from webapp.extensions import db
from webapp.models import AuditEntry


@pytest.fixture
def invoke(runner, database):
    """Run ``sathach certificates ...`` against the test's database."""

    def run(*args):
        return runner.invoke(main, ["certificates", *args, "--url", database.url])

    return run


def _revocations(app) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(select(AuditEntry).where(AuditEntry.action == "certificate.revoke"))
        )


def test_the_operator_revokes_a_certificate_once(app, invoke, issue_certificate_to, world):
    code = issue_certificate_to("learner_hp")
    typed = code.replace("-", "").lower()
    result = invoke("revoke", typed, "--reason", "cấp nhầm người")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"Đã thu hồi giấy chứng nhận {code} của Người learner_hp / "
        f"certificate {code} of Người learner_hp revoked: cấp nhầm người"
    )
    with app.app_context():
        stored = db.session.scalar(select(Certificate).where(Certificate.code == code))
        assert (stored.status, stored.revoked_reason) == ("revoked", "cấp nhầm người")
    [entry] = _revocations(app)
    assert (entry.actor_id, entry.target_user_id) == (None, world.users["learner_hp"])
    assert json.loads(entry.details) == {"code": code, "reason": "cấp nhầm người"}
    shown = invoke("show", code)
    assert shown.exit_code == 0, shown.output
    assert "revoked" in shown.output and "cấp nhầm người" in shown.output
    again = invoke("revoke", code, "--reason", "lần hai")
    assert again.exit_code == 1
    assert f"certificate {code} was already revoked" in again.output
    assert len(_revocations(app)) == 1


def test_an_unknown_code_or_a_missing_reason_fails_clearly(app, invoke, issue_certificate_to):
    code = issue_certificate_to("learner_x1")
    unknown = invoke("revoke", "ZZZZ-ZZZZ-ZZZZ", "--reason", "gian lận")
    assert unknown.exit_code == 1
    assert "No certificate has the code 'ZZZZ-ZZZZ-ZZZZ'" in unknown.output
    assert invoke("show", "ZZZZ-ZZZZ-ZZZZ").exit_code == 1
    blank = invoke("revoke", code, "--reason", "  ")
    assert blank.exit_code == 2
    assert "--reason" in blank.output and "a reason is required" in blank.output
    assert invoke("revoke", code).exit_code == 2  # click: Missing option '--reason'
    assert _revocations(app) == []
    shown = invoke("show", code)
    assert shown.exit_code == 0 and "valid" in shown.output
