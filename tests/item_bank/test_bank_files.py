"""Bank files: exact round-trips (JSON, CSV, XLSX), public exports, and every kind of error,
each naming file, row or item, field and problem; a file with an error imports nothing."""

from __future__ import annotations

import copy
import csv
import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from item_bank.bank_files import (
    bank_document_from_json,
    parse_csv_bank,
    parse_json_bank,
    parse_xlsx_bank,
    read_bank_file,
    write_bank_file,
    write_csv_bank,
    write_json_bank,
    write_xlsx_bank,
)
from item_bank.db import make_engine
from item_bank.exceptions import BankFileError
from item_bank.interchange import export_bank, import_documents, validate_documents
from item_bank.items import record_administration
from item_bank.models import Item, ItemVersion, ParameterEstimate, StatusTransition
from item_bank.seed import seed_bank


def _rich_items(make_record) -> list[dict]:
    """Items of every type and parameter model, with text that stresses CSV and XLSX."""
    multiple = make_record(
        item_id="TEST-002",
        type="multiple_response",
        key=["A", "C"],
        difficulty="hard",
        stem={"vi": 'Chọn tất cả, kể cả "dấu nháy", dấu phẩy,\nvà xuống dòng', "en": None},
        parameters={
            "model": "3pl",
            "a": 0.87,
            "b": -0.123456789012345,
            "c": 0.2,
            "provisional": False,
            "n_responses": 90,
            "se": None,
        },
        tags=[],
        media=["media/phishing-mail.png", "media/portal.png"],
        enemy_group="EG-1",
    )
    true_false = make_record(
        item_id="TEST-003",
        type="true_false",
        key="F",
        difficulty="easy",
        context=None,
        options=[
            {"id": "T", "text": {"vi": "Đúng", "en": "True"}},
            {"id": "F", "text": {"vi": "Sai", "en": "False"}},
        ],
        stem={"vi": "=SUM(C2:C9) cộng các ô từ C2 đến C9.", "en": "=SUM adds C2..C9."},
        parameters=None,
        enemy_group="EG-1",
    )
    ordered = make_record(
        item_id="TEST-004",
        type="ordered",
        key=None,
        topic="T-SHEET",
        competency="VN-TT02-2025:1.3",
        context="PROJ-CSX:DATA",
        options=[
            {"id": "A", "text": {"vi": "Khóa tệp và báo cáo", "en": "Lock and report"}, "score": 2},
            {
                "id": "B",
                "text": {"vi": "Xóa cột số CCCD", "en": "Delete the ID column"},
                "score": 1,
            },
            {"id": "C", "text": {"vi": "Gửi tệp qua Zalo", "en": None}, "score": 0},
        ],
        parameters={
            "model": "gpcm",
            "a": 1.1,
            "b": [-0.4, 0.9],
            "c": 0.0,
            "provisional": False,
            "n_responses": 300,
            "se": {"a": 0.09, "b": [0.12, 0.15], "c": None},
        },
    )
    graded = make_record(
        item_id="TEST-005",
        type="ordered",
        key=None,
        explanation={"vi": "Giải thích", "en": None},
        options=[
            {"id": opt, "text": {"vi": f"Mức {opt}", "en": None}, "score": score}
            for opt, score in zip("ABCD", [0, 3, 1, 2], strict=True)
        ],
        parameters={
            "model": "grm",
            "a": 2.0,
            "b": [-1.0, 0.0, 1.5],
            "c": 0.0,
            "provisional": True,
            "n_responses": 0,
            "se": None,
        },
        author=None,
        topic=None,
    )
    wide = make_record(
        item_id="TEST-006",
        key="H",
        options=[
            {"id": letter, "text": {"vi": f"Lựa chọn {letter}", "en": None}}
            for letter in "ABCDEFGH"
        ],
    )
    return [make_record(), multiple, true_false, ordered, graded, wide]


def _import(session: Session, document: dict, file: str = "bank.json"):
    return import_documents(session, [bank_document_from_json(document, file)], actor="tester")


