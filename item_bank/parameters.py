"""IRT parameter sets: calibration runs, per-version estimates, the one active estimate per item.

Every estimate belongs to a :class:`~item_bank.models.CalibrationRun` (a real calibration, an
import, or the provisional rule below) and to the item version it was estimated for. History is
never deleted: activating an estimate deactivates the item's previous one in the same savepoint,
and a partial unique index on ``(item_id) WHERE is_active`` guarantees at most one active
estimate per item even under concurrent activations.

Provisional parameters (before any calibration) follow a documented rule from the intended
difficulty: 2PL with ``a = 1`` and ``b = -1, 0, +1`` for easy, medium, hard; an ordered item with
K categories gets GPCM step difficulties spaced 1 apart and centred on that ``b`` (K = 3:
``b - 0.5, b + 0.5``); an item without intended difficulty counts as medium.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from calibration import ItemModel
from item_bank.exceptions import InvalidParametersError, ItemNotFoundError
from item_bank.models import (
    CalibrationRun,
    Difficulty,
    ItemType,
    ItemVersion,
    ParameterEstimate,
    utc_now,
)

MAX_SLOPE = 5.0
MAX_ABS_DIFFICULTY = 6.0
MAX_GUESSING = 0.5

PROVISIONAL_SLOPE = 1.0
PROVISIONAL_DIFFICULTY: Mapping[str, float] = {
    Difficulty.EASY: -1.0,
    Difficulty.MEDIUM: 0.0,
    Difficulty.HARD: 1.0,
}
PROVISIONAL_STEP_SPACING = 1.0
PROVISIONAL_RUN_MODEL = "provisional"
PROVISIONAL_RULE_NOTE = (
    "Provisional parameters from intended difficulty: 2PL a=1, b=-1/0/+1 (easy/medium/hard); "
    "ordered items GPCM steps 1 apart centred on b. Replace by a calibration."
)


@dataclass(frozen=True)
class ParameterValues:
    """The values of one estimate, independent of the database.

    ``b`` holds one difficulty for dichotomous models, the K-1 thresholds (GRM) or step
    difficulties (GPCM) of an ordered item.
    """

    model: str
    a: float
    b: tuple[float, ...]
    c: float = 0.0
    se_a: float | None = None
    se_b: tuple[float, ...] | None = None
    se_c: float | None = None
    n_responses: int = 0
    provisional: bool = False

    @classmethod
    def from_estimate(cls, estimate: ParameterEstimate) -> ParameterValues:
        """The values of a stored estimate."""
        return cls(
            model=estimate.model,
            a=estimate.a,
            b=tuple(estimate.b),
            c=estimate.c,
            se_a=estimate.se_a,
            se_b=None if estimate.se_b is None else tuple(estimate.se_b),
            se_c=estimate.se_c,
            n_responses=estimate.n_responses,
            provisional=estimate.provisional,
        )


@dataclass(frozen=True)
class ActivationResult:
    """Which estimates an activation switched on and off."""

    activated: tuple[int, ...]
    deactivated: tuple[int, ...] = field(default=())


def parameter_problems(
    values: Mapping[str, Any], *, item_type: str, n_categories: int
) -> list[tuple[str, str]]:
    """Problems of parameter values given as a mapping (``model``, ``a``, ``b``, ``c``, ...).

    Ranges: ``0 < a <= 5``, ``|b| <= 6``, ``0 <= c <= 0.5`` and only for 3PL, Rasch ``a = 1``,
    GRM thresholds increasing; the model must fit the item type and ``b`` its categories.
    """
    problems: list[tuple[str, str]] = []
    try:
        model = ItemModel(values.get("model"))
    except ValueError:
        return [("model", f"unknown model {values.get('model')!r}; use one of {list(ItemModel)}")]
    ordered = item_type == ItemType.ORDERED
    if ordered and model.is_dichotomous:
        problems.append(("model", f"an ordered item needs grm or gpcm, got {model.value}"))
    if not ordered and not model.is_dichotomous:
        problems.append(("model", f"a {item_type} item needs a dichotomous model, got {model}"))
    a = values.get("a")
    if not _is_number(a) or not 0.0 < a <= MAX_SLOPE:
        problems.append(("a", f"slope must be in (0, {MAX_SLOPE}], got {a!r}"))
    elif model is ItemModel.RASCH and a != 1.0:
        problems.append(("a", f"a Rasch item has slope 1, got {a!r}"))
    b = values.get("b")
    b_list = [b] if _is_number(b) else b
    if not isinstance(b_list, list | tuple) or not b_list or not all(map(_is_number, b_list)):
        problems.append(("b", f"must be a number or a list of numbers, got {b!r}"))
    else:
        expected = 1 if model.is_dichotomous else n_categories - 1
        if len(b_list) != expected:
            problems.append(
                (
                    "b",
                    f"{model.value} with {n_categories} categories needs "
                    f"{expected} value(s), got {len(b_list)}",
                )
            )
        outside = [value for value in b_list if abs(value) > MAX_ABS_DIFFICULTY]
        if outside:
            problems.append(
                ("b", f"difficulties must be within ±{MAX_ABS_DIFFICULTY}, got {outside}")
            )
        if model is ItemModel.GRM and any(x >= y for x, y in itertools.pairwise(b_list)):
            problems.append(("b", f"GRM thresholds must increase, got {list(b_list)}"))
    c = values.get("c", 0.0)
    c = 0.0 if c is None else c
    if not _is_number(c) or not 0.0 <= c <= MAX_GUESSING:
        problems.append(("c", f"lower asymptote must be in [0, {MAX_GUESSING}], got {c!r}"))
    elif model is not ItemModel.THREE_PL and c != 0.0:
        problems.append(("c", f"only 3PL items have a lower asymptote, got c={c!r}"))
    for name in ("se_a", "se_c"):
        value = values.get(name)
        if value is not None and (not _is_number(value) or value < 0):
            problems.append((name, f"a standard error must be a number >= 0, got {value!r}"))
    se_b = values.get("se_b")
    if se_b is not None:
        se_list = [se_b] if _is_number(se_b) else se_b
        if (
            not isinstance(se_list, list | tuple)
            or not all(_is_number(v) and v >= 0 for v in se_list)
            or (isinstance(b_list, list | tuple) and len(se_list) != len(b_list))
        ):
            problems.append(("se_b", f"must hold one standard error >= 0 per b, got {se_b!r}"))
    n_responses = values.get("n_responses", 0)
    if isinstance(n_responses, bool) or not isinstance(n_responses, int) or n_responses < 0:
        problems.append(("n_responses", f"must be an integer >= 0, got {n_responses!r}"))
    provisional = values.get("provisional", False)
    if not isinstance(provisional, bool):
        problems.append(("provisional", f"must be true or false, got {provisional!r}"))
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def values_from_mapping(values: Mapping[str, Any]) -> ParameterValues:
    """:class:`ParameterValues` from a (valid) mapping; ``b`` may be a number or a list."""
    b = values["b"]
    se_b = values.get("se_b")
    return ParameterValues(
        model=ItemModel(values["model"]).value,
        a=float(values["a"]),
        b=(float(b),) if _is_number(b) else tuple(float(v) for v in b),
        c=float(values.get("c") or 0.0),
        se_a=None if values.get("se_a") is None else float(values["se_a"]),
        se_b=None if se_b is None else ((float(se_b),) if _is_number(se_b) else tuple(se_b)),
        se_c=None if values.get("se_c") is None else float(values["se_c"]),
        n_responses=int(values.get("n_responses", 0)),
        provisional=bool(values.get("provisional", False)),
    )


def provisional_parameters(
    item_type: str, difficulty: str | None, n_categories: int = 2
) -> ParameterValues:
    """Provisional parameters from the intended difficulty (the rule of the module docstring)."""
    centre = PROVISIONAL_DIFFICULTY[Difficulty(difficulty or Difficulty.MEDIUM)]
    if item_type == ItemType.ORDERED:
        if n_categories < 2:
            raise ValueError(f"an ordered item needs at least 2 categories, got {n_categories}")
        n_steps = n_categories - 1
        steps = tuple(
            centre + PROVISIONAL_STEP_SPACING * (index - (n_steps - 1) / 2)
            for index in range(n_steps)
        )
        return ParameterValues(ItemModel.GPCM.value, PROVISIONAL_SLOPE, steps, provisional=True)
    return ParameterValues(ItemModel.TWO_PL.value, PROVISIONAL_SLOPE, (centre,), provisional=True)


def create_calibration_run(
    session: Session,
    *,
    model: str,
    sample_size: int,
    approved_by: str | None = None,
    notes: str | None = None,
    run_date: datetime | None = None,
) -> CalibrationRun:
    """Record a calibration run (its estimates are added with :func:`add_estimate`)."""
    if sample_size < 0:
        raise ValueError(f"sample_size must be >= 0, got {sample_size!r}")
    run = CalibrationRun(
        model=model,
        sample_size=sample_size,
        approved_by=approved_by,
        approved_at=utc_now() if approved_by else None,
        notes=notes,
        run_date=run_date or utc_now(),
    )
    session.add(run)
    session.flush()
    return run


def add_estimate(
    session: Session,
    run: CalibrationRun,
    version: ItemVersion,
    values: ParameterValues,
    *,
    activate: bool = False,
    actor: str | None = None,
    flush: bool = True,
) -> ParameterEstimate:
    """Store the estimate ``values`` of ``version`` from ``run`` (and activate it if asked).

    Raises
    ------
    InvalidParametersError
        If the values are out of range or do not fit the item (see :func:`parameter_problems`).

    ``flush=False`` (without ``activate``) leaves the row pending for a batched flush.
    """
    problems = parameter_problems(
        {**values.__dict__, "b": list(values.b)},
        item_type=version.type,
        n_categories=version.n_categories,
    )
    if problems:
        raise InvalidParametersError(
            f"item {version.item_id!r} version {version.version}: "
            + "; ".join(f"{name}: {problem}" for name, problem in problems)
        )
    estimate = ParameterEstimate(
        # a version created in the same flush has no item_id column value yet
        item_id=version.item_id if version.item_id is not None else version.item.id,
        item_version=version,
        run=run,
        model=values.model,
        a=values.a,
        b=list(values.b),
        c=values.c,
        se_a=values.se_a,
        se_b=None if values.se_b is None else list(values.se_b),
        se_c=values.se_c,
        n_responses=values.n_responses,
        provisional=values.provisional,
        is_active=False,
    )
    session.add(estimate)
    if flush or activate:
        session.flush()
    if activate:
        activate_estimates(session, [estimate.id], actor=actor or run.approved_by or "system")
    return estimate


def activate_estimates(
    session: Session, estimate_ids: Sequence[int], *, actor: str
) -> ActivationResult:
    """Make each estimate its item's active one, deactivating the previous, all or nothing.

    Raises
    ------
    ItemNotFoundError
        If an estimate id is unknown.
    ValueError
        If two estimates of the same item are given, or an estimate is for a version that is
        not its item's current version.
    """
    estimates = list(
        session.scalars(select(ParameterEstimate).where(ParameterEstimate.id.in_(estimate_ids)))
    )
    missing = sorted(set(estimate_ids) - {estimate.id for estimate in estimates})
    if missing:
        raise ItemNotFoundError(f"no parameter estimates with ids {missing}")
    items = [estimate.item_id for estimate in estimates]
    if len(set(items)) != len(items):
        raise ValueError("activate one estimate per item at a time")
    for estimate in estimates:
        version = estimate.item_version
        if version.item.current_version_number != version.version:
            raise ValueError(
                f"estimate {estimate.id} is for version {version.version} of item "
                f"{estimate.item_id!r}, whose current version is "
                f"{version.item.current_version_number}"
            )
    now = utc_now()
    with session.begin_nested():
        deactivated = list(
            session.scalars(
                select(ParameterEstimate.id).where(
                    ParameterEstimate.item_id.in_(items),
                    ParameterEstimate.is_active.is_(True),
                    ParameterEstimate.id.not_in(estimate_ids),
                )
            )
        )
        session.execute(
            update(ParameterEstimate)
            .where(ParameterEstimate.id.in_(deactivated))
            .values(is_active=False)
        )
        # the old rows must be off before the new ones are on: the partial unique index
        # is checked per statement
        session.flush()
        session.execute(
            update(ParameterEstimate)
            .where(ParameterEstimate.id.in_(estimate_ids))
            .values(is_active=True, activated_at=now, activated_by=actor)
        )
    _reload_activation(session, {*estimate_ids, *deactivated})
    return ActivationResult(tuple(sorted(estimate_ids)), tuple(sorted(deactivated)))


def activate_run(session: Session, run_id: int, *, actor: str) -> ActivationResult:
    """Activate every estimate of a calibration run (one per item), atomically."""
    ids = list(
        session.scalars(
            select(ParameterEstimate.id).where(ParameterEstimate.calibration_run_id == run_id)
        )
    )
    if not ids:
        raise ItemNotFoundError(f"calibration run {run_id!r} has no estimates")
    return activate_estimates(session, ids, actor=actor)


def deactivate_item(session: Session, item_id: str) -> tuple[int, ...]:
    """Switch off the item's active estimate (kept in the history); returns the ids switched."""
    ids = tuple(
        session.scalars(
            select(ParameterEstimate.id).where(
                ParameterEstimate.item_id == item_id, ParameterEstimate.is_active.is_(True)
            )
        )
    )
    if ids:
        session.execute(
            update(ParameterEstimate).where(ParameterEstimate.id.in_(ids)).values(is_active=False)
        )
        _reload_activation(session, set(ids))
    return ids


