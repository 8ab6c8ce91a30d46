"""The Alembic revisions produce exactly the ORM metadata, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from item_bank.db import make_engine
from webapp.migrations import current_revisions, target_metadata, upgrade


def test_upgrade_head_matches_the_metadata_exactly(make_database_url) -> None:
    url = make_database_url(migrate=False)
    assert current_revisions(url) == ()
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, target_metadata())
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert differences == []
    assert {"items", "item_versions", "parameter_estimates", "item_exposures"} <= tables
    assert "0001_item_bank" in _all_revisions_to_head()
    assert current_revisions(url) != ()


def _all_revisions_to_head() -> set[str]:
    from alembic.script import ScriptDirectory

    from webapp.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {revision.revision for revision in script.walk_revisions()}


def test_upgrade_twice_is_a_no_op(make_database_url) -> None:
    url = make_database_url()
    before = current_revisions(url)
    upgrade(url)
    assert current_revisions(url) == before