def test_json_export_import_export_is_identical(bank_session, make_record) -> None:
    _import(bank_session, {"items": _rich_items(make_record)})
    first = export_bank(bank_session)
    assert [item["item_id"] for item in first["items"]] == [f"TEST-00{n}" for n in range(1, 7)]
    # the item without parameters got provisional ones from its intended difficulty (easy)
    assert first["items"][2]["parameters"] == {
        "model": "2pl",
        "a": 1.0,
        "b": -1.0,
        "c": 0.0,
        "provisional": True,
        "n_responses": 0,
        "se": None,
    }
    text = write_json_bank(first)
    summary = import_documents(bank_session, [parse_json_bank(text, "export.json")], actor="tester")
    assert not summary.changed and summary.items_unchanged == 6
    assert write_json_bank(export_bank(bank_session)) == text


@pytest.mark.slow
def test_json_round_trip_into_an_empty_database(db_session, fresh_database_url, tmp_path) -> None:
    seed_bank(db_session)
    exported = tmp_path / "bank.json"
    write_bank_file(exported, export_bank(db_session), public=False)
    engine = make_engine(fresh_database_url)
    try:
        with Session(engine) as session, session.begin():
            import_documents(session, [read_bank_file(exported)], actor="tester")
        with Session(engine) as session:
            again = tmp_path / "again.json"
            write_bank_file(again, export_bank(session), public=False)
    finally:
        engine.dispose()
    assert again.read_bytes() == exported.read_bytes()
    document = json.loads(exported.read_text(encoding="utf-8"))
    assert document["framework"]["recommended_primary_framework"] == "VN-TT02-2025"
    assert [course["course_id"] for course in document["courses"]] == ["KNS-CBCX"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_row_formats_round_trip_exactly(bank_session, make_record, tmp_path, fmt) -> None:
    _import(bank_session, {"items": _rich_items(make_record)})
    original = export_bank(bank_session)
    path = tmp_path / f"bank.{fmt}"
    write_bank_file(path, original, public=False)
    document = read_bank_file(path)
    # the rows carry every field of the items: re-reading gives the JSON records back
    assert [record.data for record in document.items] == original["items"]
    summary = import_documents(bank_session, [document], actor="tester")
    assert not summary.changed
    again = tmp_path / f"again.{fmt}"
    write_bank_file(again, export_bank(bank_session), public=False)
    if fmt == "csv":
        assert again.read_bytes() == path.read_bytes()
    assert [r.data for r in read_bank_file(again).items] == original["items"]


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_public_exports_leave_out_keys_scores_and_parameters(
    bank_session, make_record, tmp_path, fmt
) -> None:
    _import(bank_session, {"items": _rich_items(make_record)})
    public = export_bank(bank_session, public=True)
    assert all("key" not in item and "parameters" not in item for item in public["items"])
    assert all("score" not in option for item in public["items"] for option in item["options"])
    path = tmp_path / f"public.{fmt}"
    write_bank_file(path, public, public=True)
    if fmt == "xlsx":
        from openpyxl import load_workbook

        header = next(load_workbook(path).active.iter_rows(values_only=True))
    else:
        text = path.read_text(encoding="utf-8-sig")
        header = text.splitlines()[0].split(",") if fmt == "csv" else list(json.loads(text))
        if fmt == "json":
            assert '"key"' not in text and '"parameters"' not in text and '"score"' not in text
    assert "key" not in header and not any(str(c).startswith("param_") for c in header)
    assert not any(str(c).endswith("_score") for c in header)


def test_statuses_filter_the_export(bank_session, make_record) -> None:
    _import(bank_session, {"items": [make_record(), make_record(item_id="D-1", status="draft")]})
    assert [i["item_id"] for i in export_bank(bank_session, statuses=["draft"])["items"]] == ["D-1"]


def _issues(session: Session, documents) -> list:
    return validate_documents(session, documents)


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"key": None}, "key", "missing key"),
        ({"key": "Z"}, "key", "key 'Z' is not among the options A, B, C, D"),
        (
            {"competency": "VN-TT02-2025:7.1"},
            "competency",
            "unknown competency code 'VN-TT02-2025:7.1'",
        ),
        (
            {"options": [{"id": "A", "text": {"vi": "Chỉ một"}}], "key": "A"},
            "options",
            "1 options; an item needs 2 to 8",
        ),
        (
            {"options": [{"id": f"O{n}", "text": {"vi": f"P{n}"}} for n in range(9)], "key": "O1"},
            "options",
            "9 options; an item needs 2 to 8",
        ),
        ({"stem": {"vi": "", "en": "English only"}}, "stem.vi", "the Vietnamese stem is empty"),
        (
            {"parameters": {"model": "2pl", "a": 9.0, "b": 0.0, "c": 0.0, "provisional": False}},
            "parameters.a",
            "slope must be in (0, 5.0], got 9.0",
        ),
        (
            {"parameters": {"model": "2pl", "a": 1.0, "b": -7.5}},
            "parameters.b",
            "difficulties must be within ±6.0",
        ),
        ({"status": "published"}, "status", "unknown status 'published'"),
        ({"topic": "T-NONE"}, "topic", "unknown topic 'T-NONE'"),
    ],
)
def test_each_json_error_names_file_item_field_and_problem(
    bank_session, make_record, changes, field, problem
) -> None:
    items = [make_record(item_id="OK-1"), make_record(item_id="BAD-1", **changes)]
    issues = _issues(bank_session, [bank_document_from_json({"items": items}, "writer.json")])
    assert [(i.file, i.location, i.field) for i in issues] == [
        ("writer.json", "items[1] (BAD-1)", field)
    ], issues
    assert problem in issues[0].problem


