"""Courses and their topics, and the course completion rule, which is data on the course.

The national course (``item_bank/data/national_course.json``) has 19 topics, 5 of them
mandatory; its rule ``{"all_mandatory": true, "min_topics": 10}`` reads "all mandatory topics and
at least 10 topics in all". :func:`evaluate_completion` applies such a rule to a learner's set of
completed topics without touching the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank.exceptions import UnknownCodeError
from item_bank.models import Course, Topic, TopicCompetency

RULE_KEYS = frozenset({"all_mandatory", "min_topics", "required_topics"})


@dataclass(frozen=True)
class CompletionRule:
    """When a course counts as completed.

    Parameters
    ----------
    all_mandatory : bool
        Every mandatory topic must be completed.
    min_topics : int
        At least this many topics (mandatory ones included) must be completed.
    required_topics : tuple of str
        Topics required by name, beyond the mandatory flag.
    """

    all_mandatory: bool = True
    min_topics: int = 0
    required_topics: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, rule: Mapping[str, Any]) -> CompletionRule:
        """Read a rule from its JSON form; unknown keys and bad values raise ValueError."""
        if not isinstance(rule, Mapping):
            raise TypeError(f"a completion rule must be a JSON object, got {rule!r}")
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise ValueError(
                f"unknown completion-rule keys {sorted(unknown)}; known: {sorted(RULE_KEYS)}"
            )
        all_mandatory = rule.get("all_mandatory", True)
        if not isinstance(all_mandatory, bool):
            raise ValueError(f"all_mandatory must be true or false, got {all_mandatory!r}")
        min_topics = rule.get("min_topics", 0)
        if isinstance(min_topics, bool) or not isinstance(min_topics, int) or min_topics < 0:
            raise ValueError(f"min_topics must be a non-negative integer, got {min_topics!r}")
        required = rule.get("required_topics", [])
        if not isinstance(required, list) or not all(isinstance(t, str) for t in required):
            raise ValueError(f"required_topics must be a list of topic ids, got {required!r}")
        return cls(all_mandatory, min_topics, tuple(required))

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form (only the keys that differ from 'no requirement' besides the flag)."""
        rule: dict[str, Any] = {"all_mandatory": self.all_mandatory, "min_topics": self.min_topics}
        if self.required_topics:
            rule["required_topics"] = list(self.required_topics)
        return rule


@dataclass(frozen=True)
class TopicSummary:
    """What the completion rule needs to know of a topic."""

    topic_id: str
    mandatory: bool


@dataclass(frozen=True)
class CompletionStatus:
    """The outcome of a completion rule for one learner."""

    complete: bool
    n_completed: int
    n_required: int
    missing_topics: tuple[str, ...]


def evaluate_completion(
    rule: CompletionRule, topics: Sequence[TopicSummary], completed: Iterable[str]
) -> CompletionStatus:
    """Apply ``rule`` to the learner's ``completed`` topic ids (ids outside the course ignored).

    ``missing_topics`` lists the mandatory and required topics still to do, in course order.
    """
    course_topics = {topic.topic_id for topic in topics}
    done = set(completed) & course_topics
    unknown_required = set(rule.required_topics) - course_topics
    if unknown_required:
        raise ValueError(f"the rule requires topics outside the course: {sorted(unknown_required)}")
    must = [
        topic.topic_id
        for topic in topics
        if (rule.all_mandatory and topic.mandatory) or topic.topic_id in rule.required_topics
    ]
    missing = tuple(topic_id for topic_id in must if topic_id not in done)
    n_required = max(rule.min_topics, len(must))
    return CompletionStatus(
        complete=not missing and len(done) >= rule.min_topics,
        n_completed=len(done),
        n_required=n_required,
        missing_topics=missing,
    )


def course_completion(
    session: Session, course_id: str, completed: Iterable[str]
) -> CompletionStatus:
    """:func:`evaluate_completion` with the course's rule and topics from the database."""
    course = session.get(Course, course_id)
    if course is None:
        raise UnknownCodeError(f"unknown course {course_id!r}")
    topics = [TopicSummary(topic.id, topic.mandatory) for topic in course.topics]
    return evaluate_completion(
        CompletionRule.from_mapping(course.completion_rule), topics, completed
    )


def packaged_course() -> dict[str, Any]:
    """The national course document shipped with the package (``item_bank/data``)."""
    path = resources.files("item_bank").joinpath("data/national_course.json")
    return json.loads(path.read_text(encoding="utf-8"))


