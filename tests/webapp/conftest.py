"""Fixtures of the web-app tests (flaskr style: ``app``, ``client``, ``runner``, ``auth``).

Every test runs on SQLite and, when ``TEST_DATABASE_URL`` is set, again on PostgreSQL, on the
migrated databases of ``tests/conftest.py`` (a schema of its own per test session): a fresh copy
of a migrated SQLite file per test, or the session's PostgreSQL schema emptied after each test.
``make_app`` builds further apps on the same database (two "workers"). Time is a
:class:`FakeClock` the tests move instead of sleeping.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from item_bank.db import make_engine
from item_bank.models import Course, Item, ItemVersion
from item_bank.seed import seed_bank
from webapp import create_app
from webapp.exams.certificates import issue_certificate
from webapp.exams.definitions import ensure_course_exams, final_exam_id
from webapp.exams.models import ExamSession
from webapp.exams.progress import mark_topics_completed
from webapp.extensions import db
from webapp.migrations import target_metadata
from webapp.models import OrgUnit, OrgUnitKind, Role, User
from webapp.services.passwords import hash_password

FAST_HASH = "pbkdf2:sha256:1000"  # production uses scrypt; tests need speed, not strength
PASSWORD = "correct-horse-1"
SECRET = "test-secret-key-that-is-long-enough-0123456789"


class FakeClock:
    """A UTC clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass(frozen=True)
class Database:
    """Where a test's apps store their data."""

    url: str
    engine_options: dict[str, Any]


@pytest.fixture(scope="session")
def _webapp_database_template(make_database_url: Callable[..., str]) -> str:
    """One migrated database of this session's backend (``tests/conftest.py``)."""
    return make_database_url()


@pytest.fixture
def database(_webapp_database_template: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database for one test.

    SQLite: a copy of the session's migrated file (copying is much faster than migrating).
    PostgreSQL: the session's own schema, emptied after the test.
    """
    template = _webapp_database_template
    if template.startswith("sqlite"):
        copy = tmp_path / "webapp.sqlite"
        shutil.copyfile(make_url(template).database or "", copy)
        yield Database(url=f"sqlite:///{copy}", engine_options={})
        return
    yield Database(url=template, engine_options={})
    engine = make_engine(template)
    # DELETE, children first: on tiny tables it is much cheaper than TRUNCATE's new files.
    with engine.begin() as connection:
        for table in reversed(target_metadata().sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_app(database: Database, clock: FakeClock) -> Iterator[Callable[..., Flask]]:
    """Build apps on the test's database; extra settings override the test defaults."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        config = {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "DATABASE_URL": database.url,
            "DATABASE_ENGINE_OPTIONS": database.engine_options,
            "PASSWORD_HASH_METHOD": FAST_HASH,
            "CLOCK": clock,
        }
        config.update(overrides)
        built = create_app(config)
        apps.append(built)
        return built

    yield build
    for built in apps:
        db.engine(built).dispose()
        redis_client = built.extensions.get("sathach.redis")
        if redis_client is not None:
            redis_client.close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A database session of ``app`` inside an app context, for arranging and checking data."""
    with app.app_context():
        yield db.session


@dataclass(frozen=True)
class World:
    """The seeded org units and accounts (every password is ``PASSWORD``).

    Province HN has communes HN-X1 and HN-X2; province HP has commune HP-X1.
    """

    units: dict[str, int]
    users: dict[str, int]


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        session = db.session
        units: dict[str, OrgUnit] = {}
        for code, name, kind, parent in [
            ("HN", "Hà Nội", OrgUnitKind.PROVINCE, None),
            ("HN-X1", "Xã Một", OrgUnitKind.COMMUNE, "HN"),
            ("HN-X2", "Phường Hai", OrgUnitKind.WARD, "HN"),
            ("HP", "Hải Phòng", OrgUnitKind.PROVINCE, None),
            ("HP-X1", "Xã Ba", OrgUnitKind.COMMUNE, "HP"),
        ]:
            unit = OrgUnit(
                code=code, name=name, kind=kind, parent_id=units[parent].id if parent else None
            )
            session.add(unit)
            session.flush()
            units[code] = unit
        password_hash = hash_password(PASSWORD, FAST_HASH)
        users: dict[str, User] = {}
        for username, role, unit_code in [
            ("admin_hn", Role.ADMIN, "HN"),
            ("admin_x1", Role.ADMIN, "HN-X1"),
            ("admin_hp", Role.ADMIN, "HP"),
            ("manager_hn", Role.MANAGER, "HN"),
            ("psy", Role.PSYCHOMETRICIAN, "HN"),
            ("learner_x1", Role.LEARNER, "HN-X1"),
            ("learner_x2", Role.LEARNER, "HN-X2"),
            ("learner_hp", Role.LEARNER, "HP-X1"),
        ]:
            user = User(
                username=username,
                full_name=f"Người {username}",
                email=f"{username}@example.vn",
                org_unit_id=units[unit_code].id,
                role=role,
                password_hash=password_hash,
            )
            session.add(user)
            users[username] = user
        session.commit()
        return World(
            units={code: unit.id for code, unit in units.items()},
            users={name: user.id for name, user in users.items()},
        )


_CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def recorded_statements() -> Callable[[Engine], contextlib.AbstractContextManager[list[str]]]:
    """``with recorded_statements(engine) as statements:`` lists the SQL that reached the
    database driver in the block, whitespace collapsed. On PostgreSQL it is read at psycopg's
    cursor, so statements sent below SQLAlchemy's ``Connection`` (the answer's store) count
    too; SQLite's cursors cannot be patched, so there it is SQLAlchemy's cursor event."""

    @contextlib.contextmanager
    def record(engine: Engine) -> Iterator[list[str]]:
        statements: list[str] = []

        def note(statement: Any) -> None:
            if isinstance(statement, bytes):
                statement = statement.decode()
            text = statement if isinstance(statement, str) else repr(statement)  # psycopg.sql
            statements.append(" ".join(text.split()))

        if engine.dialect.name != "postgresql":

            def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                note(statement)

            event.listen(engine, "before_cursor_execute", on_execute)
            try:
                yield statements
            finally:
                event.remove(engine, "before_cursor_execute", on_execute)
            return
        import psycopg

        originals = {name: getattr(psycopg.Cursor, name) for name in ("execute", "executemany")}

        def traced(name: str) -> Callable[..., Any]:
            def run(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
                note(query)
                return originals[name](cursor, query, *args, **kwargs)

            return run

        for name in originals:
            setattr(psycopg.Cursor, name, traced(name))
        try:
            yield statements
        finally:
            for name, original in originals.items():
                setattr(psycopg.Cursor, name, original)

    return record


@pytest.fixture
def bank(app: Flask, world: World, clock: FakeClock) -> World:
    """The seed bank and the course's exams; learner_x1 has completed every topic."""
    with app.app_context():
        session = db.session
        seed_bank(session)
        ensure_course_exams(session, "KNS-CBCX")
        topics = [t.id for t in session.get(Course, "KNS-CBCX").topics]
        mark_topics_completed(session, world.users["learner_x1"], topics, now=clock())
        session.commit()
    return world


