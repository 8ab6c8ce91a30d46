"""Browser login sessions and API Bearer tokens: random keys given to the client, their SHA-256
stored with expiry and revocation, so every worker checks them against the same database.

An API client sends its token with every call (an exam is some thirty answers in a few minutes),
so a worker may remember a token it checked for a few seconds (:class:`TokenCache`). A
revocation in this process (logout, deactivation, password change) takes effect at once in every
cache of the process; another worker notices it when its entry is older than the cache's
``ttl_s`` (``API_TOKEN_CACHE_TTL``, default 15 s; 0 turns the cache off).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import bindparam, delete, inspect, select, update
from sqlalchemy.orm import Session

from item_bank.db import attach_loaded, column_values
from webapp.exceptions import AuthenticationError
from webapp.models import ApiToken, LoginSession, RateLimitEvent, User

# Writing last_seen_at on every request would make every page a write; a minute's precision is
# plenty for an idle timeout of many minutes.
_TOUCH_INTERVAL = timedelta(seconds=60)

# A token and its user's columns in one statement, built once on table columns: this runs on
# every API request a worker has not seen the token of lately, and loading two ORM objects from
# the row cost more than the query (the user is attached as loaded instead).
_TOKENS = ApiToken.__table__.c
_USER_COLUMNS = tuple(User.__table__.c)
_USER_KEYS = tuple(inspect(User).get_property_by_column(c).key for c in _USER_COLUMNS)
_TOKEN_AND_USER = (
    select(_TOKENS.id, _TOKENS.expires_at, _TOKENS.last_used_at, _TOKENS.revoked_at, *_USER_COLUMNS)
    .join_from(ApiToken.__table__, User.__table__, User.__table__.c.id == _TOKENS.user_id)
    .where(_TOKENS.token_hash == bindparam("token_hash"))
)
_TOUCH_TOKEN = (
    update(ApiToken.__table__)
    .where(_TOKENS.id == bindparam("token_id"))
    .values(last_used_at=bindparam("now"))
)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoginSessionLookup:
    """What a login-session key led to: the user, or None with ``expired`` telling why."""

    user: User | None
    expired: bool = False


def start_login_session(
    session: Session,
    user: User,
    *,
    now: datetime,
    lifetime: timedelta,
    ip_address: str | None = None,
) -> str:
    """Create a login session for ``user`` lasting at most ``lifetime``, commit, return its key."""
    key = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            key_hash=_digest(key),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            ip_address=ip_address,
        )
    )
    session.commit()
    user.login_session_key = key
    return key


def load_login_session(
    session: Session, key: str, *, now: datetime, idle_timeout: timedelta
) -> LoginSessionLookup:
    """The active user of login session ``key``; ``None`` when unknown, revoked, expired (past
    its lifetime or idle longer than ``idle_timeout``) or when the account is deactivated."""
    login = session.scalar(select(LoginSession).where(LoginSession.key_hash == _digest(key)))
    if login is None or login.revoked_at is not None:
        return LoginSessionLookup(user=None)
    if now >= login.expires_at or now - login.last_seen_at > idle_timeout:
        login.revoked_at = now
        session.commit()
        return LoginSessionLookup(user=None, expired=True)
    user = login.user
    if not user.active:
        return LoginSessionLookup(user=None)
    if now - login.last_seen_at >= _TOUCH_INTERVAL:
        login.last_seen_at = now
        session.commit()
    user.login_session_key = key
    return LoginSessionLookup(user=user)


def end_login_session(session: Session, key: str, *, now: datetime) -> None:
    """Revoke login session ``key`` (logout) and commit."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.key_hash == _digest(key), LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.commit()


def revoke_user_credentials(
    session: Session, user_id: int, *, now: datetime, keep_login_key: str | None = None
) -> None:
    """Revoke every login session (but ``keep_login_key``) and API token of a user; no commit."""
    _forget_everywhere(user_id=user_id)
    statement = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if keep_login_key is not None:
        statement = statement.where(LoginSession.key_hash != _digest(keep_login_key))
    session.execute(statement.values(revoked_at=now))
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


@dataclass(frozen=True)
class IssuedToken:
    """A new API token (shown to the client once) and when it expires."""

    token: str
    expires_at: datetime


def issue_api_token(
    session: Session,
    user: User,
    *,
    now: datetime,
    lifetime: timedelta,
    cache: TokenCache | None = None,
) -> IssuedToken:
    """Create a Bearer token for ``user`` valid for ``lifetime`` and commit; ``cache`` then
    holds it as checked (a client's next calls usually come to the same worker)."""
    token = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    session.add(
        ApiToken(
            token_hash=_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=expires_at,
            last_used_at=now,  # issuing is a use: the first calls need no write
        )
    )
    session.commit()
    if cache is not None:
        cache.remember(_digest(token), user, expires_at)
    return IssuedToken(token=token, expires_at=expires_at)


@dataclass(frozen=True)
class _CheckedToken:
    user_id: int
    user_columns: dict[str, Any]
    expires_at: datetime
    checked_at: float  # time.monotonic() of the database check


