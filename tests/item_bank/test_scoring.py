"""Scoring answers: dichotomous keys, all-or-nothing multiple response, ordered categories."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from item_bank.exceptions import MalformedAnswerError
from item_bank.scoring import score_answer


def _version(item_type: str, key, scores=None, ids="ABCD"):
    options = [{"id": option_id, "text": {"vi": option_id}} for option_id in ids]
    if scores is not None:
        for option, score in zip(options, scores, strict=True):
            option["score"] = score
    return SimpleNamespace(item_id="X-1", version=2, type=item_type, options=options, key=key)


def test_single_choice_and_true_false_score_the_key() -> None:
    version = _version("single_choice", "C")
    assert [score_answer(version, answer) for answer in "ABCD"] == [0, 0, 1, 0]
    true_false = _version("true_false", "F", ids="TF")
    assert (score_answer(true_false, "T"), score_answer(true_false, "F")) == (0, 1)


def test_multiple_response_is_all_or_nothing() -> None:
    version = _version("multiple_response", ["A", "C"])
    assert score_answer(version, ["C", "A"]) == 1
    assert score_answer(version, ("A", "C")) == 1
    assert score_answer(version, ["A"]) == 0
    assert score_answer(version, ["A", "B", "C"]) == 0
    assert score_answer(version, []) == 0


def test_ordered_items_score_the_category_of_the_chosen_option() -> None:
    version = _version("ordered", None, scores=[1, 2, 0], ids="ABC")
    assert [score_answer(version, answer) for answer in "ABC"] == [1, 2, 0]


@pytest.mark.parametrize(
    ("item_type", "key", "answer", "message"),
    [
        ("single_choice", "A", "E", r"\['E'\] not among the options A, B, C, D"),
        ("single_choice", "A", ["A"], "must be one option id"),
        ("single_choice", "A", None, "must be one option id"),
        ("multiple_response", ["A"], "A", "must be a list of option ids"),
        ("multiple_response", ["A"], ["A", "A"], "repeats an option"),
        ("multiple_response", ["A"], ["A", "Q"], r"\['Q'\] not among"),
        ("ordered", None, 2, "must be one option id"),
    ],
)
def test_malformed_answers_raise_a_clear_error(item_type, key, answer, message) -> None:
    scores = [0, 1, 2, 3] if item_type == "ordered" else None
    with pytest.raises(MalformedAnswerError, match=message) as caught:
        score_answer(_version(item_type, key, scores), answer)
    assert "item 'X-1' version 2" in str(caught.value)
    assert isinstance(caught.value, ValueError)
