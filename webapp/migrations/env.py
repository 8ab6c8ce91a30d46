"""Alembic environment: runs the migrations online, on the connection handed over by
:func:`webapp.migrations.alembic_config` or on an engine for its database URL."""

from __future__ import annotations

from alembic import context

from item_bank.db import make_engine
from webapp.migrations import target_metadata

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.attributes["database_url"])
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("sathach runs its migrations online only (sathach db upgrade)")
run_migrations_online()
