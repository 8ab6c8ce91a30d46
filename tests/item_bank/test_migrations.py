"""The Alembic revisions produce exactly the ORM metadata, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect

from item_bank.db import Base, make_engine
from webapp.migrations import alembic_config, current_revisions, target_metadata, upgrade

ITEM_BANK_REVISION = "0001_item_bank"


def _differences(url: str, metadata: MetaData) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def _item_bank_metadata() -> MetaData:
    target_metadata()
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for mapper in Base.registry.mappers:
        if mapper.class_.__module__ == "item_bank.models":
            mapper.local_table.to_metadata(metadata)
    return metadata


def test_item_bank_revision_creates_exactly_the_item_bank_tables(make_database_url) -> None:
    url = make_database_url(migrate=False)
    assert current_revisions(url) == ()
    upgrade(url, ITEM_BANK_REVISION)
    assert current_revisions(url) == (ITEM_BANK_REVISION,)
    metadata = _item_bank_metadata()
    assert {"items", "item_versions", "parameter_estimates", "item_exposures"} <= set(
        metadata.tables
    )
    differences = [
        difference
        for difference in _differences(url, metadata)
        # tables of later revisions are not there yet; everything else must match
        if not (difference[0] == "remove_table" and difference[1].name not in metadata.tables)
    ]
    assert differences == []


def test_upgrade_head_produces_exactly_the_metadata(make_database_url) -> None:
    url = make_database_url(migrate=False)
    upgrade(url)
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert current_revisions(url) == tuple(script.get_heads())
    assert _differences(url, target_metadata()) == []
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert set(target_metadata().tables) <= tables


def test_upgrade_twice_is_a_no_op(make_database_url) -> None:
    url = make_database_url()
    before = current_revisions(url)
    upgrade(url)
    assert current_revisions(url) == before
