"""The ``sathach db`` and ``sathach bank`` commands, end to end on a real database."""

from __future__ import annotations

import json

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from webapp.cli import main
from webapp.migrations import alembic_config


@pytest.fixture
def run(fresh_database_url, monkeypatch):
    """Invoke ``sathach`` against the test's own database; returns the click result."""
    monkeypatch.setenv("SATHACH_DATABASE_URL", fresh_database_url)
    runner = CliRunner()

    def invoke(*arguments: str):
        return runner.invoke(main, list(arguments), catch_exceptions=False)

    return invoke


def test_db_upgrade_creates_the_schema_in_the_instance_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SATHACH_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert "not initialised" in runner.invoke(main, ["db", "current"]).output
    result = runner.invoke(main, ["db", "upgrade"], catch_exceptions=False)
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert result.exit_code == 0 and heads[0] in result.output
    assert (tmp_path / "instance" / "sathach.sqlite").is_file()
    assert heads[0] in runner.invoke(main, ["db", "current"]).output


def test_seed_twice_then_stats(run) -> None:
    first = run("bank", "seed")
    assert first.exit_code == 0 and "framework updated" in first.output
    second = run("bank", "seed")
    assert second.exit_code == 0 and "Nothing to do" in second.output
    statistics = json.loads(run("bank", "stats", "--json").output)
    assert statistics["n_items"] == sum(statistics["by_topic"].values()) > 0
    assert set(statistics["by_status"]) == {"operational"}
    assert set(statistics["by_difficulty"]) <= {"easy", "medium", "hard"}
    table = run("bank", "stats").output
    for heading in ("Competency", "Topic", "Status", "Type", "Intended difficulty"):
        assert heading in table
    assert "VN-TT02-2025:4.1" in table and "T-SEC" in table


@pytest.mark.slow
def test_export_validate_import_round_trip(run, tmp_path) -> None:
    run("bank", "seed")
    for suffix in ("json", "csv", "xlsx"):
        path = tmp_path / f"bank.{suffix}"
        assert run("bank", "export", str(path)).exit_code == 0
        result = run("bank", "validate", str(path))
        assert result.exit_code == 0 and "Valid" in result.output
        result = run("bank", "import", str(path))
        assert result.exit_code == 0 and " 0 new, 0 updated" in result.output
    again = tmp_path / "again.json"
    run("bank", "export", str(again))
    assert again.read_bytes() == (tmp_path / "bank.json").read_bytes()
    public = tmp_path / "public.json"
    run("bank", "export", "--public", str(public))
    assert '"key"' not in public.read_text(encoding="utf-8")


def test_a_bad_file_fails_with_every_error_and_changes_nothing(run, tmp_path) -> None:
    run("bank", "seed")
    before = tmp_path / "before.json"
    run("bank", "export", str(before))
    document = json.loads(before.read_text(encoding="utf-8"))
    document["items"][0]["key"] = "Z"
    document["items"][1]["stem"]["vi"] = ""
    document["items"][2]["explanation"]["vi"] = "Đã sửa nhưng tệp có lỗi"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    for command in ("validate", "import"):
        result = CliRunner().invoke(main, ["bank", command, str(bad)])
        assert result.exit_code == 1
        assert "2 error(s)" in result.output
        assert f"{bad}: items[0] ({document['items'][0]['item_id']}): key:" in result.output
        assert "stem.vi: the Vietnamese stem is empty" in result.output
    after = tmp_path / "after.json"
    run("bank", "export", str(after))
    assert after.read_bytes() == before.read_bytes()


def test_unknown_export_format_is_refused(run, tmp_path) -> None:
    result = CliRunner().invoke(main, ["bank", "export", str(tmp_path / "bank.txt")])
    assert result.exit_code == 2 and "unknown bank file format" in result.output
