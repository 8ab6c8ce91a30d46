"""Exam delivery services on a seeded bank: practice quizzes, the final exam, idempotent and
concurrent answers, time limits, resume after a restart, rescoring, retakes and certificates.

The bank is seeded once per module (SQLite, and PostgreSQL when ``TEST_DATABASE_URL`` is set);
each test makes its own learner, so tests never see each other's sessions.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

import webapp.exams.models  # noqa: F401  (registers the exam tables on Base.metadata)
from item_bank.db import Base, make_engine
from item_bank.models import Course, Item, ItemVersion
from item_bank.seed import seed_bank
from webapp.exams import recording, services
from webapp.exams.definitions import ensure_course_exams, final_exam_id, quiz_exam_id
from webapp.exams.models import Certificate, ExamResponse, ExamSession, TopicProgress
from webapp.exams.pools import PoolCache
from webapp.exams.progress import IneligibleReason, mark_topics_completed
from webapp.exams.recording import AnswerRow
from webapp.exceptions import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from webapp.models import OrgUnit, OrgUnitKind, Role, User

COURSE = "KNS-CBCX"
FINAL = final_exam_id(COURSE)
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_counter = itertools.count()


def _backends() -> list[Any]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL is not set"
                ),
            ],
        ),
    ]


@pytest.fixture(scope="module", params=_backends())
def bank(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine of a database with every table, the seed bank and the course's exams."""
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('exams') / 'exams.sqlite'}"
        engine = make_engine(url)
    else:
        url = os.environ["TEST_DATABASE_URL"]
        schema = f"exam_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(url)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        seed_bank(session)
        ensure_course_exams(session, COURSE)
        unit = OrgUnit(code="HN-X1", name="Xã Một", kind=OrgUnitKind.COMMUNE)
        session.add(unit)
        session.commit()
    yield engine
    engine.dispose()
    if schema is not None:
        admin = create_engine(os.environ["TEST_DATABASE_URL"])
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def factory(bank: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=bank, expire_on_commit=False)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as db_session:
        yield db_session


def _learner(session: Session, role: Role = Role.LEARNER) -> User:
    unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "HN-X1"))
    user = User(
        username=f"learner{next(_counter)}_{uuid.uuid4().hex[:6]}",
        full_name="Nguyễn Thị Hương",
        org_unit_id=unit_id,
        role=role,
        password_hash="unused",
    )
    session.add(user)
    session.commit()
    return user


def _complete_course(session: Session, user: User) -> None:
    course = session.get(Course, COURSE)
    mark_topics_completed(session, user.id, [t.id for t in course.topics], now=START)
    session.commit()


def _version(session: Session, item_id: str) -> ItemVersion:
    item = session.get(Item, item_id)
    return session.scalar(
        select(ItemVersion).where(
            ItemVersion.item_id == item_id, ItemVersion.version == item.current_version_number
        )
    )


def _answer(session: Session, item: dict[str, Any], *, right: bool) -> Any:
    """The keyed answer (or the best category) when ``right``, a wrong one otherwise."""
    version = _version(session, item["id"])
    options = [option["id"] for option in version.options]
    if version.type == "multiple_response":
        return list(version.key) if right else [o for o in options if o not in version.key][:1]
    if version.type == "ordered":
        ranked = sorted(version.options, key=lambda option: option["score"])
        return ranked[-1]["id"] if right else ranked[0]["id"]
    return version.key if right else next(o for o in options if o != version.key)


def _submit(
    session: Session,
    cache: PoolCache,
    user: User,
    view: services.SessionView,
    answer: Any,
    *,
    now: datetime,
) -> services.SessionView:
    """Answer the current item of ``view``."""
    return services.submit_answer(
        session,
        cache,
        user,
        view.session_id,
        position=view.position,
        item_id=view.item["id"],
        answer=answer,
        now=now,
    )


def _run(
    session: Session,
    cache: PoolCache,
    user: User,
    view: services.SessionView,
    *,
    right: bool,
    step_s: float = 20.0,
) -> services.SessionView:
    now = START
    while not view.finished:
        now += timedelta(seconds=step_s)
        view = _submit(
            session, cache, user, view, _answer(session, view.item, right=right), now=now
        )
    return view


