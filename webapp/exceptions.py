"""Domain exceptions of the web app, each carrying the HTTP status it maps to.

Services raise these; :mod:`webapp.errors` turns them into an HTML page or a JSON body in one
place, so routes never pick status codes themselves. Each subclasses the builtin a caller would
catch (``LookupError`` for a missing record, ``PermissionError`` for a scope violation...).
"""

from __future__ import annotations

from dataclasses import dataclass


class WebappError(Exception):
    """Base of the web app's domain errors: a user-facing ``message`` and a machine ``code``."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInputError(WebappError, ValueError):
    """The request's data are wrong (HTTP 400)."""

    status_code = 400
    code = "invalid_input"


class AuthenticationError(WebappError):
    """Wrong credentials, or a missing, expired or revoked token (HTTP 401)."""

    status_code = 401
    code = "unauthenticated"


class LoginLockedError(AuthenticationError):
    """Too many failed logins for this username or address (HTTP 429).

    ``retry_after_s`` is how many seconds remain until the oldest failure leaves the window.
    """

    status_code = 429
    code = "login_locked"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermissionDeniedError(WebappError, PermissionError):
    """The user's role or org-unit scope does not allow this (HTTP 403)."""

    status_code = 403
    code = "forbidden"


class NotFoundError(WebappError, LookupError):
    """The record does not exist (HTTP 404)."""

    status_code = 404
    code = "not_found"


class ConflictError(WebappError):
    """The request conflicts with the stored state, e.g. a taken username (HTTP 409)."""

    status_code = 409
    code = "conflict"


@dataclass(frozen=True)
class RowError:
    """One problem of an imported file: its ``row`` (1 is the header), ``column`` and message."""

    row: int
    column: str
    message: str


class CsvImportError(InvalidInputError):
    """An import file has errors; nothing of it was stored. ``errors`` lists every problem."""

    code = "import_rejected"

    def __init__(self, message: str, errors: list[RowError]) -> None:
        super().__init__(message)
        self.errors = errors


class ConfigurationError(RuntimeError):
    """The deployment is misconfigured, e.g. no secret key for ``sathach serve``."""
