"""SPRT and confidence-interval classification rules: decisions at Wald's bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from exam import ConfidenceIntervalClassifier, SPRTClassifier


def test_sprt_bounds_and_decisions() -> None:
    rule = SPRTClassifier(cut_theta=0.5, indifference=0.2, alpha=0.05, beta=0.1)
    assert rule.points == pytest.approx((0.3, 0.7))
    lower, upper = rule.bounds
    assert lower == pytest.approx(math.log(0.1 / 0.95))
    assert upper == pytest.approx(math.log(0.9 / 0.05))
    log_likelihood = np.array(
        [[0.0, upper + 1e-9], [0.0, upper - 1e-3], [0.0, lower], [-3.0, -3.0]]
    )
    assert rule.decide(log_likelihood).tolist() == [1, 0, -1, 0]


def test_confidence_interval_rule() -> None:
    rule = ConfidenceIntervalClassifier(cut_theta=0.0, confidence=0.95)
    theta = np.array([0.7, 0.5, -0.7, 0.0])
    se = np.array([0.3, 0.3, 0.3, 0.01])
    assert rule.decide(theta, se).tolist() == [1, 0, -1, 0]