def course_problems(document: Any, known: set[str]) -> list[tuple[str, str]]:
    """Problems of a course document as ``(field, problem)``; ``known`` are the valid tags."""
    if not isinstance(document, Mapping):
        return [("", "a course must be a JSON object")]
    problems: list[tuple[str, str]] = []
    if not isinstance(document.get("course_id"), str) or not document["course_id"].strip():
        problems.append(("course_id", "missing or empty"))
    if not _text_vi(document.get("title")):
        problems.append(("title.vi", "the Vietnamese title is empty"))
    try:
        CompletionRule.from_mapping(document.get("completion_rule", {}))
    except (TypeError, ValueError) as error:
        problems.append(("completion_rule", str(error)))
    topics = document.get("topics")
    if not isinstance(topics, list) or not topics:
        problems.append(("topics", "must be a non-empty list"))
        return problems
    seen: set[str] = set()
    for index, topic in enumerate(topics):
        field = f"topics[{index}]"
        if not isinstance(topic, Mapping):
            problems.append((field, "must be a JSON object"))
            continue
        topic_id = topic.get("topic_id")
        if not isinstance(topic_id, str) or not topic_id:
            problems.append((f"{field}.topic_id", "missing or empty"))
        elif topic_id in seen:
            problems.append((f"{field}.topic_id", f"duplicate topic id {topic_id!r}"))
        else:
            seen.add(topic_id)
        if not _text_vi(topic.get("title")):
            problems.append((f"{field}.title.vi", "the Vietnamese title is empty"))
        if not isinstance(topic.get("mandatory", False), bool):
            problems.append((f"{field}.mandatory", "must be true or false"))
        quiz_length = topic.get("quiz_length", 5)
        if isinstance(quiz_length, bool) or not isinstance(quiz_length, int) or quiz_length < 1:
            problems.append(
                (f"{field}.quiz_length", f"must be a positive integer: {quiz_length!r}")
            )
        competencies = topic.get("competencies", [])
        if not isinstance(competencies, list):
            problems.append((f"{field}.competencies", "must be a list of competency codes"))
            competencies = []
        for code in competencies:
            if code not in known:
                problems.append((f"{field}.competencies", f"unknown competency code {code!r}"))
        context = topic.get("context")
        if context is not None and context not in known:
            problems.append((f"{field}.context", f"unknown context code {context!r}"))
    rule = document.get("completion_rule", {})
    if isinstance(rule, Mapping):
        for topic_id in rule.get("required_topics", []) or []:
            if topic_id not in seen:
                problems.append(("completion_rule.required_topics", f"unknown topic {topic_id!r}"))
    return problems


def _text_vi(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("vi"), str)
        and bool(value["vi"].strip())
    )


def load_course(session: Session, document: Mapping[str, Any]) -> bool:
    """Upsert a course and its topics from its document; returns True when anything changed.

    The document is assumed valid (:func:`course_problems`); topics are matched by id.
    """
    if course_document_of(session, document["course_id"]) == normalized_course(document):
        return False
    course = session.get(Course, document["course_id"]) or Course(id=document["course_id"])
    course.title_vi = document["title"]["vi"]
    course.title_en = document["title"].get("en")
    description = document.get("description") or {}
    course.description_vi = description.get("vi")
    course.description_en = description.get("en")
    course.completion_rule = CompletionRule.from_mapping(
        document.get("completion_rule", {})
    ).to_mapping()
    session.add(course)
    session.flush()
    for position, topic_document in enumerate(document["topics"], start=1):
        topic = session.get(Topic, topic_document["topic_id"]) or Topic(
            id=topic_document["topic_id"]
        )
        topic.course_id = course.id
        topic.position = int(topic_document.get("order", position))
        topic.title_vi = topic_document["title"]["vi"]
        topic.title_en = topic_document["title"].get("en")
        topic.mandatory = bool(topic_document.get("mandatory", False))
        topic.context_tag = topic_document.get("context")
        topic.quiz_length = int(topic_document.get("quiz_length", 5))
        wanted = list(topic_document.get("competencies", []))
        if topic.competency_tags != wanted:
            topic.competency_links.clear()
            session.flush()
            topic.competency_links.extend(
                TopicCompetency(competency_tag=tag, position=index)
                for index, tag in enumerate(wanted)
            )
        session.add(topic)
    session.flush()
    # the collections were edited through foreign keys: reload them in their published order
    session.expire(course, ["topics"])
    return True


def normalized_course(document: Mapping[str, Any]) -> dict[str, Any]:
    """The export form of a (valid) course document: every key present, in a fixed order."""
    description = document.get("description") or {}
    return {
        "course_id": document["course_id"],
        "title": {"vi": document["title"]["vi"], "en": document["title"].get("en")},
        "description": {"vi": description.get("vi"), "en": description.get("en")},
        "completion_rule": CompletionRule.from_mapping(
            document.get("completion_rule", {})
        ).to_mapping(),
        "topics": [
            {
                "topic_id": topic["topic_id"],
                "order": int(topic.get("order", position)),
                "title": {"vi": topic["title"]["vi"], "en": topic["title"].get("en")},
                "mandatory": bool(topic.get("mandatory", False)),
                "competencies": list(topic.get("competencies", [])),
                "context": topic.get("context"),
                "quiz_length": int(topic.get("quiz_length", 5)),
            }
            for position, topic in enumerate(document["topics"], start=1)
        ],
    }


def course_document(course: Course) -> dict[str, Any]:
    """A stored course in the shape of ``national_course.json`` (what the export writes)."""
    return {
        "course_id": course.id,
        "title": {"vi": course.title_vi, "en": course.title_en},
        "description": {"vi": course.description_vi, "en": course.description_en},
        "completion_rule": CompletionRule.from_mapping(course.completion_rule).to_mapping(),
        "topics": [
            {
                "topic_id": topic.id,
                "order": topic.position,
                "title": {"vi": topic.title_vi, "en": topic.title_en},
                "mandatory": topic.mandatory,
                "competencies": topic.competency_tags,
                "context": topic.context_tag,
                "quiz_length": topic.quiz_length,
            }
            for topic in course.topics
        ],
    }


def course_document_of(session: Session, course_id: str) -> dict[str, Any] | None:
    """The export form of the stored course ``course_id``, or None when it is not stored."""
    course = session.get(Course, course_id)
    return None if course is None else course_document(course)


def all_course_documents(session: Session) -> list[dict[str, Any]]:
    """Every stored course in export form, by course id."""
    return [
        course_document(course) for course in session.scalars(select(Course).order_by(Course.id))
    ]


def topic_ids(session: Session) -> set[str]:
    """Ids of every stored topic."""
    return set(session.scalars(select(Topic.id)))
