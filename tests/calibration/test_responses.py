"""ResponseData: sparse storage of observed responses, pattern collapsing and validation."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from calibration import ResponseData


def test_identical_rows_collapse_into_weighted_patterns_without_losing_any_response() -> None:
    rng = np.random.default_rng(0)
    patterns = np.array([[0, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=float)
    rows = patterns[rng.integers(0, 3, size=200)]
    data = ResponseData.from_dense(rows)
    assert data.n_rows == 3 and data.n_persons == 200
    expanded = np.repeat(data.to_dense(), data.weights.astype(int), axis=0)
    assert_array_equal(
        np.unique(expanded, axis=0, return_counts=True)[1],
        np.unique(rows, axis=0, return_counts=True)[1],
    )
    assert_array_equal(data.category_counts[:, 1], rows.sum(axis=0))


def test_missing_responses_are_not_stored() -> None:
    matrix = np.array([[0, np.nan, 2], [np.nan, np.nan, 1], [1, 0, np.nan]])
    data = ResponseData.from_dense(matrix, collapse=False)
    assert data.n_observed == 5
    assert_array_equal(np.isnan(data.to_dense()), np.isnan(matrix))
    assert_array_equal(data.n_categories, [2, 1, 3])
    assert_array_equal(data.responses_per_item, [2, 1, 2])
    assert data.density == pytest.approx(5 / 9)


def test_weights_of_a_pattern_table_add_up() -> None:
    data = ResponseData.from_dense([[0, 1], [1, 1], [0, 1]], weights=[3, 5, 2])
    assert data.n_rows == 2 and data.n_persons == 10
    assert_array_equal(sorted(data.weights), [5, 5])


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[0, 1], [0.5, 1]], "row 1, item 0 is 0.5"),
        ([[0, -1], [0, 1]], "row 0, item 1 is -1"),
        ([0, 1, 1], "2-D"),
    ],
)
def test_bad_cells_are_rejected_naming_their_position(matrix, message) -> None:
    with pytest.raises(ValueError, match=message):
        ResponseData.from_dense(matrix)


def test_bad_weights_are_rejected() -> None:
    with pytest.raises(ValueError, match="weight of row 1"):
        ResponseData.from_dense([[0, 1], [1, 0]], weights=[1, -2])
    with pytest.raises(ValueError, match="expected 2 weights"):
        ResponseData.from_dense([[0, 1], [1, 0]], weights=[1])


def test_triplets_build_the_same_data_as_the_dense_array() -> None:
    matrix = np.array([[0, np.nan, 2], [np.nan, 1, 1]])
    dense = ResponseData.from_dense(matrix, collapse=False)
    triplets = ResponseData.from_triplets([1, 0, 1, 0], [2, 2, 1, 0], [1, 2, 1, 0])
    assert_array_equal(triplets.to_dense(), dense.to_dense())
    assert triplets.item_ids == ("item_1", "item_2", "item_3")


def test_triplets_reject_a_repeated_answer_and_out_of_range_indices() -> None:
    with pytest.raises(ValueError, match="row 0 answers item 1 more than once"):
        ResponseData.from_triplets([0, 0], [1, 1], [0, 1])
    with pytest.raises(ValueError, match="out of range"):
        ResponseData.from_triplets([0], [3], [0], n_items=2)
    with pytest.raises(ValueError, match="same length"):
        ResponseData.from_triplets([0, 1], [0], [0])
    with pytest.raises(ValueError, match="'a' occurs more than once"):
        ResponseData.from_dense([[0, 1]], item_ids=["a", "a"])


def test_indicator_matrices_and_item_subsets() -> None:
    data = ResponseData.from_dense(
        [[0, 1, 2], [1, np.nan, 0]], item_ids=["x", "y", "z"], collapse=False
    )
    assert_array_equal(data.indicator_matrix(1).toarray(), [[0, 1, 0], [1, 0, 0]])
    subset = data.subset_items([2, 0])
    assert subset.item_ids == ("z", "x")
    assert_array_equal(subset.to_dense(), [[2, 0], [0, 1]])
    assert subset.n_rows == data.n_rows
