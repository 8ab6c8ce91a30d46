"""Read item-response files (wide CSV, pattern tables, long CSV) into calibration data.

Three layouts are understood:

* **wide**: one row per person, a header of item ids, an optional first column ``person_id``;
  cells are integer scores and a blank cell is a missing response;
* **pattern table**: a wide file with a count column (``--count-column count``) saying how many
  persons gave each row's pattern;
* **long**: columns ``person_id,item_id,score``, one row per response.

Each item's lowest observed score becomes its category 0, so items scored 1..4 and 0..3 read
alike; the scores in between must all occur (a gap leaves a category without data). Reading is
all-or-nothing: the first problem raises :class:`ValueError` naming the file, the line, the
column and what is wrong, in Vietnamese and English.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from calibration import ResponseData

__all__ = ["ResponseTable", "read_responses"]

PERSON_COLUMN = "person_id"
LONG_COLUMNS = ("person_id", "item_id", "score")
FileFormat = Literal["wide", "long"]


@dataclass(frozen=True)
class ResponseTable:
    """Responses read from a file, ready for :func:`calibration.calibrate`.

    Attributes
    ----------
    data : ResponseData
        Category indices (each item's lowest observed score is category 0).
    person_ids : tuple of str or None
        One id per row of ``data`` (rows are not collapsed then); None for a pattern table.
    lowest_scores : tuple of int
        Per item, the score in the file that became category 0 (add it back to report scores).
    source : str
        The file read.
    """

    data: ResponseData
    person_ids: tuple[str, ...] | None
    lowest_scores: tuple[int, ...]
    source: str


def read_responses(
    path: str | Path,
    *,
    file_format: FileFormat = "wide",
    count_column: str | None = None,
) -> ResponseTable:
    """Read a response file.

    Parameters
    ----------
    path : str or Path
        The CSV file (UTF-8, a byte-order mark allowed).
    file_format : {"wide", "long"}, default "wide"
    count_column : str, optional
        Wide files only: the column holding each pattern's number of persons.

    Returns
    -------
    ResponseTable

    Raises
    ------
    ValueError
        On an empty file, a row of the wrong length, a non-numeric or non-integer cell, a
        category gap, fewer than two items, a repeated answer, or a bad count; the message
        names the line and column.
    """
    path = Path(path)
    if file_format not in ("wide", "long"):
        raise ValueError(f"format must be 'wide' or 'long', got {file_format!r}")
    rows = _read_rows(path)
    if file_format == "long":
        if count_column is not None:
            raise ValueError(
                f"{path.name}: --count-column chỉ dùng cho tệp dạng rộng "
                "(--count-column applies to wide files only)"
            )
        return _read_long(path, rows)
    return _read_wide(path, rows, count_column)


def _error(path: Path, line: int | None, column: str | None, vietnamese: str, english: str):
    where_vi = ", ".join(
        part
        for part in (
            path.name,
            f"dòng {line}" if line is not None else "",
            f'cột "{column}"' if column is not None else "",
        )
        if part
    )
    where_en = ", ".join(
        part
        for part in (
            f"line {line}" if line is not None else "",
            f'column "{column}"' if column is not None else "",
        )
        if part
    )
    return ValueError(f"{where_vi}: {vietnamese} ({where_en}: {english})".replace("(: ", "("))


def _read_rows(path: Path) -> list[list[str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = [row for row in csv.reader(handle)]
    except FileNotFoundError:
        raise ValueError(f"{path}: không tìm thấy tệp (file not found)") from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path.name}: tệp không phải UTF-8 (not UTF-8 text: {exc.reason})"
        ) from None
    # blank lines carry nothing; a trailing newline must not become a row
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise _error(path, None, None, "tệp rỗng", "the file is empty")
    return rows


def _read_wide(path: Path, rows: list[list[str]], count_column: str | None) -> ResponseTable:
    header = [cell.strip() for cell in rows[0]]
    body = rows[1:]
    _check_header(path, header)
    has_person = header[0].lower() == PERSON_COLUMN
    count_index = None
    if count_column is not None:
        if count_column not in header:
            raise _error(
                path,
                1,
                count_column,
                "không có cột đếm này trong tiêu đề",
                f"the count column is not in the header {header}",
            )
        count_index = header.index(count_column)
    item_columns = [
        j for j in range(len(header)) if j != count_index and not (has_person and j == 0)
    ]
    if len(item_columns) < 2:
        raise _error(
            path,
            1,
            None,
            "cần ít nhất hai cột câu hỏi",
            f"at least two item columns are needed, found {len(item_columns)}",
        )
    cells = _cell_matrix(path, header, body)
    weights = None
    if count_index is not None:
        weights = _numbers(path, cells[:, count_index], header[count_index], allow_blank=False)
        bad = weights < 0
        if bad.any():
            line = int(np.flatnonzero(bad)[0]) + 2
            raise _error(path, line, header[count_index], "số đếm âm", "a negative count")
    scores = np.column_stack(
        [_numbers(path, cells[:, j], header[j], allow_blank=True) for j in item_columns]
    )
    item_ids = [header[j] for j in item_columns]
    categories, lowest = _to_categories(path, scores, item_ids)
    person_ids = None
    if has_person and count_index is None:
        person_ids = tuple(cells[:, 0].tolist())
        _check_unique_persons(path, person_ids)
    data = ResponseData.from_dense(
        categories, weights=weights, item_ids=item_ids, collapse=person_ids is None
    )
    return ResponseTable(data, person_ids, lowest, str(path))


def _cell_matrix(path: Path, header: Sequence[str], body: list[list[str]]) -> npt.NDArray[np.str_]:
    """The data rows as a stripped string matrix, after checking each row's length."""
    if not body:
        raise _error(path, None, None, "tệp không có dòng dữ liệu", "no data rows after the header")
    for position, row in enumerate(body):
        if len(row) != len(header):
            raise _error(
                path,
                position + 2,
                None,
                f"có {len(row)} ô nhưng tiêu đề có {len(header)} cột",
                f"{len(row)} cells but the header has {len(header)} columns",
            )
    return np.char.strip(np.array(body, dtype=str))


def _check_header(path: Path, header: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if not name:
            raise _error(path, 1, f"#{j + 1}", "tên cột trống", "an empty column name")
        if name in seen:
            raise _error(path, 1, name, "tên cột bị lặp", "the column name occurs twice")
        seen[name] = j


def _check_unique_persons(path: Path, person_ids: Sequence[str]) -> None:
    seen: dict[str, int] = {}
    for position, person in enumerate(person_ids):
        if person in seen:
            raise _error(
                path,
                position + 2,
                PERSON_COLUMN,
                f'người "{person}" đã có ở dòng {seen[person] + 2}',
                f'person "{person}" already appears on line {seen[person] + 2}',
            )
        seen[person] = position


def _numbers(
    path: Path, column: npt.NDArray[np.str_], name: str, *, allow_blank: bool, first_line: int = 2
) -> npt.NDArray[np.float64]:
    """Parse one column of integer cells; blanks become NaN when allowed."""
    blank = column == ""
    if blank.any() and not allow_blank:
        line = int(np.flatnonzero(blank)[0]) + first_line
        raise _error(path, line, name, "ô trống", "an empty cell")
    filled = np.where(blank, "nan", column)
    try:
        values = filled.astype(np.float64)
    except ValueError:
        values = None
    if values is None or not np.all(np.isfinite(values[~blank])):
        for position, cell in enumerate(column):
            if cell == "":
                continue
            try:
                ok = np.isfinite(float(cell))
            except ValueError:
                ok = False
            if not ok:
                raise _error(
                    path,
                    position + first_line,
                    name,
                    f'ô "{cell}" không phải là số',
                    f'cell "{cell}" is not a number',
                )
    fractional = ~blank & (values != np.round(values))
    if fractional.any():
        position = int(np.flatnonzero(fractional)[0])
        cell = column[position]
        raise _error(
            path,
            position + first_line,
            name,
            f'ô "{cell}" không phải số nguyên',
            f'cell "{cell}" is not an integer',
        )
    return values


def _to_categories(
    path: Path,
    scores: npt.NDArray[np.float64],
    item_ids: Sequence[str],
    lines: npt.NDArray[np.int64] | None = None,
) -> tuple[npt.NDArray[np.float64], tuple[int, ...]]:
    """Shift each item so its lowest observed score is 0; reject gaps between scores."""
    categories = np.full(scores.shape, np.nan)
    lowest_scores = []
    for j, item_id in enumerate(item_ids):
        column = scores[:, j]
        observed = ~np.isnan(column)
        if not observed.any():
            lowest_scores.append(0)
            continue
        distinct = np.unique(column[observed]).astype(np.int64)
        low = int(distinct[0])
        expected = np.arange(low, int(distinct[-1]) + 1)
        missing = np.setdiff1d(expected, distinct)
        if missing.size:
            above = int(distinct[distinct > missing[0]][0])
            position = int(np.flatnonzero(column == above)[0])
            line = int(lines[position]) if lines is not None else position + 2
            raise _error(
                path,
                line,
                item_id,
                f"điểm {above} xuất hiện nhưng không ai đạt điểm {int(missing[0])} "
                f"(thiếu bậc điểm giữa {low} và {int(distinct[-1])})",
                f"score {above} occurs but no response has score {int(missing[0])}: "
                f"a category gap between {low} and {int(distinct[-1])}",
            )
        categories[observed, j] = column[observed] - low
        lowest_scores.append(low)
    return categories, tuple(lowest_scores)


def _read_long(path: Path, rows: list[list[str]]) -> ResponseTable:
    header = [cell.strip().lower() for cell in rows[0]]
    _check_header(path, header)
    missing = [name for name in LONG_COLUMNS if name not in header]
    if missing:
        raise _error(
            path,
            1,
            missing[0],
            "thiếu cột bắt buộc",
            f"a required column is missing; the long format needs {', '.join(LONG_COLUMNS)}",
        )
    body = rows[1:]
    cells = _cell_matrix(path, header, body)
    person_col, item_col, score_col = (header.index(name) for name in LONG_COLUMNS)
    for column in (person_col, item_col):
        blank = cells[:, column] == ""
        if blank.any():
            raise _error(
                path,
                int(np.flatnonzero(blank)[0]) + 2,
                header[column],
                "ô trống",
                "an empty cell",
            )
    scores = _numbers(path, cells[:, score_col], "score", allow_blank=True)
    keep = ~np.isnan(scores)
    lines = np.flatnonzero(keep) + 2
    persons, person_index = np.unique(cells[keep, person_col], return_inverse=True)
    items, item_index = np.unique(cells[keep, item_col], return_inverse=True)
    # ids in order of first appearance, as a reader of the file expects
    person_order = np.argsort(np.unique(person_index, return_index=True)[1])
    item_order = np.argsort(np.unique(item_index, return_index=True)[1])
    person_rank = np.empty_like(person_order)
    person_rank[person_order] = np.arange(len(person_order))
    item_rank = np.empty_like(item_order)
    item_rank[item_order] = np.arange(len(item_order))
    rows_index, items_index = person_rank[person_index], item_rank[item_index]
    item_ids = [str(items[i]) for i in item_order]
    if len(item_ids) < 2:
        raise _error(
            path,
            None,
            "item_id",
            "cần ít nhất hai câu hỏi",
            f"at least two items are needed, found {len(item_ids)}",
        )
    key = rows_index.astype(np.int64) * len(item_ids) + items_index
    order = np.argsort(key, kind="stable")
    repeated = np.flatnonzero(np.diff(key[order]) == 0)
    if repeated.size:
        first, second = sorted((lines[order[repeated[0]]], lines[order[repeated[0] + 1]]))
        person = cells[second - 2, person_col]
        item = cells[second - 2, item_col]
        raise _error(
            path,
            int(second),
            "item_id",
            f'người "{person}" đã trả lời câu "{item}" ở dòng {first}',
            f'person "{person}" already answered item "{item}" on line {first}',
        )
    kept_scores = scores[keep]
    n_items = len(item_ids)
    lowest_score = np.full(n_items, np.inf)
    highest_score = np.full(n_items, -np.inf)
    np.minimum.at(lowest_score, items_index, kept_scores)
    np.maximum.at(highest_score, items_index, kept_scores)
    pairs = np.unique(
        items_index.astype(np.int64) * 2**20
        + (kept_scores - lowest_score[items_index]).astype(np.int64)
    )
    distinct = np.bincount(pairs // 2**20, minlength=n_items)
    for j in np.flatnonzero(distinct != highest_score - lowest_score + 1):
        chosen = items_index == j  # only for the message: the slow path names the line
        _to_categories(path, kept_scores[chosen, None], [item_ids[j]], lines[chosen])
    categories = kept_scores - lowest_score[items_index]
    lowest = [int(v) for v in lowest_score]
    data = ResponseData.from_triplets(
        rows_index,
        items_index,
        categories,
        n_rows=len(persons),
        n_items=len(item_ids),
        item_ids=item_ids,
    )
    person_ids = tuple(str(persons[i]) for i in person_order)
    return ResponseTable(data, person_ids, tuple(lowest), str(path))
