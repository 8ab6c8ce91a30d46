"""Default configuration of the web app; the environment (``SATHACH_*``) and test overrides
come on top in :func:`webapp.app.create_app`.

Durations may be given in the environment as seconds (``SATHACH_SESSION_IDLE_TIMEOUT=900``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from webapp.services.passwords import DEFAULT_HASH_METHOD, DEFAULT_MIN_LENGTH

MIN_SECRET_KEY_LENGTH = 32


def default_config() -> dict[str, Any]:
    """A fresh dict of defaults (mutable values are not shared between apps)."""
    return {
        # No default secret: `sathach serve` refuses to start without SATHACH_SECRET_KEY.
        "SECRET_KEY": None,
        "DATABASE_URL": None,
        "DATABASE_ENGINE_OPTIONS": {},
        # Login-failure counters go to Redis when set (e.g. redis://127.0.0.1:6379/0).
        "REDIS_URL": None,
        "REDIS_KEY_PREFIX": "sathach:",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
        "SESSION_IDLE_TIMEOUT": timedelta(minutes=30),
        "SESSION_COOKIE_NAME": "sathach_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # None: secure unless debugging, testing or in demo mode (plain http on localhost).
        "SESSION_COOKIE_SECURE": None,
        "API_TOKEN_LIFETIME": timedelta(hours=12),
        # How long a worker trusts a token it checked (webapp.services.tokens.TokenCache): a
        # revocation by another worker takes effect within this time; 0 checks every request.
        "API_TOKEN_CACHE_TTL": timedelta(seconds=15),
        # Serve ordinary exam answers in front of Flask's request cycle (webapp.api.fast_answers);
        # off, every answer goes through the view (the replies are the same).
        "API_FAST_ANSWERS": True,
        "LOGIN_MAX_FAILURES_PER_USERNAME": 5,
        "LOGIN_MAX_FAILURES_PER_IP": 50,
        "LOGIN_FAILURE_WINDOW": timedelta(minutes=15),
        "PASSWORD_HASH_METHOD": DEFAULT_HASH_METHOD,
        "PASSWORD_MIN_LENGTH": DEFAULT_MIN_LENGTH,
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
        # the platform catalogue, then the exam-delivery one (webapp/exams/translations)
        "BABEL_TRANSLATION_DIRECTORIES": "translations;exams/translations",
        "LANGUAGES": ["vi", "en"],
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        # CSRF tokens last as long as the login session, not Flask-WTF's default hour: an exam
        # page may stay open for longer.
        "WTF_CSRF_TIME_LIMIT": None,
        "TRUSTED_PROXY_COUNT": 0,
        "DEMO": False,
        "CLOCK": None,
        "SEND_FILE_MAX_AGE_DEFAULT": 3600,
    }


DURATION_KEYS = (
    "SESSION_IDLE_TIMEOUT",
    "API_TOKEN_LIFETIME",
    "LOGIN_FAILURE_WINDOW",
    "PERMANENT_SESSION_LIFETIME",
)

#: Durations where 0 means "off".
ZERO_DURATION_KEYS = ("API_TOKEN_CACHE_TTL",)


def check_production_config(config: Any) -> None:
    """Refuse to serve without a real secret key (``SATHACH_SECRET_KEY``).

    Raises
    ------
    ConfigurationError
        The key is missing or shorter than :data:`MIN_SECRET_KEY_LENGTH` characters.
    """
    from webapp.exceptions import ConfigurationError

    secret = config.get("SECRET_KEY")
    hint = 'python -c "import secrets; print(secrets.token_hex(32))"'
    if not secret:
        raise ConfigurationError(
            "Chưa cấu hình khoá bí mật: đặt biến môi trường SATHACH_SECRET_KEY. / "
            f"No secret key configured: set SATHACH_SECRET_KEY (e.g. from {hint})."
        )
    if len(str(secret)) < MIN_SECRET_KEY_LENGTH:
        raise ConfigurationError(
            f"SATHACH_SECRET_KEY quá ngắn ({len(str(secret))} ký tự, cần ít nhất "
            f"{MIN_SECRET_KEY_LENGTH}). / SATHACH_SECRET_KEY is too short "
            f"({len(str(secret))} characters, at least {MIN_SECRET_KEY_LENGTH}; try {hint})."
        )
