"""Scoring during and at the end of an exam.

During the test the ability is read off the examinee's log-posterior on the grid: EAP (the
posterior mean and SD) or MAP (the mode, refined by a parabola through the three nodes around
it, with the SE from the curvature there). The final score uses the blueprint's method through
:mod:`calibration.scoring` (EAP, MAP, MLE or WLE), always finite with its standard error: an exam
without a scored answer gets the prior. The result carries the reported scale score, pass/fail
and a subscore for every competency domain of the pool.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration import ItemParameters, score_eap, score_map, score_mle, score_wle
from exam.blueprint import Blueprint, EstimatorName
from exam.pool import THETA_BOUND, ItemPool


def posterior_estimates(
    log_posterior: npt.NDArray[np.float64], nodes: npt.NDArray[np.float64], method: str = "eap"
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Interim ability and standard error from log-posteriors on the grid.

    Parameters
    ----------
    log_posterior : ndarray of shape (n_examinees, n_nodes)
        Log prior plus log-likelihood at the nodes (any additive constant).
    nodes : ndarray of shape (n_nodes,)
        Equally spaced nodes.
    method : {"eap", "map"}

    Returns
    -------
    theta, se : ndarrays of shape (n_examinees,)
    """
    shifted = log_posterior - log_posterior.max(axis=1, keepdims=True)
    if method == "eap":
        weights = np.exp(shifted)
        weights /= weights.sum(axis=1, keepdims=True)
        theta = weights @ nodes
        variance = weights @ (nodes * nodes) - theta * theta
        return theta, np.sqrt(np.maximum(variance, 1e-12))
    if method != "map":
        raise ValueError(f"interim estimator must be 'eap' or 'map', got {method!r}")
    step = nodes[1] - nodes[0]
    rows = np.arange(shifted.shape[0])
    mode = np.clip(np.argmax(shifted, axis=1), 1, nodes.size - 2)
    left, centre, right = shifted[rows, mode - 1], shifted[rows, mode], shifted[rows, mode + 1]
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
        """A JSON-ready document."""
        document = asdict(self)
        document["domains"] = [asdict(domain) for domain in self.domains]
        return document


def final_estimates(
    parameters: ItemParameters,
    responses: npt.NDArray[np.float64],
    blueprint: Blueprint,
    method: EstimatorName | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Final abilities and SEs of many examinees by the blueprint's method (finite always).

    ``responses`` is (n_examinees, n_items) with NaN for items not given. Rows without a scored
    answer get the prior mean and SD.
    """
    method = blueprint.estimation.final if method is None else method
    prior = {
        "prior_mean": blueprint.estimation.prior_mean,
        "prior_sd": blueprint.estimation.prior_sd,
    }
    if method is EstimatorName.EAP:
        estimates = score_eap(parameters, responses, **prior)
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
    if items.size:
        theta_all, se_all = final_estimates(
            pool.parameters.subset(items), values[None, :], blueprint
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
    domains = []
    item_domains = np.array([pool.domains[i] for i in items], dtype=object)
    for domain in pool.domain_codes:
        members = np.flatnonzero(item_domains == domain) if items.size else np.array([], int)
        if members.size:
            estimate = score_eap(
                pool.parameters.subset(items[members]),
                values[members][None, :],
                prior_mean=blueprint.estimation.prior_mean,
                prior_sd=blueprint.estimation.prior_sd,
            )
            d_theta, d_se = float(estimate.theta[0]), float(estimate.se[0])
        else:
            d_theta, d_se = blueprint.estimation.prior_mean, blueprint.estimation.prior_sd
        domains.append(
            DomainScore(
                domain=domain,
                n_items=int(members.size),
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