def test_duplicate_ids_are_found_within_and_across_files(bank_session, make_record) -> None:
    first = bank_document_from_json({"items": [make_record(), make_record()]}, "a.json")
    second = bank_document_from_json({"items": [make_record()]}, "b.json")
    issues = _issues(bank_session, [first, second])
    assert [(i.file, i.location, i.field) for i in issues] == [
        ("a.json", "items[1] (TEST-001)", "item_id"),
        ("b.json", "items[0] (TEST-001)", "item_id"),
    ]
    assert "duplicate item id 'TEST-001' (first at a.json items[0] (TEST-001))" in (
        issues[1].problem
    )


def test_every_error_of_a_file_is_reported_at_once(bank_session, make_record) -> None:
    items = [
        make_record(item_id="A-1", key=None),
        make_record(item_id="A-2", stem={"vi": " "}),
        make_record(item_id="A-3", competency="VN-TT02-2025:0.0", key="Q"),
    ]
    issues = _issues(bank_session, [bank_document_from_json({"items": items}, "f.json")])
    assert [(i.location, i.field) for i in issues] == [
        ("items[0] (A-1)", "key"),
        ("items[1] (A-2)", "stem.vi"),
        ("items[2] (A-3)", "key"),
        ("items[2] (A-3)", "competency"),
    ]


def _csv_with(make_record, **changes) -> str:
    items = [make_record(item_id="OK-1"), make_record(item_id="BAD-1", **changes)]
    return write_csv_bank(items, public=False)


@pytest.mark.parametrize(
    ("changes", "column", "problem"),
    [
        ({"key": None}, "key", "missing key"),
        ({"key": "E"}, "key", "not among the options"),
        ({"competency": "VN-TT02-2025:8.8"}, "competency", "unknown competency code"),
        ({"stem": {"vi": None, "en": "x"}}, "stem_vi", "the Vietnamese stem is empty"),
        ({"options": [{"id": "A", "text": {"vi": "Một"}}], "key": "A"}, "option_*", "1 options"),
        (
            {"parameters": {"model": "3pl", "a": 1.0, "b": 0.0, "c": 0.9}},
            "param_c",
            "lower asymptote",
        ),
    ],
)
def test_each_csv_error_names_the_row_and_column(
    bank_session, make_record, changes, column, problem
) -> None:
    document = parse_csv_bank(_csv_with(make_record, **changes).encode(), "ministry.csv")
    issues = _issues(bank_session, [document])
    assert [(i.file, i.location, i.field) for i in issues] == [
        ("ministry.csv", "row 3 (BAD-1)", column)
    ], issues
    assert problem in issues[0].problem


