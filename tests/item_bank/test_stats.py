"""Counts of the bank by competency, topic, status, type and intended difficulty."""

from __future__ import annotations

from item_bank.items import create_item, edit_item, record_administration
from item_bank.stats import bank_statistics


def test_counts_follow_the_current_versions(
    bank_session, make_content, make_ordered_content
) -> None:
    create_item(
        bank_session, "A-1", make_content(difficulty="easy"), actor="t", status="operational"
    )
    create_item(bank_session, "A-2", make_content(difficulty="hard", topic_id=None), actor="t")
    create_item(
        bank_session,
        "A-3",
        make_ordered_content(difficulty=None, competency_tag="VN-TT02-2025:1.3"),
        actor="t",
        status="pretest",
    )
    version = create_item(bank_session, "A-4", make_content(), actor="t").current_version
    record_administration(bank_session, [version.id])
    edit_item(bank_session, "A-4", {"difficulty": "medium"}, actor="t")  # version 2 counts
    statistics = bank_statistics(bank_session)
    assert statistics.n_items == 4
    assert dict(statistics.by_status) == {"draft": 2, "operational": 1, "pretest": 1}
    assert dict(statistics.by_type) == {"ordered": 1, "single_choice": 3}
    assert dict(statistics.by_difficulty) == {"(none)": 1, "easy": 1, "hard": 1, "medium": 1}
    assert dict(statistics.by_topic) == {"(none)": 1, "T-SEC": 3}
    assert dict(statistics.by_competency) == {"VN-TT02-2025:1.3": 1, "VN-TT02-2025:4.1": 3}
    assert statistics.as_dict()["by_context"] == {"PROJ-CSX:SEC": 4}


def test_an_empty_bank_counts_nothing(db_session) -> None:
    statistics = bank_statistics(db_session)
    assert statistics.n_items == 0 and statistics.by_status == ()
