"""Write a calibration to RESULT.json, and read such a file back as anchor (fixed) items.

The file holds::

    {"model", "n_persons", "n_items", "log_likelihood", "aic", "bic", "converged", "n_iter",
     "latent": {"mean", "sd"},
     "items": [{"item_id", "model", "a", "b", "c", "se_a", "se_b", "se_c", "n_responses"}],
     "excluded": [{"item_id", "reason"}]}

``b`` (and ``se_b``) is a number for a dichotomous item and the list of thresholds, lowest
category first, for GRM and GPCM items. A standard error that was not estimated (a Rasch slope,
a fixed item, the asymptote of a non-3PL item) is ``null``. Categories are those of the
calibration: each item's lowest observed score is category 0.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from calibration import CalibrationResult, FixedItems, ItemModel, ItemParameters

__all__ = ["read_fixed_items", "result_to_dict", "write_result"]

ITEM_FIELDS = ("item_id", "model", "a", "b", "c", "se_a", "se_b", "se_c", "n_responses")


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _count(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def result_to_dict(result: CalibrationResult, *, model: str | None = None) -> dict[str, Any]:
    """The RESULT.json structure of a calibration.

    Parameters
    ----------
    result : CalibrationResult
    model : str, optional
        The model named on the command line; by default the items' common model, or
        ``"mixed"`` when they differ.
    """
    parameters = result.parameters
    if model is None:
        names = {m.value for m in parameters.models}
        model = names.pop() if len(names) == 1 else "mixed"
    items = []
    for i, item_id in enumerate(result.item_ids):
        item_model = parameters.models[i]
        k = int(parameters.n_categories[i]) - 1
        thresholds = [float(v) for v in parameters.b[i, :k]]
        errors = [_number(v) for v in result.se_b[i, :k]]
        dichotomous = item_model.is_dichotomous
        items.append(
            {
                "item_id": item_id,
                "model": item_model.value,
                "a": float(parameters.a[i]),
                "b": thresholds[0] if dichotomous else thresholds,
                "c": float(parameters.c[i]),
                "se_a": _number(result.se_a[i]),
                "se_b": errors[0] if dichotomous else errors,
                "se_c": _number(result.se_c[i]),
                "n_responses": _count(result.n_responses[i]),
            }
        )
    return {
        "model": model,
        "n_persons": _count(result.n_persons),
        "n_items": result.n_items,
        "log_likelihood": float(result.log_likelihood),
        "aic": float(result.aic()),
        "bic": float(result.bic()),
        "converged": bool(result.converged),
        "n_iter": int(result.n_iter),
        "latent": {"mean": float(result.latent_mean), "sd": float(result.latent_sd)},
        "items": items,
        "excluded": [{"item_id": e.item_id, "reason": e.reason} for e in result.excluded],
    }


def write_result(result: CalibrationResult, path: str | Path, *, model: str | None = None) -> None:
    """Write :func:`result_to_dict` as UTF-8 JSON (written whole, then moved into place)."""
    path = Path(path)
    text = json.dumps(result_to_dict(result, model=model), ensure_ascii=False, indent=2)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text + "\n", encoding="utf-8")
    temporary.replace(path)


def read_fixed_items(path: str | Path) -> FixedItems:
    """Read a RESULT.json (or any file with its ``items`` list) as anchor items.

    Raises
    ------
    ValueError
        Naming the file, the item and the field, when the file is not JSON, has no ``items``
        list, or an item lacks or misstates ``item_id``, ``model``, ``a``, ``b`` or ``c``.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ValueError(f"{path}: không tìm thấy tệp (file not found)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path.name}, dòng {exc.lineno}: không phải JSON hợp lệ "
            f"(line {exc.lineno}: not valid JSON: {exc.msg})"
        ) from None
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(
            f'{path.name}: thiếu danh sách "items" (no non-empty "items" list of parameters)'
        )
    ids, models, slopes, difficulties, asymptotes = [], [], [], [], []
    for position, item in enumerate(items):
        where = f"{path.name}, items[{position}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: phải là một đối tượng (must be an object)")
        for name in ("item_id", "model", "a", "b"):
            if name not in item:
                raise ValueError(f'{where}: thiếu trường "{name}" (missing field "{name}")')
        item_id = str(item["item_id"])
        where = f'{where} ("{item_id}")'
        try:
            model = ItemModel(str(item["model"]).lower())
        except ValueError:
            choices = ", ".join(m.value for m in ItemModel)
            raise ValueError(
                f'{where}: mô hình "{item["model"]}" không hợp lệ '
                f"(unknown model; choose one of {choices})"
            ) from None
        slope = _field_number(where, "a", item["a"])
        b = item["b"]
        if model.is_dichotomous:
            b_value: float | list[float] = _field_number(where, "b", b)
        else:
            if not isinstance(b, list) or not b:
                raise ValueError(
                    f'{where}: "b" của mục {model.value} phải là danh sách ngưỡng '
                    f'("b" of a {model.value} item must be a list of thresholds)'
                )
            b_value = [_field_number(where, f"b[{k}]", v) for k, v in enumerate(b)]
        c = item.get("c", 0.0)
        c_value = 0.0 if c is None else _field_number(where, "c", c)
        ids.append(item_id)
        models.append(model)
        slopes.append(slope)
        difficulties.append(b_value)
        asymptotes.append(c_value if model is ItemModel.THREE_PL else 0.0)
    try:
        parameters = ItemParameters.from_lists(models, np.array(slopes), difficulties, asymptotes)
        return FixedItems(item_ids=tuple(ids), parameters=parameters)
    except ValueError as exc:
        raise ValueError(f"{path.name}: tham số không hợp lệ (invalid parameters: {exc})") from None


def _field_number(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(
            f'{where}: trường "{name}" phải là một số (field "{name}" must be a number, '
            f"got {value!r})"
        )
    return float(value)
