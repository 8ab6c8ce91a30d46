"""Access control and HTTP hardening shared by every blueprint: ``role_required``, safe
redirect targets, the client address, the login-failure counter and the security headers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from flask import Flask, Request, Response, abort, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.datastructures import Headers

from webapp.extensions import db
from webapp.models import Role
from webapp.services.rate_limit import (
    DatabaseFailureCounter,
    FailureCounter,
    LoginThrottlePolicy,
    RedisFailureCounter,
)

F = TypeVar("F", bound=Callable[..., Any])

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def role_required(*roles: Role) -> Callable[[F], F]:
    """Allow a view only to logged-in users holding one of ``roles``.

    Anonymous users go to the login page (flask-login's ``unauthorized``); others get 403.
    Org-unit scope is checked by the services the view calls.
    """
    if not roles:
        raise ValueError("role_required needs at least one Role")
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def is_safe_redirect_target(target: str | None) -> bool:
    """Whether ``target`` stays on this site (no scheme-relative, absolute or odd URLs)."""
    if not target or "\\" in target or any(ord(char) < 32 for char in target):
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return False
    joined = urlsplit(urljoin(request.host_url, target))
    return joined.netloc == urlsplit(request.host_url).netloc


def client_address() -> str:
    """The client's IP address (after ProxyFix when ``TRUSTED_PROXY_COUNT`` is set)."""
    return request.remote_addr or "unknown"


def login_throttle_policy() -> LoginThrottlePolicy:
    """The app's lockout policy from ``LOGIN_MAX_FAILURES_PER_*`` and ``LOGIN_FAILURE_WINDOW``."""
    config = current_app.config
    return LoginThrottlePolicy(
        max_failures_per_username=int(config["LOGIN_MAX_FAILURES_PER_USERNAME"]),
        max_failures_per_ip=int(config["LOGIN_MAX_FAILURES_PER_IP"]),
        window=config["LOGIN_FAILURE_WINDOW"],
    )


def failure_counter() -> FailureCounter:
    """Redis when ``REDIS_URL`` is configured, else the request's database session."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return DatabaseFailureCounter(db.session)
    client = current_app.extensions.get("sathach.redis")
    if client is None:
        import redis

        client = current_app.extensions["sathach.redis"] = redis.Redis.from_url(url)
    prefix = current_app.config.get("REDIS_KEY_PREFIX") or "sathach:"
    return RedisFailureCounter(client, prefix=f"{prefix}login-failures:")


#: Headers every response carries unless its view set them itself (name, lower-case, value).
_SECURITY_HEADERS = tuple(
    (name, name.lower(), value)
    for name, value in (
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    )
)


def set_security_headers(response: Response) -> Response:
    """CSP without inline scripts, no framing, no sniffing, a same-origin referrer (the
    ``after_request`` hook: :func:`add_security_headers` for this request)."""
    add_security_headers(
        response.headers,
        hsts=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        # Personal pages and API replies must not sit in shared caches or the back button.
        no_store=request.path.startswith("/api/") or current_user.is_authenticated,
    )
    return response


def add_security_headers(headers: Headers, *, hsts: bool, no_store: bool) -> None:
    """Add the security headers a response lacks (a view's own ones stay): HSTS when the app
    runs on HTTPS, ``Cache-Control: no-store`` for personal content."""
    present = set(headers.keys(lower=True))
    for name, lower, value in _SECURITY_HEADERS:
        if lower not in present:
            headers.add(name, value)
    if hsts and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", "max-age=31536000")
    if no_store and "cache-control" not in present:
        headers.add("Cache-Control", "no-store")


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, left closed for the JSON API: API calls authenticate
    with a Bearer token only, so they neither read nor set the session cookie (and skip the
    cost of both on every answer)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def as_timedelta(value: Any, name: str, *, allow_zero: bool = False) -> timedelta:
    """A config value given as a ``timedelta`` or a number of seconds (from the environment)."""
    if isinstance(value, timedelta):
        return value
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and (value > 0 or (allow_zero and value == 0)):
        return timedelta(seconds=value)
    kind = "a positive or zero" if allow_zero else "a positive"
    raise ValueError(f"{name} must be {kind} number of seconds, got {value!r}")


def init_security(app: Flask) -> None:
    """Register the security headers and the session interface on ``app``."""
    app.session_interface = CookieSessionInterface()
    app.after_request(set_security_headers)