#: Every token cache of this process, so that a revocation here reaches all of them at once.
_CACHES: weakref.WeakSet[TokenCache] = weakref.WeakSet()


class TokenCache:
    """API tokens this process checked against the database in the last ``ttl_s`` seconds.

    It holds the token's digest, expiry and the user's columns (never the token itself); a hit
    gives the request its own copy of the user, attached to the request's session without a
    query. Bounded to ``max_entries`` (least recently checked dropped first).
    """

    def __init__(self, ttl_s: float, max_entries: int = 100_000) -> None:
        self.ttl_s = float(ttl_s)
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _CheckedToken] = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.add(self)

    def lookup(self, digest: str) -> _CheckedToken | None:
        """The entry of ``digest`` if it was checked less than ``ttl_s`` seconds ago."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if time.monotonic() - entry.checked_at >= self.ttl_s:
                del self._entries[digest]
                return None
            return entry

    def remember(self, digest: str, user: User, expires_at: datetime) -> None:
        """Note that ``digest`` was found valid for ``user`` just now."""
        if self.ttl_s <= 0:
            return
        columns = column_values(user)
        entry = _CheckedToken(user.id, columns, expires_at, time.monotonic())
        with self._lock:
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, *, digest: str | None = None, user_id: int | None = None) -> None:
        """Drop the entry of one token, or every entry of one user."""
        with self._lock:
            if digest is not None:
                self._entries.pop(digest, None)
            if user_id is not None:
                for key in [k for k, e in self._entries.items() if e.user_id == user_id]:
                    del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _forget_everywhere(*, digest: str | None = None, user_id: int | None = None) -> None:
    for cache in list(_CACHES):
        cache.forget(digest=digest, user_id=user_id)


def _user_of(session: Session, entry: _CheckedToken) -> User:
    """The cached user as a persistent instance of ``session``, without a query."""
    return attach_loaded(session, User, entry.user_columns)


def authenticate_api_token(
    session: Session, token: str, *, now: datetime, cache: TokenCache | None = None
) -> User:
    """The active user holding ``token``, from ``cache`` when it checked the token recently.

    Raises
    ------
    AuthenticationError
        Unknown, revoked or expired token, or a deactivated account (code ``invalid_token`` or
        ``token_expired``).
    """
    digest = _digest(token)
    entry = cache.lookup(digest) if cache is not None else None
    if entry is not None:
        if now >= entry.expires_at:
            raise AuthenticationError(
                gettext("The token has expired: request a new one."), code="token_expired"
            )
        return _user_of(session, entry)
    found = session.execute(_TOKEN_AND_USER, {"token_hash": digest}).first()
    if found is None:
        raise AuthenticationError(gettext("Invalid or revoked token."), code="invalid_token")
    token_id, expires_at, last_used_at, revoked_at, *user_values = found
    user = attach_loaded(session, User, dict(zip(_USER_KEYS, user_values, strict=True)))
    if revoked_at is not None or not user.active:
        raise AuthenticationError(gettext("Invalid or revoked token."), code="invalid_token")
    if now >= expires_at:
        raise AuthenticationError(
            gettext("The token has expired: request a new one."), code="token_expired"
        )
    # at most one write a minute per token
    if last_used_at is None or now - last_used_at >= _TOUCH_INTERVAL:
        session.execute(_TOUCH_TOKEN, {"token_id": token_id, "now": now})
        session.commit()
    if cache is not None:
        cache.remember(digest, user, expires_at)
    return user


def cached_api_token_user(token: str, *, now: datetime, cache: TokenCache) -> int | None:
    """The id of the user holding ``token`` when ``cache`` checked it recently and it has not
    expired; None when :func:`authenticate_api_token` must decide (it may then refuse it).

    For a caller that needs only the user's id: no user is loaded into any session.
    """
    entry = cache.lookup(_digest(token))
    if entry is None or now >= entry.expires_at:
        return None
    return entry.user_id


def revoke_api_token(session: Session, token: str, *, now: datetime) -> None:
    """Revoke one API token (a mobile app's logout) and commit."""
    digest = _digest(token)
    _forget_everywhere(digest=digest)
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.commit()
    _forget_everywhere(digest=digest)  # a check that read the row before the commit


def purge_expired_credentials(
    session: Session, *, now: datetime, keep: timedelta = timedelta(days=30)
) -> int:
    """Delete login sessions and API tokens that expired or were revoked more than ``keep``
    ago, and login failures older than a day; commit and return how many rows went.

    For a periodic job (``sathach sweep``): nothing depends on these rows any more.
    """
    cutoff = now - keep
    removed = 0
    for model in (LoginSession, ApiToken):
        result = session.execute(
            delete(model).where(
                (model.expires_at < cutoff)
                | (model.revoked_at.is_not(None) & (model.revoked_at < cutoff))
            )
        )
        removed += int(result.rowcount or 0)
    result = session.execute(
        delete(RateLimitEvent).where(RateLimitEvent.occurred_at < now - timedelta(days=1))
    )
    removed += int(result.rowcount or 0)
    session.commit()
    return removed
