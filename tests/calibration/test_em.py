"""MML-EM calibration: mirt's published estimates, seeded recovery, standard errors, edge cases."""

from __future__ import annotations

import itertools
import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from calibration import (
    CalibrationResult,
    ConvergenceWarning,
    FixedItems,
    ItemParameters,
    Priors,
    ResponseData,
    calibrate,
    category_probabilities,
    log_likelihood_grid,
    normal_quadrature,
)

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE = json.loads((DATA / "reference_open.json").read_text(encoding="utf-8"))


def _reference(dataset: str, ref_id: str) -> dict:
    return next(r for r in REFERENCE["datasets"][dataset]["references"] if r["id"] == ref_id)


def _lsat7() -> ResponseData:
    table = np.loadtxt(DATA / "LSAT7_patterns.csv", delimiter=",", skiprows=1)
    return ResponseData.from_dense(table[:, :5], weights=table[:, 5])


def _science() -> ResponseData:
    table = np.loadtxt(DATA / "Science_wide.csv", delimiter=",", skiprows=1)
    return ResponseData.from_dense(table - 1.0)  # categories 1..4 -> 0..3


def _rmse(estimate, truth) -> float:
    return float(np.sqrt(np.mean((np.asarray(estimate) - np.asarray(truth)) ** 2)))


def _simulate(parameters: ItemParameters, theta: np.ndarray, rng) -> np.ndarray:
    """Draw category indices from the model's category probabilities."""
    probabilities = category_probabilities(parameters, theta)  # (n, items, K)
    cumulative = np.cumsum(probabilities, axis=2)
    draws = rng.random(probabilities.shape[:2])[:, :, None]
    return (draws > cumulative[:, :, :-1]).sum(axis=2).astype(float)


def _simulate_sparse(a, b, n_persons, per_person, rng):
    n_items = len(a)
    theta = rng.normal(size=n_persons)
    chosen = np.argpartition(rng.random((n_persons, n_items)), per_person, axis=1)[:, :per_person]
    rows = np.repeat(np.arange(n_persons), per_person)
    items = chosen.ravel()
    p = 1.0 / (1.0 + np.exp(-a[items] * (theta[rows] - b[items])))
    scores = (rng.random(len(rows)) < p).astype(int)
    return ResponseData.from_triplets(rows, items, scores, n_rows=n_persons, n_items=n_items)


# -- mirt's published estimates -------------------------------------------------------------


def test_lsat7_2pl_reproduces_mirt_estimates_log_likelihood_and_standard_errors() -> None:
    reference = _reference("LSAT7", "LSAT7_2PL_mirt")
    result = calibrate(_lsat7(), "2pl", tol=1e-6)
    a = result.parameters.a
    d = -a * result.parameters.b[:, 0]
    assert_allclose(a, [item["a"] for item in reference["items"]], atol=0.005)
    assert_allclose(d, [item["d"] for item in reference["items"]], atol=0.005)
    assert result.log_likelihood == pytest.approx(reference["loglik"], abs=0.01)
    assert result.aic() == pytest.approx(reference["fit"]["AIC"], abs=0.02)
    assert result.bic() == pytest.approx(reference["fit"]["BIC"], abs=0.02)
    assert result.se_method == "oakes"
    # mirt publishes its Oakes standard errors to three decimals
    assert_allclose(result.se_a, [item["se_a"] for item in reference["items"]], atol=0.0015)
    se_intercepts = np.sqrt(np.diag(result.covariance))[1::2]  # internal order a1, d1, a2, ...
    assert_allclose(se_intercepts, [item["se_d"] for item in reference["items"]], atol=0.0015)
    assert result.converged and result.n_parameters == 10 and result.n_persons == 1000


