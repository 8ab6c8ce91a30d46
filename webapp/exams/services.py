"""Use cases of exam delivery, called by the learner pages, the JSON API and the commands.

The answer request is the heart of it. Each answer is its own transaction: the session row is
locked (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite a first ``UPDATE`` of the row takes
the database's write lock, since SQLite serialises writers), the position and item are checked
against the state rebuilt from the stored responses (:func:`exam.engine.replay`), the response
is inserted under ``UNIQUE(session_id, position)``, the next item computed, and the transaction
committed before the reply is built. A unique violation (two tabs, a double tap, a retry) rolls
back and the request is answered again from the stored data: the same answer gets the same
reply, another answer 409. The pool comes from the process's :class:`PoolCache`.

Functions here take the SQLAlchemy session, the pool cache, the user and ``now``; they raise the
domain errors of :mod:`webapp.exceptions`, which one place maps to HTTP statuses.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import bindparam, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, defer, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from exam import engine
from exam.exceptions import ReplayMismatchError
from exam.state import ExamState, Response
from exam.stopping import StopReason
from item_bank.db import attach_loaded
from item_bank.exceptions import MalformedAnswerError
from item_bank.items import record_administration
from item_bank.models import Topic
from item_bank.scoring import score_answer
from webapp.exams.certificates import issue_certificate, issue_certificate_for
from webapp.exams.models import (
    Certificate,
    ExamDefinition,
    ExamKind,
    ExamResponse,
    ExamSession,
    SessionStatus,
)
from webapp.exams.pools import (
    CompiledPool,
    PoolCache,
    SessionFixture,
)
from webapp.exams.progress import (
    Eligibility,
    attempt_records,
    eligibility,
    record_quiz_result,
)
from webapp.exams.recording import AnswerRow, store_answer, store_final_answer
from webapp.exceptions import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from webapp.models import Role, User

#: Attempts of one answer transaction before giving up (SQLite "database is locked", races).
_TRANSACTION_ATTEMPTS = 4

#: How a request loads its session row: without the start data fixed in JSON (the process's
#: :class:`SessionFixture` has them decoded), with its exam definition in the same statement.
_SESSION_ROW = (
    defer(ExamSession.blueprint),
    defer(ExamSession.pool_items),
    defer(ExamSession.excluded_items),
    joinedload(ExamSession.exam, innerjoin=True).defer(ExamDefinition.blueprint),
)

# The statements of the answer request, built once: building a statement and its options is
# a good part of the ORM's cost per execution. Each takes ``session_id`` as a parameter.
_LOCK_POSTGRESQL = (
    select(ExamSession)
    .where(ExamSession.id == bindparam("session_id"))
    .with_for_update(of=ExamSession)
    .options(*_SESSION_ROW)
    .execution_options(populate_existing=True)
)
_LOAD_SQLITE = (
    select(ExamSession)
    .where(ExamSession.id == bindparam("session_id"))
    .options(*_SESSION_ROW)
    .execution_options(populate_existing=True)
)
_TAKE_SQLITE_WRITE_LOCK = (
    update(ExamSession)
    .where(ExamSession.id == bindparam("session_id"))
    .values(seed=ExamSession.seed)
    .execution_options(synchronize_session=False)
)
_COUNT_RESPONSES = (
    select(func.count())
    .select_from(ExamResponse.__table__)
    .where(ExamResponse.__table__.c.session_id == bindparam("session_id"))
)
_INSERT_RESPONSE = insert(ExamResponse.__table__)
_INSERT_SESSION = insert(ExamSession.__table__).returning(ExamSession.__table__.c.id)
# one start at a time per learner: the user's row locked (on SQLite, a write takes the lock)
_USERS = User.__table__.c
_LOCK_USER_POSTGRESQL = select(_USERS.id).where(_USERS.id == bindparam("user_id")).with_for_update()
_LOCK_USER_SQLITE = (
    update(User.__table__).where(_USERS.id == bindparam("user_id")).values(id=_USERS.id)
)
# the SET clause comes from the parameters' column names
_FINISH_SESSION = update(ExamSession.__table__).where(
    ExamSession.__table__.c.id == bindparam("session_id")
)


# -- views returned to routes -------------------------------------------------------------------


@dataclass(frozen=True)
class ExamListing:
    """One exam as ``GET /api/v1/exams`` lists it."""

    id: str
    title_vi: str
    title_en: str | None
    kind: str
    adaptive: bool
    time_limit_s: float | None
    topic_id: str | None
    eligibility: Eligibility

    def to_json(self, locale: str = "vi") -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title_en if locale == "en" and self.title_en else self.title_vi,
            "kind": self.kind,
            "adaptive": self.adaptive,
            "time_limit_s": self.time_limit_s,
            "topic_id": self.topic_id,
            "eligible": self.eligibility.eligible,
            "reason": None if self.eligibility.reason is None else str(self.eligibility.reason),
        }


@dataclass(frozen=True)
class Feedback:
    """Practice feedback after an answer of a topic quiz (never for the final exam)."""

    position: int
    item_id: str
    correct: bool
    score: int
    max_score: int
    explanation_vi: str | None
    explanation_en: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "item_id": self.item_id,
            "correct": self.correct,
            "score": self.score,
            "max_score": self.max_score,
            "explanation": {"vi": self.explanation_vi, "en": self.explanation_en},
        }


@dataclass(frozen=True)
class CompetencyView:
    """One competency domain of a result: its subscore and what to do about it.

    ``level`` is ``"strength"`` when the subscore is at least one standard error above the cut,
    ``"study"`` when it is below the cut, ``"near"`` in between, and ``"not_assessed"`` when the
    exam gave no item of the domain (subscores rest on few items: feedback, not a verdict).
    """

    domain: str
    name_vi: str
    name_en: str | None
    n_items: int
    scale_score: float
    scale_se: float
    level: str
    topics: tuple[tuple[str, str, str | None], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "name": {"vi": self.name_vi, "en": self.name_en},
            "n_items": self.n_items,
            "scale_score": round(self.scale_score, 1),
            "scale_se": round(self.scale_se, 1),
            "level": self.level,
            "topics": [{"id": t[0], "title": {"vi": t[1], "en": t[2]}} for t in self.topics],
        }


@dataclass(frozen=True)
class ResultView:
    """The result of a finished session as the learner sees it."""

    session_id: int
    exam_id: str
    kind: str
    theta: float
    se: float
    scale_score: float
    scale_se: float
    passed: bool | None
    cut_score: float | None
    n_scored: int
    n_correct: int
    stop_reason: str
    finished_at: datetime | None
    competencies: tuple[CompetencyView, ...]
    certificate_code: str | None
    scale_min: float = float("-inf")
    scale_max: float = float("inf")

    @property
    def band(self) -> tuple[float, float]:
        """The 95% error band of the scale score (about two standard errors each side), within
        the reported scale: a score cannot lie beyond the scale's ends."""
        low = self.scale_score - 1.96 * self.scale_se
        high = self.scale_score + 1.96 * self.scale_se
        return (
            min(max(low, self.scale_min), self.scale_max),
            max(min(high, self.scale_max), self.scale_min),
        )

    def to_json(self) -> dict[str, Any]:
        low, high = self.band
        return {
            "session_id": self.session_id,
            "exam_id": self.exam_id,
            "kind": self.kind,
            "theta": self.theta,
            "se": self.se,
            "scale_score": round(self.scale_score, 1),
            "scale_se": round(self.scale_se, 1),
            "score_band": [round(low, 1), round(high, 1)],
            "passed": self.passed,
            "cut_score": self.cut_score,
            "n_scored": self.n_scored,
            "stop_reason": self.stop_reason,
            "competencies": [c.to_json() for c in self.competencies],
            "certificate_code": self.certificate_code,
        }


