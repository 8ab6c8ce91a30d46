"""The one SQLAlchemy declarative base of sathach and the engine for the configured database.

The embedded default is an SQLite file under ``instance/``; production sets any SQLAlchemy URL in
``SATHACH_DATABASE_URL`` (PostgreSQL is the tested one). Sessions are created by callers and
passed in: nothing here opens one for a data function.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import MetaData, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached

T = TypeVar("T")

DATABASE_URL_VARIABLE = "SATHACH_DATABASE_URL"
DEFAULT_INSTANCE_DIR = Path("instance")
DEFAULT_SQLITE_NAME = "sathach.sqlite"

#: Execution option choosing how SQLite transactions begin: "DEFERRED" (default) or, for a
#: transaction that reads and then writes under concurrency, "IMMEDIATE" (takes the write lock
#: at once, so concurrent writers wait for each other instead of failing "database is locked").
SQLITE_BEGIN_OPTION = "sqlite_begin"
SQLITE_BEGIN_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base shared by the item bank and the web app (one metadata, one schema)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def column_values(instance: Any) -> dict[str, Any]:
    """The mapped column attributes of ``instance``: what :func:`attach_loaded` takes back."""
    mapper = inspect(instance).mapper
    return {attribute.key: getattr(instance, attribute.key) for attribute in mapper.column_attrs}


def attach_loaded(session: Session, cls: type[T], values: dict[str, Any]) -> T:
    """A persistent ``cls`` of ``session`` for column ``values`` read earlier, without a query.

    It is the instance ``session`` already holds for that primary key, or else a new one whose
    columns are set as loaded state, as a query's row would set them (no change events,
    nothing to flush); its relationships load on first use, as usual. This is how a worker
    reuses rows it cached for a few seconds (an API token's user, an exam definition): a
    request gets its own instance, never one shared with another session or thread. The
    values are not copied, so a cached mutable value (a JSON document) must not be changed in
    place, which no mapped JSON column tracks anyway.
    """
    mapper = inspect(cls)
    identity = mapper.identity_key_from_primary_key(
        tuple(values[mapper.get_property_by_column(column).key] for column in mapper.primary_key)
    )
    existing = session.identity_map.get(identity)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    instance = mapper.class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance  # type: ignore[no-any-return]


def default_database_url(instance_dir: Path | str = DEFAULT_INSTANCE_DIR) -> str:
    """The embedded default: an SQLite file in ``instance_dir``, which is created if missing."""
    folder = Path(instance_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / DEFAULT_SQLITE_NAME).resolve()}"


def configured_database_url(instance_dir: Path | str = DEFAULT_INSTANCE_DIR) -> str:
    """``SATHACH_DATABASE_URL`` when set, else the embedded SQLite default."""
    return os.environ.get(DATABASE_URL_VARIABLE) or default_database_url(instance_dir)


def make_engine(url: str, **engine_options: Any) -> Engine:
    """Create an engine with the settings sathach relies on for ``url``'s backend.

    SQLite gets foreign keys, write-ahead logging and a busy timeout, so that several server
    processes can share one file, and ``lower()``/``upper()`` that fold every letter, as
    PostgreSQL's do in a UTF-8 database (SQLite's own fold A-Z only, so a search for "đức"
    would not find "ĐỨC"). On other databases a connection that sat idle in the pool for
    :data:`PING_AFTER_IDLE_S` or longer is pinged when checked out and replaced if the server
    went away (a restarted PostgreSQL is survived); a connection in steady use is not, which
    saves a round trip per request (``pool_pre_ping=True`` in ``engine_options`` pings always).

    On SQLite the driver's own transaction handling is switched off and SQLAlchemy emits
    ``BEGIN`` itself (the recipe of SQLAlchemy's pysqlite documentation): without it, pysqlite
    starts transactions late and ``SAVEPOINT`` (``Session.begin_nested``, the test sessions
    joined to an outer transaction) does not nest properly. Transactions begin ``DEFERRED``;
    ``engine.execution_options(sqlite_begin="IMMEDIATE")`` gives an engine whose transactions
    take the write lock at once (for read-then-write requests such as recording an answer).
    """
    if url.startswith("sqlite"):
        engine_options.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **engine_options)
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    engine = create_engine(url, **engine_options)
    if not engine_options.get("pool_pre_ping"):
        event.listen(engine, "checkin", _note_checkin)
        event.listen(engine, "checkout", _ping_if_idle(engine))
    return engine


#: Seconds in the pool after which a connection is pinged before it is used again.
PING_AFTER_IDLE_S = 10.0
_CHECKED_IN_AT = "sathach_checked_in_at"


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _ping_if_idle(engine: Engine) -> Any:
    dialect = engine.dialect

    def ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_S:
            return  # new, or in steady use
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # the pool discards this connection and checks out another (SQLAlchemy's recipe
            # for pessimistic disconnect handling)
            raise DisconnectionError(f"stale pooled connection: {error}") from error

    return ping


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # autocommit at the driver level: SQLAlchemy's "begin" event below emits BEGIN
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    if not _is_memory_database(dbapi_connection):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    dbapi_connection.create_function("upper", 1, _unicode_upper, deterministic=True)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _unicode_upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _begin_sqlite_transaction(connection: Any) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    if mode not in SQLITE_BEGIN_MODES:
        raise ValueError(f"{SQLITE_BEGIN_OPTION} must be one of {SQLITE_BEGIN_MODES}, got {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _is_memory_database(dbapi_connection: Any) -> bool:
    cursor = dbapi_connection.cursor()
    try:
        rows = cursor.execute("PRAGMA database_list").fetchall()
    finally:
        cursor.close()
    return any(row[1] == "main" and not row[2] for row in rows)