def test_lsat7_rasch_reproduces_mirt_with_free_latent_variance() -> None:
    reference = _reference("LSAT7", "LSAT7_Rasch_mirt")
    result = calibrate(_lsat7(), "rasch", tol=1e-6)
    assert result.log_likelihood == pytest.approx(reference["loglik"], abs=0.01)
    assert result.latent_sd**2 == pytest.approx(reference["group"]["var"], abs=0.001)
    assert_allclose(result.parameters.a, 1.0)
    assert_allclose(
        result.parameters.b[:, 0], [item["b_irt"] for item in reference["items"]], atol=0.002
    )
    assert result.se_b[0, 0] == pytest.approx(reference["se"]["Item.1_d"], abs=2e-4)
    assert result.aic() == pytest.approx(reference["fit"]["AIC"], abs=0.02)


def test_one_pl_is_the_rasch_model_with_the_latent_sd_as_common_slope() -> None:
    rasch = calibrate(_lsat7(), "rasch", tol=1e-7)
    one_pl = calibrate(_lsat7(), "1pl", tol=1e-7)
    assert one_pl.log_likelihood == pytest.approx(rasch.log_likelihood, abs=1e-4)
    assert_allclose(one_pl.parameters.a, rasch.latent_sd, atol=1e-3)
    intercepts = one_pl.parameters.b * one_pl.parameters.a[:, None]
    assert_allclose(intercepts, rasch.parameters.b, atol=2e-3)
    assert one_pl.latent_sd == 1.0 and one_pl.n_parameters == rasch.n_parameters == 6


def test_science_grm_reproduces_mirt() -> None:
    reference = _reference("Science", "Science_GRM_mirt")
    result = calibrate(_science(), "grm", tol=1e-6)
    a = result.parameters.a
    d = -a[:, None] * result.parameters.b
    assert_allclose(a, [item["a"] for item in reference["items"]], atol=0.02)
    expected_d = [[item[f"d{k}"] for k in (1, 2, 3)] for item in reference["items"]]
    assert_allclose(d, expected_d, atol=0.02)
    assert result.log_likelihood == pytest.approx(reference["loglik"], abs=0.01)
    assert result.aic() == pytest.approx(reference["fit"]["AIC"], abs=0.02)
    louis = [item["se_louis"]["a"] for item in reference["items"]]
    assert_allclose(result.se_a, louis, atol=0.01)


# -- standard errors ------------------------------------------------------------------------


def _marginal_log_likelihood(data: ResponseData, a, d) -> float:
    parameters = ItemParameters.from_lists("2pl", a, list(-np.asarray(d) / np.asarray(a)))
    quadrature = normal_quadrature()
    grid = log_likelihood_grid(parameters, data.to_dense(), quadrature.nodes)
    rows = np.log(np.exp(grid) @ quadrature.weights)
    return float(data.weights @ rows)


def test_oakes_standard_errors_equal_the_inverse_numerical_hessian() -> None:
    data = _lsat7()
    result = calibrate(data, "2pl", tol=1e-8)
    a = result.parameters.a
    x0 = np.concatenate([a, -a * result.parameters.b[:, 0]])
    n = len(x0)

    def f(x):
        return _marginal_log_likelihood(data, x[:5], x[5:])

    h = 1e-3
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            e_i, e_j = np.eye(n)[i] * h, np.eye(n)[j] * h
            hessian[i, j] = (
                f(x0 + e_i + e_j) - f(x0 + e_i - e_j) - f(x0 - e_i + e_j) + f(x0 - e_i - e_j)
            ) / (4 * h * h)
    covariance = np.linalg.inv(-hessian)
    # internal order is (a_1, d_1, a_2, d_2, ...)
    order = np.ravel(np.column_stack([np.arange(5), np.arange(5, 10)]))
    assert_allclose(result.covariance, covariance[np.ix_(order, order)], rtol=2e-3, atol=1e-6)
    se_d = np.sqrt(np.diag(covariance))[5:]
    jac_a, jac_d = x0[5:] / a**2, -1.0 / a
    var_b = (
        jac_a**2 * np.diag(covariance)[:5]
        + jac_d**2 * se_d**2
        + 2 * jac_a * jac_d * np.diag(covariance[:5, 5:])
    )
    assert_allclose(result.se_b[:, 0], np.sqrt(var_b), rtol=2e-3)


