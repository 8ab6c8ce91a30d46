"""Selection criteria against direct computation with calibration's formulas."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose
from scipy import integrate

from calibration import category_probabilities, item_information
from exam import (
    ItemPool,
    KullbackLeiblerSelector,
    MaxInfoSelector,
    PosteriorWeightedInfoSelector,
)


def test_max_info_ranks_items_as_exact_information(pool_500: ItemPool) -> None:
    theta = np.array([-1.3, 0.2, 1.7])
    criterion = MaxInfoSelector().criterion(pool_500, theta, np.zeros((3, 61)), np.zeros(3, int))
    exact = item_information(pool_500.parameters, theta)
    assert_allclose(criterion, exact, rtol=0.005, atol=1e-6)
    assert np.array_equal(np.argmax(criterion, axis=1), np.argmax(exact, axis=1))


def test_kullback_leibler_index_matches_numerical_integration(mixed_pool: ItemPool) -> None:
    theta_hat, n_answered, window = 0.35, 4, 3.0
    selector = KullbackLeiblerSelector(window=window)
    criterion = selector.criterion(
        mixed_pool, np.array([theta_hat]), np.zeros((1, 61)), np.array([n_answered])
    )[0]
    delta = window / np.sqrt(n_answered)
    p_hat = category_probabilities(mixed_pool.parameters, [theta_hat])[0]

    def divergence(theta: float, item: int) -> float:
        p = category_probabilities(mixed_pool.parameters, [theta])[0, item]
        k = p_hat[item] > 0
        return float((p_hat[item, k] * np.log(p_hat[item, k] / p[k])).sum())

    for item in (0, 1, 2, 3, 57):
        expected, _ = integrate.quad(divergence, theta_hat - delta, theta_hat + delta, args=(item,))
        assert abs(criterion[item] - expected) <= 0.02 * expected + 1e-4


def test_posterior_weighted_information_is_the_posterior_mean_of_information(
    pool_500: ItemPool,
) -> None:
    nodes = pool_500.posterior_grid.nodes
    log_posterior = -0.5 * ((nodes - 0.8) / 0.5) ** 2
    criterion = PosteriorWeightedInfoSelector().criterion(
        pool_500, np.array([0.8]), log_posterior[None, :], np.array([3])
    )[0]
    weights = np.exp(log_posterior) / np.exp(log_posterior).sum()
    expected = weights @ item_information(pool_500.parameters, nodes)
    assert_allclose(criterion, expected, rtol=1e-10)
