"""Topic progress, the course completion rule and who may take which exam.

A topic is complete once its practice quiz has been finished; the course's completion rule
(data on the course, :func:`item_bank.courses.evaluate_completion`) then unlocks the final exam.
The final exam's attempts come from its blueprint (``attempts_allowed``) and its retake rule from
the definition (``retake_wait_s`` after a failed attempt); a learner who passed is done.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from item_bank.courses import CompletionRule, CompletionStatus, TopicSummary, evaluate_completion
from item_bank.models import Course, Topic
from webapp.exams.models import (
    ExamDefinition,
    ExamKind,
    ExamSession,
    SessionStatus,
    TopicProgress,
)
from webapp.exceptions import NotFoundError


class IneligibleReason(enum.StrEnum):
    """Why a learner may not start an exam now (the ``reason`` of ``GET /api/v1/exams``)."""

    COURSE_INCOMPLETE = "course_incomplete"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    RETAKE_WAIT = "retake_wait"
    ALREADY_PASSED = "already_passed"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class Eligibility:
    """Whether a learner may start (or resume) an exam, and why not.

    ``retake_at`` is when a waiting learner may try again; ``attempts_left`` is None when
    unlimited.
    """

    eligible: bool
    reason: IneligibleReason | None = None
    retake_at: datetime | None = None
    attempts_used: int = 0
    attempts_left: int | None = None
    open_session_id: int | None = None


@dataclass(frozen=True)
class TopicRow:
    """One topic on the learner's dashboard."""

    topic_id: str
    title_vi: str
    title_en: str | None
    mandatory: bool
    completed: bool
    attempts: int
    best_correct: int
    n_items: int
    quiz_exam_id: str | None


@dataclass(frozen=True)
class CourseProgress:
    """A learner's course: topics with progress, the completion status and the final exam."""

    course_id: str
    title_vi: str
    title_en: str | None
    topics: tuple[TopicRow, ...]
    completion: CompletionStatus
    final_exam_id: str | None
    final_eligibility: Eligibility | None


# The queries of an exam start, built once on table columns: building a statement and the
# ORM's handling of its result are most of what a small query costs in Python.
_PROGRESS = TopicProgress.__table__.c
_COMPLETED_TOPICS = select(_PROGRESS.topic_id).where(
    _PROGRESS.user_id == bindparam("user_id"), _PROGRESS.completed_at.is_not(None)
)
_SESSIONS = ExamSession.__table__.c
_ATTEMPTS = (
    select(
        _SESSIONS.id, _SESSIONS.attempt, _SESSIONS.status, _SESSIONS.passed, _SESSIONS.finished_at
    )
    .where(_SESSIONS.user_id == bindparam("user_id"), _SESSIONS.exam_id == bindparam("exam_id"))
    .order_by(_SESSIONS.attempt)
)


def completed_topic_ids(session: Session, user_id: int) -> set[str]:
    """The topics the learner has completed."""
    return set(session.scalars(_COMPLETED_TOPICS, {"user_id": user_id}))


@dataclass(frozen=True)
class CompletionBasis:
    """What the completion rule of a course is applied to: the rule and the course's topics
    (id, mandatory), in course order; the same for every learner."""

    rule: CompletionRule
    topics: tuple[TopicSummary, ...]


def completion_basis(session: Session, course: Course) -> CompletionBasis:
    """The :class:`CompletionBasis` of ``course`` (two columns of its topics, not objects)."""
    topics = tuple(
        TopicSummary(topic_id, mandatory)
        for topic_id, mandatory in session.execute(
            select(Topic.id, Topic.mandatory)
            .where(Topic.course_id == course.id)
            .order_by(Topic.position)
        )
    )
    return CompletionBasis(CompletionRule.from_mapping(course.completion_rule), topics)


def course_completion_of(session: Session, user_id: int, course: Course) -> CompletionStatus:
    """The course completion rule applied to the learner's completed topics."""
    return completion_of(session, user_id, completion_basis(session, course))


def completion_of(session: Session, user_id: int, basis: CompletionBasis) -> CompletionStatus:
    """The completion rule of ``basis`` applied to the learner's completed topics."""
    completed = completed_topic_ids(session, user_id)
    return evaluate_completion(basis.rule, list(basis.topics), completed)


def record_quiz_result(
    session: Session, user_id: int, topic_id: str, *, n_correct: int, n_items: int, now: datetime
) -> TopicProgress:
    """Count a finished practice quiz of ``topic_id``: the topic is complete from now on."""
    progress = session.get(TopicProgress, (user_id, topic_id))
    if progress is None:
        progress = TopicProgress(
            user_id=user_id, topic_id=topic_id, attempts=0, best_correct=0, n_items=0
        )
        session.add(progress)
    progress.attempts += 1
    if n_correct >= progress.best_correct:
        progress.best_correct = n_correct
        progress.n_items = n_items
    if progress.completed_at is None:
        progress.completed_at = now
    progress.updated_at = now
    session.flush()
    return progress


def mark_topics_completed(
    session: Session, user_id: int, topic_ids: list[str], *, now: datetime
) -> None:
    """Mark topics complete without a quiz (demo accounts, imports of earlier training)."""
    for topic_id in topic_ids:
        progress = session.get(TopicProgress, (user_id, topic_id))
        if progress is None:
            session.add(
                TopicProgress(
                    user_id=user_id,
                    topic_id=topic_id,
                    attempts=0,
                    best_correct=0,
                    n_items=0,
                    completed_at=now,
                    updated_at=now,
                )
            )
        elif progress.completed_at is None:
            progress.completed_at = now
    session.flush()


