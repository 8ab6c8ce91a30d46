"""Exam delivery in demo mode: the course's exams exist and the demo learners have completed
their topics, so they may take the final exam at once (``sathach demo``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from item_bank.models import Course
from webapp.exams.definitions import ensure_course_exams
from webapp.exams.models import ExamDefinition
from webapp.exams.progress import mark_topics_completed
from webapp.exceptions import NotFoundError


def prepare_exam_demo(
    session: Session, course_id: str, learner_ids: Iterable[int], *, now: datetime
) -> list[ExamDefinition]:
    """Create the course's exam definitions and mark every topic complete for the learners.

    Idempotent: a second run finds everything in place. Flushes; the caller commits.
    """
    course = session.get(Course, course_id)
    if course is None:
        raise NotFoundError(f"no course {course_id!r}: seed the bank first", code="no_course")
    definitions = ensure_course_exams(session, course_id)
    topic_ids = [topic.id for topic in course.topics]
    for learner_id in learner_ids:
        mark_topics_completed(session, learner_id, topic_ids, now=now)
    return definitions
