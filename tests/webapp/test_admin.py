"""Admin pages: role checks and org-unit scope on every route, accounts one by one,
deactivation, org units and the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEntry, OrgUnit, User


def _routes(world):
    """Every admin route as (method, url), with ids from the seeded world."""
    learner = world.users["learner_x1"]
    return [
        ("GET", "/admin/"),
        ("GET", "/admin/users"),
        ("GET", "/admin/users/new"),
        ("POST", "/admin/users/new"),
        ("GET", f"/admin/users/{learner}"),
        ("POST", f"/admin/users/{learner}/deactivate"),
        ("POST", f"/admin/users/{learner}/activate"),
        ("GET", "/admin/users/import"),
        ("POST", "/admin/users/import"),
        ("GET", "/admin/org-units"),
        ("GET", "/admin/org-units/new"),
        ("POST", "/admin/org-units/new"),
        ("GET", "/admin/audit"),
        ("GET", "/admin/certificates"),
        ("GET", "/admin/certificates/AAAA-BBBB-CCCC"),
        ("POST", "/admin/certificates/AAAA-BBBB-CCCC/revoke"),
    ]


def test_the_route_list_covers_every_admin_endpoint_and_method(app, world):
    adapter = app.url_map.bind("localhost")
    covered = {(adapter.match(url, method=method)[0], method) for method, url in _routes(world)}
    expected = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("admin.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert covered == expected


def _request(client, method, url, token):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": token})


def test_anonymous_is_sent_to_the_login_page_from_every_admin_route(client, world, csrf):
    token = csrf(client, "/auth/login")
    for method, url in _routes(world):
        response = _request(client, method, url, token)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/auth/login?next="), (method, url)


@pytest.mark.parametrize("username", ["learner_x1", "manager_hn", "psy"])
def test_other_roles_get_403_on_every_admin_route(client, auth, world, csrf, username):
    auth.login(username)
    token = csrf(client, "/")
    for method, url in _routes(world):
        response = _request(client, method, url, token)
        assert response.status_code == 403, (method, url)
        assert "Bạn không có quyền truy cập trang này." in response.get_data(as_text=True)


def test_admin_of_another_province_gets_403_on_the_user_routes(client, auth, world, csrf):
    auth.login("admin_hp")
    token = csrf(client, "/")
    learner = world.users["learner_x1"]
    assert client.get(f"/admin/users/{learner}").status_code == 403
    for action in ("deactivate", "activate"):
        response = client.post(f"/admin/users/{learner}/{action}", data={"csrf_token": token})
        assert response.status_code == 403
    assert client.get(f"/admin/users?org_unit={world.units['HN-X1']}").status_code == 403


def test_commune_admin_sees_only_its_commune(client, auth, world):
    auth.login("admin_x1")
    html = client.get("/admin/users").get_data(as_text=True)
    assert "learner_x1" in html
    assert "learner_x2" not in html
    assert "manager_hn" not in html
    assert client.get(f"/admin/users/{world.users['learner_x2']}").status_code == 403
    units = client.get("/admin/org-units").get_data(as_text=True)
    assert "HN-X1" in units
    assert "HN-X2" not in units
    # the other province and its commune; not the bare code "HP", which a random CSRF token
    # in the page can contain
    assert "Hải Phòng" not in units and "HP-X1" not in units


def test_province_admin_sees_its_communes_and_not_another_province(client, auth, world):
    auth.login("admin_hn")
    html = client.get("/admin/users").get_data(as_text=True)
    for username in ("learner_x1", "learner_x2", "manager_hn", "admin_x1"):
        assert username in html
    assert "learner_hp" not in html
    assert client.get(f"/admin/users/{world.users['learner_x2']}").status_code == 200
    assert client.get(f"/admin/users/{world.users['learner_hp']}").status_code == 403


def test_unknown_user_is_404(client, auth, world):
    auth.login("admin_hn")
    response = client.get("/admin/users/9999")
    assert response.status_code == 404
    assert "Không có tài khoản 9999." in response.get_data(as_text=True)


def test_admin_creates_an_account_with_a_temporary_password(
    app, client, auth, world, csrf, login_with
):
    auth.login("admin_hn")
    token = csrf(client, "/admin/users/new")
    response = client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "username": "  Nguyen.Van.A ",
            "full_name": "Nguyễn Văn A",
            "email": "a@example.vn",
            "org_unit_id": world.units["HN-X2"],
            "role": "learner",
            "password": "",
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    temporary = html.split('<code class="secret">')[1].split("</code>")[0]
    assert len(temporary) == 10
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "nguyen.van.a"))
        assert user.full_name == "Nguyễn Văn A"
        assert user.must_change_password
        assert user.org_unit_id == world.units["HN-X2"]
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
        assert entry.actor_id == world.users["admin_hn"]
        assert entry.target_user_id == user.id
    newcomer = app.test_client()
    assert login_with(newcomer, "nguyen.van.a", temporary).status_code == 302
    assert newcomer.get("/").headers["Location"] == "/auth/password"


def test_creating_a_taken_username_is_refused_on_the_form(client, auth, world, csrf):
    auth.login("admin_hn")
    token = csrf(client, "/admin/users/new")
    response = client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "username": "learner_x1",
            "full_name": "Ai Đó",
            "org_unit_id": world.units["HN-X1"],
            "role": "learner",
        },
    )
    assert response.status_code == 400
    assert "Tên đăng nhập learner_x1 đã được dùng." in response.get_data(as_text=True)


def test_commune_admin_cannot_create_an_account_elsewhere(client, auth, world, csrf):
    auth.login("admin_x1")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert f'value="{world.units["HN-X2"]}"' not in page
    token = csrf(client, "/admin/users/new")
    response = client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "username": "intruder",
            "full_name": "Ai Đó",
            "org_unit_id": world.units["HN-X2"],
            "role": "learner",
        },
    )
    assert response.status_code == 400
    assert "intruder" not in client.get("/admin/users").get_data(as_text=True)


def test_deactivation_ends_the_sessions_and_blocks_login(
    app, client, auth, world, csrf, login_with
):
    learner_client = app.test_client()
    login_with(learner_client, "learner_x1")
    assert learner_client.get("/").status_code == 200
    auth.login("admin_hn")
    token = csrf(client, "/")
    user_id = world.users["learner_x1"]
    response = client.post(f"/admin/users/{user_id}/deactivate", data={"csrf_token": token})
    assert response.status_code == 302
    assert learner_client.get("/").status_code == 302
    assert "vô hiệu hoá" in login_with(app.test_client(), "learner_x1").get_data(as_text=True)
    client.post(f"/admin/users/{user_id}/activate", data={"csrf_token": token})
    assert login_with(app.test_client(), "learner_x1").status_code == 302


def test_an_admin_cannot_deactivate_itself(client, auth, world, csrf):
    auth.login("admin_hn")
    token = csrf(client, "/")
    response = client.post(
        f"/admin/users/{world.users['admin_hn']}/deactivate", data={"csrf_token": token}
    )
    assert response.status_code == 409
    assert "chính mình" in response.get_data(as_text=True)


def test_viewing_an_account_is_audited(app, client, auth, world):
    auth.login("admin_hn")
    client.get(f"/admin/users/{world.users['learner_x2']}")
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.view"))
    assert entry.actor_id == world.users["admin_hn"]
    assert entry.target_user_id == world.users["learner_x2"]
    assert entry.ip_address == "127.0.0.1"
    log = client.get("/admin/audit").get_data(as_text=True)
    assert "user.view" in log
    assert "learner_x2" in log


def test_audit_log_shows_only_entries_of_the_scope(client, auth, world, login_with, app):
    hp_client = app.test_client()
    login_with(hp_client, "admin_hp")
    hp_client.get(f"/admin/users/{world.users['learner_hp']}")
    auth.login("admin_hn")
    assert "learner_hp" not in client.get("/admin/audit").get_data(as_text=True)


def test_province_admin_creates_a_commune(app, client, auth, world, csrf):
    auth.login("admin_hn")
    token = csrf(client, "/admin/org-units/new")
    response = client.post(
        "/admin/org-units/new",
        data={
            "csrf_token": token,
            "code": "hn-x3",
            "name": "Xã Mới",
            "kind": "commune",
            "parent_id": world.units["HN"],
        },
    )
    assert response.status_code == 302
    with app.app_context():
        unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "HN-X3"))
        assert unit.parent_id == world.units["HN"]
    assert "Xã Mới" in client.get("/admin/org-units").get_data(as_text=True)


def test_admin_cannot_create_a_commune_in_another_province(client, auth, world, csrf):
    auth.login("admin_hn")
    token = csrf(client, "/admin/org-units/new")
    response = client.post(
        "/admin/org-units/new",
        data={
            "csrf_token": token,
            "code": "HP-X9",
            "name": "Xã Lạ",
            "kind": "commune",
            "parent_id": world.units["HP"],
        },
    )
    assert response.status_code == 400
    assert "Xã Lạ" not in client.get("/admin/org-units").get_data(as_text=True)


def test_admin_pages_are_english_with_lang_en(client, auth, world):
    auth.login("admin_hn")
    html = client.get("/admin/users?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Search by name or username" in html
    html = client.get("/admin/users").get_data(as_text=True)
    assert "Search by name or username" in html  # the choice is remembered
