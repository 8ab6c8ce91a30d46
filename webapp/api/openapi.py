"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document, merged from every API module's
``OPENAPI_PATHS`` and ``OPENAPI_SCHEMAS`` fragments."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.wrappers import Response

from webapp.api import bp, iter_api_modules, public

OPENAPI_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "machine-readable code"},
            "message": {"type": "string", "description": "text for the user (vi or en)"},
            "details": {"type": "object"},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": {
            "summary": "This OpenAPI document",
            "operationId": "getOpenApi",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}},
        }
    }
}


def error_response(description: str) -> dict[str, Any]:
    """A response object whose body is the shared ``Error`` schema (for fragments to reuse)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def build_openapi_document() -> dict[str, Any]:
    """The merged document; a path or schema defined twice is a programming error."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for module in iter_api_modules():
        for name, target in (("OPENAPI_PATHS", paths), ("OPENAPI_SCHEMAS", schemas)):
            for key, value in getattr(module, name, {}).items():
                if key in target:
                    raise RuntimeError(f"{module.__name__} redefines OpenAPI {name} entry {key}")
                target[key] = value
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sathach API",
            "version": "1",
            "description": "Adaptive certification exams for mobile apps and integrations. "
            "Every call but those with `security: []` needs `Authorization: Bearer <token>` "
            "from POST /auth/token; errors are JSON `Error` objects.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
    }


@bp.get("/openapi.json")
@public
def openapi_document() -> Response:
    return jsonify(build_openapi_document())
