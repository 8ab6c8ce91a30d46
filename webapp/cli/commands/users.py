"""``sathach users``: the operator's account commands (database from ``SATHACH_DATABASE_URL``).

``create-admin`` makes the first admin of a deployment (``sathach serve`` never creates one),
``add-org-unit`` adds provinces, communes and wards, ``import`` creates accounts from a CSV file,
all or nothing. The operator is not scoped: these commands reach every org unit.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session

PASSWORD_VARIABLE = "SATHACH_ADMIN_PASSWORD"


@contextmanager
def _app_session() -> Iterator[tuple[Flask, Session]]:
    """An app context (Vietnamese messages, configured database) and its session."""
    from webapp.app import create_app
    from webapp.extensions import db

    app = create_app()
    try:
        with app.app_context():
            yield app, db.session
    finally:
        db.engine(app).dispose()


@click.group("users")
def cli() -> None:
    """Tài khoản và đơn vị / Accounts and org units (operator commands)."""


@cli.command("create-admin")
@click.option("--username", required=True, help="Username of the new admin.")
@click.option("--org-unit", "org_unit_code", required=True, help="Code of the admin's org unit.")
@click.option(
    "--org-unit-name",
    default=None,
    help="Create the org unit as a new province with this name if the code does not exist.",
)
@click.option("--full-name", default=None, help="Full name (default: the username).")
@click.option("--email", default=None, help="E-mail address.")
@click.option(
    "--password-env",
    default=PASSWORD_VARIABLE,
    show_default=True,
    help="Environment variable holding the password; prompted for when it is not set.",
)
def create_admin(
    username: str,
    org_unit_code: str,
    org_unit_name: str | None,
    full_name: str | None,
    email: str | None,
    password_env: str,
) -> None:
    """Tạo quản trị viên / Create an admin account (the password is prompted or read from env)."""
    from webapp.exceptions import WebappError
    from webapp.models import OrgUnitKind, Role
    from webapp.services import accounts, org_units

    password = os.environ.get(password_env)
    if not password:
        password = click.prompt(
            "Mật khẩu / Password", hide_input=True, confirmation_prompt=True, err=True
        )
    with _app_session() as (app, session):
        try:
            unit = org_units.find_org_unit_by_code(session, org_unit_code)
            if unit is None:
                if not org_unit_name:
                    raise click.ClickException(
                        f"Không có đơn vị mã {org_unit_code!r}; thêm --org-unit-name để tạo tỉnh"
                        f" mới. / No org unit {org_unit_code!r}: pass --org-unit-name to create"
                        " it as a province."
                    )
                unit = org_units.create_org_unit(
                    session,
                    None,
                    code=org_unit_code,
                    name=org_unit_name,
                    kind=OrgUnitKind.PROVINCE,
                )
            created = accounts.create_user(
                session,
                None,
                username=username,
                full_name=full_name or username,
                email=email,
                org_unit_id=unit.id,
                role=Role.ADMIN,
                password=password,
                must_change_password=False,
                hash_method=app.config["PASSWORD_HASH_METHOD"],
                min_password_length=int(app.config["PASSWORD_MIN_LENGTH"]),
            )
        except WebappError as error:
            raise click.ClickException(error.message) from None
    click.echo(
        f"Đã tạo quản trị viên / Admin created: {created.username} ({created.org_unit_code})"
    )


@cli.command("add-org-unit")
@click.option("--code", required=True, help="Unique code, e.g. HN or HN-BADINH.")
@click.option("--name", required=True, help="Name, e.g. 'Hà Nội'.")
@click.option(
    "--kind",
    type=click.Choice(["province", "commune", "ward"]),
    default="province",
    show_default=True,
)
@click.option("--parent", "parent_code", default=None, help="Province code (communes, wards).")
def add_org_unit(code: str, name: str, kind: str, parent_code: str | None) -> None:
    """Thêm đơn vị / Add a province, commune or ward."""
    from webapp.exceptions import WebappError
    from webapp.services import org_units

    with _app_session() as (_app, session):
        try:
            parent_id = None
            if parent_code:
                parent = org_units.find_org_unit_by_code(session, parent_code)
                if parent is None:
                    raise click.ClickException(
                        f"Không có đơn vị mã {parent_code!r}. / No org unit {parent_code!r}."
                    )
                parent_id = parent.id
            unit = org_units.create_org_unit(
                session, None, code=code, name=name, kind=kind, parent_id=parent_id
            )
        except WebappError as error:
            raise click.ClickException(error.message) from None
        click.echo(f"Đã tạo đơn vị / Org unit created: {unit.code} ({unit.kind.value})")


@cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--passwords-out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write username,temporary_password to this CSV file instead of the screen.",
)
def import_users(csv_file: Path, passwords_out: Path | None) -> None:
    """Nhập tài khoản từ CSV / Import accounts from CSV_FILE (username,full_name,org_unit,role,
    email); nothing is imported if any row has an error."""
    from webapp.exceptions import CsvImportError, WebappError
    from webapp.services import csv_import

    with _app_session() as (_app, session):
        try:
            text = csv_import.decode_csv_upload(csv_file.read_bytes())
            result = csv_import.import_users_csv(
                session,
                None,
                text,
            )
        except CsvImportError as error:
            for row_error in error.errors:
                location = f"{csv_file}:{row_error.row}"
                if row_error.column:
                    location += f" [{row_error.column}]"
                click.echo(f"{location}: {row_error.message}", err=True)
            raise click.ClickException(error.message) from None
        except WebappError as error:
            raise click.ClickException(error.message) from None
    rows = [(account.username, account.temporary_password or "") for account in result.accounts]
    if passwords_out is not None:
        with passwords_out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["username", "temporary_password"])
            writer.writerows(rows)
        os.chmod(passwords_out, 0o600)
    else:
        writer = csv.writer(sys.stdout)
        writer.writerow(["username", "temporary_password"])
        writer.writerows(rows)
    click.echo(f"Đã nhập {len(rows)} tài khoản. / {len(rows)} accounts imported.", err=True)
