"""Exam scoring: the pool's scoring table and one-examinee interim estimates give, bit for bit,
what scoring each exam afresh and the batch estimates give."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration import ItemParameters, score_eap
from exam import Blueprint, ItemPool, score_exam
from exam.scoring import final_estimates, posterior_estimates


def _exact(value: object) -> object:
    """Floats as hex, recursively, so that == compares every bit (and tells 0.0 from -0.0)."""
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_exact(item) for item in value]
    return value


def _reference_result(pool: ItemPool, blueprint: Blueprint, items, scores) -> dict:
    """score_exam's figures the plain way: each domain scored from its own parameter subset."""
    items = np.asarray(items, dtype=np.intp)
    values = np.asarray(scores, dtype=float)
    prior = blueprint.estimation
    theta, se = final_estimates(pool.parameters.subset(items), values[None, :], blueprint)
    domains = []
    for domain in pool.domain_codes:
        members = np.flatnonzero(np.array([pool.domains[i] for i in items]) == domain)
        if members.size:
            estimate = score_eap(
                pool.parameters.subset(items[members]),
                values[members][None, :],
                prior_mean=prior.prior_mean,
                prior_sd=prior.prior_sd,
            )
            domains.append((int(members.size), float(estimate.theta[0]), float(estimate.se[0])))
        else:
            domains.append((0, prior.prior_mean, prior.prior_sd))
    return {"theta": float(theta[0]), "se": float(se[0]), "domains": domains}


def _wide_pool() -> ItemPool:
    """Mixed models with a 9-category item: too wide for the pool's scoring table."""
    rng = np.random.default_rng(11)
    models, a, b = [], [], []
    for index in range(40):
        model = ["2pl", "gpcm", "grm", "3pl"][index % 4]
        models.append(model)
        a.append(float(rng.uniform(0.7, 2.0)))
        if model == "2pl" or model == "3pl":
            b.append(float(rng.normal()))
        else:
            n_steps = 8 if index == 1 else 2 + index % 4
            b.append(sorted(rng.normal(0.0, 1.2, n_steps).tolist()))
    c = [0.2 if model == "3pl" else 0.0 for model in models]
    return ItemPool.build(
        [f"W-{index:02d}" for index in range(40)],
        ItemParameters.from_lists(models, a, b, c),
        competencies=[f"VN:{1 + index % 5}.1" for index in range(40)],
    )


@pytest.mark.parametrize("pool_name", ["mixed_pool", "wide"])
def test_the_result_equals_scoring_every_domain_from_its_own_items(
    pool_name: str, request: pytest.FixtureRequest
) -> None:
    pool = _wide_pool() if pool_name == "wide" else request.getfixturevalue(pool_name)
    assert (pool.scoring_log_probabilities is None) == (pool_name == "wide")
    rng = np.random.default_rng(5)
    blueprint = Blueprint.from_dict({"length": {"min": 10, "max": 30}, "cut_theta": 0.0})
    for n_items in (1, 2, 7, 18, 30):
        for pattern in ("random", "zero", "top"):
            items = rng.choice(pool.n_items, n_items, replace=False)
            top = pool.parameters.n_categories[items] - 1
            scores = {
                "random": [int(rng.integers(0, k + 1)) for k in top],
                "zero": [0] * n_items,
                "top": top.tolist(),
            }[pattern]
            result = score_exam(pool, blueprint, items, scores)
            expected = _reference_result(pool, blueprint, items, scores)
            assert _exact([result.theta, result.se]) == _exact([expected["theta"], expected["se"]])
            got = [(d.n_items, d.theta, d.se) for d in result.domains]
            assert _exact(got) == _exact(expected["domains"])


@pytest.mark.parametrize("method", ["eap", "map"])
def test_interim_estimates_of_one_examinee_equal_a_batch_of_one(
    mixed_pool: ItemPool, method: str
) -> None:
    rng = np.random.default_rng(8)
    nodes = mixed_pool.posterior_grid.nodes
    table = mixed_pool.log_probability_grid
    for _ in range(60):
        log_posterior = np.zeros(nodes.size)
        for item in rng.choice(mixed_pool.n_items, int(rng.integers(0, 25)), replace=False):
            log_posterior += table[
                item, int(rng.integers(0, mixed_pool.parameters.n_categories[item]))
            ]
        theta, se = posterior_estimates(log_posterior[None, :], nodes, method)
        one_theta, one_se = posterior_estimates(log_posterior, nodes, method)
        assert np.ndim(one_theta) == 0 and np.ndim(one_se) == 0
        assert _exact([float(one_theta), float(one_se)]) == _exact([float(theta[0]), float(se[0])])


def test_a_results_document_holds_every_field_and_survives_json(mixed_pool: ItemPool) -> None:
    blueprint = Blueprint.from_dict({"length": {"min": 5, "max": 10}, "cut_theta": 0.0})
    result = score_exam(mixed_pool, blueprint, [0, 3, 5, 8, 11], [1, 0, 1, 1, 0])
    document = result.to_dict()
    assert document == {
        **{name: getattr(result, name) for name in result.__dataclass_fields__},
        "domains": [vars(domain) for domain in result.domains],
    }
    assert len(document["domains"]) == len(mixed_pool.domain_codes)
    assert json.loads(json.dumps(document)) == document
    # a document of its own: changing it leaves the result as it was
    document["domains"][0]["theta"] = 99.0
    assert result.domains[0].theta != 99.0
