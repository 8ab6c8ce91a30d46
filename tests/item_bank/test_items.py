"""Items, versions and the lifecycle: who/when/why, new versions after administration."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from item_bank.exceptions import IllegalTransitionError, ImmutableVersionError, ItemNotFoundError
from item_bank.items import (
    content_problems,
    create_item,
    edit_item,
    exposure_counts,
    get_item,
    get_version,
    record_administration,
    transition_item,
)
from item_bank.models import ItemStatus, ItemVersion, StatusTransition
from item_bank.parameters import active_estimate, assign_provisional_parameters


def test_an_item_walks_the_lifecycle_with_who_when_and_why(bank_session, make_content) -> None:
    create_item(bank_session, "SEC-T1", make_content(), actor="writer")
    steps = [
        ("reviewed", "reviewer", "checked key"),
        ("pretest", "psy", "pilot"),
        ("operational", "psy", "calibrated"),
        ("retired", "psy", "overexposed"),
    ]
    for status, actor, reason in steps:
        transition_item(bank_session, "SEC-T1", status, actor=actor, reason=reason)
    item = get_item(bank_session, "SEC-T1")
    assert item.status == "retired"
    history = [(t.from_status, t.to_status, t.actor, t.reason) for t in item.transitions]
    assert history == [(None, "draft", "writer", "created")] + [
        (previous, status, actor, reason)
        for (previous, (status, actor, reason)) in zip(
            ["draft", "reviewed", "pretest", "operational"], steps, strict=True
        )
    ]
    assert all(t.at is not None for t in item.transitions)


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], "operational"),
        ([], "pretest"),
        (["reviewed", "pretest", "operational"], "draft"),
        (["retired"], "draft"),
        (["reviewed"], "operational"),
    ],
)
def test_illegal_transitions_raise_and_change_nothing(
    bank_session, make_content, path, illegal
) -> None:
    create_item(bank_session, "SEC-T1", make_content(), actor="writer")
    for status in path:
        transition_item(bank_session, "SEC-T1", status, actor="a", reason="r")
    before = get_item(bank_session, "SEC-T1").status
    with pytest.raises(IllegalTransitionError, match=f"-> {illegal} is not allowed"):
        transition_item(bank_session, "SEC-T1", illegal, actor="a", reason="r")
    assert get_item(bank_session, "SEC-T1").status == before
    assert len(get_item(bank_session, "SEC-T1").transitions) == len(path) + 1


def test_a_transition_needs_actor_and_reason(bank_session, make_content) -> None:
    create_item(bank_session, "SEC-T1", make_content(), actor="writer")
    with pytest.raises(ValueError, match="reason"):
        transition_item(bank_session, "SEC-T1", "reviewed", actor="a", reason=" ")
    with pytest.raises(ValueError, match="actor"):
        transition_item(bank_session, "SEC-T1", "reviewed", actor="", reason="ok")
    with pytest.raises(ItemNotFoundError, match="NOPE"):
        transition_item(bank_session, "NOPE", "reviewed", actor="a", reason="r")


def test_editing_before_administration_changes_the_version_in_place(
    bank_session, make_content
) -> None:
    item = create_item(bank_session, "SEC-T1", make_content(), actor="writer")
    version = edit_item(bank_session, "SEC-T1", {"stem_vi": "Câu hỏi đã sửa?"}, actor="editor")
    assert version.version == 1 and item.current_version_number == 1
    assert len(item.versions) == 1 and version.stem_vi == "Câu hỏi đã sửa?"


def test_editing_an_administered_item_creates_a_new_version(bank_session, make_content) -> None:
    item = create_item(
        bank_session, "SEC-T1", make_content(), actor="writer", status=ItemStatus.OPERATIONAL
    )
    first = item.current_version
    assign_provisional_parameters(bank_session, [first], actor="seed")
    record_administration(bank_session, [first.id])
    assert first.is_administered
    second = edit_item(bank_session, "SEC-T1", {"key": "C"}, actor="editor")
    assert (second.version, item.current_version_number) == (2, 2)
    assert second.id != first.id
    # the shown version is untouched and still found by its id (what responses reference)
    shown = get_version(bank_session, first.id)
    assert (shown.key, shown.version) == ("D", 1)
    assert second.key == "C"
    # the old version's parameters are history, not the new version's
    assert active_estimate(bank_session, "SEC-T1") is None
    # an edit that changes nothing creates nothing
    assert edit_item(bank_session, "SEC-T1", {"key": "C"}, actor="editor") is second


def test_an_administered_version_cannot_be_changed_by_any_path(bank_session, make_content) -> None:
    version = create_item(bank_session, "SEC-T1", make_content(), actor="w").current_version
    record_administration(bank_session, [version.id])
    with (
        pytest.raises(ImmutableVersionError, match="its stem_vi cannot change"),
        bank_session.begin_nested(),
    ):
        version.stem_vi = "Sửa lén sau khi đã thi"
    assert version.is_administered and version.stem_vi != "Sửa lén sau khi đã thi"
    with (
        pytest.raises(ImmutableVersionError, match="its administered_at cannot change"),
        bank_session.begin_nested(),
    ):
        version.administered_at = None
    assert version.is_administered


def test_record_administration_counts_each_use(bank_session, make_content) -> None:
    one = create_item(bank_session, "SEC-T1", make_content(), actor="w").current_version
    two = create_item(bank_session, "SEC-T2", make_content(), actor="w").current_version
    record_administration(bank_session, [one.id, two.id, one.id])
    record_administration(bank_session, [one.id])
    assert exposure_counts(bank_session) == {"SEC-T1": 3, "SEC-T2": 1}
    assert exposure_counts(bank_session, ["SEC-T2"]) == {"SEC-T2": 1}
    with pytest.raises(ItemNotFoundError, match="999999"):
        record_administration(bank_session, [999999])


def test_create_refuses_invalid_content_and_taken_ids(bank_session, make_content) -> None:
    create_item(bank_session, "SEC-T1", make_content(), actor="w")
    with pytest.raises(ValueError, match="already exists"):
        create_item(bank_session, "SEC-T1", make_content(), actor="w")
    with pytest.raises(ValueError, match="missing key"):
        create_item(bank_session, "SEC-T2", make_content(key=None), actor="w")
    assert bank_session.scalars(select(ItemVersion.item_id)).all() == ["SEC-T1"]
    assert len(bank_session.scalars(select(StatusTransition)).all()) == 1


def _options(n: int) -> list[dict]:
    return [{"id": f"O{i}", "text": {"vi": f"Phương án {i}"}} for i in range(n)]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"key": None}, "key", "missing key"),
        ({"key": "E"}, "key", "key 'E' is not among the options A, B, C, D"),
        ({"options": _options(1), "key": "O0"}, "options", "1 options; an item needs 2 to 8"),
        ({"options": _options(9), "key": "O0"}, "options", "9 options; an item needs 2 to 8"),
        ({"stem_vi": "  "}, "stem_vi", "the Vietnamese stem is empty"),
        ({"competency_tag": "VN-TT02-2025:9.9"}, "competency_tag", "unknown competency code"),
        ({"competency_tag": "PROJ-CSX:SEC"}, "competency_tag", "is not a VN-TT02-2025"),
        ({"context_tag": "PROJ-CSX:NOPE"}, "context_tag", "unknown context code"),
        ({"topic_id": "T-NOPE"}, "topic_id", "unknown topic"),
        ({"type": "essay"}, "type", "unknown item type"),
        ({"difficulty": "trivial"}, "difficulty", "easy, medium or hard"),
        ({"type": "multiple_response", "key": "A"}, "key", "must be a list"),
        ({"type": "multiple_response", "key": ["A", "Z"]}, "key", "['Z'] are not among"),
        ({"type": "true_false"}, "options", "a true/false item has 2 options"),
    ],
)
def test_content_problems_name_field_and_problem(make_content, changes, field, message) -> None:
    from item_bank.frameworks import extract_codes, packaged_taxonomy

    known = {record.tag for record in extract_codes(packaged_taxonomy())}
    problems = content_problems(make_content(**changes), known_tags=known, known_topics={"T-SEC"})
    assert any(f == field and message in p for f, p in problems), problems


def test_ordered_items_need_complete_scores(make_ordered_content) -> None:
    assert content_problems(make_ordered_content()) == []
    content = make_ordered_content()
    content["options"][0]["score"] = 3
    assert ("options", "scores must cover 0..3; missing [2]") in content_problems(content)
    content = make_ordered_content(key="A")
    assert any(f == "key" for f, _ in content_problems(content))
