"""Scoring an answer to an item version: the score category the IRT models take.

Single choice and true/false score 1 for the key and 0 otherwise; multiple response is
all-or-nothing (1 only for exactly the keyed set); an ordered (partial-credit) item scores the
category attached to the chosen option, 0..K-1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from item_bank.exceptions import MalformedAnswerError
from item_bank.models import ItemType


class ScorableVersion(Protocol):
    """What scoring needs of an item version (an :class:`~item_bank.models.ItemVersion`)."""

    item_id: str
    version: int
    type: str
    options: list[dict[str, Any]]
    key: Any


def score_answer(version: ScorableVersion, answer: Any) -> int:
    """The score category of ``answer`` to ``version``.

    Parameters
    ----------
    version : ItemVersion
        The version that was shown.
    answer : str or sequence of str
        One option id (single choice, true/false, ordered) or a list of option ids (multiple
        response; an empty list means nothing was ticked).

    Returns
    -------
    int
        0 or 1 for dichotomous items; the chosen option's score for ordered items.

    Raises
    ------
    MalformedAnswerError
        If the answer does not fit the item type: not an option id, an option of another item,
        a repeated id, a list where one id is expected, or the reverse.
    """
    where = f"item {version.item_id!r} version {version.version}"
    option_ids = [option["id"] for option in version.options]
    item_type = ItemType(version.type)
    if item_type is ItemType.MULTIPLE_RESPONSE:
        if isinstance(answer, str) or not isinstance(answer, Sequence | set | frozenset):
            raise MalformedAnswerError(
                f"{where} is multiple response: the answer must be a list of option ids, got "
                f"{answer!r}"
            )
        chosen = list(answer)
        _check_ids(where, chosen, option_ids)
        if len(set(chosen)) != len(chosen):
            raise MalformedAnswerError(f"{where}: the answer repeats an option: {chosen!r}")
        return int(set(chosen) == set(version.key))
    if not isinstance(answer, str):
        raise MalformedAnswerError(
            f"{where} is {item_type.value}: the answer must be one option id, got {answer!r}"
        )
    _check_ids(where, [answer], option_ids)
    if item_type is ItemType.ORDERED:
        scores: Mapping[str, int] = {
            option["id"]: int(option["score"]) for option in version.options
        }
        return scores[answer]
    return int(answer == version.key)


def _check_ids(where: str, chosen: list[Any], option_ids: list[str]) -> None:
    unknown = [value for value in chosen if value not in option_ids]
    if unknown:
        raise MalformedAnswerError(
            f"{where}: {unknown!r} not among the options {', '.join(option_ids)}"
        )
