"""JSON API v1: token issuing (rate-limited), Bearer authentication, JSON errors, OpenAPI."""

from __future__ import annotations

import json

import pytest

from webapp.extensions import db
from webapp.models import User

PASSWORD = "correct-horse-1"


def test_token_then_me(client, world):
    response = client.post(
        "/api/v1/auth/token", json={"username": "learner_x1", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    assert body["expires_at"] == "2026-03-02T20:00:00Z"  # the fake clock + 12 hours
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json() == {
        "id": world.users["learner_x1"],
        "username": "learner_x1",
        "full_name": "Người learner_x1",
        "email": "learner_x1@example.vn",
        "role": "learner",
        "org_unit": {
            "id": world.units["HN-X1"],
            "code": "HN-X1",
            "name": "Xã Một",
            "kind": "commune",
            "parent_id": world.units["HN"],
        },
        "locale": None,
    }
    assert me.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}, {"Authorization": "x"}],
)
def test_me_without_a_bearer_token_is_401_json(client, world, headers):
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json()["error"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_is_401(client, world):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_expired_token_is_401_with_its_own_code(client, world, clock, api_token):
    token = api_token()
    clock.advance(hours=11, minutes=59)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    clock.advance(minutes=1)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "token_expired"


def test_tokens_are_stored_hashed(app, world, api_token):
    from sqlalchemy import select

    from webapp.models import ApiToken

    token = api_token()
    with app.app_context():
        stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert len(stored) == 1
    assert token not in stored[0]
    assert len(stored[0]) == 64


def test_deactivated_account_token_stops_working(app, client, world, api_token):
    from webapp.services.accounts import set_user_active

    token = api_token()
    with app.app_context():
        admin = db.session.get(User, world.users["admin_hn"])
        set_user_active(db.session, admin, world.users["learner_x1"], False)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_session_cookie_does_not_authenticate_the_api(client, auth, world):
    auth.login("learner_x1")
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").status_code == 401


def test_the_api_neither_reads_nor_sets_the_session_cookie(client, auth, world, api_token):
    token = api_token()
    auth.login("learner_x1")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert client.get("/").status_code == 200  # the web login goes on


def test_wrong_password_is_401_json_in_vietnamese(client, world):
    response = client.post("/api/v1/auth/token", json={"username": "learner_x1", "password": "x"})
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "invalid_credentials",
        "message": "Tên đăng nhập hoặc mật khẩu không đúng.",
    }


def test_english_messages_follow_accept_language(client, world):
    response = client.post(
        "/api/v1/auth/token",
        json={"username": "learner_x1", "password": "x"},
        headers={"Accept-Language": "en-US,en;q=0.8"},
    )
    assert response.get_json()["message"] == "Wrong username or password."


@pytest.mark.parametrize(
    "body", [None, [], {"username": "learner_x1"}, {"username": 1, "password": "x"}, "text"]
)
def test_malformed_token_requests_are_400_json(client, world, body):
    if body is None:
        response = client.post("/api/v1/auth/token", data="not json")
    else:
        response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_input"


def test_token_endpoint_is_rate_limited_like_the_login_and_shares_its_counter(
    client, auth, world, clock
):
    for attempt in range(3):
        auth.login("learner_x1", f"wrong-{attempt}")
    for attempt in range(2):
        response = client.post(
            "/api/v1/auth/token", json={"username": "learner_x1", "password": f"bad-{attempt}"}
        )
    assert response.status_code == 429
    assert response.get_json()["details"]["retry_after_s"] == 900
    assert response.headers["Retry-After"] == "900"
    response = client.post(
        "/api/v1/auth/token", json={"username": "learner_x1", "password": PASSWORD}
    )
    assert response.status_code == 429
    clock.advance(minutes=16)
    response = client.post(
        "/api/v1/auth/token", json={"username": "learner_x1", "password": PASSWORD}
    )
    assert response.status_code == 200


def test_an_account_that_must_change_its_password_gets_no_token(app, client, world):
    with app.app_context():
        db.session.get(User, world.users["learner_x1"]).must_change_password = True
        db.session.commit()
    response = client.post(
        "/api/v1/auth/token", json={"username": "learner_x1", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "password_change_required"


def test_errors_under_api_are_json_never_html(client, world, api_token):
    headers = {"Authorization": f"Bearer {api_token()}"}
    not_found = client.get("/api/v1/nothing-here", headers=headers)
    assert not_found.status_code == 404
    assert not_found.get_json()["error"] == "not_found"
    not_allowed = client.delete("/api/v1/me", headers=headers)
    assert not_allowed.status_code == 405
    assert not_allowed.is_json
    assert client.get("/api/other").is_json


def test_the_api_needs_no_csrf_token(client, world):
    # A POST without any CSRF token: only the credentials decide.
    response = client.post(
        "/api/v1/auth/token", json={"username": "learner_x1", "password": PASSWORD}
    )
    assert response.status_code == 200


def test_openapi_document_lists_every_api_route(app, client, world):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"] == "3.1.0"
    documented = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    routes = {
        (_openapi_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == routes
    assert {("/auth/token", "POST"), ("/me", "GET"), ("/openapi.json", "GET")} <= documented


def _openapi_path(rule: str) -> str:
    import re

    path = rule.removeprefix("/api/v1")
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", path)


def test_openapi_references_resolve_and_operations_are_unique(client, world):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    text = json.dumps(document)
    import re

    for name in re.findall(r'"#/components/schemas/([^"]+)"', text):
        assert name in schemas, name
    operation_ids = [
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert document["paths"]["/auth/token"]["post"]["security"] == []
    assert "security" not in document["paths"]["/me"]["get"]
    assert document["security"] == [{"bearerAuth": []}]


def test_revoking_the_token_logs_the_app_out(client, world, api_token):
    headers = {"Authorization": f"Bearer {api_token()}"}
    other = {"Authorization": f"Bearer {api_token()}"}
    response = client.delete("/api/v1/auth/token", headers=headers)
    assert response.status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers=other).status_code == 200
    assert client.delete("/api/v1/auth/token").status_code == 401
