"""Reading an item pool for the exam engine from a JSON file.

Two documents are accepted: the output of ``sathach calibrate`` (``{"model", ..., "items":
[{"item_id", "model", "a", "b", "c", "se_a", ...}]}``, ``b`` a list for GRM/GPCM) and a bank export
(``{"framework", "courses", "items": [{"item_id", "version", "type", "status", "competency",
"context", "topic", "enemy_group", "parameters": {"model", "a", "b", "c", "provisional"}}]}``).
From a bank export, operational items are scored and pretest items are seeded unscored; items in
other states (draft, reviewed, retired) are left out. Every problem is reported with the file, the
item and the field, and nothing is returned unless the whole file is valid.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calibration import ItemModel, ItemParameters
from exam import ItemPool, PoolError
from item_bank.exceptions import BankFileError, ValidationIssue

#: Competency code given to items of a calibration result, which carries no tags.
UNTAGGED_COMPETENCY = "UNTAGGED"
#: Bank states whose items enter a pool, and whether they are pretest items.
POOL_STATUSES = {"operational": False, "pretest": True}


def read_pool_file(
    path: str | Path, *, exposure_parameters: Mapping[str, float] | None = None
) -> ItemPool:
    """Read BANK.json (a calibration result or a bank export) into an :class:`exam.ItemPool`.

    Parameters
    ----------
    path : str or Path
    exposure_parameters : mapping of item id to float, optional
        Sympson-Hetter parameters (e.g. from ``sathach exposure``); items not named keep 1.

    Raises
    ------
    BankFileError
        Listing every problem with its file, item and field.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise BankFileError([ValidationIssue(name, "", "", f"cannot be read: {error}")]) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BankFileError(
            [
                ValidationIssue(
                    name,
                    f"line {error.lineno}, column {error.colno}",
                    "",
                    f"not valid JSON: {error.msg}",
                )
            ]
        ) from None
    return pool_from_document(document, source=name, exposure_parameters=exposure_parameters)


def pool_from_document(
    document: Any,
    *,
    source: str = "<document>",
    exposure_parameters: Mapping[str, float] | None = None,
) -> ItemPool:
    """Build an :class:`exam.ItemPool` from a parsed calibration result or bank export.

    Raises
    ------
    BankFileError
        Listing every problem with its item and field.
    """
    issues: list[ValidationIssue] = []
    if not isinstance(document, Mapping) or not isinstance(document.get("items"), list):
        raise BankFileError(
            [ValidationIssue(source, "", "items", "expected an object with a list of items")]
        )
    is_export = (
        "framework" in document
        or "courses" in document
        or any(isinstance(item, Mapping) and "parameters" in item for item in document["items"])
    )
    default_model = document.get("model")
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(document["items"]):
        location = f"items[{index}]"
        if not isinstance(item, Mapping):
            issues.append(ValidationIssue(source, location, "", "an item must be an object"))
            continue
        item_id = item.get("item_id")
        if not isinstance(item_id, str) or not item_id.strip():
            issues.append(
                ValidationIssue(
                    source, location, "item_id", f"must be a non-empty string, got {item_id!r}"
                )
            )
            continue
        location = f"items[{index}] ({item_id})"
        if item_id in seen:
            issues.append(ValidationIssue(source, location, "item_id", "occurs twice"))
            continue
        seen.add(item_id)
        if is_export:
            row = _export_row(item, source, location, issues)
        else:
            row = _calibration_row(item, default_model, source, location, issues)
        if row is not None:
            rows.append({"item_id": item_id, **row})
    if not rows and not issues:
        issues.append(ValidationIssue(source, "", "items", "no item can enter a pool"))
    exposure = np.ones(len(rows))
    if exposure_parameters is not None:
        positions = {row["item_id"]: i for i, row in enumerate(rows)}
        for item_id, value in exposure_parameters.items():
            if item_id not in positions:
                continue
            if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
                issues.append(
                    ValidationIssue(
                        source,
                        f"exposure parameters ({item_id})",
                        "exposure_parameter",
                        f"must be a number in [0, 1], got {value!r}",
                    )
                )
                continue
            exposure[positions[item_id]] = float(value)
    if issues:
        raise BankFileError(issues)
    try:
        parameters = ItemParameters.from_lists(
            [row["model"] for row in rows],
            [row["a"] for row in rows],
            [row["b"] for row in rows],
            [row["c"] for row in rows],
        )
        return ItemPool.build(
            [row["item_id"] for row in rows],
            parameters,
            competencies=[row["competency"] for row in rows],
            topics=[row["topic"] for row in rows],
            enemy_groups=[row["enemy_group"] for row in rows],
            is_pretest=[row["is_pretest"] for row in rows],
            exposure_parameters=exposure,
        )
    except PoolError as error:
        location = "" if error.item_id is None else f"item {error.item_id}"
        raise BankFileError(
            [ValidationIssue(source, location, error.field or "", str(error))]
        ) from None
    except ValueError as error:
        raise BankFileError([ValidationIssue(source, "", "parameters", str(error))]) from None


