"""``POST /api/v1/auth/token``: a Bearer token for a username and password, rate-limited like
the login page."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, request
from flask_babel import gettext
from werkzeug.wrappers import Response

from webapp import clock
from webapp.api import bp, public, token_cache
from webapp.api.openapi import error_response
from webapp.exceptions import InvalidInputError, PermissionDeniedError
from webapp.extensions import db
from webapp.security import client_address, failure_counter, login_throttle_policy
from webapp.services import accounts
from webapp.services.tokens import issue_api_token, revoke_api_token

OPENAPI_SCHEMAS: dict[str, Any] = {
    "TokenRequest": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    },
    "Token": {
        "type": "object",
        "required": ["token", "expires_at"],
        "properties": {
            "token": {"type": "string"},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/auth/token": {
        "post": {
            "summary": "Exchange a username and password for a Bearer token",
            "operationId": "createToken",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}
                },
            },
            "responses": {
                "200": {
                    "description": "The token",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Token"}}
                    },
                },
                "400": error_response("Body is not a JSON object with username and password"),
                "401": error_response("Wrong username or password, or deactivated account"),
                "403": error_response("The password must be changed on the web first"),
                "429": error_response("Too many failed logins; see Retry-After"),
            },
        },
        "delete": {
            "summary": "Revoke the Bearer token of this request (log out)",
            "operationId": "revokeToken",
            "responses": {
                "204": {"description": "The token is revoked"},
                "401": error_response("Missing, invalid or expired token"),
            },
        },
    }
}


def iso_utc(moment: Any) -> str:
    """``2026-01-31T08:00:00Z``: the API's timestamp format."""
    return moment.isoformat().replace("+00:00", "Z")


@bp.post("/auth/token")
@public
def create_token() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not all(
        isinstance(body.get(name), str) and body.get(name) for name in ("username", "password")
    ):
        raise InvalidInputError(
            gettext('Send a JSON object {"username": ..., "password": ...}.'),
            code="invalid_input",
        )
    config = current_app.config
    user = accounts.authenticate(
        db.session,
        body["username"],
        body["password"],
        ip_address=client_address(),
        counter=failure_counter(),
        policy=login_throttle_policy(),
        now=clock.now(),
        hash_method=config["PASSWORD_HASH_METHOD"],
    )
    if user.must_change_password:
        raise PermissionDeniedError(
            gettext("Please log in on the website and change your password first."),
            code="password_change_required",
        )
    issued = issue_api_token(
        db.session,
        user,
        now=clock.now(),
        lifetime=config["API_TOKEN_LIFETIME"],
        cache=token_cache(),
    )
    return jsonify({"token": issued.token, "expires_at": iso_utc(issued.expires_at)})


@bp.delete("/auth/token")
def revoke_token() -> tuple[str, int]:
    revoke_api_token(db.session, g.api_token, now=clock.now())
    return "", 204
