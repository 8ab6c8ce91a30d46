"""The stateless exam engine: ``start``, ``step``, ``finish`` and ``replay``.

:func:`define_exam` compiles a blueprint against a pool once (validating it, content constraints
and feasibility included) and is cached per pool. :func:`start` returns the first
:class:`~exam.state.ExamState`; :func:`step` takes the category score of the current item and
returns the next state, with the next item or the result. All randomness of an exam comes from
its ``session_seed`` and the position, so :func:`replay` of the stored responses rebuilds the very
same state in another process.

The batch functions here (selection, blocking, stopping) work on arrays over examinees; the
engine calls them for one examinee, as scalars and single rows (the same operations on smaller
arrays, so the same values, at a fraction of numpy's per-call cost inside a web request), and
:mod:`exam.simulation` for thousands at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from exam.blueprint import (
    Blueprint,
    ClassificationRuleName,
    ContentMethod,
    ExamMode,
    ExposureMethod,
    SelectionTarget,
)
from exam.classification import (
    UNDECIDED,
    ConfidenceIntervalClassifier,
    SPRTClassifier,
)
from exam.content import ContentBalancer, check_feasibility, usable_count
from exam.exceptions import (
    BlueprintError,
    ExamFinishedError,
    InvalidResponseError,
    NoItemsAvailableError,
    ReplayMismatchError,
)
from exam.exposure import (
    a_strata,
    pick_best,
    pick_randomesque,
    pick_sympson_hetter,
    stage_of,
)
from exam.pool import ItemPool
from exam.scoring import posterior_estimates, score_exam
from exam.selection import Selector, make_selector
from exam.state import ExamState, Response
from exam.stopping import StopReason

_SEED_BOUND = 2**63 - 1
_WORD_MASK = 0xFFFFFFFF
_STREAM_START = 0
_STREAM_SELECT = 1

#: Stop reasons by code in the batch functions (0: go on).
STOP_CODES: tuple[StopReason | None, ...] = (
    None,
    StopReason.TIME_LIMIT,
    StopReason.FORM_COMPLETE,
    StopReason.MAX_LENGTH,
    StopReason.CLASSIFIED,
    StopReason.SE_TARGET,
    StopReason.POOL_EXHAUSTED,
    StopReason.ABANDONED,
)
_CODE = {reason: code for code, reason in enumerate(STOP_CODES) if reason is not None}


@dataclass(frozen=True, eq=False)
class ExamDefinition:
    """A blueprint compiled against a pool: validated, with its rules as arrays.

    Build it with :func:`define_exam` (cached per pool and blueprint).
    """

    pool: ItemPool
    blueprint: Blueprint
    selector: Selector
    content: ContentBalancer | None
    strata: npt.NDArray[np.intp] | None
    form_rank: npt.NDArray[np.float64] | None
    scorable: npt.NDArray[np.bool_]
    log_prior: npt.NDArray[np.float64]
    sprt: SPRTClassifier | None
    interval: ConfidenceIntervalClassifier | None
    sprt_table: npt.NDArray[np.float64] | None

    @property
    def is_fixed(self) -> bool:
        return self.blueprint.mode is ExamMode.FIXED

    @property
    def n_constraint_columns(self) -> int:
        return 1 if self.content is None else self.content.n_constraints + 1

    def pretest_available(self, blocked: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Pretest items still allowed, shape like ``blocked``."""
        return self.pool.is_pretest & ~blocked