def test_a_practice_quiz_teaches_after_each_answer_and_completes_the_topic(session) -> None:
    user = _learner(session)
    cache = PoolCache()
    view, created = services.start_session(session, cache, user, quiz_exam_id("T-SEC"), now=START)
    assert created and view.kind == "topic_quiz" and view.max_items == 5
    right_answers = 0
    for index in range(5):
        right = index % 2 == 0
        right_answers += right
        item = view.item
        view = services.submit_answer(
            session,
            cache,
            user,
            view.session_id,
            position=index + 1,
            item_id=item["id"],
            answer=_answer(session, item, right=right),
            now=START + timedelta(minutes=index + 1),
        )
        feedback = view.feedback
        assert feedback is not None and feedback.item_id == item["id"]
        assert feedback.correct is right
        assert feedback.explanation_vi == _version(session, item["id"]).explanation_vi
    assert view.finished and view.stop_reason == "form_complete"
    progress = session.get(TopicProgress, (user.id, "T-SEC"))
    assert progress.completed_at is not None
    assert (progress.best_correct, progress.n_items, progress.attempts) == (right_answers, 5, 1)


def test_the_final_exam_opens_only_when_the_course_rule_is_met(session) -> None:
    user = _learner(session)
    cache = PoolCache()
    with pytest.raises(PermissionDeniedError) as refused:
        services.start_session(session, cache, user, FINAL, now=START)
    assert refused.value.code == IneligibleReason.COURSE_INCOMPLETE
    course = session.get(Course, COURSE)
    mandatory = [t.id for t in course.topics if t.mandatory]
    mark_topics_completed(session, user.id, mandatory, now=START)
    session.commit()
    listing = {e.id: e for e in services.list_exams(session, user, now=START)}
    assert listing[FINAL].eligibility.reason == IneligibleReason.COURSE_INCOMPLETE  # 5 of 10
    electives = [t.id for t in course.topics if not t.mandatory][:5]
    mark_topics_completed(session, user.id, electives, now=START)
    session.commit()
    listing = {e.id: e for e in services.list_exams(session, user, now=START)}
    assert listing[FINAL].eligibility.eligible
    assert listing[FINAL].to_json()["adaptive"] is True


def test_a_passed_final_exam_issues_a_certificate_and_rescores_exactly(session) -> None:
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    assert view.time_left_s == 2400 and view.feedback is None
    final = _run(session, cache, user, view, right=True)
    assert final.result.passed is True
    assert final.result.scale_score > final.result.cut_score
    assert final.feedback is None  # the final exam never explains
    code = final.result.certificate_code
    certificate = session.scalar(select(Certificate).where(Certificate.code == code))
    assert certificate.user_id == user.id and certificate.status == "valid"
    assert (certificate.holder_name, certificate.org_unit_name) == (user.full_name, "Xã Một")
    report = services.rescore_session(session, final.session_id)
    assert report.identical, (report.stored, report.recomputed)
    stored = session.get(ExamSession, final.session_id)
    assert set(stored.pool_items) and stored.blueprint["mode"] == "adaptive"
    # a tampered stored score is noticed
    session.execute(
        update(ExamResponse)
        .where(ExamResponse.session_id == final.session_id, ExamResponse.position == 1)
        .values(score=0)
    )
    session.commit()
    assert not services.rescore_session(session, final.session_id).identical


def test_the_certificate_names_commune_and_province_and_the_result_need_not_read_it_back(
    session, bank, recorded_statements
) -> None:
    from webapp.exams.certificates import issue_certificate

    suffix = uuid.uuid4().hex[:6]
    province = OrgUnit(code=f"HN-{suffix}", name="Hà Nội", kind=OrgUnitKind.PROVINCE)
    session.add(province)
    session.flush()
    commune = OrgUnit(
        code=f"HN-{suffix}-X2", name="Xã Hai", kind=OrgUnitKind.COMMUNE, parent_id=province.id
    )
    session.add(commune)
    session.flush()
    user = _learner(session)
    user.org_unit_id = commune.id
    session.commit()
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    with recorded_statements(bank) as statements:
        view = _run(session, cache, user, view, right=True)
    assert view.result.passed and view.result.certificate_code
    assert not [s for s in statements if s.startswith("SELECT certificates.code")]
    certificate = session.scalar(
        select(Certificate).where(Certificate.code == view.result.certificate_code)
    )
    assert certificate.org_unit_name == "Xã Hai, Hà Nội"
    later = START + timedelta(hours=1)
    again = issue_certificate(session, session.get(ExamSession, view.session_id), now=later)
    assert again.id == certificate.id
    assert services.session_result(session, cache, user, view.session_id, now=later) == view.result


