"""Revision 0002_webapp: creates exactly the web app's tables on top of 0001 and removes them
again on downgrade (the head-equals-metadata test is in tests/item_bank/test_migrations.py)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from item_bank.db import make_engine
from webapp.migrations import alembic_config, current_revisions, upgrade

WEBAPP_TABLES = {
    "org_units",
    "users",
    "login_sessions",
    "api_tokens",
    "rate_limit_events",
    "audit_log",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_0002_adds_the_webapp_tables_and_downgrade_removes_them(make_database_url):
    url = make_database_url(migrate=False)
    upgrade(url, "0001_item_bank")
    before = _tables(url)
    assert not (before & WEBAPP_TABLES)
    upgrade(url, "0002_webapp")
    assert current_revisions(url) == ("0002_webapp",)
    assert _tables(url) - before == WEBAPP_TABLES
    command.downgrade(alembic_config(url), "0001_item_bank")
    assert _tables(url) == before
