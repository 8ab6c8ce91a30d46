"""The outcome of an item calibration: parameters, standard errors, fit and convergence."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.anchors import FixedItems
from calibration.models import ItemModel, ItemParameters

__all__ = ["CalibrationResult", "ExcludedItem"]


@dataclass(frozen=True)
class ExcludedItem:
    """An item left out of a calibration, and why."""

    item_id: str
    reason: str


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    r"""Item parameters estimated by marginal maximum likelihood, with their uncertainty.

    Attributes
    ----------
    item_ids : tuple of str
        The calibrated items (estimated and fixed), in the order of the data, excluded items
        left out.
    parameters : ItemParameters
        Their parameters in the difficulty metric ``a(theta - b)``.
    se_a, se_c : ndarray, shape (n_items,)
        Standard errors of the slope and lower asymptote; NaN where the parameter was not
        estimated (Rasch slope, non-3PL asymptote, fixed items).
    se_b : ndarray, shape (n_items, max_categories - 1)
        Standard errors of the difficulties or thresholds, NaN-padded like ``parameters.b``.
    fixed : ndarray of bool, shape (n_items,)
        Items whose parameters were held fixed (anchors).
    n_responses : ndarray, shape (n_items,)
        Number of persons who answered each item.
    log_likelihood : float
        Marginal log-likelihood of the data at the estimates (priors not included).
    log_posterior : float
        ``log_likelihood`` plus the log prior density of the item parameters (equal to it
        without priors).
    n_parameters : int
        Number of estimated parameters, latent mean and sd included when estimated.
    n_persons : float
        Number of persons with at least one response to a calibrated item.
    n_iter : int
        EM iterations (E-steps) used.
    converged : bool
        Whether the largest parameter change fell below the tolerance within the cap.
    latent_mean, latent_sd : float
        Mean and standard deviation of the latent distribution (0 and 1 unless estimated).
    se_latent_mean, se_latent_sd : float
        Their standard errors (NaN when not estimated).
    excluded : tuple of ExcludedItem
        Items left out before estimation, with the reason.
    se_method : str
        ``"oakes"`` (observed information, Oakes 1999), ``"xpd"`` (cross-product of the
        persons' score vectors) or ``"none"``.
    covariance : ndarray, shape (n_parameters, n_parameters) or None
        Covariance matrix of the estimated internal parameters (slopes, intercepts, logit
        asymptotes, latent mean, log latent sd), when standard errors were computed.
    """

    item_ids: tuple[str, ...]
    parameters: ItemParameters
    se_a: npt.NDArray[np.float64]
    se_b: npt.NDArray[np.float64]
    se_c: npt.NDArray[np.float64]
    fixed: npt.NDArray[np.bool_]
    n_responses: npt.NDArray[np.float64]
    log_likelihood: float
    log_posterior: float
    n_parameters: int
    n_persons: float
    n_iter: int
    converged: bool
    latent_mean: float
    latent_sd: float
    se_latent_mean: float
    se_latent_sd: float
    excluded: tuple[ExcludedItem, ...]
    se_method: str
    covariance: npt.NDArray[np.float64] | None = None

    @property
    def n_items(self) -> int:
        """Number of calibrated items."""
        return len(self.item_ids)

    @property
    def models(self) -> tuple[ItemModel, ...]:
        """The model of each calibrated item."""
        return self.parameters.models

    def item_parameters(self) -> ItemParameters:
        """The calibrated items' parameters (difficulty metric)."""
        return self.parameters

    def fixed_items(self) -> FixedItems:
        """These estimates as anchors for a later fixed-parameter calibration."""
        return FixedItems(item_ids=self.item_ids, parameters=self.parameters)

    def aic(self) -> float:
        r"""Akaike's information criterion, :math:`2k - 2\log L`."""
        return 2.0 * self.n_parameters - 2.0 * self.log_likelihood

    def bic(self) -> float:
        r"""Schwarz's Bayesian information criterion, :math:`k \log N - 2\log L`."""
        return self.n_parameters * math.log(max(self.n_persons, 1.0)) - 2.0 * self.log_likelihood

    def index_of(self, item_id: str) -> int:
        """Position of a calibrated item; raises KeyError naming an unknown or excluded id."""
        try:
            return self.item_ids.index(item_id)
        except ValueError:
            excluded = {e.item_id: e.reason for e in self.excluded}
            if item_id in excluded:
                raise KeyError(f"item {item_id!r} was excluded: {excluded[item_id]}") from None
            raise KeyError(f"no calibrated item {item_id!r}") from None
