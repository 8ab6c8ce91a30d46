"""The answers of an exam, served in front of Flask's request machinery.

Nearly every request of an exam is ``POST /api/v1/sessions/<id>/responses``. For those,
:class:`FastAnswers` (a WSGI layer around the app) calls the same service,
:func:`webapp.exams.services.submit_answer`, in an app context and replies with the JSON and
headers the view would send, without building a request context, routing, or running the hooks
that do nothing for this call (the cookie session, CSRF, login, language). Measured in one
process, that is nearly a quarter of the CPU of such an answer.

The token is checked as the app checks it: a token the worker's cache checked recently gives
the user's id, all an answer needs (:func:`cached_api_token_user`), and any other token goes to
:func:`authenticate_api_token`. The reply's security headers are those the app adds, computed
once. Anything else goes to the Flask app as it came, which knows what to answer: another
path or method, a query string, a body that is not a small JSON object, and any error the token
check or the service raises (neither writes anything before raising; the app then raises it
again and renders the error). A test compares the two paths' replies byte for byte.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.datastructures import Headers

from webapp import clock
from webapp.api import token_cache
from webapp.exams import services
from webapp.exams.web import pool_cache
from webapp.extensions import db
from webapp.models import User
from webapp.security import add_security_headers
from webapp.services.tokens import authenticate_api_token, cached_api_token_user

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The view's route, ``/api/v1/sessions/<int:session_id>/responses``, for ids as the app writes
# them (no sign, no leading zero): whatever else the route's converter accepts goes to the app.
_ANSWER_PATH = re.compile(r"/api/v1/sessions/([1-9][0-9]{0,17})/responses")

#: A larger body is no answer of ours: the app reads it (and refuses it).
MAX_BODY_BYTES = 16 * 1024


class FastAnswers:
    """WSGI middleware serving ordinary exam answers without Flask's request cycle.

    ``served`` counts the answers it replied to itself (the rest went to ``wsgi_app``).
    """

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.served = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)
        path = _ANSWER_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if path is None:
            return self.wsgi_app(environ, start_response)
        limit = min(MAX_BODY_BYTES, self.app.config.get("MAX_CONTENT_LENGTH") or MAX_BODY_BYTES)
        body = _small_json_body(environ, limit)
        if body is None:
            return self.wsgi_app(environ, start_response)
        reply = self._answer(int(path.group(1)), body, environ.get("HTTP_AUTHORIZATION", ""))
        if reply is None:
            return self.wsgi_app(environ, start_response)
        self.served += 1
        data, headers = reply
        start_response("200 OK", headers)
        return [data]

    def _answer(
        self, session_id: int, body: bytes, authorization: str
    ) -> tuple[bytes, list[tuple[str, str]]] | None:
        """The body and headers of the view's reply, or None when the app must answer."""
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        with self.app.app_context():
            try:
                fields = self.app.json.loads(body)
            except ValueError:
                return None
            if not isinstance(fields, dict) or not {"position", "item_id", "answer"} <= set(fields):
                return None
            session = db.session
            try:
                now = clock.now()
                tokens = token_cache()
                # the id is all an answer needs: a token this worker checked recently loads no user
                user: User | int | None = cached_api_token_user(token, now=now, cache=tokens)
                if user is None:
                    user = authenticate_api_token(session, token, now=now, cache=tokens)
                view = services.submit_answer(
                    session,
                    pool_cache(),
                    user,
                    session_id,
                    position=fields["position"],
                    item_id=fields["item_id"],
                    answer=fields["answer"],
                    now=now,
                )
            except Exception:  # the app raises it again and renders it, as for any request
                session.rollback()
                return None
            response = self.app.json.response(view.to_json())
            hsts = bool(self.app.config.get("SESSION_COOKIE_SECURE"))
            return response.get_data(), [*response.headers.to_wsgi_list(), *_security_headers(hsts)]


@functools.cache
def _security_headers(hsts: bool) -> tuple[tuple[str, str], ...]:
    """The headers :func:`add_security_headers` adds to the view's JSON reply, in its order."""
    headers = Headers()
    add_security_headers(headers, hsts=hsts, no_store=True)
    return tuple(headers.to_wsgi_list())


def _small_json_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The whole body of a JSON request of a declared length up to ``limit`` bytes, or None.

    A body read here is put back as ``wsgi.input``, for the app to read if the request goes on
    to it.
    """
    content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < length <= limit:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body if len(body) == length else None
