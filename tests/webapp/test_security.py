"""``role_required`` on pages and API views, safe redirect targets, CSRF on admin forms."""

from __future__ import annotations

import pytest
from flask import g
from werkzeug.exceptions import Forbidden

from webapp.models import Role, User
from webapp.security import is_safe_redirect_target, role_required


@pytest.fixture
def probed_app(make_app):
    app = make_app()

    @role_required(Role.MANAGER, Role.ADMIN)
    def probe() -> str:
        return "inside"

    app.add_url_rule("/probe", "probe", probe)
    return app


def test_role_required_on_a_page(probed_app, world, login_with):
    anonymous = probed_app.test_client()
    response = anonymous.get("/probe")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/probe"
    for username, status in (("learner_x1", 403), ("manager_hn", 200), ("admin_x1", 200)):
        client = probed_app.test_client()
        login_with(client, username)
        assert client.get("/probe").status_code == status, username


def test_role_required_on_an_api_view_uses_the_token_user(app, world):
    @role_required(Role.ADMIN)
    def view() -> str:
        return "inside"

    with app.test_request_context("/api/v1/anything"):
        response = view()
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthenticated"
    with app.test_request_context("/api/v1/anything"):
        g._login_user = User(role=Role.LEARNER, username="x", full_name="x", active=True)
        with pytest.raises(Forbidden):
            view()
        g._login_user = User(role=Role.ADMIN, username="y", full_name="y", active=True)
        assert view() == "inside"


def test_role_required_needs_a_role():
    with pytest.raises(ValueError, match="at least one Role"):
        role_required()


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/admin/users?page=2", True),
        ("/", True),
        (None, False),
        ("", False),
        ("admin", False),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("https://evil.example/", False),
        ("/ok\r\nSet-Cookie: x", False),
    ],
)
def test_is_safe_redirect_target(app, target, safe):
    with app.test_request_context("/"):
        assert is_safe_redirect_target(target) is safe


def test_admin_forms_reject_posts_without_a_csrf_token(client, auth, world):
    auth.login("admin_hn")
    response = client.post(
        "/admin/users/new",
        data={
            "username": "sneaky",
            "full_name": "X",
            "org_unit_id": world.units["HN"],
            "role": "admin",
        },
    )
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{world.users['learner_x1']}/deactivate")
    assert response.status_code == 400
    assert "sneaky" not in client.get("/admin/users").get_data(as_text=True)