def test_cross_product_standard_errors_approach_the_observed_information() -> None:
    rng = np.random.default_rng(11)
    truth = ItemParameters.from_lists("2pl", rng.lognormal(0, 0.3, 15), rng.normal(0, 1, 15))
    responses = _simulate(truth, rng.normal(size=4000), rng)
    responses[rng.random(responses.shape) < 0.4] = np.nan
    oakes = calibrate(responses, "2pl", se_method="oakes")
    xpd = calibrate(responses, "2pl", se_method="xpd")
    assert oakes.se_method == "oakes" and xpd.se_method == "xpd"
    assert_allclose(xpd.se_a, oakes.se_a, rtol=0.06)
    assert_allclose(xpd.se_b, oakes.se_b, rtol=0.06)


def test_every_estimated_parameter_has_a_standard_error_and_fixed_ones_none() -> None:
    rng = np.random.default_rng(5)
    models = ["2pl"] * 4 + ["3pl"] * 2 + ["grm"] * 2 + ["rasch"] * 2
    truth = ItemParameters.from_lists(
        models,
        [1.2, 0.8, 1.5, 1.0, 1.4, 1.1, 1.3, 0.9, 1.0, 1.0],
        [-0.5, 0.3, 1.0, -1.2, 0.2, 0.6, [-1.0, 0.2, 1.1], [-0.6, 0.8], -0.3, 0.4],
        [0, 0, 0, 0, 0.2, 0.15, 0, 0, 0, 0],
    )
    responses = _simulate(truth, rng.normal(size=3000), rng)
    result = calibrate(responses, models)
    assert np.all(np.isfinite(result.se_a[:8])) and np.all(np.isnan(result.se_a[8:]))
    for i in range(10):
        k = int(truth.n_categories[i]) - 1
        assert np.all(np.isfinite(result.se_b[i, :k])) and np.all(result.se_b[i, :k] > 0)
    assert np.all(np.isfinite(result.se_c[4:6])) and np.all(np.isnan(result.se_c[:4]))
    assert math.isfinite(result.se_latent_sd)  # Rasch items set the scale: sd estimated


# -- seeded recovery ------------------------------------------------------------------------


def test_dense_2pl_5000_by_40_recovers_the_truth() -> None:
    rng = np.random.default_rng(2024)
    a, b = rng.lognormal(0, 0.3, 40), rng.normal(0, 1, 40)
    truth = ItemParameters.from_lists("2pl", a, b)
    result = calibrate(_simulate(truth, rng.normal(size=5000), rng), "2pl", se_method="none")
    assert result.converged
    assert _rmse(result.parameters.a, a) <= 0.08
    assert _rmse(result.parameters.b[:, 0], b) <= 0.08


def test_sparse_20000_persons_500_items_30_responses_each_recovers_the_truth() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.lognormal(0, 0.3, 500), rng.normal(0, 1, 500)
    data = _simulate_sparse(a, b, 20_000, 30, rng)
    assert data.n_observed == 600_000
    result = calibrate(data, "2pl")
    assert result.converged and result.se_method == "xpd"
    assert _rmse(result.parameters.b[:, 0], b) <= 0.15
    assert _rmse(result.parameters.a, a) <= 0.15
    # the standard errors describe the actual errors: about 95% within 2 SE
    z = (result.parameters.b[:, 0] - b) / result.se_b[:, 0]
    assert 0.9 <= np.mean(np.abs(z) < 1.96) <= 0.99


def test_graded_response_model_recovers_the_truth() -> None:
    rng = np.random.default_rng(3)
    n_items = 12
    a = rng.lognormal(0, 0.25, n_items)
    b = np.sort(rng.normal(0, 1, (n_items, 3)), axis=1) + np.array([-0.5, 0.0, 0.5])
    truth = ItemParameters.from_lists("grm", a, list(b))
    result = calibrate(_simulate(truth, rng.normal(size=4000), rng), "grm", se_method="none")
    assert _rmse(result.parameters.a, a) <= 0.08
    assert _rmse(result.parameters.b, b) <= 0.08


