"""The item pool of an exam session: chosen once at the start, rebuilt from stored ids, cached.

At the start of a session :func:`select_pool_items` picks the items the exam may use (operational
and pretest items of the exam's topics with an active parameter estimate, their current version)
and the session stores them as ``{item_id: [item_version_id, parameter_estimate_id]}``. The pool
those rows build is identified by :func:`pool_version` (a hash of the ids), and every worker
process keeps the compiled pool in a :class:`PoolCache` under that key, so answering an item
never loads the bank: only a process that has not seen the pool yet reads its rows, by primary
key. Estimates and administered versions never change, so the key never goes stale; the same
rows rebuild the pool for ``sathach rescore``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from calibration import ItemParameters
from exam.blueprint import Blueprint
from exam.pool import ItemPool, domain_of
from item_bank.db import column_values
from item_bank.models import (
    CompetencyCode,
    Course,
    Item,
    ItemStatus,
    ItemVersion,
    ParameterEstimate,
    Topic,
)
from webapp.exams.models import ExamDefinition, ExamKind
from webapp.exams.progress import CompletionBasis, completion_basis
from webapp.exceptions import ConflictError


@dataclass(frozen=True)
class ItemContent:
    """An item version as the server holds it: what is shown, and (server side only) the key.

    :meth:`learner_payload` is the only form that leaves the server during an exam.
    """

    item_id: str
    version_id: int
    version: int
    type: str
    stem_vi: str
    stem_en: str | None
    options: tuple[dict[str, Any], ...]
    key: Any
    explanation_vi: str | None
    explanation_en: str | None
    media: tuple[str, ...]
    topic_id: str | None
    competency_tag: str

    def learner_payload(self) -> dict[str, Any]:
        """What showing the item needs: id, type, stem, options with their ids, media.

        Never the key, an option's score category, parameters or statistics.
        """
        return {
            "id": self.item_id,
            "type": self.type,
            "stem": {"vi": self.stem_vi, "en": self.stem_en},
            "options": [
                {"id": option["id"], "text": dict(option.get("text") or {})}
                for option in self.options
            ],
            "media": list(self.media),
        }


@dataclass(frozen=True)
class CompiledPool:
    """An exam pool with its items' content, shared by all sessions that use the same rows."""

    version: str
    pool: ItemPool
    items: dict[str, ItemContent]


