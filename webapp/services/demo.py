"""Demo accounts for ``sathach demo``: one per role in a demo province and commune.

Only demo mode calls this; ``sathach serve`` never creates accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from webapp.exceptions import ConflictError
from webapp.models import OrgUnit, OrgUnitKind, Role, User, utcnow
from webapp.services.accounts import _new_user, find_user_by_username
from webapp.services.org_units import find_org_unit_by_code
from webapp.services.passwords import DEFAULT_HASH_METHOD, hash_password

DEMO_PROVINCE_CODE = "DEMO"
DEMO_COMMUNE_CODE = "DEMO-XA1"
DEMO_LEARNERS = tuple(f"learner{number}" for number in range(1, 6))


@dataclass(frozen=True)
class DemoAccounts:
    """The demo accounts by username, and the demo org units."""

    users: dict[str, User]
    province: OrgUnit
    commune: OrgUnit


def ensure_demo_accounts(
    session: Session,
    password: str,
    *,
    hash_method: str = DEFAULT_HASH_METHOD,
    now: datetime | None = None,
) -> DemoAccounts:
    """Create (or reuse) ``learner1``..``learner5``, ``psychometrician``, ``manager`` and
    ``admin`` with ``password``, and commit.

    The learners sit in the demo commune, the others in the demo province (so the manager and
    the admin see the commune). A second call reuses the accounts and resets their password to
    ``password`` and their state to active, so the printed password always works.

    Raises
    ------
    ConflictError
        An account of that name exists outside the demo org units (never touched).
    """
    now = now or utcnow()
    province = find_org_unit_by_code(session, DEMO_PROVINCE_CODE)
    if province is None:
        province = OrgUnit(
            code=DEMO_PROVINCE_CODE, name="Tỉnh Demo", kind=OrgUnitKind.PROVINCE, created_at=now
        )
        session.add(province)
        session.flush()
    commune = find_org_unit_by_code(session, DEMO_COMMUNE_CODE)
    if commune is None:
        commune = OrgUnit(
            code=DEMO_COMMUNE_CODE,
            name="Xã Demo 1",
            kind=OrgUnitKind.COMMUNE,
            parent_id=province.id,
            created_at=now,
        )
        session.add(commune)
        session.flush()
    wanted: list[tuple[str, str, Role, OrgUnit]] = [
        (name, f"Học viên {name[-1]}", Role.LEARNER, commune) for name in DEMO_LEARNERS
    ]
    wanted += [
        ("psychometrician", "Chuyên gia đo lường", Role.PSYCHOMETRICIAN, province),
        ("manager", "Cán bộ quản lý", Role.MANAGER, province),
        ("admin", "Quản trị viên", Role.ADMIN, province),
    ]
    password_hash = hash_password(password, hash_method)
    users: dict[str, User] = {}
    for username, full_name, role, unit in wanted:
        user = find_user_by_username(session, username)
        if user is None:
            user = _new_user(username, full_name, "", unit, role, password_hash, now)
            session.add(user)
        elif user.org_unit_id not in (province.id, commune.id):
            raise ConflictError(
                f"the account {username!r} exists outside the demo org units; refusing to reset"
                " its password (is this a production database?)"
            )
        else:
            user.password_hash = password_hash
            user.active = True
        user.must_change_password = False
        users[username] = user
    session.commit()
    return DemoAccounts(users=users, province=province, commune=commune)
