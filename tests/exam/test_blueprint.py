"""Blueprint documents: validation naming the field, defaults, and the round trip."""

from __future__ import annotations

import json

import pytest

from exam import Blueprint, BlueprintError
from exam.blueprint import ClassificationRuleName, ExposureMethod, SelectionRuleName

FULL = {
    "name": "Final exam",
    "length": {"min": 10, "max": 40},
    "selection": {"rule": "kl", "start_theta": -0.5, "start_spread": 0.5},
    "estimation": {"interim": "map", "final": "wle"},
    "exposure": {"method": "sympson_hetter", "target_rate": 0.25},
    "content": {
        "method": "kingsbury_zara",
        "constraints": [
            {"kind": "domain", "code": "VN-TT02-2025:1", "min": 2, "max": 10},
            {"kind": "topic", "code": "T-SEC", "min_share": 0.1, "max_share": 0.5},
        ],
    },
    "se_target": 0.3,
    "time_limit_s": 3600,
    "classification": {"rule": "sprt", "indifference": 0.2, "alpha": 0.05, "beta": 0.1},
    "cut_theta": 0.4,
    "scale": {"slope": 100, "intercept": 500, "min": 0, "max": 1000},
    "attempts_allowed": 3,
    "exclude_seen_items": False,
    "pretest_items": 5,
}


def test_full_document_reads_and_round_trips() -> None:
    blueprint = Blueprint.from_dict(FULL)
    assert blueprint.selection.rule is SelectionRuleName.KL
    assert blueprint.exposure.method is ExposureMethod.SYMPSON_HETTER
    assert blueprint.classification.rule is ClassificationRuleName.SPRT
    assert blueprint.cut_score == pytest.approx(540.0)
    assert blueprint.content.constraints[1].lower_count(40) == 4
    assert blueprint.content.constraints[1].upper_count(40) == 20
    document = json.loads(json.dumps(blueprint.to_dict()))
    assert Blueprint.from_dict(document) == blueprint


def test_minimal_document_takes_the_documented_defaults() -> None:
    blueprint = Blueprint.from_dict({"length": {"max": 20}})
    assert (blueprint.length.min, blueprint.length.max) == (20, 20)
    assert blueprint.selection.rule is SelectionRuleName.MFI
    assert str(blueprint.estimation.interim) == str(blueprint.estimation.final) == "eap"
    assert blueprint.exposure.method is ExposureMethod.NONE
    assert blueprint.cut_theta is None and blueprint.cut_score is None
    assert blueprint.exclude_seen_items is True and blueprint.pretest_items == 0


def test_fixed_length_builds_a_plain_blueprint() -> None:
    blueprint = Blueprint.fixed_length(25, selection="mpwi", estimator="map")
    assert (blueprint.length.min, blueprint.length.max) == (25, 25)
    assert blueprint.selection.rule is SelectionRuleName.MPWI
    assert str(blueprint.estimation.final) == "map"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"length": {"min": 50, "max": 40}}, "length.min"),
        ({"length": {"min": 0, "max": 40}}, "length.min"),
        ({"length": None}, "length"),
        ({"selection": {"rule": "random"}}, "selection.rule"),
        ({"estimation": {"interim": "mle"}}, "estimation.interim"),
        ({"estimation": {"prior_sd": 0}}, "estimation.prior_sd"),
        ({"exposure": {"method": "sympson_hetter", "target_rate": 1.5}}, "exposure.target_rate"),
        ({"exposure": {"method": "a_stratified", "strata": 41}}, "exposure.strata"),
        (
            {"content": {"constraints": [{"kind": "area", "code": "x", "min": 1}]}},
            "content.constraints[0].kind",
        ),
        (
            {"content": {"constraints": [{"kind": "domain", "code": "D", "min": 5, "max": 2}]}},
            "content.constraints[0].min",
        ),
        (
            {
                "content": {
                    "constraints": [{"kind": "domain", "code": "D", "min": 1, "min_share": 0.1}]
                }
            },
            "content.constraints[0].min_share",
        ),
        (
            {"content": {"constraints": [{"kind": "domain", "code": "D"}]}},
            "content.constraints[0].min",
        ),
        (
            {
                "content": {
                    "constraints": [
                        {"kind": "domain", "code": "D", "min": 1},
                        {"kind": "domain", "code": "D", "max": 3},
                    ]
                }
            },
            "content.constraints[1].code",
        ),
        (
            {
                "content": {
                    "constraints": [
                        {"kind": "domain", "code": "A", "min": 25},
                        {"kind": "domain", "code": "B", "min": 20},
                    ]
                }
            },
            "content.constraints",
        ),
        ({"se_target": -0.1}, "se_target"),
        ({"time_limit_s": "an hour"}, "time_limit_s"),
        ({"cut_theta": None}, "cut_theta"),
        ({"classification": {"rule": "sprt", "alpha": 0.7}}, "classification.alpha"),
        ({"scale": {"slope": 0}}, "scale.slope"),
        ({"scale": {"min": 10, "max": 5}}, "scale.min"),
        ({"attempts_allowed": 0}, "attempts_allowed"),
        ({"exclude_seen_items": "yes"}, "exclude_seen_items"),
        ({"pretest_items": 1.5}, "pretest_items"),
        ({"colour": "blue"}, "colour"),
        ({"selection": {"rule": "mfi", "speed": 2}}, "selection.speed"),
        ({"form": ["A", "B"]}, "form"),
    ],
)
def test_every_error_names_its_field(change: dict, field: str) -> None:
    document = {**FULL, **change}
    document = {
        key: value for key, value in document.items() if value is not None or key in ("cut_theta",)
    }
    with pytest.raises(BlueprintError) as caught:
        Blueprint.from_dict(document)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_fixed_form_takes_its_length_from_the_form() -> None:
    blueprint = Blueprint.from_dict({"mode": "fixed", "form": ["A", "B", "C"]})
    assert (blueprint.length.min, blueprint.length.max) == (3, 3)
    assert Blueprint.from_dict(blueprint.to_dict()) == blueprint
    with pytest.raises(BlueprintError, match="form"):
        Blueprint.from_dict({"mode": "fixed", "form": ["A", "A"]})
    with pytest.raises(BlueprintError, match="<document>"):
        Blueprint.from_dict(["not", "an", "object"])  # type: ignore[arg-type]
