"""Storing an answer without locking first: the write of the common case, guarded in SQL.

A worker that holds the current state of a session (built from committed responses, which never
change) knows the position and item the next answer must have, so it can score the answer, step
the engine and then store the response with a guard instead of a lock:

- the session row must still be the learner's, have the same seed (the same row, not another
  one that got the same id) and be open, read ``FOR SHARE`` so that a concurrent finalization
  (``sathach sweep``, a time limit) either comes first and the guard fails, or waits;
- ``UNIQUE(session_id, position)`` lets only one answer per position in (two tabs, a retry);
- the item's exposure counter grows by one and a first administration marks the version, in
  the same transaction, only when the response went in.

When the guard fails nothing is stored and :func:`store_answer` returns False: the caller then
takes the general path (lock, count, replay), which knows what to answer. On PostgreSQL the
whole write is one statement; on SQLite, which serialises writers, a few in one transaction.

The answer that ends an exam is stored the same way by :func:`store_final_answer`, in the
transaction that then finishes the session, with the row locked for update first.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, bindparam, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from item_bank.items import record_administration
from item_bank.models import utc_now
from webapp.exams.models import ExamResponse, ExamSession, SessionStatus
from webapp.models import UTCDateTime


@dataclass(frozen=True)
class AnswerRow:
    """One response to store, with what the guard checks it against."""

    session_id: int
    user_id: int
    seed: int
    position: int
    item_id: str
    item_version_id: int
    answer: Any
    score: int
    pretest: bool
    answered_at: datetime

    def response_values(self) -> dict[str, Any]:
        """The ``exam_responses`` columns of this answer."""
        return {
            "session_id": self.session_id,
            "position": self.position,
            "item_id": self.item_id,
            "item_version_id": self.item_version_id,
            "answer": self.answer,
            "score": self.score,
            "pretest": self.pretest,
            "answered_at": self.answered_at,
        }


# One statement on PostgreSQL. Data-modifying CTEs all run, once; each later one sees the rows
# the INSERT returned, so nothing is counted or marked unless the response went in. The INSERT
# also requires the exposure counter and the version of the item, so that a response never goes
# in without its count (record_administration's guarantee).
_STORE_POSTGRESQL = text(
    """
WITH open_session AS (
    SELECT id FROM exam_sessions
    WHERE id = :session_id AND user_id = :user_id AND seed = :seed AND status = :open
    FOR SHARE
), inserted AS (
    INSERT INTO exam_responses
        (session_id, position, item_id, item_version_id, answer, score, pretest, answered_at)
    SELECT open_session.id, CAST(:position AS INTEGER), CAST(:item_id AS VARCHAR),
           CAST(:item_version_id AS INTEGER), :answer, CAST(:score AS INTEGER), :pretest,
           :answered_at
    FROM open_session
    WHERE EXISTS (SELECT 1 FROM item_exposures WHERE item_id = CAST(:item_id AS VARCHAR))
      AND EXISTS (
          SELECT 1 FROM item_versions
          WHERE id = CAST(:item_version_id AS INTEGER) AND item_id = CAST(:item_id AS VARCHAR)
      )
    ON CONFLICT (session_id, position) DO NOTHING
    RETURNING item_id
), marked AS (
    UPDATE item_versions SET administered_at = :exposed_at
    WHERE :mark_administered AND id = CAST(:item_version_id AS INTEGER)
      AND administered_at IS NULL
      AND EXISTS (SELECT 1 FROM inserted)
)
UPDATE item_exposures SET count = count + 1, last_exposed_at = :exposed_at
WHERE item_id IN (SELECT item_id FROM inserted)
"""
).bindparams(
    bindparam("answer", type_=JSON),
    bindparam("pretest", type_=Boolean),
    bindparam("mark_administered", type_=Boolean),
    bindparam("answered_at", type_=UTCDateTime()),
    bindparam("exposed_at", type_=DateTime(timezone=True)),
)

_GUARD_SQLITE = (
    update(ExamSession)
    .where(
        ExamSession.id == bindparam("of_session"),
        ExamSession.user_id == bindparam("of_user"),
        ExamSession.seed == bindparam("of_seed"),
        ExamSession.status == SessionStatus.OPEN.value,
    )
    .values(seed=ExamSession.seed)
    .execution_options(synchronize_session=False)
)
_INSERT_SQLITE = sqlite_insert(ExamResponse.__table__).on_conflict_do_nothing(
    index_elements=["session_id", "position"]
)


_SESSIONS = ExamSession.__table__.c
_LOCK_OPEN_POSTGRESQL = (
    select(_SESSIONS.id)
    .where(
        _SESSIONS.id == bindparam("session_id"),
        _SESSIONS.user_id == bindparam("user_id"),
        _SESSIONS.seed == bindparam("seed"),
        _SESSIONS.status == SessionStatus.OPEN.value,
    )
    .with_for_update()
)


def store_answer(session: Session, row: AnswerRow, *, mark_administered: bool) -> bool:
    """Store ``row`` and count its item's exposure if the session is still open at that
    position; False (nothing written) otherwise. On PostgreSQL the write commits itself; on
    SQLite the caller commits, or rolls back on False.

    ``mark_administered`` is False when the caller knows the version is marked already.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        parameters = _postgresql_parameters(row, mark_administered)
        if isinstance(bind, Engine):
            return _store_autocommit(bind, parameters)
        return session.execute(_STORE_POSTGRESQL, parameters).rowcount == 1
    return _store_sqlite(session, row, mark_administered=mark_administered)


