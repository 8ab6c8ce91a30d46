"""Simulation of adaptive exams, vectorised across simulees.

:func:`simulate` runs the engine's rules (the batch functions of :mod:`exam.engine`: selection,
content, exposure, pretest seeding, stopping) for thousands of simulees at once, drawing each
answer from the item's model at the simulee's true ability, and returns a
:class:`SimulationResult` whose :meth:`~SimulationResult.report` is the ``sathach simulate``
report: per simulee the true ability, estimate, SE, length, items and pass/fail, and a summary of
bias, RMSE, SE, lengths, exposure, test overlap, content violations and classification.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration import category_probabilities
from exam.blueprint import Blueprint
from exam.content import usable_count
from exam.engine import (
    STOP_CODES,
    ExamDefinition,
    block_items,
    define_exam,
    draw_start_thetas,
    select_pretest,
    select_scored,
    stop_codes,
)
from exam.pool import ItemPool
from exam.scoring import final_estimates, posterior_estimates
from exam.stopping import StopReason

#: Edges of the ability bins of the conditional statistics.
THETA_BIN_EDGES = (-np.inf, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, np.inf)
_SCORING_CHUNK = 1000
_CHUNK_ELEMENTS = 1 << 16
_TABULATE_ELEMENTS = 1 << 23


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Outcome of a simulation.

    Attributes
    ----------
    true_theta, theta, se : ndarray of shape (n_examinees,)
        True abilities, final estimates (the blueprint's final method) and their SEs.
    lengths, n_pretest : ndarray of int
        Scored and pretest items given to each simulee.
    items, scores : ndarray of int, shape (n_examinees, max_positions)
        Pool positions and scores of everything given, in order, -1 after the end.
    is_pretest : ndarray of bool, same shape
    interim_theta : ndarray, shape (n_examinees, length.max)
        Interim estimate after each scored answer (NaN after the end): what a fixed-length test
        of every shorter length would have estimated.
    passed, true_pass : ndarray of bool or None
        Pass/fail decision and truth at the cut (None without a cut).
    stop_codes : ndarray of int
        Index into :data:`exam.engine.STOP_CODES`.
    exposure_counts, selection_counts : ndarray of int, shape (n_items,)
        Simulees who were given each item; and who had it selected (given, or passed over by
        Sympson-Hetter).
    content_violations : ndarray of int, shape (n_examinees,)
        Content constraints broken at the end of each test.
    """

    definition: ExamDefinition
    seed: int | None
    true_theta: npt.NDArray[np.float64]
    theta: npt.NDArray[np.float64]
    se: npt.NDArray[np.float64]
    lengths: npt.NDArray[np.int64]
    n_pretest: npt.NDArray[np.int64]
    items: npt.NDArray[np.intp]
    scores: npt.NDArray[np.int64]
    is_pretest: npt.NDArray[np.bool_]
    interim_theta: npt.NDArray[np.float64]
    passed: npt.NDArray[np.bool_] | None
    true_pass: npt.NDArray[np.bool_] | None
    stop_codes: npt.NDArray[np.int64]
    exposure_counts: npt.NDArray[np.int64]
    selection_counts: npt.NDArray[np.int64]
    content_violations: npt.NDArray[np.int64]

    @property
    def n_examinees(self) -> int:
        return int(self.true_theta.size)

    @property
    def pool(self) -> ItemPool:
        return self.definition.pool

    @property
    def blueprint(self) -> Blueprint:
        return self.definition.blueprint

    def exposure_rates(self) -> npt.NDArray[np.float64]:
        """Share of simulees given each item."""
        return self.exposure_counts / self.n_examinees

    def mean_test_overlap(self) -> float:
        """Mean share of items two simulees have in common, relative to the mean length.

        Exact over all pairs (Chen, Ankenmann & Spray 2003):
        :math:`\\sum_j \\binom{c_j}{2} / \\binom{n}{2} / \\bar L` with :math:`c_j` the number of
        simulees given item j (scored items only).
        """
        n = self.n_examinees
        mean_length = float(self.lengths.mean())
        if n < 2 or mean_length == 0:
            return 0.0
        counts = self.scored_exposure_counts().astype(float)
        shared = (counts * (counts - 1) / 2).sum() / (n * (n - 1) / 2)
        return float(shared / mean_length)

    def scored_exposure_counts(self) -> npt.NDArray[np.int64]:
        """Simulees given each item as a scored item."""
        given = self.items[(self.items >= 0) & ~self.is_pretest]
        return np.bincount(given, minlength=self.pool.n_items)

    def summary(self) -> dict[str, Any]:
        """The report's summary: accuracy, lengths, exposure, content and classification."""
        error = self.theta - self.true_theta
        rates = self.exposure_rates()
        operational = self.pool.operational
        scored_rates = rates[operational]
        summary: dict[str, Any] = {
            "n_examinees": self.n_examinees,
            "n_items": self.pool.n_items,
            "bias": float(error.mean()),
            "rmse": float(np.sqrt((error**2).mean())),
            "mean_se": float(self.se.mean()),
            "correlation": float(np.corrcoef(self.theta, self.true_theta)[0, 1])
            if self.n_examinees > 1 and self.theta.std() > 0
            else None,
            "mean_length": float(self.lengths.mean()),
            "max_exposure": float(scored_rates.max()) if scored_rates.size else 0.0,
            "conditional": self._conditional(error),
            "length_distribution": self._length_distribution(),
            "exposure": {
                "max_rate": float(scored_rates.max()) if scored_rates.size else 0.0,
                "mean_rate": float(scored_rates.mean()) if scored_rates.size else 0.0,
                "share_never_used": float((self.exposure_counts[operational] == 0).mean())
                if scored_rates.size
                else 0.0,
                "mean_test_overlap": self.mean_test_overlap(),
                "histogram": _rate_histogram(scored_rates),
                "pretest_items_given": int(self.n_pretest.sum()),
            },
            "content_violations": int(self.content_violations.sum()),
            "simulees_with_content_violations": int((self.content_violations > 0).sum()),
            "stop_reasons": self._stop_reasons(),
            "classification": self._classification(),
        }
        return summary

    def _conditional(self, error: npt.NDArray[np.float64]) -> list[dict[str, Any]]:
        bins = []
        edges = THETA_BIN_EDGES
        for low, high in itertools.pairwise(edges):
            members = (self.true_theta >= low) & (self.true_theta < high)
            n = int(members.sum())
            entry: dict[str, Any] = {
                "theta_low": None if np.isinf(low) else float(low),
                "theta_high": None if np.isinf(high) else float(high),
                "n": n,
            }
            if n:
                entry.update(
                    bias=float(error[members].mean()),
                    rmse=float(np.sqrt((error[members] ** 2).mean())),
                    mean_se=float(self.se[members].mean()),
                    mean_length=float(self.lengths[members].mean()),
                )
            else:
                entry.update(bias=None, rmse=None, mean_se=None, mean_length=None)
            bins.append(entry)
        return bins

    def _length_distribution(self) -> dict[str, Any]:
        values, counts = np.unique(self.lengths, return_counts=True)
        return {
            "min": int(self.lengths.min()),
            "max": int(self.lengths.max()),
            "mean": float(self.lengths.mean()),
            "sd": float(self.lengths.std()),
            "counts": {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)},
        }

    def _stop_reasons(self) -> dict[str, int]:
        codes, counts = np.unique(self.stop_codes, return_counts=True)
        return {str(STOP_CODES[int(c)]): int(n) for c, n in zip(codes, counts, strict=True)}

    def _classification(self) -> dict[str, Any] | None:
        if self.passed is None or self.true_pass is None:
            return None
        truly_pass = self.true_pass
        n_pass, n_fail = int(truly_pass.sum()), int((~truly_pass).sum())
        false_pass = int((self.passed & ~truly_pass).sum())
        false_fail = int((~self.passed & truly_pass).sum())
        return {
            "cut_theta": self.blueprint.cut_theta,
            "accuracy": float((self.passed == truly_pass).mean()),
            "pass_rate": float(self.passed.mean()),
            "false_pass_rate": false_pass / n_fail if n_fail else 0.0,
            "false_fail_rate": false_fail / n_pass if n_pass else 0.0,
            "false_passes": false_pass,
            "false_fails": false_fail,
        }

    def accuracy_at_each_length(self) -> npt.NDArray[np.float64]:
        """Classification accuracy had the test stopped after 1, 2, ... scored items.

        From the interim estimates, for the examinees whose test reached that length.
        """
        if self.true_pass is None:
            raise ValueError("the blueprint has no cut_theta")
        cut = float(self.blueprint.cut_theta)
        accuracy = np.full(self.interim_theta.shape[1], np.nan)
        for column in range(self.interim_theta.shape[1]):
            reached = ~np.isnan(self.interim_theta[:, column])
            if reached.any():
                decided = self.interim_theta[reached, column] >= cut
                accuracy[column] = float((decided == self.true_pass[reached]).mean())
        return accuracy

    def report(self) -> dict[str, Any]:
        """The JSON report: ``{"simulees": [...], "summary": {...}}``."""
        ids = self.pool.item_ids
        simulees = []
        for row in range(self.n_examinees):
            given = self.items[row][self.items[row] >= 0]
            pretest = self.is_pretest[row][: given.size]
            simulees.append(
                {
                    "true_theta": float(self.true_theta[row]),
                    "theta": float(self.theta[row]),
                    "se": float(self.se[row]),
                    "length": int(self.lengths[row]),
                    "items": [ids[i] for i in given[~pretest]],
                    "pretest_items": [ids[i] for i in given[pretest]],
                    "passed": None if self.passed is None else bool(self.passed[row]),
                    "stop_reason": str(STOP_CODES[int(self.stop_codes[row])]),
                }
            )
        return {
            "simulees": simulees,
            "summary": self.summary(),
            "blueprint": self.blueprint.to_dict(),
            "seed": self.seed,
        }


