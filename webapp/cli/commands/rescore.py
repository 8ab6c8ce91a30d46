"""``sathach rescore SESSION_ID``: recompute a finished session's score from its stored data
(item versions, parameter estimates, blueprint snapshot, seed and responses) and compare it
with the stored result. Exit status 0 when it is reproduced, bit for bit (on the machine that
scored it) or with every number within 1e-9 and all else equal (on another machine, whose
floating-point sums may differ in the last bits); 1 when it differs; 2 when it cannot be rescored.
"""

from __future__ import annotations

import json
import sys

import click

from webapp.cli.commands._exam_db import URL_OPTION, exam_session

_SHOWN = ("theta", "se", "scale_score", "scale_se", "passed", "n_scored", "stop_reason")


@click.command("rescore")
@click.argument("session_id", type=int)
@URL_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print both results as JSON.")
def cli(session_id: int, url: str | None, as_json: bool) -> None:
    """Chấm lại một phiên thi từ dữ liệu đã lưu / Rescore SESSION_ID from its stored data."""
    from webapp.exams.services import RESCORE_TOLERANCE, rescore_session
    from webapp.exceptions import WebappError

    with exam_session(url) as session:
        try:
            report = rescore_session(session, session_id)
        except WebappError as error:
            click.echo(f"Lỗi / Error: {error.message}", err=True)
            sys.exit(2)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "session_id": session_id,
                    "identical": report.identical,
                    "agrees": report.agrees,
                    "max_difference": report.max_difference,
                    "stored": report.stored,
                    "recomputed": report.recomputed,
                    "rescored_answers": report.rescored_answers,
                },
                indent=2,
            )
        )
    else:
        stored = report.stored or {}
        for name in _SHOWN:
            click.echo(f"{name:12} {stored.get(name)!r:>24} {report.recomputed.get(name)!r:>24}")
        for position, before, after in report.rescored_answers:
            click.echo(
                f"câu / position {position}: điểm lưu / stored {before}, chấm lại / "
                f"rescored {after}"
            )
        if "error" in report.recomputed:
            click.echo(report.recomputed["error"])
    if report.identical:
        click.echo(f"Phiên {session_id}: kết quả trùng khớp / session {session_id}: identical")
        return
    if report.agrees:
        click.echo(
            f"Phiên {session_id}: kết quả khớp, sai lệch lớn nhất {report.max_difference:.1e} "
            f"(dưới {RESCORE_TOLERANCE:.0e}) / session {session_id}: agrees, largest difference "
            f"{report.max_difference:.1e} (within {RESCORE_TOLERANCE:.0e}), not bit for bit"
        )
        return
    click.echo(f"Phiên {session_id}: KHÁC kết quả đã lưu / session {session_id}: DIFFERS", err=True)
    sys.exit(1)
