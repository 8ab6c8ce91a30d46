"""The fixed quadrature that calibration, scoring and the CAT engine share."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.quadrature import Quadrature, normal_quadrature


def test_default_quadrature_is_mirts_61_nodes_on_minus_six_to_six():
    quadrature = normal_quadrature()
    assert quadrature.n_nodes == 61
    assert quadrature.nodes[0] == -6.0 and quadrature.nodes[-1] == 6.0
    assert np.diff(quadrature.nodes) == pytest.approx(np.full(60, 0.2))
    assert quadrature.weights.sum() == pytest.approx(1.0)
    assert quadrature.mean() == pytest.approx(0.0, abs=1e-12)
    assert quadrature.sd() == pytest.approx(1.0, abs=1e-6)


def test_weights_follow_the_requested_latent_moments():
    quadrature = normal_quadrature(81, 6.0, mean=0.5, sd=1.3)
    assert quadrature.mean() == pytest.approx(0.5, abs=1e-3)
    assert quadrature.sd() == pytest.approx(1.3, abs=1e-3)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [((1,), "n_nodes"), ((61, -1.0), "bound"), ((61, 6.0, 0.0, 0.0), "sd > 0")],
)
def test_invalid_quadrature_arguments_are_rejected(arguments, message):
    with pytest.raises(ValueError, match=message):
        normal_quadrature(*arguments)


def test_weights_must_form_a_density():
    with pytest.raises(ValueError, match="sum to 1"):
        Quadrature(nodes=np.array([0.0, 1.0]), weights=np.array([0.7, 0.7]))
    with pytest.raises(ValueError, match="strictly increasing"):
        Quadrature(nodes=np.array([1.0, 0.0]), weights=np.array([0.5, 0.5]))
