"""Language choice: ``?lang=`` (remembered in a cookie), the cookie, the user's setting, the
browser's Accept-Language, and Vietnamese by default."""

from __future__ import annotations

from flask import Flask, Response, current_app, has_request_context, request
from flask_login import current_user

LANGUAGE_COOKIE = "sathach_lang"
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


def supported_languages() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """The locale of this request (Flask-Babel's locale selector); outside a request (command
    line, tests of services) the default, Vietnamese."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = supported_languages()
    for candidate in (request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in languages:
            return candidate
    user = current_user._get_current_object() if current_user else None
    if user is not None and user.is_authenticated and user.locale in languages:
        return user.locale
    best = request.accept_languages.best_match(languages)
    return best or current_app.config["BABEL_DEFAULT_LOCALE"]


def remember_language(response: Response) -> Response:
    """Keep a ``?lang=`` choice in a cookie for later pages."""
    chosen = request.args.get("lang")
    if chosen in supported_languages() and request.cookies.get(LANGUAGE_COOKIE) != chosen:
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=365 * 24 * 3600,
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            httponly=True,
            samesite="Lax",
        )
    return response


def init_i18n(app: Flask) -> None:
    app.after_request(remember_language)
