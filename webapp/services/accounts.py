"""Accounts: creating, finding, listing, deactivating users, logging in and changing passwords.

Use cases commit their own transaction; ``actor`` is the logged-in admin whose org-unit scope
limits what it touches, or ``None`` for the operator at the command line.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from webapp.exceptions import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    LoginLockedError,
    NotFoundError,
    PermissionDeniedError,
)
from webapp.models import OrgUnit, Role, User, utcnow
from webapp.services.audit import record_audit
from webapp.services.org_units import (
    get_org_unit,
    require_org_unit_in_scope,
    require_user_in_scope,
    visible_org_unit_ids,
)
from webapp.services.passwords import (
    DEFAULT_HASH_METHOD,
    DEFAULT_MIN_LENGTH,
    TEMPORARY_HASH_METHOD,
    hash_password,
    validate_new_password,
    verify_password,
)
from webapp.services.rate_limit import FailureCounter, LoginThrottlePolicy
from webapp.services.tokens import revoke_user_credentials

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# No 0/O, 1/l/I: temporary passwords are read off a sheet and typed on a phone.
_TEMPORARY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def normalise_username(raw: str) -> str:
    """Usernames are compared trimmed and in lower case."""
    return raw.strip().lower()


def username_error(username: str) -> str | None:
    """Why ``username`` (normalised) is not acceptable, or None."""
    if not USERNAME_PATTERN.match(username):
        return gettext(
            "Invalid username %(username)r: 3 to 64 lower-case letters, digits, '.', '_' or '-',"
            " starting with a letter or digit.",
            username=username,
        )
    return None


def email_error(email: str) -> str | None:
    """Why ``email`` is not acceptable, or None (an empty e-mail is allowed)."""
    if email and (len(email) > 254 or not EMAIL_PATTERN.match(email)):
        return gettext("Invalid e-mail address %(email)r.", email=email)
    return None


def full_name_error(full_name: str) -> str | None:
    """Why ``full_name`` is not acceptable, or None."""
    if not full_name or len(full_name) > 200:
        return gettext("The full name must have 1 to 200 characters.")
    return None


def parse_role(raw: str | Role) -> Role:
    """The :class:`Role` named ``raw``; :class:`InvalidInputError` listing the valid ones."""
    try:
        return Role(str(raw).strip().lower())
    except ValueError:
        raise InvalidInputError(
            gettext(
                "Unknown role %(role)r: use one of %(roles)s.",
                role=str(raw),
                roles=", ".join(role.value for role in Role),
            )
        ) from None


def generate_temporary_password(length: int = 10) -> str:
    """A random password for a new account, to be changed at first login."""
    return "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(length))


def require_admin(actor: User | None) -> None:
    """Raise :class:`PermissionDeniedError` unless ``actor`` is an admin (or the operator)."""
    if actor is not None and actor.role is not Role.ADMIN:
        raise PermissionDeniedError(gettext("Only an administrator may do this."))


def get_user(session: Session, user_id: int) -> User:
    """The user with ``user_id``; :class:`NotFoundError` if there is none."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(gettext("No such account: %(id)s.", id=user_id))
    return user


def find_user_by_username(session: Session, username: str) -> User | None:
    """The user called ``username`` (normalised), or None."""
    return session.scalar(select(User).where(User.username == normalise_username(username)))


@dataclass(frozen=True)
class CreatedAccount:
    """A new account; ``temporary_password`` is set when it was generated (show it once)."""

    user_id: int
    username: str
    full_name: str
    role: Role
    org_unit_code: str
    temporary_password: str | None


