"""Scoring during and at the end of an exam.

During the test the ability is read off the examinee's log-posterior on the grid: EAP (the
posterior mean and SD) or MAP (the mode, refined by a parabola through the three nodes around
it, with the SE from the curvature there). The final score uses the blueprint's method through
:mod:`calibration.scoring` (EAP, MAP, MLE or WLE), always finite with its standard error: an exam
without a scored answer gets the prior. The result carries the reported scale score, pass/fail
and a subscore for every competency domain of the pool.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration import ItemParameters, score_eap, score_map, score_mle, score_wle
from exam._rows import take_per_row
from exam.blueprint import Blueprint, EstimatorName
from exam.pool import THETA_BOUND, ItemPool


def posterior_estimates(
    log_posterior: npt.NDArray[np.float64], nodes: npt.NDArray[np.float64], method: str = "eap"
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Interim ability and standard error from log-posteriors on the grid.

    Parameters
    ----------
    log_posterior : ndarray of shape (n_examinees, n_nodes), or (n_nodes,) for one examinee
        Log prior plus log-likelihood at the nodes (any additive constant).
    nodes : ndarray of shape (n_nodes,)
        Equally spaced nodes.
    method : {"eap", "map"}

    Returns
    -------
    theta, se : ndarrays of shape (n_examinees,), or scalars for one examinee
    """
    # The reductions are called as ufunc methods: ``ndarray.max``/``sum`` are Python wrappers
    # around the very same calls, and this runs at every answer.
    shifted = log_posterior - np.maximum.reduce(log_posterior, axis=-1, keepdims=True)
    if method == "eap":
        weights = np.exp(shifted)
        weights /= np.add.reduce(weights, axis=-1, keepdims=True)
        theta = weights @ nodes
        variance = weights @ (nodes * nodes) - theta * theta
        return theta, np.sqrt(np.maximum(variance, 1e-12))
    if method != "map":
        raise ValueError(f"interim estimator must be 'eap' or 'map', got {method!r}")
    step = nodes[1] - nodes[0]
    mode = np.clip(np.argmax(shifted, axis=-1), 1, nodes.size - 2)
    left = take_per_row(shifted, mode - 1)
    centre = take_per_row(shifted, mode)
    right = take_per_row(shifted, mode + 1)
    curvature = (left - 2.0 * centre + right) / step**2  # negative at a maximum
    safe = curvature < -1e-12
    offset = np.where(
        safe, 0.5 * step * (left - right) / np.where(safe, left - 2 * centre + right, -1.0), 0.0
    )
    theta = np.clip(nodes[mode] + np.clip(offset, -step, step), -THETA_BOUND, THETA_BOUND)
    se = np.where(safe, 1.0 / np.sqrt(np.where(safe, -curvature, 1.0)), THETA_BOUND)
    return theta, se


@dataclass(frozen=True)
class DomainScore:
    """Subscore of one competency domain, for feedback (EAP on the domain's scored items)."""

    domain: str
    n_items: int
    theta: float
    se: float
    scale_score: float
    scale_se: float


