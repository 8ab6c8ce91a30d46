"""The current time for request handlers: ``now()`` is UTC, or the app's ``CLOCK`` in tests.

Services take ``now`` as an argument; routes pass ``clock.now()``. A test sets
``app.config["CLOCK"]`` to a callable to move time (session expiry, lockout windows) without
sleeping.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context

from webapp.models import utcnow


def now() -> datetime:
    """The current timezone-aware UTC time, from ``app.config["CLOCK"]`` when one is set."""
    if has_app_context():
        clock = current_app.config.get("CLOCK")
        if clock is not None:
            return clock()
    return utcnow()
