"""Exposure control: randomesque, Sympson-Hetter and a-stratification.

All three work on a criterion matrix of shape (n_examinees, n_items) in which ineligible items
are ``-inf``, so they combine with content balancing (which has already masked and weighted the
criterion). :func:`compute_sympson_hetter` finds the Sympson-Hetter parameters for a target
maximum exposure rate by iterative simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from exam.pool import ItemPool

#: Candidates examined per examinee by Sympson-Hetter before the last one is taken regardless.
SYMPSON_HETTER_CANDIDATES = 32


def pick_best(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Index of the highest finite score per row, -1 where no item is eligible."""
    best = np.argmax(scores, axis=1)
    finite = np.isfinite(scores[np.arange(scores.shape[0]), best])
    return np.where(finite, best, -1)


def _top(scores: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.intp]:
    """The ``k`` highest-scoring columns per row, best first."""
    k = min(k, scores.shape[1])
    if k < scores.shape[1]:
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def pick_randomesque(
    scores: npt.NDArray[np.float64], k: int, rng: np.random.Generator
) -> npt.NDArray[np.intp]:
    """One of the ``k`` best eligible items at random (Kingsbury & Zara 1989); -1 if none."""
    top = _top(scores, k)
    valid = np.isfinite(np.take_along_axis(scores, top, axis=1))
    draws = np.where(valid, rng.random(top.shape), -1.0)
    column = np.argmax(draws, axis=1)
    chosen = top[np.arange(top.shape[0]), column]
    return np.where(valid.any(axis=1), chosen, -1)


