"""``sathach serve``: a real deployment through gunicorn (``--bind``, ``--workers``).

It never creates accounts or secrets: it refuses to start without ``SATHACH_SECRET_KEY`` or on a
database whose schema is not at the latest revision (``sathach db upgrade``); the first admin
comes from ``sathach users create-admin``. Each worker builds its own app and engine after the
fork, so no connection is shared between processes.
"""

from __future__ import annotations

from typing import Any

import click
from gunicorn.app.base import BaseApplication


def _check_schema(url: str) -> None:
    from alembic.script import ScriptDirectory

    from webapp.migrations import alembic_config, current_revisions

    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    current = set(current_revisions(url))
    if current != heads:
        raise click.ClickException(
            "Cơ sở dữ liệu chưa được nâng cấp lên phiên bản mới nhất: chạy 'sathach db upgrade'."
            f" / The database schema is at {sorted(current) or 'nothing'}, not {sorted(heads)}:"
            " run 'sathach db upgrade' first."
        )


@click.command("serve")
@click.option(
    "--bind",
    default="127.0.0.1:8000",
    show_default=True,
    envvar="SATHACH_BIND",
    help="Address to listen on (host:port, or unix:PATH).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    envvar="SATHACH_WORKERS",
    help="Number of worker processes.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Threads per worker.",
)
@click.option(
    "--timeout",
    type=click.IntRange(5, 3600),
    default=60,
    show_default=True,
    help="Seconds before a silent worker is restarted.",
)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
def cli(bind: str, workers: int, threads: int, timeout: int, access_log: bool) -> None:
    """Chạy máy chủ triển khai / Run the production server (gunicorn; SATHACH_* environment)."""
    from webapp.app import create_app
    from webapp.config import check_production_config
    from webapp.exceptions import ConfigurationError
    from webapp.extensions import db

    app = create_app()
    try:
        check_production_config(app.config)
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    finally:
        db.engine(app).dispose()
    _check_schema(app.config["DATABASE_URL"])
    run_gunicorn(bind, workers=workers, threads=threads, timeout=timeout, access_log=access_log)


def run_gunicorn(
    bind: str, *, workers: int, threads: int, timeout: int = 60, access_log: bool = True
) -> None:
    """Serve ``create_app()`` (configured from the ``SATHACH_*`` environment) with gunicorn."""
    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": timeout,
        "graceful_timeout": 30,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "preload_app": False,
        # gunicorn >= 25 otherwise opens a control socket shared by every server of the user
        "control_socket_disable": True,
    }
    click.echo(f"sathach: gunicorn {bind}, {workers} worker(s) x {threads} thread(s)", err=True)
    _GunicornApplication(options).run()


class _GunicornApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn driven from Python: each worker calls :meth:`load` after the fork."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from webapp.app import create_app
        from webapp.worker import prepare_worker_interpreter

        app = create_app()
        prepare_worker_interpreter()
        return app
