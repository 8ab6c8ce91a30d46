"""Prior distributions on item parameters for Bayes-modal (MAP) item calibration.

With priors, the M-step maximises the expected complete-data log-likelihood plus the log prior
density (Mislevy 1986, "Bayes modal estimation in item response models"). The defaults follow
long-standing practice (BILOG-MG): a lognormal prior on the slope, a normal prior on each
difficulty or threshold, and a beta prior on the 3PL lower asymptote, applied to 3PL items only,
whose lower asymptote is otherwise weakly determined. Pass ``Priors.none()`` to switch them off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["BetaPrior", "LogNormalPrior", "NormalPrior", "Priors"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LogNormalPrior:
    r"""Lognormal prior on a slope: :math:`\log a \sim N(\mu, \sigma^2)`.

    Parameters
    ----------
    mean_log : float, default 0.0
        :math:`\mu`, the mean of ``log a`` (median slope ``exp(mu)`` = 1).
    sd_log : float, default 0.5
        :math:`\sigma`, the standard deviation of ``log a``.
    """

    mean_log: float = 0.0
    sd_log: float = 0.5

    def __post_init__(self) -> None:
        _require_positive("sd_log", self.sd_log)

    def log_density(self, slope: FloatArray) -> FloatArray:
        """Log density up to a constant; ``-inf`` for slopes <= 0."""
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a = np.log(slope)
            value = -log_a - 0.5 * ((log_a - self.mean_log) / self.sd_log) ** 2
        return np.where(slope > 0, value, -np.inf)

    def gradient_and_curvature(self, slope: FloatArray) -> tuple[FloatArray, FloatArray]:
        """First derivative and a positive curvature (negative second derivative) bound."""
        safe = np.maximum(slope, 1e-8)
        z = (np.log(safe) - self.mean_log) / self.sd_log**2
        return -(1.0 + z) / safe, 1.0 / (self.sd_log * safe) ** 2


@dataclass(frozen=True)
class NormalPrior:
    r"""Normal prior on a difficulty or threshold: :math:`b \sim N(\mu, \sigma^2)`."""

    mean: float = 0.0
    sd: float = 2.0

    def __post_init__(self) -> None:
        _require_positive("sd", self.sd)

    def log_density(self, value: FloatArray) -> FloatArray:
        """Log density up to a constant."""
        return -0.5 * ((value - self.mean) / self.sd) ** 2

    def gradient_and_curvature(self, value: FloatArray) -> tuple[FloatArray, FloatArray]:
        """First derivative and the negative second derivative."""
        return -(value - self.mean) / self.sd**2, np.full_like(value, 1.0 / self.sd**2)


@dataclass(frozen=True)
class BetaPrior:
    r"""Beta prior on a 3PL lower asymptote: :math:`c \sim \mathrm{Beta}(\alpha, \beta)`.

    The default Beta(5, 17) has mean 0.23 and mode 0.2, BILOG-MG's choice for items with
    four or five options.
    """

    alpha: float = 5.0
    beta: float = 17.0

    def __post_init__(self) -> None:
        _require_positive("alpha", self.alpha)
        _require_positive("beta", self.beta)

    def log_density_logit(self, logit_c: FloatArray) -> FloatArray:
        """Log density of ``c = sigmoid(logit_c)`` up to a constant (no Jacobian: mode in c)."""
        log_c = -np.logaddexp(0.0, -logit_c)
        log_not_c = -np.logaddexp(0.0, logit_c)
        return (self.alpha - 1.0) * log_c + (self.beta - 1.0) * log_not_c

    def gradient_and_curvature_logit(self, logit_c: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Derivatives with respect to ``logit c``: first, and the negative second."""
        c = 1.0 / (1.0 + np.exp(-logit_c))
        gradient = (self.alpha - 1.0) * (1.0 - c) - (self.beta - 1.0) * c
        return gradient, np.maximum(self.alpha + self.beta - 2.0, 0.0) * c * (1.0 - c)


_DEFAULT_MODELS = frozenset({"3pl"})


@dataclass(frozen=True)
class Priors:
    """Which priors apply to which item models.

    Parameters
    ----------
    slope : LogNormalPrior or None, default LogNormalPrior(0, 0.5)
    difficulty : NormalPrior or None, default NormalPrior(0, 2)
        Applied to the difficulty ``b = -d/a`` (each threshold for GRM and GPCM).
    lower_asymptote : BetaPrior or None, default BetaPrior(5, 17)
    models : frozenset of str, default {"3pl"}
        Model names (``"2pl"``, ``"3pl"``, ``"grm"``, ...) whose items receive the priors.
        Rasch items have no slope to put a prior on; their difficulty prior still applies.
        1PL items share one slope, and the slope prior counts once per 1PL item.
    """

    slope: LogNormalPrior | None = field(default_factory=LogNormalPrior)
    difficulty: NormalPrior | None = field(default_factory=NormalPrior)
    lower_asymptote: BetaPrior | None = field(default_factory=BetaPrior)
    models: frozenset[str] = _DEFAULT_MODELS

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", frozenset(str(m).lower() for m in self.models))

    @classmethod
    def none(cls) -> Priors:
        """No priors: plain marginal maximum likelihood."""
        return cls(slope=None, difficulty=None, lower_asymptote=None, models=frozenset())

    @classmethod
    def all_models(cls) -> Priors:
        """The default priors, applied to every item model."""
        return cls(models=frozenset({"rasch", "1pl", "2pl", "3pl", "grm", "gpcm"}))

    def applies_to(self, model: str) -> bool:
        """Whether items of ``model`` get any prior."""
        return str(model).lower() in self.models and any(
            p is not None for p in (self.slope, self.difficulty, self.lower_asymptote)
        )


def _require_positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