def test_a_failed_attempt_waits_for_the_retake_and_gets_no_certificate(session) -> None:
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    final = _run(session, cache, user, view, right=False)
    assert final.result.passed is False and final.result.certificate_code is None
    assert any(c.level == "study" for c in final.result.competencies)
    soon = START + timedelta(hours=2)
    with pytest.raises(PermissionDeniedError) as refused:
        services.start_session(session, cache, user, FINAL, now=soon)
    assert refused.value.code == IneligibleReason.RETAKE_WAIT
    later = START + timedelta(days=1, hours=1)
    view, created = services.start_session(session, cache, user, FINAL, now=later)
    assert created
    history = services.attempt_history(session, user, FINAL)
    assert [row.attempt for row in history] == [2, 1]


def test_the_same_answer_twice_stores_one_response_and_gets_the_same_reply(session) -> None:
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    item = view.item
    answer = _answer(session, item, right=True)
    first = services.submit_answer(
        session,
        cache,
        user,
        view.session_id,
        position=1,
        item_id=item["id"],
        answer=answer,
        now=START,
    )
    again = services.submit_answer(
        session,
        cache,
        user,
        view.session_id,
        position=1,
        item_id=item["id"],
        answer=answer,
        now=START,
    )
    assert again.to_json() == first.to_json()
    count = session.scalar(select(func.count()).where(ExamResponse.session_id == view.session_id))
    assert count == 1
    with pytest.raises(ConflictError) as other_answer:
        services.submit_answer(
            session,
            cache,
            user,
            view.session_id,
            position=1,
            item_id=item["id"],
            answer=_answer(session, item, right=False),
            now=START,
        )
    assert other_answer.value.code == "already_answered"
    with pytest.raises(ConflictError) as wrong_item:
        services.submit_answer(
            session,
            cache,
            user,
            view.session_id,
            position=2,
            item_id=item["id"],
            answer=answer,
            now=START,
        )
    assert wrong_item.value.code == "wrong_item"
    with pytest.raises(ConflictError) as ahead:
        services.submit_answer(
            session,
            cache,
            user,
            view.session_id,
            position=5,
            item_id=first.item["id"],
            answer=answer,
            now=START,
        )
    assert ahead.value.code == "wrong_position"
    with pytest.raises(InvalidInputError):
        services.submit_answer(
            session,
            cache,
            user,
            view.session_id,
            position=2,
            item_id=first.item["id"],
            answer="Z",
            now=START,
        )


