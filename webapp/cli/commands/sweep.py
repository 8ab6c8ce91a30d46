"""``sathach sweep``: finalize the exam sessions past their time limit (run it from cron).

A session past its deadline is also finalized at its next request; the sweep covers learners
who never come back, so their results and certificates exist without them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from webapp.cli.commands._exam_db import URL_OPTION, exam_session


@click.command("sweep")
@URL_OPTION
@click.option(
    "--now",
    "now_text",
    default=None,
    help="Treat this ISO time (UTC if no zone) as now, e.g. to test a deployment.",
)
def cli(url: str | None, now_text: str | None) -> None:
    """Kết thúc các phiên thi quá giờ / Finalize exam sessions past their time limit."""
    from webapp.exams.pools import PoolCache
    from webapp.exams.services import sweep_expired

    now = datetime.now(UTC)
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter(
                f"not an ISO date-time: {now_text!r}", param_hint="--now"
            ) from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    with exam_session(url) as session:
        finalized = sweep_expired(session, PoolCache(), now=now)
    listed = ", ".join(str(session_id) for session_id in finalized) or "-"
    click.echo(
        f"Đã kết thúc {len(finalized)} phiên thi quá giờ / "
        f"finalized {len(finalized)} session(s) past their time limit: {listed}"
    )