@dataclass(frozen=True)
class SessionView:
    """A session at one moment: its status, the current item (payload only) and timing.

    ``position`` is the 1-based position of the item shown now (answered items + 1).
    """

    session_id: int
    exam_id: str
    kind: str
    status: str
    position: int
    n_answered: int
    max_items: int
    time_left_s: int | None
    deadline: datetime | None
    item: dict[str, Any] | None
    feedback: Feedback | None = None
    stop_reason: str | None = None
    result: ResultView | None = None
    time_limit_reached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status == SessionStatus.FINISHED.value

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "session_id": self.session_id,
            "exam_id": self.exam_id,
            "kind": self.kind,
            "status": self.status,
            "position": self.position,
            "n_answered": self.n_answered,
            "max_items": self.max_items,
            "time_left_s": self.time_left_s,
            "item": self.item,
        }
        if self.feedback is not None:
            body["feedback"] = self.feedback.to_json()
        if self.finished:
            body["stop_reason"] = self.stop_reason
            body["time_limit_reached"] = self.time_limit_reached
            body["result"] = None if self.result is None else self.result.to_json()
        return body


@dataclass(frozen=True)
class AttemptRow:
    """One attempt in the learner's history."""

    session_id: int
    attempt: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    scale_score: float | None
    passed: bool | None


# -- listing and starting -----------------------------------------------------------------------


def _require_learner(user: User) -> None:
    if user.role != Role.LEARNER:
        raise PermissionDeniedError(gettext("Only learners take exams."), code="learners_only")


def list_exams(session: Session, user: User, *, now: datetime) -> list[ExamListing]:
    """The active exams with the learner's eligibility, final exams first, then by topic."""
    _require_learner(user)
    definitions = session.scalars(
        select(ExamDefinition)
        .outerjoin(Topic, Topic.id == ExamDefinition.topic_id)
        .where(ExamDefinition.active.is_(True))
        .order_by(ExamDefinition.kind, Topic.position, ExamDefinition.id)
    ).all()
    listings = []
    for definition in definitions:
        blueprint = definition.blueprint
        listings.append(
            ExamListing(
                id=definition.id,
                title_vi=definition.title_vi,
                title_en=definition.title_en,
                kind=definition.kind,
                adaptive=blueprint.get("mode", "adaptive") == "adaptive",
                time_limit_s=blueprint.get("time_limit_s"),
                topic_id=definition.topic_id,
                eligibility=eligibility(session, user.id, definition, now=now),
            )
        )
    return listings


def learner_course_ids(session: Session) -> list[str]:
    """The courses that have an active final exam, in id order."""
    return list(
        session.scalars(
            select(ExamDefinition.course_id)
            .where(ExamDefinition.kind == ExamKind.FINAL.value, ExamDefinition.active.is_(True))
            .distinct()
            .order_by(ExamDefinition.course_id)
        )
    )


def get_definition(
    session: Session, exam_id: str, *, cache: PoolCache | None = None
) -> ExamDefinition:
    """The active exam definition ``exam_id``, as ``cache`` read it in the last seconds if
    given (:meth:`PoolCache.definition_values`).

    Raises
    ------
    NotFoundError
        When there is no such active exam.
    """
    if cache is None:
        definition = session.get(ExamDefinition, exam_id)
    else:
        values = cache.definition_values(session, exam_id)
        definition = None if values is None else attach_loaded(session, ExamDefinition, values)
    if definition is None or not definition.active:
        raise NotFoundError(
            gettext("There is no exam %(exam)s.", exam=exam_id), code="exam_not_found"
        )
    return definition


def start_session(
    session: Session,
    cache: PoolCache,
    user: User,
    exam_id: str,
    *,
    now: datetime,
    rng: int | None = None,
) -> tuple[SessionView, bool]:
    """Start an exam session, or return the learner's open one.

    Returns the session's view and whether it was created now (201) rather than resumed (200).
    The start is committed before returning. Two starts at once create one session: a partial
    unique index allows one open session per learner and exam.

    Raises
    ------
    PermissionDeniedError
        When the learner may not take the exam now (the code says why).
    """
    _require_learner(user)
    for attempt in range(_TRANSACTION_ATTEMPTS):
        try:
            _end_open_transaction(session)
            view, created, started = _start_once(session, cache, user, exam_id, now=now, rng=rng)
            session.commit()
            if started is not None:
                # only once committed: the cache never holds a session that is not stored
                session_id, fixture, state = started
                cache.remember_fixture(session_id, fixture)
                cache.remember_state(session_id, state)
            return view, created
        except (IntegrityError, OperationalError) as error:
            session.rollback()
            if attempt == _TRANSACTION_ATTEMPTS - 1 or not _is_retryable(error):
                raise
    raise AssertionError("unreachable")


