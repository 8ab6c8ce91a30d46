"""The application factory, configuration layers, language choice, security headers and the
base template."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from webapp import create_app
from webapp.extensions import db

SECRET = "x" * 40


def test_configuration_layers_defaults_then_environment_then_test(monkeypatch, tmp_path):
    monkeypatch.setenv("SATHACH_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    monkeypatch.setenv("SATHACH_SECRET_KEY", "from-the-environment-" + "e" * 20)
    monkeypatch.setenv("SATHACH_SESSION_IDLE_TIMEOUT", "600")
    monkeypatch.setenv("SATHACH_LOGIN_MAX_FAILURES_PER_USERNAME", "7")
    app = create_app({"LOGIN_MAX_FAILURES_PER_USERNAME": 3})
    try:
        assert app.config["DATABASE_URL"].endswith("env.sqlite")
        assert app.config["SECRET_KEY"].startswith("from-the-environment-")
        assert app.config["SESSION_IDLE_TIMEOUT"] == timedelta(minutes=10)
        assert app.config["LOGIN_MAX_FAILURES_PER_USERNAME"] == 3
        assert app.config["LOGIN_FAILURE_WINDOW"] == timedelta(minutes=15)
        assert app.config["BABEL_DEFAULT_LOCALE"] == "vi"
        assert app.config["SESSION_COOKIE_SECURE"] is True  # production default
    finally:
        db.engine(app).dispose()


def test_default_database_is_sqlite_under_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("SATHACH_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    app = create_app({"TESTING": True})
    try:
        expected = (tmp_path / "instance" / "sathach.sqlite").resolve()
        assert app.config["DATABASE_URL"] == f"sqlite:///{expected}"
        assert Path(app.instance_path) == (tmp_path / "instance").resolve()
    finally:
        db.engine(app).dispose()


def test_factory_opens_no_connection(tmp_path):
    # Port 1 refuses connections: building the app must not try to connect.
    app = create_app(
        {"TESTING": True, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    assert db.engine(app).pool.checkedout() == 0
    db.engine(app).dispose()


def test_two_apps_have_their_own_engines(make_app):
    first, second = make_app(), make_app()
    assert db.engine(first) is not db.engine(second)


def test_secure_cookies_unless_testing_debugging_or_demo(make_app):
    assert make_app().config["SESSION_COOKIE_SECURE"] is False
    assert make_app(TESTING=False).config["SESSION_COOKIE_SECURE"] is True
    assert make_app(TESTING=False, DEMO=True).config["SESSION_COOKIE_SECURE"] is False


def test_security_headers(client, world):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers


def test_a_response_keeps_the_cache_rule_its_view_set(client, auth, world):
    auth.login("learner_x1")
    page = client.get("/")
    assert page.headers["Cache-Control"] == "no-store"  # a personal page
    stylesheet = client.get("/static/css/app.css")
    stylesheet.close()
    assert stylesheet.status_code == 200
    # the static file's own rule (SEND_FILE_MAX_AGE_DEFAULT), not replaced nor doubled
    assert stylesheet.headers.getlist("Cache-Control") == ["public, max-age=3600"]


def test_production_adds_hsts_and_secure_session_cookie(make_app, world, login_with):
    app = make_app(TESTING=False)
    client = app.test_client()
    response = login_with(client, "learner_x1")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = next(
        header for header in response.headers.getlist("Set-Cookie") if "sathach_session" in header
    )
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_pages_have_no_inline_script_and_no_external_resources(client, auth, world):
    for url in ("/auth/login", "/"):
        auth.login("admin_hn") if url == "/" else None
        html = client.get(url).get_data(as_text=True)
        assert "<script" not in html
        assert " style=" not in html
        assert not re.search(r'(src|href)="(https?:)?//', html), url


def test_base_template_is_accessible(client, world):
    html = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert '<a class="skip-link" href="#content">Chuyển đến nội dung</a>' in html
    assert '<main id="content"' in html
    assert 'name="viewport"' in html
    for field in ("username", "password"):
        assert f'<label for="{field}">' in html
        assert f'id="{field}"' in html


def test_login_page_is_small(client, world):
    html = client.get("/auth/login").get_data()
    with client.get("/static/css/app.css") as response:
        css = response.get_data()
    assert len(html) < 6_000
    assert len(css) < 8_000


def test_language_switcher_links_keep_the_page(client, world):
    html = client.get("/auth/login?next=/admin/users").get_data(as_text=True)
    assert 'href="/auth/login?next=/admin/users&amp;lang=en"' in html
    assert '<span aria-current="true" lang="vi">Tiếng Việt</span>' in html


def test_vietnamese_by_default_english_with_lang_en_and_remembered(client, world):
    assert "Đăng nhập" in client.get("/auth/login").get_data(as_text=True)
    english = client.get("/auth/login?lang=en")
    html = english.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "<h1>Log in</h1>" in html
    assert "<h1>Log in</h1>" in client.get("/auth/login").get_data(as_text=True)
    assert "<h1>Đăng nhập</h1>" in client.get("/auth/login?lang=vi").get_data(as_text=True)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("en-GB,en;q=0.9", "<h1>Log in</h1>"),
        ("vi-VN,vi;q=0.9,en;q=0.5", "<h1>Đăng nhập</h1>"),
        ("fr-FR", "<h1>Đăng nhập</h1>"),
    ],
)
def test_accept_language_decides_when_nothing_else_does(client, world, accept, expected):
    html = client.get("/auth/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert expected in html


def test_unsupported_lang_parameter_is_ignored(client, world):
    response = client.get("/auth/login?lang=xx")
    assert "Đăng nhập" in response.get_data(as_text=True)
    assert "sathach_lang" not in response.headers.get("Set-Cookie", "")


def test_a_users_language_setting_applies(app, client, auth, world):
    from webapp.models import User

    with app.app_context():
        db.session.get(User, world.users["learner_x1"]).locale = "en"
        db.session.commit()
    auth.login("learner_x1")
    assert "Log out" in client.get("/").get_data(as_text=True)


def test_html_errors_are_pages_in_vietnamese(client, world):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Trang này không tồn tại." in response.get_data(as_text=True)


def test_healthz(client, world):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_home_page_lists_the_admin_areas(client, auth, world):
    auth.login("admin_hn")
    html = client.get("/").get_data(as_text=True)
    assert 'href="/admin/users"' in html
    assert 'href="/auth/password"' in html


def test_unknown_login_session_key_is_anonymous(app, world):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "forged-key"
    response = client.get("/")
    assert response.status_code == 302


def test_user_loader_returns_none_for_unknown_keys(app, world):
    with app.test_request_context():
        assert app.login_manager._user_callback("no-such-key") is None
