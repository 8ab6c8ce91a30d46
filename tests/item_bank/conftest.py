"""Fixtures of the item-bank tests: a session with the framework and the national course loaded,
and builders of valid item content and records (tests change one field to break them)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from item_bank.courses import load_course, packaged_course
from item_bank.frameworks import load_taxonomy, packaged_taxonomy


@pytest.fixture
def bank_session(db_session: Session) -> Iterator[Session]:
    """``db_session`` with the packaged taxonomy and the national course loaded."""
    load_taxonomy(db_session, packaged_taxonomy(), actor="test")
    load_course(db_session, packaged_course())
    yield db_session


def single_choice_content(**changes: Any) -> dict[str, Any]:
    """Valid content of a 4-option single-choice item, with ``changes`` applied."""
    content: dict[str, Any] = {
        "type": "single_choice",
        "stem_vi": "Mật khẩu nào an toàn nhất cho tài khoản một cửa?",
        "stem_en": "Which password is safest?",
        "options": [
            {"id": letter, "text": {"vi": f"Phương án {letter}", "en": f"Option {letter}"}}
            for letter in "ABCD"
        ],
        "key": "D",
        "explanation_vi": "D dài và khó đoán.",
        "explanation_en": "D is long and hard to guess.",
        "media": [],
        "competency_tag": "VN-TT02-2025:4.1",
        "context_tag": "PROJ-CSX:SEC",
        "topic_id": "T-SEC",
        "author": "tester",
        "enemy_group": None,
        "tags": ["password"],
        "difficulty": "easy",
    }
    content.update(changes)
    return content


def ordered_content(**changes: Any) -> dict[str, Any]:
    """Valid content of a 3-category ordered (partial-credit) item."""
    options = [
        {"id": "A", "text": {"vi": "Báo ngay cho cán bộ CNTT", "en": "Report at once"}, "score": 2},
        {"id": "B", "text": {"vi": "Tự đổi mật khẩu", "en": "Change the password"}, "score": 1},
        {"id": "C", "text": {"vi": "Không làm gì", "en": "Do nothing"}, "score": 0},
    ]
    return single_choice_content(**{"type": "ordered", "options": options, "key": None, **changes})


def item_record(**changes: Any) -> dict[str, Any]:
    """A valid item in the JSON export shape, with ``changes`` applied at the top level."""
    record: dict[str, Any] = {
        "item_id": "TEST-001",
        "version": 1,
        "type": "single_choice",
        "status": "operational",
        "stem": {"vi": "Thư điện tử nào là lừa đảo?", "en": "Which e-mail is phishing?"},
        "options": [
            {"id": letter, "text": {"vi": f"Thư {letter}", "en": f"Mail {letter}"}}
            for letter in "ABCD"
        ],
        "key": "B",
        "explanation": {"vi": "B giả mạo tên miền.", "en": "B fakes the domain."},
        "competency": "VN-TT02-2025:4.1",
        "context": "PROJ-CSX:SEC",
        "topic": "T-SEC",
        "difficulty": "medium",
        "enemy_group": None,
        "author": "tester",
        "tags": ["phishing"],
        "media": [],
        "parameters": {
            "model": "2pl",
            "a": 1.3,
            "b": 0.25,
            "c": 0.0,
            "provisional": False,
            "n_responses": 512,
            "se": {"a": 0.11, "b": 0.08, "c": None},
        },
    }
    record.update(copy.deepcopy(changes))
    return record


@pytest.fixture
def make_content():
    """Builder of valid single-choice content (see :func:`single_choice_content`)."""
    return single_choice_content


@pytest.fixture
def make_ordered_content():
    """Builder of valid ordered-item content (see :func:`ordered_content`)."""
    return ordered_content


@pytest.fixture
def make_record():
    """Builder of a valid JSON item record (see :func:`item_record`)."""
    return item_record