def _start_once(
    session: Session,
    cache: PoolCache,
    user: User,
    exam_id: str,
    *,
    now: datetime,
    rng: int | None,
) -> tuple[SessionView, bool, tuple[int, SessionFixture, ExamState] | None]:
    """One attempt of :func:`start_session`: the view, whether it is new, and for a new
    session what the cache may keep once it is committed."""
    # one start at a time per learner (and on SQLite: take the write lock before reading)
    _lock_user(session, user.id)
    definition = get_definition(session, exam_id, cache=cache)
    attempts = attempt_records(session, user.id, exam_id)
    open_id = next((a.session_id for a in attempts if a.status == SessionStatus.OPEN.value), None)
    if open_id is not None:
        locked = _lock(session, open_id)
        if not _past_deadline(locked, now):
            state = _current_state(session, cache, locked)
            return _view(locked, state, cache, session, now=now), False, None
        _finalize_time_limit(session, cache, locked, now=now)
        attempts = attempt_records(session, user.id, exam_id)  # that attempt has ended now
    basis = None
    if definition.kind == ExamKind.FINAL.value:
        basis = cache.completion_basis(session, definition.course_id)
    status = eligibility(session, user.id, definition, now=now, attempts=attempts, basis=basis)
    if not status.eligible:
        raise PermissionDeniedError(
            gettext(
                "You cannot start the exam %(exam)s now (%(reason)s).",
                exam=exam_id,
                reason=str(status.reason),
            ),
            code=str(status.reason),
        )
    blueprint_document = dict(definition.blueprint)
    blueprint = cache.blueprint(blueprint_document)
    pool_items, version = cache.selection(session, definition)
    compiled = cache.pool(session, version, pool_items)
    excluded: list[str] = []
    if blueprint.exclude_seen_items:  # the engine ignores earlier items otherwise
        excluded = sorted(
            set(
                session.scalars(
                    select(ExamResponse.item_id)
                    .join(ExamSession, ExamSession.id == ExamResponse.session_id)
                    .where(ExamSession.user_id == user.id, ExamSession.exam_id == exam_id)
                )
            )
        )
    seed = secrets.randbits(62) if rng is None else int(rng)
    state = engine.start(compiled.pool, blueprint, seed, excluded_items=excluded)
    previous = max((a.attempt for a in attempts), default=0)
    deadline = (
        None
        if blueprint.time_limit_s is None
        else now + timedelta(seconds=float(blueprint.time_limit_s))
    )
    # a Core INSERT: the ORM's unit of work cost 1.9 million instructions of a start's 11 to 19
    # million (callgrind), for a row nothing in this request reads back; a concurrent twin
    # start fails here on the partial unique index of open sessions
    session_id = session.execute(
        _INSERT_SESSION,
        {
            "user_id": user.id,
            "exam_id": exam_id,
            "attempt": previous + 1,
            "status": SessionStatus.OPEN.value,
            "seed": state.session_seed,
            "started_at": now,
            "deadline": deadline,
            "blueprint": blueprint_document,
            "pool_version": version,
            "pool_items": pool_items,
            "excluded_items": excluded,
        },
    ).scalar_one()
    fixture = SessionFixture(
        seed=state.session_seed,
        pool_version=version,
        started_at=now,
        blueprint=blueprint,
        pool_items=pool_items,
        excluded_items=tuple(excluded),
        user_id=user.id,
        exam_id=exam_id,
        kind=definition.kind,
        deadline=deadline,
    )
    view = _build_view(session_id, fixture, compiled, state, now=now)
    return view, True, (session_id, fixture, state)


# -- reading and answering ----------------------------------------------------------------------


def get_session_view(
    session: Session, cache: PoolCache, user: User, session_id: int, *, now: datetime
) -> SessionView:
    """The current state of a session (finalized first when past its time limit)."""
    for attempt in range(_TRANSACTION_ATTEMPTS):
        try:
            _end_open_transaction(session)
            exam_session = _owned(session, user, session_id)
            if exam_session.status == SessionStatus.OPEN.value and _past_deadline(
                exam_session, now
            ):
                session.commit()  # the lock must come first in its transaction (SQLite)
                locked = _lock(session, session_id)
                if locked.status == SessionStatus.OPEN.value:
                    state = _finalize_time_limit(session, cache, locked, now=now)
                    session.commit()
                    return _view(locked, state, cache, session, now=now, time_limit=True)
            state = _current_state(session, cache, exam_session)
            view = _view(exam_session, state, cache, session, now=now)
            session.commit()
            return view
        except (IntegrityError, OperationalError) as error:
            session.rollback()
            if attempt == _TRANSACTION_ATTEMPTS - 1 or not _is_retryable(error):
                raise
    raise AssertionError("unreachable")


def submit_answer(
    session: Session,
    cache: PoolCache,
    user: User | int,
    session_id: int,
    *,
    position: Any,
    item_id: Any,
    answer: Any,
    now: datetime,
) -> SessionView:
    """Store the answer to the current item and return the next state, in one transaction.

    Parameters
    ----------
    user : User or int
        The learner, or their id: the id is all an answer needs (a caller that knows it from a
        token cache need not load the user).
    position : int
        1-based position of the item answered (the ``position`` of the last reply).
    item_id : str
        The item answered; it must be the current one.
    answer : str or list of str
        An option id, a list of option ids (multiple response) or the chosen category's option.

    Raises
    ------
    InvalidInputError
        Malformed position, item id or answer (400).
    ConflictError
        Another answer for an answered position, an item or position that is not the current
        one, or a finished session (409).
    NotFoundError
        When the session is not the learner's.
    """
    if isinstance(position, bool) or not isinstance(position, int) or position < 1:
        raise InvalidInputError(
            gettext("position must be a positive integer, got %(value)s.", value=repr(position)),
            code="invalid_position",
        )
    if not isinstance(item_id, str) or not item_id:
        raise InvalidInputError(
            gettext("item_id must be an item id, got %(value)s.", value=repr(item_id)),
            code="invalid_item_id",
        )
    user_id = user if isinstance(user, int) else user.id
    for attempt in range(_TRANSACTION_ATTEMPTS):
        try:
            _end_open_transaction(session)
            submitted = None
            step = None
            if attempt == 0:
                step = _step_from_cache(cache, user_id, session_id, position, item_id, answer, now)
            if step is not None and not step.next_state.finished:
                submitted = _store_from_cache(session, cache, step, now=now)
            elif step is not None:
                submitted = _finish_from_cache(session, cache, step, now=now)
            if submitted is None:
                submitted = _submit_once(
                    session,
                    cache,
                    user_id,
                    session_id,
                    position,
                    item_id,
                    answer,
                    now=now,
                    precomputed=step,
                )
            view, next_state, version_id = submitted
            if session.in_transaction():  # none when the answer was stored at the driver
                session.commit()
            if next_state is not None:
                # only a committed state: the cache must never hold an answer that is not stored
                cache.remember_state(session_id, next_state)
            if version_id is not None:
                cache.remember_administered(version_id)
            return view
        except (IntegrityError, OperationalError) as error:
            session.rollback()
            if attempt == _TRANSACTION_ATTEMPTS - 1 or not _is_retryable(error):
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _CachedStep:
    """An answer scored and stepped from this process's cached state, not yet stored."""

    fixture: SessionFixture
    compiled: CompiledPool
    state: ExamState
    next_state: ExamState
    row: AnswerRow