def _reload_activation(session: Session, estimate_ids: set[int]) -> None:
    # bulk UPDATEs bypass loaded objects: reload the activation columns of those in the session
    for instance in list(session.identity_map.values()):
        if isinstance(instance, ParameterEstimate) and instance.id in estimate_ids:
            session.expire(instance, ["is_active", "activated_at", "activated_by"])


def active_estimate(session: Session, item_id: str) -> ParameterEstimate | None:
    """The item's active estimate, or None."""
    return session.scalar(
        select(ParameterEstimate).where(
            ParameterEstimate.item_id == item_id, ParameterEstimate.is_active.is_(True)
        )
    )


def active_estimates(
    session: Session, item_ids: Iterable[str] | None = None
) -> dict[str, ParameterEstimate]:
    """Active estimates by item id (all items, or those of ``item_ids``)."""
    query = select(ParameterEstimate).where(ParameterEstimate.is_active.is_(True))
    if item_ids is not None:
        query = query.where(ParameterEstimate.item_id.in_(list(item_ids)))
    return {estimate.item_id: estimate for estimate in session.scalars(query)}


def parameter_history(session: Session, item_id: str) -> list[ParameterEstimate]:
    """Every estimate ever stored for the item, oldest first."""
    return list(
        session.scalars(
            select(ParameterEstimate)
            .where(ParameterEstimate.item_id == item_id)
            .order_by(ParameterEstimate.id)
        )
    )


def provisional_run(session: Session, *, actor: str, notes: str | None = None) -> CalibrationRun:
    """A run recording that provisional parameters were assigned by the documented rule."""
    return create_calibration_run(
        session,
        model=PROVISIONAL_RUN_MODEL,
        sample_size=0,
        approved_by=actor,
        notes=notes or PROVISIONAL_RULE_NOTE,
    )


def assign_provisional_parameters(
    session: Session,
    versions: Sequence[ItemVersion],
    *,
    actor: str,
    run: CalibrationRun | None = None,
) -> list[ParameterEstimate]:
    """Add and activate provisional parameters for ``versions`` (in one run)."""
    if not versions:
        return []
    run = run or provisional_run(session, actor=actor)
    estimates = [
        add_estimate(
            session,
            run,
            version,
            provisional_parameters(version.type, version.difficulty, version.n_categories),
        )
        for version in versions
    ]
    activate_estimates(session, [estimate.id for estimate in estimates], actor=actor)
    return estimates
