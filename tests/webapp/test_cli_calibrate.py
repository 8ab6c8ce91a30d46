"""``sathach calibrate``: mirt's published values, anchors, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from webapp.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE = json.loads((DATA / "reference_open.json").read_text(encoding="utf-8"))


def _reference(dataset: str, ref_id: str) -> dict:
    return next(r for r in REFERENCE["datasets"][dataset]["references"] if r["id"] == ref_id)


def _run(tmp_path: Path, *arguments: str) -> tuple[object, dict | None]:
    out = tmp_path / "RESULT.json"
    outcome = CliRunner().invoke(main, ["calibrate", *arguments, "--out", str(out)])
    document = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
    return outcome, document


def test_lsat7_2pl_matches_mirt(tmp_path: Path) -> None:
    reference = _reference("LSAT7", "LSAT7_2PL_mirt")
    outcome, document = _run(
        tmp_path,
        str(DATA / "LSAT7_patterns.csv"),
        "--count-column",
        "count",
        "--model",
        "2pl",
        "--tol",
        "1e-6",
    )
    assert outcome.exit_code == 0, outcome.output
    assert document["log_likelihood"] == pytest.approx(reference["loglik"], abs=0.01)
    assert document["n_persons"] == 1000 and document["converged"] is True
    for item, expected in zip(document["items"], reference["items"], strict=True):
        assert item["item_id"] == expected["item"]
        assert item["a"] == pytest.approx(expected["a"], abs=0.01)
        assert -item["a"] * item["b"] == pytest.approx(expected["d"], abs=0.01)
        assert item["se_a"] == pytest.approx(expected["se_a"], abs=0.002)
    assert document["aic"] == pytest.approx(reference["fit"]["AIC"], abs=0.02)
    assert document["bic"] == pytest.approx(reference["fit"]["BIC"], abs=0.02)
    assert "log-likelihood -2658.805" in outcome.output


def test_lsat7_rasch_matches_mirt(tmp_path: Path) -> None:
    reference = _reference("LSAT7", "LSAT7_Rasch_mirt")
    outcome, document = _run(
        tmp_path,
        str(DATA / "LSAT7_patterns.csv"),
        "--count-column",
        "count",
        "--model",
        "rasch",
    )
    assert outcome.exit_code == 0, outcome.output
    assert document["log_likelihood"] == pytest.approx(reference["loglik"], abs=0.01)
    assert document["latent"]["sd"] ** 2 == pytest.approx(reference["group"]["var"], abs=0.002)
    assert document["items"][0]["se_b"] == pytest.approx(reference["se"]["Item.1_d"], abs=5e-4)
    assert all(item["a"] == 1.0 and item["se_a"] is None for item in document["items"])


def test_science_grm_matches_mirt(tmp_path: Path) -> None:
    reference = _reference("Science", "Science_GRM_mirt")
    outcome, document = _run(
        tmp_path, str(DATA / "Science_wide.csv"), "--model", "grm", "--tol", "1e-6"
    )
    assert outcome.exit_code == 0, outcome.output
    assert document["log_likelihood"] == pytest.approx(reference["loglik"], abs=0.01)
    for item, expected in zip(document["items"], reference["items"], strict=True):
        a = expected["a"]
        assert item["a"] == pytest.approx(a, abs=0.02)
        thresholds = [-expected[f"d{k}"] / a for k in (1, 2, 3)]
        assert item["b"] == pytest.approx(thresholds, abs=0.02)
        assert item["se_a"] == pytest.approx(expected["se_louis"]["a"], abs=0.01)


def test_long_format_and_anchors_round_trip(tmp_path: Path) -> None:
    table = np.loadtxt(DATA / "Science_wide.csv", delimiter=",", skiprows=1).astype(int)
    names = ["Comfort", "Work", "Future", "Benefit"]
    lines = ["person_id,item_id,score"] + [
        f"p{person},{names[item]},{table[person, item]}"
        for person in range(len(table))
        for item in range(4)
    ]
    long_file = tmp_path / "long.csv"
    long_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first_dir = tmp_path / "first"
    first_dir.mkdir()
    outcome, first = _run(first_dir, str(long_file), "--format", "long", "--model", "grm")
    assert outcome.exit_code == 0, outcome.output
    assert first["log_likelihood"] == pytest.approx(-1608.870, abs=0.01)
    outcome, anchored = _run(
        tmp_path,
        str(DATA / "Science_wide.csv"),
        "--model",
        "grm",
        "--fixed",
        str(first_dir / "RESULT.json"),
    )
    assert outcome.exit_code == 0, outcome.output
    # every item is an anchor: parameters kept, the latent scale of the same sample is N(0, 1)
    for kept, original in zip(anchored["items"], first["items"], strict=True):
        assert kept["a"] == original["a"] and kept["se_a"] is None
    assert anchored["latent"]["mean"] == pytest.approx(0.0, abs=0.01)
    assert anchored["latent"]["sd"] == pytest.approx(1.0, abs=0.01)
    assert "anchors" in outcome.output


@pytest.mark.parametrize(
    ("content", "arguments", "fragments"),
    [
        ("q1,q2\n0,1\n1,abc\n", [], ["line 3", 'column "q2"', "not a number"]),
        ("q1,q2\n0,1\n3,1\n", [], ['column "q1"', "category gap"]),
        ("q1\n0\n1\n", [], ["at least two item columns"]),
        ("", [], ["empty"]),
        ("q1,q2\n0,1\n1,0\n", ["--model", "4pl"], ["--model", "4pl", "rasch, 1pl"]),
        ("q1,q2\n0,1\n1,0\n", ["--count-column", "n"], ["count column"]),
    ],
)
def test_bad_input_exits_non_zero_with_a_message_naming_the_place(
    tmp_path: Path, content: str, arguments: list[str], fragments: list[str]
) -> None:
    path = tmp_path / "DATA.csv"
    path.write_text(content, encoding="utf-8")
    outcome, document = _run(tmp_path, str(path), *arguments)
    assert outcome.exit_code != 0 and document is None
    for fragment in fragments:
        assert fragment in outcome.output


def test_a_bad_anchor_file_and_an_iteration_cap_are_reported(tmp_path: Path) -> None:
    anchors = tmp_path / "PARAMS.json"
    anchors.write_text('{"items": [{"item_id": "Item.1"}]}', encoding="utf-8")
    outcome, _ = _run(
        tmp_path,
        str(DATA / "LSAT7_patterns.csv"),
        "--count-column",
        "count",
        "--fixed",
        str(anchors),
    )
    assert outcome.exit_code == 1 and 'missing field "model"' in outcome.output
    outcome, document = _run(
        tmp_path,
        str(DATA / "LSAT7_patterns.csv"),
        "--count-column",
        "count",
        "--max-iter",
        "2",
    )
    assert outcome.exit_code == 0 and document["converged"] is False
    assert "not converged" in outcome.output