def _step_from_cache(
    cache: PoolCache,
    user_id: int,
    session_id: int,
    position: int,
    item_id: str,
    answer: Any,
    now: datetime,
) -> _CachedStep | None:
    """The answer scored and the engine stepped from the cached current state, or None.

    When this process holds the session's current state (stored responses never change, so a
    state built from them stays true) and the answer is for its current item, nothing needs to
    be read: the caller stores the answer with one guarded write (:func:`_store_from_cache`),
    or, for the last answer of the exam, takes the lock and uses the step computed here.
    Anything else (another worker's newer answers, a retry, a passed deadline, a malformed
    answer) returns None: the general path knows what to answer.
    """
    fixture = cache.known_fixture(session_id)
    state = cache.state(session_id)
    if fixture is None or state is None or fixture.user_id != user_id:
        return None
    compiled = cache.known_pool(fixture.pool_version)
    if (
        compiled is None
        or state.definition.pool is not compiled.pool
        or state.session_seed != fixture.seed
        or state.finished
        or state.position + 1 != position
        or state.current_item != item_id
        or (fixture.deadline is not None and now >= fixture.deadline)
    ):
        return None
    content = compiled.items[item_id]
    try:
        score = score_answer(content, answer)
    except MalformedAnswerError:
        return None
    next_state = engine.step(state, score, elapsed_s=(now - fixture.started_at).total_seconds())
    row = AnswerRow(
        session_id=session_id,
        user_id=user_id,
        seed=fixture.seed,
        position=position,
        item_id=item_id,
        item_version_id=content.version_id,
        answer=answer,
        score=score,
        pretest=state.current_is_pretest,
        answered_at=now,
    )
    return _CachedStep(fixture, compiled, state, next_state, row)


def _store_from_cache(
    session: Session, cache: PoolCache, step: _CachedStep, *, now: datetime
) -> tuple[SessionView, ExamState, int] | None:
    """Store a cached step's answer with one guarded write; None (nothing written) when the
    guard fails (:func:`webapp.exams.recording.store_answer`)."""
    row = step.row
    if not store_answer(
        session, row, mark_administered=not cache.is_administered(row.item_version_id)
    ):
        session.rollback()
        return None
    view = _build_view(
        row.session_id,
        step.fixture,
        step.compiled,
        step.next_state,
        now=now,
        feedback_for=row,
    )
    return view, step.next_state, row.item_version_id


def _finish_from_cache(
    session: Session, cache: PoolCache, step: _CachedStep, *, now: datetime
) -> tuple[SessionView, ExamState, int] | None:
    """The answer that ends a final exam, from a cached step, in one transaction and without
    loading the session row: the answer stored under the guard (the row locked first), the
    session finished and a pass's certificate issued. None, with nothing written, when the
    guard fails, or for a topic quiz, whose end records the topic's progress: the general
    path (:func:`_submit_once`) then answers."""
    row, fixture, state = step.row, step.fixture, step.next_state
    if fixture.kind != ExamKind.FINAL.value:
        return None
    # the write first: on SQLite it takes the write lock, which a transaction that read first
    # may fail to get
    if not store_final_answer(
        session, row, mark_administered=not cache.is_administered(row.item_version_id)
    ):
        session.rollback()
        return None
    definition = cache.definition_values(session, fixture.exam_id)
    assert definition is not None  # the session's foreign key
    finished = _finished_columns(state, now)
    session.execute(_FINISH_SESSION, {"session_id": row.session_id, **finished})
    code = None
    if finished["passed"]:
        code = issue_certificate_for(
            session,
            session_id=row.session_id,
            user_id=row.user_id,
            course_id=definition["course_id"],
            scale_score=float(finished["scale_score"]),
            now=now,
        ).code
    result = _result_view(
        session,
        cache,
        session_id=row.session_id,
        exam_id=fixture.exam_id,
        finished_at=now,
        course_id=definition["course_id"],
        kind=definition["kind"],
        state=state,
        certificate_code=code,
    )
    view = _build_view(
        row.session_id, fixture, step.compiled, state, now=now, feedback_for=row, result=result
    )
    return view, state, row.item_version_id


