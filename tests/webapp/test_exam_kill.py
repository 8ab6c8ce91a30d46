"""``kill -9`` of a real server mid-exam loses no acknowledged answer, and after a restart the
learner resumes at exactly the same item (gunicorn through ``sathach serve``, SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank.db import make_engine
from item_bank.models import Course
from item_bank.seed import seed_bank
from webapp.exams.definitions import ensure_course_exams, final_exam_id
from webapp.exams.models import ExamResponse
from webapp.exams.progress import mark_topics_completed
from webapp.models import OrgUnit, OrgUnitKind, Role, User
from webapp.services.passwords import hash_password

SECRET = "k" * 48
PASSWORD = "mat-khau-dai-1"
FINAL = final_exam_id("KNS-CBCX")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prepare(url: str) -> None:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            seed_bank(session)
            ensure_course_exams(session, "KNS-CBCX")
            unit = OrgUnit(code="X1", name="Xã Một", kind=OrgUnitKind.COMMUNE)
            session.add(unit)
            session.flush()
            user = User(username="hocvien", full_name="Học viên", org_unit_id=unit.id,
                        role=Role.LEARNER,
                        password_hash=hash_password(PASSWORD, "pbkdf2:sha256:1000"))
            session.add(user)
            session.flush()
            topics = [t.id for t in session.get(Course, "KNS-CBCX").topics]
            mark_topics_completed(session, user.id, topics, now=datetime.now(UTC))
            session.commit()
    finally:
        engine.dispose()


class Server:
    """``sathach serve`` in its own process group."""

    def __init__(self, url: str, folder: Any) -> None:
        self.url, self.folder = url, folder
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "SATHACH_DATABASE_URL": self.url, "SATHACH_SECRET_KEY": SECRET}
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from webapp.cli import main; main()", "serve", "--bind",
             f"127.0.0.1:{self.port}", "--workers", "2", "--no-access-log"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.folder,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not come up")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def _any_answer(item: dict[str, Any]) -> Any:
    first = item["options"][0]["id"]
    return [first] if item["type"] == "multiple_response" else first


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_answer_and_resumes_at_the_same_item(
    fresh_database_url, tmp_path
) -> None:
    _prepare(fresh_database_url)
    server = Server(fresh_database_url, tmp_path)
    server.start()
    try:
        status, issued = server.call("POST", "/auth/token",
                                     {"username": "hocvien", "password": PASSWORD})
        assert status == 200, issued
        token = issued["token"]
        status, body = server.call("POST", f"/exams/{FINAL}/sessions", token=token)
        assert status == 201
        session_id = body["session_id"]
        acknowledged = []
        for _ in range(4):
            item = body["item"]
            status, body = server.call(
                "POST", f"/sessions/{session_id}/responses",
                {"position": body["position"], "item_id": item["id"],
                 "answer": _any_answer(item)}, token=token)
            assert status == 200, body
            acknowledged.append(item["id"])
        waiting = body["item"]
        server.kill(signal.SIGKILL)
    except BaseException:
        server.kill(signal.SIGKILL)
        raise
    engine = make_engine(fresh_database_url)
    try:
        with Session(engine) as session:
            stored = session.scalars(select(ExamResponse.item_id).where(
                ExamResponse.session_id == session_id).order_by(ExamResponse.position)).all()
    finally:
        engine.dispose()
    assert stored == acknowledged
    server.start()
    try:
        status, resumed = server.call("GET", f"/sessions/{session_id}", token=token)
        assert status == 200
        assert resumed["position"] == 5 and resumed["item"] == waiting
        status, again = server.call("POST", f"/exams/{FINAL}/sessions", token=token)
        assert status == 200 and again["session_id"] == session_id
        status, next_reply = server.call(
            "POST", f"/sessions/{session_id}/responses",
            {"position": 5, "item_id": waiting["id"], "answer": _any_answer(waiting)},
            token=token)
        assert status == 200 and next_reply["position"] == 6
    finally:
        server.kill(signal.SIGTERM)