def define_exam(pool: ItemPool, blueprint: Blueprint) -> ExamDefinition:
    """Compile and validate a blueprint for a pool (cached per pool and blueprint).

    Raises
    ------
    BlueprintError
        When a fixed form names an item the pool lacks, or a rule does not fit the mode.
    InfeasibleBlueprintError
        When no test of the blueprint's lengths can meet its content constraints with the pool.
    """
    if not isinstance(pool, ItemPool):
        raise TypeError(f"pool must be an exam.ItemPool, got {type(pool).__name__}")
    if not isinstance(blueprint, Blueprint):
        raise TypeError(f"blueprint must be an exam.Blueprint, got {type(blueprint).__name__}")
    key = ("definition", blueprint)
    cached = pool._cache.get(key)
    if cached is not None:
        return cached
    scorable = pool.operational.copy()
    form_rank = None
    if blueprint.mode is ExamMode.FIXED:
        if blueprint.se_target is not None:
            raise BlueprintError("se_target", "a fixed form ends when it is complete")
        if blueprint.classification.rule is not ClassificationRuleName.NONE:
            raise BlueprintError("classification.rule", "a fixed form ends when it is complete")
        form_rank = np.full(pool.n_items, np.inf)
        if blueprint.form is None:
            form_rank[scorable] = np.arange(int(scorable.sum()))
        else:
            for position, item_id in enumerate(blueprint.form):
                try:
                    index = pool.index_of(item_id)
                except KeyError:
                    raise BlueprintError(
                        f"form[{position}]", f"item {item_id!r} is not in the pool"
                    ) from None
                if pool.is_pretest[index]:
                    raise BlueprintError(f"form[{position}]", f"item {item_id!r} is a pretest item")
                form_rank[index] = position
            scorable &= np.isfinite(form_rank)
        form_rank.flags.writeable = False
    scorable.flags.writeable = False
    check_feasibility(blueprint, pool, scorable)
    quadrature = pool.posterior_grid
    nodes = quadrature.nodes
    prior = blueprint.estimation
    log_prior = -0.5 * ((nodes - prior.prior_mean) / prior.prior_sd) ** 2
    log_prior = log_prior - log_prior.max()
    log_prior.flags.writeable = False
    sprt = interval = sprt_table = None
    rule = blueprint.classification
    if rule.rule is ClassificationRuleName.SPRT:
        sprt = SPRTClassifier(blueprint.cut_theta, rule.indifference, rule.alpha, rule.beta)
        sprt_table = pool.log_probabilities_at(sprt.points)
    elif rule.rule is ClassificationRuleName.CI:
        interval = ConfidenceIntervalClassifier(blueprint.cut_theta, rule.confidence)
    strata = None
    if blueprint.exposure.method is ExposureMethod.A_STRATIFIED:
        strata = a_strata(pool, blueprint.exposure.strata)
    definition = ExamDefinition(
        pool=pool,
        blueprint=blueprint,
        selector=make_selector(
            str(blueprint.selection.rule), kl_window=blueprint.selection.kl_window
        ),
        content=ContentBalancer.compile(blueprint, pool),
        strata=strata,
        form_rank=form_rank,
        scorable=scorable,
        log_prior=log_prior,
        sprt=sprt,
        interval=interval,
        sprt_table=sprt_table,
    )
    pool._cache[key] = definition
    return definition


# -- batch functions shared with the simulator ---------------------------------------------------