@pytest.fixture
def issue_certificate_to(app: Flask, bank: World, clock: FakeClock) -> Callable[[str], str]:
    """``issue_certificate_to(username)``: the code of a certificate issued at the clock's time
    to a seeded account for a stored, passed final exam, as finishing the exam issues it (holder
    name and org unit from the account). Each call is one more attempt and certificate."""
    attempts: Counter[str] = Counter()

    def issue(username: str) -> str:
        attempts[username] += 1
        with app.app_context():
            session = db.session
            exam_session = ExamSession(
                user_id=bank.users[username],
                exam_id=final_exam_id("KNS-CBCX"),
                attempt=attempts[username],
                status="finished",
                end_reason="classified",
                seed=attempts[username],
                started_at=clock(),
                finished_at=clock(),
                blueprint={},
                pool_version="x",
                pool_items={},
                excluded_items=[],
                theta=1.0,
                se=0.3,
                scale_score=600.0,
                passed=True,
                result={},
            )
            session.add(exam_session)
            session.flush()
            code = issue_certificate(session, exam_session, now=clock()).code
            session.commit()
            return code

    return issue


@pytest.fixture
def keyed_answer() -> Callable[..., Any]:
    """``keyed_answer(app, item, right=True)``: the keyed answer (or the best category) of an
    item payload, or a wrong one."""

    def answer(app: Flask, item: dict[str, Any], *, right: bool = True) -> Any:
        with app.app_context():
            session = db.session
            item_row = session.get(Item, item["id"])
            version = session.scalar(
                select(ItemVersion).where(
                    ItemVersion.item_id == item["id"],
                    ItemVersion.version == item_row.current_version_number,
                )
            )
            options = [option["id"] for option in version.options]
            if version.type == "multiple_response":
                wrong = [o for o in options if o not in version.key][:1]
                return list(version.key) if right else wrong
            if version.type == "ordered":
                ranked = sorted(version.options, key=lambda option: option["score"])
                return ranked[-1 if right else 0]["id"]
            return version.key if right else next(o for o in options if o != version.key)

    return answer


