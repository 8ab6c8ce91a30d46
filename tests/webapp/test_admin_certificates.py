"""The admin's certificate pages: search in the scope, the detail page (an audited view) and its
revoke form (CSRF, a required reason, once only); the public page and API follow; other roles
and other provinces' admins get 403 and change nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from webapp.exams.models import Certificate
from webapp.extensions import db
from webapp.models import AuditEntry


@pytest.fixture
def code(issue_certificate_to) -> str:
    """A certificate of learner_x1 (commune HN-X1 of province HN)."""
    return issue_certificate_to("learner_x1")


def _stored(app, code: str) -> Certificate:
    with app.app_context():
        return db.session.scalar(select(Certificate).where(Certificate.code == code))


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _revoke(client, csrf, code: str, reason: str):
    token = csrf(client, f"/admin/certificates/{code}")
    return client.post(
        f"/admin/certificates/{code}/revoke", data={"csrf_token": token, "reason": reason}
    )


def test_an_admin_finds_and_revokes_a_certificate_and_the_public_sees_it(
    app, client, auth, world, csrf, code, clock
) -> None:
    clock.advance(days=3)  # issued on 02/03, revoked on 05/03
    auth.login("admin_hn")
    listing = client.get("/admin/certificates", query_string={"q": code.lower()})
    html = listing.get_data(as_text=True)
    assert listing.status_code == 200
    for expected in ("Người learner_x1", "Xã Một, Hà Nội", "02/03/2026", "Hợp lệ"):
        assert expected in html, expected
    assert f'href="/admin/certificates/{code}"' in html
    detail = client.get(f"/admin/certificates/{code}").get_data(as_text=True)
    assert "Việc thu hồi không thể hoàn tác" in detail
    assert "Thu hồi giấy chứng nhận này" in detail
    response = _revoke(client, csrf, code, "  Thi hộ, phát hiện qua camera.  ")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/certificates/{code}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Đã thu hồi giấy chứng nhận {code}." in page
    assert "Thi hộ, phát hiện qua camera." in page and "05/03/2026 15:00" in page
    assert 'action="/admin/certificates/' not in page  # no second revoke form
    public = client.get(f"/verify/{code}").get_data(as_text=True)
    assert "Giấy chứng nhận này đã bị thu hồi." in public
    assert "camera" not in public  # the reason is for the admins, not the public
    body = client.get(f"/api/v1/certificates/{code}").get_json()
    assert (body["valid"], body["status"]) == (False, "revoked")
    [entry] = _audit(app, "certificate.revoke")
    assert (entry.actor_id, entry.target_user_id, entry.ip_address) == (
        world.users["admin_hn"],
        world.users["learner_x1"],
        "127.0.0.1",
    )
    assert json.loads(entry.details) == {"code": code, "reason": "Thi hộ, phát hiện qua camera."}
    assert "certificate.revoke" in client.get("/admin/audit").get_data(as_text=True)


def test_the_pages_are_vietnamese_by_default_and_english_on_request(client, auth, code) -> None:
    auth.login("admin_hn")
    html = client.get("/admin/certificates").get_data(as_text=True)
    assert "Tìm theo mã, họ tên hoặc tên đăng nhập" in html and "1 giấy chứng nhận" in html
    english = client.get(f"/admin/certificates/{code}?lang=en").get_data(as_text=True)
    assert "This cannot be undone" in english and "Reason for the revocation" in english


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_revocation_without_a_reason_is_refused_on_the_form(
    app, client, auth, csrf, code, reason
) -> None:
    auth.login("admin_hn")
    response = _revoke(client, csrf, code, reason)
    assert response.status_code == 400
    assert "Lý do thu hồi: hãy cho biết vì sao giấy chứng nhận bị thu hồi." in response.get_data(
        as_text=True
    )
    assert _stored(app, code).status == "valid"
    assert _audit(app, "certificate.revoke") == []


def test_a_second_revocation_is_409_and_writes_no_second_entry(
    app, client, auth, csrf, code
) -> None:
    auth.login("admin_hn")
    assert _revoke(client, csrf, code, "cấp nhầm").status_code == 302
    token = csrf(client, "/admin/certificates")  # the detail page has no form any more
    again = client.post(
        f"/admin/certificates/{code}/revoke", data={"csrf_token": token, "reason": "lần hai"}
    )
    assert again.status_code == 409
    assert f"Giấy chứng nhận {code} đã bị thu hồi trước đó." in again.get_data(as_text=True)
    assert _stored(app, code).revoked_reason == "cấp nhầm"
    assert len(_audit(app, "certificate.revoke")) == 1


def test_an_admin_of_another_province_can_neither_see_nor_revoke_it(
    app, client, auth, csrf, code
) -> None:
    auth.login("admin_hp")
    listing = client.get("/admin/certificates", query_string={"q": code})
    assert f'href="/admin/certificates/{code}"' not in listing.get_data(as_text=True)
    assert "Không có giấy chứng nhận nào phù hợp." in listing.get_data(as_text=True)
    detail = client.get(f"/admin/certificates/{code}")
    assert detail.status_code == 403
    assert "Giấy chứng nhận này nằm ngoài phạm vi của bạn." in detail.get_data(as_text=True)
    token = csrf(client, "/admin/certificates")
    for reason in ("gian lận", ""):
        response = client.post(
            f"/admin/certificates/{code}/revoke", data={"csrf_token": token, "reason": reason}
        )
        assert response.status_code == 403
    assert _stored(app, code).status == "valid"
    with app.app_context():
        assert db.session.scalars(select(AuditEntry.action)).all() == []


def test_an_unknown_code_is_404(client, auth, world) -> None:
    auth.login("admin_hn")
    response = client.get("/admin/certificates/AAAA-BBBB-CCCC")
    assert response.status_code == 404
    assert "Không có giấy chứng nhận nào mang mã AAAA-BBBB-CCCC." in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["learner_x1", "manager_hn", "psy"])
def test_other_roles_get_403_and_change_nothing(app, client, auth, csrf, code, username) -> None:
    auth.login(username)
    token = csrf(client, "/")
    assert client.get("/admin/certificates").status_code == 403
    assert client.get(f"/admin/certificates/{code}").status_code == 403
    response = client.post(
        f"/admin/certificates/{code}/revoke", data={"csrf_token": token, "reason": "gian lận"}
    )
    assert response.status_code == 403
    assert _stored(app, code).status == "valid"


def test_a_revocation_without_the_csrf_token_is_refused(app, client, auth, code) -> None:
    auth.login("admin_hn")
    response = client.post(f"/admin/certificates/{code}/revoke", data={"reason": "gian lận"})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)
    assert _stored(app, code).status == "valid"
    assert _audit(app, "certificate.revoke") == []


def test_viewing_a_certificate_is_audited(app, client, auth, world, code) -> None:
    auth.login("admin_x1")
    assert client.get(f"/admin/certificates/{code.lower()}").status_code == 200
    [entry] = _audit(app, "certificate.view")
    assert (entry.actor_id, entry.target_user_id, entry.ip_address) == (
        world.users["admin_x1"],
        world.users["learner_x1"],
        "127.0.0.1",
    )
    assert json.loads(entry.details) == {"code": code}