def _submit_once(
    session: Session,
    cache: PoolCache,
    user_id: int,
    session_id: int,
    position: int,
    item_id: str,
    answer: Any,
    *,
    now: datetime,
    precomputed: _CachedStep | None = None,
) -> tuple[SessionView, ExamState | None, int | None]:
    """One attempt of :func:`submit_answer`: the view, and the new state and the item version
    it administered (None for a retry or a finalized session), to cache once committed.

    ``precomputed`` is the step :func:`_step_from_cache` made from the state that is current
    after the lock, if it is: the engine step (at the end of an exam, the scoring) is not
    repeated."""
    # lock before reading anything: on SQLite a transaction that read first cannot take the
    # write lock once another writer has committed
    exam_session = _lock(session, session_id)
    if exam_session.user_id != user_id:
        raise NotFoundError(
            gettext("There is no exam session %(id)s.", id=session_id), code="session_not_found"
        )
    n_answered = _stored_count(session, session_id)
    if position <= n_answered:
        responses = _responses(session, session_id)
        stored = responses[position - 1]
        if stored.item_id == item_id and _same_answer(stored.answer, answer):
            # a retry or a double tap: the reply it got then, nothing stored
            state = _state(session, cache, exam_session, responses[:position])
            view = _view(
                exam_session,
                state,
                cache,
                session,
                now=now,
                feedback_for=stored,
            )
            return view, None, None
        raise ConflictError(
            gettext(
                "Question %(position)d was already answered with another answer.", position=position
            ),
            code="already_answered",
        )
    if exam_session.status != SessionStatus.OPEN.value:
        raise ConflictError(gettext("This exam session has finished."), code="session_finished")
    if _past_deadline(exam_session, now):
        state = _finalize_time_limit(session, cache, exam_session, now=now, n_stored=n_answered)
        view = _view(exam_session, state, cache, session, now=now, time_limit=True)
        return view, None, None
    if position != n_answered + 1:
        raise ConflictError(
            gettext(
                "Question %(position)d is not the current question %(current)d.",
                position=position,
                current=n_answered + 1,
            ),
            code="wrong_position",
        )
    state = _current_state(session, cache, exam_session, n_stored=n_answered)
    if state.finished or state.current_item is None:
        raise ConflictError(gettext("This exam session has finished."), code="session_finished")
    if item_id != state.current_item:
        raise ConflictError(
            gettext("Item %(item)s is not the current question.", item=item_id),
            code="wrong_item",
        )
    compiled = _compiled(session, cache, exam_session)
    content = compiled.items[item_id]
    try:
        score = score_answer(content, answer)
    except MalformedAnswerError as error:
        raise InvalidInputError(str(error), code="invalid_answer") from None
    is_pretest = state.current_is_pretest
    values = {
        "session_id": session_id,
        "position": position,
        "item_id": item_id,
        "item_version_id": content.version_id,
        "answer": answer,
        "score": score,
        "pretest": is_pretest,
        "answered_at": now,
    }
    # a Core INSERT (the ORM's unit of work is most of an INSERT's cost here); a concurrent
    # twin fails here on UNIQUE(session_id, position)
    session.execute(_INSERT_RESPONSE, values)
    response = ExamResponse(**values)  # not added: what the view and feedback read
    if precomputed is not None and precomputed.state is state and precomputed.row.score == score:
        next_state = precomputed.next_state
    else:
        next_state = engine.step(state, score, elapsed_s=_elapsed(exam_session, now))
    finalization = None
    if next_state.finished:
        finalization = _finalize(session, exam_session, next_state, now=now)
    view = _view(
        exam_session,
        next_state,
        cache,
        session,
        now=now,
        feedback_for=response,
        finalization=finalization,
    )
    # Last before the commit: the exposure counter row of an item is shared by every examinee
    # who gets it (the first items of an adaptive exam are the same for many), and its row
    # lock is held from this UPDATE to the commit, so nothing slow may come in between.
    record_administration(
        session,
        [content.version_id],
        items={content.version_id: item_id},
        administered=[content.version_id] if cache.is_administered(content.version_id) else [],
    )
    return view, next_state, content.version_id


def session_result(
    session: Session, cache: PoolCache, user: User, session_id: int, *, now: datetime
) -> ResultView:
    """The result of a finished session of the learner.

    Raises
    ------
    ConflictError
        When the session is still open.
    """
    view = get_session_view(session, cache, user, session_id, now=now)
    if not view.finished or view.result is None:
        raise ConflictError(gettext("This exam session has not finished yet."), code="session_open")
    return view.result


def attempt_history(session: Session, user: User, exam_id: str) -> list[AttemptRow]:
    """The learner's attempts at ``exam_id``, most recent first."""
    rows = session.scalars(
        select(ExamSession)
        .where(ExamSession.user_id == user.id, ExamSession.exam_id == exam_id)
        .order_by(ExamSession.attempt.desc())
    ).all()
    return [
        AttemptRow(
            row.id,
            row.attempt,
            row.status,
            row.started_at,
            row.finished_at,
            row.scale_score,
            row.passed,
        )
        for row in rows
    ]


# -- time limits --------------------------------------------------------------------------------


def sweep_expired(session: Session, cache: PoolCache, *, now: datetime) -> list[int]:
    """Finalize every open session past its deadline, each in its own transaction.

    Returns the ids of the sessions finalized now.
    """
    _end_open_transaction(session)
    candidates = list(
        session.scalars(
            select(ExamSession.id)
            .where(
                ExamSession.status == SessionStatus.OPEN.value,
                ExamSession.deadline.is_not(None),
                ExamSession.deadline <= now,
            )
            .order_by(ExamSession.id)
        )
    )
    session.commit()
    finalized = []
    for session_id in candidates:
        exam_session = _lock(session, session_id)
        if exam_session.status == SessionStatus.OPEN.value and _past_deadline(exam_session, now):
            _finalize_time_limit(session, cache, exam_session, now=now)
            finalized.append(session_id)
        session.commit()
    return finalized


# -- rescoring ----------------------------------------------------------------------------------


#: How far a recomputed number may be from the stored one and still agree (relative and
#: absolute): the last bits of floating-point sums can differ on another CPU or numerical library.
RESCORE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class RescoreReport:
    """The stored result of a session next to the one recomputed from its stored data."""

    session_id: int
    stored: dict[str, Any] | None
    recomputed: dict[str, Any]
    rescored_answers: tuple[tuple[int, int, int], ...]

    @property
    def identical(self) -> bool:
        """Whether the recomputed result equals the stored one exactly, and every stored
        answer still scores as stored."""
        return self.stored == self.recomputed and not self.rescored_answers

    @property
    def max_difference(self) -> float | None:
        """The largest absolute difference between a stored and a recomputed number; None
        when the two results differ in anything but numbers (a key, pass/fail, the stop
        reason, a domain) or could not be compared."""
        pairs = _number_pairs(self.stored, self.recomputed)
        if pairs is None:
            return None
        return max((abs(stored - recomputed) for stored, recomputed in pairs), default=0.0)

    @property
    def agrees(self) -> bool:
        """Whether the result is reproduced: every number within :data:`RESCORE_TOLERANCE` of
        the stored one, everything else equal, and every stored answer still scoring as
        stored. What a rescore on another machine can promise, where :attr:`identical` (bit
        for bit) holds on the machine that scored the session."""
        pairs = _number_pairs(self.stored, self.recomputed)
        return (
            pairs is not None
            and not self.rescored_answers
            and all(
                math.isclose(a, b, rel_tol=RESCORE_TOLERANCE, abs_tol=RESCORE_TOLERANCE)
                for a, b in pairs
            )
        )


