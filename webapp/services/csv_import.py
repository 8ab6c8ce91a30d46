"""Bulk creation of accounts from a CSV file ``username,full_name,org_unit,role,email``.

Every row is checked before anything is written; one bad row rejects the whole file, and the
error list names each problem's row (the header is row 1) and column.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext, ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.exceptions import CsvImportError, InvalidInputError, RowError
from webapp.models import AuditEntry, OrgUnit, User, utcnow
from webapp.services.accounts import (
    CreatedAccount,
    _new_user,
    email_error,
    full_name_error,
    generate_temporary_password,
    normalise_username,
    parse_role,
    require_admin,
    username_error,
)
from webapp.services.org_units import visible_org_unit_ids
from webapp.services.passwords import TEMPORARY_HASH_METHOD, hash_password

CSV_COLUMNS = ("username", "full_name", "org_unit", "role", "email")
MAX_ROWS = 5000


@dataclass(frozen=True)
class ImportResult:
    """The accounts an import created, each with its temporary password (show them once)."""

    accounts: list[CreatedAccount]


def decode_csv_upload(data: bytes) -> str:
    """The text of an uploaded CSV (UTF-8, with or without Excel's byte-order mark)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CsvImportError(
            gettext("The file is not UTF-8 text."),
            [
                RowError(
                    row=0,
                    column="",
                    message=gettext(
                        "Byte %(position)d is not UTF-8: save the file as 'CSV UTF-8'.",
                        position=error.start,
                    ),
                )
            ],
        ) from None


def import_users_csv(
    session: Session,
    actor: User | None,
    text: str,
    *,
    hash_method: str = TEMPORARY_HASH_METHOD,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Create every account of the CSV ``text`` in ``actor``'s scope, or none, and commit.

    Org units are given by code. New accounts get a temporary password (hashed with
    ``hash_method``, by default the fast one fit for random one-time passwords) and must change
    it at first login.

    Raises
    ------
    CsvImportError
        With every problem found (bad header, values, duplicate or taken usernames, org units
        unknown or outside the scope); nothing was stored.
    PermissionDeniedError
        ``actor`` is not an admin.
    """
    require_admin(actor)
    reader = csv.reader(io.StringIO(text, newline=""))
    errors: list[RowError] = []
    header = next(reader, None)
    if header is None:
        raise CsvImportError(
            gettext("The file is empty."),
            [
                RowError(
                    1,
                    "",
                    gettext(
                        "The file is empty: the first row must be the header %(h)s.",
                        h=",".join(CSV_COLUMNS),
                    ),
                )
            ],
        )
    header = [name.strip().lower() for name in header]
    if header != list(CSV_COLUMNS):
        raise CsvImportError(
            gettext("The header row is wrong."),
            [
                RowError(
                    1,
                    "",
                    gettext(
                        "The header must be %(expected)s, not %(found)s.",
                        expected=",".join(CSV_COLUMNS),
                        found=",".join(header),
                    ),
                )
            ],
        )
    units = {unit.code: unit for unit in session.scalars(select(OrgUnit))}
    units_by_id = {unit.id: unit for unit in units.values()}
    visible = visible_org_unit_ids(session, actor)
    rows: list[tuple[int, dict[str, str]]] = []
    for values in reader:
        row_number = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(CSV_COLUMNS):
            errors.append(
                RowError(
                    row_number,
                    "",
                    gettext(
                        "%(found)d values instead of %(expected)d.",
                        found=len(values),
                        expected=len(CSV_COLUMNS),
                    ),
                )
            )
            continue
        rows.append((row_number, dict(zip(CSV_COLUMNS, (v.strip() for v in values), strict=True))))
        if len(rows) > MAX_ROWS:
            raise CsvImportError(
                gettext("The file is too long."),
                [RowError(row_number, "", gettext("At most %(n)d accounts per file.", n=MAX_ROWS))],
            )
    if not rows and not errors:
        errors.append(RowError(2, "", gettext("The file has no accounts after the header.")))

    first_row_of: dict[str, int] = {}
    for row_number, record in rows:
        username = normalise_username(record["username"])
        record["username"] = username
        problem = username_error(username)
        if problem:
            errors.append(RowError(row_number, "username", problem))
        elif username in first_row_of:
            errors.append(
                RowError(
                    row_number,
                    "username",
                    gettext(
                        "%(username)s already appears in row %(row)d.",
                        username=username,
                        row=first_row_of[username],
                    ),
                )
            )
        else:
            first_row_of[username] = row_number
        problem = full_name_error(record["full_name"])
        if problem:
            errors.append(RowError(row_number, "full_name", problem))
        unit = units.get(record["org_unit"].upper())
        if unit is None:
            errors.append(
                RowError(
                    row_number,
                    "org_unit",
                    gettext("Unknown org unit code %(code)r.", code=record["org_unit"]),
                )
            )
        elif visible is not None and unit.id not in visible:
            errors.append(
                RowError(
                    row_number,
                    "org_unit",
                    gettext("The org unit %(code)s is outside your area.", code=unit.code),
                )
            )
        try:
            parse_role(record["role"])
        except InvalidInputError as error:
            errors.append(RowError(row_number, "role", error.message))
        problem = email_error(record["email"])
        if problem:
            errors.append(RowError(row_number, "email", problem))
    if first_row_of:
        taken = set(
            session.scalars(select(User.username).where(User.username.in_(list(first_row_of))))
        )
        for username in sorted(taken, key=first_row_of.__getitem__):
            errors.append(
                RowError(
                    first_row_of[username],
                    "username",
                    gettext("The username %(username)s is taken.", username=username),
                )
            )
    if errors:
        errors.sort(key=lambda e: (e.row, CSV_COLUMNS.index(e.column) if e.column else -1))
        raise CsvImportError(
            ngettext(
                "%(num)d error: nothing was imported.",
                "%(num)d errors: nothing was imported.",
                len(errors),
            ),
            errors,
        )

    now = now or utcnow()
    pending: list[tuple[User, str]] = []
    for _row_number, record in rows:
        unit = units[record["org_unit"].upper()]
        password = generate_temporary_password()
        user = _new_user(
            record["username"],
            record["full_name"],
            record["email"],
            unit,
            parse_role(record["role"]),
            hash_password(password, hash_method),
            now,
        )
        user.must_change_password = True
        pending.append((user, password))
    session.add_all([user for user, _password in pending])
    session.flush()  # one round of inserts, then the ids exist for the audit entries
    created: list[CreatedAccount] = []
    for user, password in pending:
        created.append(
            CreatedAccount(
                user.id,
                user.username,
                user.full_name,
                user.role,
                units_by_id[user.org_unit_id].code,
                password,
            )
        )
        session.add(
            AuditEntry(
                occurred_at=now,
                actor_id=actor.id if actor is not None else None,
                action="user.create",
                target_user_id=user.id,
                org_unit_id=user.org_unit_id,
                ip_address=ip_address,
                details=json.dumps(
                    {"username": user.username, "role": user.role.value, "via": "csv"},
                    sort_keys=True,
                ),
            )
        )
    session.commit()
    return ImportResult(accounts=created)
