"""One place maps domain exceptions and HTTP errors to responses: JSON under ``/api/`` (never an
HTML page there), a small HTML page elsewhere.

JSON errors have the shape ``{"error": <code>, "message": <text>}``, plus ``"details"`` when
there is more (the row errors of an import, ``retry_after_s`` of a lockout).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.exceptions import CsvImportError, LoginLockedError, WebappError


def wants_json() -> bool:
    """Whether this request gets JSON errors (everything under ``/api/``)."""
    return request.path.startswith("/api/")


def _http_message(status: int) -> str:
    messages = {
        400: gettext("The request is invalid."),
        401: gettext("Please log in."),
        403: gettext("You do not have access to this page."),
        404: gettext("This page does not exist."),
        405: gettext("This method is not allowed here."),
        409: gettext("The request conflicts with the current state."),
        413: gettext("The upload is too large."),
        429: gettext("Too many requests; please wait and try again."),
        500: gettext("An unexpected error occurred. Please try again."),
    }
    return messages.get(status, gettext("The request could not be completed."))


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response:
    """The JSON or HTML error response for ``status``."""
    if wants_json():
        body: dict[str, Any] = {"error": code, "message": message}
        if details:
            body["details"] = details
        response = jsonify(body)
    else:
        response = Response(
            render_template("errors/error.html", status=status, message=message, details=details),
            mimetype="text/html",
        )
    response.status_code = status
    return response


def _domain_error(error: WebappError) -> Response:
    details: dict[str, Any] | None = None
    response_headers: dict[str, str] = {}
    if isinstance(error, CsvImportError):
        details = {"rows": [vars(row) for row in error.errors]}
    if isinstance(error, LoginLockedError):
        details = {"retry_after_s": error.retry_after_s}
        response_headers["Retry-After"] = str(error.retry_after_s)
    response = error_response(error.status_code, error.code, error.message, details)
    response.headers.update(response_headers)
    if error.status_code == 401 and wants_json():
        response.headers["WWW-Authenticate"] = 'Bearer realm="sathach"'
    return response


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = (error.name or "error").lower().replace(" ", "_")
    response = error_response(status, code, _http_message(status))
    if status == 405 and error.response is None:
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def _csrf_error(error: CSRFError) -> Response:
    return error_response(
        400,
        "csrf_failed",
        gettext("The form has expired or is invalid. Please reload the page and try again."),
    )


def register_error_handlers(app: Flask) -> None:
    """Install the mapping on ``app``."""
    app.register_error_handler(WebappError, _domain_error)
    app.register_error_handler(CSRFError, _csrf_error)
    # Unexpected exceptions are logged by Flask and reach this handler as InternalServerError.
    app.register_error_handler(HTTPException, _http_error)
