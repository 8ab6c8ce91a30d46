"""Content balancing: constraints hold for every exam, infeasible blueprints are rejected when
the exam is defined."""

from __future__ import annotations

import numpy as np
import pytest

from exam import Blueprint, InfeasibleBlueprintError, ItemPool, define_exam, simulate
from exam.content import ContentBalancer

DOMAINS = [f"VN-TT02-2025:{d}" for d in range(1, 7)]  # the domains of conftest's pools


def _constrained(method: str, exposure: str = "none") -> Blueprint:
    return Blueprint.from_dict(
        {
            "length": {"min": 24, "max": 24},
            "exposure": {"method": exposure},
            "content": {
                "method": method,
                "constraints": [
                    *({"kind": "domain", "code": code, "min": 3, "max": 5} for code in DOMAINS),
                    {"kind": "topic", "code": "T-SEC", "min": 8},
                    {"kind": "topic", "code": "T-PSV", "max": 2},
                ],
            },
        }
    )


@pytest.mark.parametrize(
    ("method", "exposure"),
    [
        ("mpi", "none"),
        ("kingsbury_zara", "none"),
        ("mpi", "sympson_hetter"),
        ("mpi", "randomesque"),
        ("kingsbury_zara", "a_stratified"),
    ],
)
def test_constraints_hold_for_every_simulee(pool_500: ItemPool, method: str, exposure: str) -> None:
    blueprint = _constrained(method, exposure)
    pool = pool_500.with_exposure_parameters(np.full(pool_500.n_items, 0.5))
    result = simulate(pool, blueprint, n_examinees=400, rng=3)
    assert result.summary()["content_violations"] == 0
    domains = np.array(pool.domains)
    topics = np.array(pool.topics)
    for row in range(result.n_examinees):
        given = result.items[row][result.items[row] >= 0]
        assert given.size == 24
        counts = {code: int((domains[given] == code).sum()) for code in DOMAINS}
        assert all(3 <= count <= 5 for count in counts.values()), counts
        assert (topics[given] == "T-SEC").sum() >= 8
        assert (topics[given] == "T-PSV").sum() <= 2


def test_shares_are_counts_of_the_maximum_length(pool_500: ItemPool) -> None:
    blueprint = Blueprint.from_dict(
        {
            "length": {"min": 20, "max": 20},
            "content": {"constraints": [{"kind": "domain", "code": DOMAINS[0], "min_share": 0.4}]},
        }
    )
    balancer = ContentBalancer.compile(blueprint, pool_500)
    assert balancer.lower[0] == 8
    result = simulate(pool_500, blueprint, n_examinees=200, rng=1)
    domains = np.array(pool_500.domains)
    assert all((domains[result.items[r][:20]] == DOMAINS[0]).sum() >= 8 for r in range(200))


def test_a_minimum_the_pool_cannot_meet_is_rejected_at_definition(pool_500: ItemPool) -> None:
    blueprint = Blueprint.from_dict(
        {
            "length": {"min": 30, "max": 30},
            "content": {"constraints": [{"kind": "domain", "code": "VN-TT02-2025:9", "min": 1}]},
        }
    )
    with pytest.raises(InfeasibleBlueprintError) as caught:
        define_exam(pool_500, blueprint)
    assert caught.value.field == "content.constraints[0].min"
    assert "VN-TT02-2025:9" in str(caught.value)


def test_constraints_infeasible_only_together_are_rejected(pool_500: ItemPool) -> None:
    # Every item of domain 1 is in topic T-SEC or T-EDOC (the pool's layout), so at least 10 items
    # of domain 1 with at most 4 items of those two topics cannot be.
    domains = np.array(pool_500.domains)
    topics = set(np.array(pool_500.topics)[domains == DOMAINS[0]])
    blueprint = Blueprint.from_dict(
        {
            "length": {"min": 30, "max": 30},
            "content": {
                "constraints": [
                    {"kind": "domain", "code": DOMAINS[0], "min": 10},
                    *({"kind": "topic", "code": code, "max": 2} for code in sorted(topics)),
                ]
            },
        }
    )
    with pytest.raises(InfeasibleBlueprintError) as caught:
        define_exam(pool_500, blueprint)
    assert caught.value.field == "content.constraints"


def test_too_long_a_test_for_the_pool_is_rejected(pool_factory) -> None:
    small = pool_factory(40, enemies=5)  # 15 items in 5 enemy groups: 30 usable
    with pytest.raises(InfeasibleBlueprintError, match="30 usable") as caught:
        define_exam(small, Blueprint.fixed_length(31))
    assert caught.value.field == "length.max"
    define_exam(small, Blueprint.fixed_length(30))
