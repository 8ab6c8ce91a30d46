"""IRT models: closed forms, derivatives against finite differences, conversions, validation."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from calibration.models import (
    NORMAL_OGIVE_SCALE,
    ItemModel,
    ItemParameters,
    answered_information,
    category_probabilities,
    difficulty_from_intercept,
    expected_scores,
    from_normal_ogive_slope,
    intercept_from_difficulty,
    item_information,
    log_likelihood,
    log_likelihood_grid,
    test_information,
    theta_derivatives,
    to_normal_ogive_slope,
)

THETA = np.linspace(-4, 4, 33)


@pytest.fixture
def mixed() -> ItemParameters:
    return ItemParameters.from_lists(
        ["rasch", "1pl", "2pl", "3pl", "grm", "gpcm", "gpcm"],
        [1.0, 0.8, 1.4, 1.1, 1.6, 0.9, 1.3],
        [0.2, -0.5, 0.7, 0.1, [-1.0, 0.3, 1.5], [0.4, -0.6], [-0.2, 0.5, 1.0]],
        [None, None, None, 0.2, None, None, None],
    )


def test_probabilities_sum_to_one_and_vanish_beyond_an_items_categories(mixed):
    probabilities = category_probabilities(mixed, THETA)
    assert probabilities.shape == (THETA.size, mixed.n_items, 4)
    assert_allclose(probabilities.sum(axis=2), 1.0, atol=1e-12)
    assert np.all(probabilities >= 0)
    assert np.all(probabilities[:, :4, 2:] == 0)  # dichotomous items
    assert np.all(probabilities[:, 5, 3] == 0)  # 3-category GPCM item


@pytest.mark.parametrize("c", [0.0, 0.2, 0.35])
def test_three_pl_probability_at_the_difficulty_is_halfway_between_c_and_one(c):
    model = "3pl" if c else "2pl"
    items = ItemParameters.from_lists(model, [1.7], [0.4], [c])
    assert_allclose(category_probabilities(items, [0.4])[0, 0, 1], (1 + c) / 2)


def test_two_pl_information_peaks_at_b_with_value_a_squared_over_four():
    items = ItemParameters.from_lists("2pl", [1.5], [0.6])
    grid = np.linspace(-3, 3, 60001)
    information = item_information(items, grid)[:, 0]
    assert grid[np.argmax(information)] == pytest.approx(0.6, abs=1e-4)
    assert information.max() == pytest.approx(1.5**2 / 4, rel=1e-9)


def test_three_pl_information_peaks_where_lord_says():
    a, b, c = 1.2, -0.3, 0.25
    items = ItemParameters.from_lists("3pl", [a], [b], [c])
    grid = np.linspace(-3, 3, 60001)
    peak = grid[np.argmax(item_information(items, grid)[:, 0])]
    expected = b + np.log((1 + np.sqrt(1 + 8 * c)) / 2) / a  # Lord (1980), eq. 10-4
    assert peak == pytest.approx(expected, abs=1e-4)


def test_three_pl_information_matches_the_closed_form():
    a, b, c = 1.3, 0.2, 0.2
    items = ItemParameters.from_lists("3pl", [a], [b], [c])
    p = category_probabilities(items, THETA)[:, 0, 1]
    expected = a**2 * (p - c) ** 2 * (1 - p) / ((1 - c) ** 2 * p)
    assert_allclose(item_information(items, THETA)[:, 0], expected, rtol=1e-10)


def test_graded_cumulative_probability_is_one_half_at_each_threshold():
    thresholds = [-1.0, 0.2, 1.4]
    items = ItemParameters.from_lists("grm", [1.8], [thresholds])
    for k, threshold in enumerate(thresholds, start=1):
        cumulative = category_probabilities(items, [threshold])[0, 0, k:].sum()
        assert cumulative == pytest.approx(0.5)


def test_partial_credit_adjacent_categories_cross_at_their_step_difficulty():
    steps = [0.7, -0.4, 1.1]
    items = ItemParameters.from_lists("gpcm", [1.2], [steps])
    for k, step in enumerate(steps, start=1):
        probabilities = category_probabilities(items, [step])[0, 0]
        assert probabilities[k] == pytest.approx(probabilities[k - 1])


def test_two_category_models_reduce_to_the_two_pl():
    two_pl = ItemParameters.from_lists("2pl", [1.3], [0.5])
    graded = ItemParameters.from_lists("grm", [1.3], [[0.5]])
    partial = ItemParameters.from_lists("gpcm", [1.3], [[0.5]])
    for other in (graded, partial):
        assert_allclose(category_probabilities(other, THETA), category_probabilities(two_pl, THETA))
        assert_allclose(item_information(other, THETA), item_information(two_pl, THETA))


def test_partial_credit_information_is_slope_squared_times_score_variance():
    items = ItemParameters.from_lists("gpcm", [1.4], [[-0.5, 0.3, 0.9]])
    probabilities = category_probabilities(items, THETA)[:, 0, :]
    k = np.arange(4)
    variance = probabilities @ k**2 - (probabilities @ k) ** 2
    assert_allclose(item_information(items, THETA)[:, 0], 1.4**2 * variance, rtol=1e-10)


def test_information_is_minus_the_expected_second_derivative(mixed):
    """Fisher information = -E[d² log P(X)/dθ²], checked category by category."""
    theta = np.array([-1.3, 0.0, 0.8])
    probabilities = category_probabilities(mixed, theta)
    expected_curvature = np.zeros((theta.size, mixed.n_items))
    for category in range(mixed.max_categories):
        responses = np.where(mixed.n_categories > category, float(category), np.nan)
        for row, value in enumerate(theta):
            for item in range(mixed.n_items):
                if np.isnan(responses[item]):
                    continue
                single = np.full((1, mixed.n_items), np.nan)
                single[0, item] = responses[item]
                _, second = theta_derivatives(mixed, [value], single)
                expected_curvature[row, item] += probabilities[row, item, category] * second[0]
    assert_allclose(-expected_curvature, item_information(mixed, theta), rtol=1e-8, atol=1e-12)


def test_theta_derivatives_agree_with_finite_differences(mixed):
    rng = np.random.default_rng(7)
    responses = np.array([rng.integers(0, k, size=4).astype(float) for k in mixed.n_categories]).T
    responses[1, 2] = np.nan
    theta = np.array([-1.2, 0.3, 0.9, 2.1])
    first, second = theta_derivatives(mixed, theta, responses)
    h = 1e-5
    up = log_likelihood(mixed, theta + h, responses)
    down = log_likelihood(mixed, theta - h, responses)
    centre = log_likelihood(mixed, theta, responses)
    assert_allclose(first, (up - down) / (2 * h), rtol=1e-6, atol=1e-7)
    assert_allclose(second, (up - 2 * centre + down) / h**2, rtol=1e-4, atol=1e-4)


def test_warm_term_is_the_derivative_of_information_for_two_pl():
    items = ItemParameters.from_lists("2pl", [1.1, 0.7, 1.9], [-0.4, 0.3, 1.0])
    responses = np.array([[1.0, 0.0, 1.0]] * 3)
    theta = np.array([-1.0, 0.2, 1.5])
    information, warm = answered_information(items, theta, responses)
    h = 1e-5
    derivative = (test_information(items, theta + h) - test_information(items, theta - h)) / (2 * h)
    assert_allclose(information, test_information(items, theta))
    assert_allclose(warm, derivative, rtol=1e-5)  # for the 2PL, Warm's J equals I'(theta)


def test_expected_scores_are_probability_weighted_categories(mixed):
    scores = expected_scores(mixed, [0.0])[0]
    assert scores[2] == pytest.approx(category_probabilities(mixed, [0.0])[0, 2, 1])
    assert 0 < scores[4] < 3


def test_grid_log_likelihood_matches_per_person_log_likelihood(mixed):
    rng = np.random.default_rng(3)
    responses = np.array([rng.integers(0, k, size=6).astype(float) for k in mixed.n_categories]).T
    responses[rng.random(responses.shape) < 0.3] = np.nan
    nodes = np.array([-2.0, 0.1, 1.7])
    grid = log_likelihood_grid(mixed, responses, nodes)
    for column, node in enumerate(nodes):
        per_person = log_likelihood(mixed, np.full(6, node), responses)
        assert_allclose(grid[:, column], per_person, rtol=1e-12)


def test_slope_intercept_and_normal_ogive_conversions_round_trip():
    a, b = np.array([0.5, 1.2, 2.0]), np.array([-1.0, 0.0, 0.7])
    d = intercept_from_difficulty(a, b)
    assert_allclose(d, -a * b)
    assert_allclose(difficulty_from_intercept(a, d), b)
    assert_allclose(from_normal_ogive_slope(to_normal_ogive_slope(a)), a)
    assert NORMAL_OGIVE_SCALE == 1.702
    # The logistic with slope 1.702 a stays within 0.01 of the normal ogive with slope a.
    from scipy.stats import norm

    items = ItemParameters.from_lists("2pl", [from_normal_ogive_slope(1.0)], [0.0])
    logistic = category_probabilities(items, THETA)[:, 0, 1]
    assert np.max(np.abs(logistic - norm.cdf(THETA))) < 0.01


def test_the_mirt_lsat7_parameters_in_slope_intercept_form():
    # mirt prints a = 0.988, d = 1.856 for LSAT7 item 1, and b_irt = -1.879.
    assert difficulty_from_intercept(0.9879254, 1.8560605) == pytest.approx(-1.879, abs=5e-4)


def test_subset_keeps_the_chosen_items(mixed):
    part = mixed.subset([4, 0])
    assert part.models == (ItemModel.GRM, ItemModel.RASCH)
    assert part.thresholds(0) == [-1.0, 0.3, 1.5]
    assert_allclose(
        category_probabilities(part, THETA)[:, 1, :2],
        category_probabilities(mixed, THETA)[:, 0, :2],
    )


def test_parameter_arrays_are_read_only(mixed):
    with pytest.raises(ValueError):
        mixed.a[0] = 3.0


@pytest.mark.parametrize(
    ("models", "a", "b", "c", "message"),
    [
        ("2pl", [-1.0], [0.0], None, "slope a must be a positive"),
        ("2pl", [1.0], [np.nan], None, "difficulties must be finite"),
        ("grm", [1.0], [[0.5, 0.1]], None, "thresholds must increase"),
        ("3pl", [1.0], [0.0], [1.2], "lower asymptote"),
        ("2pl", [1.0], [0.0], [0.2], "only 3PL items"),
        ("2pl", [1.0], [[0.0, 1.0]], None, "has one difficulty"),
        ("nominal", [1.0], [0.0], None, "nominal"),
    ],
)
def test_invalid_parameters_are_rejected_with_the_bad_value(models, a, b, c, message):
    with pytest.raises(ValueError, match=message):
        ItemParameters.from_lists(models, a, b, c)


def test_responses_outside_an_items_categories_are_rejected(mixed):
    responses = np.zeros((1, mixed.n_items))
    responses[0, 2] = 2.0
    with pytest.raises(ValueError, match=r"person 0 to item 2 is 2\.0"):
        log_likelihood(mixed, [0.0], responses)


def test_a_subset_holds_what_validating_its_items_gives(mixed):
    part = mixed.subset([6, 2, 4])
    rebuilt = ItemParameters(
        models=part.models, a=part.a, b=part.b, c=part.c, n_categories=part.n_categories
    )
    assert part.models == rebuilt.models and part.max_categories == rebuilt.max_categories == 4
    for name in ("a", "b", "c", "n_categories"):
        value = getattr(part, name)
        assert value.dtype == getattr(rebuilt, name).dtype
        np.testing.assert_array_equal(value, getattr(rebuilt, name))
        assert not value.flags.writeable
    with pytest.raises(ValueError, match="at least one item"):
        mixed.subset(np.array([], dtype=int))


def test_a_given_table_of_log_probabilities_gives_the_same_log_likelihood(mixed):
    from calibration.models import log_category_probabilities

    responses = np.array([[0, 1, np.nan, 1, 3, 2, 0], [1, np.nan, 0, 0, 0, 1, 3]])
    table = log_category_probabilities(mixed, THETA)
    assert table.shape == (THETA.size, 7, 4)
    np.testing.assert_array_equal(
        log_likelihood_grid(mixed, responses, THETA, log_probabilities=table),
        log_likelihood_grid(mixed, responses, THETA),
    )