@dataclass(frozen=True)
class AttemptRecord:
    """One of the learner's sessions of an exam, as eligibility and the start need it."""

    session_id: int
    attempt: int
    status: str
    passed: bool | None
    finished_at: datetime | None


def attempt_records(session: Session, user_id: int, exam_id: str) -> list[AttemptRecord]:
    """Every session of the learner at ``exam_id``, in attempt order (one query)."""
    rows = session.execute(_ATTEMPTS, {"user_id": user_id, "exam_id": exam_id})
    return [AttemptRecord(*row) for row in rows]


def eligibility(
    session: Session,
    user_id: int,
    definition: ExamDefinition,
    *,
    now: datetime,
    attempts: list[AttemptRecord] | None = None,
    basis: CompletionBasis | None = None,
) -> Eligibility:
    """Whether the learner may start or resume ``definition`` now.

    A topic quiz is practice: always open. The final exam needs the completed course, an
    attempt left and, after a failed attempt, the retake wait; once passed it is closed.
    ``attempts`` are the learner's :func:`attempt_records` of it and ``basis`` the course's
    :class:`CompletionBasis`, when the caller holds them.
    """
    if attempts is None:
        attempts = attempt_records(session, user_id, definition.id)
    open_id = next((a.session_id for a in attempts if a.status == SessionStatus.OPEN.value), None)
    if not definition.active:
        return Eligibility(False, IneligibleReason.INACTIVE)
    if definition.kind == ExamKind.TOPIC_QUIZ:
        return Eligibility(True, open_session_id=open_id)
    finished = sorted(
        (
            (a.passed, a.finished_at)
            for a in attempts
            if a.status == SessionStatus.FINISHED.value and a.finished_at is not None
        ),
        key=lambda pair: pair[1],
    )
    used = len(finished) + (1 if open_id is not None else 0)
    allowed = definition.blueprint.get("attempts_allowed")
    left = None if allowed is None else max(int(allowed) - used, 0)
    if open_id is not None:
        return Eligibility(True, attempts_used=used, attempts_left=left, open_session_id=open_id)
    if any(passed for passed, _ in finished):
        return Eligibility(
            False, IneligibleReason.ALREADY_PASSED, attempts_used=used, attempts_left=left
        )
    if basis is None:
        course = session.get(Course, definition.course_id)
        if course is None:
            raise NotFoundError(f"exam {definition.id!r} names an unknown course")
        basis = completion_basis(session, course)
    if not completion_of(session, user_id, basis).complete:
        return Eligibility(
            False, IneligibleReason.COURSE_INCOMPLETE, attempts_used=used, attempts_left=left
        )
    if left == 0:
        return Eligibility(
            False, IneligibleReason.ATTEMPTS_EXHAUSTED, attempts_used=used, attempts_left=0
        )
    if finished and definition.retake_wait_s:
        last_finished = finished[-1][1]
        retake_at = last_finished + timedelta(seconds=definition.retake_wait_s)
        if now < retake_at:
            return Eligibility(
                False,
                IneligibleReason.RETAKE_WAIT,
                retake_at=retake_at,
                attempts_used=used,
                attempts_left=left,
            )
    return Eligibility(True, attempts_used=used, attempts_left=left)


def course_progress(
    session: Session, user_id: int, course_id: str, *, now: datetime
) -> CourseProgress:
    """The dashboard of ``course_id`` for the learner."""
    course = session.get(Course, course_id)
    if course is None:
        raise NotFoundError(f"no course {course_id!r}", code="course_not_found")
    definitions = session.scalars(
        select(ExamDefinition).where(
            ExamDefinition.course_id == course_id, ExamDefinition.active.is_(True)
        )
    ).all()
    quiz_of = {d.topic_id: d.id for d in definitions if d.kind == ExamKind.TOPIC_QUIZ}
    final = next((d for d in definitions if d.kind == ExamKind.FINAL), None)
    progress = {
        row.topic_id: row
        for row in session.scalars(select(TopicProgress).where(TopicProgress.user_id == user_id))
    }
    rows = []
    for topic in course.topics:
        record = progress.get(topic.id)
        rows.append(
            TopicRow(
                topic_id=topic.id,
                title_vi=topic.title_vi,
                title_en=topic.title_en,
                mandatory=topic.mandatory,
                completed=record is not None and record.completed_at is not None,
                attempts=record.attempts if record else 0,
                best_correct=record.best_correct if record else 0,
                n_items=record.n_items if record else 0,
                quiz_exam_id=quiz_of.get(topic.id),
            )
        )
    return CourseProgress(
        course_id=course.id,
        title_vi=course.title_vi,
        title_en=course.title_en,
        topics=tuple(rows),
        completion=course_completion_of(session, user_id, course),
        final_exam_id=final.id if final else None,
        final_eligibility=eligibility(session, user_id, final, now=now) if final else None,
    )


def count_attempts(session: Session, user_id: int, exam_id: str) -> int:
    """How many sessions (open or finished) the learner has had of ``exam_id``."""
    return int(
        session.scalar(
            select(func.count()).where(
                ExamSession.user_id == user_id, ExamSession.exam_id == exam_id
            )
        )
        or 0
    )
