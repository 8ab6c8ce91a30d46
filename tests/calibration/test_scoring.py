"""Person scoring: EAP, MAP, MLE and WLE against independent computations and girth."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, optimize

from calibration.models import (
    ItemParameters,
    category_probabilities,
    log_likelihood,
    test_information,
    theta_derivatives,
)
from calibration.quadrature import normal_quadrature
from calibration.scoring import score_eap, score_map, score_mle, score_persons, score_wle


@pytest.fixture(scope="module")
def two_pl() -> ItemParameters:
    rng = np.random.default_rng(11)
    return ItemParameters.from_lists("2pl", rng.lognormal(0, 0.3, 20), rng.normal(0, 1, 20))


@pytest.fixture(scope="module")
def simulated(two_pl) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12)
    theta = rng.normal(0, 1, 400)
    p = category_probabilities(two_pl, theta)[:, :, 1]
    return theta, (rng.random(p.shape) < p).astype(float)


def _likelihood(parameters, pattern, theta):
    return np.exp(log_likelihood(parameters, np.atleast_1d(theta), pattern[None, :]))[0]


def test_eap_equals_the_posterior_mean_by_adaptive_integration(two_pl, simulated):
    _, responses = simulated
    pattern = responses[0]
    estimate = score_eap(two_pl, pattern)

    def density(t):
        return _likelihood(two_pl, pattern, t) * np.exp(-0.5 * t * t)

    mass = integrate.quad(density, -8, 8)[0]
    mean = integrate.quad(lambda t: t * density(t), -8, 8)[0] / mass
    second = integrate.quad(lambda t: t * t * density(t), -8, 8)[0] / mass
    assert estimate.theta[0] == pytest.approx(mean, abs=1e-4)
    assert estimate.se[0] == pytest.approx(np.sqrt(second - mean**2), abs=1e-4)


def test_eap_honours_the_prior_and_a_given_quadrature(two_pl):
    no_answers = np.full((1, two_pl.n_items), np.nan)
    prior = score_eap(two_pl, no_answers, prior_mean=0.5, prior_sd=0.8)
    assert prior.theta[0] == pytest.approx(0.5, abs=1e-6)
    assert prior.se[0] == pytest.approx(0.8, abs=1e-3)
    shifted = score_eap(two_pl, no_answers, quadrature=normal_quadrature(41, 5.0, -1.0, 1.0))
    assert shifted.theta[0] == pytest.approx(-1.0, abs=1e-3)


def test_map_is_the_mode_of_the_posterior(two_pl, simulated):
    _, responses = simulated
    estimates = score_map(two_pl, responses[:20], prior_mean=0.2, prior_sd=1.5)
    for row in range(20):

        def negative_log_posterior(t, row=row):
            return -(
                log_likelihood(two_pl, [t], responses[row : row + 1])[0]
                - 0.5 * ((t - 0.2) / 1.5) ** 2
            )

        mode = optimize.minimize_scalar(
            negative_log_posterior, bounds=(-6, 6), method="bounded", options={"xatol": 1e-9}
        ).x
        assert estimates.theta[row] == pytest.approx(mode, abs=1e-5)
    information = test_information(two_pl, estimates.theta)
    assert_allclose(estimates.se, 1 / np.sqrt(information + 1 / 1.5**2))


def test_mle_sets_the_score_to_zero_and_its_se_from_information(two_pl, simulated):
    _, responses = simulated
    mixed_patterns = responses[(responses.sum(1) > 0) & (responses.sum(1) < two_pl.n_items)]
    estimates = score_mle(two_pl, mixed_patterns)
    first, _ = theta_derivatives(two_pl, estimates.theta, mixed_patterns)
    inside = np.abs(estimates.theta) < 6
    assert inside.mean() > 0.95
    assert_allclose(first[inside], 0.0, atol=1e-6)
    assert_allclose(estimates.se, 1 / np.sqrt(test_information(two_pl, estimates.theta)))


def test_mle_agrees_with_girth(two_pl, simulated):
    from girth import ability_mle

    _, responses = simulated
    usable = (responses.sum(1) > 0) & (responses.sum(1) < two_pl.n_items)
    b = two_pl.b[:, 0]
    theirs = ability_mle(responses[usable].T.astype(int), b, two_pl.a)
    ours = score_mle(two_pl, responses[usable]).theta
    inside = np.abs(ours) < 5
    assert_allclose(ours[inside], theirs[inside], atol=1e-3)


@pytest.mark.parametrize("method", ["eap", "map", "mle", "wle"])
def test_all_correct_and_all_wrong_patterns_get_finite_scores(two_pl, method):
    patterns = np.vstack([np.ones(two_pl.n_items), np.zeros(two_pl.n_items)])
    estimates = score_persons(two_pl, patterns, method)
    assert np.all(np.isfinite(estimates.theta)) and np.all(np.isfinite(estimates.se))
    assert estimates.theta[0] > 1.5 > -1.5 > estimates.theta[1]
    assert estimates.method == method


def test_wle_is_the_maximum_of_the_weighted_likelihood_for_two_pl(two_pl, simulated):
    _, responses = simulated
    estimates = score_wle(two_pl, responses[:15])
    for row in range(15):

        def negative_weighted(t, row=row):
            return -(
                log_likelihood(two_pl, [t], responses[row : row + 1])[0]
                + 0.5 * np.log(test_information(two_pl, [t])[0])
            )

        best = optimize.minimize_scalar(
            negative_weighted, bounds=(-6, 6), method="bounded", options={"xatol": 1e-9}
        ).x
        assert estimates.theta[row] == pytest.approx(best, abs=1e-4)


def test_wle_is_finite_inside_the_bounds_for_a_perfect_rasch_score():
    items = ItemParameters.from_lists("rasch", np.ones(10), np.linspace(-1.5, 1.5, 10))
    estimate = score_wle(items, np.ones((1, 10)))
    assert 2.0 < estimate.theta[0] < 5.5


def test_wle_lies_between_the_mle_and_the_peak_of_test_information():
    """Warm's weight sqrt(I) pulls each estimate from the MLE toward where the test measures best.

    With equal slopes and difficulties symmetric around 0, information peaks at 0 and falls off
    on both sides, so every WLE lies between 0 and the MLE of the same pattern.
    """
    items = ItemParameters.from_lists("2pl", np.full(10, 1.2), np.linspace(-1.5, 1.5, 10))
    rng = np.random.default_rng(5)
    p = category_probabilities(items, rng.normal(0, 1.2, 500))[:, :, 1]
    responses = (rng.random(p.shape) < p).astype(float)
    responses = responses[(responses.sum(1) > 0) & (responses.sum(1) < 10)]
    mle = score_mle(items, responses).theta
    wle = score_wle(items, responses).theta
    assert np.all(np.abs(wle) <= np.abs(mle) + 1e-9)
    assert np.all(wle * mle >= -1e-9)  # same side of the information peak
    assert np.mean(np.abs(mle) - np.abs(wle)) > 0.05


def test_scores_track_true_ability_on_mixed_models():
    items = ItemParameters.from_lists(
        ["2pl", "3pl", "grm", "gpcm"] * 6,
        np.tile([1.2, 1.0, 1.5, 1.1], 6),
        [0.0, -0.5, [-1.0, 0.0, 1.0], [-0.5, 0.5]] * 6,
        [None, 0.2, None, None] * 6,
    )
    rng = np.random.default_rng(9)
    theta = rng.normal(0, 1, 600)
    probabilities = category_probabilities(items, theta)
    cumulative = probabilities.cumsum(axis=2)
    responses = (rng.random((*theta.shape, items.n_items, 1)) > cumulative).sum(axis=2)
    responses = responses.astype(float)
    # Bayesian estimates shrink and so have the smaller error; MLE and WLE pay for unbiasedness.
    for method, largest_rmse in (("eap", 0.4), ("map", 0.4), ("mle", 0.55), ("wle", 0.5)):
        estimates = score_persons(items, responses, method)
        assert np.corrcoef(estimates.theta, theta)[0, 1] > 0.9
        assert np.sqrt(np.mean((estimates.theta - theta) ** 2)) < largest_rmse


def test_people_without_responses_get_the_prior_or_nan(two_pl):
    nothing = np.full((1, two_pl.n_items), np.nan)
    assert score_map(two_pl, nothing).theta[0] == pytest.approx(0.0, abs=1e-8)
    assert np.isnan(score_mle(two_pl, nothing).theta[0])
    assert np.isnan(score_wle(two_pl, nothing).se[0])


def test_confidence_interval_is_symmetric_around_the_estimate(two_pl, simulated):
    estimates = score_eap(two_pl, simulated[1][:3])
    low, high = estimates.confidence_interval(0.95)
    assert_allclose((low + high) / 2, estimates.theta)
    assert_allclose(high - low, 2 * 1.959964 * estimates.se, rtol=1e-6)


def test_bad_method_prior_and_bounds_are_named(two_pl):
    responses = np.ones((1, two_pl.n_items))
    with pytest.raises(ValueError, match="unknown scoring method 'bayes'"):
        score_persons(two_pl, responses, "bayes")
    with pytest.raises(ValueError, match="sd > 0"):
        score_eap(two_pl, responses, prior_sd=0.0)
    with pytest.raises(ValueError, match="low < high"):
        score_mle(two_pl, responses, bounds=(2.0, -2.0))
    with pytest.raises(ValueError, match=r"shape \(n_persons, 20\)"):
        score_eap(two_pl, np.ones((1, 3)))
