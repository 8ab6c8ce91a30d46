"""BANK.json to exam.ItemPool: calibration results and bank exports, errors naming the item
and the field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from item_bank.exceptions import BankFileError
from item_bank.pool_files import UNTAGGED_COMPETENCY, pool_from_document, read_pool_file

CALIBRATION = {
    "model": "2pl",
    "n_persons": 1000,
    "n_items": 3,
    "log_likelihood": -1.0,
    "items": [
        {"item_id": "Q1", "model": "2pl", "a": 1.2, "b": -0.5, "c": 0.0, "se_a": 0.1},
        {"item_id": "Q2", "model": "grm", "a": 0.9, "b": [-1.0, 0.2, 1.4], "c": 0.0},
        {"item_id": "Q3", "model": "3pl", "a": 1.5, "b": 0.3, "c": 0.2},
    ],
    "excluded": [],
}


def _export_item(item_id: str, **changes: object) -> dict:
    item = {
        "item_id": item_id,
        "version": 1,
        "type": "single_choice",
        "status": "operational",
        "competency": "VN-TT02-2025:4.2",
        "context": "PROJ-CSX:ESIG",
        "topic": "T-SEC",
        "enemy_group": None,
        "parameters": {"model": "2pl", "a": 1.1, "b": 0.4, "c": 0.0, "provisional": True},
    }
    item.update(changes)
    return item


def test_calibration_result_becomes_a_pool(tmp_path: Path) -> None:
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(CALIBRATION), encoding="utf-8")
    pool = read_pool_file(path)
    assert pool.item_ids == ("Q1", "Q2", "Q3")
    assert [str(m) for m in pool.parameters.models] == ["2pl", "grm", "3pl"]
    assert pool.parameters.n_categories.tolist() == [2, 4, 2]
    assert_allclose(pool.parameters.c, [0.0, 0.0, 0.2])
    assert pool.parameters.thresholds(1) == [-1.0, 0.2, 1.4]
    assert pool.competencies == (UNTAGGED_COMPETENCY,) * 3
    assert not pool.is_pretest.any()


def test_bank_export_keeps_operational_and_pretest_items_only() -> None:
    document = {
        "framework": {},
        "courses": [],
        "items": [
            _export_item("SEC-001"),
            _export_item("SEC-002", status="pretest", enemy_group="G1"),
            _export_item("SEC-003", status="draft", parameters=None),
            _export_item("SEC-004", status="retired"),
            _export_item(
                "SEC-005",
                topic=None,
                enemy_group="G1",
                parameters={"model": "gpcm", "a": 0.8, "b": [-0.5, 0.5], "c": None},
            ),
        ],
    }
    pool = pool_from_document(document, exposure_parameters={"SEC-001": 0.4, "OTHER": 0.1})
    assert pool.item_ids == ("SEC-001", "SEC-002", "SEC-005")
    assert pool.is_pretest.tolist() == [False, True, False]
    assert pool.domains[0] == "VN-TT02-2025:4"
    assert pool.topics == ("T-SEC", "T-SEC", None)
    assert pool.enemy_groups == (None, "G1", "G1")
    assert_allclose(pool.exposure_parameters, [0.4, 1.0, 1.0])


@pytest.mark.parametrize(
    ("item", "where", "field"),
    [
        (_export_item("X1", parameters=None), "items[1] (X1)", "parameters"),
        (
            _export_item("X1", parameters={"model": "4pl", "a": 1, "b": 0}),
            "items[1] (X1)",
            "parameters.model",
        ),
        (
            _export_item("X1", parameters={"model": "2pl", "a": -1, "b": 0}),
            "items[1] (X1)",
            "parameters.a",
        ),
        (
            _export_item("X1", parameters={"model": "2pl", "a": 1, "b": "hard"}),
            "items[1] (X1)",
            "parameters.b",
        ),
        (
            _export_item("X1", parameters={"model": "grm", "a": 1, "b": [1.0, 0.0]}),
            "items[1] (X1)",
            "parameters.b",
        ),
        (
            _export_item("X1", parameters={"model": "2pl", "a": 1, "b": 0, "c": 0.3}),
            "items[1] (X1)",
            "parameters.c",
        ),
        (_export_item("X1", competency=""), "items[1] (X1)", "competency"),
        (_export_item("X1", topic=7), "items[1] (X1)", "topic"),
        (_export_item("A0"), "items[1] (A0)", "item_id"),
        (_export_item("X1", status=None), "items[1] (X1)", "status"),
        ({**_export_item("X1"), "item_id": ""}, "items[1]", "item_id"),
    ],
)
def test_errors_name_the_item_and_the_field(item: dict, where: str, field: str) -> None:
    document = {"framework": {}, "items": [_export_item("A0"), item]}
    with pytest.raises(BankFileError) as caught:
        pool_from_document(document, source="BANK.json")
    issue = caught.value.issues[0]
    assert (issue.file, issue.location, issue.field) == ("BANK.json", where, field)
    assert f"BANK.json: {where}: {field}" in str(caught.value)


def test_every_problem_is_reported_and_nothing_is_returned() -> None:
    document = {
        "model": "2pl",
        "items": [
            {"item_id": "Q1", "a": 0, "b": 0.0},
            {"item_id": "Q2", "a": 1.0, "b": [0.0, 1.0]},
            {"item_id": "Q3", "a": 1.0, "b": 0.0},
        ],
    }
    with pytest.raises(BankFileError) as caught:
        pool_from_document(document)
    assert [(i.location, i.field) for i in caught.value.issues] == [
        ("items[0] (Q1)", "a"),
        ("items[1] (Q2)", "b"),
    ]


def test_unreadable_files_name_the_place(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"items": [\n  {"item_id": 1,,}\n]}', encoding="utf-8")
    with pytest.raises(BankFileError, match=r"broken.json: line 2, column \d+"):
        read_pool_file(broken)
    with pytest.raises(BankFileError, match="cannot be read"):
        read_pool_file(tmp_path / "missing.json")
    with pytest.raises(BankFileError, match="list of items"):
        pool_from_document({"items": {}})
    with pytest.raises(BankFileError, match="exposure_parameter"):
        pool_from_document(CALIBRATION, exposure_parameters={"Q1": 2.0})
    assert np.all(pool_from_document(CALIBRATION).exposure_parameters == 1.0)