def _post_concurrently(
    factory: sessionmaker[Session],
    cache: PoolCache,
    user_id: int,
    session_id: int,
    position: int,
    item_id: str,
    answer: Any,
    n_threads: int = 4,
    now: datetime = START,
) -> tuple[list[dict[str, Any]], list[BaseException]]:
    """Post one answer from ``n_threads`` threads at once, each with its own connection."""
    barrier = threading.Barrier(n_threads)
    replies: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def post() -> None:
        with factory() as own:
            learner = own.get(User, user_id)
            own.commit()
            barrier.wait()
            try:
                replies.append(
                    services.submit_answer(
                        own,
                        cache,
                        learner,
                        session_id,
                        position=position,
                        item_id=item_id,
                        answer=answer,
                        now=now,
                    ).to_json()
                )
            except BaseException as error:  # collected and reported by the caller
                errors.append(error)

    threads = [threading.Thread(target=post) for _ in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return replies, errors


def test_concurrent_posts_of_one_position_store_exactly_one_response(session, factory) -> None:
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    for position in (1, 2, 3):
        answer = _answer(session, view.item, right=position % 2 == 1)
        replies, errors = _post_concurrently(
            factory, cache, user.id, view.session_id, position, view.item["id"], answer
        )
        assert not errors, errors
        assert len(replies) == 4 and all(reply == replies[0] for reply in replies)
        session.rollback()  # a fresh snapshot: the threads committed after this session read
        stored = session.scalars(
            select(ExamResponse.position).where(ExamResponse.session_id == view.session_id)
        ).all()
        assert sorted(stored) == list(range(1, position + 1))
        view = services.get_session_view(session, cache, user, view.session_id, now=START)
        assert view.position == position + 1


def test_a_restart_resumes_at_exactly_the_same_item(session) -> None:
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    for position in range(1, 4):
        view = services.submit_answer(
            session,
            cache,
            user,
            view.session_id,
            position=position,
            item_id=view.item["id"],
            answer=_answer(session, view.item, right=True),
            now=START,
        )
    restarted = PoolCache()  # a new worker process: nothing in memory
    resumed = services.get_session_view(session, restarted, user, view.session_id, now=START)
    assert resumed.item == view.item and resumed.position == view.position == 4
    again, created = services.start_session(session, restarted, user, FINAL, now=START)
    assert not created and again.session_id == view.session_id and again.item == view.item
    assert restarted.loads == 1  # the pool was built once, then served from the cache
    for _ in range(3):
        services.get_session_view(session, restarted, user, view.session_id, now=START)
    assert restarted.loads == 1


def test_past_the_time_limit_a_session_is_finalized_at_its_next_request(session) -> None:
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    view = services.submit_answer(
        session,
        cache,
        user,
        view.session_id,
        position=1,
        item_id=view.item["id"],
        answer=_answer(session, view.item, right=True),
        now=START + timedelta(minutes=1),
    )
    late = START + timedelta(seconds=2401)
    reply = services.submit_answer(
        session,
        cache,
        user,
        view.session_id,
        position=2,
        item_id=view.item["id"],
        answer=_answer(session, view.item, right=True),
        now=late,
    )
    assert reply.finished and reply.time_limit_reached and reply.stop_reason == "time_limit"
    assert reply.result.n_scored == 1  # the late answer was not stored
    stored = session.get(ExamSession, view.session_id)
    assert stored.status == "finished" and stored.end_reason == "time_limit"
    assert services.rescore_session(session, view.session_id).identical


def test_sweep_finalizes_abandoned_sessions_past_their_deadline(session) -> None:
    user = _learner(session)
    other = _learner(session)
    _complete_course(session, user)
    _complete_course(session, other)
    cache = PoolCache()
    expired, _ = services.start_session(session, cache, user, FINAL, now=START)
    fresh, _ = services.start_session(
        session, cache, other, FINAL, now=START + timedelta(minutes=30)
    )
    swept = services.sweep_expired(session, cache, now=START + timedelta(minutes=41))
    assert expired.session_id in swept and fresh.session_id not in swept
    assert session.get(ExamSession, expired.session_id).status == "finished"
    assert session.get(ExamSession, fresh.session_id).status == "open"
    assert services.sweep_expired(session, cache, now=START + timedelta(minutes=41)) == []


def test_a_learner_cannot_reach_another_learners_session(session) -> None:
    owner = _learner(session)
    intruder = _learner(session)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, owner, quiz_exam_id("T-DX"), now=START)
    with pytest.raises(NotFoundError):
        services.get_session_view(session, cache, intruder, view.session_id, now=START)
    with pytest.raises(NotFoundError):
        services.submit_answer(
            session,
            cache,
            intruder,
            view.session_id,
            position=1,
            item_id=view.item["id"],
            answer="A",
            now=START,
        )
    manager = _learner(session, Role.MANAGER)
    with pytest.raises(PermissionDeniedError):
        services.start_session(session, cache, manager, quiz_exam_id("T-DX"), now=START)


def test_two_workers_answering_one_session_in_turn_stay_exact(session) -> None:
    user = _learner(session)
    _complete_course(session, user)
    workers = [PoolCache(), PoolCache()]  # two processes, each with its own cached states
    view, _ = services.start_session(session, workers[0], user, FINAL, now=START)
    position = 0
    while not view.finished:
        position += 1
        worker = workers[position % 2]
        seen = services.get_session_view(session, worker, user, view.session_id, now=START)
        assert seen.item == view.item and seen.position == view.position
        view = _submit(
            session,
            worker,
            user,
            view,
            _answer(session, view.item, right=position % 3 > 0),
            now=START + timedelta(seconds=10 * position),
        )
    assert position >= 15
    assert services.rescore_session(session, view.session_id).identical


def test_a_worker_several_answers_behind_catches_up_from_the_newer_responses(session) -> None:
    """A worker whose cached state is several answers old (the learner's requests went to
    another worker meanwhile) answers next without reading the session first: it must step
    through only the newer stored responses and still agree with a full replay, and every
    stored response counts exactly one exposure."""
    from item_bank.models import ItemExposure

    user = _learner(session)
    _complete_course(session, user)
    before = dict(session.execute(select(ItemExposure.item_id, ItemExposure.count)).all())
    behind, ahead = PoolCache(), PoolCache()
    view, _ = services.start_session(session, behind, user, FINAL, now=START)
    position = 0
    while not view.finished:
        position += 1
        # Four answers in a row through one worker, then one through the other, unseen.
        worker = behind if position % 5 == 0 else ahead
        view = _submit(
            session,
            worker,
            user,
            view,
            _answer(session, view.item, right=position % 2 == 0),
            now=START + timedelta(seconds=10 * position),
        )
    assert position >= 10
    assert services.rescore_session(session, view.session_id).identical
    stored = session.scalars(
        select(ExamResponse.item_version_id).where(ExamResponse.session_id == view.session_id)
    ).all()
    item_of = dict(session.execute(select(ItemVersion.id, ItemVersion.item_id)).all())
    after = dict(session.execute(select(ItemExposure.item_id, ItemExposure.count)).all())
    counted = {item: after[item] - before.get(item, 0) for item in after}
    expected: dict[str, int] = {}
    for version_id in stored:
        expected[item_of[version_id]] = expected.get(item_of[version_id], 0) + 1
    assert {item: n for item, n in counted.items() if n} == expected


