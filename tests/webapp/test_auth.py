"""Login, logout, lockout, session expiry, password change and safe redirects."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import LoginSession, RateLimitEvent, User

PASSWORD = "correct-horse-1"


def test_login_page_is_vietnamese_with_labelled_fields(client, world):
    html = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Đăng nhập" in html
    assert '<label for="username">Tên đăng nhập</label>' in html
    assert '<label for="password">Mật khẩu</label>' in html


def test_login_then_home_then_logout(client, auth, world):
    response = auth.login("learner_x1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Người learner_x1" in home
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/").headers["Location"].startswith("/auth/login")


def test_logout_ends_the_server_side_session_even_for_a_copied_cookie(app, client, auth, world):
    auth.login("learner_x1")
    stolen = client.get_cookie("sathach_session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("sathach_session", stolen)
    assert thief.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_clear_message(client, auth, world):
    response = auth.login("learner_x1", "wrong-password")
    assert response.status_code == 200
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_username_gets_the_same_message(auth, world):
    response = auth.login("nobody", "whatever-password")
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.get_data(as_text=True)


def test_five_failures_lock_the_username_even_for_the_right_password(client, auth, world, clock):
    for attempt in range(4):
        response = auth.login("learner_x1", f"wrong-{attempt}")
        assert response.status_code == 200
    response = auth.login("learner_x1", "wrong-4")
    assert response.status_code == 429
    text = response.get_data(as_text=True)
    assert "Đăng nhập sai quá nhiều lần" in text
    assert "15 phút" in text
    response = auth.login("learner_x1", PASSWORD)
    assert response.status_code == 429
    clock.advance(minutes=15, seconds=1)
    assert auth.login("learner_x1", PASSWORD).status_code == 302


def test_lockout_is_shared_by_two_app_instances_on_one_database(make_app, world, login_with):
    worker_a, worker_b = make_app(), make_app()
    for attempt in range(5):
        app = worker_a if attempt % 2 == 0 else worker_b
        login_with(app.test_client(), "learner_x1", f"wrong-{attempt}")
    for app in (worker_a, worker_b):
        assert login_with(app.test_client(), "learner_x1", PASSWORD).status_code == 429


def test_lockout_per_address_covers_many_usernames(make_app, world, login_with):
    app = make_app(LOGIN_MAX_FAILURES_PER_IP=3)
    for username in ("learner_x1", "learner_x2", "learner_hp"):
        login_with(app.test_client(), username, "wrong-password")
    assert login_with(app.test_client(), "admin_hn", PASSWORD).status_code == 429
    other_address = app.test_client()
    other_address.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert login_with(other_address, "admin_hn", PASSWORD).status_code == 302


def test_successful_login_clears_the_username_failures(app, auth, world):
    for attempt in range(4):
        auth.login("learner_x1", f"wrong-{attempt}")
    assert auth.login("learner_x1", PASSWORD).status_code == 302
    with app.app_context():
        keys = set(db.session.scalars(select(RateLimitEvent.key)))
    assert "user:learner_x1" not in keys
    assert "ip:127.0.0.1" in keys


def test_login_without_csrf_token_is_rejected(client, world):
    response = client.post("/auth/login", data={"username": "learner_x1", "password": PASSWORD})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logout_without_csrf_token_keeps_the_session(client, auth, world):
    auth.login("learner_x1")
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_deactivated_account_cannot_log_in(app, auth, world):
    with app.app_context():
        db.session.get(User, world.users["learner_x1"]).active = False
        db.session.commit()
    response = auth.login("learner_x1")
    assert response.status_code == 200
    assert "vô hiệu hoá" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "\\\\evil.example",
    ],
)
def test_next_cannot_redirect_off_site(auth, world, target):
    from urllib.parse import quote

    response = auth.login("learner_x1", next_url=quote(target, safe=""))
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_on_site_is_followed(client, auth, world):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/admin/users"
    response = auth.login("admin_hn", next_url="/admin/users")
    assert response.headers["Location"] == "/admin/users"


def test_idle_session_expires_with_a_message(client, auth, world, clock):
    auth.login("learner_x1")
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/")
    assert response.status_code == 302
    login_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Phiên đăng nhập đã hết hạn" in login_page


def test_session_expires_after_its_lifetime_even_when_active(make_app, world, clock, login_with):
    app = make_app(PERMANENT_SESSION_LIFETIME=3600)
    client = app.test_client()
    assert login_with(client, "learner_x1", PASSWORD).status_code == 302
    statuses = []
    for _ in range(6):
        clock.advance(minutes=11)
        statuses.append(client.get("/").status_code)
    assert statuses == [200, 200, 200, 200, 200, 302]
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(LoginSession.id)).where(LoginSession.revoked_at.is_(None))
            )
            == 0
        )


def test_session_cookie_is_http_only_and_permanent(client, auth, world):
    auth.login("learner_x1")
    cookie = client.get_cookie("sathach_session")
    assert cookie.http_only
    assert cookie.expires is not None


def test_password_change_then_login_with_the_new_password(client, auth, world, csrf):
    auth.login("learner_x1")
    token = csrf(client, "/auth/password")
    response = client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "a-new-secret-9",
            "confirm_password": "a-new-secret-9",
        },
    )
    assert response.status_code == 302
    auth.logout()
    assert auth.login("learner_x1", PASSWORD).status_code == 200
    assert auth.login("learner_x1", "a-new-secret-9").status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong-current", "a-new-secret-9", "a-new-secret-9", "Mật khẩu hiện tại không đúng."),
        (PASSWORD, "short", "short", "ít nhất 8 ký tự"),
        (PASSWORD, "a-new-secret-9", "a-new-secret-8", "Hai mật khẩu mới không khớp."),
        (PASSWORD, "learner_x1", "learner_x1", "không được trùng với tên đăng nhập"),
    ],
)
def test_password_change_errors(client, auth, world, current, new, confirm, message, csrf):
    auth.login("learner_x1")
    token = csrf(client, "/auth/password")
    response = client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm_password": confirm,
        },
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_password_change_ends_the_other_sessions(app, client, auth, world, login_with, csrf):
    other_device = app.test_client()
    assert login_with(other_device, "learner_x1", PASSWORD).status_code == 302
    auth.login("learner_x1")
    token = csrf(client, "/auth/password")
    client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "a-new-secret-9",
            "confirm_password": "a-new-secret-9",
        },
    )
    assert client.get("/").status_code == 200
    assert other_device.get("/").status_code == 302


def test_account_with_temporary_password_must_change_it_first(app, client, auth, world):
    with app.app_context():
        db.session.get(User, world.users["learner_x1"]).must_change_password = True
        db.session.commit()
    auth.login("learner_x1")
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/password"