def test_generalized_partial_credit_model_recovers_the_truth() -> None:
    rng = np.random.default_rng(4)
    n_items = 12
    a = rng.lognormal(0, 0.25, n_items)
    b = rng.normal(0, 1, (n_items, 3))
    truth = ItemParameters.from_lists("gpcm", a, list(b))
    result = calibrate(_simulate(truth, rng.normal(size=4000), rng), "gpcm", se_method="none")
    assert _rmse(result.parameters.a, a) <= 0.08
    assert _rmse(result.parameters.b, b) <= 0.12


def test_three_pl_with_default_priors_recovers_the_truth() -> None:
    rng = np.random.default_rng(8)
    n_items = 30
    a, b = rng.lognormal(0.1, 0.25, n_items), rng.normal(0, 1, n_items)
    c = rng.uniform(0.1, 0.25, n_items)
    truth = ItemParameters.from_lists("3pl", a, b, c)
    responses = _simulate(truth, rng.normal(size=5000), rng)
    result = calibrate(responses, "3pl", se_method="none")
    assert _rmse(result.parameters.a, a) <= 0.2
    assert _rmse(result.parameters.b[:, 0], b) <= 0.15
    assert _rmse(result.parameters.c, c) <= 0.06
    assert np.all((result.parameters.c > 0.02) & (result.parameters.c < 0.45))


def test_priors_are_switchable_and_pull_weak_asymptotes_toward_the_prior() -> None:
    rng = np.random.default_rng(9)
    truth = ItemParameters.from_lists("3pl", np.full(10, 1.2), np.linspace(-2, 1, 10), [0.2] * 10)
    responses = _simulate(truth, rng.normal(size=400), rng)
    with_priors = calibrate(responses, "3pl", se_method="none")
    without = calibrate(responses, "3pl", priors=Priors.none(), se_method="none", max_iter=5000)
    assert with_priors.log_posterior < with_priors.log_likelihood  # the prior term is there
    assert without.log_posterior == without.log_likelihood
    # maximum likelihood alone fits the data better, and its asymptotes spread further from 0.2
    assert without.log_likelihood >= with_priors.log_likelihood - 1e-6
    spread_prior = np.abs(with_priors.parameters.c - 0.2).mean()
    spread_ml = np.abs(without.parameters.c - 0.2).mean()
    assert spread_prior < spread_ml


def test_mixed_models_in_one_calibration_recover_their_truth() -> None:
    rng = np.random.default_rng(12)
    models = ["2pl"] * 10 + ["grm"] * 5 + ["gpcm"] * 5
    a = rng.lognormal(0, 0.25, 20)
    b = list(rng.normal(0, 1, 10)) + [sorted(rng.normal(0, 1, 2)) for _ in range(10)]
    truth = ItemParameters.from_lists(models, a, b)
    result = calibrate(_simulate(truth, rng.normal(size=5000), rng), models, se_method="none")
    assert result.models == truth.models
    assert _rmse(result.parameters.a, a) <= 0.08
    assert _rmse(result.parameters.b[:10, 0], truth.b[:10, 0]) <= 0.08
    assert np.nanmax(np.abs(result.parameters.b[10:, :2] - truth.b[10:, :2])) <= 0.3