def test_demo_learners_may_take_the_final_exam_and_a_second_run_changes_nothing(
    session,
) -> None:
    from webapp.exams.demo import prepare_exam_demo

    learner = _learner(session)
    for _ in range(2):
        definitions = prepare_exam_demo(session, COURSE, [learner.id], now=START)
        session.commit()
    assert len(definitions) == 20  # the final exam and 19 topic quizzes
    listing = {e.id: e for e in services.list_exams(session, learner, now=START)}
    assert listing[FINAL].eligibility.eligible
    done = session.scalars(select(TopicProgress).where(TopicProgress.user_id == learner.id))
    assert len(done.all()) == 19


def test_concurrent_starts_open_one_session(session, factory) -> None:
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    barrier = threading.Barrier(4)
    outcomes: list[Any] = []

    def start() -> None:
        with factory() as own:
            learner = own.get(User, user.id)
            own.commit()
            barrier.wait()
            try:
                view, created = services.start_session(own, cache, learner, FINAL, now=START)
                outcomes.append((view.session_id, created, view.item["id"]))
            except BaseException as error:  # reported below
                outcomes.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(outcome, tuple) for outcome in outcomes), outcomes
    assert len({outcome[0] for outcome in outcomes}) == 1
    assert sorted(outcome[1] for outcome in outcomes) == [False, False, False, True]
    assert len({outcome[2] for outcome in outcomes}) == 1
    session.rollback()
    count = session.scalar(select(func.count()).where(ExamSession.user_id == user.id))
    assert count == 1


def test_an_answer_for_the_cached_current_item_is_stored_without_a_lock(
    session, bank, recorded_statements
) -> None:
    """The common case reads nothing: one guarded statement on PostgreSQL, a guard, the INSERT
    and the exposure count in one transaction on SQLite; never a SELECT or FOR UPDATE."""
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    per_answer = []
    position = 0
    while not view.finished:
        position += 1
        answer = _answer(session, view.item, right=position % 2 == 0)
        with recorded_statements(bank) as statements:
            view = _submit(
                session, cache, user, view, answer, now=START + timedelta(seconds=10 * position)
            )
        per_answer.append((view.finished, statements))
    assert position >= 15
    for finished, answered in per_answer[:-1]:
        assert not finished
        assert not [s for s in answered if s.startswith("SELECT") or "FOR UPDATE" in s]
        if bank.dialect.name == "postgresql":
            assert len(answered) == 1 and answered[0].startswith("WITH open_session")
        else:
            assert any(s.startswith("INSERT INTO exam_responses") for s in answered)
    assert any("FOR UPDATE" in s or "SET seed" in s for s in per_answer[-1][1])  # finalizing
    assert services.rescore_session(session, view.session_id).identical


def test_a_cached_state_stores_nothing_once_another_worker_finalized_the_session(
    session,
) -> None:
    """The guard is checked against the row: a session finalized meanwhile (``sathach sweep``
    on another host whose clock is later) takes no more answers, whatever this worker holds."""
    from item_bank.models import ItemExposure

    user = _learner(session)
    _complete_course(session, user)
    cache, sweeper = PoolCache(), PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    view = services.submit_answer(
        session,
        cache,
        user,
        view.session_id,
        position=1,
        item_id=view.item["id"],
        answer=_answer(session, view.item, right=True),
        now=START + timedelta(minutes=1),
    )
    swept = services.sweep_expired(session, sweeper, now=START + timedelta(minutes=41))
    assert view.session_id in swept
    counts = dict(session.execute(select(ItemExposure.item_id, ItemExposure.count)).all())
    with pytest.raises(ConflictError) as refused:
        services.submit_answer(
            session,
            cache,
            user,
            view.session_id,
            position=2,
            item_id=view.item["id"],
            answer=_answer(session, view.item, right=True),
            now=START + timedelta(minutes=2),  # before the deadline by this worker's clock
        )
    assert refused.value.code == "session_finished"
    stored = session.scalar(select(func.count()).where(ExamResponse.session_id == view.session_id))
    assert stored == 1
    assert dict(session.execute(select(ItemExposure.item_id, ItemExposure.count)).all()) == counts