def test_csv_cells_that_are_not_numbers_are_errors(make_record) -> None:
    text = _csv_with(make_record).replace(",1.3,", ",nhiều,", 1)
    with pytest.raises(BankFileError) as caught:
        parse_csv_bank(text, "m.csv")
    assert [(i.location, i.field) for i in caught.value.issues] == [("row 2 (OK-1)", "param_a")]


@pytest.mark.parametrize(
    ("make_bytes", "location", "problem"),
    [
        (lambda good: good[: len(good) // 2], "line", "malformed or truncated JSON"),
        (lambda good: b'{"items": [}', "line 1, column 12", "malformed or truncated JSON"),
        (lambda good: b"\xff\xfe not utf-8", "", "not UTF-8"),
    ],
)
def test_malformed_or_truncated_json_is_reported_with_its_place(
    make_record, make_bytes, location, problem
) -> None:
    good = write_json_bank({"items": [make_record()]}).encode()
    with pytest.raises(BankFileError) as caught:
        parse_json_bank(make_bytes(good), "cut.json")
    (issue,) = caught.value.issues
    assert issue.file == "cut.json" and issue.location.startswith(location)
    assert problem in issue.problem


def test_a_truncated_csv_row_and_an_open_quote_are_reported(make_record) -> None:
    text = _csv_with(make_record)
    lines = text.splitlines()
    truncated = "\r\n".join([*lines[:2], lines[2][:40]]) + "\r\n"
    with pytest.raises(BankFileError) as caught:
        parse_csv_bank(truncated, "cut.csv")
    assert [(i.location, i.problem.split(":")[0]) for i in caught.value.issues] == [
        ("row 3", "truncated row")
    ]
    # a quote left open swallows the rest of the file into one cell: the row comes up short
    with pytest.raises(BankFileError, match=r"quote.csv: row 3: truncated row"):
        parse_csv_bank(text[:-10] + '"unterminated', "quote.csv")
    with pytest.raises(BankFileError, match=r"malformed or truncated CSV"):
        parse_csv_bank(text.replace(",B,", ',"B"x,', 1), "stray.csv")
    with pytest.raises(BankFileError, match=r"missing columns \['competency'\]"):
        parse_csv_bank(text.replace("competency,", "competence,", 1), "header.csv")


def test_a_truncated_xlsx_workbook_is_reported(make_record) -> None:
    data = write_xlsx_bank([make_record()], public=False)
    with pytest.raises(BankFileError) as caught:
        parse_xlsx_bank(data[: len(data) // 2], "cut.xlsx")
    (issue,) = caught.value.issues
    assert issue.file == "cut.xlsx" and "malformed or truncated XLSX" in issue.problem


def _snapshot(session: Session) -> tuple:
    count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return (
        count(Item),
        count(ItemVersion),
        count(ParameterEstimate),
        count(StatusTransition),
        json.dumps(export_bank(session), sort_keys=True),
    )


def test_a_file_with_one_error_imports_nothing(bank_session, make_record) -> None:
    _import(bank_session, {"items": [make_record()]})
    before = _snapshot(bank_session)
    changed = make_record(stem={"vi": "Đổi nội dung", "en": "Changed"})
    broken = make_record(item_id="NEW-9", key="Z")
    with pytest.raises(BankFileError) as caught:
        _import(bank_session, {"items": [changed, make_record(item_id="NEW-1"), broken]})
    assert len(caught.value.issues) == 1 and "NEW-9" in str(caught.value)
    assert _snapshot(bank_session) == before


def test_a_failure_while_writing_rolls_the_whole_file_back(
    bank_session, make_record, monkeypatch
) -> None:
    before = _snapshot(bank_session)
    import item_bank.interchange as interchange

    calls = []
    real = interchange.create_item

    def failing_create_item(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(interchange, "create_item", failing_create_item)
    with pytest.raises(RuntimeError, match="disk full"):
        _import(bank_session, {"items": [make_record(item_id="N-1"), make_record(item_id="N-2")]})
    assert _snapshot(bank_session) == before


def test_importing_changes_follows_versions_and_lifecycle(bank_session, make_record) -> None:
    _import(bank_session, {"items": [make_record(status="draft")]})
    summary = _import(bank_session, {"items": [make_record(status="reviewed", key="C")]})
    assert (summary.items_updated, summary.status_changes) == (1, 1)
    item = bank_session.get(Item, "TEST-001")
    assert item.status == "reviewed" and item.transitions[-1].reason == "imported from bank.json"
    record_administration(bank_session, [item.current_version.id])
    issues = _issues(
        bank_session,
        [
            bank_document_from_json(
                {"items": [make_record(status="reviewed", key="A")]}, "edit.json"
            )
        ],
    )
    assert [(i.field, i.problem) for i in issues] == [
        (
            "version",
            "version 1 has been administered and cannot change; give the changed item version 2",
        )
    ]
    summary = _import(bank_session, {"items": [make_record(status="reviewed", key="A", version=2)]})
    assert summary.versions_created == 1 and item.current_version_number == 2
    issues = _issues(
        bank_session,
        [
            bank_document_from_json(
                {"items": [make_record(status="draft", key="A", version=2)]}, "back.json"
            )
        ],
    )
    assert [(i.field, i.problem) for i in issues] == []
    issues = _issues(
        bank_session,
        [
            bank_document_from_json(
                {"items": [make_record(status="retired", key="B", version=1)]}, "old.json"
            )
        ],
    )
    assert [i.field for i in issues] == ["version"]


def test_a_framework_and_courses_in_the_file_are_validated_too(db_session, make_record) -> None:
    from item_bank.courses import packaged_course
    from item_bank.frameworks import packaged_taxonomy

    course = copy.deepcopy(packaged_course())
    course["topics"][0]["competencies"] = ["VN-TT02-2025:4.9"]
    document = {"framework": packaged_taxonomy(), "courses": [course], "items": [make_record()]}
    issues = _issues(db_session, [bank_document_from_json(document, "full.json")])
    assert [(i.location, i.field) for i in issues] == [("courses[0]", "topics[0].competencies")]
    document["courses"] = [packaged_course()]
    summary = _import(db_session, document)
    assert summary.framework_changed and summary.courses_changed == 1
    assert summary.items_created == 1


def test_unknown_fields_are_errors_not_silently_dropped(bank_session, make_record) -> None:
    with pytest.raises(BankFileError, match="unknown top-level fields"):
        bank_document_from_json({"items": [], "extra": 1}, "typo.json")
    issues = _issues(
        bank_session, [bank_document_from_json({"items": [make_record(answer="B")]}, "typo.json")]
    )
    assert [(i.field, i.problem) for i in issues] == [("", "unknown fields ['answer']")]


def test_a_sheet_without_version_and_status_keeps_the_banks(bank_session, make_record) -> None:
    _import(bank_session, {"items": [make_record(status="operational")]})
    item = bank_session.get(Item, "TEST-001")
    record_administration(bank_session, [item.current_version.id])
    exported = export_bank(bank_session)["items"]
    exported[0]["stem"]["vi"] = "Thư điện tử nào giả mạo Cổng dịch vụ công?"
    text = write_csv_bank(exported, public=False)
    header, row = text.splitlines()[:2]
    columns = header.split(",")
    cells = next(csv.reader([row]))
    kept = [i for i, name in enumerate(columns) if name not in ("version", "status")]
    sheet = ",".join(columns[i] for i in kept) + "\r\n"
    sheet += ",".join(f'"{cells[i]}"' for i in kept) + "\r\n"
    summary = import_documents(bank_session, [parse_csv_bank(sheet, "sheet.csv")], actor="t")
    assert (summary.versions_created, summary.status_changes) == (1, 0)
    assert item.current_version_number == 2 and item.status == "operational"
    assert item.current_version.stem_vi == "Thư điện tử nào giả mạo Cổng dịch vụ công?"
