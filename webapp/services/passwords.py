"""Password hashing (werkzeug's scrypt by default) and the rules a new password must meet."""

from __future__ import annotations

from functools import lru_cache

from flask_babel import gettext
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.exceptions import InvalidInputError

DEFAULT_HASH_METHOD = "scrypt"
# Generated temporary passwords have 50 random bits and die at first login, so a fast hash is
# safe for them; scrypt (about 0.1 s each here) would make a 5,000-row import take minutes.
TEMPORARY_HASH_METHOD = "pbkdf2:sha256:10000"
DEFAULT_MIN_LENGTH = 8


def hash_password(password: str, method: str = DEFAULT_HASH_METHOD) -> str:
    """The salted hash of ``password`` with werkzeug's ``method`` (``scrypt``, ``pbkdf2``...)."""
    return generate_password_hash(password, method=method)


def verify_password(
    password_hash: str | None, password: str, method: str = DEFAULT_HASH_METHOD
) -> bool:
    """Whether ``password`` matches ``password_hash``; ``None`` (no such user) never matches.

    For ``None`` a hash made with ``method`` is still checked, so that an unknown username costs
    as much time as a wrong password and the timing does not reveal which it was.
    """
    if password_hash is None:
        check_password_hash(_dummy_hash(method), password)
        return False
    return check_password_hash(password_hash, password)


@lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not the password of anyone", method=method)


def validate_new_password(
    password: str, *, username: str, min_length: int = DEFAULT_MIN_LENGTH
) -> None:
    """Raise :class:`InvalidInputError` unless ``password`` is long enough and not the username."""
    if len(password) < min_length:
        raise InvalidInputError(
            gettext("The password must have at least %(n)d characters.", n=min_length),
            code="password_too_short",
        )
    if password.strip().lower() == username.strip().lower():
        raise InvalidInputError(
            gettext("The password must not be the username."), code="password_is_username"
        )
