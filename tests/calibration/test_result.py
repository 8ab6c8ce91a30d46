"""CalibrationResult and FixedItems: information criteria, anchors, lookups."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibration import FixedItems, ItemParameters, ResponseData, calibrate


def _result():
    rng = np.random.default_rng(1)
    theta = rng.normal(size=800)
    b = np.array([-1.0, -0.3, 0.2, 0.9])
    responses = (rng.random((800, 4)) < 1 / (1 + np.exp(-(theta[:, None] - b)))).astype(float)
    return calibrate(ResponseData.from_dense(responses, item_ids=list("abcd")), "2pl")


def test_information_criteria_follow_their_definitions() -> None:
    result = _result()
    k, n = result.n_parameters, result.n_persons
    assert k == 8 and n == 800
    assert result.aic() == pytest.approx(2 * k - 2 * result.log_likelihood)
    assert result.bic() == pytest.approx(k * math.log(n) - 2 * result.log_likelihood)


def test_a_result_becomes_anchors_that_reproduce_it() -> None:
    result = _result()
    anchors = result.fixed_items()
    assert anchors.item_ids == ("a", "b", "c", "d") and len(anchors) == 4
    assert anchors.index_of("c") == 2 and anchors.index_of("zz") is None
    assert result.item_parameters() is result.parameters
    assert result.index_of("d") == 3
    with pytest.raises(KeyError, match="no calibrated item"):
        result.index_of("zz")


def test_fixed_items_validate_their_ids() -> None:
    parameters = ItemParameters.from_lists("2pl", [1.0, 1.2], [0.0, 0.5])
    with pytest.raises(ValueError, match="more than once"):
        FixedItems(item_ids=("x", "x"), parameters=parameters)
    with pytest.raises(ValueError, match="1 item ids for 2"):
        FixedItems(item_ids=("x",), parameters=parameters)
