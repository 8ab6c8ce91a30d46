"""``sathach bank``: validate, import, export, seed and count the item bank."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.orm import Session

from item_bank.db import configured_database_url, make_engine

URL_OPTION = click.option(
    "--url",
    envvar="SATHACH_DATABASE_URL",
    default=None,
    help="Database URL (default: SATHACH_DATABASE_URL or instance/sathach.sqlite).",
)


@contextmanager
def _session(url: str | None, *, upgrade: bool = True) -> Iterator[Session]:
    """A session in one transaction on an upgraded database; committed only on success."""
    target = url or configured_database_url()
    if upgrade:
        from webapp.migrations import upgrade as upgrade_schema

        upgrade_schema(target)
    engine = make_engine(target)
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _fail_with_issues(error: Exception) -> None:
    from item_bank import BankFileError

    if isinstance(error, BankFileError):
        click.echo(
            f"Có {len(error.issues)} lỗi, không nhập gì / {len(error.issues)} error(s), "
            "nothing imported:",
            err=True,
        )
        for issue in error.issues:
            click.echo(f"  {issue}", err=True)
        sys.exit(1)
    raise error


def _read(files: tuple[Path, ...]) -> list:
    from item_bank import BankFileError, ValidationIssue, read_bank_file

    documents, issues = [], []
    for file in files:
        try:
            documents.append(read_bank_file(file))
        except BankFileError as error:
            issues.extend(error.issues)
        except ValueError as error:
            issues.append(ValidationIssue(str(file), "", "", str(error)))
    if issues:
        _fail_with_issues(BankFileError(issues))
    return documents


@click.group("bank")
def cli() -> None:
    """Ngân hàng câu hỏi / The item bank: validate, import, export, seed, stats."""


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@URL_OPTION
def validate_command(files: tuple[Path, ...], url: str | None) -> None:
    """Kiểm tra tệp / Check bank FILES (JSON, CSV, XLSX) against the bank; nothing is written."""
    from item_bank import BankFileError, validate_documents

    documents = _read(files)
    with _session(url) as session:
        issues = validate_documents(session, documents)
        session.rollback()
    if issues:
        _fail_with_issues(BankFileError(issues))
    n_items = sum(len(document.items) for document in documents)
    click.echo(f"Hợp lệ: {n_items} câu hỏi / Valid: {n_items} items in {len(files)} file(s)")


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--actor", default="cli", show_default=True, help="Who imports (kept in history).")
@URL_OPTION
def import_command(files: tuple[Path, ...], actor: str, url: str | None) -> None:
    """Nhập tệp / Import bank FILES all or nothing (one transaction)."""
    from item_bank import BankFileError, import_documents

    documents = _read(files)
    try:
        with _session(url) as session:
            summary = import_documents(session, documents, actor=actor, progress=True)
    except BankFileError as error:
        _fail_with_issues(error)
    _echo_summary(summary)


@cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public", is_flag=True, help="Leave out keys, option scores and parameters.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["draft", "reviewed", "pretest", "operational", "retired"]),
    help="Only items with this status (repeatable).",
)
@URL_OPTION
def export_command(file: Path, public: bool, statuses: tuple[str, ...], url: str | None) -> None:
    """Xuất ngân hàng / Export the bank to FILE (.json, .csv or .xlsx)."""
    from item_bank import detect_format, export_bank, write_bank_file

    try:
        detect_format(file)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="FILE") from None
    with _session(url) as session:
        document = export_bank(session, public=public, statuses=statuses or None)
    write_bank_file(file, document, public=public)
    click.echo(
        f"Đã xuất {len(document['items'])} câu hỏi / Exported "
        f"{len(document['items'])} items to {file}"
    )


@cli.command("seed")
@URL_OPTION
def seed_command(url: str | None) -> None:
    """Nạp dữ liệu mẫu / Load the framework, the national course and the seed items."""
    from item_bank import BankFileError, seed_bank

    try:
        with _session(url) as session:
            summary = seed_bank(session, progress=True)
    except BankFileError as error:
        _fail_with_issues(error)
    if not summary.changed:
        click.echo("Không có thay đổi / Nothing to do: the seed bank is already loaded")
        return
    _echo_summary(summary)


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@URL_OPTION
def stats_command(as_json: bool, url: str | None) -> None:
    """Thống kê / Count items by competency, topic, status, type and intended difficulty."""
    from item_bank import bank_statistics

    with _session(url) as session:
        statistics = bank_statistics(session)
    if as_json:
        click.echo(json.dumps(statistics.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"Tổng số câu hỏi / Items: {statistics.n_items}")
    sections = (
        ("Năng lực / Competency", statistics.by_competency),
        ("Chuyên đề / Topic", statistics.by_topic),
        ("Trạng thái / Status", statistics.by_status),
        ("Loại câu hỏi / Type", statistics.by_type),
        ("Độ khó dự kiến / Intended difficulty", statistics.by_difficulty),
        ("Bối cảnh / Context", statistics.by_context),
    )
    for title, counts in sections:
        click.echo(f"\n{title}")
        width = max((len(value) for value, _ in counts), default=0)
        for value, count in counts:
            click.echo(f"  {value:<{width}}  {count:>5}")


def _echo_summary(summary) -> None:
    click.echo(
        "Đã nhập / Imported: "
        f"{summary.items_created} new, {summary.items_updated} updated, "
        f"{summary.versions_created} new versions, {summary.status_changes} status changes, "
        f"{summary.parameters_set} parameter sets, "
        f"{summary.provisional_parameters_set} provisional, {summary.items_unchanged} unchanged; "
        f"framework {'updated' if summary.framework_changed else 'unchanged'}, "
        f"{summary.courses_changed} course(s) updated"
    )
