"""RESULT.json: the exact structure the CLI promises, and loading it back as anchors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from calibration import ResponseData, calibrate
from item_bank.calibration_files import read_fixed_items, result_to_dict, write_result

DATA = Path(__file__).resolve().parents[1] / "data"


def _science_result():
    table = np.loadtxt(DATA / "Science_wide.csv", delimiter=",", skiprows=1) - 1
    data = ResponseData.from_dense(table, item_ids=["Comfort", "Work", "Future", "Benefit"])
    return calibrate(data, "grm")


def test_result_json_has_exactly_the_documented_fields(tmp_path: Path) -> None:
    result = _science_result()
    path = tmp_path / "RESULT.json"
    write_result(result, path, model="grm")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert set(document) == {
        "model",
        "n_persons",
        "n_items",
        "log_likelihood",
        "aic",
        "bic",
        "converged",
        "n_iter",
        "latent",
        "items",
        "excluded",
    }
    assert document["model"] == "grm" and document["n_persons"] == 392
    assert document["latent"] == {"mean": 0.0, "sd": 1.0}
    item = document["items"][0]
    assert set(item) == {
        "item_id",
        "model",
        "a",
        "b",
        "c",
        "se_a",
        "se_b",
        "se_c",
        "n_responses",
    }
    assert item["item_id"] == "Comfort" and len(item["b"]) == 3 and len(item["se_b"]) == 3
    assert item["b"] == sorted(item["b"]) and item["se_c"] is None and item["c"] == 0.0
    assert document["aic"] == pytest.approx(result.aic())


def test_dichotomous_items_have_scalar_difficulties_and_excluded_items_a_reason() -> None:
    rng = np.random.default_rng(3)
    theta = rng.normal(size=300)
    responses = (rng.random((300, 4)) < 1 / (1 + np.exp(-1.5 * theta[:, None]))).astype(float)
    responses[:, 3] = 0.0
    document = result_to_dict(calibrate(responses, "2pl"))
    assert document["model"] == "2pl" and document["n_items"] == 3
    assert all(isinstance(item["b"], float) for item in document["items"])
    assert document["excluded"][0]["item_id"] == "item_4"
    assert "no variance" in document["excluded"][0]["reason"]


def test_the_result_file_loads_back_as_fixed_anchor_items(tmp_path: Path) -> None:
    result = _science_result()
    path = tmp_path / "RESULT.json"
    write_result(result, path)
    anchors = read_fixed_items(path)
    assert anchors.item_ids == result.item_ids
    assert_allclose(anchors.parameters.a, result.parameters.a)
    assert_allclose(anchors.parameters.b, result.parameters.b)
    assert anchors.parameters.models == result.parameters.models


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"items": []}, 'no non-empty "items"'),
        ({"items": [{"item_id": "x", "model": "2pl", "b": 0.1}]}, 'missing field "a"'),
        ({"items": [{"item_id": "x", "model": "2pl", "a": "1", "b": 0}]}, 'field "a"'),
        ({"items": [{"item_id": "x", "model": "9pl", "a": 1, "b": 0}]}, "unknown model"),
        ({"items": [{"item_id": "x", "model": "grm", "a": 1, "b": 0.5}]}, "list of thresholds"),
        ({"items": [{"item_id": "x", "model": "2pl", "a": -1, "b": 0}]}, "invalid parameters"),
    ],
)
def test_bad_anchor_files_name_the_item_and_field(tmp_path, document, fragment) -> None:
    path = tmp_path / "PARAMS.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match=r"PARAMS\.json") as caught:
        read_fixed_items(path)
    assert fragment in str(caught.value)


def test_a_file_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "PARAMS.json"
    path.write_text('{"items": [\n oops]}', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_fixed_items(path)