def test_anchored_calibration_puts_new_items_on_the_anchor_scale() -> None:
    rng = np.random.default_rng(13)
    a, b = rng.lognormal(0, 0.25, 30), rng.normal(0, 1, 30)
    truth = ItemParameters.from_lists("2pl", a, b)
    theta = rng.normal(0.5, 1.3, 6000)  # the new sample is abler and more varied
    data = ResponseData.from_dense(_simulate(truth, theta, rng))
    anchors = FixedItems(item_ids=data.item_ids[:15], parameters=truth.subset(np.arange(15)))
    result = calibrate(data, "2pl", fixed=anchors, se_method="none")
    assert result.fixed.tolist() == [True] * 15 + [False] * 15
    assert_allclose(result.parameters.a[:15], a[:15])  # anchors keep their parameters
    assert result.latent_mean == pytest.approx(0.5, abs=0.06)
    assert result.latent_sd == pytest.approx(1.3, abs=0.06)
    assert _rmse(result.parameters.a[15:], a[15:]) <= 0.08
    assert _rmse(result.parameters.b[15:, 0], b[15:]) <= 0.08
    # without anchors the same items land on the sample's own N(0, 1) scale instead
    free = calibrate(data, "2pl", se_method="none")
    assert _rmse(free.parameters.b[15:, 0], b[15:]) > 0.3


# -- iteration control, exclusions, options -------------------------------------------------


def test_iteration_cap_warns_and_flags_non_convergence() -> None:
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        result = calibrate(_lsat7(), "2pl", max_iter=3, se_method="none")
    assert result.converged is False and result.n_iter == 3


def test_progress_reports_each_iteration_with_a_rising_log_likelihood() -> None:
    seen: list[tuple[int, float]] = []
    result = calibrate(
        _lsat7(), "2pl", accelerate=False, progress=lambda i, ll: seen.append((i, ll))
    )
    assert [i for i, _ in seen] == list(range(1, result.n_iter + 1))
    assert all(b >= a - 1e-9 for (_, a), (_, b) in itertools.pairwise(seen))
    assert seen[-1][1] == pytest.approx(result.log_likelihood, abs=0.01)


def test_acceleration_needs_fewer_iterations_for_the_same_optimum() -> None:
    plain = calibrate(_lsat7(), "2pl", accelerate=False, tol=1e-6, se_method="none")
    fast = calibrate(_lsat7(), "2pl", accelerate=True, tol=1e-6, se_method="none")
    assert fast.n_iter < plain.n_iter
    assert fast.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-5)


def test_items_without_variance_or_with_too_few_responses_are_excluded_with_a_reason() -> None:
    rng = np.random.default_rng(21)
    truth = ItemParameters.from_lists("2pl", np.ones(6), np.linspace(-1, 1, 6))
    responses = _simulate(truth, rng.normal(size=500), rng)
    responses[:, 1] = 1.0  # everyone correct
    responses[5:, 2] = np.nan  # five responses only
    result = calibrate(responses, "2pl", se_method="none")
    reasons = {e.item_id: e.reason for e in result.excluded}
    assert set(reasons) == {"item_2", "item_3"}
    assert "no variance" in reasons["item_2"] and "too few responses" in reasons["item_3"]
    assert result.item_ids == ("item_1", "item_4", "item_5", "item_6")
    with pytest.raises(KeyError, match="excluded"):
        result.index_of("item_2")


def test_a_reversed_item_is_excluded_and_the_rest_calibrated() -> None:
    rng = np.random.default_rng(22)
    truth = ItemParameters.from_lists("2pl", np.full(8, 1.5), np.linspace(-1, 1, 8))
    responses = _simulate(truth, rng.normal(size=2000), rng)
    responses[:, 3] = 1.0 - responses[:, 3]  # a mis-keyed item
    result = calibrate(responses, "2pl", priors=Priors.none(), se_method="none")
    assert [e.item_id for e in result.excluded] == ["item_4"]
    assert "negative slope" in result.excluded[0].reason
    assert np.all(result.parameters.a > 1.0)


def test_bad_options_raise_naming_the_value() -> None:
    with pytest.raises(ValueError, match="'4pl'"):
        calibrate(_lsat7(), "4pl")
    with pytest.raises(ValueError, match="se_method"):
        calibrate(_lsat7(), se_method="sandwich")
    with pytest.raises(ValueError, match="too many for the dichotomous"):
        calibrate(_science(), "2pl")
    with pytest.raises(ValueError, match="at least two items"):
        calibrate(np.array([[0.0], [1.0]] * 20), "2pl")


