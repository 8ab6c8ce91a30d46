"""The public verification page and API: holder, course, date and status without a login; a
revoked certificate says so; unknown codes are 404; typed codes are normalised."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from webapp.exams.certificate_admin import revoke_certificate
from webapp.exams.certificates import new_certificate_code, normalize_code
from webapp.extensions import db
from webapp.models import User


@pytest.fixture
def certificate_code(app: Flask, world: Any, issue_certificate_to: Any) -> str:
    """A certificate of learner_x1, named with Vietnamese diacritics, for a passed final exam."""
    with app.app_context():
        db.session.get(User, world.users["learner_x1"]).full_name = "Nguyễn Thị Hương"
        db.session.commit()
    return issue_certificate_to("learner_x1")


def test_anyone_sees_holder_course_date_and_status(client, certificate_code) -> None:
    page = client.get(f"/verify/{certificate_code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for expected in (
        "Giấy chứng nhận hợp lệ",
        "Nguyễn Thị Hương",
        "Xã Một, Hà Nội",
        "Bồi dưỡng kiến thức, kỹ năng số cho cán bộ, công chức cấp xã",
        "02/03/2026",
        certificate_code,
    ):
        assert expected in html, expected
    assert "600" not in html  # the score is the holder's business, not the public's
    body = client.get(f"/api/v1/certificates/{certificate_code}").get_json()
    assert body["valid"] is True and body["holder"] == "Nguyễn Thị Hương"
    assert body["issued_at"].startswith("2026-03-02T08:00")


def test_a_revoked_certificate_says_so(app, client, certificate_code, clock) -> None:
    with app.app_context():
        revoke_certificate(db.session, None, certificate_code, reason="gian lận", now=clock())
    html = client.get(f"/verify/{certificate_code}").get_data(as_text=True)
    assert "Giấy chứng nhận này đã bị thu hồi." in html and "hợp lệ" not in html.split("<h1>")[1]
    body = client.get(f"/api/v1/certificates/{certificate_code}").get_json()
    assert body["valid"] is False and body["status"] == "revoked"


def test_unknown_codes_are_not_found_and_typed_codes_are_normalised(
    client, certificate_code
) -> None:
    assert client.get("/verify/AAAA-BBBB-CCCC").status_code == 404
    typed = certificate_code.replace("-", " ").lower()
    redirect = client.get("/verify/", query_string={"code": typed})
    assert redirect.status_code == 302
    assert redirect.headers["Location"].endswith(f"/verify/{certificate_code}")
    assert normalize_code(typed) == certificate_code
    assert client.get("/verify/").status_code == 200


def test_the_api_says_in_the_readers_language_that_no_certificate_has_the_code(client) -> None:
    reply = client.get("/api/v1/certificates/aaaa bbbb cccc")
    assert reply.status_code == 404
    body = reply.get_json()
    assert body["error"] == "certificate_not_found"
    assert body["message"] == "Không có giấy chứng nhận nào mang mã aaaa bbbb cccc."
    english = client.get(
        "/api/v1/certificates/AAAA-BBBB-CCCC", headers={"Accept-Language": "en"}
    ).get_json()
    assert english["message"] == "No certificate has the code AAAA-BBBB-CCCC."


def test_codes_are_random_and_unambiguous() -> None:
    codes = {new_certificate_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert not set("".join(codes)) & set("01ILO")
