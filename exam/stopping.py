"""Stopping rules: length bounds, standard-error target and time limit.

Each rule is a small object whose ``should_stop`` works on arrays over examinees, so the engine
(one examinee) and the simulator (many) share it. Classification rules that end a test once the
pass/fail decision is made are in :mod:`exam.classification`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


class StopReason(enum.StrEnum):
    """Why an exam ended."""

    MAX_LENGTH = "max_length"
    SE_TARGET = "se_target"
    CLASSIFIED = "classified"
    TIME_LIMIT = "time_limit"
    FORM_COMPLETE = "form_complete"
    POOL_EXHAUSTED = "pool_exhausted"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class MaxLengthStopper:
    """Stop once ``max_length`` scored items are answered."""

    max_length: int

    def should_stop(self, n_scored: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Whether each examinee has reached the maximum length."""
        return np.asarray(n_scored) >= self.max_length


@dataclass(frozen=True)
class MinLengthRule:
    """No early stop before ``min_length`` scored items."""

    min_length: int

    def allows_stop(self, n_scored: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Whether each examinee may stop early."""
        return np.asarray(n_scored) >= self.min_length


@dataclass(frozen=True)
class StandardErrorStopper:
    """Stop once the interim standard error is at most ``se_target``."""

    se_target: float

    def should_stop(self, se: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Whether each examinee's standard error has reached the target."""
        return np.asarray(se) <= self.se_target


@dataclass(frozen=True)
class TimeLimitStopper:
    """Stop once the elapsed time reaches ``time_limit_s`` seconds."""

    time_limit_s: float

    def should_stop(self, elapsed_s: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Whether each examinee's time is up (NaN elapsed time: unknown, not up)."""
        elapsed = np.asarray(elapsed_s, dtype=float)
        return np.nan_to_num(elapsed, nan=-np.inf) >= self.time_limit_s
