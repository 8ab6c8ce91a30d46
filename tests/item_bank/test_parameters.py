"""Parameter sets: the provisional rule, one active estimate per item, full history."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from item_bank.exceptions import InvalidParametersError
from item_bank.items import create_item, edit_item, record_administration
from item_bank.models import ParameterEstimate
from item_bank.parameters import (
    ParameterValues,
    activate_estimates,
    activate_run,
    active_estimate,
    active_estimates,
    add_estimate,
    assign_provisional_parameters,
    create_calibration_run,
    parameter_history,
    parameter_problems,
    provisional_parameters,
)


@pytest.mark.parametrize(
    ("difficulty", "b"), [("easy", -1.0), ("medium", 0.0), ("hard", 1.0), (None, 0.0)]
)
def test_provisional_dichotomous_parameters_follow_the_rule(difficulty, b) -> None:
    values = provisional_parameters("single_choice", difficulty)
    assert (values.model, values.a, values.b, values.c, values.provisional) == (
        "2pl",
        1.0,
        (b,),
        0.0,
        True,
    )


def test_provisional_ordered_parameters_are_gpcm_steps_around_b() -> None:
    assert provisional_parameters("ordered", "hard", 3).b == (0.5, 1.5)
    four = provisional_parameters("ordered", "easy", 4)
    assert (four.model, four.b) == ("gpcm", (-2.0, -1.0, 0.0))


def _two_pl(a: float, b: float, **more) -> ParameterValues:
    return ParameterValues("2pl", a, (b,), **more)


def test_activation_keeps_one_active_estimate_and_the_whole_history(
    bank_session, make_content
) -> None:
    version = create_item(bank_session, "SEC-T1", make_content(), actor="w").current_version
    (provisional,) = assign_provisional_parameters(bank_session, [version], actor="seed")
    assert active_estimate(bank_session, "SEC-T1").id == provisional.id
    run = create_calibration_run(
        bank_session,
        model="2pl",
        sample_size=1200,
        approved_by="psychometrician",
        notes="spring pilot",
    )
    calibrated = add_estimate(
        bank_session, run, version, _two_pl(1.4, 0.3, se_a=0.1, se_b=(0.05,), n_responses=1200)
    )
    assert active_estimate(bank_session, "SEC-T1").id == provisional.id
    result = activate_run(bank_session, run.id, actor="psychometrician")
    assert (result.activated, result.deactivated) == ((calibrated.id,), (provisional.id,))
    active = active_estimate(bank_session, "SEC-T1")
    assert (active.id, active.a, active.b, active.n_responses) == (calibrated.id, 1.4, [0.3], 1200)
    assert active.activated_by == "psychometrician" and active.run.approved_by == "psychometrician"
    history = parameter_history(bank_session, "SEC-T1")
    assert [(e.id, e.is_active, e.provisional) for e in history] == [
        (provisional.id, False, True),
        (calibrated.id, True, False),
    ]
    # going back to the old estimate is an activation like any other
    activate_estimates(bank_session, [provisional.id], actor="psychometrician")
    assert active_estimates(bank_session)["SEC-T1"].id == provisional.id


def test_the_database_refuses_two_active_estimates_for_one_item(bank_session, make_content) -> None:
    version = create_item(bank_session, "SEC-T1", make_content(), actor="w").current_version
    run = create_calibration_run(bank_session, model="2pl", sample_size=10)
    first = add_estimate(bank_session, run, version, _two_pl(1.0, 0.0), activate=True)
    second = add_estimate(bank_session, run, version, _two_pl(1.1, 0.1))
    with pytest.raises(IntegrityError), bank_session.begin_nested():
        bank_session.execute(
            update(ParameterEstimate)
            .where(ParameterEstimate.id == second.id)
            .values(is_active=True)
        )
    assert active_estimate(bank_session, "SEC-T1").id == first.id


def test_activation_is_all_or_nothing(bank_session, make_content) -> None:
    one = create_item(bank_session, "SEC-T1", make_content(), actor="w").current_version
    two = create_item(bank_session, "SEC-T2", make_content(), actor="w").current_version
    run = create_calibration_run(bank_session, model="2pl", sample_size=10)
    first = add_estimate(bank_session, run, one, _two_pl(1.0, 0.0), activate=True)
    stale = add_estimate(bank_session, run, two, _two_pl(1.0, 0.0))
    record_administration(bank_session, [two.id])
    edit_item(bank_session, "SEC-T2", {"key": "A"}, actor="e")  # version 2: `stale` is old
    newer = add_estimate(bank_session, run, one, _two_pl(1.2, 0.0))
    with pytest.raises(ValueError, match="current version is 2"):
        activate_estimates(bank_session, [newer.id, stale.id], actor="psy")
    assert active_estimate(bank_session, "SEC-T1").id == first.id


@pytest.mark.parametrize(
    ("values", "item_type", "n_categories", "field", "message"),
    [
        ({"model": "2pl", "a": 0.0, "b": 0.0}, "single_choice", 2, "a", "(0, 5.0]"),
        ({"model": "2pl", "a": 7.5, "b": 0.0}, "single_choice", 2, "a", "(0, 5.0]"),
        ({"model": "2pl", "a": 1.0, "b": 8.0}, "single_choice", 2, "b", "within ±6.0"),
        ({"model": "3pl", "a": 1.0, "b": 0.0, "c": 0.7}, "single_choice", 2, "c", "[0, 0.5]"),
        ({"model": "2pl", "a": 1.0, "b": 0.0, "c": 0.2}, "single_choice", 2, "c", "only 3PL"),
        ({"model": "rasch", "a": 1.3, "b": 0.0}, "true_false", 2, "a", "slope 1"),
        ({"model": "gpcm", "a": 1.0, "b": [0.0]}, "single_choice", 2, "model", "dichotomous"),
        ({"model": "2pl", "a": 1.0, "b": 0.0}, "ordered", 3, "model", "grm or gpcm"),
        ({"model": "gpcm", "a": 1.0, "b": [0.0]}, "ordered", 3, "b", "needs 2 value(s)"),
        ({"model": "grm", "a": 1.0, "b": [0.5, -0.5]}, "ordered", 3, "b", "must increase"),
        ({"model": "4pl", "a": 1.0, "b": 0.0}, "single_choice", 2, "model", "unknown model"),
        ({"model": "2pl", "a": 1.0, "b": "hard"}, "single_choice", 2, "b", "number or a list"),
        ({"model": "2pl", "a": 1.0, "b": 0.0, "se_a": -1}, "single_choice", 2, "se_a", ">= 0"),
    ],
)
def test_parameter_problems_catch_out_of_range_values(
    values, item_type, n_categories, field, message
) -> None:
    problems = parameter_problems(values, item_type=item_type, n_categories=n_categories)
    assert any(f == field and message in p for f, p in problems), problems


def test_add_estimate_refuses_bad_values(bank_session, make_content) -> None:
    version = create_item(bank_session, "SEC-T1", make_content(), actor="w").current_version
    run = create_calibration_run(bank_session, model="2pl", sample_size=10)
    with pytest.raises(InvalidParametersError, match="SEC-T1"):
        add_estimate(bank_session, run, version, _two_pl(-1.0, 0.0))
    assert parameter_history(bank_session, "SEC-T1") == []
