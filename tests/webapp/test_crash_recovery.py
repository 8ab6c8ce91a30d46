"""``kill -9`` of a real server mid-exam loses no acknowledged answer, and the learner resumes at
exactly the same item and position.

A real ``sathach serve`` (gunicorn, two workers) runs on a free loopback port over a fresh
database (SQLite, and PostgreSQL when ``TEST_DATABASE_URL`` is set) prepared by ``sathach demo``'s
``prepare_demo``. A learner answers part of the final exam through the JSON API, then the whole
server (master and workers, one process group) is killed with SIGKILL twice: once while the
learner reads the next item, once with an answer in flight; each time a new server starts on the
same port. Every acknowledged answer is still stored as given, the session resumes at the
acknowledged item, the retried in-flight answer is stored exactly once, and the exam runs to its
end.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from item_bank.db import make_engine
from item_bank.models import Item, ItemVersion
from webapp.demo import prepare_demo
from webapp.exams.definitions import final_exam_id
from webapp.exams.models import ExamResponse
from webapp.models import utcnow

pytestmark = pytest.mark.slow

COURSE = "KNS-CBCX"
FINAL = final_exam_id(COURSE)
LEARNER = "learner1"
DEMO_PASSWORD = "demo"
DEMO_HISTORY_EXAMINEES = 500  # the smallest history `sathach demo` accepts
ANSWERED_BEFORE_CRASH = 6


@pytest.fixture
def demo_database(fresh_database_url: str) -> Iterator[Engine]:
    """A fresh database prepared by ``sathach demo``'s :func:`webapp.demo.prepare_demo`: the
    calibrated seed bank, the demo accounts, and ``learner1`` eligible for the final exam."""
    engine = make_engine(fresh_database_url)
    with Session(engine) as session:
        prepare_demo(
            session, password=DEMO_PASSWORD, now=utcnow(), n_examinees=DEMO_HISTORY_EXAMINEES
        )
    yield engine
    engine.dispose()


@pytest.fixture
def server(demo_database: Engine, fresh_database_url: str, live_server: Any) -> Any:
    return live_server(fresh_database_url)


def _answer_for(engine: Engine, item: dict[str, Any], position: int) -> Any:
    """A right answer at odd positions and a wrong one at even positions (read from the bank)."""
    with Session(engine) as session:
        current = session.get(Item, item["id"]).current_version_number
        version = session.scalar(
            select(ItemVersion).where(
                ItemVersion.item_id == item["id"], ItemVersion.version == current
            )
        )
        options = [option["id"] for option in version.options]
        right = position % 2 == 1
        if version.type == "multiple_response":
            return list(version.key) if right else [o for o in options if o not in version.key][:1]
        if version.type == "ordered":
            ranked = sorted(version.options, key=lambda option: option["score"])
            return ranked[-1 if right else 0]["id"]
        return version.key if right else next(o for o in options if o != version.key)


def _stored(engine: Engine, session_id: int) -> list[tuple[int, str, Any]]:
    with Session(engine) as session:
        rows = session.execute(
            select(ExamResponse.position, ExamResponse.item_id, ExamResponse.answer)
            .where(ExamResponse.session_id == session_id)
            .order_by(ExamResponse.position)
        )
        return [(position, item_id, answer) for position, item_id, answer in rows]


def test_kill_9_mid_exam_loses_no_acknowledged_answer_and_resumes_at_the_same_item(
    server: Any, demo_database: Engine
) -> None:
    status, body = server.request(
        "POST", "/api/v1/auth/token", body={"username": LEARNER, "password": DEMO_PASSWORD}
    )
    assert status == 200, body
    token = body["token"]
    status, state = server.request("POST", f"/api/v1/exams/{FINAL}/sessions", token=token)
    assert status == 201, state
    session_id = state["session_id"]
    acknowledged: list[tuple[int, str, Any]] = []
    while len(acknowledged) < ANSWERED_BEFORE_CRASH:
        position, item = state["position"], state["item"]
        answer = _answer_for(demo_database, item, position)
        status, state = server.request(
            "POST",
            f"/api/v1/sessions/{session_id}/responses",
            token=token,
            body={"position": position, "item_id": item["id"], "answer": answer},
        )
        assert status == 200 and state["status"] == "open", state
        acknowledged.append((position, item["id"], answer))
    last_acknowledged = state
    assert last_acknowledged["position"] == ANSWERED_BEFORE_CRASH + 1

    # First crash: the learner is reading the next item when the whole server dies.
    server.kill()
    assert _stored(demo_database, session_id) == acknowledged
    server.start()
    status, resumed = server.request("GET", f"/api/v1/sessions/{session_id}", token=token)
    assert status == 200, resumed
    # Exactly where the learner was: same position, same item, same payload, the clock running.
    assert resumed["status"] == "open"
    assert resumed["position"] == last_acknowledged["position"]
    assert resumed["item"] == last_acknowledged["item"]
    assert resumed["time_left_s"] <= last_acknowledged["time_left_s"]
    status, again = server.request("POST", f"/api/v1/exams/{FINAL}/sessions", token=token)
    assert status == 200 and again["session_id"] == session_id  # resumed, not a new attempt
    assert again["position"] == resumed["position"] and again["item"] == resumed["item"]

    # Second crash: an answer is in flight (sent, reply not read) when the server dies.
    in_flight = {
        "position": resumed["position"],
        "item_id": resumed["item"]["id"],
        "answer": _answer_for(demo_database, resumed["item"], resumed["position"]),
    }
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        payload = json.dumps(in_flight).encode()
        connection.sendall(
            (
                f"POST /api/v1/sessions/{session_id}/responses HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            + payload
        )
        server.kill()
    stored = _stored(demo_database, session_id)
    assert stored[:ANSWERED_BEFORE_CRASH] == acknowledged  # nothing acknowledged was lost
    assert len(stored) in (ANSWERED_BEFORE_CRASH, ANSWERED_BEFORE_CRASH + 1)  # nor half-stored
    in_flight_stored = len(stored) == ANSWERED_BEFORE_CRASH + 1
    if in_flight_stored:
        assert stored[-1] == (in_flight["position"], in_flight["item_id"], in_flight["answer"])

    server.start()
    status, resumed = server.request("GET", f"/api/v1/sessions/{session_id}", token=token)
    assert status == 200 and resumed["status"] == "open", resumed
    assert resumed["position"] == len(stored) + 1
    if not in_flight_stored:
        assert resumed["item"]["id"] == in_flight["item_id"]

    # The phone retries the answer it never saw acknowledged: stored exactly once, and the
    # reply is the state the server resumed at.
    status, state = server.request(
        "POST", f"/api/v1/sessions/{session_id}/responses", token=token, body=in_flight
    )
    assert status == 200, state
    assert len(_stored(demo_database, session_id)) == ANSWERED_BEFORE_CRASH + 1
    if in_flight_stored:
        assert state["position"] == resumed["position"] and state["item"] == resumed["item"]

    # And the exam goes on to its end after the restart.
    sent = [*acknowledged, (in_flight["position"], in_flight["item_id"], in_flight["answer"])]
    while state["status"] == "open":
        position, item = state["position"], state["item"]
        answer = _answer_for(demo_database, item, position)
        status, state = server.request(
            "POST",
            f"/api/v1/sessions/{session_id}/responses",
            token=token,
            body={"position": position, "item_id": item["id"], "answer": answer},
        )
        assert status == 200, state
        sent.append((position, item["id"], answer))
        assert len(sent) <= 30, "the exam did not stop at its maximum length"
    assert state["status"] == "finished"
    assert _stored(demo_database, session_id) == sent
    status, result = server.request("GET", f"/api/v1/sessions/{session_id}/result", token=token)
    assert status == 200 and result["scale_score"] is not None, result