def test_the_last_answer_steps_the_engine_once(session, monkeypatch) -> None:
    """The step made from the cached state finishes the exam; the locked path that finalizes
    it reuses that step (and its scoring) instead of making it again."""
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    steps = []
    real_step = services.engine.step

    def counting_step(state, score, **options):
        steps.append(state.position)
        return real_step(state, score, **options)

    monkeypatch.setattr(services.engine, "step", counting_step)
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    view = _run(session, cache, user, view, right=True)
    assert view.finished
    assert sorted(steps) == list(range(view.result.n_scored))


def _json_copy(document: Any) -> Any:
    return json.loads(json.dumps(document))


def _answer_up_to_the_last_item(
    session: Session, cache: PoolCache, user: User, view: services.SessionView, *, right: bool
) -> tuple[services.SessionView, Any, datetime]:
    """Answer until the next answer would end the exam (as the cached step says); that view,
    the answer that will end it and the time to give it at."""
    now = START
    while True:
        now += timedelta(seconds=20)
        answer = _answer(session, view.item, right=right)
        step = services._step_from_cache(
            cache, user.id, view.session_id, view.position, view.item["id"], answer, now
        )
        assert step is not None
        if step.next_state.finished:
            return view, answer, now
        view = _submit(session, cache, user, view, answer, now=now)


def _exposures(session: Session, item_id: str) -> int:
    from item_bank.models import ItemExposure

    session.rollback()  # a fresh snapshot
    return session.scalar(select(ItemExposure.count).where(ItemExposure.item_id == item_id))


def test_the_answer_ending_a_final_exam_finishes_it_without_loading_the_session_row(
    session, bank, recorded_statements
) -> None:
    """From the cached state the last answer is stored under the guard, and the session
    finished and certified in the same transaction: the row is locked, never loaded, the
    responses are not counted, and the reply is the one a retry gets from the general path."""
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    view, answer, now = _answer_up_to_the_last_item(session, cache, user, view, right=True)
    last = {"position": view.position, "item_id": view.item["id"], "answer": answer}
    exposures = _exposures(session, view.item["id"])
    with recorded_statements(bank) as statements:
        final = services.submit_answer(session, cache, user, view.session_id, **last, now=now)
    assert final.finished and final.result.passed and final.result.certificate_code
    assert not [s for s in statements if "exam_sessions.user_id, exam_sessions.exam_id" in s]
    assert not [s for s in statements if "count(*) AS count_1 FROM exam_responses" in s]
    if bank.dialect.name == "postgresql":  # the lock comes first, and only locks
        lock = next(s for s in statements if "exam_sessions" in s)
        assert lock.startswith("SELECT exam_sessions.id FROM") and lock.endswith("FOR UPDATE")
    session.rollback()
    stored = session.get(ExamSession, final.session_id)
    assert (stored.status, stored.passed, stored.finished_at) == ("finished", True, now)
    assert (stored.theta, stored.se) == (final.result.theta, final.result.se)
    assert stored.result["scale_score"] == final.result.scale_score
    assert stored.end_reason == final.result.stop_reason
    certificate = session.scalar(select(Certificate).where(Certificate.session_id == stored.id))
    assert certificate.code == final.result.certificate_code
    assert certificate.scale_score == final.result.scale_score
    assert _exposures(session, last["item_id"]) == exposures + 1
    n_stored = session.scalar(select(func.count()).where(ExamResponse.session_id == stored.id))
    assert n_stored == final.n_answered == last["position"]
    retry = services.submit_answer(session, cache, user, view.session_id, **last, now=now)
    assert retry.to_json() == final.to_json()
    assert services.rescore_session(session, final.session_id).identical


def test_concurrent_posts_of_the_last_answer_finish_the_session_once(
    session, factory, monkeypatch
) -> None:
    """Four posts of the last answer at once: one response, one certificate, one reply, and
    no deadlock retried away (the row is locked for update before the guarded store)."""
    retried: list[str] = []
    real_is_retryable = services._is_retryable

    def recording_is_retryable(error: Exception) -> bool:
        retried.append(str(error).lower())
        return real_is_retryable(error)

    monkeypatch.setattr(services, "_is_retryable", recording_is_retryable)
    user = _learner(session)
    _complete_course(session, user)
    cache = PoolCache()
    view, _ = services.start_session(session, cache, user, FINAL, now=START)
    view, answer, now = _answer_up_to_the_last_item(session, cache, user, view, right=True)
    exposures = _exposures(session, view.item["id"])
    replies, errors = _post_concurrently(
        factory, cache, user.id, view.session_id, view.position, view.item["id"], answer, now=now
    )
    assert not errors, errors
    assert len(replies) == 4 and all(reply == replies[0] for reply in replies)
    assert replies[0]["status"] == "finished" and replies[0]["result"]["certificate_code"]
    session.rollback()
    positions = session.scalars(
        select(ExamResponse.position).where(ExamResponse.session_id == view.session_id)
    ).all()
    assert sorted(positions) == list(range(1, view.position + 1))
    certificates = session.scalars(
        select(Certificate.code).where(Certificate.session_id == view.session_id)
    ).all()
    assert certificates == [replies[0]["result"]["certificate_code"]]
    assert _exposures(session, view.item["id"]) == exposures + 1
    assert not [error for error in retried if "deadlock" in error]


