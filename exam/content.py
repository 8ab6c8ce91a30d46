"""Content balancing: minimum and maximum item counts per competency domain and topic.

A blueprint's constraints are compiled against a pool into a :class:`ContentBalancer`, which works
on arrays of counts for many examinees at once:

* a feasibility mask (items whose domain or topic is at its maximum are out; when the items still
  needed for the minima of a kind fill every remaining slot, only items that reduce a deficit are
  in), so a feasible blueprint is never broken;
* a priority among the allowed items: the maximum priority index (Cheng & Chang 2009), or the
  Kingsbury-Zara (1989) rule that takes the next item from the content area furthest below its
  target share.

:func:`check_feasibility` rejects, when an exam is defined, a blueprint that no test of its
lengths could satisfy with the pool: per constraint by counting, then all constraints and enemy
groups together by a small integer program.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, sparse

from exam.blueprint import Blueprint, ConstraintKind, ContentMethod
from exam.exceptions import InfeasibleBlueprintError
from exam.pool import ItemPool

_KINDS = (ConstraintKind.DOMAIN, ConstraintKind.TOPIC)


@dataclass(frozen=True, eq=False)
class ContentBalancer:
    """Compiled content constraints of one blueprint on one pool.

    Counts are arrays of shape (n_examinees, n_constraints + 1): the last column is a sentinel
    for items outside every constraint of a kind, so that the per-kind constraint index -1 of such
    an item gathers a column that never binds. For one examinee the methods other than
    :meth:`add` also take counts of shape (n_constraints + 1,), a scalar ``n_scored`` and masks of
    shape (n_items,), and return one row.

    Attributes
    ----------
    method : ContentMethod
        Maximum priority index or Kingsbury-Zara.
    lower, upper : ndarray of int, shape (n_constraints + 1,)
        Bounds as counts of the maximum length (sentinel: 0 and a large number).
    has_upper : ndarray of bool, shape (n_constraints + 1,)
        Whether a constraint has an explicit maximum (only those lower the priority index).
    constraint_of_item : ndarray of int, shape (2, n_items)
        Constraint index of each item for domains (row 0) and topics (row 1), -1 for none.
    kind_of_constraint : ndarray of int, shape (n_constraints,)
        0 for a domain constraint, 1 for a topic constraint.
    max_length : int
        Maximum number of scored items.
    """

    method: ContentMethod
    lower: npt.NDArray[np.int64]
    upper: npt.NDArray[np.int64]
    has_upper: npt.NDArray[np.bool_]
    constraint_of_item: npt.NDArray[np.intp]
    kind_of_constraint: npt.NDArray[np.intp]
    max_length: int
    target_share: npt.NDArray[np.float64]

    @classmethod
    def compile(cls, blueprint: Blueprint, pool: ItemPool) -> ContentBalancer | None:
        """Compile the blueprint's constraints for the pool; None when there are none."""
        constraints = blueprint.content.constraints
        if not constraints:
            return None
        max_length = blueprint.length.max
        n_constraints = len(constraints)
        lower = np.zeros(n_constraints + 1, dtype=np.int64)
        upper = np.full(n_constraints + 1, 10**9, dtype=np.int64)
        has_upper = np.zeros(n_constraints + 1, dtype=bool)
        kind_of_constraint = np.zeros(n_constraints, dtype=np.intp)
        constraint_of_item = np.full((2, pool.n_items), -1, dtype=np.intp)
        codes_of_kind = {ConstraintKind.DOMAIN: pool.domains, ConstraintKind.TOPIC: pool.topics}
        for index, constraint in enumerate(constraints):
            lower[index] = constraint.lower_count(max_length)
            upper[index] = constraint.upper_count(max_length)
            has_upper[index] = constraint.max is not None or constraint.max_share is not None
            row = _KINDS.index(constraint.kind)
            kind_of_constraint[index] = row
            members = np.array([code == constraint.code for code in codes_of_kind[constraint.kind]])
            constraint_of_item[row, members] = index
        # Kingsbury-Zara target shares: the middle of each constraint's range, normalised within
        # its kind, with the items outside every constraint of the kind sharing the rest.
        middle = (lower[:-1] + np.minimum(upper[:-1], max_length)) / 2.0 / max_length
        target_share = np.zeros(n_constraints + 1)
        target_share[:-1] = middle
        for row in range(2):
            of_kind = kind_of_constraint == row
            total = middle[of_kind].sum()
            if total > 1.0:
                target_share[:-1][of_kind] = middle[of_kind] / total
        target_share[-1] = 0.0
        for array in (
            lower,
            upper,
            has_upper,
            constraint_of_item,
            kind_of_constraint,
            target_share,
        ):
            array.flags.writeable = False
        return cls(
            method=blueprint.content.method,
            lower=lower,
            upper=upper,
            has_upper=has_upper,
            constraint_of_item=constraint_of_item,
            kind_of_constraint=kind_of_constraint,
            max_length=max_length,
            target_share=target_share,
        )

    @property
    def n_constraints(self) -> int:
        return int(self.kind_of_constraint.size)

    def empty_counts(self, n_examinees: int) -> npt.NDArray[np.int64]:
        """Counts of an examinee who has seen nothing yet, shape (n_examinees, n_constraints+1)."""
        return np.zeros((n_examinees, self.n_constraints + 1), dtype=np.int64)

    def add(
        self, counts: npt.NDArray[np.int64], rows: npt.NDArray[np.intp], items: npt.NDArray[np.intp]
    ) -> None:
        """Count scored ``items`` (one per row in ``rows``) in place."""
        for kind_row in range(2):
            column = self.constraint_of_item[kind_row, items]
            inside = column >= 0
            np.add.at(counts, (rows[inside], column[inside]), 1)

    def allowed(
        self,
        counts: npt.NDArray[np.int64],
        n_scored: npt.NDArray[np.int64],
        available: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.bool_]:
        """Items that keep every constraint satisfiable, shape (n_examinees, n_items).

        An item is out when its domain or topic is at its maximum, or when the minima of a kind
        still need every remaining slot and the item reduces none of them (Cheng & Chang 2009's
        feasibility condition, per kind).
        """
        remaining = self.max_length - n_scored  # slots left including this one
        deficit = np.maximum(self.lower - counts, 0)
        at_upper = counts >= self.upper
        allowed = available.copy()
        for kind_row in range(2):
            column = self.constraint_of_item[kind_row]
            allowed &= ~at_upper[..., column]
            of_kind = np.append(self.kind_of_constraint == kind_row, False)
            tight = deficit[..., of_kind].sum(axis=-1) >= remaining
            if tight.any():
                helps = deficit[..., column] > 0
                allowed &= ~tight[..., None] | helps
        return allowed

    def under_upper(self, counts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Items whose domain and topic are below their maxima, shape (n_examinees, n_items)."""
        at_upper = counts >= self.upper
        return ~(
            at_upper[..., self.constraint_of_item[0]] | at_upper[..., self.constraint_of_item[1]]
        )

    def priority(
        self, counts: npt.NDArray[np.int64], n_scored: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """Priority factor of every item (multiplies a non-negative selection criterion).

        .. math:: PI_j = \\prod_{k \\ni j} f_k, \\qquad
                  f_k = \\frac{u_k - x_k}{u_k}\\,\\Big(1 + \\frac{\\max(l_k - x_k, 0)}{r}\\Big)

        with :math:`x_k` the items given from constraint k, :math:`u_k` its maximum (the factor
        is 1 without one), :math:`l_k` its minimum and :math:`r` the slots left. The first factor
        is Cheng & Chang's (2009); the second moves categories behind their minima forward
        (their minima are guaranteed by :meth:`allowed` in any case).
        """
        remaining = np.maximum(self.max_length - n_scored, 1)[..., None]
        upper = np.maximum(self.upper, 1)
        closeness = np.where(self.has_upper, (upper - counts) / upper, 1.0)
        urgency = 1.0 + np.maximum(self.lower - counts, 0) / remaining
        factor = np.clip(closeness, 0.0, None) * urgency
        factor[..., -1] = 1.0
        return factor[..., self.constraint_of_item[0]] * factor[..., self.constraint_of_item[1]]

    def kingsbury_zara_area(
        self,
        counts: npt.NDArray[np.int64],
        n_scored: npt.NDArray[np.int64],
        allowed: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.bool_]:
        """Restrict ``allowed`` to the content area furthest below its target share.

        Kingsbury & Zara (1989): the area with the largest gap between its target share and its
        share of the items given so far, among areas that still have an allowed item. Uses the
        domain constraints, or the topic constraints when there are no domain ones.
        """
        kind_row = 0 if (self.kind_of_constraint == 0).any() else 1
        column = self.constraint_of_item[kind_row]
        areas = np.append(np.flatnonzero(self.kind_of_constraint == kind_row), -1)
        shares = counts[..., areas] / np.maximum(n_scored, 1)[..., None]
        target = self.target_share[areas].copy()
        target[-1] = max(0.0, 1.0 - target[:-1].sum())
        gap = target - shares
        membership = (column[:, None] == areas[None, :]).astype(np.float32)
        has_item = (allowed.astype(np.float32) @ membership) > 0
        gap = np.where(has_item, gap, -np.inf)
        chosen = areas[np.argmax(gap, axis=-1)]
        restricted = allowed & (column == chosen[..., None])
        # Rows where nothing is allowed keep their (empty) mask.
        return restricted

    def minima_met(self, counts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Whether every minimum is reached, shape (n_examinees,)."""
        return np.all(counts[..., :-1] >= self.lower[:-1], axis=-1)

    def violations(self, counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Number of constraints broken at the end of each test, shape (n_examinees,)."""
        broken = (counts[:, :-1] < self.lower[None, :-1]) | (counts[:, :-1] > self.upper[None, :-1])
        return broken.sum(axis=1)


def usable_count(pool: ItemPool, mask: npt.NDArray[np.bool_]) -> int:
    """Items of ``mask`` one exam can hold at once: enemy groups count once."""
    groups = pool.enemy_index[mask]
    return int((groups < 0).sum() + np.unique(groups[groups >= 0]).size)


def check_feasibility(
    blueprint: Blueprint, pool: ItemPool, available: npt.NDArray[np.bool_] | None = None
) -> None:
    """Reject a blueprint that no test of its lengths could satisfy with the pool.

    Parameters
    ----------
    blueprint : Blueprint
    pool : ItemPool
    available : ndarray of bool, optional
        Items the exam may use (default: the pool's operational items).

    Raises
    ------
    InfeasibleBlueprintError
        Naming the constraint (or the length) that cannot be met.
    """
    if available is None:
        available = pool.operational.copy()
    total = usable_count(pool, available)
    if total < blueprint.length.max:
        raise InfeasibleBlueprintError(
            "length.max",
            f"{blueprint.length.max} scored items asked for, the pool has {total} usable "
            f"operational items (enemy groups count once)",
        )
    balancer = ContentBalancer.compile(blueprint, pool)
    if balancer is None:
        return
    for index, constraint in enumerate(blueprint.content.constraints):
        kind_row = _KINDS.index(constraint.kind)
        members = available & (balancer.constraint_of_item[kind_row] == index)
        have = usable_count(pool, members)
        if have < balancer.lower[index]:
            raise InfeasibleBlueprintError(
                f"content.constraints[{index}].min",
                f"needs {balancer.lower[index]} items of {constraint.kind} {constraint.code!r}, "
                f"the pool has {have} usable",
            )
    lengths = sorted({blueprint.length.min, blueprint.length.max})
    for length in lengths:
        if not _integer_program_feasible(balancer, pool, available, length):
            raise InfeasibleBlueprintError(
                "content.constraints",
                f"no test of {length} items satisfies all content constraints and enemy groups "
                f"together with this pool",
            )


def _integer_program_feasible(
    balancer: ContentBalancer, pool: ItemPool, available: npt.NDArray[np.bool_], length: int
) -> bool:
    """Whether some set of ``length`` available items meets every bound and enemy group."""
    items = np.flatnonzero(available)
    n_variables = items.size
    row_index = [np.zeros(n_variables, dtype=np.intp)]
    column_index = [np.arange(n_variables)]
    low = [float(length)]
    high = [float(length)]
    for index in range(balancer.n_constraints):
        kind_row = balancer.kind_of_constraint[index]
        members = np.flatnonzero(balancer.constraint_of_item[kind_row, items] == index)
        row_index.append(np.full(members.size, len(low), dtype=np.intp))
        column_index.append(members)
        low.append(float(balancer.lower[index]))
        high.append(float(min(balancer.upper[index], length)))
    groups = pool.enemy_index[items]
    grouped = np.flatnonzero(groups >= 0)
    if grouped.size:
        _, group_number = np.unique(groups[grouped], return_inverse=True)
        row_index.append(len(low) + group_number)
        column_index.append(grouped)
        n_groups = int(group_number.max()) + 1
        low.extend([0.0] * n_groups)
        high.extend([1.0] * n_groups)
    rows = np.concatenate(row_index)
    matrix = sparse.csr_array(
        (np.ones(rows.size), (rows, np.concatenate(column_index))), shape=(len(low), n_variables)
    )
    result = optimize.milp(
        c=np.zeros(n_variables),
        constraints=optimize.LinearConstraint(matrix, np.array(low), np.array(high)),
        integrality=np.ones(n_variables),
        bounds=optimize.Bounds(0, 1),
    )
    return bool(result.status == 0)