@dataclass(frozen=True)
class ExamResult:
    """The final result of an exam.

    Attributes
    ----------
    theta, se : float
        Final ability by ``method`` and its standard error (always finite).
    scale_score, scale_se : float
        The same on the blueprint's reported scale.
    passed : bool or None
        Pass/fail at the cut (None without a cut). When a classification rule decided, its
        decision; otherwise ``theta >= cut_theta``.
    decided_by : str
        ``"sprt"``, ``"ci"`` or ``"estimate"`` (or ``""`` without a cut).
    domains : tuple of DomainScore
        One per competency domain of the pool, in sorted order (``n_items`` 0: the prior).
    """

    theta: float
    se: float
    method: str
    scale_score: float
    scale_se: float
    cut_theta: float | None
    cut_score: float | None
    passed: bool | None
    decided_by: str
    n_scored: int
    n_pretest: int
    stop_reason: str
    domains: tuple[DomainScore, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (every field is a number, a string, None or the domains)."""
        document = _fields_of(self)
        document["domains"] = [_fields_of(domain) for domain in self.domains]
        return document


def _fields_of(instance: Any) -> dict[str, Any]:
    """A dataclass's fields by name, not copied: ``asdict`` deep-copies every value, which the
    numbers and strings of a result do not need, at a cost paid by every exam's last answer."""
    return {field.name: getattr(instance, field.name) for field in fields(instance)}


def final_estimates(
    parameters: ItemParameters,
    responses: npt.NDArray[np.float64],
    blueprint: Blueprint,
    method: EstimatorName | None = None,
    *,
    log_probabilities: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Final abilities and SEs of many examinees by the blueprint's method (finite always).

    ``responses`` is (n_examinees, n_items) with NaN for items not given. Rows without a scored
    answer get the prior mean and SD. ``log_probabilities`` is the items' table of
    :func:`calibration.log_category_probabilities` on the EAP nodes, if the caller has it (EAP
    uses it instead of computing it again).
    """
    method = blueprint.estimation.final if method is None else method
    prior = {
        "prior_mean": blueprint.estimation.prior_mean,
        "prior_sd": blueprint.estimation.prior_sd,
    }
    if method is EstimatorName.EAP:
        estimates = score_eap(parameters, responses, **prior, log_probabilities=log_probabilities)
    elif method is EstimatorName.MAP:
        estimates = score_map(parameters, responses, **prior)
    elif method is EstimatorName.MLE:
        estimates = score_mle(parameters, responses, bounds=(-THETA_BOUND, THETA_BOUND))
    else:
        estimates = score_wle(parameters, responses, bounds=(-THETA_BOUND, THETA_BOUND))
    theta = np.asarray(estimates.theta, dtype=float)
    se = np.asarray(estimates.se, dtype=float)
    empty = np.all(np.isnan(responses), axis=1) | ~np.isfinite(theta) | ~np.isfinite(se)
    theta = np.where(empty, blueprint.estimation.prior_mean, theta)
    se = np.where(empty, blueprint.estimation.prior_sd, se)
    return theta, se


def score_exam(
    pool: ItemPool,
    blueprint: Blueprint,
    items: npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    decision: int = 0,
    decided_by: str = "",
    n_pretest: int = 0,
    stop_reason: str = "",
) -> ExamResult:
    """Score one exam from its scored items (pool positions) and category scores.

    Parameters
    ----------
    decision : int
        +1 / -1 when a classification rule decided pass / fail, 0 otherwise.
    """
    items = np.asarray(items, dtype=np.intp)
    values = np.asarray(scores, dtype=float)
    scale = blueprint.scale
    parameters = pool.parameters.subset(items) if items.size else None
    table = _scoring_table(pool, items, parameters) if parameters is not None else None
    if parameters is not None:
        theta_all, se_all = final_estimates(
            parameters, values[None, :], blueprint, log_probabilities=table
        )
        theta, se = float(theta_all[0]), float(se_all[0])
    else:
        theta, se = blueprint.estimation.prior_mean, blueprint.estimation.prior_sd
    cut = blueprint.cut_theta
    if cut is None:
        passed, decided_by = None, ""
    elif decision != 0:
        passed = decision > 0
    else:
        passed, decided_by = theta >= cut, "estimate"
    item_domains = pool.domain_index[items]
    domains = []
    for number, domain in enumerate(pool.domain_codes):
        in_domain = item_domains == number
        n_items = int(np.count_nonzero(in_domain))
        if n_items:
            d_theta, d_se = _domain_estimate(parameters, values, in_domain, table, blueprint)
        else:
            d_theta, d_se = blueprint.estimation.prior_mean, blueprint.estimation.prior_sd
        domains.append(
            DomainScore(
                domain=domain,
                n_items=n_items,
                theta=d_theta,
                se=d_se,
                scale_score=scale.to_scale(d_theta),
                scale_se=scale.se_to_scale(d_se),
            )
        )
    return ExamResult(
        theta=theta,
        se=se,
        method=str(blueprint.estimation.final),
        scale_score=scale.to_scale(theta),
        scale_se=scale.se_to_scale(se),
        cut_theta=cut,
        cut_score=blueprint.cut_score,
        passed=passed,
        decided_by=decided_by,
        n_scored=int(items.size),
        n_pretest=int(n_pretest),
        stop_reason=str(stop_reason),
        domains=tuple(domains),
    )


def _domain_estimate(
    parameters: ItemParameters,
    values: npt.NDArray[np.float64],
    in_domain: npt.NDArray[np.bool_],
    table: npt.NDArray[np.float64] | None,
    blueprint: Blueprint,
) -> tuple[float, float]:
    """EAP subscore of the exam's items ``in_domain`` (``parameters`` and ``values`` are the
    exam's scored items; ``table`` their scoring table, if the pool has one).

    With the table, the other items are passed as unanswered: each adds an exact zero to every
    node's log-likelihood. numpy sums one response row against the (strided, so not BLAS)
    table item by item in order, so the sum is the domain items' own, bit for bit, without a
    parameter subset and a table per domain (pinned by ``tests/exam/test_scoring.py``). Without
    a table (a pool too wide for one), the domain's items are scored on their own.
    """
    prior = {
        "prior_mean": blueprint.estimation.prior_mean,
        "prior_sd": blueprint.estimation.prior_sd,
    }
    if table is None:
        members = np.flatnonzero(in_domain)
        estimate = score_eap(parameters.subset(members), values[members][None, :], **prior)
    else:
        responses = np.where(in_domain, values, np.nan)[None, :]
        estimate = score_eap(parameters, responses, **prior, log_probabilities=table)
    return float(estimate.theta[0]), float(estimate.se[0])


def _scoring_table(
    pool: ItemPool, items: npt.NDArray[np.intp], parameters: ItemParameters
) -> npt.NDArray[np.float64] | None:
    """The pool's scoring table for ``items`` (whose parameters are ``parameters``), cut to
    their own categories: the table :func:`calibration.score_eap` would compute for them, as a
    view of shape (n_nodes, n_items, max_categories)."""
    table = pool.scoring_log_probabilities
    if table is None:
        return None
    return table.take(items, axis=0)[:, :, : parameters.max_categories].transpose(1, 0, 2)