def _rate_histogram(rates: npt.NDArray[np.float64]) -> list[dict[str, Any]]:
    edges = np.array([0.0, 1e-12, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1.0 + 1e-9])
    counts, _ = np.histogram(rates, bins=edges)
    labels = ["0"] + [
        f"{low:g}-{high:g}"
        for low, high in zip(edges[1:-1].round(2), np.minimum(edges[2:], 1.0).round(2), strict=True)
    ]
    return [
        {"rate": label, "items": int(count)} for label, count in zip(labels, counts, strict=True)
    ]


def simulate(
    pool: ItemPool,
    blueprint: Blueprint,
    *,
    n_examinees: int | None = None,
    thetas: npt.ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Simulate exams of the blueprint for many simulees at once.

    Parameters
    ----------
    pool : ItemPool
    blueprint : Blueprint
    n_examinees : int, optional
        Simulees drawn from N(0, 1) when ``thetas`` is not given.
    thetas : array_like, optional
        True abilities, one per simulee.
    rng : numpy Generator, int or None
        The same seed gives the same result.
    progress : callable, optional
        Called as ``progress(position, max_positions)`` after every position.

    Returns
    -------
    SimulationResult
    """
    definition = define_exam(pool, blueprint)
    generator = np.random.default_rng(rng)
    seed = int(rng) if isinstance(rng, int | np.integer) else None
    if thetas is None:
        if n_examinees is None or isinstance(n_examinees, bool) or int(n_examinees) < 1:
            raise ValueError(f"n_examinees must be an integer >= 1, got {n_examinees!r}")
        true_theta = generator.standard_normal(int(n_examinees))
    else:
        true_theta = np.asarray(thetas, dtype=float).reshape(-1)
        if true_theta.size == 0 or not np.all(np.isfinite(true_theta)):
            raise ValueError("thetas must be a non-empty list of finite numbers")
        if n_examinees is not None and int(n_examinees) != true_theta.size:
            raise ValueError(f"{true_theta.size} thetas given for n_examinees={n_examinees}")
    n = true_theta.size
    max_length = blueprint.length.max
    nodes = pool.posterior_grid.nodes
    interim_method = str(blueprint.estimation.interim)
    n_pretest = min(
        blueprint.pretest_items,
        usable_count(pool, definition.pretest_available(np.zeros(pool.n_items, bool))),
    )
    slots = blueprint.length.min + n_pretest
    pretest_positions = np.argsort(generator.random((n, slots)), axis=1)[:, :n_pretest]
    max_positions = max_length + n_pretest
    form_rank = None
    if definition.is_fixed and blueprint.shuffle_form:
        raise ValueError("a shuffled fixed form cannot be simulated; simulate it unshuffled")

    start_theta = draw_start_thetas(blueprint, n, generator)
    # Small problems tabulate every simulee's category probabilities once; large ones compute
    # them per position for the items actually given.
    true_probabilities = None
    if n * pool.n_items * pool.parameters.max_categories <= _TABULATE_ELEMENTS:
        true_probabilities = category_probabilities(pool.parameters, true_theta)
    log_posterior = np.repeat(definition.log_prior[None, :], n, axis=0)
    sprt_ll = np.zeros((n, 2))
    counts = np.zeros((n, definition.n_constraint_columns), dtype=np.int64)
    blocked = np.zeros((n, pool.n_items), dtype=bool)
    n_scored = np.zeros(n, dtype=np.int64)
    position = np.zeros(n, dtype=np.int64)
    theta0, se0 = posterior_estimates(definition.log_prior[None, :], nodes, interim_method)
    theta = np.full(n, theta0[0])
    se = np.full(n, se0[0])
    decision = np.zeros(n, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    final_code = np.zeros(n, dtype=np.int64)
    items = np.full((n, max_positions), -1, dtype=np.intp)
    scores = np.full((n, max_positions), -1, dtype=np.int64)
    is_pretest = np.zeros((n, max_positions), dtype=bool)
    interim = np.full((n, max_length), np.nan)
    selection_counts = np.zeros(pool.n_items, dtype=np.int64)
    no_time = np.full(n, np.nan)

    for _ in range(max_positions):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        chosen = np.full(rows.size, -1, dtype=np.intp)
        chosen_pretest = np.zeros(rows.size, dtype=bool)
        if n_pretest:
            at_pretest = (pretest_positions[rows] == position[rows, None]).any(axis=1)
            if at_pretest.any():
                picked = select_pretest(definition, blocked[rows[at_pretest]], generator)
                chosen[at_pretest] = picked
                chosen_pretest[at_pretest] = picked >= 0
        need = chosen < 0
        if need.any():
            scored_rows = rows[need]
            picked = np.empty(scored_rows.size, dtype=np.intp)
            # Rows in chunks small enough for the criterion matrix to stay in cache.
            chunk = max(8, _CHUNK_ELEMENTS // pool.n_items)
            for start in range(0, scored_rows.size, chunk):
                part = scored_rows[start : start + chunk]
                part_picked, candidates, rejected = select_scored(
                    definition,
                    theta[part],
                    log_posterior[part],
                    n_scored[part],
                    blocked[part],
                    counts[part],
                    generator,
                    form_rank,
                    start_theta[part],
                )
                picked[start : start + chunk] = part_picked
                if rejected is not None:
                    over_rows, over_columns = np.nonzero(rejected)
                    passed_over = candidates[over_rows, over_columns]
                    blocked[part[over_rows], passed_over] = True
                    selection_counts += np.bincount(passed_over, minlength=pool.n_items)
            chosen[need] = picked
        exhausted = chosen < 0
        if exhausted.any():
            active[rows[exhausted]] = False
            final_code[rows[exhausted]] = STOP_CODES.index(StopReason.POOL_EXHAUSTED)
            keep = ~exhausted
            rows, chosen, chosen_pretest = rows[keep], chosen[keep], chosen_pretest[keep]
            if rows.size == 0:
                break
        selection_counts += np.bincount(chosen[~chosen_pretest], minlength=pool.n_items)
        block_items(definition, blocked, rows, chosen)
        if true_probabilities is not None:
            cumulative = np.cumsum(true_probabilities[rows, chosen], axis=1)
            answers = (generator.random(rows.size)[:, None] > cumulative[:, :-1]).sum(axis=1)
        else:
            answers = _draw_answers(pool, chosen, true_theta[rows], generator)
        items[rows, position[rows]] = chosen
        scores[rows, position[rows]] = answers
        is_pretest[rows, position[rows]] = chosen_pretest
        position[rows] += 1

        scored = ~chosen_pretest
        s_rows, s_items, s_answers = rows[scored], chosen[scored], answers[scored]
        if s_rows.size:
            log_posterior[s_rows] += pool.log_probability_grid[s_items, s_answers]
            if definition.sprt_table is not None:
                sprt_ll[s_rows] += definition.sprt_table[s_items, s_answers]
            if definition.content is not None:
                definition.content.add(counts, s_rows, s_items)
            n_scored[s_rows] += 1
            theta[s_rows], se[s_rows] = posterior_estimates(
                log_posterior[s_rows], nodes, interim_method
            )
            interim[s_rows, n_scored[s_rows] - 1] = theta[s_rows]

        pending = (
            (pretest_positions[rows] >= position[rows, None]).any(axis=1)
            if n_pretest
            else np.zeros(rows.size, dtype=bool)
        )
        code, row_decision = stop_codes(
            definition,
            n_scored[rows],
            theta[rows],
            se[rows],
            sprt_ll[rows],
            counts[rows],
            pending,
            no_time[rows],
        )
        decision[rows] = row_decision
        stopping = code > 0
        final_code[rows[stopping]] = code[stopping]
        active[rows[stopping]] = False
        if progress is not None:
            progress(int(position.max()), max_positions)

    theta_final, se_final = _final_scores(definition, items, scores, is_pretest)
    lengths = n_scored
    passed = true_pass = None
    if blueprint.cut_theta is not None:
        cut = float(blueprint.cut_theta)
        passed = np.where(decision != 0, decision > 0, theta_final >= cut)
        true_pass = true_theta >= cut
    violations = (
        definition.content.violations(counts)
        if definition.content is not None
        else np.zeros(n, dtype=np.int64)
    )
    exposure_counts = np.bincount(items[items >= 0], minlength=pool.n_items)
    return SimulationResult(
        definition=definition,
        seed=seed,
        true_theta=true_theta,
        theta=theta_final,
        se=se_final,
        lengths=lengths,
        n_pretest=is_pretest.sum(axis=1),
        items=items,
        scores=scores,
        is_pretest=is_pretest,
        interim_theta=interim,
        passed=passed,
        true_pass=true_pass,
        stop_codes=final_code,
        exposure_counts=exposure_counts,
        selection_counts=selection_counts,
        content_violations=violations,
    )


def _draw_answers(
    pool: ItemPool,
    items: npt.NDArray[np.intp],
    theta: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:
    """One answer per simulee from the model of its item at its true ability."""
    unique, inverse = np.unique(items, return_inverse=True)
    answers = np.empty(items.size, dtype=np.int64)
    chunk = max(1, 4_000_000 // max(unique.size, 1))
    uniforms = rng.random(items.size)
    parameters = pool.parameters.subset(unique)
    for start in range(0, items.size, chunk):
        stop = min(start + chunk, items.size)
        probabilities = category_probabilities(parameters, theta[start:stop])
        picked = probabilities[np.arange(stop - start), inverse[start:stop]]
        cumulative = np.cumsum(picked, axis=1)
        answers[start:stop] = (uniforms[start:stop, None] > cumulative[:, :-1]).sum(axis=1)
    return answers


def _final_scores(
    definition: ExamDefinition,
    items: npt.NDArray[np.intp],
    scores: npt.NDArray[np.int64],
    is_pretest: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Final estimates of every simulee by the blueprint's method, over the items used."""
    n = items.shape[0]
    scored = (items >= 0) & ~is_pretest
    used = np.unique(items[scored])
    theta = np.empty(n)
    se = np.empty(n)
    if used.size == 0:
        theta[:] = definition.blueprint.estimation.prior_mean
        se[:] = definition.blueprint.estimation.prior_sd
        return theta, se
    column = np.full(definition.pool.n_items, -1, dtype=np.intp)
    column[used] = np.arange(used.size)
    parameters = definition.pool.parameters.subset(used)
    for start in range(0, n, _SCORING_CHUNK):
        stop = min(start + _SCORING_CHUNK, n)
        block = np.full((stop - start, used.size), np.nan)
        rows, positions = np.nonzero(scored[start:stop])
        block[rows, column[items[start:stop][rows, positions]]] = scores[start:stop][
            rows, positions
        ]
        theta[start:stop], se[start:stop] = final_estimates(parameters, block, definition.blueprint)
    return theta, se