def store_final_answer(session: Session, row: AnswerRow, *, mark_administered: bool) -> bool:
    """Store ``row``, the answer that ends its exam, as :func:`store_answer` does, but in the
    caller's transaction, which then finishes the session and commits (or rolls back on False).

    On PostgreSQL the session row is locked for update first: the caller's UPDATE of it must
    not wait behind the share lock of a twin request (a double tap) that itself waits for this
    transaction's response to commit or not, which would be a deadlock. The twin waits for the
    lock instead, and then finds the session finished.
    """
    if session.get_bind().dialect.name != "postgresql":
        return _store_sqlite(session, row, mark_administered=mark_administered)
    guard = {"session_id": row.session_id, "user_id": row.user_id, "seed": row.seed}
    if session.execute(_LOCK_OPEN_POSTGRESQL, guard).first() is None:
        return False
    parameters = _postgresql_parameters(row, mark_administered)
    return session.execute(_STORE_POSTGRESQL, parameters).rowcount == 1


def _postgresql_parameters(row: AnswerRow, mark_administered: bool) -> dict[str, Any]:
    return {
        **row.response_values(),
        "user_id": row.user_id,
        "seed": row.seed,
        "open": SessionStatus.OPEN.value,
        "mark_administered": mark_administered,
        "exposed_at": utc_now(),
    }


def _store_sqlite(session: Session, row: AnswerRow, *, mark_administered: bool) -> bool:
    # the guard is a write, so it takes the database's write lock before anything else
    guard = {"of_session": row.session_id, "of_user": row.user_id, "of_seed": row.seed}
    if session.execute(_GUARD_SQLITE, guard).rowcount != 1:
        return False
    if session.execute(_INSERT_SQLITE, row.response_values()).rowcount != 1:
        return False
    record_administration(
        session,
        [row.item_version_id],
        items={row.item_version_id: row.item_id},
        administered=[] if mark_administered else [row.item_version_id],
    )
    return True


@dataclass(frozen=True)
class _DriverStatement:
    """The PostgreSQL statement as the driver takes it, with its parameters' conversions."""

    sql: str
    converters: dict[str, Callable[[Any], Any]]

    def parameters(self, values: dict[str, Any]) -> dict[str, Any]:
        converters = self.converters
        return {
            name: converters[name](value) if name in converters else value
            for name, value in values.items()
        }


_DRIVER_STATEMENTS: weakref.WeakKeyDictionary[Dialect, _DriverStatement] = (
    weakref.WeakKeyDictionary()
)


def _driver_statement(dialect: Dialect) -> _DriverStatement:
    statement = _DRIVER_STATEMENTS.get(dialect)
    if statement is None:
        compiled = _STORE_POSTGRESQL.compile(dialect=dialect)
        converters = {}
        for name, parameter in compiled.binds.items():
            converter = parameter.type.dialect_impl(dialect).bind_processor(dialect)
            if converter is not None:
                converters[name] = converter
        statement = _DRIVER_STATEMENTS.setdefault(
            dialect, _DriverStatement(compiled.string, converters)
        )
    return statement


def _store_autocommit(engine: Engine, values: dict[str, Any]) -> bool:
    """Run the store statement as its own transaction, on a pooled connection of its own, at
    the driver: no BEGIN and COMMIT round trips, nothing the request's session read is held
    meanwhile, and none of SQLAlchemy's per-statement work (this runs for nearly every answer).

    A driver error comes out as SQLAlchemy's, as from ``Connection.execute``; the connection it
    happened on is discarded, since whether it is still in autocommit is then unknown.
    """
    dialect = engine.dialect
    statement = _driver_statement(dialect)
    parameters = statement.parameters(values)
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        driver.autocommit = True
        with driver.cursor() as cursor:
            cursor.execute(statement.sql, parameters)
            stored = cursor.rowcount == 1
        driver.autocommit = False
        return stored
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, pooled.dbapi_connection, None)
        pooled.invalidate(error)
        raise DBAPIError.instance(
            statement.sql,
            parameters,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from error
    finally:
        pooled.close()
