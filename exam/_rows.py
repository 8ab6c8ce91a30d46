"""Per-row indexing for the batch functions, which take examinees along a leading axis or one
examinee without it.

The engine calls the batch functions for one examinee with arrays of shape ``(n_items,)`` and
scalars, where numpy's per-call overhead is most of the cost; the simulator calls them with
``(n_examinees, n_items)``. These helpers pick or set one column per row for both shapes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def take_per_row(values: npt.NDArray, columns: npt.ArrayLike) -> npt.NDArray:
    """``values[r, columns[r]]`` for every row ``r``; ``values[columns]`` for a single row."""
    if values.ndim == 1:
        return values[columns]
    return values[np.arange(values.shape[0]), columns]


def put_per_row(values: npt.NDArray, columns: npt.ArrayLike, value: object) -> None:
    """Set ``values[r, columns[r]] = value`` for every row ``r`` (one row: ``values[columns]``)."""
    if values.ndim == 1:
        values[columns] = value
    else:
        values[np.arange(values.shape[0]), columns] = value
