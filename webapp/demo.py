"""Demo mode: a complete sathach on the embedded database, ready to click through.

:func:`prepare_demo` does what ``sathach demo`` needs before it serves: it loads the framework,
the national course and the seed bank; simulates a history of past examinees answering linear
forms drawn from the bank and calibrates the bank on those responses (MML-EM with Bayes-modal
priors, 2PL for dichotomous items and GPCM for partial-credit items), storing the run as the
active parameters; creates one demo account per role; and makes the demo learners eligible
for the final exam. Each step finds its work done on a second run, so the same database is
simply reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration import (
    CalibrationResult,
    ItemModel,
    ItemParameters,
    Priors,
    ResponseData,
    calibrate,
    category_probabilities,
)
from item_bank.item_pool import build_item_pool
from item_bank.models import CalibrationRun, Course, ItemVersion
from item_bank.parameters import ParameterValues, activate_run, add_estimate, create_calibration_run
from item_bank.seed import seed_bank
from webapp.exams.demo import prepare_exam_demo
from webapp.services.demo import DEMO_LEARNERS, DemoAccounts, ensure_demo_accounts

DEMO_COURSE_ID = "KNS-CBCX"
DEMO_ACTOR = "sathach-demo"
HISTORY_NOTE = "demo: simulated history of past examinees"
DEFAULT_EXAMINEES = 3000
DEFAULT_FORM_LENGTH = 40

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class DemoHistory:
    """What the simulated history and its calibration came to.

    ``rmse_a`` and ``rmse_b`` compare the calibrated parameters with the abilities and item
    parameters the simulation drew, so the demo shows how well the calibration recovers them.
    """

    n_examinees: int
    n_responses: int
    n_items: int
    n_excluded: int
    log_likelihood: float
    n_iter: int
    converged: bool
    rmse_a: float
    rmse_b: float
    run_id: int


@dataclass(frozen=True)
class DemoSummary:
    """The state of a prepared demo database."""

    n_items_seeded: int
    history: DemoHistory | None
    accounts: DemoAccounts


def simulate_history(
    true_parameters: ItemParameters,
    *,
    n_examinees: int,
    form_length: int,
    item_ids: tuple[str, ...] | None = None,
    rng: np.random.Generator | int | None = None,
) -> tuple[ResponseData, npt.NDArray[np.float64]]:
    """Responses of ``n_examinees`` from N(0, 1), each to a random linear form of the items.

    Returns the sparse responses and the abilities drawn. Each examinee answers
    ``form_length`` distinct items, so most of the person-by-item matrix is missing, as it is
    in real exam data.
    """
    generator = np.random.default_rng(rng)
    n_items = true_parameters.n_items
    if not 2 <= form_length <= n_items:
        raise ValueError(f"form_length must be between 2 and {n_items}, got {form_length!r}")
    theta = generator.normal(0.0, 1.0, n_examinees)
    forms = np.argsort(generator.random((n_examinees, n_items)), axis=1)[:, :form_length]
    probabilities = category_probabilities(true_parameters, theta)
    chosen = np.take_along_axis(probabilities, forms[:, :, None], axis=1)
    cumulative = np.cumsum(chosen, axis=2)
    draws = generator.random((n_examinees, form_length, 1))
    highest = true_parameters.n_categories[forms] - 1
    categories = np.minimum((draws > cumulative).sum(axis=2), highest)
    rows = np.repeat(np.arange(n_examinees), form_length)
    data = ResponseData.from_triplets(
        rows,
        forms.reshape(-1),
        categories.reshape(-1),
        n_rows=n_examinees,
        n_items=n_items,
        item_ids=item_ids,
    )
    return data, theta


def draw_true_parameters(
    provisional: ItemParameters, rng: np.random.Generator | int | None = None
) -> ItemParameters:
    """Item parameters the simulated history follows: the provisional ones, perturbed.

    Slopes are drawn from lognormal(log 1.1, 0.25) and every difficulty is shifted by N(0, 0.4),
    so the calibration has something to find out.
    """
    generator = np.random.default_rng(rng)
    slopes = generator.lognormal(np.log(1.1), 0.25, provisional.n_items)
    shifts = generator.normal(0.0, 0.4, provisional.n_items)
    difficulties = [
        [value + shift for value in provisional.thresholds(index)]
        if not provisional.models[index].is_dichotomous
        else provisional.thresholds(index)[0] + shift
        for index, shift in enumerate(shifts)
    ]
    return ItemParameters.from_lists(provisional.models, slopes, difficulties)


def _calibration_models(parameters: ItemParameters) -> list[ItemModel]:
    return [
        ItemModel.TWO_PL if model.is_dichotomous else ItemModel.GPCM for model in parameters.models
    ]


def _store_run(
    session: Session,
    result: CalibrationResult,
    versions: dict[str, ItemVersion],
) -> CalibrationRun:
    run = create_calibration_run(
        session,
        model="mixed: 2pl + gpcm",
        sample_size=int(result.n_persons),
        approved_by=DEMO_ACTOR,
        notes=HISTORY_NOTE,
    )
    estimated = result.item_parameters()
    for index, item_id in enumerate(result.item_ids):
        n_steps = int(estimated.n_categories[index]) - 1
        values = ParameterValues(
            model=str(estimated.models[index]),
            a=float(estimated.a[index]),
            b=tuple(estimated.thresholds(index)),
            c=float(estimated.c[index]),
            se_a=_finite_or_none(result.se_a[index]),
            se_b=tuple(float(v) for v in np.atleast_1d(result.se_b[index])[:n_steps]),
            se_c=None,
            n_responses=int(result.n_responses[index]),
            provisional=False,
        )
        add_estimate(session, run, versions[item_id], values, flush=False)
    session.flush()
    activate_run(session, run.id, actor=DEMO_ACTOR)
    return run


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def calibrate_on_simulated_history(
    session: Session,
    *,
    n_examinees: int = DEFAULT_EXAMINEES,
    form_length: int = DEFAULT_FORM_LENGTH,
    rng: np.random.Generator | int | None = 2026,
) -> DemoHistory:
    """Simulate past examinees on the bank, calibrate on them and activate the estimates."""
    generator = np.random.default_rng(rng)
    bank = build_item_pool(session, course_id=DEMO_COURSE_ID)
    pool = bank.pool
    truth = draw_true_parameters(pool.parameters, generator)
    data, _ = simulate_history(
        truth,
        n_examinees=n_examinees,
        form_length=form_length,
        item_ids=pool.item_ids,
        rng=generator,
    )
    # Bayes-modal priors on every item: a demo history gives some items few responses, and the
    # lognormal slope prior keeps their slopes plausible (as a real small-sample run would).
    result = calibrate(data, _calibration_models(truth), priors=Priors.all_models())
    version_ids = dict(zip(pool.item_ids, bank.version_ids, strict=True))
    versions = {
        version.item_id: version
        for version in session.scalars(
            select(ItemVersion).where(ItemVersion.id.in_(version_ids.values()))
        )
    }
    run = _store_run(session, result, versions)
    estimated = result.item_parameters()
    kept = [pool.item_ids.index(item_id) for item_id in result.item_ids]
    dichotomous = [i for i, index in enumerate(kept) if truth.models[index].is_dichotomous]
    true_b = truth.b[kept, 0][dichotomous]
    return DemoHistory(
        n_examinees=n_examinees,
        n_responses=n_examinees * form_length,
        n_items=result.n_items,
        n_excluded=len(result.excluded),
        log_likelihood=float(result.log_likelihood),
        n_iter=int(result.n_iter),
        converged=bool(result.converged),
        rmse_a=float(np.sqrt(np.mean((estimated.a - truth.a[kept]) ** 2))),
        rmse_b=float(np.sqrt(np.mean((estimated.b[dichotomous, 0] - true_b) ** 2))),
        run_id=run.id,
    )


def prepare_demo(
    session: Session,
    *,
    password: str,
    now: datetime,
    n_examinees: int = DEFAULT_EXAMINEES,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Bring the session's (migrated) database to a ready demo; commits after each step."""
    say = progress or (lambda _message: None)
    n_seeded = 0
    if session.get(Course, DEMO_COURSE_ID) is None:
        say("seed")
        n_seeded = seed_bank(session, actor=DEMO_ACTOR).items_created
        session.commit()
    history = None
    already = session.scalar(select(CalibrationRun.id).where(CalibrationRun.notes == HISTORY_NOTE))
    if already is None:
        say("calibrate")
        history = calibrate_on_simulated_history(session, n_examinees=n_examinees)
        session.commit()
    say("accounts")
    accounts = ensure_demo_accounts(session, password)
    learner_ids = [accounts.users[name].id for name in DEMO_LEARNERS]
    prepare_exam_demo(session, DEMO_COURSE_ID, learner_ids, now=now)
    session.commit()
    return DemoSummary(n_items_seeded=n_seeded, history=history, accounts=accounts)
