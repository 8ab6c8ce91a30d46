"""Bank files: reading and writing the item bank as JSON, CSV and XLSX.

JSON is the full-fidelity format and round-trips exactly::

    {"framework": {...taxonomy document...} | null,
     "courses": [{...course, as national_course.json...}],
     "items": [{"item_id", "version", "type", "status", "stem": {"vi", "en"},
                "options": [{"id", "text": {"vi", "en"}, "score"?}], "key",
                "explanation": {"vi", "en"}, "competency", "context", "topic", "difficulty",
                "enemy_group", "author", "tags", "media",
                "parameters": {"model", "a", "b", "c", "provisional", "n_responses",
                               "se": {"a", "b", "c"} | null} | null}]}

``key`` is an option id, a list of them (multiple response) or null (ordered items, whose
options carry their ``score``); ``b`` is a number for dichotomous models and a list for GRM/GPCM.
A file may also be a seed file ``{"topic": ..., "items": [...]}`` (``topic`` is the default of
its items). CSV and XLSX hold the items only, one row per item, options in columns
``option_a_id, option_a_vi, option_a_en, option_a_score, option_b_...``; ``tags``, ``media``,
multiple-response keys and GRM/GPCM ``param_b`` are lists separated by ``;``.

An empty ``version`` or ``status`` keeps the bank's (a new item starts as version 1, draft; an
administered item whose content changed gets the next version).

A public export leaves out keys, option scores and parameters.

Reading never touches the database; a file that cannot be parsed raises
:class:`~item_bank.exceptions.BankFileError` naming the line, row or cell.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from item_bank.exceptions import BankFileError, ValidationIssue

FORMATS = ("json", "csv", "xlsx")
OPTION_LETTERS = "abcdefgh"
LIST_SEPARATOR = ";"
XLSX_SHEET = "items"

ITEM_FIELDS = (
    "item_id",
    "version",
    "type",
    "status",
    "stem",
    "options",
    "key",
    "explanation",
    "competency",
    "context",
    "topic",
    "difficulty",
    "enemy_group",
    "author",
    "tags",
    "media",
    "parameters",
)
PUBLIC_OMITTED = frozenset({"key", "parameters"})
PARAMETER_FIELDS = ("model", "a", "b", "c", "provisional", "n_responses", "se")

# content field (items.CONTENT_FIELDS) -> JSON field, for error messages and conversion
JSON_FIELD_NAMES: Mapping[str, str] = {
    "type": "type",
    "stem_vi": "stem.vi",
    "stem_en": "stem.en",
    "options": "options",
    "key": "key",
    "explanation_vi": "explanation.vi",
    "explanation_en": "explanation.en",
    "media": "media",
    "competency_tag": "competency",
    "context_tag": "context",
    "topic_id": "topic",
    "author": "author",
    "enemy_group": "enemy_group",
    "tags": "tags",
    "difficulty": "difficulty",
}

ROW_LEADING_COLUMNS = (
    "item_id",
    "version",
    "type",
    "status",
    "topic",
    "competency",
    "context",
    "difficulty",
    "enemy_group",
    "author",
    "tags",
    "media",
    "stem_vi",
    "stem_en",
    "key",
    "explanation_vi",
    "explanation_en",
)
OPTION_COLUMN_PARTS = ("id", "vi", "en", "score")
PARAMETER_COLUMNS = (
    "param_model",
    "param_a",
    "param_b",
    "param_c",
    "param_provisional",
    "param_n_responses",
    "param_se_a",
    "param_se_b",
    "param_se_c",
)
REQUIRED_COLUMNS = ("item_id", "type", "stem_vi", "competency")


@dataclass(frozen=True)
class ItemRecord:
    """One item as read from a file, in the JSON shape, with where it came from.

    ``field_names`` maps JSON field paths (``stem.vi``, ``options[2].text.vi``) to the names the
    file uses (``stem_vi``, ``option_c_vi`` in CSV), for error messages.
    """

    data: dict[str, Any]
    location: str
    row_format: bool = False

    def file_field(self, json_field: str) -> str:
        """The name under which the file holds ``json_field``."""
        if not self.row_format:
            return json_field
        return _row_field_name(json_field)


@dataclass(frozen=True)
class BankDocument:
    """The parsed content of one bank file."""

    file: str
    format: str
    items: tuple[ItemRecord, ...] = ()
    framework: dict[str, Any] | None = None
    courses: tuple[dict[str, Any], ...] = field(default=())


def _row_field_name(json_field: str) -> str:
    if json_field.startswith("options["):
        index_text, _, rest = json_field[len("options[") :].partition("]")
        letter = OPTION_LETTERS[int(index_text)] if index_text.isdigit() else "?"
        part = {".id": "id", ".text.vi": "vi", ".text.en": "en", ".score": "score"}.get(rest)
        return f"option_{letter}_{part}" if part else f"option_{letter}"
    if json_field.startswith("parameters."):
        name = json_field[len("parameters.") :]
        return f"param_{name}"
    if json_field == "options":
        return "option_*"
    return json_field.replace(".", "_")


# -- reading -------------------------------------------------------------------------------


def detect_format(path: str | Path) -> str:
    """The format of ``path`` from its extension (``.json``, ``.csv``, ``.xlsx``)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unknown bank file format {suffix!r}; use one of {FORMATS}")
    return suffix