def test_a_rescore_agrees_within_the_tolerance_and_is_identical_only_bit_for_bit() -> None:
    stored = {
        "theta": 0.5,
        "passed": True,
        "stop_reason": "se_target",
        "domains": [{"domain": "1", "n_items": 4, "scale_score": 61.25}],
    }
    close = {**stored, "theta": 0.5 + 1e-12, "domains": [{**stored["domains"][0]}]}
    close["domains"][0]["scale_score"] = 61.25 + 1e-11

    def report(recomputed, rescored=()):
        return services.RescoreReport(1, stored, recomputed, tuple(rescored))

    same = report(_json_copy(stored))
    assert same.identical and same.agrees and same.max_difference == 0.0
    nearly = report(close)
    assert not nearly.identical and nearly.agrees
    assert nearly.max_difference == pytest.approx(1e-11, rel=1e-3)
    far = report({**stored, "theta": 0.5 + 1e-6})
    assert not far.agrees and far.max_difference == pytest.approx(1e-6)
    flipped = report({**close, "passed": False})  # the pass/fail must be the same
    assert not flipped.agrees and flipped.max_difference is None
    assert not report(close, rescored=[(3, 1, 0)]).agrees  # an answer that scores otherwise
    assert not report({"error": "the replay left the stored path"}).agrees
    assert not services.RescoreReport(1, None, close, ()).agrees


def _postgresql_only(bank: Engine) -> None:
    if bank.dialect.name != "postgresql":
        pytest.skip("answers are stored at the driver on PostgreSQL only")


def _row_for_current_item(
    session: Session, user: User, view: services.SessionView, **changes: Any
) -> AnswerRow:
    exam_session = session.get(ExamSession, view.session_id)
    values: dict[str, Any] = {
        "session_id": view.session_id,
        "user_id": user.id,
        "seed": exam_session.seed,
        "position": view.position,
        "item_id": view.item["id"],
        "item_version_id": _version(session, view.item["id"]).id,
        "answer": _answer(session, view.item, right=True),
        "score": 1,
        "pretest": False,
        "answered_at": START + timedelta(minutes=1),
    }
    values.update(changes)
    return AnswerRow(**values)


def test_an_answer_stored_at_the_driver_leaves_its_connection_as_the_pool_lent_it(
    session, bank
) -> None:
    """The store switches its pooled connection to autocommit for one statement; a driver
    error comes out as SQLAlchemy's error and that connection is discarded, not pooled."""
    _postgresql_only(bank)
    user = _learner(session)
    _complete_course(session, user)
    view, _ = services.start_session(session, PoolCache(), user, FINAL, now=START)
    refused = _row_for_current_item(session, user, view, item_version_id=2**40)  # not an INTEGER
    accepted = _row_for_current_item(session, user, view)
    session.commit()
    returned: list[Any] = []

    def on_checkin(dbapi_connection: Any, _record: Any) -> None:
        returned.append(None if dbapi_connection is None else dbapi_connection.autocommit)

    event.listen(bank, "checkin", on_checkin)
    try:
        with pytest.raises(DataError):
            recording.store_answer(session, refused, mark_administered=True)
        assert returned == [None]  # discarded
        assert recording.store_answer(session, accepted, mark_administered=True)
        assert returned == [None, False]
    finally:
        event.remove(bank, "checkin", on_checkin)
    stored = session.scalars(
        select(ExamResponse.item_version_id).where(ExamResponse.session_id == view.session_id)
    ).all()
    assert stored == [accepted.item_version_id]


