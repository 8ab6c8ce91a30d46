"""The simulator and the acceptance criteria of the engine (all seeded)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from exam import Blueprint, ItemPool, compute_sympson_hetter, simulate


def test_fixed_length_mfi_eap_recovers_ability(pool_500: ItemPool) -> None:
    # Acceptance: 500-item 2PL pool, 30 items, MFI + EAP, 2,000 simulees from N(0, 1).
    result = simulate(pool_500, Blueprint.fixed_length(30), n_examinees=2000, rng=20240501)
    summary = result.summary()
    assert summary["rmse"] <= 0.30
    assert abs(summary["bias"]) <= 0.05
    assert summary["mean_length"] == 30
    assert summary["mean_se"] == pytest.approx(summary["rmse"], rel=0.15)
    assert summary["correlation"] > 0.95
    middle = next(b for b in summary["conditional"] if b["theta_low"] == 0.0)
    assert middle["n"] > 300 and middle["rmse"] < summary["rmse"]


@pytest.mark.parametrize("rule", ["kl", "mpwi"])
def test_other_selectors_and_map_recover_ability(pool_500: ItemPool, rule: str) -> None:
    blueprint = Blueprint.fixed_length(30, selection=rule, estimator="map")
    summary = simulate(pool_500, blueprint, n_examinees=500, rng=2).summary()
    assert summary["rmse"] <= 0.32 and abs(summary["bias"]) <= 0.06


def test_final_mle_and_wle_scores(pool_500: ItemPool) -> None:
    for final in ("mle", "wle"):
        blueprint = Blueprint.fixed_length(30, final=final)
        summary = simulate(pool_500, blueprint, n_examinees=300, rng=3).summary()
        assert summary["rmse"] <= 0.33 and np.isfinite(summary["mean_se"])


@pytest.mark.slow
def test_sympson_hetter_caps_exposure_at_small_cost(pool_500: ItemPool) -> None:
    # Acceptance: target 0.20 keeps every item's exposure <= 0.22, RMSE at most 10% worse.
    blueprint = Blueprint.fixed_length(30)
    computed = compute_sympson_hetter(pool_500, blueprint, 0.20, n_examinees=2000, rng=5)
    assert computed.max_exposure <= 0.22
    controlled = Blueprint.from_dict(
        {**blueprint.to_dict(), "exposure": {"method": "sympson_hetter", "target_rate": 0.2}}
    )
    pool = pool_500.with_exposure_parameters(computed.exposure_parameters)
    free = simulate(pool_500, blueprint, n_examinees=5000, rng=99).summary()
    capped = simulate(pool, controlled, n_examinees=5000, rng=99).summary()
    assert free["max_exposure"] > 0.9
    assert capped["max_exposure"] <= 0.22
    assert capped["rmse"] <= 1.10 * free["rmse"]
    assert capped["exposure"]["share_never_used"] < free["exposure"]["share_never_used"]
    assert capped["exposure"]["mean_test_overlap"] < free["exposure"]["mean_test_overlap"]


def test_randomesque_and_a_stratification_spread_exposure(pool_500: ItemPool) -> None:
    free = simulate(pool_500, Blueprint.fixed_length(30), n_examinees=500, rng=4).summary()
    for exposure in (
        {"method": "randomesque", "randomesque_k": 8},
        {"method": "a_stratified", "strata": 3},
    ):
        blueprint = Blueprint.from_dict(
            {
                "length": {"min": 30, "max": 30},
                "exposure": exposure,
                "selection": {"start_spread": 1.0},
            }
        )
        summary = simulate(pool_500, blueprint, n_examinees=500, rng=4).summary()
        assert summary["max_exposure"] < 0.6 * free["max_exposure"]
        assert summary["exposure"]["mean_test_overlap"] < free["exposure"]["mean_test_overlap"]
        assert summary["rmse"] <= 0.35


def test_a_stratified_exams_start_with_low_slopes(pool_500: ItemPool) -> None:
    blueprint = Blueprint.from_dict(
        {"length": {"min": 30, "max": 30}, "exposure": {"method": "a_stratified", "strata": 3}}
    )
    result = simulate(pool_500, blueprint, n_examinees=200, rng=1)
    slopes = pool_500.parameters.a[result.items[:, :30]]
    assert slopes[:, :10].mean() < slopes[:, 10:20].mean() < slopes[:, 20:].mean()


def test_sprt_classifies_with_far_fewer_items(pool_500: ItemPool) -> None:
    # Acceptance: >= 95% correct classification with a mean length <= 60% of the fixed-length
    # test of equal accuracy.
    cut = 0.5
    sprt = Blueprint.from_dict(
        {
            "length": {"min": 5, "max": 60},
            "cut_theta": cut,
            "selection": {"target": "cut"},
            "classification": {"rule": "sprt", "indifference": 0.2, "alpha": 0.05, "beta": 0.05},
        }
    )
    adaptive = simulate(pool_500, sprt, n_examinees=2000, rng=7)
    summary = adaptive.summary()
    accuracy = summary["classification"]["accuracy"]
    assert accuracy >= 0.95
    assert summary["stop_reasons"].get("classified", 0) > 1500
    # Fixed-length tests of every length up to 120: the prefixes of one long adaptive test.
    fixed = simulate(
        pool_500,
        Blueprint.from_dict({"length": {"min": 120, "max": 120}, "cut_theta": cut}),
        n_examinees=2000,
        rng=7,
    )
    by_length = fixed.accuracy_at_each_length()
    equal = np.flatnonzero(by_length >= accuracy)
    assert equal.size, "no fixed length up to 120 reaches the SPRT's accuracy"
    assert summary["mean_length"] <= 0.60 * (equal[0] + 1)
    rates = summary["classification"]
    assert rates["false_pass_rate"] <= 0.06 and rates["false_fail_rate"] <= 0.06


def test_same_seed_same_report_and_the_report_shape(pool_200: ItemPool) -> None:
    blueprint = Blueprint.from_dict(
        {
            "length": {"min": 10, "max": 25},
            "se_target": 0.3,
            "cut_theta": 0.0,
            "exposure": {"method": "randomesque"},
            "pretest_items": 2,
            "content": {"constraints": [{"kind": "domain", "code": "VN-TT02-2025:2", "min": 2}]},
        }
    )
    first = simulate(pool_200, blueprint, n_examinees=150, rng=42).report()
    second = simulate(pool_200, blueprint, n_examinees=150, rng=42).report()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    other = simulate(pool_200, blueprint, n_examinees=150, rng=43).report()
    assert json.dumps(first, sort_keys=True) != json.dumps(other, sort_keys=True)
    summary = first["summary"]
    for key in (
        "bias",
        "rmse",
        "mean_se",
        "mean_length",
        "max_exposure",
        "conditional",
        "length_distribution",
        "exposure",
        "content_violations",
        "classification",
    ):
        assert key in summary
    assert summary["content_violations"] == 0
    assert summary["exposure"]["pretest_items_given"] == 300
    simulee = first["simulees"][0]
    assert set(simulee) >= {"true_theta", "theta", "se", "length", "items", "passed"}
    assert len(simulee["items"]) == simulee["length"] and len(simulee["pretest_items"]) == 2
    assert sum(summary["length_distribution"]["counts"].values()) == 150


def test_given_thetas_are_used(pool_500: ItemPool) -> None:
    thetas = np.linspace(-2, 2, 9)
    result = simulate(pool_500, Blueprint.fixed_length(30), thetas=thetas, rng=1)
    assert np.array_equal(result.true_theta, thetas)
    assert np.all(np.diff(result.theta[[0, 4, 8]]) > 0)
    with pytest.raises(ValueError, match="thetas"):
        simulate(pool_500, Blueprint.fixed_length(30), thetas=[0.0, np.nan])
    with pytest.raises(ValueError, match="n_examinees"):
        simulate(pool_500, Blueprint.fixed_length(30))
