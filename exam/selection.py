"""Item-selection criteria: maximum Fisher information, global Kullback-Leibler, and maximum
posterior-weighted information.

Each selector computes its criterion for every item of the pool and many examinees at once from
the pool's precomputed tables (:class:`~exam.pool.ItemPool`), so the engine and the simulator
share one code path; the eligible items are then chosen by boolean masks and exposure control.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from exam.pool import THETA_BOUND, ItemPool

if TYPE_CHECKING:
    from exam.state import ExamState

_FLOOR = 1e-12


def interpolation_weights(
    nodes: npt.NDArray[np.float64], theta: npt.ArrayLike
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Lower node index and weight of the upper node for linear interpolation on equal spacing.

    ``theta`` (an array, or a scalar for one examinee) is clipped to the grid.
    """
    # np.clip's bookkeeping costs more than the two ufuncs it applies (same values, NaN too).
    t = np.minimum(np.maximum(theta, nodes[0]), nodes[-1])
    step = nodes[1] - nodes[0]
    position = (t - nodes[0]) / step
    lower = np.minimum(position.astype(np.intp), nodes.size - 2)
    return lower, position - lower


def interpolate_rows(
    table: npt.NDArray[np.float64], nodes: npt.NDArray[np.float64], theta: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Rows of ``table`` (tabulated at ``nodes`` along axis 0) interpolated at each ``theta``.

    Returns a new array of shape ``np.shape(theta) + table.shape[1:]``.
    """
    lower, weight = interpolation_weights(nodes, theta)
    shape = weight.shape + (1,) * (table.ndim - 1)
    low = table.take(lower, axis=0)
    result = table.take(lower + 1, axis=0)
    result -= low
    result *= weight.reshape(shape)
    result += low
    return result


class Selector(Protocol):
    """What the engine asks of a selection rule."""

    name: str

    def criterion(
        self,
        pool: ItemPool,
        theta: npt.NDArray[np.float64],
        log_posterior: npt.NDArray[np.float64],
        n_scored: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float64]:
        """Non-negative criterion of every item, shape (n_examinees, n_items); larger is better.

        ``theta`` and ``n_scored`` have shape (n_examinees,) and ``log_posterior``
        (n_examinees, n_nodes); for one examinee they may be scalars and (n_nodes,), and the
        criterion has shape (n_items,). Always a new array (the engine marks ineligible items in
        it in place).
        """
        ...


def _select(selector: Selector, pool: ItemPool, state: ExamState) -> int | None:
    """The eligible item of highest criterion for one exam, ignoring exposure control."""
    criterion = selector.criterion(
        pool, np.float64(state.selection_theta), state.log_posterior, np.int64(state.n_scored)
    )
    eligible = state.eligible_mask()
    if not eligible.any():
        return None
    return int(np.argmax(np.where(eligible, criterion, -np.inf)))


@dataclass(frozen=True)
class MaxInfoSelector:
    """Maximum Fisher information at the current estimate (Lord 1980).

    .. math:: j^* = \\arg\\max_{j \\in R} I_j(\\hat\\theta)

    Information is tabulated on the pool's fine selection grid and interpolated linearly.
    """

    name: str = "mfi"

    def criterion(
        self,
        pool: ItemPool,
        theta: npt.NDArray[np.float64],
        log_posterior: npt.NDArray[np.float64],
        n_scored: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float64]:
        """Criterion of every item, shape (n_examinees, n_items) or (n_items,) for one."""
        return interpolate_rows(pool.information_grid, pool.selection_nodes, theta)

    def select(self, pool: ItemPool, state: ExamState) -> int | None:
        """The eligible item of maximum information at the state's estimate."""
        return _select(self, pool, state)


@dataclass(frozen=True)
class KullbackLeiblerSelector:
    """Global Kullback-Leibler information (Chang & Ying 1996).

    .. math:: KL_j(\\hat\\theta) = \\int_{\\hat\\theta-\\delta_n}^{\\hat\\theta+\\delta_n}
              \\sum_k P_{jk}(\\hat\\theta) \\log\\frac{P_{jk}(\\hat\\theta)}{P_{jk}(\\theta)}
              \\,d\\theta, \\qquad \\delta_n = c / \\sqrt{n}

    The integral of :math:`\\log P_{jk}` is a difference of the pool's cumulative table, so the
    index costs O(items x categories) per examinee.
    """

    window: float = 3.0
    name: str = "kl"

    def criterion(
        self,
        pool: ItemPool,
        theta: npt.NDArray[np.float64],
        log_posterior: npt.NDArray[np.float64],
        n_scored: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float64]:
        """Criterion of every item, shape (n_examinees, n_items) or (n_items,) for one."""
        probabilities, cumulative = pool.kl_tables
        nodes = pool.selection_nodes
        delta = self.window / np.sqrt(np.maximum(n_scored, 1))
        low = np.clip(theta - delta, -THETA_BOUND, THETA_BOUND)
        high = np.clip(theta + delta, -THETA_BOUND, THETA_BOUND)
        p_hat = interpolate_rows(probabilities, nodes, theta)
        integral = interpolate_rows(cumulative, nodes, high) - interpolate_rows(
            cumulative, nodes, low
        )
        width = np.expand_dims(high - low, (-1, -2))
        log_p_hat = np.log(np.maximum(p_hat, _FLOOR))
        index = (p_hat * (width * log_p_hat - integral)).sum(axis=-1)
        return np.maximum(index, 0.0)

    def select(self, pool: ItemPool, state: ExamState) -> int | None:
        """The eligible item of maximum KL index at the state's estimate."""
        return _select(self, pool, state)


@dataclass(frozen=True)
class PosteriorWeightedInfoSelector:
    """Maximum posterior-weighted information (van der Linden 1998).

    .. math:: j^* = \\arg\\max_{j \\in R} \\int I_j(\\theta)\\, g(\\theta \\mid u)\\, d\\theta

    on the posterior grid, one matrix-vector product per examinee.
    """

    name: str = "mpwi"

    def criterion(
        self,
        pool: ItemPool,
        theta: npt.NDArray[np.float64],
        log_posterior: npt.NDArray[np.float64],
        n_scored: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float64]:
        """Criterion of every item, shape (n_examinees, n_items) or (n_items,) for one."""
        shifted = log_posterior - log_posterior.max(axis=-1, keepdims=True)
        posterior = np.exp(shifted)
        posterior /= posterior.sum(axis=-1, keepdims=True)
        return posterior @ pool.information_posterior_grid

    def select(self, pool: ItemPool, state: ExamState) -> int | None:
        """The eligible item of maximum posterior-weighted information."""
        return _select(self, pool, state)


def make_selector(rule: str, *, kl_window: float = 3.0) -> Selector:
    """The selector named by a blueprint's ``selection.rule``."""
    if rule == "mfi":
        return MaxInfoSelector()
    if rule == "kl":
        return KullbackLeiblerSelector(window=kl_window)
    if rule == "mpwi":
        return PosteriorWeightedInfoSelector()
    raise ValueError(f"unknown selection rule {rule!r}; choose 'mfi', 'kl' or 'mpwi'")
