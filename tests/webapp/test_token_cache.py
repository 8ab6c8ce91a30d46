"""The per-process cache of checked API tokens: a hit costs no query, a revocation here is seen
at once, one elsewhere (a direct UPDATE, as another worker would commit) within the TTL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from webapp.extensions import db
from webapp.models import ApiToken, User
from webapp.services import tokens as token_service


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_just_issued_costs_no_query_in_the_worker_that_issued_it(
    make_app, world, api_token, recorded_statements
):
    issuer, other = make_app(), make_app()
    token = (
        issuer.test_client()
        .post("/api/v1/auth/token", json={"username": "learner_x1", "password": "correct-horse-1"})
        .get_json()["token"]
    )
    for app, checks in ((issuer, False), (other, True)):
        with recorded_statements(db.engine(app)) as statements:
            response = app.test_client().get("/api/v1/me", headers=_bearer(token))
        assert response.status_code == 200
        assert bool([s for s in statements if "api_tokens" in s]) is checks


def test_a_recently_checked_token_costs_no_query(
    app, client, world, api_token, recorded_statements
):
    token = api_token()
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    with recorded_statements(db.engine(app)) as statements:
        again = client.get("/api/v1/me", headers=_bearer(token))
    assert again.status_code == 200
    assert again.get_json()["id"] == world.users["learner_x1"]
    assert not [s for s in statements if "api_tokens" in s]


def test_revoking_in_this_process_takes_effect_at_once(client, world, api_token):
    token = api_token()
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=_bearer(token)).status_code == 204
    response = client.get("/api/v1/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"


def test_a_revocation_by_another_worker_is_seen_within_the_ttl(
    make_app, world, api_token, monkeypatch
):
    app = make_app(API_TOKEN_CACHE_TTL=timedelta(seconds=15))
    client = app.test_client()
    token = client.post(
        "/api/v1/auth/token", json={"username": "learner_x1", "password": "correct-horse-1"}
    ).get_json()["token"]
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    with app.app_context():  # another worker's commit: nothing tells this process
        db.session.execute(update(ApiToken).values(revoked_at=ApiToken.created_at))
        db.session.commit()
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    monotonic = token_service.time.monotonic
    monkeypatch.setattr(token_service.time, "monotonic", lambda: monotonic() + 15.0)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_ttl_zero_checks_every_request(make_app, world, recorded_statements):
    app = make_app(API_TOKEN_CACHE_TTL=0)
    client = app.test_client()
    token = client.post(
        "/api/v1/auth/token", json={"username": "learner_x1", "password": "correct-horse-1"}
    ).get_json()["token"]
    client.get("/api/v1/me", headers=_bearer(token))
    with recorded_statements(db.engine(app)) as statements:
        assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    assert [s for s in statements if "api_tokens" in s]


def test_a_cached_token_still_expires(client, world, api_token, clock):
    token = api_token()
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    clock.advance(hours=12)
    response = client.get("/api/v1/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"] == "token_expired"


def test_the_cached_user_is_a_fresh_copy_per_request(app, world):
    cache = token_service.TokenCache(ttl_s=60)
    with app.app_context():
        user = db.session.get(User, world.users["learner_x1"])
        cache.remember("digest", user, expires_at=user.created_at + timedelta(days=1))
        entry = cache.lookup("digest")
        assert entry is not None
        copies = [token_service._user_of(db.session, entry) for _ in range(2)]
        assert copies[0] is user  # merged into the session that holds it
    with app.app_context():
        fresh = token_service._user_of(db.session, entry)
        assert fresh is not user
        assert (fresh.id, fresh.username, fresh.role) == (user.id, user.username, user.role)
        assert fresh in db.session and not db.session.dirty
    cache.forget(user_id=user.id)
    assert cache.lookup("digest") is None


def test_the_cached_user_id_of_a_token_only_while_cached_and_unexpired(app, world, clock):
    cache = token_service.TokenCache(ttl_s=60)
    learner = world.users["learner_x1"]
    with app.app_context():
        user = db.session.get(User, learner)
        issued = token_service.issue_api_token(
            db.session, user, now=clock(), lifetime=timedelta(hours=1)
        )
        unknown = token_service.cached_api_token_user(issued.token, now=clock(), cache=cache)
        assert unknown is None  # never checked here: authenticate_api_token decides
        token_service.authenticate_api_token(db.session, issued.token, now=clock(), cache=cache)
    assert token_service.cached_api_token_user(issued.token, now=clock(), cache=cache) == learner
    assert token_service.cached_api_token_user("other-token", now=clock(), cache=cache) is None
    later = clock() + timedelta(hours=1)
    assert token_service.cached_api_token_user(issued.token, now=later, cache=cache) is None
    cache.forget(user_id=learner)
    assert token_service.cached_api_token_user(issued.token, now=clock(), cache=cache) is None