def selection_thetas(
    definition: ExamDefinition,
    theta: npt.NDArray[np.float64],
    n_scored: npt.NDArray[np.int64],
    start_theta: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Ability at which each examinee's next item is chosen: the start, the estimate or the cut."""
    blueprint = definition.blueprint
    if blueprint.selection.target is SelectionTarget.CUT:
        return np.full(np.shape(theta), float(blueprint.cut_theta))
    start = blueprint.selection.start_theta if start_theta is None else start_theta
    return np.where(n_scored == 0, start, theta)


def draw_start_thetas(
    blueprint: Blueprint, n_examinees: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Start abilities: ``start_theta`` plus a uniform draw within ``+- start_spread``."""
    spread = blueprint.selection.start_spread
    centre = blueprint.selection.start_theta
    if spread == 0:
        return np.full(n_examinees, centre)
    return centre + rng.uniform(-spread, spread, n_examinees)


def select_scored(
    definition: ExamDefinition,
    theta: npt.NDArray[np.float64],
    log_posterior: npt.NDArray[np.float64],
    n_scored: npt.NDArray[np.int64],
    blocked: npt.NDArray[np.bool_],
    counts: npt.NDArray[np.int64],
    rng: np.random.Generator,
    form_rank: npt.NDArray[np.float64] | None = None,
    start_theta: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp] | None, npt.NDArray[np.bool_] | None]:
    """Choose the next scored item of every examinee (rows), -1 where none is left.

    Returns the chosen items and, under Sympson-Hetter, the candidates and which of them were
    passed over (to be blocked). Content rules never let a feasible blueprint break; when the
    pool cannot satisfy them any more, the item breaking least is taken rather than none.

    For one examinee (the engine), ``theta``, ``n_scored`` and ``start_theta`` may be scalars
    and the other arrays single rows, ``blocked`` of shape (n_items,): the chosen item is then a
    scalar. The same operations run on fewer, smaller arrays, with the same values.
    """
    pool = definition.pool
    blueprint = definition.blueprint
    available = definition.scorable & ~blocked
    method = blueprint.exposure.method
    if definition.is_fixed:
        rank = definition.form_rank if form_rank is None else form_rank
        criterion = np.broadcast_to(1.0 / (1.0 + rank), available.shape).copy()
    elif method is ExposureMethod.A_STRATIFIED:
        distance = np.abs(
            pool.mean_difficulty
            - np.expand_dims(selection_thetas(definition, theta, n_scored, start_theta), -1)
        )
        criterion = 1.0 / (1.0 + distance)
    else:
        criterion = definition.selector.criterion(
            pool,
            selection_thetas(definition, theta, n_scored, start_theta),
            log_posterior,
            n_scored,
        )
    eligible = available
    content = definition.content
    if content is not None:
        allowed = content.allowed(counts, n_scored, available)
        empty = ~allowed.any(axis=-1, keepdims=True)
        if empty.any():
            fallback = available & content.under_upper(counts)
            fallback = np.where(fallback.any(axis=-1, keepdims=True), fallback, available)
            allowed = np.where(empty, fallback, allowed)
        eligible = allowed
        if not definition.is_fixed:
            if content.method is ContentMethod.KINGSBURY_ZARA:
                area = content.kingsbury_zara_area(counts, n_scored, eligible)
                eligible = np.where(area.any(axis=-1, keepdims=True), area, eligible)
            else:
                criterion = criterion * content.priority(counts, n_scored)
    if definition.strata is not None:
        stage = stage_of(n_scored, blueprint.exposure.strata, blueprint.length.max)
        in_stage = eligible & (definition.strata == np.expand_dims(stage, -1))
        eligible = np.where(in_stage.any(axis=-1, keepdims=True), in_stage, eligible)
    scores = criterion  # a new array, so marking the ineligible items in place is safe
    np.copyto(scores, -np.inf, where=~eligible)
    if definition.is_fixed or method in (ExposureMethod.NONE, ExposureMethod.A_STRATIFIED):
        return pick_best(scores), None, None
    if method is ExposureMethod.RANDOMESQUE:
        return pick_randomesque(scores, blueprint.exposure.randomesque_k, rng), None, None
    chosen, candidates, rejected = pick_sympson_hetter(scores, pool.exposure_parameters, rng)
    return chosen, candidates, rejected


def select_pretest(
    definition: ExamDefinition, blocked: npt.NDArray[np.bool_], rng: np.random.Generator
) -> npt.NDArray[np.intp]:
    """A random allowed pretest item per row, -1 where none is left (one row: a scalar)."""
    available = definition.pool.is_pretest & ~blocked
    keys = np.where(available, rng.random(available.shape), -1.0)
    chosen = keys.argmax(axis=-1)
    return np.where(np.logical_or.reduce(available, axis=-1), chosen, -1)


def block_items(
    definition: ExamDefinition,
    blocked: npt.NDArray[np.bool_],
    rows: npt.NDArray[np.intp] | None,
    items: npt.NDArray[np.intp] | int,
) -> None:
    """Block ``items`` (one per row) and their enemies for the rest of those exams, in place.

    For one exam, ``blocked`` has shape (n_items,), ``rows`` is None and ``items`` one item.
    """
    enemy_index = definition.pool.enemy_index
    if rows is None:
        blocked[items] = True
        if enemy_index[items] >= 0:
            blocked |= enemy_index == enemy_index[items]
        return
    blocked[rows, items] = True
    groups = enemy_index[items]
    with_enemies = groups >= 0
    if with_enemies.any():
        enemy_rows = rows[with_enemies]
        blocked[enemy_rows] |= enemy_index[None, :] == groups[with_enemies, None]


def stop_codes(
    definition: ExamDefinition,
    n_scored: npt.NDArray[np.int64],
    theta: npt.NDArray[np.float64],
    se: npt.NDArray[np.float64],
    sprt_log_likelihood: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    pretest_pending: npt.NDArray[np.bool_],
    elapsed_s: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Stop code (index into :data:`STOP_CODES`, 0 to go on) and decision per examinee.

    A later rule overrides an earlier one: SE target, classification, maximum length, time.
    ``elapsed_s`` is NaN where the time is unknown (never up). For one examinee the arguments
    may be scalars and single rows; code and decision are then 0-d arrays.
    """
    blueprint = definition.blueprint
    shape = np.shape(n_scored)
    if definition.sprt is not None:
        decision = definition.sprt.decide(sprt_log_likelihood)
    elif definition.interval is not None:
        decision = definition.interval.decide(theta, se)
    else:
        decision = np.zeros(shape, dtype=np.int64)
    code = np.zeros(shape, dtype=np.int64)
    may_stop_early = (n_scored >= blueprint.length.min) & ~pretest_pending
    if definition.content is not None:
        may_stop_early &= definition.content.minima_met(counts)
    if blueprint.se_target is not None:
        code[may_stop_early & (se <= blueprint.se_target)] = _CODE[StopReason.SE_TARGET]
    code[may_stop_early & (decision != UNDECIDED)] = _CODE[StopReason.CLASSIFIED]
    full_code = _CODE[StopReason.FORM_COMPLETE if definition.is_fixed else StopReason.MAX_LENGTH]
    code[(n_scored >= blueprint.length.max) & ~pretest_pending] = full_code
    if blueprint.time_limit_s is not None:
        # NaN compares false: an unknown time is never up.
        code[elapsed_s >= blueprint.time_limit_s] = _CODE[StopReason.TIME_LIMIT]
    return code, decision


# -- the engine for one exam ------------------------------------------------------------------


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _rng(session_seed: int, stream: int, position: int = 0) -> np.random.Generator:
    """The generator of one stream of an exam: ``default_rng([session_seed, stream, position])``.

    ``SeedSequence`` reads a list of non-negative ints as their 32-bit words, lowest first,
    concatenated, and a uint32 array as it is; given the words, it builds the very same
    generator without converting each int through numpy scalars (a third of its cost, paid at
    every answer).
    """
    words = _uint32_words(session_seed) + _uint32_words(stream) + _uint32_words(position)
    return np.random.default_rng(np.array(words, dtype=np.uint32))


def _uint32_words(value: int) -> list[int]:
    """The 32-bit words of a non-negative integer, lowest first (``[0]`` for zero)."""
    value = int(value)
    if value < 0:
        raise ValueError(f"a seed must be a non-negative integer, got {value!r}")
    words = [value & _WORD_MASK]
    value >>= 32
    while value:
        words.append(value & _WORD_MASK)
        value >>= 32
    return words


def start(
    pool: ItemPool,
    blueprint: Blueprint,
    rng: np.random.Generator | int | None = None,
    *,
    excluded_items: Iterable[str] = (),
) -> ExamState:
    """Begin an exam: the first state, with the first item in ``state.current_item``.

    Parameters
    ----------
    pool : ItemPool
    blueprint : Blueprint
    rng : numpy Generator, int or None
        Source of the exam's session seed (``state.session_seed``), from which all its
        randomness derives.
    excluded_items : iterable of str
        Items the learner saw in earlier attempts; left out when the blueprint's
        ``exclude_seen_items`` is true. Ids not in the pool are ignored.

    Raises
    ------
    InfeasibleBlueprintError
        When the blueprint cannot be met with this pool (see :func:`define_exam`).
    NoItemsAvailableError
        When, after the exclusions, too few items are left for the blueprint.
    """
    definition = define_exam(pool, blueprint)
    session_seed = int(np.random.default_rng(rng).integers(0, _SEED_BOUND))
    return _begin(definition, session_seed, tuple(excluded_items))


def _begin(definition: ExamDefinition, session_seed: int, excluded: tuple[str, ...]) -> ExamState:
    pool = definition.pool
    blueprint = definition.blueprint
    blocked = np.zeros(pool.n_items, dtype=bool)
    if excluded and blueprint.exclude_seen_items:
        blocked[pool.indices_of(excluded, ignore_unknown=True)] = True
        _check_after_exclusions(definition, blocked)
    generator = _rng(session_seed, _STREAM_START)
    n_pretest = min(
        blueprint.pretest_items, usable_count(pool, definition.pretest_available(blocked))
    )
    slots = blueprint.length.min + n_pretest
    positions = tuple(sorted(int(p) for p in generator.choice(slots, n_pretest, replace=False)))
    form_rank = definition.form_rank
    if definition.is_fixed and blueprint.shuffle_form:
        members = np.flatnonzero(np.isfinite(definition.form_rank))
        shuffled = np.full(pool.n_items, np.inf)
        shuffled[members] = generator.permutation(members.size)
        form_rank = _frozen(shuffled)
    start_theta = float(draw_start_thetas(blueprint, 1, generator)[0])
    theta, se = posterior_estimates(
        definition.log_prior[None, :], pool.posterior_grid.nodes, str(blueprint.estimation.interim)
    )
    state = ExamState(
        definition=definition,
        session_seed=session_seed,
        excluded_items=excluded,
        administered=(),
        scores=(),
        pretest_flags=(),
        elapsed=(),
        current_index=None,
        current_is_pretest=False,
        pretest_positions=positions,
        log_posterior=definition.log_prior,
        sprt_log_likelihood=_frozen(np.zeros(2)),
        content_counts=_frozen(np.zeros(definition.n_constraint_columns, dtype=np.int64)),
        blocked=_frozen(blocked),
        form_rank=form_rank,
        theta=float(theta[0]),
        se=float(se[0]),
        start_theta=start_theta,
    )
    return _advance(state, blocked.copy())


def _check_after_exclusions(definition: ExamDefinition, blocked: np.ndarray) -> None:
    blueprint = definition.blueprint
    available = definition.scorable & ~blocked
    total = usable_count(definition.pool, available)
    if total < blueprint.length.max:
        raise NoItemsAvailableError(
            f"after leaving out the items of earlier attempts, {total} usable items remain for "
            f"length.max {blueprint.length.max}"
        )
    content = definition.content
    if content is None:
        return
    for index, constraint in enumerate(blueprint.content.constraints):
        row = content.kind_of_constraint[index]
        have = usable_count(definition.pool, available & (content.constraint_of_item[row] == index))
        if have < content.lower[index]:
            raise NoItemsAvailableError(
                f"after leaving out the items of earlier attempts, {constraint.kind} "
                f"{constraint.code!r} has {have} usable items, content.constraints[{index}] "
                f"needs {content.lower[index]}"
            )


def _advance(state: ExamState, blocked: np.ndarray) -> ExamState:
    """Choose the item at ``state.position`` (or finish when none is left).

    The batch functions get this one examinee as scalars and single rows (see
    :func:`select_scored`).
    """
    definition = state.definition
    position = state.position
    generator = _rng(state.session_seed, _STREAM_SELECT, position)
    chosen = -1
    is_pretest = False
    if position in state.pretest_positions:
        chosen = int(select_pretest(definition, blocked, generator))
        is_pretest = chosen >= 0
    if chosen < 0:
        item, candidates, rejected = select_scored(
            definition,
            np.float64(state.theta),
            state.log_posterior,
            np.int64(state.n_scored),
            blocked,
            state.content_counts,
            generator,
            state.form_rank,
            np.float64(state.start_theta),
        )
        chosen = int(item)
        if rejected is not None:
            blocked[candidates[rejected]] = True
    if chosen < 0:
        return _finished(state._evolve(blocked=_frozen(blocked)), StopReason.POOL_EXHAUSTED)
    block_items(definition, blocked, None, chosen)
    return state._evolve(
        current_index=chosen, current_is_pretest=is_pretest, blocked=_frozen(blocked)
    )


def _finished(state: ExamState, reason: StopReason) -> ExamState:
    definition = state.definition
    scored = [i for i, p in zip(state.administered, state.pretest_flags, strict=True) if not p]
    scores = [s for s, p in zip(state.scores, state.pretest_flags, strict=True) if not p]
    decided_by = str(definition.blueprint.classification.rule) if state.decision else ""
    result = score_exam(
        definition.pool,
        definition.blueprint,
        scored,
        scores,
        decision=state.decision,
        decided_by=decided_by,
        n_pretest=sum(state.pretest_flags),
        stop_reason=str(reason),
    )
    return state._evolve(
        current_index=None,
        current_is_pretest=False,
        finished=True,
        stop_reason=str(reason),
        result=result,
    )


def step(state: ExamState, score: int, *, elapsed_s: float | None = None) -> ExamState:
    """Record the category score of the current item and return the next state.

    Parameters
    ----------
    state : ExamState
    score : int
        Category index 0..K-1 of the current item.
    elapsed_s : float, optional
        Seconds since the exam started, at this answer (for the time limit).

    Raises
    ------
    ExamFinishedError
        When the exam has finished.
    InvalidResponseError
        When ``score`` is not a category of the current item, or time runs backwards.
    """
    if state.finished or state.current_index is None:
        raise ExamFinishedError(f"the exam has finished ({state.stop_reason}); no item to answer")
    definition = state.definition
    pool = definition.pool
    item = state.current_index
    n_categories = int(pool.parameters.n_categories[item])
    if (
        isinstance(score, bool)
        or not isinstance(score, int | np.integer)
        or not (0 <= score < n_categories)
    ):
        raise InvalidResponseError(
            f"score of item {pool.item_ids[item]!r} must be a category 0..{n_categories - 1}, "
            f"got {score!r}"
        )
    score = int(score)
    if elapsed_s is not None:
        elapsed_s = float(elapsed_s)
        previous = state.elapsed_s
        if (
            not math.isfinite(elapsed_s)
            or elapsed_s < 0
            or (previous is not None and elapsed_s < previous)
        ):
            raise InvalidResponseError(
                f"elapsed_s must be finite, >= 0 and not below the last answer's "
                f"({previous!r}), got {elapsed_s!r}"
            )
    log_posterior = state.log_posterior
    sprt_log_likelihood = state.sprt_log_likelihood
    counts = state.content_counts
    theta, se = state.theta, state.se
    if not state.current_is_pretest:
        log_posterior = _frozen(log_posterior + pool.log_probability_grid[item, score])
        if definition.sprt_table is not None:
            sprt_log_likelihood = _frozen(sprt_log_likelihood + definition.sprt_table[item, score])
        if definition.content is not None:
            updated = counts.copy()[None, :]
            definition.content.add(updated, np.array([0]), np.array([item]))
            counts = _frozen(updated[0])
        estimate = posterior_estimates(
            log_posterior, pool.posterior_grid.nodes, str(definition.blueprint.estimation.interim)
        )
        theta, se = float(estimate[0]), float(estimate[1])
    # The stopping rules see the state after this answer; it is built once, with the decision.
    pending = any(p > state.position for p in state.pretest_positions)
    n_scored = state.n_scored + (0 if state.current_is_pretest else 1)
    code, decision = stop_codes(
        definition,
        np.int64(n_scored),
        np.float64(theta),
        np.float64(se),
        sprt_log_likelihood,
        counts,
        np.bool_(pending),
        np.float64(np.nan if elapsed_s is None else elapsed_s),
    )
    answered = state._evolve(
        administered=(*state.administered, item),
        scores=(*state.scores, score),
        pretest_flags=(*state.pretest_flags, state.current_is_pretest),
        elapsed=(*state.elapsed, elapsed_s),
        current_index=None,
        current_is_pretest=False,
        log_posterior=log_posterior,
        sprt_log_likelihood=sprt_log_likelihood,
        content_counts=counts,
        theta=theta,
        se=se,
        decision=int(decision),
    )
    reason = STOP_CODES[int(code)]
    if reason is not None:
        return _finished(answered, reason)
    return _advance(answered, state.blocked.copy())


def finish(state: ExamState, reason: StopReason | str = StopReason.ABANDONED) -> ExamState:
    """End an exam now (time up without an answer, abandoned) and score what was answered."""
    if state.finished:
        return state
    return _finished(state, StopReason(reason))


def replay(
    pool: ItemPool,
    blueprint: Blueprint,
    session_seed: int,
    responses: Sequence[Response | int | tuple],
    *,
    excluded_items: Iterable[str] = (),
) -> ExamState:
    """Rebuild an exam's state from its session seed and stored responses.

    Parameters
    ----------
    session_seed : int
        ``state.session_seed`` of the exam.
    responses : sequence
        :class:`~exam.state.Response` objects, ``(item_id, score)`` or
        ``(item_id, score, elapsed_s)`` tuples, or bare scores (no item check).

    Raises
    ------
    ReplayMismatchError
        When a stored item is not the one the engine gives at that position (the pool, blueprint
        or seed differ from the original exam's), or responses remain after the exam finished.
    """
    definition = define_exam(pool, blueprint)
    state = _begin(definition, int(session_seed), tuple(excluded_items))
    for position, response in enumerate(responses):
        item_id, score, elapsed_s = _unpack(response)
        if state.finished:
            raise ReplayMismatchError(
                f"response {position} is stored, but the exam finished after {position} "
                f"({state.stop_reason})"
            )
        if item_id is not None and item_id != state.current_item:
            raise ReplayMismatchError(
                f"response {position} is to item {item_id!r}, the engine gives "
                f"{state.current_item!r} there"
            )
        state = step(state, score, elapsed_s=elapsed_s)
    return state


def _unpack(response: Response | int | tuple) -> tuple[str | None, int, float | None]:
    if isinstance(response, Response):
        return response.item_id, response.score, response.elapsed_s
    if isinstance(response, tuple):
        if len(response) == 2:
            return str(response[0]), response[1], None
        if len(response) == 3:
            return str(response[0]), response[1], response[2]
        raise ValueError(f"a stored response is (item_id, score[, elapsed_s]), got {response!r}")
    return None, response, None
