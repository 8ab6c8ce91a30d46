"""Loading the competency frameworks: codes, idempotence, revisions that add or drop codes."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from item_bank.exceptions import FrameworkError
from item_bank.frameworks import (
    current_taxonomy,
    extract_codes,
    known_tags,
    load_taxonomy,
    packaged_taxonomy,
)
from item_bank.items import create_item
from item_bank.models import CompetencyCode, Crosswalk, Framework, TaxonomyRevision


def test_packaged_taxonomy_has_the_tt02_structure_and_the_context_codes() -> None:
    records = extract_codes(packaged_taxonomy())
    tt02 = [r for r in records if r.framework_id == "VN-TT02-2025"]
    assert len([r for r in tt02 if r.kind == "domain"]) == 6
    assert len([r for r in tt02 if r.kind == "competency"]) == 24
    assert [r.code for r in tt02 if r.kind == "level"] == [
        "CB1",
        "CB2",
        "TC1",
        "TC2",
        "NC1",
        "NC2",
        "CS1",
        "CS2",
    ]
    competency_4_2 = next(r for r in tt02 if r.code == "4.2")
    assert competency_4_2.parent_tag == "VN-TT02-2025:4"
    contexts = {r.code for r in records if r.framework_id == "PROJ-CSX"}
    assert contexts == {"DX1", "DX2", "DX3", "EDOC", "ESIG", "PSV", "DATA", "SEC", "PRES", "AIGOV"}


def test_load_stores_frameworks_codes_crosswalks_and_is_idempotent(db_session) -> None:
    result = load_taxonomy(db_session, packaged_taxonomy(), actor="lead")
    assert result.changed and result.codes_added == len(extract_codes(packaged_taxonomy()))
    primary = db_session.scalars(select(Framework).where(Framework.is_primary)).all()
    assert [framework.id for framework in primary] == ["VN-TT02-2025"]
    assert {"TT02-to-DIGCOMP22", "CV3139-to-TT02", "TT03-to-TT02"} == set(
        db_session.scalars(select(Crosswalk.id))
    )
    assert "VN-TT02-2025:6.3" in known_tags(db_session)
    assert current_taxonomy(db_session) == packaged_taxonomy()
    again = load_taxonomy(db_session, packaged_taxonomy(), actor="lead")
    assert not again.changed
    assert len(db_session.scalars(select(TaxonomyRevision)).all()) == 1


def _with_new_competency(document: dict) -> dict:
    revised = copy.deepcopy(document)
    tt02 = next(f for f in revised["frameworks"] if f["id"] == "VN-TT02-2025")
    domain_6 = next(d for d in tt02["domains"] if d["code"] == "6")
    domain_6["competencies"].append(
        {"code": "6.4", "name_vi": "Quản trị AI trong cơ quan", "name_en": "AI governance"}
    )
    return revised


def test_a_revision_that_adds_codes_keeps_every_item_valid(bank_session, make_content) -> None:
    create_item(bank_session, "SEC-T1", make_content(), actor="writer")
    revised = _with_new_competency(packaged_taxonomy())
    result = load_taxonomy(bank_session, revised, actor="lead")
    assert (result.changed, result.codes_added, result.codes_removed) == (True, 1, 0)
    assert "VN-TT02-2025:6.4" in known_tags(bank_session)
    create_item(
        bank_session, "AI-T1", make_content(competency_tag="VN-TT02-2025:6.4"), actor="writer"
    )
    assert current_taxonomy(bank_session) == revised
    assert len(bank_session.scalars(select(TaxonomyRevision)).all()) == 2


def test_a_dropped_code_stays_while_used_and_goes_when_unused(bank_session, make_content) -> None:
    create_item(
        bank_session, "SEC-T1", make_content(competency_tag="VN-TT02-2025:4.1"), actor="writer"
    )
    revised = copy.deepcopy(packaged_taxonomy())
    tt02 = next(f for f in revised["frameworks"] if f["id"] == "VN-TT02-2025")
    # 4.1 is used by the item (and topics); 3.4 (programming) by nothing
    for domain in tt02["domains"]:
        domain["competencies"] = [
            c for c in domain["competencies"] if c["code"] not in ("4.1", "3.4")
        ]
    result = load_taxonomy(bank_session, revised, actor="lead")
    assert (result.codes_withdrawn, result.codes_removed) == (1, 1)
    kept = bank_session.scalar(
        select(CompetencyCode).where(CompetencyCode.tag == "VN-TT02-2025:4.1")
    )
    assert kept is not None and kept.in_current_revision is False
    assert "VN-TT02-2025:3.4" not in known_tags(bank_session)
    # loading the original again brings the withdrawn code back into the current revision
    load_taxonomy(bank_session, packaged_taxonomy(), actor="lead")
    assert kept.in_current_revision is True
    assert current_taxonomy(bank_session) == packaged_taxonomy()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"frameworks": []}, "non-empty list"),
        ({"frameworks": [{"name_vi": "x"}]}, "string 'id'"),
        ({"frameworks": [{"id": "X", "domains": [{"name_vi": "no code"}]}]}, "has no 'code'"),
        ({"frameworks": [{"id": "X", "contexts": [{"code": "A"}, {"code": "A"}]}]}, "duplicate"),
    ],
)
def test_a_malformed_framework_document_is_refused(db_session, document, message) -> None:
    with pytest.raises(FrameworkError, match=message):
        load_taxonomy(db_session, document)
