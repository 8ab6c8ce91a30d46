"""Reading response files: wide, pattern tables, long; every error names line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from item_bank.response_files import read_responses

DATA = Path(__file__).resolve().parents[1] / "data"


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pattern_table_reads_with_counts_as_weights() -> None:
    table = read_responses(DATA / "LSAT7_patterns.csv", count_column="count")
    assert table.data.n_persons == 1000 and table.data.n_items == 5
    assert table.data.item_ids == ("Item.1", "Item.2", "Item.3", "Item.4", "Item.5")
    assert table.person_ids is None
    means = table.data.category_counts[:, 1] / 1000
    assert np.allclose(means, [0.828, 0.658, 0.772, 0.606, 0.843])


def test_scores_from_one_become_categories_from_zero() -> None:
    table = read_responses(DATA / "Science_wide.csv")
    assert table.lowest_scores == (1, 1, 1, 1)
    assert table.data.n_persons == 392
    assert_array_equal(table.data.n_categories, [4, 4, 4, 4])


def test_wide_file_with_person_ids_and_blank_cells_as_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "person_id,q1,q2,q3\np1,0,1,\np2,1,,2\np3, 1 ,0,1\n")
    table = read_responses(path)
    assert table.person_ids == ("p1", "p2", "p3")
    assert table.data.n_observed == 7 and table.data.item_ids == ("q1", "q2", "q3")
    assert_array_equal(np.isnan(table.data.to_dense()), [[0, 0, 1], [0, 1, 0], [0, 0, 0]])
    # q3's lowest score is 1, so its scores 1 and 2 are categories 0 and 1
    assert table.lowest_scores == (0, 0, 1)
    assert_array_equal(table.data.to_dense()[:, 2], [np.nan, 1, 0])


def test_long_format_reads_persons_and_items_in_order_of_appearance(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "person_id,item_id,score\nann,b,2\nann,a,1\nbob,a,0\nbob,b,\ncy,b,1\ncy,a,1\n",
    )
    table = read_responses(path, file_format="long")
    assert table.person_ids == ("ann", "bob", "cy")
    assert table.data.item_ids == ("b", "a")
    assert_array_equal(table.data.to_dense(), [[1, 1], [np.nan, 0], [0, 1]])
    assert table.lowest_scores == (1, 0)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("q1,q2\n0,1\n1,x\n", ["dòng 3", 'cột "q2"', '"x"', "not a number"]),
        ("q1,q2\n0,1\n1,0.5\n", ["line 3", 'column "q2"', "not an integer"]),
        ("q1,q2\n0,1\n3,1\n1,0\n", ["line 3", 'column "q1"', "category gap", "score 2"]),
        ("q1\n0\n1\n", ["at least two item columns"]),
        ("", ["the file is empty"]),
        ("q1,q2\n", ["no data rows"]),
        ("q1,q2\n0,1,1\n", ["line 2", "3 cells but the header has 2"]),
        ("q1,q1\n0,1\n", ['column "q1"', "occurs twice"]),
        ("person_id,q1,q2\np,0,1\np,1,0\n", ["line 3", "already appears on line 2"]),
    ],
)
def test_bad_wide_files_raise_naming_line_column_and_problem(tmp_path, text, fragments) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as caught:
        read_responses(path)
    message = str(caught.value)
    assert message.startswith("data.csv")
    for fragment in fragments:
        assert fragment in message


def test_bad_counts_and_long_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r'column "n".*negative count'):
        read_responses(_write(tmp_path, "q1,q2,n\n0,1,-1\n"), count_column="n")
    with pytest.raises(ValueError, match="count column is not in the header"):
        read_responses(_write(tmp_path, "q1,q2\n0,1\n"), count_column="count")
    with pytest.raises(ValueError, match=r'line 3.*already answered item "a" on line 2'):
        read_responses(
            _write(tmp_path, "person_id,item_id,score\np,a,1\np,a,0\np,b,1\n"),
            file_format="long",
        )
    with pytest.raises(ValueError, match=r'column "score".*required column is missing'):
        read_responses(_write(tmp_path, "person_id,item_id\np,a\n"), file_format="long")
    with pytest.raises(ValueError, match=r"line 4.*category gap"):
        read_responses(
            _write(tmp_path, "person_id,item_id,score\np,a,0\np,b,1\nq,a,2\nq,b,0\n"),
            file_format="long",
        )
    with pytest.raises(ValueError, match="file not found"):
        read_responses(tmp_path / "absent.csv")