def _number_pairs(stored: Any, recomputed: Any) -> list[tuple[float, float]] | None:
    """Every (stored, recomputed) pair of numbers at the same place of two JSON documents, or
    None when they differ in their shape or in anything that is not a number."""
    if _is_number(stored) and _is_number(recomputed):
        return [(float(stored), float(recomputed))]
    if isinstance(stored, dict) and isinstance(recomputed, dict):
        if stored.keys() != recomputed.keys():
            return None
        children = [(stored[key], recomputed[key]) for key in stored]
    elif isinstance(stored, list) and isinstance(recomputed, list):
        if len(stored) != len(recomputed):
            return None
        children = list(zip(stored, recomputed, strict=True))
    else:
        return [] if stored == recomputed else None
    pairs: list[tuple[float, float]] = []
    for child in children:
        found = _number_pairs(*child)
        if found is None:
            return None
        pairs.extend(found)
    return pairs


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rescore_session(session: Session, session_id: int) -> RescoreReport:
    """Recompute a finished session's result from its stored rows only.

    The pool is rebuilt from the session's item versions and parameter estimates (no cache),
    the blueprint from its snapshot, the state by replaying the stored responses with the
    session's seed. ``rescored_answers`` lists ``(position, stored, recomputed)`` for answers
    whose stored score differs from scoring the stored answer against its item version.
    """
    from exam.blueprint import Blueprint
    from item_bank.models import ItemVersion
    from webapp.exams.pools import load_pool

    exam_session = session.get(ExamSession, session_id)
    if exam_session is None:
        raise NotFoundError(
            gettext("There is no exam session %(id)s.", id=session_id), code="session_not_found"
        )
    if exam_session.status != SessionStatus.FINISHED.value:
        raise ConflictError(gettext("This exam session has not finished yet."), code="session_open")
    compiled = load_pool(session, exam_session.pool_items)
    blueprint = Blueprint.from_dict(exam_session.blueprint)
    responses = _responses(session, session_id)
    try:
        state = engine.replay(
            compiled.pool,
            blueprint,
            exam_session.seed,
            _engine_responses(exam_session, responses),
            excluded_items=exam_session.excluded_items or (),
        )
    except ReplayMismatchError as error:
        # stored data that no longer lead the engine along the stored path (edited rows)
        recomputed: dict[str, Any] = {"error": str(error)}
    else:
        if not state.finished:
            state = engine.finish(state, exam_session.end_reason or StopReason.TIME_LIMIT)
        assert state.result is not None
        recomputed = state.result.to_dict()
    differing = []
    for response in responses:
        version = session.get(ItemVersion, response.item_version_id)
        assert version is not None
        rescored = score_answer(version, response.answer)
        if rescored != response.score:
            differing.append((response.position, response.score, rescored))
    return RescoreReport(session_id, exam_session.result, recomputed, tuple(differing))


# -- internals ----------------------------------------------------------------------------------


def _end_open_transaction(session: Session) -> None:
    # Start the answer's transaction afresh: on SQLite a transaction that has read (the login
    # or token lookup) cannot take the write lock after another writer committed. PostgreSQL
    # (READ COMMITTED: each statement sees what was committed before it) may go on in the
    # transaction that read the token, which saves a COMMIT per request.
    if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
        session.commit()


def _is_retryable(error: Exception) -> bool:
    if isinstance(error, IntegrityError):
        return True
    message = str(error).lower()
    return "database is locked" in message or "deadlock" in message or "busy" in message


def _owned(session: Session, user: User, session_id: int) -> ExamSession:
    exam_session = session.get(
        ExamSession, session_id, populate_existing=True, options=_SESSION_ROW
    )
    # another learner's session does not exist for this one (no probing of ids)
    if exam_session is None or exam_session.user_id != user.id:
        raise NotFoundError(
            gettext("There is no exam session %(id)s.", id=session_id), code="session_not_found"
        )
    return exam_session


def _lock(session: Session, session_id: int) -> ExamSession:
    parameters = {"session_id": session_id}
    if session.get_bind().dialect.name == "sqlite":
        # a write first: takes SQLite's one write lock before anything is read
        session.execute(_TAKE_SQLITE_WRITE_LOCK, parameters)
        exam_session = session.scalar(_LOAD_SQLITE, parameters)
    else:
        exam_session = session.scalar(_LOCK_POSTGRESQL, parameters)
    if exam_session is None:
        raise NotFoundError(
            gettext("There is no exam session %(id)s.", id=session_id), code="session_not_found"
        )
    return exam_session


def _lock_user(session: Session, user_id: int) -> None:
    parameters = {"user_id": user_id}
    if session.get_bind().dialect.name == "sqlite":
        session.execute(_LOCK_USER_SQLITE, parameters)
    else:
        session.execute(_LOCK_USER_POSTGRESQL, parameters)


def _responses(session: Session, session_id: int) -> list[ExamResponse]:
    return list(
        session.scalars(
            select(ExamResponse)
            .where(ExamResponse.session_id == session_id)
            .order_by(ExamResponse.position)
            .execution_options(populate_existing=True)
        )
    )


def _past_deadline(exam_session: ExamSession, now: datetime) -> bool:
    return exam_session.deadline is not None and now >= exam_session.deadline


def _elapsed(exam_session: ExamSession, at: datetime) -> float:
    return (at - exam_session.started_at).total_seconds()


def _engine_responses(
    exam_session: ExamSession, responses: Sequence[ExamResponse]
) -> list[Response]:
    return [
        Response(r.item_id, r.score, r.pretest, _elapsed(exam_session, r.answered_at))
        for r in responses
    ]