def read_bank_file(path: str | Path, *, format: str | None = None) -> BankDocument:
    """Parse a bank file; raises :class:`BankFileError` when it cannot be parsed."""
    path = Path(path)
    chosen = format or detect_format(path)
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        issue = ValidationIssue(name, "", "", f"cannot read the file: {error}")
        raise BankFileError([issue]) from None
    if chosen == "json":
        return parse_json_bank(data, name)
    if chosen == "csv":
        return parse_csv_bank(data, name)
    if chosen == "xlsx":
        return parse_xlsx_bank(data, name)
    raise ValueError(f"unknown bank file format {chosen!r}; use one of {FORMATS}")


def parse_json_bank(data: bytes | str, file: str) -> BankDocument:
    """Parse a JSON bank document (an export, or a seed file with a default ``topic``)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        document = json.loads(text)
    except UnicodeDecodeError as error:
        raise BankFileError([ValidationIssue(file, "", "", f"not UTF-8 text: {error}")]) from None
    except json.JSONDecodeError as error:
        problem = f"malformed or truncated JSON: {error.msg}"
        where = f"line {error.lineno}, column {error.colno}"
        raise BankFileError([ValidationIssue(file, where, "", problem)]) from None
    return bank_document_from_json(document, file)


def bank_document_from_json(document: Any, file: str) -> BankDocument:
    """A :class:`BankDocument` from an already parsed JSON value."""
    issues: list[ValidationIssue] = []
    if not isinstance(document, Mapping):
        raise BankFileError([ValidationIssue(file, "", "", "the file must hold a JSON object")])
    unknown = set(document) - {"framework", "courses", "items", "topic"}
    if unknown:
        issues.append(ValidationIssue(file, "", "", f"unknown top-level fields {sorted(unknown)}"))
    items = document.get("items", [])
    courses = document.get("courses", [])
    framework = document.get("framework")
    if not isinstance(items, list):
        issues.append(ValidationIssue(file, "", "items", "must be a list of items"))
        items = []
    if not isinstance(courses, list):
        issues.append(ValidationIssue(file, "", "courses", "must be a list of courses"))
        courses = []
    if framework is not None and not isinstance(framework, Mapping):
        issues.append(ValidationIssue(file, "", "framework", "must be a JSON object or null"))
        framework = None
    default_topic = document.get("topic")
    records = []
    for index, item in enumerate(items):
        item_id = item.get("item_id") if isinstance(item, Mapping) else None
        location = f"items[{index}]" + (f" ({item_id})" if isinstance(item_id, str) else "")
        if not isinstance(item, Mapping):
            issues.append(ValidationIssue(file, location, "", "an item must be a JSON object"))
            continue
        data = dict(item)
        if default_topic is not None and "topic" not in data:
            data["topic"] = default_topic
        records.append(ItemRecord(data, location))
    if issues:
        raise BankFileError(issues)
    return BankDocument(
        file=file,
        format="json",
        items=tuple(records),
        framework=None if framework is None else dict(framework),
        courses=tuple(courses),
    )


def parse_csv_bank(data: bytes | str, file: str) -> BankDocument:
    """Parse a CSV bank file (UTF-8, optionally with a byte-order mark)."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise BankFileError([ValidationIssue(file, "", "", f"not UTF-8 text: {error}")]) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[Any]]] = []
    try:
        for values in reader:
            rows.append((reader.line_num, values))
    except csv.Error as error:
        where = f"line {reader.line_num}"
        problem = f"malformed or truncated CSV: {error}"
        raise BankFileError([ValidationIssue(file, where, "", problem)]) from None
    return _document_from_rows(rows, file, "csv")


