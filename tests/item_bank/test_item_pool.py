"""From the bank to exam.ItemPool: filters, the version/estimate mapping, skipped items."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from calibration import item_information
from exam import ItemPool
from item_bank.exceptions import ItemNotFoundError, UnknownCodeError
from item_bank.item_pool import build_item_pool
from item_bank.items import create_item, edit_item, record_administration, transition_item
from item_bank.models import Item, ItemStatus
from item_bank.parameters import (
    ParameterValues,
    add_estimate,
    assign_provisional_parameters,
    create_calibration_run,
)
from item_bank.seed import seed_bank


@pytest.fixture
def small_bank(bank_session, make_content, make_ordered_content):
    """Five items: operational easy/hard/ordered (one calibrated), a pretest item, a draft."""
    specs = [
        ("SEC-1", make_content(difficulty="easy", enemy_group="EG-A"), ItemStatus.OPERATIONAL),
        (
            "SEC-2",
            make_content(difficulty="hard", enemy_group="EG-A", competency_tag="VN-TT02-2025:4.2"),
            ItemStatus.OPERATIONAL,
        ),
        (
            "SHEET-1",
            make_ordered_content(
                topic_id="T-SHEET", competency_tag="VN-TT02-2025:1.3", context_tag="PROJ-CSX:DATA"
            ),
            ItemStatus.OPERATIONAL,
        ),
        ("SEC-3", make_content(), ItemStatus.PRETEST),
        ("SEC-4", make_content(), ItemStatus.DRAFT),
    ]
    versions = [
        create_item(bank_session, item_id, content, actor="w", status=status).current_version
        for item_id, content, status in specs
    ]
    assign_provisional_parameters(bank_session, versions, actor="seed")
    run = create_calibration_run(bank_session, model="3pl", sample_size=800, approved_by="psy")
    add_estimate(
        bank_session, run, versions[1], ParameterValues("3pl", 1.7, (1.2,), 0.18), activate=True
    )
    return bank_session


def test_the_pool_carries_parameters_codes_and_the_bank_mapping(small_bank) -> None:
    bank_pool = build_item_pool(small_bank)
    pool = bank_pool.pool
    assert isinstance(pool, ItemPool)
    assert pool.item_ids == ("SEC-1", "SEC-2", "SHEET-1")
    assert [m.value for m in pool.parameters.models] == ["2pl", "3pl", "gpcm"]
    assert_allclose(pool.parameters.a, [1.0, 1.7, 1.0])
    assert_allclose(pool.parameters.c, [0.0, 0.18, 0.0])
    # provisional rule: easy -> b = -1; the easy 3-category item gets steps -1.5, -0.5
    assert_allclose(pool.parameters.b[:, 0], [-1.0, 1.2, -1.5])
    assert_allclose(pool.parameters.b[2], [-1.5, -0.5])
    assert pool.parameters.n_categories.tolist() == [2, 2, 3]
    assert pool.competencies == ("VN-TT02-2025:4.1", "VN-TT02-2025:4.2", "VN-TT02-2025:1.3")
    assert pool.topics == ("T-SEC", "T-SEC", "T-SHEET")
    assert pool.enemy_groups == ("EG-A", "EG-A", None)
    assert bank_pool.provisional == (True, False, True)
    for item_id in pool.item_ids:
        item = small_bank.get(Item, item_id)
        assert bank_pool.version_id_of(item_id) == item.current_version.id
    assert bank_pool.skipped == ()
    with pytest.raises(ItemNotFoundError, match="SEC-4"):
        bank_pool.version_id_of("SEC-4")


def test_statuses_competencies_course_and_topic_filter_the_pool(small_bank) -> None:
    with_pretest = build_item_pool(small_bank, statuses=["operational", "pretest"]).pool
    assert with_pretest.item_ids == ("SEC-1", "SEC-2", "SEC-3", "SHEET-1")
    assert with_pretest.is_pretest.tolist() == [False, False, True, False]
    domain = build_item_pool(small_bank, competencies=["VN-TT02-2025:4"]).pool
    assert domain.item_ids == ("SEC-1", "SEC-2")
    exact = build_item_pool(small_bank, competencies=["VN-TT02-2025:4.2"]).pool
    assert exact.item_ids == ("SEC-2",)
    assert build_item_pool(small_bank, course_id="KNS-CBCX").pool.n_items == 3
    assert build_item_pool(small_bank, topics=["T-SHEET"]).pool.item_ids == ("SHEET-1",)
    calibrated = build_item_pool(small_bank, include_provisional=False)
    assert calibrated.pool.item_ids == ("SEC-2",)
    assert [reason for _, reason in calibrated.skipped] == ["provisional parameters excluded"] * 2
    with pytest.raises(UnknownCodeError, match=r"VN-TT02-2025:9\.9"):
        build_item_pool(small_bank, competencies=["VN-TT02-2025:9.9"])
    with pytest.raises(UnknownCodeError, match="NO-COURSE"):
        build_item_pool(small_bank, course_id="NO-COURSE")
    with pytest.raises(ItemNotFoundError, match="no usable item"):
        build_item_pool(small_bank, statuses=["retired"])


def test_an_item_edited_after_administration_waits_for_new_parameters(small_bank) -> None:
    before = build_item_pool(small_bank)
    record_administration(small_bank, [before.version_id_of("SEC-1")])
    edit_item(small_bank, "SEC-1", {"key": "B"}, actor="editor")
    after = build_item_pool(small_bank)
    assert "SEC-1" not in after.pool.item_ids
    assert after.skipped == (("SEC-1", "no active parameters for version 2"),)
    assert after.fingerprint != before.fingerprint
    transition_item(small_bank, "SEC-2", "retired", actor="psy", reason="overexposed")
    assert build_item_pool(small_bank).pool.item_ids == ("SHEET-1",)


def test_exposure_parameters_reach_the_pool_and_the_pool_computes(small_bank) -> None:
    bank_pool = build_item_pool(small_bank, exposure_parameters={"SEC-2": 0.4})
    assert bank_pool.pool.exposure_parameters.tolist() == [1.0, 0.4, 1.0]
    information = item_information(bank_pool.pool.parameters, np.array([0.0]))
    assert information.shape == (1, 3) and np.all(information > 0)
    assert build_item_pool(small_bank).fingerprint == build_item_pool(small_bank).fingerprint


def test_the_seed_bank_becomes_a_pool(db_session) -> None:
    summary = seed_bank(db_session)
    bank_pool = build_item_pool(db_session)
    assert bank_pool.pool.n_items == summary.items_created
    assert all(bank_pool.provisional) and bank_pool.skipped == ()
