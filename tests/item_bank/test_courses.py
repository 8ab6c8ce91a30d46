"""The national course and its completion rule (data, evaluated by a pure function)."""

from __future__ import annotations

import copy

import pytest

from item_bank.courses import (
    CompletionRule,
    TopicSummary,
    course_completion,
    course_document_of,
    course_problems,
    evaluate_completion,
    load_course,
    normalized_course,
    packaged_course,
)
from item_bank.exceptions import UnknownCodeError
from item_bank.frameworks import extract_codes, packaged_taxonomy
from item_bank.models import Course

MANDATORY = ["T-DX", "T-SEC", "T-EDOC", "T-ESIG", "T-PSV"]


def _topics() -> list[TopicSummary]:
    return [TopicSummary(t["topic_id"], t["mandatory"]) for t in packaged_course()["topics"]]


def _rule() -> CompletionRule:
    return CompletionRule.from_mapping(packaged_course()["completion_rule"])


def test_the_national_course_has_19_topics_5_of_them_mandatory() -> None:
    topics = _topics()
    assert len(topics) == 19
    assert [t.topic_id for t in topics if t.mandatory] == MANDATORY
    assert _rule() == CompletionRule(all_mandatory=True, min_topics=10)


def test_all_mandatory_and_ten_topics_complete_the_course() -> None:
    electives = [t.topic_id for t in _topics() if not t.mandatory]
    status = evaluate_completion(_rule(), _topics(), MANDATORY + electives[:5])
    assert status.complete and status.n_completed == 10 and status.missing_topics == ()


def test_nine_topics_are_not_enough() -> None:
    electives = [t.topic_id for t in _topics() if not t.mandatory]
    status = evaluate_completion(_rule(), _topics(), MANDATORY + electives[:4])
    assert not status.complete and status.n_completed == 9 and status.n_required == 10


def test_ten_topics_without_a_mandatory_one_are_not_enough() -> None:
    electives = [t.topic_id for t in _topics() if not t.mandatory]
    status = evaluate_completion(_rule(), _topics(), MANDATORY[1:] + electives[:6] + ["X-OUT"])
    assert not status.complete
    assert status.n_completed == 10  # the id outside the course does not count
    assert status.missing_topics == ("T-DX",)


def test_a_rule_with_required_topics_lists_them_as_missing() -> None:
    rule = CompletionRule.from_mapping(
        {"all_mandatory": False, "min_topics": 1, "required_topics": ["T-AI"]}
    )
    assert evaluate_completion(rule, _topics(), ["T-SEC"]).missing_topics == ("T-AI",)
    assert evaluate_completion(rule, _topics(), ["T-AI"]).complete


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"min_topic": 3}, "unknown completion-rule keys"),
        ({"min_topics": -1}, "non-negative"),
        ({"all_mandatory": "yes"}, "true or false"),
        ({"required_topics": "T-AI"}, "list of topic ids"),
    ],
)
def test_a_malformed_rule_is_refused(rule, message) -> None:
    with pytest.raises(ValueError, match=message):
        CompletionRule.from_mapping(rule)


def test_load_course_stores_topics_with_codes_and_is_idempotent(db_session) -> None:
    from item_bank.frameworks import load_taxonomy

    load_taxonomy(db_session, packaged_taxonomy())
    assert load_course(db_session, packaged_course()) is True
    assert load_course(db_session, packaged_course()) is False
    course = db_session.get(Course, "KNS-CBCX")
    assert [topic.id for topic in course.topics][:3] == ["T-DX", "T-SEC", "T-EDOC"]
    assert course.topics[1].competency_tags == [
        "VN-TT02-2025:4.1",
        "VN-TT02-2025:4.2",
        "VN-TT02-2025:1.2",
        "VN-TT02-2025:2.6",
    ]
    assert course_document_of(db_session, "KNS-CBCX") == normalized_course(packaged_course())
    electives = [t.topic_id for t in _topics() if not t.mandatory]
    assert course_completion(db_session, "KNS-CBCX", MANDATORY + electives[:5]).complete
    with pytest.raises(UnknownCodeError, match="NO-SUCH"):
        course_completion(db_session, "NO-SUCH", [])


def test_a_revised_course_updates_topics_in_place(bank_session) -> None:
    revised = copy.deepcopy(packaged_course())
    revised["completion_rule"]["min_topics"] = 12
    revised["topics"][0]["competencies"] = ["VN-TT02-2025:5.2"]
    assert load_course(bank_session, revised) is True
    assert course_document_of(bank_session, "KNS-CBCX") == normalized_course(revised)


def test_course_problems_name_the_field() -> None:
    known = {record.tag for record in extract_codes(packaged_taxonomy())}
    assert course_problems(packaged_course(), known) == []
    broken = copy.deepcopy(packaged_course())
    broken["topics"][2]["competencies"].append("VN-TT02-2025:9.9")
    broken["topics"][3]["topic_id"] = "T-DX"
    broken["topics"][4]["title"]["vi"] = " "
    problems = course_problems(broken, known)
    assert ("topics[2].competencies", "unknown competency code 'VN-TT02-2025:9.9'") in problems
    assert ("topics[3].topic_id", "duplicate topic id 'T-DX'") in problems
    assert ("topics[4].title.vi", "the Vietnamese title is empty") in problems
