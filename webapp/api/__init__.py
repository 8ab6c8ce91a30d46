"""JSON API v1 under ``/api/v1``: Bearer tokens on every call except those marked ``@public``.

Each module of this package adds its routes to :data:`bp` and describes them in a module-level
``OPENAPI_PATHS`` dict (and ``OPENAPI_SCHEMAS`` for reusable schemas); ``/api/v1/openapi.json``
merges the fragments of every module, so a new endpoint is documented by the module that adds
it. A test checks that every ``/api/v1`` route is documented.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, g, request
from flask_babel import gettext
from flask_login import AnonymousUserMixin

from webapp import clock
from webapp.exceptions import AuthenticationError
from webapp.extensions import db
from webapp.models import User
from webapp.services.tokens import TokenCache, authenticate_api_token

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_PUBLIC_ATTRIBUTE = "_sathach_api_public"


def public(view: F) -> F:
    """Mark an API view as callable without a token (token issuing, certificate lookup).

    Put it below the route decorator: ``@bp.get("/x")`` then ``@public``.
    """
    setattr(view, _PUBLIC_ATTRIBUTE, True)
    return view


def api_user() -> User:
    """The user of the Bearer token of this API request (only in non-public views)."""
    return g.api_user


@bp.before_request
def _require_bearer_token() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    # API calls never use the cookie session: current_user is the token's user or anonymous.
    g._login_user = AnonymousUserMixin()
    if getattr(view, _PUBLIC_ATTRIBUTE, False):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            gettext("A Bearer token is required: POST /api/v1/auth/token."), code="unauthenticated"
        )
    user = authenticate_api_token(db.session, token.strip(), now=clock.now(), cache=token_cache())
    g.api_token = token.strip()
    g.api_user = user
    g._login_user = user


def token_cache() -> TokenCache:
    """This app's cache of recently checked tokens (one per app: one database)."""
    extensions = current_app.extensions
    cache = extensions.get("sathach.token_cache")
    if cache is None:
        ttl = current_app.config["API_TOKEN_CACHE_TTL"].total_seconds()
        cache = extensions.setdefault("sathach.token_cache", TokenCache(ttl))
    return cache


def iter_api_modules() -> list[Any]:
    """Every module of this package, imported (routes and OpenAPI fragments)."""
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    return modules


iter_api_modules()
