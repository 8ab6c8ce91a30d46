"""Counts of the bank's items by competency, topic, status, type and intended difficulty."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from item_bank.models import Item, ItemVersion

NOT_SET = "(none)"


@dataclass(frozen=True)
class BankStatistics:
    """Item counts of the current versions, each as a sorted tuple of ``(value, count)``."""

    n_items: int
    by_competency: tuple[tuple[str, int], ...]
    by_topic: tuple[tuple[str, int], ...]
    by_status: tuple[tuple[str, int], ...]
    by_type: tuple[tuple[str, int], ...]
    by_difficulty: tuple[tuple[str, int], ...]
    by_context: tuple[tuple[str, int], ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "n_items": self.n_items,
            **{
                name: dict(getattr(self, name))
                for name in (
                    "by_competency",
                    "by_topic",
                    "by_status",
                    "by_type",
                    "by_difficulty",
                    "by_context",
                )
            },
        }


def bank_statistics(session: Session) -> BankStatistics:
    """Count the bank's items (current versions) along each tagging dimension."""
    rows = session.execute(
        select(
            Item.status,
            ItemVersion.competency_tag,
            ItemVersion.topic_id,
            ItemVersion.type,
            ItemVersion.difficulty,
            ItemVersion.context_tag,
        ).join(
            ItemVersion,
            and_(
                ItemVersion.item_id == Item.id, ItemVersion.version == Item.current_version_number
            ),
        )
    ).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 6

    def counted(values: tuple[Any, ...]) -> tuple[tuple[str, int], ...]:
        counter = Counter(NOT_SET if value is None else str(value) for value in values)
        return tuple(sorted(counter.items()))

    return BankStatistics(
        n_items=len(rows),
        by_status=counted(columns[0]),
        by_competency=counted(columns[1]),
        by_topic=counted(columns[2]),
        by_type=counted(columns[3]),
        by_difficulty=counted(columns[4]),
        by_context=counted(columns[5]),
    )