def pool_version(pool_items: dict[str, list[int]]) -> str:
    """The cache key of a pool: a hash of its sorted ``item -> [version id, estimate id]``."""
    canonical = json.dumps(sorted((k, list(v)) for k, v in pool_items.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def select_pool_items(session: Session, definition: ExamDefinition) -> dict[str, list[int]]:
    """The items an exam session of ``definition`` may use, as stored on the session.

    The final exam draws from every topic of the course, a topic quiz from its topic; only
    operational and pretest items with an active parameter estimate qualify.

    Raises
    ------
    ConflictError
        When no item qualifies (the bank is not seeded or not calibrated).
    """
    if definition.kind == ExamKind.TOPIC_QUIZ:
        topics: Any = [definition.topic_id]
        statuses = [ItemStatus.OPERATIONAL.value]
    else:
        # the course's topics as a subquery: one statement per start, not two
        topics = select(Topic.id).where(Topic.course_id == definition.course_id)
        statuses = [ItemStatus.OPERATIONAL.value, ItemStatus.PRETEST.value]
    rows = session.execute(
        select(Item.id, ItemVersion.id, ParameterEstimate.id)
        .join(
            ItemVersion,
            (ItemVersion.item_id == Item.id) & (ItemVersion.version == Item.current_version_number),
        )
        .join(
            ParameterEstimate,
            (ParameterEstimate.item_id == Item.id) & ParameterEstimate.is_active.is_(True),
        )
        .where(Item.status.in_(statuses), ItemVersion.topic_id.in_(topics))
        .order_by(Item.id)
    ).all()
    if not rows:
        raise ConflictError(
            f"exam {definition.id!r} has no operational items with parameters",
            code="no_items",
        )
    return {item_id: [version_id, estimate_id] for item_id, version_id, estimate_id in rows}


def load_pool(session: Session, pool_items: dict[str, list[int]]) -> CompiledPool:
    """Build the pool of stored ``pool_items`` from their rows (two queries by primary key)."""
    version_ids = [ids[0] for ids in pool_items.values()]
    estimate_ids = [ids[1] for ids in pool_items.values()]
    versions = {
        row.id: row
        for row in session.scalars(select(ItemVersion).where(ItemVersion.id.in_(version_ids)))
    }
    estimates = {
        row.id: row
        for row in session.scalars(
            select(ParameterEstimate).where(ParameterEstimate.id.in_(estimate_ids))
        )
    }
    statuses = dict(
        session.execute(select(Item.id, Item.status).where(Item.id.in_(list(pool_items)))).all()
    )
    item_ids = sorted(pool_items)
    models, slopes, difficulties, guessing = [], [], [], []
    contents: dict[str, ItemContent] = {}
    for item_id in item_ids:
        version_id, estimate_id = pool_items[item_id]
        version = versions.get(version_id)
        estimate = estimates.get(estimate_id)
        if version is None or estimate is None:
            raise LookupError(
                f"pool item {item_id!r}: item version {version_id} or parameter estimate "
                f"{estimate_id} is missing"
            )
        models.append(estimate.model)
        slopes.append(estimate.a)
        difficulties.append(list(estimate.b) if len(estimate.b) > 1 else estimate.b[0])
        guessing.append(estimate.c)
        contents[item_id] = ItemContent(
            item_id=item_id,
            version_id=version.id,
            version=version.version,
            type=version.type,
            stem_vi=version.stem_vi,
            stem_en=version.stem_en,
            options=tuple(dict(option) for option in version.options),
            key=version.key,
            explanation_vi=version.explanation_vi,
            explanation_en=version.explanation_en,
            media=tuple(version.media or ()),
            topic_id=version.topic_id,
            competency_tag=version.competency_tag,
        )
    parameters = ItemParameters.from_lists(models, slopes, difficulties, guessing)
    pool = ItemPool.build(
        item_ids,
        parameters,
        competencies=[contents[i].competency_tag for i in item_ids],
        topics=[contents[i].topic_id for i in item_ids],
        enemy_groups=[versions[pool_items[i][0]].enemy_group for i in item_ids],
        is_pretest=[statuses.get(i) == ItemStatus.PRETEST.value for i in item_ids],
    )
    return CompiledPool(version=pool_version(pool_items), pool=pool, items=contents)


@dataclass(frozen=True)
class CourseOutline:
    """What a result page shows about a course: the topics that teach each competency domain
    (id, Vietnamese and English title, in course order) and the domains' names."""

    topics_of_domain: dict[str, tuple[tuple[str, str, str | None], ...]]
    domain_names: dict[str, tuple[str, str | None]]


def load_course_outline(session: Session, course_id: str) -> CourseOutline:
    """The :class:`CourseOutline` of ``course_id`` from its topics and the framework."""
    topics_of_domain: dict[str, list[tuple[str, str, str | None]]] = {}
    topics = session.scalars(
        select(Topic)
        .where(Topic.course_id == course_id)
        .order_by(Topic.position)
        .options(selectinload(Topic.competency_links))
    )
    for topic in topics:
        for domain in {domain_of(tag) for tag in topic.competency_tags}:
            topics_of_domain.setdefault(domain, []).append(
                (topic.id, topic.title_vi, topic.title_en)
            )
    names = {
        tag: (name_vi, name_en)
        for tag, name_vi, name_en in session.execute(
            select(CompetencyCode.tag, CompetencyCode.name_vi, CompetencyCode.name_en)
        )
        if domain_of(tag) == tag
    }
    return CourseOutline(
        topics_of_domain={domain: tuple(rows) for domain, rows in topics_of_domain.items()},
        domain_names=names,
    )


@dataclass(frozen=True)
class SessionFixture:
    """What a session fixed at its start and never changes: decoded once per process.

    ``seed``, ``pool_version`` and ``started_at`` identify the row it was decoded from, so an
    entry never serves another session that got the same id (a recreated database).
    """

    seed: int
    pool_version: str
    started_at: Any
    blueprint: Blueprint
    pool_items: dict[str, list[int]]
    excluded_items: tuple[str, ...]
    user_id: int
    exam_id: str
    kind: str
    deadline: Any


class PoolCache:
    """Compiled pools, parsed blueprints and the latest exam states of one worker process.

    One cache belongs to one app (one database): ids are only unique within a database.
    """

    def __init__(self, max_pools: int = 64) -> None:
        self.max_pools = max_pools
        self._pools: OrderedDict[str, CompiledPool] = OrderedDict()
        self._blueprints: dict[str, Blueprint] = {}
        # the last state per session: an answer then costs one engine step, not a replay
        self._states: OrderedDict[int, Any] = OrderedDict()
        self.max_states = 10_000
        # the decoded blueprint and pool mapping of each session (immutable after the start)
        self._fixtures: OrderedDict[int, SessionFixture] = OrderedDict()
        # item versions whose administration this process saw committed (never undone)
        self._administered: set[int] = set()
        # read-mostly data with a bounded age: (kind, key) -> (monotonic time read, value).
        # Course outlines and completion rules are re-read after outline_ttl_s, the items
        # each exam draws from at a start after selection_ttl_s.
        self._timed: dict[tuple[str, str], tuple[float, Any]] = {}
        self.outline_ttl_s = 60.0
        self.selection_ttl_s = 30.0
        self._lock = threading.Lock()
        self.loads = 0

    def pool(
        self, session: Session, version: str, pool_items: dict[str, list[int]]
    ) -> CompiledPool:
        """The compiled pool ``version`` of ``pool_items``, built on first use."""
        with self._lock:
            cached = self._pools.get(version)
            if cached is not None:
                self._pools.move_to_end(version)
                return cached
        compiled = load_pool(session, pool_items)
        if compiled.version != version:
            raise ValueError(f"stored pool version {version!r} does not match its items")
        with self._lock:
            self.loads += 1
            self._pools[version] = compiled
            while len(self._pools) > self.max_pools:
                self._pools.popitem(last=False)
        return compiled

    def blueprint(self, document: dict[str, Any]) -> Blueprint:
        """The parsed blueprint of ``document`` (parsed once per distinct document)."""
        key = json.dumps(document, sort_keys=True)
        with self._lock:
            cached = self._blueprints.get(key)
        if cached is None:
            cached = Blueprint.from_dict(document)
            with self._lock:
                if len(self._blueprints) > 256:
                    self._blueprints.clear()
                self._blueprints[key] = cached
        return cached

    def state(self, session_id: int) -> Any:
        """The last exam state this process computed for ``session_id`` (or None).

        Callers must check it against the stored responses before using it: another worker
        may have recorded answers since.
        """
        with self._lock:
            return self._states.get(session_id)

    def remember_state(self, session_id: int, state: Any) -> None:
        """Keep the latest state of a session (least recently used dropped first)."""
        with self._lock:
            self._states[session_id] = state
            self._states.move_to_end(session_id)
            while len(self._states) > self.max_states:
                self._states.popitem(last=False)

    def fixture(self, session_id: int, seed: int, pool_version: str, started_at: Any) -> Any:
        """The decoded start data of ``session_id`` if this process has it for the same row."""
        with self._lock:
            cached = self._fixtures.get(session_id)
            if cached is None:
                return None
            if (
                cached.seed != seed
                or cached.pool_version != pool_version
                or cached.started_at != started_at
            ):
                del self._fixtures[session_id]
                return None
            self._fixtures.move_to_end(session_id)
            return cached

    def known_fixture(self, session_id: int) -> SessionFixture | None:
        """The start data this process decoded for ``session_id``, unchecked: for a write
        whose SQL checks the row's seed itself (:mod:`webapp.exams.recording`)."""
        with self._lock:
            return self._fixtures.get(session_id)

    def known_pool(self, version: str) -> CompiledPool | None:
        """The compiled pool ``version`` if this process has built it."""
        with self._lock:
            return self._pools.get(version)

    def remember_fixture(self, session_id: int, fixture: SessionFixture) -> None:
        """Keep the decoded start data of a session (least recently used dropped first)."""
        with self._lock:
            self._fixtures[session_id] = fixture
            self._fixtures.move_to_end(session_id)
            while len(self._fixtures) > self.max_states:
                self._fixtures.popitem(last=False)

    def _read_at_most_every(
        self, ttl_s: float, key: tuple[str, str], load: Callable[[], Any]
    ) -> Any:
        """``load()``'s value for ``key``, loaded again once it is ``ttl_s`` seconds old."""
        with self._lock:
            cached = self._timed.get(key)
        if cached is not None and time.monotonic() - cached[0] < ttl_s:
            return cached[1]
        value = load()
        with self._lock:
            self._timed[key] = (time.monotonic(), value)
        return value

    def selection(
        self, session: Session, definition: ExamDefinition
    ) -> tuple[dict[str, list[int]], str]:
        """The pool items a session of ``definition`` starting now draws from, and their pool
        version: :func:`select_pool_items`, read at most once per ``selection_ttl_s`` seconds.

        An item retired, pretested or recalibrated reaches exams that start within that time
        (sessions already running keep the pool they started with, as always).
        """

        def load() -> tuple[dict[str, list[int]], str]:
            pool_items = select_pool_items(session, definition)
            return pool_items, pool_version(pool_items)

        return self._read_at_most_every(self.selection_ttl_s, ("selection", definition.id), load)

    def definition_values(self, session: Session, exam_id: str) -> dict[str, Any] | None:
        """The columns of exam definition ``exam_id`` (None if there is none), read at most
        once per ``selection_ttl_s`` seconds, as :meth:`selection` is: a deactivated exam or a
        changed blueprint applies to the starts after that time."""

        def load() -> dict[str, Any] | None:
            definition = session.get(ExamDefinition, exam_id)
            return None if definition is None else column_values(definition)

        return self._read_at_most_every(self.selection_ttl_s, ("definition", exam_id), load)

    def completion_basis(self, session: Session, course_id: str) -> CompletionBasis:
        """The course's :class:`CompletionBasis`, read at most once per ``outline_ttl_s``
        seconds: a changed completion rule or mandatory topic applies to the exams started
        after that time."""

        def load() -> CompletionBasis:
            course = session.get(Course, course_id)
            if course is None:
                raise LookupError(f"no course {course_id!r}")
            return completion_basis(session, course)

        return self._read_at_most_every(self.outline_ttl_s, ("basis", course_id), load)

    def course_outline(self, session: Session, course_id: str) -> CourseOutline:
        """The outline of ``course_id``, read at most once per ``outline_ttl_s`` seconds: a
        renamed topic or domain shows on result pages within that time."""
        return self._read_at_most_every(
            self.outline_ttl_s,
            ("outline", course_id),
            lambda: load_course_outline(session, course_id),
        )

    def is_administered(self, version_id: int) -> bool:
        """Whether this process saw a transaction marking ``version_id`` administered commit."""
        with self._lock:
            return version_id in self._administered

    def remember_administered(self, version_id: int) -> None:
        """Note that ``version_id`` is marked administered in a committed transaction."""
        with self._lock:
            if len(self._administered) > 1_000_000:
                self._administered.clear()
            self._administered.add(version_id)
