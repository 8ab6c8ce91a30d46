"""Person scoring: EAP, MAP, MLE and WLE ability estimates with standard errors.

Every estimator scores many people at once and returns finite values for all-correct and
all-wrong patterns: EAP and MAP through their prior, MLE by bounding theta to a documented
interval, WLE through Warm's (1989) correction, which is finite for such patterns under the
Rasch and 2PL models and bounded like MLE otherwise. A person with no response at all gets the
prior under EAP and MAP and NaN under MLE and WLE (there is nothing to estimate from).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from calibration.models import (
    ItemParameters,
    answered_information,
    item_information,
    log_likelihood_grid,
    theta_derivatives,
)
from calibration.quadrature import Quadrature, normal_quadrature

DEFAULT_BOUNDS = (-6.0, 6.0)
_NEWTON_ITERATIONS = 60
_NEWTON_TOLERANCE = 1e-8
_MAX_STEP = 1.0

ScoringMethod = Literal["eap", "map", "mle", "wle"]


@dataclass(frozen=True)
class AbilityEstimates:
    """Ability estimates of a group of people.

    Attributes
    ----------
    theta : ndarray of shape (n_persons,)
        The estimates on the latent scale.
    se : ndarray of shape (n_persons,)
        Their standard errors (the posterior SD for EAP).
    method : str
        ``"eap"``, ``"map"``, ``"mle"`` or ``"wle"``.
    """

    theta: npt.NDArray[np.float64]
    se: npt.NDArray[np.float64]
    method: str

    def __len__(self) -> int:
        return int(self.theta.size)

    def confidence_interval(self, level: float = 0.95) -> tuple[npt.NDArray, npt.NDArray]:
        """Wald interval ``theta ± z * se`` at the given confidence level."""
        z = float(ndtri(0.5 + level / 2.0))
        return self.theta - z * self.se, self.theta + z * self.se


def _responses_2d(parameters: ItemParameters, responses: npt.ArrayLike) -> npt.NDArray:
    values = np.asarray(responses, dtype=float)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != parameters.n_items:
        raise ValueError(
            f"responses must have shape (n_persons, {parameters.n_items}), got {values.shape}"
        )
    return values


def _check_prior(prior_mean: float, prior_sd: float) -> None:
    if not math.isfinite(prior_mean) or not (math.isfinite(prior_sd) and prior_sd > 0):
        raise ValueError(f"prior needs a finite mean and sd > 0, got {prior_mean!r}, {prior_sd!r}")


def score_eap(
    parameters: ItemParameters,
    responses: npt.ArrayLike,
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    quadrature: Quadrature | None = None,
    log_probabilities: npt.NDArray[np.float64] | None = None,
) -> AbilityEstimates:
    """Expected a posteriori estimates (Bock & Mislevy 1982) with posterior SDs.

    .. math:: \\hat\\theta = \\frac{\\sum_q \\theta_q L(\\theta_q) w_q}{\\sum_q L(\\theta_q) w_q}

    ``quadrature`` gives both the nodes and the prior weights; without it, 61 nodes on
    [-6, 6] weighted by N(prior_mean, prior_sd). ``log_probabilities`` is
    ``log_category_probabilities(parameters, nodes)`` when the caller has it already (see
    :func:`~calibration.models.log_likelihood_grid`).
    """
    values = _responses_2d(parameters, responses)
    if quadrature is None:
        _check_prior(prior_mean, prior_sd)
        quadrature = _prior_quadrature(float(prior_mean), float(prior_sd))
    log_posterior = log_likelihood_grid(
        parameters, values, quadrature.nodes, log_probabilities=log_probabilities
    )
    log_posterior += quadrature.log_weights
    # ufunc reductions: what ndarray.max/sum call, without their Python wrappers (an exam's
    # result takes one EAP per competency domain).
    log_posterior -= np.maximum.reduce(log_posterior, axis=1, keepdims=True)
    posterior = np.exp(log_posterior)
    posterior /= np.add.reduce(posterior, axis=1, keepdims=True)
    theta = posterior @ quadrature.nodes
    variance = posterior @ quadrature.nodes**2 - theta**2
    return AbilityEstimates(theta=theta, se=np.sqrt(np.maximum(variance, 0.0)), method="eap")


@functools.lru_cache(maxsize=64)
def _prior_quadrature(prior_mean: float, prior_sd: float) -> Quadrature:
    """The default EAP quadrature of a normal prior, built once per prior (it is immutable)."""
    return normal_quadrature(mean=prior_mean, sd=prior_sd)


def _grid_start(
    parameters: ItemParameters,
    values: npt.NDArray,
    bounds: tuple[float, float],
    extra: npt.NDArray | None = None,
) -> npt.NDArray[np.float64]:
    """The best of a grid of starting values, so Newton starts in the right basin (3PL)."""
    nodes = np.linspace(bounds[0], bounds[1], 61)
    objective = log_likelihood_grid(parameters, values, nodes)
    if extra is not None:
        objective = objective + extra
    return nodes[np.argmax(objective, axis=1)]


def _newton(
    theta: npt.NDArray[np.float64],
    gradient_and_curvature: Any,
    bounds: tuple[float, float],
) -> npt.NDArray[np.float64]:
    """Vectorised, step-limited Newton ascent on a concave-near-the-optimum objective."""
    theta = theta.copy()
    for _ in range(_NEWTON_ITERATIONS):
        gradient, curvature = gradient_and_curvature(theta)
        # Where the objective is not locally concave, take a gradient step instead.
        step = np.where(curvature < -1e-10, -gradient / np.minimum(curvature, -1e-10), gradient)
        updated = np.clip(theta + np.clip(step, -_MAX_STEP, _MAX_STEP), bounds[0], bounds[1])
        moved = np.abs(updated - theta)
        theta = updated
        if np.all(moved < _NEWTON_TOLERANCE):
            break
    return theta


def score_map(
    parameters: ItemParameters,
    responses: npt.ArrayLike,
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimates:
    """Maximum a posteriori (Bayes modal) estimates under a N(prior_mean, prior_sd) prior.

    The standard error is ``1 / sqrt(I(theta) + 1 / prior_sd^2)``, with ``I`` the information
    of the answered items at the estimate.
    """
    _check_prior(prior_mean, prior_sd)
    values = _responses_2d(parameters, responses)
    precision = 1.0 / prior_sd**2
    nodes = np.linspace(bounds[0], bounds[1], 61)
    prior_term = -0.5 * precision * (nodes - prior_mean) ** 2

    def gradient_and_curvature(theta: npt.NDArray) -> tuple[npt.NDArray, npt.NDArray]:
        first, second = theta_derivatives(parameters, theta, values)
        return first - precision * (theta - prior_mean), second - precision

    start = _grid_start(parameters, values, bounds, prior_term[None, :])
    theta = _newton(start, gradient_and_curvature, bounds)
    information, _ = answered_information(parameters, theta, values)
    return AbilityEstimates(theta=theta, se=1.0 / np.sqrt(information + precision), method="map")


def _validate_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    low, high = (float(v) for v in bounds)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"bounds must be two finite numbers, low < high; got {bounds!r}")
    return low, high


def _no_response_to_nan(values: npt.NDArray, estimates: AbilityEstimates) -> AbilityEstimates:
    empty = np.all(np.isnan(values), axis=1)
    if not empty.any():
        return estimates
    return AbilityEstimates(
        theta=np.where(empty, np.nan, estimates.theta),
        se=np.where(empty, np.nan, estimates.se),
        method=estimates.method,
    )


def score_mle(
    parameters: ItemParameters,
    responses: npt.ArrayLike,
    *,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimates:
    """Maximum likelihood estimates, bounded to ``bounds`` so that they are always finite.

    The likelihood of an all-correct (all-wrong) pattern increases without limit, so its
    estimate is the upper (lower) bound; the standard error is ``1 / sqrt(I(theta))`` there.
    """
    bounds = _validate_bounds(bounds)
    values = _responses_2d(parameters, responses)

    def gradient_and_curvature(theta: npt.NDArray) -> tuple[npt.NDArray, npt.NDArray]:
        return theta_derivatives(parameters, theta, values)

    theta = _newton(_grid_start(parameters, values, bounds), gradient_and_curvature, bounds)
    information, _ = answered_information(parameters, theta, values)
    with np.errstate(divide="ignore"):
        se = 1.0 / np.sqrt(information)
    return _no_response_to_nan(values, AbilityEstimates(theta=theta, se=se, method="mle"))


def score_wle(
    parameters: ItemParameters,
    responses: npt.ArrayLike,
    *,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimates:
    """Weighted likelihood estimates (Warm 1989), which remove the first-order bias of MLE.

    Solves :math:`\\partial \\log L / \\partial\\theta + J(\\theta) / (2 I(\\theta)) = 0`
    with :math:`J = \\sum_j \\sum_k P'_{jk} P''_{jk} / P_{jk}`; the standard error is
    ``1 / sqrt(I(theta))``.
    """
    bounds = _validate_bounds(bounds)
    values = _responses_2d(parameters, responses)
    step = 1e-4

    def estimating_equation(theta: npt.NDArray) -> npt.NDArray:
        first, _ = theta_derivatives(parameters, theta, values)
        information, warm = answered_information(parameters, theta, values)
        with np.errstate(divide="ignore", invalid="ignore"):
            return first + np.where(information > 0, warm / (2.0 * information), 0.0)

    def gradient_and_curvature(theta: npt.NDArray) -> tuple[npt.NDArray, npt.NDArray]:
        value = estimating_equation(theta)
        slope = (estimating_equation(theta + step) - estimating_equation(theta - step)) / (
            2.0 * step
        )
        return value, slope

    # Weighted likelihood L * sqrt(I) on a grid: exact for Rasch/2PL, a good start otherwise.
    nodes = np.linspace(bounds[0], bounds[1], 61)
    grid_information = (~np.isnan(values)).astype(float) @ item_information(parameters, nodes).T
    with np.errstate(divide="ignore"):
        start = _grid_start(parameters, values, bounds, 0.5 * np.log(grid_information))
    theta = _newton(start, gradient_and_curvature, bounds)
    information, _ = answered_information(parameters, theta, values)
    with np.errstate(divide="ignore"):
        se = 1.0 / np.sqrt(information)
    return _no_response_to_nan(values, AbilityEstimates(theta=theta, se=se, method="wle"))


_SCORERS = {"eap": score_eap, "map": score_map, "mle": score_mle, "wle": score_wle}


def score_persons(
    parameters: ItemParameters,
    responses: npt.ArrayLike,
    method: ScoringMethod = "eap",
    **options: Any,
) -> AbilityEstimates:
    """Score people by the named method; ``options`` go to that method's function."""
    try:
        scorer = _SCORERS[str(method).lower()]
    except KeyError:
        raise ValueError(
            f"unknown scoring method {method!r}; choose one of {sorted(_SCORERS)}"
        ) from None
    return scorer(parameters, responses, **options)
