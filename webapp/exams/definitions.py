"""The exams of a course: its final adaptive exam and one practice quiz per topic.

:func:`ensure_course_exams` creates the definitions a course needs from its data (topics, quiz
lengths) and the default blueprints below; it changes nothing that exists already, so a
psychometrician's edits of a blueprint survive a second run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from exam.blueprint import Blueprint
from item_bank.models import Course
from webapp.exams.models import ExamDefinition, ExamKind
from webapp.exceptions import NotFoundError

#: The default final exam: adaptive, 15 to 30 items, ends early at SE 0.30 or a confident
#: pass/fail decision at the cut, 40 minutes, 3 attempts with a day between failed ones.
FINAL_BLUEPRINT: dict[str, Any] = {
    "mode": "adaptive",
    "name": "final",
    "length": {"min": 15, "max": 30},
    "selection": {"rule": "mfi", "target": "estimate"},
    "estimation": {"interim": "eap", "final": "eap"},
    "exposure": {"method": "randomesque", "randomesque_k": 3},
    "se_target": 0.30,
    "time_limit_s": 2400,
    "classification": {"rule": "ci", "confidence": 0.95},
    "cut_theta": -0.25,
    "scale": {"slope": 100, "intercept": 500, "min": 100, "max": 900},
    "attempts_allowed": 3,
    "exclude_seen_items": False,
    "pretest_items": 0,
}
FINAL_RETAKE_WAIT_S = 24 * 3600


def final_exam_id(course_id: str) -> str:
    return f"{course_id}-FINAL"


def quiz_exam_id(topic_id: str) -> str:
    return f"QUIZ-{topic_id}"


def quiz_blueprint(quiz_length: int) -> dict[str, Any]:
    """A practice quiz: a shuffled fixed form of ``quiz_length`` of the topic's items."""
    return {
        "mode": "fixed",
        "name": "topic_quiz",
        "shuffle_form": True,
        "length": {"min": quiz_length, "max": quiz_length},
        "exclude_seen_items": False,
    }


def ensure_course_exams(
    session: Session, course_id: str, *, final_blueprint: dict[str, Any] | None = None
) -> list[ExamDefinition]:
    """Create the missing exam definitions of ``course_id`` (flushes; the caller commits).

    Returns every definition of the course, new or existing.
    """
    course = session.get(Course, course_id)
    if course is None:
        raise NotFoundError(f"no course {course_id!r}", code="course_not_found")
    document = dict(final_blueprint or FINAL_BLUEPRINT)
    Blueprint.from_dict(document)  # refuse a bad blueprint before storing it
    wanted = [
        ExamDefinition(
            id=final_exam_id(course.id),
            kind=ExamKind.FINAL.value,
            course_id=course.id,
            topic_id=None,
            title_vi=f"Bài kiểm tra cuối khóa: {course.title_vi}",
            title_en=f"Final exam: {course.title_en}" if course.title_en else None,
            blueprint=document,
            retake_wait_s=FINAL_RETAKE_WAIT_S,
        )
    ]
    for topic in course.topics:
        wanted.append(
            ExamDefinition(
                id=quiz_exam_id(topic.id),
                kind=ExamKind.TOPIC_QUIZ.value,
                course_id=course.id,
                topic_id=topic.id,
                title_vi=f"Luyện tập: {topic.title_vi}",
                title_en=f"Practice: {topic.title_en}" if topic.title_en else None,
                blueprint=quiz_blueprint(topic.quiz_length),
                retake_wait_s=0,
            )
        )
    definitions = []
    for definition in wanted:
        existing = session.get(ExamDefinition, definition.id)
        if existing is None:
            session.add(definition)
            existing = definition
        definitions.append(existing)
    session.flush()
    return definitions
