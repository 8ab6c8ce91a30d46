"""Warnings and errors raised by the calibration package."""

from __future__ import annotations


class ConvergenceWarning(UserWarning):
    """An iterative estimate stopped at its iteration cap before meeting its criterion.

    The result is still returned, flagged ``converged=False``, as statsmodels does.
    """


class StandardErrorWarning(UserWarning):
    """Standard errors could not be computed (a singular information matrix); they are NaN."""
