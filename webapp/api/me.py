"""``GET /api/v1/me``: the token's account."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.wrappers import Response

from webapp.api import api_user, bp
from webapp.api.openapi import error_response
from webapp.models import User

OPENAPI_SCHEMAS: dict[str, Any] = {
    "OrgUnit": {
        "type": "object",
        "required": ["id", "code", "name", "kind"],
        "properties": {
            "id": {"type": "integer"},
            "code": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["province", "commune", "ward"]},
            "parent_id": {"type": ["integer", "null"]},
        },
    },
    "Me": {
        "type": "object",
        "required": ["id", "username", "full_name", "role", "org_unit"],
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "full_name": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "role": {
                "type": "string",
                "enum": ["learner", "psychometrician", "manager", "admin"],
            },
            "org_unit": {"$ref": "#/components/schemas/OrgUnit"},
            "locale": {"type": ["string", "null"]},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/me": {
        "get": {
            "summary": "The account of the Bearer token",
            "operationId": "getMe",
            "responses": {
                "200": {
                    "description": "The account",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Me"}}
                    },
                },
                "401": error_response("Missing, invalid or expired token"),
            },
        }
    }
}


def user_payload(user: User) -> dict[str, Any]:
    """The account as the API shows it to its owner."""
    unit = user.org_unit
    return {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "role": user.role.value,
        "org_unit": {
            "id": unit.id,
            "code": unit.code,
            "name": unit.name,
            "kind": unit.kind.value,
            "parent_id": unit.parent_id,
        },
        "locale": user.locale,
    }


@bp.get("/me")
def me() -> Response:
    return jsonify(user_payload(api_user()))
