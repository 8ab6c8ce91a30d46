"""The tables of the item bank: frameworks and codes, courses and topics, items and their
versions, lifecycle transitions, calibration runs, parameter estimates and exposure counters.

Every table hangs off the one :class:`item_bank.db.Base`; the schema is created by Alembic
(revision ``0001_item_bank`` in ``webapp/migrations``), never by ``create_all`` in production.
A stored response of the web app references ``item_versions.id``, so it always points to the
exact version that was shown; a version that has been shown (``administered_at`` set) is never
changed again.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import get_history

from item_bank.db import Base
from item_bank.exceptions import ImmutableVersionError


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (the default of every timestamp column)."""
    return datetime.now(UTC)


class ItemType(enum.StrEnum):
    """How an item is answered and scored."""

    SINGLE_CHOICE = "single_choice"
    MULTIPLE_RESPONSE = "multiple_response"
    TRUE_FALSE = "true_false"
    ORDERED = "ordered"


class ItemStatus(enum.StrEnum):
    """The lifecycle of an item: draft -> reviewed -> pretest -> operational -> retired."""

    DRAFT = "draft"
    REVIEWED = "reviewed"
    PRETEST = "pretest"
    OPERATIONAL = "operational"
    RETIRED = "retired"


class Difficulty(enum.StrEnum):
    """The item writer's intended difficulty (easy ~ TT02 CB2, medium ~ TC1-TC2, hard ~ NC1)."""

    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


def _in_check(column: str, values: type[enum.StrEnum], *, nullable: bool = False) -> str:
    listed = ", ".join(f"'{member.value}'" for member in values)
    condition = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {condition}" if nullable else condition


class TaxonomyRevision(Base):
    """One loaded revision of the competency-framework document, kept whole for export."""

    __tablename__ = "taxonomy_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schema: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    loaded_by: Mapped[str] = mapped_column(String(100))


class Framework(Base):
    """A competency framework (TT02-2025, DigComp 2.2, the project context codes...)."""

    __tablename__ = "frameworks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_vi: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)

    codes: Mapped[list[CompetencyCode]] = relationship(
        back_populates="framework", order_by="CompetencyCode.position"
    )


class CompetencyCode(Base):
    """A code of a framework: domain, competency, level, context, module..., tagged
    ``<framework_id>:<code>``; a code that a revision drops stays while anything uses it."""

    __tablename__ = "competency_codes"
    __table_args__ = (UniqueConstraint("framework_id", "code", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), unique=True)
    framework_id: Mapped[str] = mapped_column(ForeignKey("frameworks.id"))
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    parent_tag: Mapped[str | None] = mapped_column(String(100))
    name_vi: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    in_current_revision: Mapped[bool] = mapped_column(Boolean, default=True)

    framework: Mapped[Framework] = relationship(back_populates="codes")


class Crosswalk(Base):
    """A published mapping between two frameworks, kept as its document."""

    __tablename__ = "crosswalks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    from_framework: Mapped[str] = mapped_column(String(64))
    to_framework: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class Course(Base):
    """A course of topics; ``completion_rule`` is data (see :mod:`item_bank.courses`)."""

    __tablename__ = "courses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str | None] = mapped_column(Text)
    description_vi: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    completion_rule: Mapped[dict[str, Any]] = mapped_column(JSON)

    topics: Mapped[list[Topic]] = relationship(back_populates="course", order_by="Topic.position")


class Topic(Base):
    """A topic of a course, tagged with competency codes and an optional context code."""

    __tablename__ = "topics"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    course_id: Mapped[str] = mapped_column(ForeignKey("courses.id"))
    position: Mapped[int] = mapped_column(Integer)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str | None] = mapped_column(Text)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    context_tag: Mapped[str | None] = mapped_column(ForeignKey("competency_codes.tag"))
    quiz_length: Mapped[int] = mapped_column(Integer, default=5)

    course: Mapped[Course] = relationship(back_populates="topics")
    competency_links: Mapped[list[TopicCompetency]] = relationship(
        order_by="TopicCompetency.position", cascade="all, delete-orphan"
    )

    @property
    def competency_tags(self) -> list[str]:
        """The topic's competency tags in their published order."""
        return [link.competency_tag for link in self.competency_links]


