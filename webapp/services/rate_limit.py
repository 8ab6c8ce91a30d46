"""Counters of failed logins shared by every server worker: in the database, or in Redis when
``SATHACH_REDIS_URL`` is set.

A key (``user:<name>`` or ``ip:<address>``) is locked while it has ``limit`` failures inside the
sliding window; the lock lifts when the oldest of them leaves the window.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from webapp.models import RateLimitEvent


@dataclass(frozen=True)
class LoginThrottlePolicy:
    """How many failures per username and per address lock them, and for how long.

    The per-address limit is higher because a commune office puts many officials behind one
    address; the per-username limit is what stops guessing one account's password.
    """

    max_failures_per_username: int = 5
    max_failures_per_ip: int = 50
    window: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.max_failures_per_username < 1 or self.max_failures_per_ip < 1:
            raise ValueError(f"failure limits must be >= 1, got {self!r}")
        if self.window <= timedelta(0):
            raise ValueError(f"window must be positive, got {self.window!r}")


@dataclass(frozen=True)
class FailureCount:
    """Failures of a key inside the window and the time of the oldest of them."""

    count: int
    oldest: datetime | None

    def retry_after_s(self, window: timedelta, now: datetime) -> int:
        """Whole seconds until the oldest failure leaves the window (at least 1)."""
        if self.oldest is None:
            return 0
        return max(1, math.ceil((self.oldest + window - now).total_seconds()))


class FailureCounter(Protocol):
    """Where failures are counted: in the database or in Redis."""

    def count_since(self, key: str, since: datetime) -> FailureCount: ...

    def add(self, key: str, at: datetime) -> None: ...

    def clear(self, key: str) -> None: ...


class DatabaseFailureCounter:
    """Failures as rows of ``rate_limit_events``, written in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def count_since(self, key: str, since: datetime) -> FailureCount:
        count, oldest = self.session.execute(
            select(func.count(RateLimitEvent.id), func.min(RateLimitEvent.occurred_at)).where(
                RateLimitEvent.key == key, RateLimitEvent.occurred_at > since
            )
        ).one()
        if oldest is not None and oldest.tzinfo is None:
            # Aggregates bypass the column type, so SQLite's naive UTC comes back as is.
            oldest = oldest.replace(tzinfo=UTC)
        return FailureCount(count=int(count), oldest=oldest)

    def add(self, key: str, at: datetime) -> None:
        self.session.add(RateLimitEvent(key=key, occurred_at=at))
        self.session.flush()

    def clear(self, key: str) -> None:
        self.session.execute(delete(RateLimitEvent).where(RateLimitEvent.key == key))

    def purge_before(self, before: datetime) -> int:
        """Delete failures older than ``before`` (they no longer count); return how many."""
        result = self.session.execute(
            delete(RateLimitEvent).where(RateLimitEvent.occurred_at <= before)
        )
        return int(result.rowcount or 0)


class RedisFailureCounter:
    """Failures as members of a sorted set per key, scored by their time (redis-py client)."""

    def __init__(self, client: Any, *, prefix: str = "sathach:login-failures:") -> None:
        self.client = client
        self.prefix = prefix

    def count_since(self, key: str, since: datetime) -> FailureCount:
        name = self.prefix + key
        self.client.zremrangebyscore(name, "-inf", since.timestamp())
        oldest = self.client.zrange(name, 0, 0, withscores=True)
        count = int(self.client.zcard(name))
        oldest_at = datetime.fromtimestamp(oldest[0][1], UTC) if oldest else None
        return FailureCount(count=count, oldest=oldest_at)

    def add(self, key: str, at: datetime) -> None:
        name = self.prefix + key
        member = f"{at.timestamp():.6f}:{uuid.uuid4().hex}"
        pipe = self.client.pipeline()
        pipe.zadd(name, {member: at.timestamp()})
        # Keep the key no longer than a day; windows are minutes.
        pipe.expire(name, 86_400)
        pipe.execute()

    def clear(self, key: str) -> None:
        self.client.delete(self.prefix + key)