def create_user(
    session: Session,
    actor: User | None,
    *,
    username: str,
    full_name: str,
    org_unit_id: int,
    role: Role | str,
    email: str | None = None,
    password: str | None = None,
    must_change_password: bool = True,
    hash_method: str = DEFAULT_HASH_METHOD,
    min_password_length: int = DEFAULT_MIN_LENGTH,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> CreatedAccount:
    """Create one account in ``actor``'s scope and commit.

    Without ``password`` a temporary one is generated (hashed with the fast method fit for
    random one-time passwords) and returned. The account must change its password at first
    login unless ``must_change_password`` is False.

    Raises
    ------
    InvalidInputError
        Bad username, name, e-mail, role or password.
    PermissionDeniedError
        ``actor`` is not an admin, or the org unit is outside its scope.
    ConflictError
        The username is taken.
    """
    require_admin(actor)
    username = normalise_username(username)
    full_name = full_name.strip()
    email = (email or "").strip()
    role = parse_role(role)
    for problem in (username_error(username), full_name_error(full_name), email_error(email)):
        if problem:
            raise InvalidInputError(problem)
    org_unit = get_org_unit(session, org_unit_id)
    require_org_unit_in_scope(session, actor, org_unit.id)
    temporary = None
    if password is None:
        temporary = password = generate_temporary_password()
        hash_method = TEMPORARY_HASH_METHOD
    else:
        validate_new_password(password, username=username, min_length=min_password_length)
    if find_user_by_username(session, username) is not None:
        raise ConflictError(
            gettext("The username %(username)s is taken.", username=username), code="username_taken"
        )
    now = now or utcnow()
    user = _new_user(
        username, full_name, email, org_unit, role, hash_password(password, hash_method), now
    )
    user.must_change_password = must_change_password
    session.add(user)
    session.flush()
    record_audit(
        session,
        actor,
        "user.create",
        target_user=user,
        ip_address=ip_address,
        now=now,
        details={"username": username, "role": role.value},
    )
    session.commit()
    return CreatedAccount(user.id, username, full_name, role, org_unit.code, temporary)


def _new_user(
    username: str,
    full_name: str,
    email: str,
    org_unit: OrgUnit,
    role: Role,
    password_hash: str,
    now: datetime,
) -> User:
    return User(
        username=username,
        full_name=full_name,
        email=email or None,
        org_unit_id=org_unit.id,
        role=role,
        password_hash=password_hash,
        active=True,
        created_at=now,
        password_changed_at=now,
    )


def get_user_for_actor(
    session: Session,
    actor: User | None,
    user_id: int,
    *,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> User:
    """The account ``user_id`` as seen by admin ``actor`` (in scope); the view is audited."""
    require_admin(actor)
    user = get_user(session, user_id)
    require_user_in_scope(session, actor, user)
    if actor is not None and actor.id != user.id:
        record_audit(session, actor, "user.view", target_user=user, ip_address=ip_address, now=now)
        session.commit()
    return user


@dataclass(frozen=True)
class UserPage:
    """One page of a user listing and the number of matching users."""

    users: list[User]
    total: int


def list_users(
    session: Session,
    actor: User | None,
    *,
    org_unit_id: int | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> UserPage:
    """Users in ``actor``'s scope (optionally one org unit and a name/username search)."""
    require_admin(actor)
    conditions = []
    visible = visible_org_unit_ids(session, actor)
    if visible is not None:
        conditions.append(User.org_unit_id.in_(visible))
    if org_unit_id is not None:
        require_org_unit_in_scope(session, actor, org_unit_id)
        conditions.append(User.org_unit_id == org_unit_id)
    if search:
        needle = search.strip().lower()  # wildcards in it are literal (autoescape)
        conditions.append(
            or_(
                User.username.contains(needle, autoescape=True),
                func.lower(User.full_name).contains(needle, autoescape=True),
            )
        )
    total = session.scalar(select(func.count(User.id)).where(*conditions)) or 0
    users = session.scalars(
        select(User).where(*conditions).order_by(User.username).limit(limit).offset(offset)
    )
    return UserPage(users=list(users), total=int(total))


def set_user_active(
    session: Session,
    actor: User | None,
    user_id: int,
    active: bool,
    *,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> User:
    """Deactivate (or reactivate) an account in ``actor``'s scope and commit.

    Deactivation ends its login sessions and API tokens at once.

    Raises
    ------
    ConflictError
        ``actor`` tries to deactivate itself (that would lock the area out).
    """
    require_admin(actor)
    user = get_user(session, user_id)
    require_user_in_scope(session, actor, user)
    if actor is not None and user.id == actor.id and not active:
        raise ConflictError(gettext("You cannot deactivate your own account."))
    now = now or utcnow()
    user.active = active
    if not active:
        revoke_user_credentials(session, user.id, now=now)
    record_audit(
        session,
        actor,
        "user.activate" if active else "user.deactivate",
        target_user=user,
        ip_address=ip_address,
        now=now,
    )
    session.commit()
    return user


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    ip_address: str,
    counter: FailureCounter,
    policy: LoginThrottlePolicy,
    now: datetime,
    hash_method: str = DEFAULT_HASH_METHOD,
) -> User:
    """The user with these credentials; failures are counted per username and address.

    Raises
    ------
    LoginLockedError
        The username or the address has ``policy``'s number of failures in the window (the
        failure that reaches the limit already gets this).
    AuthenticationError
        Wrong username or password (code ``invalid_credentials``), or a deactivated account
        (code ``account_inactive``, said only to whom knows the password).
    """
    username = normalise_username(username)
    since = now - policy.window
    limits = (
        (f"user:{username}", policy.max_failures_per_username),
        (f"ip:{ip_address}", policy.max_failures_per_ip),
    )
    for key, limit in limits:
        failures = counter.count_since(key, since)
        if failures.count >= limit:
            raise _locked(failures.retry_after_s(policy.window, now))
    user = find_user_by_username(session, username) if username else None
    if not verify_password(user.password_hash if user else None, password, hash_method):
        locked_for = 0
        for key, limit in limits:
            counter.add(key, now)
            failures = counter.count_since(key, since)
            if failures.count >= limit:
                locked_for = max(locked_for, failures.retry_after_s(policy.window, now))
        session.commit()
        if locked_for:
            raise _locked(locked_for)
        raise AuthenticationError(
            gettext("Wrong username or password."), code="invalid_credentials"
        )
    assert user is not None
    if not user.active:
        raise AuthenticationError(
            gettext("This account is deactivated. Please contact your administrator."),
            code="account_inactive",
        )
    counter.clear(f"user:{username}")
    session.commit()
    return user


def _locked(retry_after_s: int) -> LoginLockedError:
    minutes = max(1, -(-retry_after_s // 60))
    return LoginLockedError(
        gettext(
            "Too many failed logins. Login is locked for %(minutes)d minutes; try again later.",
            minutes=minutes,
        ),
        retry_after_s=retry_after_s,
    )


def change_password(
    session: Session,
    user: User,
    current_password: str,
    new_password: str,
    *,
    hash_method: str = DEFAULT_HASH_METHOD,
    min_length: int = DEFAULT_MIN_LENGTH,
    now: datetime | None = None,
) -> None:
    """Change ``user``'s password and commit; its other login sessions and tokens end.

    Raises
    ------
    AuthenticationError
        ``current_password`` is wrong (code ``wrong_current_password``).
    InvalidInputError
        The new password breaks the rules or equals the current one.
    """
    if not verify_password(user.password_hash, current_password, hash_method):
        raise AuthenticationError(
            gettext("The current password is wrong."), code="wrong_current_password"
        )
    validate_new_password(new_password, username=user.username, min_length=min_length)
    if new_password == current_password:
        raise InvalidInputError(gettext("The new password must differ from the current one."))
    now = now or utcnow()
    user.password_hash = hash_password(new_password, hash_method)
    user.password_changed_at = now
    user.must_change_password = False
    revoke_user_credentials(session, user.id, now=now, keep_login_key=user.login_session_key)
    session.commit()
