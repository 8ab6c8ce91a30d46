"""``sathach simulate``: simulate adaptive exams of a bank and blueprint and write REPORT.json.

With ``--sympson-hetter-target R --write-exposure OUT.json`` it first computes the Sympson-Hetter
exposure parameters of the bank and blueprint for a maximum exposure rate R, writes them, and
(when ``--out`` is given) simulates with them. ``--exposure FILE`` reads such parameters back.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from exam import (
    Blueprint,
    BlueprintError,
    InfeasibleBlueprintError,
    compute_sympson_hetter,
    simulate,
)
from exam.blueprint import ExposureMethod
from item_bank.exceptions import BankFileError
from item_bank.pool_files import read_pool_file


class SimulationInputError(click.ClickException):
    """Bad input: shown as one Vietnamese-first line, exit status 1."""

    def show(self, file=None) -> None:
        click.echo(f"Lỗi (error): {self.format_message()}", err=True)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SimulationInputError(f"không đọc được {what} {path} (cannot read: {error})") from None
    except json.JSONDecodeError as error:
        raise SimulationInputError(
            f"{path}: dòng {error.lineno}, cột {error.colno}: JSON không hợp lệ "
            f"(line {error.lineno}, column {error.colno}: invalid JSON: {error.msg})"
        ) from None


def _read_thetas(path: Path) -> list[float]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SimulationInputError(f"không đọc được {path} (cannot read: {error})") from None
    values = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise SimulationInputError(
                f"{path}: dòng {number}: {text!r} không phải một số "
                f"(line {number}: {text!r} is not a finite number)"
            )
        values.append(value)
    if not values:
        raise SimulationInputError(f"{path}: tệp không có năng lực nào (no ability in the file)")
    return values


def _read_exposure(path: Path) -> dict[str, float]:
    document = _read_json(path, "tệp tham số phơi nhiễm (exposure file)")
    parameters = document.get("exposure_parameters") if isinstance(document, dict) else None
    if not isinstance(parameters, dict):
        raise SimulationInputError(
            f"{path}: thiếu đối tượng exposure_parameters (expected an object "
            f"'exposure_parameters' of item id to number)"
        )
    return parameters


def _blueprint(
    blueprint_path: Path | None, length: int | None, selection: str, estimator: str
) -> Blueprint:
    if blueprint_path is None:
        if length is None:
            raise SimulationInputError(
                "cần --blueprint hoặc --length (give --blueprint, or --length for a plain "
                "fixed-length blueprint)"
            )
        return Blueprint.fixed_length(length, selection=selection, estimator=estimator)
    try:
        return Blueprint.from_dict(_read_json(blueprint_path, "bản thiết kế (blueprint)"))
    except BlueprintError as error:
        raise SimulationInputError(f"{blueprint_path}: {error}") from None


@click.command("simulate")
@click.option(
    "--bank",
    "bank_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ngân hàng câu hỏi / BANK.json (sathach calibrate output or bank export).",
)
@click.option(
    "--blueprint",
    "blueprint_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Bản thiết kế đề / BLUEPRINT.json.",
)
@click.option(
    "--examinees",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Số thí sinh mô phỏng / number of simulees drawn from N(0, 1).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Hạt giống ngẫu nhiên / random seed (same seed, same report).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Tệp báo cáo / REPORT.json.",
)
@click.option(
    "--thetas",
    "thetas_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Năng lực thật, mỗi dòng một số / true abilities, one number a line.",
)
@click.option(
    "--length",
    type=click.IntRange(min=1),
    help="Độ dài đề cố định (không có --blueprint) / fixed length without --blueprint.",
)
@click.option(
    "--selection",
    type=click.Choice(["mfi", "kl", "mpwi"]),
    default="mfi",
    show_default=True,
    help="Quy tắc chọn câu / selection rule (without --blueprint).",
)
@click.option(
    "--estimator",
    type=click.Choice(["eap", "map"]),
    default="eap",
    show_default=True,
    help="Ước lượng năng lực / ability estimator (without --blueprint).",
)
@click.option(
    "--exposure",
    "exposure_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Tham số Sympson-Hetter đã tính / exposure parameters from --write-exposure.",
)
@click.option(
    "--sympson-hetter-target",
    type=click.FloatRange(min=0.0, max=1.0, min_open=True),
    help="Tính tham số Sympson-Hetter cho tỉ lệ phơi nhiễm tối đa này / compute "
    "Sympson-Hetter parameters for this maximum exposure rate.",
)
@click.option(
    "--write-exposure",
    "write_exposure_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ghi tham số Sympson-Hetter / write the exposure parameters here.",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="Số vòng lặp Sympson-Hetter / Sympson-Hetter iterations.",
)
def cli(
    bank_path: Path,
    blueprint_path: Path | None,
    examinees: int,
    seed: int,
    out_path: Path | None,
    thetas_path: Path | None,
    length: int | None,
    selection: str,
    estimator: str,
    exposure_path: Path | None,
    sympson_hetter_target: float | None,
    write_exposure_path: Path | None,
    iterations: int,
) -> None:
    """Mô phỏng kỳ thi thích ứng / simulate adaptive exams and write a report."""
    if (sympson_hetter_target is None) != (write_exposure_path is None):
        raise SimulationInputError(
            "--sympson-hetter-target và --write-exposure đi cùng nhau "
            "(give --sympson-hetter-target and --write-exposure together)"
        )
    if out_path is None and write_exposure_path is None:
        raise SimulationInputError("cần --out (give --out REPORT.json)")
    blueprint = _blueprint(blueprint_path, length, selection, estimator)
    exposure = _read_exposure(exposure_path) if exposure_path is not None else None
    try:
        pool = read_pool_file(bank_path, exposure_parameters=exposure)
    except BankFileError as error:
        raise SimulationInputError(str(error)) from None
    thetas = _read_thetas(thetas_path) if thetas_path is not None else None
    try:
        if sympson_hetter_target is not None:
            click.echo(
                f"Tính tham số Sympson-Hetter (computing Sympson-Hetter parameters), "
                f"target {sympson_hetter_target:g} ...",
                err=True,
            )
            computed = compute_sympson_hetter(
                pool,
                blueprint,
                sympson_hetter_target,
                n_examinees=examinees,
                n_iterations=iterations,
                rng=seed,
            )
            document = computed.to_dict(pool)
            document["target_rate"] = sympson_hetter_target
            write_exposure_path.write_text(
                json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8"
            )
            click.echo(
                f"Đã ghi (wrote) {write_exposure_path}: max exposure {computed.max_exposure:.3f}",
                err=True,
            )
            pool = pool.with_exposure_parameters(computed.exposure_parameters)
            blueprint = replace(
                blueprint,
                exposure=replace(
                    blueprint.exposure,
                    method=ExposureMethod.SYMPSON_HETTER,
                    target_rate=sympson_hetter_target,
                ),
            )
        if out_path is None:
            return
        with tqdm(
            total=blueprint.length.max + blueprint.pretest_items,
            unit="item",
            desc="Mô phỏng (simulating)",
            disable=None,
        ) as bar:

            def progress(position: int, _total: int) -> None:
                bar.update(position - bar.n)

            result = simulate(
                pool,
                blueprint,
                n_examinees=None if thetas else examinees,
                thetas=thetas,
                rng=seed,
                progress=progress,
            )
    except (InfeasibleBlueprintError, BlueprintError) as error:
        raise SimulationInputError(str(error)) from None
    report = result.report()
    out_path.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    summary = report["summary"]
    click.echo(
        f"{summary['n_examinees']} thí sinh (simulees): bias {summary['bias']:+.3f}, "
        f"RMSE {summary['rmse']:.3f}, SE {summary['mean_se']:.3f}, "
        f"độ dài TB (mean length) {summary['mean_length']:.1f}, "
        f"phơi nhiễm tối đa (max exposure) {summary['max_exposure']:.3f} -> {out_path}"
    )
