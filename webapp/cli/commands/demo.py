"""``sathach demo``: the whole product on the embedded database, ready to click through.

It creates (or reuses) the SQLite database under ``instance/`` (or ``SATHACH_DATABASE_URL``),
upgrades its schema, loads the framework, course and seed bank, simulates a history of past
examinees and calibrates the bank on it, creates one demo account per role and serves the app.
Demo accounts and the demo secret key exist only in this mode; ``sathach serve`` never makes
them.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

import click

DEFAULT_PASSWORD = "demo"
SECRET_FILE = "demo-secret-key"


def _demo_secret(instance_dir: Path) -> str:
    """A random secret kept beside the demo database, so logins survive a restart."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / SECRET_FILE
    if not path.exists():
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _print_accounts(password: str) -> None:
    from webapp.services.demo import DEMO_LEARNERS

    click.echo(
        "Tài khoản demo (demo accounts), mật khẩu (password): " + click.style(password, bold=True)
    )
    rows = [(name, "học viên / learner") for name in DEMO_LEARNERS]
    rows += [
        ("psychometrician", "chuyên gia đo lường / psychometrician"),
        ("manager", "quản lý / manager"),
        ("admin", "quản trị / admin"),
    ]
    for username, role in rows:
        click.echo(f"  {username:<16} {role}")


@click.command("demo")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--demo-password",
    default=DEFAULT_PASSWORD,
    show_default=True,
    help="Password of every demo account.",
)
@click.option(
    "--examinees",
    type=click.IntRange(500, 200_000),
    default=3000,
    show_default=True,
    help="Past examinees in the simulated history the bank is calibrated on.",
)
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve after preparing.")
def cli(port: int, host: str, demo_password: str, examinees: int, serve: bool) -> None:
    """Chạy bản trình diễn đầy đủ trên SQLite / Run the full demo on the embedded database.

    Prepares the database (schema, seed bank, simulated history and calibration, demo accounts)
    and serves the web app on --host:--port. A second run reuses the same database.
    """
    from sqlalchemy.orm import Session

    from item_bank.db import DEFAULT_INSTANCE_DIR, configured_database_url, make_engine
    from webapp.demo import prepare_demo
    from webapp.migrations import upgrade

    if len(demo_password) < 4:
        raise click.BadParameter("at least 4 characters", param_hint="--demo-password")
    _print_accounts(demo_password)
    url = configured_database_url()
    click.echo(f"Cơ sở dữ liệu (database): {_printable(url)}")
    upgrade(url)
    steps = {
        "seed": "Nạp khung năng lực, khóa học và ngân hàng câu hỏi (loading the framework, "
        "course and seed bank)...",
        "calibrate": f"Mô phỏng {examinees:,} thí sinh và hiệu chỉnh ngân hàng (simulating "
        f"{examinees:,} past examinees and calibrating the bank)...",
        "accounts": "Tạo tài khoản demo (creating the demo accounts)...",
    }
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            summary = prepare_demo(
                session,
                password=demo_password,
                now=datetime.now(UTC),
                n_examinees=examinees,
                progress=lambda step: click.echo(steps[step]),
            )
    finally:
        engine.dispose()
    if summary.history is not None:
        history = summary.history
        click.echo(
            f"Đã hiệu chỉnh (calibrated) {history.n_items} câu hỏi trên {history.n_responses:,} "
            f"câu trả lời: log-likelihood {history.log_likelihood:,.1f}, {history.n_iter} vòng "
            f"(iterations); sai số so với tham số thật (RMSE vs the simulated truth) "
            f"a {history.rmse_a:.3f}, b {history.rmse_b:.3f}"
        )
    else:
        click.echo("Dùng lại cơ sở dữ liệu demo đã có (reusing the existing demo database).")
    if not serve:
        return

    from webapp.cli.commands.serve import run_gunicorn

    # Every gunicorn worker builds its app from the environment, as in production.
    os.environ.update(
        SATHACH_DEMO="true",
        SATHACH_SECRET_KEY=_demo_secret(Path(DEFAULT_INSTANCE_DIR)),
        SATHACH_DATABASE_URL=url,
    )
    click.echo(f"Mở trình duyệt (open): http://{host}:{port}/  (Ctrl+C để dừng / to stop)")
    run_gunicorn(f"{host}:{port}", workers=2, threads=4, access_log=False)


def _printable(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
