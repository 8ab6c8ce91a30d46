"""The frozen state of one exam in progress.

An :class:`ExamState` holds what the stateless engine needs to go on: the items given and their
scores, the log-posterior on the grid, content counts, the items no longer allowed (given, their
enemies, seen in earlier attempts, passed over by Sympson-Hetter), the current item, and the
result once finished. Every ``step`` returns a new state; none is ever modified. The stored
responses and the session seed rebuild it exactly (:func:`exam.engine.replay`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from exam.scoring import ExamResult

if TYPE_CHECKING:
    from exam.engine import ExamDefinition


@dataclass(frozen=True)
class Response:
    """One stored answer: the item shown, its category score, whether it was a pretest item,
    and the elapsed time since the start of the exam when it was given (if known)."""

    item_id: str
    score: int
    is_pretest: bool = False
    elapsed_s: float | None = None


@dataclass(frozen=True, eq=False)
class ExamState:
    """One exam at one moment. Made by :func:`exam.engine.start` and :func:`exam.engine.step`.

    Attributes
    ----------
    definition : ExamDefinition
        The pool and blueprint, compiled.
    session_seed : int
        Seed of all randomness of this exam; with the responses it rebuilds the state.
    administered : tuple of int
        Pool positions of the answered items, in order.
    scores : tuple of int
        Their category scores.
    pretest_flags : tuple of bool
        Which of them were unscored pretest items.
    elapsed : tuple of (float or None)
        Elapsed seconds at each answer.
    current_index : int or None
        Pool position of the item shown now (None when finished).
    current_is_pretest : bool
        Whether the current item is a pretest item.
    pretest_positions : tuple of int
        Positions (0-based, counting every item) planned for pretest items.
    log_posterior : ndarray of shape (n_nodes,)
        Log prior plus log-likelihood of the scored answers on the pool's posterior grid.
    sprt_log_likelihood : ndarray of shape (2,)
        Log-likelihood at the SPRT's two points (zeros without an SPRT).
    content_counts : ndarray of int
        Scored items per content constraint (last column: outside every constraint).
    blocked : ndarray of bool, shape (n_items,)
        Items this exam may no longer give.
    form_rank : ndarray of float or None
        Order of a fixed form (shuffled per exam when the blueprint says so).
    theta, se : float
        Interim estimate and standard error.
    start_theta : float
        Ability at which the first item was chosen.
    decision : int
        +1 pass, -1 fail, 0 undecided by the classification rule so far.
    finished : bool
    stop_reason : str or None
    result : ExamResult or None
    """

    definition: ExamDefinition
    session_seed: int
    excluded_items: tuple[str, ...]
    administered: tuple[int, ...]
    scores: tuple[int, ...]
    pretest_flags: tuple[bool, ...]
    elapsed: tuple[float | None, ...]
    current_index: int | None
    current_is_pretest: bool
    pretest_positions: tuple[int, ...]
    log_posterior: npt.NDArray[np.float64]
    sprt_log_likelihood: npt.NDArray[np.float64]
    content_counts: npt.NDArray[np.int64]
    blocked: npt.NDArray[np.bool_]
    form_rank: npt.NDArray[np.float64] | None
    theta: float
    se: float
    start_theta: float = 0.0
    decision: int = 0
    finished: bool = False
    stop_reason: str | None = None
    result: ExamResult | None = None

    @property
    def position(self) -> int:
        """Number of items answered so far (the 0-based position of the current item)."""
        return len(self.administered)

    @property
    def n_scored(self) -> int:
        """Number of scored (non-pretest) items answered."""
        return len(self.administered) - sum(self.pretest_flags)

    @property
    def current_item(self) -> str | None:
        """Id of the item to show now, None when the exam is finished."""
        if self.current_index is None:
            return None
        return self.definition.pool.item_ids[self.current_index]

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Ids of the answered items, in order."""
        ids = self.definition.pool.item_ids
        return tuple(ids[i] for i in self.administered)

    @property
    def responses(self) -> tuple[Response, ...]:
        """The stored answers, scored and pretest, in order."""
        ids = self.definition.pool.item_ids
        return tuple(
            Response(ids[i], s, p, e)
            for i, s, p, e in zip(
                self.administered, self.scores, self.pretest_flags, self.elapsed, strict=True
            )
        )

    @property
    def pretest_responses(self) -> tuple[Response, ...]:
        """The answers to pretest items, kept for their calibration."""
        return tuple(response for response in self.responses if response.is_pretest)

    @property
    def elapsed_s(self) -> float | None:
        """Elapsed seconds at the last answer (None if never given)."""
        for elapsed in reversed(self.elapsed):
            if elapsed is not None:
                return elapsed
        return None

    @property
    def selection_theta(self) -> float:
        """The ability at which the next item's criterion is evaluated (estimate or cut)."""
        blueprint = self.definition.blueprint
        if blueprint.selection.target == "cut" and blueprint.cut_theta is not None:
            return blueprint.cut_theta
        if self.n_scored == 0:
            return self.start_theta
        return self.theta

    def _evolve(self, **changes: Any) -> ExamState:
        """A copy with some fields changed: :func:`dataclasses.replace` without ``__init__``.

        The engine makes two states per answer, inside the web request, and ``replace`` passes
        all 22 fields through ``__init__`` again (several microseconds). A state has no
        ``__post_init__`` and nothing derived from its fields, so copying them is the same.
        """
        unknown = changes.keys() - self.__dict__.keys()
        if unknown:
            raise TypeError(f"ExamState has no field {sorted(unknown)[0]!r}")
        state = object.__new__(ExamState)
        state.__dict__.update(self.__dict__)
        state.__dict__.update(changes)
        return state

    def eligible_mask(self) -> npt.NDArray[np.bool_]:
        """Scored items this exam may still give (before content and exposure rules)."""
        return self.definition.scorable & ~self.blocked