def _stored_count(session: Session, session_id: int) -> int:
    return int(session.scalar(_COUNT_RESPONSES, {"session_id": session_id}) or 0)


_FIXED_COLUMNS = ("blueprint", "pool_items", "excluded_items")


def _fixture(session: Session, cache: PoolCache, exam_session: ExamSession) -> SessionFixture:
    """The session's blueprint, pool mapping and excluded items, decoded once per process."""
    fixture = cache.fixture(
        exam_session.id, exam_session.seed, exam_session.pool_version, exam_session.started_at
    )
    if fixture is not None:
        return fixture
    if set(_FIXED_COLUMNS) & inspect(exam_session).unloaded:
        # the columns were deferred (see _SESSION_ROW): one statement for the three of them
        blueprint, pool_items, excluded = session.execute(
            select(ExamSession.blueprint, ExamSession.pool_items, ExamSession.excluded_items).where(
                ExamSession.id == exam_session.id
            )
        ).one()
    else:
        blueprint = exam_session.blueprint
        pool_items = exam_session.pool_items
        excluded = exam_session.excluded_items
    fixture = SessionFixture(
        seed=exam_session.seed,
        pool_version=exam_session.pool_version,
        started_at=exam_session.started_at,
        blueprint=cache.blueprint(blueprint),
        pool_items=pool_items,
        excluded_items=tuple(excluded or ()),
        user_id=exam_session.user_id,
        exam_id=exam_session.exam_id,
        kind=exam_session.exam.kind,
        deadline=exam_session.deadline,
    )
    cache.remember_fixture(exam_session.id, fixture)
    return fixture


def _compiled(session: Session, cache: PoolCache, exam_session: ExamSession) -> CompiledPool:
    fixture = _fixture(session, cache, exam_session)
    return cache.pool(session, exam_session.pool_version, fixture.pool_items)


def _state(
    session: Session,
    cache: PoolCache,
    exam_session: ExamSession,
    responses: Sequence[ExamResponse],
) -> ExamState:
    """The state after ``responses``, a prefix of the stored ones (the reply to a retry).

    Retries are rare and a replay of at most an exam's length is cheap, so this replays and
    leaves the process's cached state (which follows the latest answer) alone.
    """
    compiled = _compiled(session, cache, exam_session)
    fixture = _fixture(session, cache, exam_session)
    state = engine.replay(
        compiled.pool,
        fixture.blueprint,
        exam_session.seed,
        _engine_responses(exam_session, responses),
        excluded_items=fixture.excluded_items,
    )
    if exam_session.status == SessionStatus.FINISHED.value and not state.finished:
        state = engine.finish(state, exam_session.end_reason or StopReason.TIME_LIMIT)
    return state


def _current_state(
    session: Session,
    cache: PoolCache,
    exam_session: ExamSession,
    *,
    n_stored: int | None = None,
) -> ExamState:
    """The state after every stored response of ``exam_session``, reading as little as it can.

    Stored responses are never changed or removed, and the cache only ever holds states built
    from committed responses (a new answer's state is remembered after its commit), so a
    cached state of the same session (same seed, pool and blueprint) at position ``p`` equals
    the replay of the first ``p`` stored responses: counting the stored rows tells whether it
    is current, and only the responses after ``p`` are read and stepped through. Anything else
    (a cold or stale cache, a path that does not match) is a full replay of the stored rows.
    """
    if n_stored is None:
        n_stored = _stored_count(session, exam_session.id)
    compiled = _compiled(session, cache, exam_session)
    fixture = _fixture(session, cache, exam_session)
    cached = cache.state(exam_session.id)
    state: ExamState | None = None
    if (
        cached is not None
        and cached.session_seed == exam_session.seed
        and cached.definition.pool is compiled.pool
        and cached.definition.blueprint == fixture.blueprint
        and cached.position <= n_stored
    ):
        state = cached
        if cached.position < n_stored:
            newer = list(
                session.scalars(
                    select(ExamResponse)
                    .where(
                        ExamResponse.session_id == exam_session.id,
                        ExamResponse.position > cached.position,
                    )
                    .order_by(ExamResponse.position)
                )
            )
            if len(newer) != n_stored - cached.position:
                state = None
            for response in _engine_responses(exam_session, newer):
                if state is None or state.finished or state.current_item != response.item_id:
                    state = None
                    break
                state = engine.step(state, response.score, elapsed_s=response.elapsed_s)
    if state is None:
        state = engine.replay(
            compiled.pool,
            fixture.blueprint,
            exam_session.seed,
            _engine_responses(exam_session, _responses(session, exam_session.id)),
            excluded_items=fixture.excluded_items,
        )
    cache.remember_state(exam_session.id, state)
    if exam_session.status == SessionStatus.FINISHED.value and not state.finished:
        state = engine.finish(state, exam_session.end_reason or StopReason.TIME_LIMIT)
    return state


def _same_answer(stored: Any, given: Any) -> bool:
    if isinstance(stored, list) and isinstance(given, list | tuple):
        try:
            return sorted(stored) == sorted(given)
        except TypeError:
            return False
    return stored == given


@dataclass(frozen=True)
class _Finalization:
    """What finalizing a session made that its reply shows: the certificate's code, if any."""

    certificate_code: str | None


def _finished_columns(state: ExamState, now: datetime) -> dict[str, Any]:
    """The ``exam_sessions`` columns of a session that ``state`` finished at ``now``."""
    result = state.result
    assert result is not None
    return {
        "status": SessionStatus.FINISHED.value,
        "end_reason": state.stop_reason,
        "finished_at": now,
        "theta": result.theta,
        "se": result.se,
        "scale_score": result.scale_score,
        "passed": result.passed,
        "result": result.to_dict(),
    }


