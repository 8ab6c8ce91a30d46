"""Anchor items for fixed-parameter calibration.

Items calibrated earlier keep their parameters; the new (pretest) items are estimated on the
scale those anchors define, with the latent mean and standard deviation of the new sample
estimated alongside (Kim 2006, "A comparative study of IRT fixed parameter calibration
methods"). This is how pretest items seeded into live exams join the bank's scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from calibration.models import ItemParameters

__all__ = ["FixedItems"]


@dataclass(frozen=True)
class FixedItems:
    """Item parameters to hold fixed, keyed by item id.

    Parameters
    ----------
    item_ids : tuple of str
        Identifier of each anchor item, matched against the response data's item ids.
    parameters : ItemParameters
        Their parameters, in the same order; each item keeps its own model.
    """

    item_ids: tuple[str, ...]
    parameters: ItemParameters

    def __post_init__(self) -> None:
        ids = tuple(str(item_id) for item_id in self.item_ids)
        if len(ids) != self.parameters.n_items:
            raise ValueError(
                f"{len(ids)} item ids for {self.parameters.n_items} fixed items' parameters"
            )
        if len(set(ids)) != len(ids):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"fixed item ids occur more than once: {duplicates}")
        object.__setattr__(self, "item_ids", ids)

    @classmethod
    def from_parameters(cls, item_ids: Sequence[str], parameters: ItemParameters) -> FixedItems:
        """The anchors ``item_ids`` with ``parameters`` (same order)."""
        return cls(item_ids=tuple(item_ids), parameters=parameters)

    def __len__(self) -> int:
        return len(self.item_ids)

    def index_of(self, item_id: str) -> int | None:
        """Position of ``item_id`` among the anchors, or None when it is not one."""
        try:
            return self.item_ids.index(item_id)
        except ValueError:
            return None
