"""Exposure control: randomesque, Sympson-Hetter and a-stratification.

All three work on a criterion matrix of shape (n_examinees, n_items) in which ineligible items
are ``-inf``, so they combine with content balancing (which has already masked and weighted the
criterion). :func:`compute_sympson_hetter` finds the Sympson-Hetter parameters for a target
maximum exposure rate by iterative simulation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from exam._rows import put_per_row, take_per_row
from exam.pool import ItemPool

#: Candidates examined per examinee by Sympson-Hetter before the last one is taken regardless.
SYMPSON_HETTER_CANDIDATES = 32
_AIM_MARGIN = 0.03


def pick_best(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Index of the highest finite score per row, -1 where no item is eligible.

    ``scores`` has shape (n_examinees, n_items), or (n_items,) for one examinee (a scalar back).
    """
    best = scores.argmax(axis=-1)
    return np.where(np.isfinite(take_per_row(scores, best)), best, -1)


def _best_in_turn(
    scores: npt.NDArray[np.float64],
    accept: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n_candidates: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Offer each row's items in order of score until ``accept(rows, items)`` says yes.

    Returns the chosen item per row (-1 if none is eligible), and the candidates offered, with
    which of them were passed over, as arrays of shape (n_rows, n_candidates). After
    ``n_candidates`` refusals the last offered item is taken. One argmax per round over the rows
    still undecided, so the cost is that of a few argmax passes, never a full sort.
    """
    n_rows = scores.shape[0]
    working = scores.copy()
    chosen = np.full(n_rows, -1, dtype=np.intp)
    candidates = np.full((n_rows, n_candidates), -1, dtype=np.intp)
    passed_over = np.zeros((n_rows, n_candidates), dtype=bool)
    undecided = np.arange(n_rows)
    for round_number in range(n_candidates):
        best = np.argmax(working[undecided], axis=1)
        valid = np.isfinite(working[undecided, best])
        undecided, best = undecided[valid], best[valid]
        if undecided.size == 0:
            break
        candidates[undecided, round_number] = best
        chosen[undecided] = best
        if round_number == n_candidates - 1:
            break
        taken = accept(undecided, best)
        refused = ~taken
        passed_over[undecided[refused], round_number] = True
        working[undecided[refused], best[refused]] = -np.inf
        undecided = undecided[refused]
        if undecided.size == 0:
            break
    return chosen, candidates, passed_over


def pick_randomesque(
    scores: npt.NDArray[np.float64], k: int, rng: np.random.Generator
) -> npt.NDArray[np.intp]:
    """One of the ``k`` best eligible items at random (Kingsbury & Zara 1989); -1 if none.

    ``scores`` has shape (n_examinees, n_items), or (n_items,) for one examinee (a scalar back).
    """
    k = max(1, min(int(k), scores.shape[-1]))
    top, valid = _k_best(scores, k)
    draws = np.where(valid, rng.random(top.shape), -1.0)
    chosen = take_per_row(top, draws.argmax(axis=-1))
    return np.where(np.logical_or.reduce(valid, axis=-1), chosen, -1)


def _k_best(
    scores: npt.NDArray[np.float64], k: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """The ``k`` items of highest score per row, best first (ties: lowest index), and which of
    them are eligible (finite), both of shape ``scores.shape[:-1] + (k,)``.

    One argmax pass per rank rather than a sort of every row.
    """
    working = scores.copy()
    top = np.empty((*scores.shape[:-1], k), dtype=np.intp)
    top_scores = np.empty(top.shape)
    for rank in range(k):
        best = working.argmax(axis=-1)
        top[..., rank] = best
        top_scores[..., rank] = take_per_row(working, best)
        put_per_row(working, best, -np.inf)
    return top, np.isfinite(top_scores)


def pick_sympson_hetter(
    scores: npt.NDArray[np.float64],
    exposure_parameters: npt.NDArray[np.float64],
    rng: np.random.Generator,
    n_candidates: int = SYMPSON_HETTER_CANDIDATES,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Sympson-Hetter (1985) probabilistic filter over the items in order of the criterion.

    The best item is administered with probability :math:`k_j`; when it is passed over, it is
    removed for this examinee and the next is tried. When ``n_candidates`` have been passed
    over, the next is given regardless.

    Returns
    -------
    chosen : ndarray of int, shape (n_examinees,)
        Administered item per row, -1 where no item is eligible.
    candidates : ndarray of int, shape (n_examinees, n_candidates)
        The items offered in order (-1 where none).
    rejected : ndarray of bool, same shape
        Candidates selected and passed over (to be removed for the rest of the exam).

    For one examinee, ``scores`` of shape (n_items,) gives a scalar and two 1-d arrays.
    """
    rows = scores.reshape(-1, scores.shape[-1])
    uniforms = rng.random((rows.shape[0], n_candidates))
    turn = {"round": 0}

    def accept(rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        column = turn["round"]
        turn["round"] += 1
        return uniforms[rows, column] < exposure_parameters[items]

    chosen, candidates, rejected = _best_in_turn(rows, accept, n_candidates)
    if scores.ndim == 1:
        return chosen[0], candidates[0], rejected[0]
    return chosen, candidates, rejected


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
    tolerance: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> SympsonHetterResult:
    """Sympson-Hetter exposure parameters for a target maximum exposure rate.

    Each iteration simulates ``n_examinees`` from N(0, 1) with the current parameters and sets

    .. math:: k_j \\leftarrow \\begin{cases} 1 & P(S_j) \\le r \\\\ r / P(S_j) & P(S_j) > r
              \\end{cases}

    where :math:`P(S_j)` is the rate at which item j is selected (administered or passed over)
    and r the target, less a 3% margin for sampling noise (Sympson & Hetter 1985). It stops
    once the administration rate of every item is within ``target + tolerance`` in two
    iterations running, and returns the parameters of the iteration with the lowest maximum.

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
        exposure=replace(
            blueprint.exposure, method=ExposureMethod.SYMPSON_HETTER, target_rate=rate
        ),
    )
    # Aim a little below the target, so that a fresh simulation's sampling noise (about
    # sqrt(r (1 - r) / n) per item) stays within it.
    aim = rate * (1.0 - _AIM_MARGIN)
    parameters = np.ones(pool.n_items)
    history: list[float] = []
    best_parameters, best_max = parameters, np.inf
    within = 0
    for _ in range(int(n_iterations)):
        current = pool.with_exposure_parameters(parameters)
        result = simulate(current, sh_blueprint, n_examinees=int(n_examinees), rng=generator)
        selection_rate = result.selection_counts / result.n_examinees
        exposure_rate = result.exposure_counts / result.n_examinees
        history.append(float(exposure_rate.max()))
        if history[-1] <= best_max:
            best_parameters, best_max = parameters, history[-1]
        within = within + 1 if history[-1] <= rate + tolerance else 0
        if within >= 2:
            break
        parameters = np.where(selection_rate > aim, aim / np.maximum(selection_rate, 1e-12), 1.0)
    return SympsonHetterResult(
        exposure_parameters=np.asarray(best_parameters, dtype=float).copy(),
        max_exposure=float(best_max),
        history=tuple(history),
        converged=bool(best_max <= rate + tolerance),
    )
