"""Pass/fail classification at a cut score that may end a test early.

:class:`SPRTClassifier` is Wald's sequential probability ratio test between the two ends of an
indifference region around the cut (Reckase 1983; Eggen 1999); :class:`ConfidenceIntervalClassifier`
stops once the confidence interval of the estimate excludes the cut (Kingsbury & Weiss 1983).
Both work on arrays over examinees and return +1 (pass), -1 (fail) or 0 (undecided).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

PASS = 1
FAIL = -1
UNDECIDED = 0


@dataclass(frozen=True)
class SPRTClassifier:
    """Sequential probability ratio test at a cut with an indifference region.

    With :math:`\\theta_1 = c - \\delta` and :math:`\\theta_2 = c + \\delta`,

    .. math:: \\Lambda = \\log L(\\theta_2) - \\log L(\\theta_1), \\quad
              \\text{pass if } \\Lambda \\ge \\log\\frac{1-\\beta}{\\alpha}, \\quad
              \\text{fail if } \\Lambda \\le \\log\\frac{\\beta}{1-\\alpha}

    where ``alpha`` is the false-pass and ``beta`` the false-fail rate at the region's ends.
    """

    cut_theta: float
    indifference: float
    alpha: float = 0.05
    beta: float = 0.05

    @property
    def points(self) -> tuple[float, float]:
        """The two abilities compared: ``(cut - delta, cut + delta)``."""
        return (self.cut_theta - self.indifference, self.cut_theta + self.indifference)

    @property
    def bounds(self) -> tuple[float, float]:
        """Wald's lower (fail) and upper (pass) bounds on the log likelihood ratio."""
        return (
            math.log(self.beta / (1.0 - self.alpha)),
            math.log((1.0 - self.beta) / self.alpha),
        )

    def decide(self, log_likelihood_at_points: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Decision per examinee from the log-likelihoods at the two points, shape (n, 2)
        (or (2,) for one examinee, whose decision is then a scalar)."""
        ratio = log_likelihood_at_points[..., 1] - log_likelihood_at_points[..., 0]
        lower, upper = self.bounds
        return np.where(ratio >= upper, PASS, np.where(ratio <= lower, FAIL, UNDECIDED))


@dataclass(frozen=True)
class ConfidenceIntervalClassifier:
    """Decide once the two-sided ``confidence`` interval of the estimate excludes the cut."""

    cut_theta: float
    confidence: float = 0.95

    @cached_property
    def z(self) -> float:
        """The two-sided normal quantile of ``confidence`` (computed once: asked every answer)."""
        return float(ndtri(0.5 + self.confidence / 2.0))

    def decide(
        self, theta: npt.NDArray[np.float64], se: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """Decision per examinee from the interim estimate and its standard error (arrays, or
        numpy scalars for one examinee)."""
        theta, se = _floats(theta), _floats(se)
        half_width = self.z * se
        return np.where(
            theta - half_width > self.cut_theta,
            PASS,
            np.where(theta + half_width < self.cut_theta, FAIL, UNDECIDED),
        )


def _floats(values: npt.ArrayLike) -> npt.NDArray[np.float64] | np.floating:
    """Numbers as numpy values: arrays and numpy scalars as they are (scalar arithmetic is much
    cheaper than that of 0-d arrays), anything else through ``np.asarray``."""
    if isinstance(values, np.ndarray | np.floating):
        return values
    return np.asarray(values, dtype=float)