def pick_sympson_hetter(
    scores: npt.NDArray[np.float64],
    exposure_parameters: npt.NDArray[np.float64],
    rng: np.random.Generator,
    n_candidates: int = SYMPSON_HETTER_CANDIDATES,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Sympson-Hetter (1985) probabilistic filter over the items in order of the criterion.

    The best item is administered with probability :math:`k_j`; when it is passed over, it is
    removed for this examinee and the next is tried. When every one of the ``n_candidates``
    best is passed over, the last of them is given.

    Returns
    -------
    chosen : ndarray of int, shape (n_examinees,)
        Administered item per row, -1 where no item is eligible.
    candidates : ndarray of int, shape (n_examinees, n_candidates)
        The candidates in order.
    rejected : ndarray of bool, same shape
        Candidates selected and passed over (to be removed for the rest of the exam).
    """
    top = _top(scores, n_candidates)
    valid = np.isfinite(np.take_along_axis(scores, top, axis=1))
    accept = valid & (rng.random(top.shape) < exposure_parameters[top])
    n_valid = valid.sum(axis=1)
    any_accept = accept.any(axis=1)
    first = np.where(any_accept, np.argmax(accept, axis=1), np.maximum(n_valid - 1, 0))
    rows = np.arange(top.shape[0])
    chosen = np.where(n_valid > 0, top[rows, first], -1)
    rejected = valid & (np.arange(top.shape[1])[None, :] < first[:, None])
    return chosen, top, rejected


def a_strata(pool: ItemPool, n_strata: int) -> npt.NDArray[np.intp]:
    """Stratum of every item by ascending slope, equal-sized strata (Chang & Ying 1999).

    Operational items are split; pretest items get stratum -1 (they are never selected by it).
    """
    strata = np.full(pool.n_items, -1, dtype=np.intp)
    operational = np.flatnonzero(pool.operational)
    order = operational[np.argsort(pool.parameters.a[operational], kind="stable")]
    for number, members in enumerate(np.array_split(order, n_strata)):
        strata[members] = number
    strata.flags.writeable = False
    return strata


def stage_of(n_scored: npt.NDArray[np.int64], n_strata: int, max_length: int) -> np.ndarray:
    """The stratum used for the next item: the test is split into equal stages, low a first."""
    return np.minimum(n_scored * n_strata // max_length, n_strata - 1)


@dataclass(frozen=True)
class SympsonHetterResult:
    """Exposure parameters found by :func:`compute_sympson_hetter`.

    Attributes
    ----------
    exposure_parameters : ndarray of float, shape (n_items,)
        The Sympson-Hetter ``k`` of every item.
    max_exposure : float
        Highest administration rate in the last iteration's simulation.
    history : tuple of float
        Highest administration rate of each iteration.
    converged : bool
        Whether the last iteration kept every rate within ``target + tolerance``.
    """

    exposure_parameters: npt.NDArray[np.float64]
    max_exposure: float
    history: tuple[float, ...]
    converged: bool

    def to_dict(self, pool: ItemPool) -> dict[str, object]:
        """A JSON-ready document: item id to exposure parameter, and the run's figures."""
        return {
            "exposure_parameters": {
                item_id: float(k)
                for item_id, k in zip(pool.item_ids, self.exposure_parameters, strict=True)
            },
            "max_exposure": self.max_exposure,
            "history": list(self.history),
            "converged": self.converged,
        }


def compute_sympson_hetter(
    pool: ItemPool,
    blueprint: object,
    target_rate: float | None = None,
    *,
    n_examinees: int = 2000,
    n_iterations: int = 12,
    tolerance: float = 0.01,
    rng: np.random.Generator | int | None = None,
) -> SympsonHetterResult:
    """Sympson-Hetter exposure parameters for a target maximum exposure rate.

    Each iteration simulates ``n_examinees`` from N(0, 1) with the current parameters and sets

    .. math:: k_j \\leftarrow \\begin{cases} 1 & P(S_j) \\le r \\\\ r / P(S_j) & P(S_j) > r
              \\end{cases}

    where :math:`P(S_j)` is the rate at which item j is selected (administered or passed over)
    and r the target (Sympson & Hetter 1985). It stops once the administration rate of every
    item is within ``target + tolerance`` in two iterations running.

    Parameters
    ----------
    pool : ItemPool
    blueprint : Blueprint
        Its exposure method is switched to Sympson-Hetter for the simulations.
    target_rate : float, optional
        Default: the blueprint's ``exposure.target_rate``.
    """
    from dataclasses import replace

    from exam.blueprint import Blueprint, ExposureMethod
    from exam.simulation import simulate

    if not isinstance(blueprint, Blueprint):
        raise TypeError(f"blueprint must be an exam.Blueprint, got {type(blueprint).__name__}")
    rate = blueprint.exposure.target_rate if target_rate is None else float(target_rate)
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"target_rate must be in (0, 1], got {target_rate!r}")
    if int(n_examinees) < 1 or int(n_iterations) < 1:
        raise ValueError(
            f"n_examinees and n_iterations must be >= 1, got {n_examinees!r}, {n_iterations!r}"
        )
    generator = np.random.default_rng(rng)
    sh_blueprint = replace(
        blueprint,
        exposure=replace(blueprint.exposure, method=ExposureMethod.SYMPSON_HETTER,
                         target_rate=rate),
    )
    parameters = np.ones(pool.n_items)
    history: list[float] = []
    within = 0
    for _ in range(int(n_iterations)):
        current = pool.with_exposure_parameters(parameters)
        result = simulate(current, sh_blueprint, n_examinees=int(n_examinees), rng=generator)
        selection_rate = result.selection_counts / result.n_examinees
        exposure_rate = result.exposure_counts / result.n_examinees
        history.append(float(exposure_rate.max()))
        within = within + 1 if history[-1] <= rate + tolerance else 0
        if within >= 2:
            break
        parameters = np.where(
            selection_rate > rate, rate / np.maximum(selection_rate, 1e-12), 1.0
        )
    return SympsonHetterResult(
        exposure_parameters=np.asarray(current.exposure_parameters, dtype=float).copy(),
        max_exposure=history[-1],
        history=tuple(history),
        converged=within >= 1,
    )
