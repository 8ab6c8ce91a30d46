"""The engine factory: configured URL, SQLite transaction modes and savepoints."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, select, text

from item_bank import db as db_module
from item_bank.db import configured_database_url, default_database_url, make_engine
from item_bank.frameworks import load_taxonomy, packaged_taxonomy
from item_bank.items import create_item, record_administration
from item_bank.models import ItemExposure


def test_the_configured_url_is_the_environment_or_the_instance_sqlite(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("SATHACH_DATABASE_URL", "postgresql+psycopg://db.example/sathach")
    assert configured_database_url(tmp_path) == "postgresql+psycopg://db.example/sathach"
    monkeypatch.delenv("SATHACH_DATABASE_URL")
    url = configured_database_url(tmp_path / "instance")
    assert url == default_database_url(tmp_path / "instance")
    assert url.endswith("/instance/sathach.sqlite") and (tmp_path / "instance").is_dir()


def test_a_rolled_back_savepoint_undoes_only_its_own_work(db_session, make_content) -> None:
    load_taxonomy(db_session, packaged_taxonomy())
    create_item(db_session, "KEEP-1", make_content(topic_id=None), actor="t")
    with pytest.raises(RuntimeError), db_session.begin_nested():
        create_item(db_session, "DROP-1", make_content(topic_id=None), actor="t")
        raise RuntimeError("undo")
    ids = db_session.scalars(select(ItemExposure.item_id)).all()
    assert ids == ["KEEP-1"]


def test_sqlite_transactions_can_take_the_write_lock_at_once(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'modes.sqlite'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE counter (n INTEGER)"))
            connection.execute(text("INSERT INTO counter VALUES (0)"))
        immediate = engine.execution_options(sqlite_begin="IMMEDIATE")

        def read_then_write(_: int) -> None:
            # read first, then write: with a deferred BEGIN this fails "database is locked"
            # when another writer commits in between; IMMEDIATE queues the writers instead
            for _ in range(20):
                with immediate.begin() as connection:
                    value = connection.execute(text("SELECT n FROM counter")).scalar_one()
                    connection.execute(text("UPDATE counter SET n = :n"), {"n": value + 1})

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(read_then_write, range(4)))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT n FROM counter")).scalar_one() == 80
        with (
            pytest.raises(ValueError, match="sqlite_begin must be one of"),
            engine.execution_options(sqlite_begin="LATER").begin(),
        ):
            pass
    finally:
        engine.dispose()


def test_exposure_update_is_a_single_atomic_statement(db_session, make_content) -> None:
    load_taxonomy(db_session, packaged_taxonomy())
    version = create_item(db_session, "X-1", make_content(topic_id=None), actor="t")
    statements: list[str] = []
    connection = db_session.connection()

    def remember(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", remember)
    try:
        record_administration(db_session, [version.current_version.id])
    finally:
        event.remove(connection, "before_cursor_execute", remember)
    counter_updates = [s for s in statements if s.startswith("UPDATE item_exposures")]
    assert len(counter_updates) == 1
    assert "count=(item_exposures.count +" in counter_updates[0].replace(" = ", "=")
    # no read-modify-write: the counter is never read in the update path
    assert not any(s.startswith("SELECT") and "item_exposures" in s for s in statements)


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL is not set")
def test_a_pooled_connection_is_pinged_only_after_sitting_idle(monkeypatch) -> None:
    engine = make_engine(os.environ["TEST_DATABASE_URL"], pool_size=1, max_overflow=0)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        with engine.connect() as connection:
            backend_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as connection:  # in steady use: no ping before the statement
            connection.execute(text("SELECT 1 AS steady"))
        assert not [s for s in statements if s.strip().lower() == "select 1"]
        # the server drops the connection while it sits in the pool (a restart, an idle kill)
        admin = make_engine(os.environ["TEST_DATABASE_URL"])
        with admin.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid})
        admin.dispose()
        clock = db_module.time.monotonic
        monkeypatch.setattr(
            db_module.time, "monotonic", lambda: clock() + db_module.PING_AFTER_IDLE_S
        )
        with engine.connect() as connection:  # idle long enough: pinged, found dead, replaced
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != backend_pid
    finally:
        engine.dispose()


def test_sqlite_folds_the_case_of_vietnamese_letters_as_postgresql_does(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fold.sqlite'}")
    try:
        with engine.connect() as connection:
            folded = connection.execute(
                text("SELECT lower('TRẦN ĐỨC Ánh'), upper('nguyễn thị hương'), lower(NULL)")
            ).one()
            matched = connection.execute(
                text("SELECT lower('Lê ĐỨC Thọ') LIKE '%đức%'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert tuple(folded) == ("trần đức ánh", "NGUYỄN THỊ HƯƠNG", None)
    assert matched == 1
