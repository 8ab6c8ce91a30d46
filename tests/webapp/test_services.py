"""Services used by both halves of the web app: org-unit scoping, demo accounts, the failure
counters (database and Redis), the audit of personal-data access and the timestamp type."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.exceptions import ConflictError, PermissionDeniedError
from webapp.extensions import db
from webapp.models import AuditEntry, OrgUnit, RateLimitEvent, Role, User
from webapp.services import (
    ensure_demo_accounts,
    is_org_unit_in_scope,
    list_users,
    record_personal_data_access,
    require_user_in_scope,
    visible_org_unit_ids,
)
from webapp.services.rate_limit import (
    DatabaseFailureCounter,
    LoginThrottlePolicy,
    RedisFailureCounter,
)
from webapp.services.tokens import load_login_session, start_login_session

FAST = "pbkdf2:sha256:1000"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_province_scope_is_the_province_and_its_communes(session, world):
    admin = session.get(User, world.users["admin_hn"])
    assert visible_org_unit_ids(session, admin) == {
        world.units["HN"],
        world.units["HN-X1"],
        world.units["HN-X2"],
    }
    assert not is_org_unit_in_scope(session, admin, world.units["HP-X1"])


def test_commune_scope_is_only_the_commune(session, world):
    admin = session.get(User, world.users["admin_x1"])
    assert visible_org_unit_ids(session, admin) == {world.units["HN-X1"]}
    with pytest.raises(PermissionDeniedError):
        require_user_in_scope(session, admin, session.get(User, world.users["learner_x2"]))
    require_user_in_scope(session, admin, session.get(User, world.users["learner_x1"]))


def test_the_operator_is_not_scoped(session, world):
    assert visible_org_unit_ids(session, None) is None
    assert is_org_unit_in_scope(session, None, world.units["HP-X1"])


def test_user_search_folds_vietnamese_letters_and_takes_wildcards_literally(session, world):
    admin = session.get(User, world.users["admin_hn"])
    for username, full_name in [
        ("tran.duc", "Trần ĐỨC Ánh"),
        ("le.van", "Lê Văn Đức"),
        ("learnerax1", "Nguyễn Thị Hương"),
        ("pct_a", "Phạm 100% Tâm"),
    ]:
        session.add(
            User(
                username=username,
                full_name=full_name,
                org_unit_id=world.units["HN-X1"],
                role=Role.LEARNER,
                password_hash="unused",
            )
        )
    session.commit()

    def found(search: str) -> list[str]:
        return [user.username for user in list_users(session, admin, search=search).users]

    assert found("đức") == ["le.van", "tran.duc"]  # "ĐỨC" and "Đức" alike
    assert found("NGUYỄN THỊ") == ["learnerax1"]
    assert found("learner_x1") == ["learner_x1"]  # "_" is not "any letter": not learnerax1
    assert found("100%") == ["pct_a"]
    assert found("%") == ["pct_a"]


def test_demo_accounts_every_role_and_a_second_run_reuses_them(app, session, login_with):
    first = ensure_demo_accounts(session, "demo", hash_method=FAST)
    names = sorted(first.users)
    assert names == sorted(
        [
            "learner1",
            "learner2",
            "learner3",
            "learner4",
            "learner5",
            "psychometrician",
            "manager",
            "admin",
        ]
    )
    assert {first.users[f"learner{n}"].role for n in range(1, 6)} == {Role.LEARNER}
    assert first.users["admin"].org_unit_id == first.province.id
    assert first.users["learner1"].org_unit_id == first.commune.id
    assert first.commune.parent_id == first.province.id
    count = session.scalar(select(func.count(User.id)))
    second = ensure_demo_accounts(session, "other-password", hash_method=FAST)
    assert session.scalar(select(func.count(User.id))) == count
    assert second.users["admin"].id == first.users["admin"].id
    assert session.scalar(select(func.count(OrgUnit.id))) == 2
    client = app.test_client()
    assert login_with(client, "admin", "other-password").status_code == 302
    assert client.get("/").status_code == 200  # no forced password change in the demo


def test_demo_accounts_never_reset_a_real_account(session, world):
    from webapp.services.accounts import _new_user

    real = _new_user(
        "manager", "Real", "", session.get(OrgUnit, world.units["HN"]), Role.MANAGER, "hash", T0
    )
    session.add(real)
    session.commit()
    with pytest.raises(ConflictError):
        ensure_demo_accounts(session, "demo", hash_method=FAST)
    session.rollback()
    assert session.get(User, real.id).password_hash == "hash"


def test_personal_data_access_is_logged(session, world):
    manager = session.get(User, world.users["manager_hn"])
    learner = session.get(User, world.users["learner_x1"])
    record_personal_data_access(session, manager, learner, "results", ip_address="10.1.2.3")
    entry = session.scalar(select(AuditEntry))
    assert (entry.actor_id, entry.target_user_id, entry.action) == (
        manager.id,
        learner.id,
        "personal_data.view",
    )
    assert entry.org_unit_id == world.units["HN-X1"]
    assert '"what": "results"' in entry.details


def test_timestamps_come_back_timezone_aware_and_naive_ones_are_refused(session, world):
    user = session.get(User, world.users["learner_x1"])
    key = start_login_session(session, user, now=T0, lifetime=timedelta(hours=1))
    session.expire_all()
    lookup = load_login_session(session, key, now=T0, idle_timeout=timedelta(minutes=5))
    assert lookup.user is not None
    user.password_changed_at = datetime(2026, 1, 1)
    with pytest.raises(Exception, match="naive datetime"):
        session.commit()
    session.rollback()


def test_database_counter_counts_inside_the_window_only(session, world):
    counter = DatabaseFailureCounter(session)
    for minutes in (0, 5, 10):
        counter.add("user:x", T0 + timedelta(minutes=minutes))
    counter.add("user:y", T0)
    now = T0 + timedelta(minutes=16)
    count = counter.count_since("user:x", now - timedelta(minutes=15))
    assert count.count == 2
    assert count.oldest == T0 + timedelta(minutes=5)
    assert count.retry_after_s(timedelta(minutes=15), now) == 4 * 60
    assert counter.purge_before(now - timedelta(minutes=15)) == 2
    counter.clear("user:x")
    assert counter.count_since("user:x", T0 - timedelta(days=1)).count == 0
    assert session.scalar(select(func.count(RateLimitEvent.id))) == 0


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError, match="failure limits"):
        LoginThrottlePolicy(max_failures_per_username=0)
    with pytest.raises(ValueError, match="window"):
        LoginThrottlePolicy(window=timedelta(0))


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_prefix():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        client.close()
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"sathach-test-{uuid.uuid4().hex[:8]}:"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_redis_counter_counts_inside_the_window(redis_prefix):
    client, prefix = redis_prefix
    counter = RedisFailureCounter(client, prefix=prefix)
    for minutes in (0, 5, 10):
        counter.add("user:x", T0 + timedelta(minutes=minutes))
    now = T0 + timedelta(minutes=16)
    count = counter.count_since("user:x", now - timedelta(minutes=15))
    assert count.count == 2
    assert count.oldest == T0 + timedelta(minutes=5)
    counter.clear("user:x")
    assert counter.count_since("user:x", T0 - timedelta(days=1)).count == 0


def test_with_redis_configured_two_apps_share_the_lockout_and_the_database_has_none(
    make_app, world, login_with, redis_prefix
):
    _client, prefix = redis_prefix
    settings = {"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix}
    worker_a, worker_b = make_app(**settings), make_app(**settings)
    for attempt in range(5):
        app = worker_a if attempt % 2 else worker_b
        login_with(app.test_client(), "learner_x1", f"wrong-{attempt}")
    assert login_with(worker_a.test_client(), "learner_x1").status_code == 429
    assert login_with(worker_b.test_client(), "learner_x1").status_code == 429
    with worker_a.app_context():
        assert db.session.scalar(select(func.count(RateLimitEvent.id))) == 0


def test_purge_removes_only_long_dead_credentials(session, world):
    from webapp.models import ApiToken, LoginSession
    from webapp.services.tokens import (
        end_login_session,
        issue_api_token,
        purge_expired_credentials,
    )

    user = session.get(User, world.users["learner_x1"])
    old_key = start_login_session(session, user, now=T0, lifetime=timedelta(hours=8))
    end_login_session(session, old_key, now=T0 + timedelta(hours=1))
    issue_api_token(session, user, now=T0, lifetime=timedelta(hours=12))
    later = T0 + timedelta(days=40)
    start_login_session(session, user, now=later, lifetime=timedelta(hours=8))
    fresh = issue_api_token(session, user, now=later, lifetime=timedelta(hours=12))
    DatabaseFailureCounter(session).add("user:x", T0)
    session.commit()
    assert purge_expired_credentials(session, now=later) == 3
    assert session.scalar(select(func.count(LoginSession.id))) == 1
    assert session.scalar(select(func.count(ApiToken.id))) == 1
    assert session.scalar(select(func.count(RateLimitEvent.id))) == 0
    assert fresh.expires_at > later
