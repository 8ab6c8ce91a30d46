"""ItemPool: validation naming item and field, and the precomputed tables against calibration."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from calibration import ItemParameters, category_probabilities, item_information
from exam import ItemPool, PoolError, domain_of
from exam.selection import interpolate_rows


def _parameters(n: int = 3) -> ItemParameters:
    return ItemParameters.from_lists("2pl", [1.0] * n, [0.0] * n)


def test_domain_is_the_code_before_the_dot() -> None:
    assert domain_of("VN-TT02-2025:4.2") == "VN-TT02-2025:4"
    assert domain_of("VN-TT02-2025:4") == "VN-TT02-2025:4"
    assert domain_of("PROJ-CSX:ESIG") == "PROJ-CSX:ESIG"


def test_build_fills_defaults_and_derives_domains() -> None:
    pool = ItemPool.build(["a", "b", "c"], _parameters(), competencies=["X:1.1", "X:1.2", "X:2.1"])
    assert pool.n_items == 3
    assert pool.topics == (None, None, None)
    assert pool.domains == ("X:1", "X:1", "X:2")
    assert pool.domain_codes == ("X:1", "X:2")
    assert_allclose(pool.exposure_parameters, 1.0)
    assert not pool.is_pretest.any()
    assert pool.index_of("c") == 2
    with pytest.raises(KeyError, match="'zz'"):
        pool.index_of("zz")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"item_ids": ["a", "a", "c"]}, "item 'a', field 'item_ids'"),
        ({"item_ids": ["a", "", "c"]}, "item id must be a non-empty string"),
        ({"item_ids": ["a", "b"]}, "3 parameter rows for 2 item ids"),
        ({"competencies": ["X:1", None, "X:1"]}, "item 'b', field 'competencies'"),
        ({"competencies": ["X:1"]}, "field 'competencies'"),
        ({"topics": ["T", 5, None]}, "item 'b', field 'topics'"),
        ({"exposure_parameters": [1.0, 1.2, 0.5]}, "item 'b', field 'exposure_parameters'"),
        ({"is_pretest": [True, "maybe", False]}, "item 'b', field 'is_pretest'"),
    ],
)
def test_build_rejects_bad_fields_naming_item_and_field(kwargs: dict, message: str) -> None:
    arguments = {"item_ids": ["a", "b", "c"], "competencies": ["X:1"] * 3, **kwargs}
    item_ids = arguments.pop("item_ids")
    with pytest.raises(PoolError) as caught:
        ItemPool.build(item_ids, _parameters(), **arguments)
    assert message in str(caught.value)


def test_build_wants_calibration_parameters() -> None:
    with pytest.raises(TypeError, match="ItemParameters"):
        ItemPool.build(["a"], {"a": 1.0}, competencies=["X:1"])  # type: ignore[arg-type]


def test_tables_agree_with_calibration(mixed_pool: ItemPool) -> None:
    nodes = mixed_pool.posterior_grid.nodes
    probabilities = category_probabilities(mixed_pool.parameters, nodes)
    table = mixed_pool.log_probability_grid
    assert table.shape == (120, 4, 61)
    observed = probabilities > 1e-10
    assert_allclose(np.exp(table.transpose(2, 0, 1))[observed], probabilities[observed], rtol=1e-12)
    theta = np.array([-2.33, -0.41, 0.0, 0.77, 1.92])
    exact = item_information(mixed_pool.parameters, theta)
    interpolated = interpolate_rows(mixed_pool.information_grid, mixed_pool.selection_nodes, theta)
    assert_allclose(interpolated, exact, rtol=0.01, atol=1e-4)


def test_tables_are_read_only(pool_500: ItemPool) -> None:
    with pytest.raises(ValueError, match="read-only"):
        pool_500.information_grid[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        pool_500.exposure_parameters[0] = 0.5


def test_with_exposure_parameters_and_subset(pool_200: ItemPool) -> None:
    k = np.linspace(0.1, 1.0, pool_200.n_items)
    changed = pool_200.with_exposure_parameters(k)
    assert_allclose(changed.exposure_parameters, k)
    assert_allclose(pool_200.exposure_parameters, 1.0)
    part = pool_200.subset([0, 5, 199])
    assert part.item_ids == (pool_200.item_ids[0], pool_200.item_ids[5], pool_200.item_ids[199])
    assert part.is_pretest.tolist() == [False, False, True]
