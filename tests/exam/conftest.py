"""Shared pools for the exam tests: seeded 2PL and mixed-model pools with content codes."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import ItemParameters
from exam import ItemPool

DOMAINS = [f"VN-TT02-2025:{d}" for d in range(1, 7)]
TOPICS = ["T-SEC", "T-EDOC", "T-ESIG", "T-PSV"]


def make_pool(
    n_items: int, seed: int = 20240501, *, pretest: int = 0, enemies: int = 0
) -> ItemPool:
    """A 2PL pool, a ~ U(0.8, 2.0), b ~ N(0, 1), codes spread over six domains and four topics."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.8, 2.0, n_items)
    b = rng.normal(0.0, 1.0, n_items)
    competencies = [f"{DOMAINS[i % 6]}.{1 + (i // 6) % 3}" for i in range(n_items)]
    topics = [TOPICS[(i // 2) % 4] for i in range(n_items)]
    enemy_groups = [f"E{i // 3}" if i < 3 * enemies else None for i in range(n_items)]
    is_pretest = np.zeros(n_items, dtype=bool)
    if pretest:
        is_pretest[-pretest:] = True
    return ItemPool.build(
        [f"ITEM-{i:04d}" for i in range(n_items)],
        ItemParameters.from_lists("2pl", a, list(b)),
        competencies=competencies,
        topics=topics,
        enemy_groups=enemy_groups,
        is_pretest=is_pretest,
    )


@pytest.fixture(scope="session")
def pool_factory():
    """``make_pool`` for tests that need a pool of their own shape."""
    return make_pool


@pytest.fixture(scope="session")
def pool_500() -> ItemPool:
    return make_pool(500)


@pytest.fixture(scope="session")
def pool_200() -> ItemPool:
    return make_pool(200, seed=7, pretest=20, enemies=10)


@pytest.fixture(scope="session")
def mixed_pool() -> ItemPool:
    """Mixed 2PL, 3PL, GRM and GPCM items."""
    rng = np.random.default_rng(3)
    models, a, b, c = [], [], [], []
    for i in range(120):
        kind = ["2pl", "3pl", "grm", "gpcm"][i % 4]
        models.append(kind)
        a.append(float(rng.uniform(0.8, 2.0)))
        centre = float(rng.normal())
        if kind in ("grm", "gpcm"):
            b.append(sorted((centre + np.array([-1.0, 0.0, 1.0])).tolist()))
        else:
            b.append(centre)
        c.append(0.2 if kind == "3pl" else 0.0)
    return ItemPool.build(
        [f"MX-{i:03d}" for i in range(120)],
        ItemParameters.from_lists(models, a, b, c),
        competencies=[f"{DOMAINS[i % 3]}.1" for i in range(120)],
    )
