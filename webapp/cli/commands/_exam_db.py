"""A database session for the exam commands (``sweep``, ``rescore``), outside any web app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session, sessionmaker

URL_OPTION = click.option(
    "--url",
    envvar="SATHACH_DATABASE_URL",
    default=None,
    help="Database URL (default: SATHACH_DATABASE_URL or instance/sathach.sqlite).",
)


@contextmanager
def exam_session(url: str | None) -> Iterator[Session]:
    """A session on the configured (already upgraded) database; closed and disposed after."""
    import webapp.exams.models  # maps the exam tables (and, through it, users)
    import webapp.models  # noqa: F401  (maps users and org units)
    from item_bank.db import configured_database_url, make_engine

    engine = make_engine(url or configured_database_url())
    try:
        with sessionmaker(bind=engine, expire_on_commit=False)() as session:
            yield session
    finally:
        engine.dispose()
