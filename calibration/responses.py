"""Sparse item-response data for calibration: observed responses only, with row weights.

A :class:`ResponseData` holds the observed responses as coordinate triplets (row, item, category)
and a weight per row, so a pattern table (identical response patterns collapsed into one row with
a count) and ordinary person-by-item data share one type. Missing responses are simply absent:
storage, and the cost of every calibration step, grow with the number of observed responses, not
with persons x items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
from scipy import sparse

__all__ = ["ResponseData"]

_MAX_CATEGORIES = 127  # categories are stored as int8


@dataclass(frozen=True, eq=False)
class ResponseData:
    """Observed item responses, stored sparsely, with a weight (count) per row.

    Parameters
    ----------
    rows : ndarray of int, shape (n_observed,)
        Row (person or collapsed pattern) of each observed response, ``0 <= row < n_rows``.
    items : ndarray of int, shape (n_observed,)
        Item of each observed response, ``0 <= item < n_items``.
    categories : ndarray of int, shape (n_observed,)
        Category index of each response, ``0..K-1`` (0 is the lowest score).
    weights : ndarray of float, shape (n_rows,)
        Number of persons each row stands for (1 for person-level data).
    item_ids : tuple of str, length n_items
        Identifier of each item.

    Notes
    -----
    Build instances with :meth:`from_dense` or :meth:`from_triplets`, which validate and sort
    the triplets by row; the constructor itself trusts its arguments.
    """

    rows: npt.NDArray[np.int32]
    items: npt.NDArray[np.int32]
    categories: npt.NDArray[np.int8]
    weights: npt.NDArray[np.float64]
    item_ids: tuple[str, ...]

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_dense(
        cls,
        responses: npt.ArrayLike,
        *,
        weights: npt.ArrayLike | None = None,
        item_ids: Sequence[str] | None = None,
        collapse: bool = True,
    ) -> ResponseData:
        """Build from a person-by-item array of category indices, NaN meaning missing.

        Parameters
        ----------
        responses : array_like, shape (n_rows, n_items)
            Category indices ``0..K-1`` (floats holding integers), NaN for a missing response.
        weights : array_like, shape (n_rows,), optional
            Count of each row (a pattern table); 1 for every row when omitted.
        item_ids : sequence of str, optional
            Item identifiers; ``"item_1"``, ``"item_2"``, ... when omitted.
        collapse : bool, default True
            Merge identical rows into one weighted row; this changes nothing in the estimates
            and divides the work of every EM iteration by the number of repeats.

        Returns
        -------
        ResponseData

        Raises
        ------
        ValueError
            If the array is not two-dimensional, a value is negative or not an integer, a weight
            is negative or not finite, or the sizes disagree.
        """
        matrix = np.asarray(responses, dtype=np.float64)
        if matrix.ndim != 2:
            raise ValueError(
                f"responses must be a 2-D array (persons x items), got {matrix.ndim}-D"
            )
        n_rows, n_items = matrix.shape
        row_weights = _validate_weights(weights, n_rows)
        observed = ~np.isnan(matrix)
        values = matrix[observed]
        _validate_categories(values, where=lambda k: _dense_position(observed, k))
        codes = np.where(observed, matrix, -1.0).astype(np.int8)
        if collapse and n_rows > 1:
            codes, inverse = _unique_rows(codes)
            row_weights = np.bincount(inverse, weights=row_weights, minlength=len(codes))
        keep = row_weights > 0
        codes, row_weights = codes[keep], row_weights[keep]
        if observed.all():  # complete data: skip the search for observed cells
            row_index = np.repeat(np.arange(len(codes), dtype=np.int32), n_items)
            item_index = np.tile(np.arange(n_items, dtype=np.int32), len(codes))
            values = codes.ravel()
        else:
            row_index, item_index = np.nonzero(codes >= 0)
            values = codes[row_index, item_index]
        return cls(
            rows=row_index.astype(np.int32),
            items=item_index.astype(np.int32),
            categories=values.astype(np.int8),
            weights=row_weights.astype(np.float64),
            item_ids=_item_ids(item_ids, n_items),
        )

    @classmethod
    def from_triplets(
        cls,
        rows: npt.ArrayLike,
        items: npt.ArrayLike,
        categories: npt.ArrayLike,
        *,
        n_rows: int | None = None,
        n_items: int | None = None,
        weights: npt.ArrayLike | None = None,
        item_ids: Sequence[str] | None = None,
    ) -> ResponseData:
        """Build from coordinate triplets ``(row, item, category)`` of the observed responses.

        Parameters
        ----------
        rows, items, categories : array_like of int, shape (n_observed,)
            Person (row) index, item index and category index of each observed response.
        n_rows, n_items : int, optional
            Sizes; one more than the largest index when omitted.
        weights : array_like, shape (n_rows,), optional
            Count of each row; 1 when omitted.
        item_ids : sequence of str, optional
            Item identifiers (their number fixes ``n_items`` when given).

        Raises
        ------
        ValueError
            On a negative or out-of-range index, a non-integer category, a person answering the
            same item twice, or sizes that disagree.
        """
        row_index = _as_index(rows, "rows")
        item_index = _as_index(items, "items")
        values = np.asarray(categories).ravel()
        if not (len(row_index) == len(item_index) == len(values)):
            raise ValueError(
                "rows, items and categories must have the same length, got "
                f"{len(row_index)}, {len(item_index)} and {len(values)}"
            )
        if not np.issubdtype(values.dtype, np.integer):
            values = values.astype(np.float64)
        _validate_categories(values, where=lambda k: f"response {k}")
        values = values.astype(np.int8)
        if item_ids is not None:
            n_items = len(item_ids) if n_items is None else n_items
            if n_items != len(item_ids):
                raise ValueError(f"n_items={n_items} but {len(item_ids)} item_ids were given")
        largest_item = int(item_index.max()) if len(item_index) else -1
        largest_row = int(row_index.max()) if len(row_index) else -1
        n_items = largest_item + 1 if n_items is None else int(n_items)
        n_rows = largest_row + 1 if n_rows is None else int(n_rows)
        if largest_item >= n_items:
            raise ValueError(f"item index {largest_item} out of range for n_items={n_items}")
        if largest_row >= n_rows:
            raise ValueError(f"row index {largest_row} out of range for n_rows={n_rows}")
        # one int64 key per response sorts by row, then item, and exposes repeated answers
        key = row_index.astype(np.int64) * max(n_items, 1) + item_index
        if len(key) and not np.all(key[1:] > key[:-1]):
            order = np.argsort(key, kind="stable")
            key = key[order]
            row_index, item_index, values = row_index[order], item_index[order], values[order]
            del order
            repeated = np.flatnonzero(key[1:] == key[:-1])
            if repeated.size:
                at = int(repeated[0])
                raise ValueError(
                    f"row {row_index[at]} answers item {item_index[at]} more than once"
                )
        del key
        return cls(
            rows=row_index,
            items=item_index,
            categories=values,
            weights=_validate_weights(weights, n_rows),
            item_ids=_item_ids(item_ids, n_items),
        )

    # -- sizes and summaries -----------------------------------------------------------------

    @property
    def n_rows(self) -> int:
        """Number of rows (persons, or collapsed patterns)."""
        return len(self.weights)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.item_ids)

    @property
    def n_observed(self) -> int:
        """Number of stored (observed) responses."""
        return len(self.rows)

    @property
    def n_persons(self) -> float:
        """Number of persons: the sum of the row weights."""
        return float(self.weights.sum())

    @cached_property
    def n_categories(self) -> npt.NDArray[np.int64]:
        """Per item, one more than its highest observed category (0 for an unanswered item)."""
        highest = np.full(self.n_items, -1, dtype=np.int64)
        np.maximum.at(highest, self.items, self.categories.astype(np.int64))
        return highest + 1

    @cached_property
    def category_counts(self) -> npt.NDArray[np.float64]:
        """Weighted count of each category per item, shape (n_items, max categories)."""
        width = max(int(self.n_categories.max(initial=0)), 1)
        flat = self.items.astype(np.int64) * width + self.categories
        counts = np.bincount(flat, weights=self.weights[self.rows], minlength=self.n_items * width)
        return counts.reshape(self.n_items, width)

    @property
    def responses_per_item(self) -> npt.NDArray[np.float64]:
        """Weighted number of responses to each item (persons who answered it)."""
        return self.category_counts.sum(axis=1)

    @property
    def density(self) -> float:
        """Share of row x item cells that hold a response."""
        cells = self.n_rows * self.n_items
        return self.n_observed / cells if cells else 0.0

    # -- views -------------------------------------------------------------------------------

    def to_dense(self) -> npt.NDArray[np.float64]:
        """Rows x items array of category indices, NaN where missing (small data only)."""
        matrix = np.full((self.n_rows, self.n_items), np.nan)
        matrix[self.rows, self.items] = self.categories
        return matrix

    def indicator_matrix(self, category: int) -> sparse.csr_array:
        """Rows x items CSR matrix with 1 where the response is ``category``."""
        chosen = self.categories == category
        return sparse.csr_array(
            (np.ones(int(chosen.sum())), (self.rows[chosen], self.items[chosen])),
            shape=(self.n_rows, self.n_items),
        )

    def subset_items(self, indices: npt.ArrayLike) -> ResponseData:
        """The responses to the given items only, renumbered in the given order.

        Rows keep their numbering and weights, even when they lose every response.
        """
        chosen = np.asarray(indices, dtype=np.int64).ravel()
        if np.array_equal(chosen, np.arange(self.n_items)):
            return self  # immutable: nothing to copy
        if len(chosen) and (chosen.min() < 0 or chosen.max() >= self.n_items):
            raise ValueError(f"item indices must lie in [0, {self.n_items}), got {chosen}")
        new_index = np.full(self.n_items, -1, dtype=np.int64)
        new_index[chosen] = np.arange(len(chosen))
        keep = new_index[self.items] >= 0
        return ResponseData(
            rows=self.rows[keep],
            items=new_index[self.items[keep]].astype(np.int32),
            categories=self.categories[keep],
            weights=self.weights,
            item_ids=tuple(self.item_ids[i] for i in chosen),
        )


def _unique_rows(
    codes: npt.NDArray[np.int8],
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]:
    """Distinct rows and, per row, the index of its distinct row.

    Rows are hashed to one 64-bit integer (much faster than sorting whole rows); the grouping is
    then verified cell by cell and, in the unlikely event of a hash collision, redone exactly.
    """
    multipliers = np.random.default_rng(20240601).integers(1, 2**62, size=codes.shape[1])
    hashes = (codes.astype(np.int64) + 1) @ (multipliers | 1)
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    if np.array_equal(codes[first][inverse], codes):
        return codes[first], inverse.ravel()
    distinct, inverse = np.unique(codes, axis=0, return_inverse=True)
    return distinct, inverse.ravel()


def _validate_weights(weights: npt.ArrayLike | None, n_rows: int) -> npt.NDArray[np.float64]:
    if weights is None:
        return np.ones(n_rows)
    values = np.asarray(weights, dtype=np.float64).ravel()
    if len(values) != n_rows:
        raise ValueError(f"expected {n_rows} weights (one per row), got {len(values)}")
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise ValueError(f"weight of row {at} must be finite and >= 0, got {values[at]}")
    return values


def _validate_categories(values: npt.NDArray[np.float64], where) -> None:
    bad = (values < 0) | (values != np.round(values)) | (values > _MAX_CATEGORIES - 1)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"categories must be integers 0..{_MAX_CATEGORIES - 1}; {where(at)} is {values[at]}"
        )


def _dense_position(observed: npt.NDArray[np.bool_], k: int) -> str:
    row, column = np.argwhere(observed)[k]
    return f"row {row}, item {column}"


def _as_index(values: npt.ArrayLike, name: str) -> npt.NDArray[np.int32]:
    array = np.asarray(values).ravel()
    if array.size and not np.issubdtype(array.dtype, np.integer):
        as_float = array.astype(np.float64)
        if np.any(as_float != np.round(as_float)):
            raise ValueError(f"{name} must hold integer indices, got {array[:5]}")
        array = as_float
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {array.min()}")
    if array.size and array.max() >= 2**31:
        raise ValueError(f"{name} index {array.max()} is too large (limit 2**31 - 1)")
    return array.astype(np.int32)


def _item_ids(item_ids: Sequence[str] | None, n_items: int) -> tuple[str, ...]:
    if item_ids is None:
        return tuple(f"item_{i + 1}" for i in range(n_items))
    ids = tuple(str(item_id) for item_id in item_ids)
    if len(ids) != n_items:
        raise ValueError(f"expected {n_items} item ids, got {len(ids)}")
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicate = next(i for i in ids if i in seen or seen.add(i))
        raise ValueError(f"item id {duplicate!r} occurs more than once")
    return ids
