"""Alembic migrations of the one sathach schema (item bank and web app share one ``Base``).

Alembic is configured programmatically (``script_location`` is this package's folder), so the
migrations run from an installed package without an ``alembic.ini``. The item bank's revision
is ``0001_item_bank``; the web app's tables follow in later revisions on the same metadata.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from item_bank.db import Base, configured_database_url, make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
#: Modules that declare tables on the one Base (a module that does not exist yet is skipped).
MODEL_MODULES = ("item_bank.models", "webapp.models", "webapp.exams.models")


def target_metadata() -> MetaData:
    """The metadata every migration must produce: all tables of all model modules.

    Each package with tables imports its model module here, so that Alembic's autogenerate and
    the schema test see every table of the one ``Base``.
    """
    for module in MODEL_MODULES:
        if module == "item_bank.models" or importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return Base.metadata


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic configuration for ``url`` (default: the configured database) or an open
    ``connection`` (used as is, so a test's schema and transaction are respected)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url or configured_database_url()
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(
    url: str | None = None, revision: str = "head", *, connection: Connection | None = None
) -> None:
    """Upgrade the database at ``url`` (or on ``connection``) to ``revision``."""
    command.upgrade(alembic_config(url, connection), revision)


def current_revisions(url: str | None = None) -> tuple[str, ...]:
    """The revisions the database at ``url`` is at (empty for a database never upgraded)."""
    engine = make_engine(url or configured_database_url())
    try:
        with engine.connect() as connection:
            return tuple(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