def _export_row(
    item: Mapping[str, Any], source: str, location: str, issues: list[ValidationIssue]
) -> dict[str, Any] | None:
    status = item.get("status")
    if status not in POOL_STATUSES:
        if not isinstance(status, str):
            issues.append(
                ValidationIssue(
                    source, location, "status", f"must be a lifecycle state, got {status!r}"
                )
            )
        return None
    competency = item.get("competency")
    if not isinstance(competency, str) or not competency.strip():
        issues.append(
            ValidationIssue(
                source, location, "competency", f"must be a competency code, got {competency!r}"
            )
        )
        competency = None
    topic = _optional_code(item, "topic", source, location, issues)
    enemy_group = _optional_code(item, "enemy_group", source, location, issues)
    parameters = item.get("parameters")
    if not isinstance(parameters, Mapping):
        issues.append(
            ValidationIssue(
                source,
                location,
                "parameters",
                f"a {status} item needs IRT parameters, got {parameters!r}",
            )
        )
        return None
    values = _parameter_values(parameters, None, source, location, issues, prefix="parameters.")
    if values is None or competency is None:
        return None
    return {
        **values,
        "competency": competency,
        "topic": topic,
        "enemy_group": enemy_group,
        "is_pretest": POOL_STATUSES[status],
    }


def _calibration_row(
    item: Mapping[str, Any],
    default_model: Any,
    source: str,
    location: str,
    issues: list[ValidationIssue],
) -> dict[str, Any] | None:
    values = _parameter_values(item, default_model, source, location, issues, prefix="")
    if values is None:
        return None
    competency = item.get("competency") or UNTAGGED_COMPETENCY
    return {
        **values,
        "competency": competency,
        "topic": item.get("topic"),
        "enemy_group": item.get("enemy_group"),
        "is_pretest": False,
    }


def _parameter_values(
    record: Mapping[str, Any],
    default_model: Any,
    source: str,
    location: str,
    issues: list[ValidationIssue],
    *,
    prefix: str,
) -> dict[str, Any] | None:
    count = len(issues)
    model_name = record.get("model", default_model)
    try:
        model = ItemModel(model_name)
    except ValueError:
        choices = ", ".join(str(m) for m in ItemModel)
        issues.append(
            ValidationIssue(
                source, location, f"{prefix}model", f"must be one of {choices}, got {model_name!r}"
            )
        )
        return None
    a = record.get("a", 1.0 if model in (ItemModel.RASCH, ItemModel.ONE_PL) else None)
    if not _is_number(a) or not float(a) > 0:
        issues.append(
            ValidationIssue(source, location, f"{prefix}a", f"must be a positive number, got {a!r}")
        )
    b = record.get("b")
    if model.is_dichotomous:
        if isinstance(b, Sequence) and not isinstance(b, str) and len(b) == 1:
            b = b[0]
        if not _is_number(b):
            issues.append(
                ValidationIssue(
                    source,
                    location,
                    f"{prefix}b",
                    f"a {model} item needs one difficulty, got {b!r}",
                )
            )
    elif (
        not isinstance(b, Sequence)
        or isinstance(b, str)
        or not b
        or not all(_is_number(v) for v in b)
    ):
        issues.append(
            ValidationIssue(
                source,
                location,
                f"{prefix}b",
                f"a {model} item needs a list of thresholds, got {b!r}",
            )
        )
    elif model is ItemModel.GRM and any(x >= y for x, y in itertools.pairwise(b)):
        issues.append(
            ValidationIssue(
                source, location, f"{prefix}b", f"GRM thresholds must increase, got {list(b)!r}"
            )
        )
    c = record.get("c")
    c = 0.0 if c is None else c
    if not _is_number(c) or not 0.0 <= float(c) < 1.0:
        issues.append(
            ValidationIssue(
                source, location, f"{prefix}c", f"must be a number in [0, 1), got {c!r}"
            )
        )
    elif model is not ItemModel.THREE_PL and float(c) != 0.0:
        issues.append(
            ValidationIssue(
                source, location, f"{prefix}c", f"only a 3pl item has a lower asymptote, got {c!r}"
            )
        )
    if len(issues) > count:
        return None
    return {
        "model": model,
        "a": float(a),
        "b": float(b) if model.is_dichotomous else [float(v) for v in b],
        "c": float(c),
    }


def _optional_code(
    item: Mapping[str, Any], key: str, source: str, location: str, issues: list[ValidationIssue]
) -> str | None:
    value = item.get(key)
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    issues.append(ValidationIssue(source, location, key, f"must be a code or null, got {value!r}"))
    return None


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
