"""The application factory: defaults, then ``SATHACH_*`` environment variables, then the test
overrides; extensions are bound here, blueprints registered, and nothing is built at import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext, lazy_gettext
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from item_bank.db import DEFAULT_INSTANCE_DIR, configured_database_url
from webapp import clock
from webapp.config import DURATION_KEYS, ZERO_DURATION_KEYS, default_config
from webapp.errors import error_response, register_error_handlers, wants_json
from webapp.extensions import babel, csrf, db, login_manager
from webapp.i18n import LANGUAGE_NAMES, init_i18n, select_locale
from webapp.models import User
from webapp.security import as_timedelta, init_security
from webapp.services.tokens import load_login_session

# Endpoints a user who must change the password may still reach.
_PASSWORD_CHANGE_EXEMPT = {"auth.change_password", "auth.logout", "static"}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the sathach web app.

    Parameters
    ----------
    test_config
        Settings applied last, over the defaults of :mod:`webapp.config` and the ``SATHACH_*``
        environment (``SATHACH_DATABASE_URL``, ``SATHACH_SECRET_KEY``...).
    """
    instance_path = Path(DEFAULT_INSTANCE_DIR).resolve()
    app = Flask(__name__, instance_path=str(instance_path))
    app.config.from_mapping(default_config())
    app.config.from_prefixed_env("SATHACH")
    if test_config:
        app.config.from_mapping(test_config)
    _resolve_config(app)

    if app.config["TRUSTED_PROXY_COUNT"]:
        count = int(app.config["TRUSTED_PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    _init_login(app)
    init_security(app)
    init_i18n(app)
    register_error_handlers(app)
    _register_blueprints(app)
    _register_template_helpers(app)
    if app.config["API_FAST_ANSWERS"]:
        from webapp.api.fast_answers import FastAnswers

        app.wsgi_app = FastAnswers(app, app.wsgi_app)  # type: ignore[method-assign]
    return app


def _resolve_config(app: Flask) -> None:
    config = app.config
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = configured_database_url(app.instance_path)
    for key in DURATION_KEYS:
        config[key] = as_timedelta(config[key], key)
    for key in ZERO_DURATION_KEYS:
        config[key] = as_timedelta(config[key], key, allow_zero=True)
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = not (app.debug or app.testing or config.get("DEMO"))
    # The remember-me cookie is not used: a login ends with its session.
    config["REMEMBER_COOKIE_DURATION"] = config["PERMANENT_SESSION_LIFETIME"]


def _init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    app.before_request(_announce_expired_session)
    app.before_request(_enforce_password_change)


def _load_user(key: str) -> User | None:
    lookup = load_login_session(
        db.session, key, now=clock.now(), idle_timeout=current_app.config["SESSION_IDLE_TIMEOUT"]
    )
    if lookup.expired:
        g.login_session_expired = True
    return lookup.user


def _unauthorized() -> Any:
    if wants_json():
        return error_response(401, "unauthenticated", gettext("Authentication required."))
    if not g.get("login_session_expired"):
        flash(gettext("Please log in to see this page."), "info")
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def _announce_expired_session() -> None:
    if request.path.startswith(("/api/", "/static/")):
        return
    if not current_user.is_authenticated and g.get("login_session_expired"):
        # The dead key would otherwise be looked up again on every request.
        session.pop("_user_id", None)
        flash(gettext("Your session has expired. Please log in again."), "warning")


def _enforce_password_change() -> Any:
    if request.path.startswith("/api/") or request.endpoint in _PASSWORD_CHANGE_EXEMPT:
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        flash(gettext("Please choose a new password before continuing."), "warning")
        return redirect(url_for("auth.change_password"))
    return None


def _register_blueprints(app: Flask) -> None:
    from webapp.admin import bp as admin_bp
    from webapp.api import bp as api_bp
    from webapp.auth import bp as auth_bp
    from webapp.learner import bp as learner_bp
    from webapp.main import bp as main_bp
    from webapp.verify import bp as verify_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(learner_bp)
    app.register_blueprint(verify_bp)
    # The API authenticates with Bearer tokens only (never cookies), so CSRF cannot apply.
    csrf.exempt(api_bp)


def _register_template_helpers(app: Flask) -> None:
    @app.context_processor
    def language_helpers() -> dict[str, Any]:
        from flask_babel import get_locale

        def url_for_language(code: str) -> str:
            args = request.args.to_dict(flat=True)
            args["lang"] = code
            return url_for(request.endpoint or "main.index", **(request.view_args or {}), **args)

        return {
            "languages": LANGUAGE_NAMES,
            "current_language": str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"]),
            "url_for_language": url_for_language,
        }
