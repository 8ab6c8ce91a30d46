"""Org units and scoping: an admin or manager of a province sees the province and its communes
and wards; one of a commune sees only that commune.

``actor=None`` stands for the operator at the command line, who is not scoped.
"""

from __future__ import annotations

import re

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.exceptions import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from webapp.models import OrgUnit, OrgUnitKind, User

ORG_UNIT_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def get_org_unit(session: Session, org_unit_id: int) -> OrgUnit:
    """The org unit with ``org_unit_id``; :class:`NotFoundError` if there is none."""
    org_unit = session.get(OrgUnit, org_unit_id)
    if org_unit is None:
        raise NotFoundError(gettext("No such org unit: %(id)s.", id=org_unit_id))
    return org_unit


def find_org_unit_by_code(session: Session, code: str) -> OrgUnit | None:
    """The org unit whose code is ``code`` (case-insensitive), or None."""
    return session.scalar(select(OrgUnit).where(OrgUnit.code == code.strip().upper()))


def org_unit_subtree_ids(session: Session, root_id: int) -> set[int]:
    """``root_id`` and the ids of every unit below it (communes and wards of a province)."""
    found = {root_id}
    frontier = {root_id}
    while frontier:
        children = set(session.scalars(select(OrgUnit.id).where(OrgUnit.parent_id.in_(frontier))))
        frontier = children - found
        found |= frontier
    return found


def visible_org_unit_ids(session: Session, user: User | None) -> set[int] | None:
    """The org units ``user`` may see (its unit and those below); None means all (operator)."""
    if user is None:
        return None
    return org_unit_subtree_ids(session, user.org_unit_id)


def is_org_unit_in_scope(session: Session, user: User | None, org_unit_id: int) -> bool:
    """Whether ``org_unit_id`` is ``user``'s unit or below it."""
    visible = visible_org_unit_ids(session, user)
    return visible is None or org_unit_id in visible


def require_org_unit_in_scope(session: Session, user: User | None, org_unit_id: int) -> None:
    """Raise :class:`PermissionDeniedError` unless ``org_unit_id`` is in ``user``'s scope."""
    if not is_org_unit_in_scope(session, user, org_unit_id):
        raise PermissionDeniedError(gettext("This org unit is outside your area."))


def require_user_in_scope(session: Session, actor: User | None, target: User) -> None:
    """Raise :class:`PermissionDeniedError` unless ``target`` belongs to ``actor``'s scope."""
    if not is_org_unit_in_scope(session, actor, target.org_unit_id):
        raise PermissionDeniedError(gettext("This account is outside your area."))


def list_org_units(session: Session, actor: User | None) -> list[OrgUnit]:
    """The org units in ``actor``'s scope, each province followed by its communes and wards."""
    statement = select(OrgUnit)
    visible = visible_org_unit_ids(session, actor)
    if visible is not None:
        statement = statement.where(OrgUnit.id.in_(visible))
    units = list(session.scalars(statement))
    by_parent: dict[int | None, list[OrgUnit]] = {}
    ids = {unit.id for unit in units}
    for unit in units:
        parent = unit.parent_id if unit.parent_id in ids else None
        by_parent.setdefault(parent, []).append(unit)
    ordered: list[OrgUnit] = []

    def visit(parent: int | None) -> None:
        for unit in sorted(by_parent.get(parent, []), key=lambda u: (u.name, u.code)):
            ordered.append(unit)
            visit(unit.id)

    visit(None)
    return ordered


def create_org_unit(
    session: Session,
    actor: User | None,
    *,
    code: str,
    name: str,
    kind: OrgUnitKind | str,
    parent_id: int | None = None,
) -> OrgUnit:
    """Create an org unit and commit.

    A province has no parent and only the operator (``actor=None``) creates one; a commune or
    ward belongs to a province in ``actor``'s scope.

    Raises
    ------
    InvalidInputError
        Bad code, name, kind or parent.
    PermissionDeniedError
        The parent is outside ``actor``'s scope, or an admin tries to create a province.
    ConflictError
        The code is taken.
    """
    code = code.strip().upper()
    name = name.strip()
    if not ORG_UNIT_CODE_PATTERN.match(code):
        raise InvalidInputError(
            gettext(
                "Invalid org unit code %(code)r: use 1 to 32 letters, digits, '.', '_' or '-'.",
                code=code,
            )
        )
    if not name or len(name) > 200:
        raise InvalidInputError(gettext("The name must have 1 to 200 characters."))
    try:
        kind = OrgUnitKind(kind)
    except ValueError:
        raise InvalidInputError(gettext("Unknown org unit kind %(kind)r.", kind=kind)) from None
    if kind is OrgUnitKind.PROVINCE:
        if parent_id is not None:
            raise InvalidInputError(gettext("A province has no parent unit."))
        if actor is not None:
            raise PermissionDeniedError(
                gettext("Provinces are created by the operator with 'sathach users'.")
            )
    else:
        if parent_id is None:
            raise InvalidInputError(gettext("A commune or ward belongs to a province."))
        parent = get_org_unit(session, parent_id)
        if parent.kind is not OrgUnitKind.PROVINCE:
            raise InvalidInputError(gettext("A commune or ward belongs to a province."))
        require_org_unit_in_scope(session, actor, parent_id)
    if find_org_unit_by_code(session, code) is not None:
        raise ConflictError(gettext("The org unit code %(code)s is taken.", code=code))
    org_unit = OrgUnit(code=code, name=name, kind=kind, parent_id=parent_id)
    session.add(org_unit)
    session.commit()
    return org_unit
