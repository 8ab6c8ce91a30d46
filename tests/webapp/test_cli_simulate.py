"""``sathach simulate`` through click's CliRunner: reports, blueprints, Sympson-Hetter mode and
errors naming the place."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from webapp.cli import main


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    items = []
    for i in range(150):
        items.append(
            {
                "item_id": f"IT-{i:03d}",
                "version": 1,
                "type": "single_choice",
                "status": "pretest" if i >= 140 else "operational",
                "competency": f"VN-TT02-2025:{1 + i % 3}.1",
                "context": None,
                "topic": ["T-SEC", "T-EDOC"][i % 2],
                "enemy_group": None,
                "parameters": {
                    "model": "2pl",
                    "a": float(rng.uniform(0.8, 2.0)),
                    "b": float(rng.normal()),
                    "c": 0.0,
                    "provisional": False,
                },
            }
        )
    path = tmp_path / "bank.json"
    path.write_text(json.dumps({"framework": {}, "courses": [], "items": items}), encoding="utf-8")
    return path


def _run(*arguments: str):
    return CliRunner().invoke(main, ["simulate", *arguments], catch_exceptions=False)


def test_plain_fixed_length_simulation_writes_the_report(bank: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = _run(
        "--bank",
        str(bank),
        "--examinees",
        "200",
        "--seed",
        "3",
        "--out",
        str(out),
        "--length",
        "20",
        "--selection",
        "kl",
        "--estimator",
        "map",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert len(report["simulees"]) == 200
    summary = report["summary"]
    assert summary["mean_length"] == 20 and summary["rmse"] < 0.45
    assert report["blueprint"]["selection"]["rule"] == "kl"
    assert all(item.startswith("IT-") for item in report["simulees"][0]["items"])
    again = tmp_path / "again.json"
    _run(
        "--bank",
        str(bank),
        "--examinees",
        "200",
        "--seed",
        "3",
        "--out",
        str(again),
        "--length",
        "20",
        "--selection",
        "kl",
        "--estimator",
        "map",
    )
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_blueprint_and_thetas_file(bank: Path, tmp_path: Path) -> None:
    blueprint = tmp_path / "blueprint.json"
    blueprint.write_text(
        json.dumps(
            {
                "length": {"min": 10, "max": 25},
                "cut_theta": 0.0,
                "pretest_items": 2,
                "classification": {"rule": "sprt", "indifference": 0.3},
                "content": {"constraints": [{"kind": "topic", "code": "T-SEC", "min": 4}]},
            }
        ),
        encoding="utf-8",
    )
    thetas = tmp_path / "thetas.txt"
    thetas.write_text("-1.5\n0.2\n\n1.7\n", encoding="utf-8")
    out = tmp_path / "report.json"
    result = _run(
        "--bank",
        str(bank),
        "--blueprint",
        str(blueprint),
        "--thetas",
        str(thetas),
        "--seed",
        "1",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [s["true_theta"] for s in report["simulees"]] == [-1.5, 0.2, 1.7]
    assert report["summary"]["content_violations"] == 0
    assert report["summary"]["classification"] is not None
    assert all(len(s["pretest_items"]) == 2 for s in report["simulees"])


def test_sympson_hetter_mode_writes_exposure_parameters(bank: Path, tmp_path: Path) -> None:
    exposure = tmp_path / "exposure.json"
    out = tmp_path / "report.json"
    result = _run(
        "--bank",
        str(bank),
        "--length",
        "20",
        "--examinees",
        "400",
        "--seed",
        "2",
        "--sympson-hetter-target",
        "0.3",
        "--write-exposure",
        str(exposure),
        "--iterations",
        "6",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    document = json.loads(exposure.read_text(encoding="utf-8"))
    parameters = document["exposure_parameters"]
    assert len(parameters) == 150 and min(parameters.values()) < 1.0
    assert all(0.0 <= k <= 1.0 for k in parameters.values())
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["blueprint"]["exposure"]["method"] == "sympson_hetter"
    assert report["summary"]["max_exposure"] <= 0.36
    # The parameters read back with --exposure.
    again = tmp_path / "again.json"
    blueprint = tmp_path / "sh.json"
    blueprint.write_text(json.dumps(report["blueprint"]), encoding="utf-8")
    result = _run(
        "--bank",
        str(bank),
        "--blueprint",
        str(blueprint),
        "--exposure",
        str(exposure),
        "--examinees",
        "400",
        "--seed",
        "2",
        "--out",
        str(again),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(again.read_text())["summary"]["max_exposure"] <= 0.36


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--length", "20"], "--out"),
        (["--out", "r.json"], "--blueprint"),
        (
            ["--length", "20", "--out", "r.json", "--sympson-hetter-target", "0.2"],
            "--write-exposure",
        ),
        (["--length", "200", "--out", "r.json"], "length.max"),
    ],
)
def test_bad_invocations_exit_non_zero_with_a_message(
    bank: Path, tmp_path: Path, arguments: list[str], message: str
) -> None:
    arguments = [a if a != "r.json" else str(tmp_path / "r.json") for a in arguments]
    result = CliRunner().invoke(main, ["simulate", "--bank", str(bank), *arguments])
    assert result.exit_code != 0
    assert message in result.output and "Lỗi (error)" in result.output


def test_file_errors_name_the_place(bank: Path, tmp_path: Path) -> None:
    blueprint = tmp_path / "blueprint.json"
    blueprint.write_text(json.dumps({"length": {"min": 10, "max": 5}}), encoding="utf-8")
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--bank",
            str(bank),
            "--blueprint",
            str(blueprint),
            "--out",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code != 0 and "length.min" in result.output
    thetas = tmp_path / "thetas.txt"
    thetas.write_text("0.5\nhigh\n", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--bank",
            str(bank),
            "--length",
            "10",
            "--thetas",
            str(thetas),
            "--out",
            str(tmp_path / "r.json"),
        ],
    )
    assert result.exit_code != 0 and "line 2" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "items": [
                    {
                        "item_id": "A",
                        "status": "operational",
                        "competency": "X:1",
                        "parameters": None,
                    }
                ]
            }
        )
    )
    result = CliRunner().invoke(
        main,
        ["simulate", "--bank", str(broken), "--length", "1", "--out", str(tmp_path / "r.json")],
    )
    assert result.exit_code != 0 and "items[0] (A)" in result.output
    assert "parameters" in result.output