def _finalize(
    session: Session,
    exam_session: ExamSession,
    state: ExamState,
    *,
    now: datetime,
) -> _Finalization:
    result = state.result
    assert result is not None
    finished = _finished_columns(state, now)
    # a Core UPDATE, and the loaded row given the same values as committed state: the unit of
    # work's flush was a sixth of a last answer's CPU (cProfile), for eight known columns
    session.execute(_FINISH_SESSION, {"session_id": exam_session.id, **finished})
    for column, value in finished.items():
        set_committed_value(exam_session, column, value)
    definition = session.get(ExamDefinition, exam_session.exam_id)
    assert definition is not None
    if definition.kind == ExamKind.FINAL and result.passed:
        return _Finalization(issue_certificate(session, exam_session, now=now).code)
    if definition.kind == ExamKind.TOPIC_QUIZ and definition.topic_id is not None:
        # the state holds every stored response's score and pretest flag
        scored = [s for s, p in zip(state.scores, state.pretest_flags, strict=True) if not p]
        record_quiz_result(
            session,
            exam_session.user_id,
            definition.topic_id,
            n_correct=sum(1 for s in scored if s > 0),
            n_items=len(scored),
            now=now,
        )
    return _Finalization(certificate_code=None)


def _finalize_time_limit(
    session: Session,
    cache: PoolCache,
    exam_session: ExamSession,
    *,
    now: datetime,
    n_stored: int | None = None,
) -> ExamState:
    state = _current_state(session, cache, exam_session, n_stored=n_stored)
    if not state.finished:
        state = engine.finish(state, StopReason.TIME_LIMIT)
    _finalize(session, exam_session, state, now=now)
    return state


def _view(
    exam_session: ExamSession,
    state: ExamState,
    cache: PoolCache,
    session: Session,
    *,
    now: datetime,
    feedback_for: ExamResponse | None = None,
    time_limit: bool = False,
    finalization: _Finalization | None = None,
) -> SessionView:
    """The reply for ``state`` of ``exam_session``, with its result when finished
    (``finalization``: what finalizing it just now made, so that it need not be read back)."""
    compiled = _compiled(session, cache, exam_session)
    fixture = _fixture(session, cache, exam_session)
    result = None
    if state.finished:
        definition = session.get(ExamDefinition, exam_session.exam_id)
        assert definition is not None
        if finalization is None:
            code = session.scalar(
                select(Certificate.code).where(Certificate.session_id == exam_session.id)
            )
        else:
            code = finalization.certificate_code
        result = _result_view(
            session,
            cache,
            session_id=exam_session.id,
            exam_id=exam_session.exam_id,
            finished_at=exam_session.finished_at,
            course_id=definition.course_id,
            kind=definition.kind,
            state=state,
            certificate_code=code,
        )
    return _build_view(
        exam_session.id,
        fixture,
        compiled,
        state,
        now=now,
        feedback_for=feedback_for,
        result=result,
        time_limit=time_limit,
    )


def _build_view(
    session_id: int,
    fixture: SessionFixture,
    compiled: CompiledPool,
    state: ExamState,
    *,
    now: datetime,
    feedback_for: ExamResponse | AnswerRow | None = None,
    result: ResultView | None = None,
    time_limit: bool = False,
) -> SessionView:
    """The reply for ``state`` from what the process holds (no query): the next item, the
    time left, practice feedback, and ``result`` when finished."""
    blueprint = fixture.blueprint
    finished = state.finished
    item = None
    if not finished and state.current_item is not None:
        item = compiled.items[state.current_item].learner_payload()
    time_left = None
    if fixture.deadline is not None:
        time_left = max(int((fixture.deadline - now).total_seconds()), 0)
    feedback = None
    if feedback_for is not None and fixture.kind == ExamKind.TOPIC_QUIZ:
        content = compiled.items[feedback_for.item_id]
        max_score = (
            int(compiled.pool.parameters.n_categories[compiled.pool.index_of(feedback_for.item_id)])
            - 1
        )
        feedback = Feedback(
            position=feedback_for.position,
            item_id=feedback_for.item_id,
            correct=feedback_for.score >= max_score,
            score=feedback_for.score,
            max_score=max_score,
            explanation_vi=content.explanation_vi,
            explanation_en=content.explanation_en,
        )
    # a replay for an earlier position reflects the state then, not the stored status now
    status = SessionStatus.FINISHED.value if finished else SessionStatus.OPEN.value
    return SessionView(
        session_id=session_id,
        exam_id=fixture.exam_id,
        kind=fixture.kind,
        status=status,
        position=state.position + 1,
        n_answered=state.position,
        max_items=blueprint.length.max + blueprint.pretest_items,
        time_left_s=time_left,
        deadline=fixture.deadline,
        item=item,
        feedback=feedback,
        stop_reason=state.stop_reason if finished else None,
        result=result,
        time_limit_reached=time_limit or state.stop_reason == StopReason.TIME_LIMIT,
    )


def _result_view(
    session: Session,
    cache: PoolCache,
    *,
    session_id: int,
    exam_id: str,
    finished_at: datetime | None,
    course_id: str,
    kind: str,
    state: ExamState,
    certificate_code: str | None,
) -> ResultView:
    result = state.result
    assert result is not None
    outline = cache.course_outline(session, course_id)
    reference = result.cut_score if result.cut_score is not None else result.scale_score
    competencies = []
    for domain in result.domains:
        if domain.n_items == 0:
            level = "not_assessed"
        elif domain.scale_score - domain.scale_se >= reference:
            level = "strength"
        elif domain.scale_score < reference:
            level = "study"
        else:
            level = "near"
        name_vi, name_en = outline.domain_names.get(domain.domain, (domain.domain, None))
        competencies.append(
            CompetencyView(
                domain=domain.domain,
                name_vi=name_vi or domain.domain,
                name_en=name_en,
                n_items=domain.n_items,
                scale_score=domain.scale_score,
                scale_se=domain.scale_se,
                level=level,
                topics=outline.topics_of_domain.get(domain.domain, ()),
            )
        )
    scored = [s for s, p in zip(state.scores, state.pretest_flags, strict=True) if not p]
    return ResultView(
        session_id=session_id,
        exam_id=exam_id,
        kind=kind,
        theta=result.theta,
        se=result.se,
        scale_score=result.scale_score,
        scale_se=result.scale_se,
        passed=result.passed,
        cut_score=result.cut_score,
        n_scored=result.n_scored,
        n_correct=sum(1 for s in scored if s > 0),
        stop_reason=result.stop_reason,
        finished_at=finished_at,
        competencies=tuple(competencies),
        certificate_code=certificate_code,
        scale_min=state.definition.blueprint.scale.min,
        scale_max=state.definition.blueprint.scale.max,
    )