class TopicCompetency(Base):
    """Association of a topic with one of its competency codes."""

    __tablename__ = "topic_competencies"

    topic_id: Mapped[str] = mapped_column(ForeignKey("topics.id"), primary_key=True)
    competency_tag: Mapped[str] = mapped_column(
        ForeignKey("competency_codes.tag"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)


class Item(Base):
    """An item: a stable id, a lifecycle status and a history of versions."""

    __tablename__ = "items"
    __table_args__ = (CheckConstraint(_in_check("status", ItemStatus), name="status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default=ItemStatus.DRAFT.value)
    current_version_number: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    created_by: Mapped[str] = mapped_column(String(100))

    versions: Mapped[list[ItemVersion]] = relationship(
        back_populates="item", order_by="ItemVersion.version"
    )
    transitions: Mapped[list[StatusTransition]] = relationship(
        back_populates="item", order_by="StatusTransition.id"
    )

    @property
    def current_version(self) -> ItemVersion:
        """The version new exams show (the highest version number)."""
        return next(v for v in self.versions if v.version == self.current_version_number)


class ItemVersion(Base):
    """One version of an item's content, key and tags; immutable once administered."""

    __tablename__ = "item_versions"
    __table_args__ = (
        UniqueConstraint("item_id", "version"),
        CheckConstraint(_in_check("type", ItemType), name="type"),
        CheckConstraint(_in_check("difficulty", Difficulty, nullable=True), name="difficulty"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_item_versions_competency_tag", "competency_tag"),
        Index("ix_item_versions_topic_id", "topic_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(20))
    stem_vi: Mapped[str] = mapped_column(Text)
    stem_en: Mapped[str | None] = mapped_column(Text)
    # [{"id": "A", "text": {"vi": ..., "en": ...}, "score": 2}], "score" only for ordered items
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # an option id, a list of option ids (multiple response) or None (ordered: option scores)
    key: Mapped[Any] = mapped_column(JSON, nullable=True)
    explanation_vi: Mapped[str | None] = mapped_column(Text)
    explanation_en: Mapped[str | None] = mapped_column(Text)
    media: Mapped[list[str]] = mapped_column(JSON, default=list)
    competency_tag: Mapped[str] = mapped_column(ForeignKey("competency_codes.tag"))
    context_tag: Mapped[str | None] = mapped_column(ForeignKey("competency_codes.tag"))
    topic_id: Mapped[str | None] = mapped_column(ForeignKey("topics.id"))
    author: Mapped[str | None] = mapped_column(String(100))
    enemy_group: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    difficulty: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    created_by: Mapped[str] = mapped_column(String(100))
    administered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    item: Mapped[Item] = relationship(back_populates="versions")

    @property
    def is_administered(self) -> bool:
        """True once the version has been shown to an examinee (it is then immutable)."""
        return self.administered_at is not None

    @property
    def n_categories(self) -> int:
        """Score categories: 2 for dichotomous items, max option score + 1 for ordered ones."""
        if self.type == ItemType.ORDERED:
            return max(int(option["score"]) for option in self.options) + 1
        return 2


VERSION_CONTENT_COLUMNS = (
    "item_id",
    "version",
    "type",
    "stem_vi",
    "stem_en",
    "options",
    "key",
    "explanation_vi",
    "explanation_en",
    "media",
    "competency_tag",
    "context_tag",
    "topic_id",
    "author",
    "enemy_group",
    "tags",
    "difficulty",
)


@event.listens_for(ItemVersion, "before_update")
def _refuse_changes_to_administered_versions(_mapper: Any, _connection: Any, target: Any) -> None:
    # the guard of "a stored response points to the exact version shown": whatever code path
    # changes a version, the flush fails once the version has been administered
    history = get_history(target, "administered_at")
    committed = next(iter(history.deleted or history.unchanged or ()), None)
    if committed is None:  # not administered before this flush
        return
    changed = [name for name in VERSION_CONTENT_COLUMNS if get_history(target, name).has_changes()]
    if target.administered_at is None:
        changed.append("administered_at")
    if changed:
        raise ImmutableVersionError(
            f"item {target.item_id!r} version {target.version} has been administered; "
            f"its {', '.join(changed)} cannot change (edit the item to get a new version)"
        )


class StatusTransition(Base):
    """Who moved an item from one status to another, when and why (creation has no ``from``)."""

    __tablename__ = "status_transitions"
    __table_args__ = (
        CheckConstraint(_in_check("to_status", ItemStatus), name="to_status"),
        CheckConstraint(_in_check("from_status", ItemStatus, nullable=True), name="from_status"),
        Index("ix_status_transitions_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    item: Mapped[Item] = relationship(back_populates="transitions")


class CalibrationRun(Base):
    """A calibration (or an import, or the provisional seed rule) that produced estimates."""

    __tablename__ = "calibration_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(40))
    run_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    sample_size: Mapped[int] = mapped_column(Integer, default=0)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str | None] = mapped_column(Text)

    estimates: Mapped[list[ParameterEstimate]] = relationship(back_populates="run")


class ParameterEstimate(Base):
    """IRT parameters of one item version from one run; at most one active estimate per item.

    ``b`` is always a list: one difficulty for dichotomous models, the thresholds (GRM) or step
    difficulties (GPCM) for ordered items, as in :class:`calibration.ItemParameters`.
    """

    __tablename__ = "parameter_estimates"
    __table_args__ = (
        Index(
            "uq_parameter_estimates_active_item",
            "item_id",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        Index("ix_parameter_estimates_item_version_id", "item_version_id"),
        CheckConstraint("a > 0", name="a_positive"),
        CheckConstraint("c >= 0 AND c < 1", name="c_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"))
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"))
    calibration_run_id: Mapped[int] = mapped_column(ForeignKey("calibration_runs.id"))
    model: Mapped[str] = mapped_column(String(10))
    a: Mapped[float] = mapped_column(Float)
    b: Mapped[list[float]] = mapped_column(JSON)
    c: Mapped[float] = mapped_column(Float, default=0.0)
    se_a: Mapped[float | None] = mapped_column(Float)
    se_b: Mapped[list[float] | None] = mapped_column(JSON)
    se_c: Mapped[float | None] = mapped_column(Float)
    n_responses: Mapped[int] = mapped_column(Integer, default=0)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activated_by: Mapped[str | None] = mapped_column(String(100))

    run: Mapped[CalibrationRun] = relationship(back_populates="estimates")
    item_version: Mapped[ItemVersion] = relationship()


class ItemExposure(Base):
    """How often an item has been administered, updated with one atomic ``UPDATE`` per use."""

    __tablename__ = "item_exposures"

    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_exposed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
