"""``sathach sweep`` and ``sathach rescore`` on a migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import case, update
from sqlalchemy.orm import Session, sessionmaker

from item_bank.db import make_engine
from item_bank.models import Course
from item_bank.seed import seed_bank
from webapp.cli import main
from webapp.exams import services
from webapp.exams.definitions import ensure_course_exams, final_exam_id
from webapp.exams.models import ExamResponse, ExamSession
from webapp.exams.pools import PoolCache
from webapp.exams.progress import mark_topics_completed
from webapp.models import OrgUnit, OrgUnitKind, Role, User

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _prepare(url: str) -> tuple[int, int]:
    """An abandoned session (2 answers, deadline passed) and a finished one; their ids."""
    engine = make_engine(url)
    try:
        with sessionmaker(bind=engine, expire_on_commit=False)() as session:
            seed_bank(session)
            ensure_course_exams(session, "KNS-CBCX")
            unit = OrgUnit(code="X1", name="Xã Một", kind=OrgUnitKind.COMMUNE)
            session.add(unit)
            session.flush()
            users = []
            for name in ("gone", "done"):
                user = User(
                    username=name,
                    full_name=name,
                    org_unit_id=unit.id,
                    role=Role.LEARNER,
                    password_hash="x",
                )
                session.add(user)
                users.append(user)
            session.flush()
            topics = [t.id for t in session.get(Course, "KNS-CBCX").topics]
            for user in users:
                mark_topics_completed(session, user.id, topics, now=START)
            session.commit()
            cache = PoolCache()
            abandoned = _answer(session, cache, users[0], 2)
            finished = _answer(session, cache, users[1], None)
            return abandoned, finished
    finally:
        engine.dispose()


def _answer(session: Session, cache: PoolCache, user: User, count: int | None) -> int:
    view, _ = services.start_session(session, cache, user, final_exam_id("KNS-CBCX"), now=START)
    answered = 0
    while not view.finished and (count is None or answered < count):
        answered += 1
        view = services.submit_answer(
            session,
            cache,
            user,
            view.session_id,
            position=view.position,
            item_id=view.item["id"],
            answer=view.item["options"][answered % 2]["id"]
            if view.item["type"] != "multiple_response"
            else [view.item["options"][0]["id"]],
            now=START + timedelta(seconds=30 * answered),
        )
    return view.session_id


def test_sweep_finalizes_abandoned_sessions_and_rescore_reproduces_them(
    fresh_database_url,
) -> None:
    abandoned, finished = _prepare(fresh_database_url)
    runner = CliRunner()
    early = runner.invoke(
        main, ["sweep", "--url", fresh_database_url, "--now", "2026-03-02T08:30:00"]
    )
    assert early.exit_code == 0, early.output
    assert "0 session(s)" in early.output
    swept = runner.invoke(
        main, ["sweep", "--url", fresh_database_url, "--now", "2026-03-02T08:41:00+00:00"]
    )
    assert swept.exit_code == 0, swept.output
    assert f"1 session(s) past their time limit: {abandoned}" in swept.output
    for session_id in (abandoned, finished):
        result = runner.invoke(
            main, ["rescore", str(session_id), "--url", fresh_database_url, "--json"]
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.output[: result.output.rindex("}") + 1])
        assert report["identical"] is True
        assert report["stored"] == report["recomputed"]
    engine = make_engine(fresh_database_url)
    try:
        with Session(engine) as session:
            stored = session.get(ExamSession, abandoned)
            assert stored.status == "finished" and stored.end_reason == "time_limit"
            assert stored.result["n_scored"] == 2
            session.execute(
                update(ExamResponse)
                .where(ExamResponse.session_id == abandoned)
                .values(score=case((ExamResponse.score == 0, 1), else_=0))
            )
            session.commit()
    finally:
        engine.dispose()
    tampered = runner.invoke(main, ["rescore", str(abandoned), "--url", fresh_database_url])
    assert tampered.exit_code == 1
    assert "DIFFERS" in tampered.output
    missing = runner.invoke(main, ["rescore", "99999", "--url", fresh_database_url])
    assert missing.exit_code == 2


def test_rescore_on_another_machine_agrees_within_the_tolerance(fresh_database_url) -> None:
    """A stored result whose numbers differ from the recomputed ones in the last bits, as one
    scored on another CPU may: the rescore agrees (exit 0) and says it is not bit for bit."""
    _, finished = _prepare(fresh_database_url)
    engine = make_engine(fresh_database_url)
    try:
        with Session(engine) as session:
            stored = session.get(ExamSession, finished)
            result = dict(stored.result)
            result["theta"] += 1e-12
            stored.result = result
            session.commit()
    finally:
        engine.dispose()
    runner = CliRunner()
    plain = runner.invoke(main, ["rescore", str(finished), "--url", fresh_database_url])
    assert plain.exit_code == 0, plain.output
    assert "agrees" in plain.output and "not bit for bit" in plain.output
    as_json = runner.invoke(main, ["rescore", str(finished), "--url", fresh_database_url, "--json"])
    report = json.loads(as_json.output[: as_json.output.rindex("}") + 1])
    assert report["identical"] is False and report["agrees"] is True
    assert 0 < report["max_difference"] < 1e-9


def test_sweep_refuses_a_bad_time(fresh_database_url) -> None:
    result = CliRunner().invoke(main, ["sweep", "--url", fresh_database_url, "--now", "soon"])
    assert result.exit_code == 2 and "ISO" in result.output