def csrf_token_of(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    match = _CSRF_PATTERN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def csrf() -> Callable[[FlaskClient, str], str]:
    """``csrf(client, url)``: GET ``url`` and return its form's CSRF token."""

    def fetch(client: FlaskClient, url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return csrf_token_of(response.get_data(as_text=True))

    return fetch


class AuthActions:
    """Log a test client in and out through the real forms (with their CSRF tokens)."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(
        self, username: str = "admin_hn", password: str = PASSWORD, *, next_url: str | None = None
    ) -> Any:
        url = "/auth/login" + (f"?next={next_url}" if next_url else "")
        token = csrf_token_of(self._client.get(url).get_data(as_text=True))
        return self._client.post(
            url, data={"username": username, "password": password, "csrf_token": token}
        )

    def logout(self) -> Any:
        token = csrf_token_of(self._client.get("/").get_data(as_text=True))
        return self._client.post("/auth/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def api_token(client: FlaskClient) -> Callable[..., str]:
    """``api_token(username)``: a Bearer token for a seeded account."""

    def issue(username: str = "learner_x1", password: str = PASSWORD) -> str:
        response = client.post(
            "/api/v1/auth/token", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()["token"]

    return issue


@pytest.fixture
def login_with() -> Callable[..., Any]:
    """``login_with(client, username, password)``: log any client in through the form."""

    def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
        return AuthActions(client).login(username, password)

    return login


# --------------------------------------------------------------------------------------------
# A real server process, for the crash-recovery and browser tests
# --------------------------------------------------------------------------------------------

LIVE_SERVER_SECRET = "live-server-secret-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """``sathach serve`` (gunicorn) in its own process group on a fixed loopback port.

    ``start`` waits for ``/healthz``; ``kill`` SIGKILLs master and workers at once (a power cut);
    ``stop`` terminates them; ``request`` makes one JSON API call. A restarted server keeps the
    port, so clients see the same address.
    """

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        workers: int = 2,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.workers = workers
        env = {key: value for key, value in os.environ.items() if not key.startswith("SATHACH_")}
        env.update(SATHACH_SECRET_KEY=LIVE_SERVER_SECRET, SATHACH_DATABASE_URL=database_url)
        env.update(environment or {})
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        command = [
            sys.executable, "-c", "from webapp.cli import main; main()", "serve",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            "--threads", "4",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                status, _body = self.request("GET", "/healthz", timeout=2)
                if status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"the server did not answer within {timeout_s} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the master and every worker at once, as a power cut or the OOM killer would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        # The workers are in the same group; wait until none of them holds the port any more.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.process = None

    def stop(self) -> None:
        """Terminate the server and its workers (SIGTERM, then SIGKILL after 10 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            if process is not None:
                _kill_group_quietly(process.pid)
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        timeout: float = 15.0,
    ) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=payload, headers=headers)
            reply = connection.getresponse()
            data = reply.read()
        finally:
            connection.close()
        is_json = reply.getheader("Content-Type", "").startswith("application/json")
        return reply.status, json.loads(data) if is_json else data

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]


def _kill_group_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """``live_server(database_url, workers=2, environment=None)``: a started ``LiveServer``,
    stopped after the test whatever happens."""
    started: list[LiveServer] = []

    def start(database_url: str, **options: Any) -> LiveServer:
        server = LiveServer(database_url, tmp_path / f"server-{len(started)}.log", **options)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def right_answer_form() -> Callable[[Flask, str], dict[str, Any]]:
    """``right_answer_form(app, page)``: the form that answers the item on an exam page right
    (the keyed option, all keyed options, or the best-scored category)."""
    return _right_answer_form


def _right_answer_form(app: Flask, page: str) -> dict[str, Any]:
    form: dict[str, Any] = {
        name: re.search(rf'name="{name}" value="([^"]+)"', page).group(1)
        for name in ("csrf_token", "position", "item_id", "item_type")
    }
    with app.app_context():
        item = db.session.get(Item, form["item_id"])
        version = db.session.scalar(
            select(ItemVersion).where(
                ItemVersion.item_id == item.id, ItemVersion.version == item.current_version_number
            )
        )
        if version.type == "multiple_response":
            form["answer"] = list(version.key)
        elif version.type == "ordered":
            form["answer"] = max(version.options, key=lambda option: option["score"])["id"]
        else:
            form["answer"] = version.key
    return form