def parse_xlsx_bank(data: bytes, file: str) -> BankDocument:
    """Parse an XLSX bank file (the sheet ``items``, or the first sheet)."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        problem = f"malformed or truncated XLSX workbook: {error}"
        raise BankFileError([ValidationIssue(file, "", "", problem)]) from None
    try:
        sheet = (
            workbook[XLSX_SHEET] if XLSX_SHEET in workbook.sheetnames else workbook.worksheets[0]
        )
        rows = [
            (number, ["" if value is None else value for value in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        problem = f"malformed or truncated XLSX workbook: {error}"
        raise BankFileError([ValidationIssue(file, "", "", problem)]) from None
    finally:
        workbook.close()
    # spreadsheets pad rows to the widest column: drop fully empty trailing cells and rows
    trimmed = []
    for number, values in rows:
        while values and values[-1] == "":
            values.pop()
        trimmed.append((number, values))
    return _document_from_rows(trimmed, file, "xlsx")


def _document_from_rows(rows: list[tuple[int, list[Any]]], file: str, fmt: str) -> BankDocument:
    rows = [(number, values) for number, values in rows if any(v != "" for v in values)]
    if not rows:
        raise BankFileError([ValidationIssue(file, "", "", "the file is empty (no header row)")])
    header_number, header = rows[0]
    header = [str(name).strip() for name in header]
    issues = []
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        issues.append(
            ValidationIssue(file, f"row {header_number}", "", f"missing columns {missing}")
        )
    duplicates = sorted({name for name in header if header.count(name) > 1 and name})
    if duplicates:
        issues.append(
            ValidationIssue(file, f"row {header_number}", "", f"duplicate columns {duplicates}")
        )
    known = set(row_columns(max_options=len(OPTION_LETTERS), public=False))
    unknown = [name for name in header if name and name not in known]
    if unknown:
        issues.append(
            ValidationIssue(file, f"row {header_number}", "", f"unknown columns {unknown}")
        )
    if issues:
        raise BankFileError(issues)
    records = []
    for number, values in rows[1:]:
        location = f"row {number}"
        if fmt == "csv" and len(values) < len(header):
            problem = f"truncated row: {len(values)} of {len(header)} columns"
            issues.append(ValidationIssue(file, location, "", problem))
            continue
        if len(values) > len(header) and any(v != "" for v in values[len(header) :]):
            problem = f"{len(values)} cells for {len(header)} columns"
            issues.append(ValidationIssue(file, location, "", problem))
            continue
        cells = dict(zip(header, list(values) + [""] * (len(header) - len(values)), strict=True))
        item_id = _cell_text(cells.get("item_id"))
        if item_id:
            location = f"{location} ({item_id})"
        record, cell_issues = _record_from_cells(cells)
        issues.extend(
            ValidationIssue(file, location, column, problem) for column, problem in cell_issues
        )
        records.append(ItemRecord(record, location, row_format=True))
    if issues:
        raise BankFileError(issues)
    return BankDocument(file=file, format=fmt, items=tuple(records))


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text if text.strip() else None


def _cell_list(value: Any) -> list[str]:
    text = _cell_text(value)
    if text is None:
        return []
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


def _cell_number(value: Any, column: str, issues: list[tuple[str, str]]) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = _cell_text(value)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        issues.append((column, f"not a number: {text!r}"))
        return None


def _cell_int(value: Any, column: str, issues: list[tuple[str, str]]) -> int | None:
    number = _cell_number(value, column, issues)
    if number is None:
        return None
    if not number.is_integer():
        issues.append((column, f"not a whole number: {value!r}"))
        return None
    return int(number)


def _cell_bool(value: Any, column: str, issues: list[tuple[str, str]]) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _cell_text(value)
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in {"true", "1", "yes", "có"}:
        return True
    if lowered in {"false", "0", "no", "không"}:
        return False
    issues.append((column, f"must be true or false, got {text!r}"))
    return None


def _record_from_cells(cells: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    issues: list[tuple[str, str]] = []
    item_type = _cell_text(cells.get("type"))
    record: dict[str, Any] = {
        "item_id": _cell_text(cells.get("item_id")),
        "version": _cell_int(cells.get("version"), "version", issues),
        "type": item_type,
        "status": _cell_text(cells.get("status")),
        "stem": {"vi": _cell_text(cells.get("stem_vi")), "en": _cell_text(cells.get("stem_en"))},
        "explanation": {
            "vi": _cell_text(cells.get("explanation_vi")),
            "en": _cell_text(cells.get("explanation_en")),
        },
        "competency": _cell_text(cells.get("competency")),
        "context": _cell_text(cells.get("context")),
        "topic": _cell_text(cells.get("topic")),
        "difficulty": _cell_text(cells.get("difficulty")),
        "enemy_group": _cell_text(cells.get("enemy_group")),
        "author": _cell_text(cells.get("author")),
        "tags": _cell_list(cells.get("tags")),
        "media": _cell_list(cells.get("media")),
    }
    options = []
    for letter in OPTION_LETTERS:
        parts = {part: cells.get(f"option_{letter}_{part}", "") for part in OPTION_COLUMN_PARTS}
        if all(_cell_text(value) is None for value in parts.values()):
            continue
        option: dict[str, Any] = {
            "id": _cell_text(parts["id"]) or letter.upper(),
            "text": {"vi": _cell_text(parts["vi"]), "en": _cell_text(parts["en"])},
        }
        score = _cell_int(parts["score"], f"option_{letter}_score", issues)
        if score is not None:
            option["score"] = score
        options.append(option)
    record["options"] = options
    if "key" in cells:
        key_cell = _cell_text(cells.get("key"))
        if item_type == "multiple_response":
            record["key"] = _cell_list(key_cell) or None
        else:
            record["key"] = key_cell.strip() if key_cell else None
    if "param_model" in cells:
        model = _cell_text(cells.get("param_model"))
        if model is None:
            record["parameters"] = None
        else:
            b_values = [
                _cell_number(part, "param_b", issues) for part in _cell_list(cells.get("param_b"))
            ]
            b: Any = b_values[0] if len(b_values) == 1 and model in _DICHOTOMOUS else b_values
            se_b_values = [
                _cell_number(part, "param_se_b", issues)
                for part in _cell_list(cells.get("param_se_b"))
            ]
            se = {
                "a": _cell_number(cells.get("param_se_a"), "param_se_a", issues),
                "b": (
                    se_b_values[0]
                    if len(se_b_values) == 1 and model in _DICHOTOMOUS
                    else se_b_values or None
                ),
                "c": _cell_number(cells.get("param_se_c"), "param_se_c", issues),
            }
            record["parameters"] = {
                "model": model,
                "a": _cell_number(cells.get("param_a"), "param_a", issues),
                "b": b,
                "c": _cell_number(cells.get("param_c"), "param_c", issues) or 0.0,
                "provisional": bool(
                    _cell_bool(cells.get("param_provisional"), "param_provisional", issues)
                ),
                "n_responses": _cell_int(
                    cells.get("param_n_responses"), "param_n_responses", issues
                )
                or 0,
                "se": None if all(value is None for value in se.values()) else se,
            }
    return record, issues


_DICHOTOMOUS = frozenset({"rasch", "1pl", "2pl", "3pl"})


# -- writing -------------------------------------------------------------------------------


def row_columns(*, max_options: int, public: bool) -> list[str]:
    """The CSV/XLSX header for items with up to ``max_options`` options."""
    columns = [name for name in ROW_LEADING_COLUMNS if not (public and name == "key")]
    for letter in OPTION_LETTERS[:max_options]:
        for part in OPTION_COLUMN_PARTS:
            if public and part == "score":
                continue
            columns.append(f"option_{letter}_{part}")
    if not public:
        columns.extend(PARAMETER_COLUMNS)
    return columns


def item_to_row(item: Mapping[str, Any], *, public: bool) -> dict[str, Any]:
    """One exported item (JSON shape) as a row of cells (numbers stay numbers)."""
    row: dict[str, Any] = {
        "item_id": item["item_id"],
        "version": item["version"],
        "type": item["type"],
        "status": item["status"],
        "topic": item.get("topic"),
        "competency": item["competency"],
        "context": item.get("context"),
        "difficulty": item.get("difficulty"),
        "enemy_group": item.get("enemy_group"),
        "author": item.get("author"),
        "tags": f"{LIST_SEPARATOR} ".join(item.get("tags") or []),
        "media": f"{LIST_SEPARATOR} ".join(item.get("media") or []),
        "stem_vi": item["stem"]["vi"],
        "stem_en": item["stem"].get("en"),
        "explanation_vi": (item.get("explanation") or {}).get("vi"),
        "explanation_en": (item.get("explanation") or {}).get("en"),
    }
    if not public:
        key = item.get("key")
        row["key"] = LIST_SEPARATOR.join(key) if isinstance(key, list) else key
    for letter, option in zip(OPTION_LETTERS, item["options"], strict=False):
        row[f"option_{letter}_id"] = option["id"]
        row[f"option_{letter}_vi"] = option["text"]["vi"]
        row[f"option_{letter}_en"] = option["text"].get("en")
        if not public:
            row[f"option_{letter}_score"] = option.get("score")
    parameters = item.get("parameters")
    if not public and parameters:
        b = parameters["b"]
        se = parameters.get("se") or {}
        se_b = se.get("b")
        row.update(
            {
                "param_model": parameters["model"],
                "param_a": parameters["a"],
                "param_b": LIST_SEPARATOR.join(repr(float(v)) for v in b)
                if isinstance(b, list)
                else b,
                "param_c": parameters.get("c", 0.0),
                "param_provisional": "true" if parameters.get("provisional") else "false",
                "param_n_responses": parameters.get("n_responses", 0),
                "param_se_a": se.get("a"),
                "param_se_b": LIST_SEPARATOR.join(repr(float(v)) for v in se_b)
                if isinstance(se_b, list)
                else se_b,
                "param_se_c": se.get("c"),
            }
        )
    return row


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_json_bank(document: Mapping[str, Any]) -> str:
    """The JSON text of an export (UTF-8, 2-space indentation, Vietnamese unescaped)."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def write_csv_bank(items: Sequence[Mapping[str, Any]], *, public: bool) -> str:
    """The CSV text of exported items (write it with ``utf-8-sig`` so Excel reads Vietnamese)."""
    columns = row_columns(max_options=_max_options(items), public=public)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        row = item_to_row(item, public=public)
        writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def write_xlsx_bank(items: Sequence[Mapping[str, Any]], *, public: bool) -> bytes:
    """The XLSX workbook of exported items (one sheet ``items``, a header row, one row each)."""
    from openpyxl import Workbook

    columns = row_columns(max_options=_max_options(items), public=public)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = XLSX_SHEET
    sheet.append(columns)
    for item in items:
        row = item_to_row(item, public=public)
        sheet.append([row.get(column) for column in columns])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            # text such as "=SUM(C2:C9)" in a spreadsheet item is content, not a formula
            if isinstance(cell.value, str):
                cell.data_type = "s"
    sheet.freeze_panes = "B2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _max_options(items: Sequence[Mapping[str, Any]]) -> int:
    return max([4, *(len(item["options"]) for item in items)])


def write_bank_file(
    path: str | Path, document: Mapping[str, Any], *, public: bool, format: str | None = None
) -> None:
    """Write an export document (see :func:`item_bank.interchange.export_bank`) to ``path``."""
    path = Path(path)
    chosen = format or detect_format(path)
    if chosen == "json":
        path.write_text(write_json_bank(document), encoding="utf-8")
    elif chosen == "csv":
        path.write_text(
            write_csv_bank(document["items"], public=public), encoding="utf-8-sig", newline=""
        )
    elif chosen == "xlsx":
        path.write_bytes(write_xlsx_bank(document["items"], public=public))
    else:
        raise ValueError(f"unknown bank file format {chosen!r}; use one of {FORMATS}")
