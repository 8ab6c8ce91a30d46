"""``sathach demo`` (interim): the bundled LSAT7 calibration beside mirt's published values."""

from __future__ import annotations

from click.testing import CliRunner

from webapp.cli import main


def test_demo_prints_the_comparison_with_mirt() -> None:
    outcome = CliRunner().invoke(main, ["demo"])
    assert outcome.exit_code == 0, outcome.output
    assert "Câu hỏi" in outcome.output and "Item.5" in outcome.output
    assert outcome.output.count("-2658.805") == 2  # sathach's log-likelihood and mirt's
    largest = float(outcome.output.strip().rsplit(":", 1)[1])
    assert largest < 0.01
