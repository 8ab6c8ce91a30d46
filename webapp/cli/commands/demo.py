"""``sathach demo``: calibrate the bundled LSAT7 data and compare with mirt's published values.

An interim demonstration of the calibration engine until the web application replaces it.
"""

from __future__ import annotations

import json
from importlib import resources

import click

from calibration import calibrate
from item_bank.response_files import read_responses

_EXAMPLES = "data/examples"


def _example(name: str):
    return resources.files("item_bank").joinpath(f"{_EXAMPLES}/{name}")


@click.command("demo")
def cli() -> None:
    """Trình diễn: hiệu chỉnh bộ LSAT7 (2PL) và so sánh với mirt.

    Demonstration: calibrate the bundled LSAT7 data (1,000 persons, 5 items) with the 2PL model
    and compare the estimates with those the R package mirt publishes.
    """
    reference = json.loads(_example("LSAT7_mirt_2pl.json").read_text(encoding="utf-8"))
    with resources.as_file(_example("LSAT7_patterns.csv")) as path:
        table = read_responses(path, count_column="count")
    result = calibrate(table.data, "2pl", tol=1e-6)
    mirt_items = {item["item"]: item for item in reference["items"]}

    click.echo("Hiệu chỉnh LSAT7, mô hình 2PL, MML-EM, 61 điểm cầu phương trên [-6, 6]")
    click.echo("(LSAT7 calibration, 2PL model, MML-EM, 61 quadrature nodes on [-6, 6])")
    click.echo(
        f"{result.n_persons:g} người (persons), {result.n_items} câu hỏi (items), "
        f"{result.n_iter} vòng EM (iterations), hội tụ (converged): "
        f"{'có (yes)' if result.converged else 'không (no)'}"
    )
    click.echo("")
    header = (
        f"{'Câu hỏi':<8} {'a':>7} {'SE(a)':>7} {'b':>7} {'SE(b)':>7}"
        f" | {'a mirt':>7} {'SE mirt':>7} {'b mirt':>7}"
    )
    click.echo(header)
    click.echo("-" * len(header))
    for i, item_id in enumerate(result.item_ids):
        mirt = mirt_items[item_id]
        click.echo(
            f"{item_id:<8} {result.parameters.a[i]:>7.3f} {result.se_a[i]:>7.3f} "
            f"{result.parameters.b[i, 0]:>7.3f} {result.se_b[i, 0]:>7.3f}"
            f" | {mirt['a']:>7.3f} {mirt['se_a']:>7.3f} {mirt['b_irt']:>7.3f}"
        )
    click.echo("")
    rows = [
        ("log-likelihood", result.log_likelihood, reference["loglik"]),
        ("AIC", result.aic(), reference["AIC"]),
        ("BIC", result.bic(), reference["BIC"]),
    ]
    click.echo(f"{'Chỉ số (index)':<16} {'sathach':>11} {'mirt':>11}")
    for name, ours, theirs in rows:
        click.echo(f"{name:<16} {ours:>11.3f} {theirs:>11.3f}")
    largest = max(
        abs(result.parameters.a[i] - mirt_items[item_id]["a"])
        for i, item_id in enumerate(result.item_ids)
    )
    click.echo("")
    click.echo(f"Chênh lệch lớn nhất của a so với mirt (largest slope difference): {largest:.4f}")