def test_sparse_data_cost_grows_with_responses_not_persons_by_items() -> None:
    rng = np.random.default_rng(30)
    n_persons, n_items = 40_000, 2_000
    a, b = rng.lognormal(0, 0.2, n_items), rng.normal(0, 1, n_items)
    theta = rng.normal(size=n_persons)
    rows = np.repeat(np.arange(n_persons), 20)
    items = rng.integers(0, n_items, size=n_persons * 20)
    keys = np.unique(rows.astype(np.int64) * n_items + items)
    rows, items = keys // n_items, keys % n_items
    p = 1.0 / (1.0 + np.exp(-a[items] * (theta[rows] - b[items])))
    data = ResponseData.from_triplets(rows, items, (rng.random(len(rows)) < p).astype(int))
    tracemalloc.start()
    result = calibrate(data, "2pl", se_method="none", tol=1e-3)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    dense_bytes = n_persons * n_items * 8  # one float64 persons x items matrix: 640 MB
    assert peak < dense_bytes / 4
    assert isinstance(result, CalibrationResult) and result.n_items == n_items


def test_girth_agrees_on_the_same_dense_data() -> None:
    girth = pytest.importorskip("girth")
    rng = np.random.default_rng(31)
    a, b = rng.lognormal(0, 0.25, 10), rng.normal(0, 0.8, 10)
    truth = ItemParameters.from_lists("2pl", a, b)
    responses = _simulate(truth, rng.normal(size=3000), rng)
    ours = calibrate(responses, "2pl", se_method="none", tol=1e-6)
    with np.errstate(all="ignore"):
        theirs = girth.twopl_mml(responses.T.astype(int))
    # girth integrates on its own grid; on 3,000 persons the two MML fits agree to 0.03
    assert_allclose(ours.parameters.a, theirs["Discrimination"], atol=0.03)
    assert_allclose(ours.parameters.b[:, 0], theirs["Difficulty"], atol=0.03)


def test_an_anchor_may_have_categories_the_new_sample_never_reached() -> None:
    rng = np.random.default_rng(40)
    truth = ItemParameters.from_lists(
        ["grm", "2pl", "2pl", "2pl"], [1.2, 1.0, 1.5, 0.8], [[-1.0, 0.0, 1.0], -0.5, 0.2, 0.6]
    )
    responses = _simulate(truth, rng.normal(size=1500), rng)
    responses[:, 0] = np.minimum(responses[:, 0], 2)  # nobody reaches the top category
    data = ResponseData.from_dense(responses)
    anchors = FixedItems(item_ids=("item_1",), parameters=truth.subset([0]))
    result = calibrate(data, ["grm", "2pl", "2pl", "2pl"], fixed=anchors, se_method="none")
    assert result.parameters.n_categories[0] == 4 and result.fixed[0]
    assert_allclose(result.parameters.b[0], [-1.0, 0.0, 1.0])


def test_single_precision_iterations_on_large_dense_data_change_nothing_that_matters(
    monkeypatch,
) -> None:
    import calibration._estep as estep

    rng = np.random.default_rng(41)
    truth = ItemParameters.from_lists("2pl", rng.lognormal(0, 0.3, 20), rng.normal(0, 1, 20))
    data = ResponseData.from_dense(_simulate(truth, rng.normal(size=3000), rng))
    double = calibrate(data, "2pl", tol=1e-6)
    monkeypatch.setattr(estep, "_SINGLE_PRECISION_CELLS", 0)  # as if the data were large
    single = calibrate(data, "2pl", tol=1e-6)
    assert_allclose(single.parameters.a, double.parameters.a, atol=1e-4)
    assert_allclose(single.parameters.b, double.parameters.b, atol=1e-4)
    # the reported log-likelihood and standard errors come from a float64 E-step
    assert single.log_likelihood == pytest.approx(double.log_likelihood, abs=1e-3)
    assert_allclose(single.se_a, double.se_a, rtol=1e-3)
