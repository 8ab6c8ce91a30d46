"""Priors for Bayes-modal calibration: densities, derivatives and defaults."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from calibration import BetaPrior, LogNormalPrior, NormalPrior, Priors


def _derivative(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_gradients_match_finite_differences_of_the_log_densities() -> None:
    slopes = np.array([0.4, 1.0, 2.5])
    lognormal = LogNormalPrior(0.2, 0.4)
    assert_allclose(
        lognormal.gradient_and_curvature(slopes)[0],
        _derivative(lognormal.log_density, slopes),
        rtol=1e-6,
    )
    normal = NormalPrior(0.5, 1.5)
    values = np.array([-2.0, 0.5, 3.0])
    gradient, curvature = normal.gradient_and_curvature(values)
    assert_allclose(gradient, _derivative(normal.log_density, values), rtol=1e-6, atol=1e-9)
    assert_allclose(curvature, 1 / 1.5**2)
    beta = BetaPrior(5, 17)
    logits = np.array([-3.0, -1.4, 0.5])
    gradient, curvature = beta.gradient_and_curvature_logit(logits)
    assert_allclose(gradient, _derivative(beta.log_density_logit, logits), rtol=1e-6)
    second = _derivative(lambda x: beta.gradient_and_curvature_logit(x)[0], logits)
    assert_allclose(curvature, -second, rtol=1e-6)


def test_the_beta_prior_mode_is_its_classical_value() -> None:
    beta = BetaPrior(5, 17)
    logits = np.linspace(-4, 1, 20001)
    mode = 1 / (1 + np.exp(-logits[np.argmax(beta.log_density_logit(logits))]))
    assert mode == pytest.approx(4 / 20, abs=1e-3)


def test_defaults_apply_to_3pl_only_and_can_be_switched_off() -> None:
    defaults = Priors()
    assert defaults.applies_to("3pl") and not defaults.applies_to("2pl")
    assert not Priors.none().applies_to("3pl")
    assert Priors.all_models().applies_to("grm")
    assert LogNormalPrior().log_density(np.array([-1.0]))[0] == -np.inf


def test_invalid_prior_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="sd_log"):
        LogNormalPrior(0.0, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        BetaPrior(-1, 2)
