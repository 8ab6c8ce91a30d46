"""Database fixtures shared by every test package.

Every database test runs on SQLite and, when ``TEST_DATABASE_URL`` is set (``.ci/run`` sets it,
e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), once more on PostgreSQL: the
``database_url`` fixture is parametrized over both backends and the fixtures below build on it.

Several engineers' test runs share the one PostgreSQL ``test`` database at the same time, so each
pytest session creates its own schema ``sathach_test_<random>``, puts it first on the
``search_path`` (through the libpq ``options`` of the URL, so the URL also works for a CLI
subprocess) and drops it at the end.

Fixtures
--------
database_url (session)
    URL of a migrated database (``alembic upgrade head``) for this session and backend:
    an SQLite file in a temporary folder, or the session's own PostgreSQL schema.
engine (session)
    An engine for ``database_url`` (``item_bank.db.make_engine``).
db_session (function)
    A ``Session`` joined to an outer transaction that is rolled back after the test
    (``join_transaction_mode="create_savepoint"``): the test may call ``commit()`` and
    ``rollback()`` freely and still leaves nothing behind. Use it for almost every test.
fresh_database_url (function)
    A brand-new migrated database on the same backend, for tests that must commit for real
    (several connections, threads, processes, CLI commands); dropped after the test.
make_database_url (session)
    Factory behind ``fresh_database_url``: ``make_database_url(migrate=False)`` gives an
    empty database (for migration tests).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from item_bank.db import make_engine

TEST_DATABASE_URL_VARIABLE = "TEST_DATABASE_URL"


def _backends() -> list[object]:
    postgres_url = os.environ.get(TEST_DATABASE_URL_VARIABLE)
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not postgres_url, reason=f"{TEST_DATABASE_URL_VARIABLE} is not set"
                ),
            ],
        ),
    ]


class _DatabaseFactory:
    """Creates (and later drops) throw-away databases: SQLite files or PostgreSQL schemas."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self._schemas: list[str] = []
        self._admin: Engine | None = None
        if backend == "postgresql":
            self._admin = make_engine(os.environ[TEST_DATABASE_URL_VARIABLE])

    def create(self, *, migrate: bool = True) -> str:
        name = f"sathach_test_{secrets.token_hex(6)}"
        if self.backend == "sqlite":
            url = f"sqlite:///{self.folder / (name + '.sqlite')}"
        else:
            assert self._admin is not None
            with self._admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{name}"'))
            self._schemas.append(name)
            base = make_url(os.environ[TEST_DATABASE_URL_VARIABLE])
            url = base.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(
                hide_password=False
            )
        if migrate:
            from webapp.migrations import upgrade

            upgrade(url)
        return url

    def drop(self, url: str) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(make_url(url).database + suffix).unlink(missing_ok=True)
            return
        schema = make_url(url).query["options"].split("=", 1)[1]
        assert self._admin is not None
        with self._admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self._schemas.remove(schema)

    def close(self) -> None:
        if self._admin is None:
            return
        with self._admin.begin() as connection:
            for schema in self._schemas:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self._admin.dispose()


@pytest.fixture(scope="session", params=_backends())
def _database_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_DatabaseFactory]:
    factory = _DatabaseFactory(request.param, tmp_path_factory.mktemp(f"db-{request.param}"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def make_database_url(_database_factory: _DatabaseFactory) -> Callable[..., str]:
    """Factory of throw-away databases on the session's backend (see the module docstring)."""
    return _database_factory.create


@pytest.fixture(scope="session")
def database_url(_database_factory: _DatabaseFactory) -> str:
    """URL of this session's migrated database on the parametrized backend."""
    return _database_factory.create()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """Engine of this session's migrated database."""
    test_engine = make_engine(database_url)
    yield test_engine
    test_engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        if outer.is_active:
            outer.rollback()
        connection.close()


@pytest.fixture
def fresh_database_url(_database_factory: _DatabaseFactory) -> Iterator[str]:
    """A new migrated database on the session's backend, dropped after the test."""
    url = _database_factory.create()
    yield url
    _database_factory.drop(url)
