"""``sathach db``: create and upgrade the database schema with Alembic."""

from __future__ import annotations

import click

from item_bank.db import configured_database_url


@click.group("db")
def cli() -> None:
    """Lược đồ cơ sở dữ liệu / Database schema (SATHACH_DATABASE_URL, default instance/)."""


@cli.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.option(
    "--url",
    envvar="SATHACH_DATABASE_URL",
    default=None,
    help="Database URL (default: SATHACH_DATABASE_URL or instance/sathach.sqlite).",
)
def upgrade_command(revision: str, url: str | None) -> None:
    """Nâng cấp lược đồ / Upgrade the schema to REVISION (head by default)."""
    from webapp.migrations import current_revisions, upgrade

    target = url or configured_database_url()
    upgrade(target, revision)
    heads = ", ".join(current_revisions(target)) or "(none)"
    click.echo(f"Cơ sở dữ liệu ở phiên bản / Database at revision: {heads}")


@cli.command("current")
@click.option(
    "--url",
    envvar="SATHACH_DATABASE_URL",
    default=None,
    help="Database URL (default: SATHACH_DATABASE_URL or instance/sathach.sqlite).",
)
def current_command(url: str | None) -> None:
    """Phiên bản lược đồ hiện tại / Show the schema revision of the database."""
    from webapp.migrations import current_revisions

    heads = ", ".join(current_revisions(url or configured_database_url()))
    click.echo(heads or "(chưa khởi tạo / not initialised)")
