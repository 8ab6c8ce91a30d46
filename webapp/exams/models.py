"""Tables of exam delivery on the one :class:`item_bank.db.Base`: exam definitions, exam sessions,
their responses, topic progress and certificates.

A session stores everything its score depends on: the blueprint as it was at the start, the item
version and the parameter estimate of every item of its pool, and its random seed. Its responses
point to the exact ``item_versions`` row shown. The exam state is never stored: it is rebuilt from
the responses (``exam.replay``) on every request, so a server restart loses nothing, and
``sathach rescore`` reproduces the score from these rows alone. ``UNIQUE(session_id, position)``
is what makes a repeated or concurrent answer idempotent.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from item_bank.db import Base
from webapp.models import UTCDateTime, utcnow


class ExamKind(enum.StrEnum):
    """The course's final (certification) exam, or a topic's practice quiz."""

    FINAL = "final"
    TOPIC_QUIZ = "topic_quiz"


class SessionStatus(enum.StrEnum):
    """An exam session is open until it is finished (by the engine or by its time limit)."""

    OPEN = "open"
    FINISHED = "finished"


class CertificateStatus(enum.StrEnum):
    """A certificate is valid until revoked."""

    VALID = "valid"
    REVOKED = "revoked"


def _in_check(column: str, values: type[enum.StrEnum], *, nullable: bool = False) -> str:
    listed = ", ".join(f"'{member.value}'" for member in values)
    condition = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {condition}" if nullable else condition


class ExamDefinition(Base):
    """An exam a learner can take: the final exam of a course or the quiz of one topic.

    ``blueprint`` is an :class:`exam.Blueprint` document; a topic quiz is a fixed form drawn from
    its topic's operational items. ``retake_wait_s`` is how long a learner waits after a failed
    final exam before the next attempt (the retake rule; attempts are limited by the blueprint).
    """

    __tablename__ = "exam_definitions"
    __table_args__ = (
        CheckConstraint(_in_check("kind", ExamKind), name="kind"),
        CheckConstraint(
            "(kind = 'topic_quiz' AND topic_id IS NOT NULL)"
            " OR (kind = 'final' AND topic_id IS NULL)",
            name="topic_of_kind",
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"), index=True)
    topic_id: Mapped[str | None] = mapped_column(ForeignKey("topics.id"), index=True)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str | None] = mapped_column(Text)
    blueprint: Mapped[dict[str, Any]] = mapped_column(JSON)
    retake_wait_s: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ExamSession(Base):
    """One attempt of a learner at an exam, with the data that reproduce its score.

    ``pool_items`` maps each item id of the pool to ``[item_version_id, parameter_estimate_id]``;
    ``pool_version`` is the cache key of the pool those rows build. ``result`` holds the final
    outcome (theta, SE, scale score, pass/fail, domain subscores) once finished.
    """

    __tablename__ = "exam_sessions"
    __table_args__ = (
        CheckConstraint(_in_check("status", SessionStatus), name="status"),
        # at most one open session per learner and exam: two tabs starting at once get one
        Index(
            "uq_exam_sessions_open_user_exam",
            "user_id",
            "exam_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_exam_sessions_user_id_exam_id", "user_id", "exam_id"),
        Index("ix_exam_sessions_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    exam_id: Mapped[str] = mapped_column(ForeignKey("exam_definitions.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=SessionStatus.OPEN.value)
    # the engine's stop reason (exam.stopping.StopReason): max_length, time_limit...
    end_reason: Mapped[str | None] = mapped_column(String(20))
    seed: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blueprint: Mapped[dict[str, Any]] = mapped_column(JSON)
    pool_version: Mapped[str] = mapped_column(String(64))
    pool_items: Mapped[dict[str, list[int]]] = mapped_column(JSON)
    # items of earlier attempts the engine left out (exclude_seen_items): replay needs them
    excluded_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    theta: Mapped[float | None] = mapped_column(Float)
    se: Mapped[float | None] = mapped_column(Float)
    scale_score: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    exam: Mapped[ExamDefinition] = relationship()
    responses: Mapped[list[ExamResponse]] = relationship(
        back_populates="session", order_by="ExamResponse.position"
    )


class ExamResponse(Base):
    """One answer, stored as given, with the exact item version shown and its score category."""

    __tablename__ = "exam_responses"
    __table_args__ = (
        UniqueConstraint("session_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("score >= 0", name="score_non_negative"),
        Index("ix_exam_responses_item_version_id", "item_version_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"))
    answer: Mapped[Any] = mapped_column(JSON)
    score: Mapped[int] = mapped_column(Integer)
    pretest: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    session: Mapped[ExamSession] = relationship(back_populates="responses")


class TopicProgress(Base):
    """A learner's progress on one topic: completed once its practice quiz has been finished."""

    __tablename__ = "topic_progress"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    topic_id: Mapped[str] = mapped_column(ForeignKey("topics.id"), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    best_correct: Mapped[int] = mapped_column(Integer, default=0)
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Certificate(Base):
    """A certificate of a passed final exam, verified publicly by its ``code``.

    The holder's name and org unit are kept as issued, so the certificate says what it said on
    paper even if the account changes later.
    """

    __tablename__ = "certificates"
    __table_args__ = (CheckConstraint(_in_check("status", CertificateStatus), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"))
    session_id: Mapped[int] = mapped_column(ForeignKey("exam_sessions.id"), unique=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    org_unit_name: Mapped[str | None] = mapped_column(String(200))
    scale_score: Mapped[float] = mapped_column(Float)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=CertificateStatus.VALID.value)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(Text)