def test_an_answer_store_on_a_lost_connection_fails_cleanly_and_the_next_one_reconnects(
    session, bank
) -> None:
    _postgresql_only(bank)
    user = _learner(session)
    _complete_course(session, user)
    view, _ = services.start_session(session, PoolCache(), user, FINAL, now=START)
    row = _row_for_current_item(session, user, view)
    session.commit()
    bank.dispose()  # the pool now lends the one connection opened next
    pooled = bank.raw_connection()
    backend = pooled.driver_connection.info.backend_pid
    pooled.close()
    admin = create_engine(os.environ["TEST_DATABASE_URL"])
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        for _ in range(50):
            alive = connection.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": backend}
            )
            if not alive:
                break
            time.sleep(0.1)
    admin.dispose()
    with pytest.raises(OperationalError) as lost:
        recording.store_answer(session, row, mark_administered=True)
    assert lost.value.connection_invalidated
    assert recording.store_answer(session, row, mark_administered=True)
    count = session.scalar(select(func.count()).where(ExamResponse.session_id == view.session_id))
    assert count == 1


def test_result_pages_read_the_course_outline_once_per_ttl(
    session, bank, recorded_statements
) -> None:
    from item_bank.models import Topic

    cache = PoolCache()
    first = cache.course_outline(session, COURSE)
    assert first.domain_names and first.topics_of_domain
    with recorded_statements(bank) as statements:
        assert cache.course_outline(session, COURSE) is first
    assert statements == []
    topic = session.scalars(select(Topic).where(Topic.course_id == COURSE)).first()
    original = topic.title_vi
    topic.title_vi = "Chủ đề đã đổi tên"
    session.commit()
    try:
        assert cache.course_outline(session, COURSE) is first  # within the TTL
        cache.outline_ttl_s = 0.0
        renamed = cache.course_outline(session, COURSE)
        titles = {row[1] for rows in renamed.topics_of_domain.values() for row in rows}
        assert "Chủ đề đã đổi tên" in titles
    finally:
        topic.title_vi = original
        session.commit()


def test_a_retired_item_leaves_the_pools_of_exams_started_after_the_selection_ttl(
    session,
) -> None:
    cache = PoolCache()
    first, second, third = (_learner(session) for _ in range(3))
    for user in (first, second, third):
        _complete_course(session, user)
    view, _ = services.start_session(session, cache, first, FINAL, now=START)
    pool_items = session.get(ExamSession, view.session_id).pool_items
    retired = sorted(pool_items)[0]
    status = session.get(Item, retired).status
    session.execute(update(Item).where(Item.id == retired).values(status="retired"))
    session.commit()
    try:
        within, _ = services.start_session(session, cache, second, FINAL, now=START)
        assert retired in session.get(ExamSession, within.session_id).pool_items
        cache.selection_ttl_s = 0.0
        after, _ = services.start_session(session, cache, third, FINAL, now=START)
        assert retired not in session.get(ExamSession, after.session_id).pool_items
    finally:
        session.execute(update(Item).where(Item.id == retired).values(status=status))
        session.commit()


def test_a_deactivated_exam_refuses_starts_after_the_selection_ttl(
    session, bank, recorded_statements
) -> None:
    from webapp.exams.models import ExamDefinition

    cache = PoolCache()
    first, second, third = (_learner(session) for _ in range(3))
    for user in (first, second, third):
        _complete_course(session, user)
    services.start_session(session, cache, first, FINAL, now=START)
    session.execute(update(ExamDefinition).where(ExamDefinition.id == FINAL).values(active=False))
    session.commit()
    try:
        with recorded_statements(bank) as statements:
            within, created = services.start_session(session, cache, second, FINAL, now=START)
        assert created and within.exam_id == FINAL
        assert not [s for s in statements if "FROM exam_definitions" in s]
        cache.selection_ttl_s = 0.0
        with pytest.raises(NotFoundError):
            services.start_session(session, cache, third, FINAL, now=START)
    finally:
        session.rollback()
        session.execute(
            update(ExamDefinition).where(ExamDefinition.id == FINAL).values(active=True)
        )
        session.commit()


def test_a_changed_completion_rule_applies_to_starts_after_the_ttl(session) -> None:
    cache = PoolCache()
    course = session.get(Course, COURSE)
    rule = dict(course.completion_rule)
    before = cache.completion_basis(session, COURSE)
    assert before.rule.min_topics == rule.get("min_topics", 0)
    assert len(before.topics) == len(course.topics)
    try:
        course.completion_rule = {**rule, "min_topics": 3}
        session.commit()
        assert cache.completion_basis(session, COURSE) is before  # within the TTL
        cache.outline_ttl_s = 0.0
        assert cache.completion_basis(session, COURSE).rule.min_topics == 3
    finally:
        course.completion_rule = rule
        session.commit()
