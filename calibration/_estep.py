"""The E-step of MML-EM over sparse (or dense, when that is faster) response blocks.

The log-likelihood of every row at every quadrature node is a sum of indicator-matrix products,
``L = sum_k Y_k @ log P_k`` (rows x nodes), and the expected counts of category ``k`` of every
item at every node are ``r_k = Y_k.T @ (w * posterior)`` (items x nodes), so the cost is the
number of observed responses times the number of nodes. Rows are processed in blocks, which
bounds the memory of the posterior whatever the number of persons. Dense data use dense BLAS
products instead, which do the same sums faster when almost every cell is observed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from calibration.responses import ResponseData

FloatArray = npt.NDArray[np.float64]

_DENSE_MIN_DENSITY = 0.3
_DENSE_MAX_CELLS = 30_000_000
_BLOCK_CELLS = 4_000_000
# Large dense data keep their indicators in float32 and iterate in single precision (half the
# memory traffic of the BLAS products); the final E-step and standard errors use float64.
_SINGLE_PRECISION_CELLS = 2_000_000  # rows x nodes (or rows x items) per block: ~32 MB of float64


@dataclass(frozen=True)
class Block:
    """One block of consecutive rows and the indicator matrices of its responses."""

    start: int
    stop: int
    weights: FloatArray
    # sparse mode: one CSR (rows x items) per category; dense mode: categories >= 1 and a mask
    indicators: tuple
    mask: FloatArray | None  # dense mode only; None when every cell of the block is observed
    dense: bool
    rows: npt.NDArray[np.int32]  # global row of each response (a view of the data)
    items: npt.NDArray[np.int32]
    categories: npt.NDArray[np.int8]


@dataclass(frozen=True)
class EStepResult:
    """Marginal log-likelihood and expected counts from one E-step."""

    log_likelihood: float
    counts: FloatArray  # (n_items, n_categories, n_nodes)
    node_totals: FloatArray  # (n_nodes,)


class ResponseBlocks:
    """Response data split into row blocks ready for E-step products."""

    def __init__(self, data: ResponseData, n_categories: int, n_nodes: int) -> None:
        self.n_items = data.n_items
        self.n_categories = max(int(n_categories), 2)
        self.n_rows = data.n_rows
        self.dense = (
            data.density >= _DENSE_MIN_DENSITY and data.n_rows * data.n_items <= _DENSE_MAX_CELLS
        )
        self.dtype = (
            np.float32
            if self.dense and data.n_rows * data.n_items >= _SINGLE_PRECISION_CELLS
            else np.float64
        )
        width = max(n_nodes, data.n_items if self.dense else 1)
        block_rows = max(1024, _BLOCK_CELLS // width)
        bounds = np.arange(0, data.n_rows + block_rows, block_rows)
        bounds[-1] = data.n_rows
        bounds = np.unique(bounds)
        cuts = np.searchsorted(data.rows, bounds)
        # one buffer of ones serves as the data array of every sparse indicator matrix
        largest = int(np.diff(cuts).max(initial=0))
        self._ones = np.ones(largest if not self.dense else 0)
        self.blocks: list[Block] = []
        for start, stop, lo, hi in zip(bounds[:-1], bounds[1:], cuts[:-1], cuts[1:], strict=True):
            self.blocks.append(
                self._make_block(
                    int(start),
                    int(stop),
                    data.weights,
                    data.rows[lo:hi],
                    data.items[lo:hi],
                    data.categories[lo:hi],
                )
            )

    def _make_block(self, start, stop, weights, rows, items, categories) -> Block:
        """A block of rows ``start:stop``; ``rows``, ``items``, ``categories`` are views."""
        n_block = stop - start
        shape = (n_block, self.n_items)
        local_rows = rows - np.int32(start)
        if self.dense:
            indicators = []
            for category in range(1, self.n_categories):
                chosen = categories == category
                matrix = np.zeros(shape, dtype=self.dtype)
                matrix[local_rows[chosen], items[chosen]] = 1.0
                indicators.append(matrix)
            mask = None
            if len(rows) < n_block * self.n_items:
                mask = np.zeros(shape, dtype=self.dtype)
                mask[local_rows, items] = 1.0
            return Block(
                start,
                stop,
                weights[start:stop],
                tuple(indicators),
                mask,
                True,
                rows,
                items,
                categories,
            )
        indicators = []
        for category in range(self.n_categories):
            chosen = np.flatnonzero(categories == category)
            # rows are sorted, so CSR arrays follow directly without a COO conversion
            per_row = np.bincount(local_rows[chosen], minlength=n_block)
            indptr = np.zeros(n_block + 1, dtype=np.int32)
            np.cumsum(per_row, out=indptr[1:])
            indicators.append(
                sparse.csr_array(
                    (self._ones[: len(chosen)], items[chosen], indptr), shape=shape, copy=False
                )
            )
        return Block(
            start,
            stop,
            weights[start:stop],
            tuple(indicators),
            None,
            False,
            rows,
            items,
            categories,
        )

    def log_likelihood_grid(
        self, block: Block, log_p: FloatArray, exact: bool = True
    ) -> FloatArray:
        """Rows x nodes log-likelihood of the block; ``log_p`` is (items, categories, nodes).

        ``exact=False`` lets large dense data use their single-precision indicators.
        """
        if block.dense:
            fast = not exact and self.dtype == np.float32
            dtype = np.float32 if fast else np.float64
            base = log_p[:, 0, :]
            grid = np.zeros((block.stop - block.start, log_p.shape[2]))
            for category, indicator in enumerate(block.indicators, start=1):
                grid += indicator.astype(dtype, copy=False) @ (log_p[:, category, :] - base).astype(
                    dtype
                )
            if block.mask is None:
                grid += base.sum(axis=0)
            else:
                grid += block.mask.astype(dtype, copy=False) @ base.astype(dtype)
            return grid
        grid = block.indicators[0] @ log_p[:, 0, :]
        for category in range(1, self.n_categories):
            grid += block.indicators[category] @ log_p[:, category, :]
        return np.asarray(grid)

    def posteriors(
        self, log_p: FloatArray, log_weights: FloatArray, exact: bool = True
    ) -> Iterator[tuple[Block, FloatArray, FloatArray]]:
        """Yield each block, its rows' marginal log-likelihoods and posteriors (rows x nodes)."""
        for block in self.blocks:
            grid = self.log_likelihood_grid(block, log_p, exact)
            grid += log_weights
            peak = grid.max(axis=1, keepdims=True)
            grid -= peak
            np.exp(grid, out=grid)
            total = grid.sum(axis=1, keepdims=True)
            grid /= total
            yield block, (peak + np.log(total)).ravel(), grid

    def expected_counts(
        self, log_p: FloatArray, log_weights: FloatArray, exact: bool = True
    ) -> EStepResult:
        """One E-step: marginal log-likelihood, expected counts and node totals.

        With ``exact=False`` large dense data work in single precision (EM iterations only).
        """
        n_nodes = log_p.shape[2]
        counts = np.zeros((self.n_items, self.n_categories, n_nodes))
        node_totals = np.zeros(n_nodes)
        log_likelihood = 0.0
        fast = not exact and self.dtype == np.float32
        for block, row_log_likelihood, posterior in self.posteriors(log_p, log_weights, exact):
            log_likelihood += float(block.weights @ row_log_likelihood)
            posterior *= block.weights[:, None]
            node_totals += posterior.sum(axis=0)
            if block.dense:
                dtype = np.float32 if fast else np.float64
                weighted = posterior.astype(dtype, copy=False)
                answered = (
                    np.broadcast_to(posterior.sum(axis=0), (self.n_items, n_nodes))
                    if block.mask is None
                    else block.mask.astype(dtype, copy=False).T @ weighted
                )
                rest = np.array(answered, dtype=np.float64)
                for category, indicator in enumerate(block.indicators, start=1):
                    part = indicator.astype(dtype, copy=False).T @ weighted
                    counts[:, category, :] += part
                    rest -= part
                counts[:, 0, :] += rest
            else:
                for category, indicator in enumerate(block.indicators):
                    counts[:, category, :] += indicator.T @ posterior
        np.maximum(counts, 0.0, out=counts)
        return EStepResult(log_likelihood, counts, node_totals)
