"""The item pool: what the engine draws from, validated once and precomputed for the hot path.

An :class:`ItemPool` holds item ids, their IRT parameters (models may be mixed), competency,
topic and enemy-group codes, pretest flags and Sympson-Hetter exposure parameters. Everything
the selection step needs per item (log-probabilities on the posterior grid, Fisher information
on a fine selection grid, the tables of the Kullback-Leibler index) is computed once per pool as
a cached property, so a step is a few vector operations over the eligible items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration import (
    ItemParameters,
    Quadrature,
    category_probabilities,
    item_information,
    log_category_probabilities,
    normal_quadrature,
)
from exam.exceptions import PoolError

#: Bound of the latent scale used by the engine (mirt's default quadrature range).
THETA_BOUND = 6.0
#: Nodes of the posterior grid (61 on [-6, 6], as calibration and mirt use).
POSTERIOR_NODES = 61
#: Nodes of the selection grid on which information is tabulated and linearly interpolated.
SELECTION_NODES = 241
_PROBABILITY_FLOOR = 1e-12
#: Most categories for which a pool's scoring table holds, bit for bit, the table of any subset
#: of its items. A partial-credit item's probabilities are normalised by a sum over the table's
#: categories; numpy adds fewer than 8 terms in order (a category beyond the item's own adds an
#: exact zero), but 8 or more pairwise, so the grouping would depend on the table's width.
_EXACT_SUBSET_CATEGORIES = 7


def domain_of(competency: str) -> str:
    """The competency domain of a code: the part before the first dot of the code.

    ``"VN-TT02-2025:4.2"`` is in domain ``"VN-TT02-2025:4"``; a code without a dot
    (``"PROJ-CSX:ESIG"``) is its own domain.
    """
    framework, separator, code = competency.rpartition(":")
    head = code.split(".", 1)[0]
    return f"{framework}{separator}{head}"


@dataclass(frozen=True, eq=False)
class ItemPool:
    """Items the engine may select, with everything selection, content and exposure rules need.

    Build it with :meth:`build`, which validates every field. Instances are immutable and
    compared by identity; derived tables are cached per instance.

    Attributes
    ----------
    item_ids : tuple of str
        Unique item ids.
    parameters : calibration.ItemParameters
        IRT parameters of the items in the same order; models may be mixed.
    competencies : tuple of str
        Primary competency code per item, e.g. ``"VN-TT02-2025:4.2"``.
    topics : tuple of (str or None)
        Topic code per item.
    enemy_groups : tuple of (str or None)
        Items of one enemy group never share an exam.
    is_pretest : ndarray of bool
        Pretest items are unscored and their parameters provisional.
    exposure_parameters : ndarray of float
        Sympson-Hetter exposure-control parameter per item, in [0, 1].
    """

    item_ids: tuple[str, ...]
    parameters: ItemParameters
    competencies: tuple[str, ...]
    topics: tuple[str | None, ...]
    enemy_groups: tuple[str | None, ...]
    is_pretest: npt.NDArray[np.bool_]
    exposure_parameters: npt.NDArray[np.float64]

    @classmethod
    def build(
        cls,
        item_ids: Sequence[str],
        parameters: ItemParameters,
        *,
        competencies: Sequence[str],
        topics: Sequence[str | None] | None = None,
        enemy_groups: Sequence[str | None] | None = None,
        is_pretest: npt.ArrayLike | None = None,
        exposure_parameters: npt.ArrayLike | None = None,
    ) -> ItemPool:
        """Validate and build a pool.

        Raises
        ------
        PoolError
            Naming the item and the field for the first problem found.
        TypeError
            When ``parameters`` is not a :class:`calibration.ItemParameters`.
        """
        if not isinstance(parameters, ItemParameters):
            raise TypeError(
                f"parameters must be a calibration.ItemParameters, got {type(parameters).__name__}"
            )
        ids = tuple(item_ids)
        n_items = len(ids)
        if n_items == 0:
            raise PoolError("an item pool needs at least one item", field="item_ids")
        if parameters.n_items != n_items:
            raise PoolError(
                f"{parameters.n_items} parameter rows for {n_items} item ids", field="parameters"
            )
        seen: set[str] = set()
        for item_id in ids:
            if not isinstance(item_id, str) or not item_id.strip():
                raise PoolError(
                    f"item id must be a non-empty string, got {item_id!r}", field="item_ids"
                )
            if item_id in seen:
                raise PoolError("the item id occurs twice", item_id=item_id, field="item_ids")
            seen.add(item_id)
        competency_codes = _codes(ids, competencies, "competencies", optional=False)
        topic_codes = _codes(ids, topics, "topics", optional=True)
        enemy_codes = _codes(ids, enemy_groups, "enemy_groups", optional=True)
        pretest = _flags(ids, is_pretest)
        exposure = _exposure(ids, exposure_parameters)
        for index, item_id in enumerate(ids):
            if not (np.isfinite(parameters.a[index]) and parameters.a[index] > 0):
                raise PoolError(
                    f"slope must be finite and > 0, got {parameters.a[index]!r}",
                    item_id=item_id,
                    field="a",
                )
            thresholds = parameters.b[index, : parameters.n_categories[index] - 1]
            if not np.all(np.isfinite(thresholds)):
                raise PoolError(
                    f"difficulties must be finite, got {thresholds.tolist()!r}",
                    item_id=item_id,
                    field="b",
                )
        return cls(
            item_ids=ids,
            parameters=parameters,
            competencies=competency_codes,  # type: ignore[arg-type]
            topics=topic_codes,
            enemy_groups=enemy_codes,
            is_pretest=pretest,
            exposure_parameters=exposure,
        )

    # -- plain lookups -----------------------------------------------------------------------

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {item_id: index for index, item_id in enumerate(self.item_ids)}

    def index_of(self, item_id: str) -> int:
        """Position of an item id in the pool.

        Raises
        ------
        KeyError
            When the pool has no such item.
        """
        try:
            return self._positions[item_id]
        except KeyError:
            raise KeyError(f"item {item_id!r} is not in the pool") from None

    def indices_of(self, item_ids: Sequence[str], *, ignore_unknown: bool = False) -> np.ndarray:
        """Positions of several item ids (unknown ids skipped when ``ignore_unknown``)."""
        if ignore_unknown:
            return np.array(
                [self._positions[i] for i in item_ids if i in self._positions], dtype=np.intp
            )
        return np.array([self.index_of(i) for i in item_ids], dtype=np.intp)

    @cached_property
    def domains(self) -> tuple[str, ...]:
        """Competency domain of every item (see :func:`domain_of`)."""
        return tuple(domain_of(code) for code in self.competencies)

    @cached_property
    def domain_codes(self) -> tuple[str, ...]:
        """The distinct domains of the pool, sorted."""
        return tuple(sorted(set(self.domains)))

    @cached_property
    def domain_index(self) -> npt.NDArray[np.intp]:
        """Position of every item's domain in :attr:`domain_codes`."""
        number = {code: index for index, code in enumerate(self.domain_codes)}
        index = np.array([number[code] for code in self.domains], dtype=np.intp)
        index.flags.writeable = False
        return index

    @cached_property
    def operational(self) -> npt.NDArray[np.bool_]:
        """Mask of the scored (non-pretest) items."""
        mask = ~self.is_pretest
        mask.flags.writeable = False
        return mask

    @cached_property
    def enemy_index(self) -> npt.NDArray[np.intp]:
        """Enemy group of every item as an integer, -1 for none."""
        return _index_codes(self.enemy_groups)

    @cached_property
    def enemy_members(self) -> dict[int, npt.NDArray[np.intp]]:
        """Item positions of every enemy group."""
        groups: dict[int, list[int]] = {}
        for position, group in enumerate(self.enemy_index.tolist()):
            if group >= 0:
                groups.setdefault(group, []).append(position)
        return {group: np.array(members, dtype=np.intp) for group, members in groups.items()}

    @cached_property
    def mean_difficulty(self) -> npt.NDArray[np.float64]:
        """Mean of each item's difficulties (the location used by a-stratified b-matching)."""
        values = np.nanmean(self.parameters.b, axis=1)
        values.flags.writeable = False
        return values

    def with_exposure_parameters(self, exposure_parameters: npt.ArrayLike) -> ItemPool:
        """The same pool with new Sympson-Hetter parameters (validated)."""
        return replace(self, exposure_parameters=_exposure(self.item_ids, exposure_parameters))

    def subset(self, indices: npt.ArrayLike) -> ItemPool:
        """The pool of the items at ``indices`` (positions or a boolean mask)."""
        index = np.arange(self.n_items)[np.asarray(indices)]
        return ItemPool.build(
            [self.item_ids[i] for i in index],
            self.parameters.subset(index),
            competencies=[self.competencies[i] for i in index],
            topics=[self.topics[i] for i in index],
            enemy_groups=[self.enemy_groups[i] for i in index],
            is_pretest=self.is_pretest[index],
            exposure_parameters=self.exposure_parameters[index],
        )

    # -- precomputed tables for the hot path ---------------------------------------------------

    @cached_property
    def posterior_grid(self) -> Quadrature:
        """The standard-normal quadrature on which the engine keeps each examinee's posterior."""
        return normal_quadrature(POSTERIOR_NODES, THETA_BOUND)

    @cached_property
    def log_probability_grid(self) -> npt.NDArray[np.float64]:
        """``log P(X_j = k | theta_q)``, shape (n_items, max_categories, n_posterior_nodes).

        An answer adds row ``[j, k]`` to the examinee's log-posterior: one vector addition.
        """
        probabilities = category_probabilities(self.parameters, self.posterior_grid.nodes)
        table = np.log(np.maximum(probabilities, _PROBABILITY_FLOOR)).transpose(1, 2, 0)
        table = np.ascontiguousarray(table)
        table.flags.writeable = False
        return table

    @cached_property
    def scoring_log_probabilities(self) -> npt.NDArray[np.float64] | None:
        """``log P(X_j = k | theta_q)`` on the nodes of final EAP scoring, for the final score
        and subscores of an exam, shape (n_items, n_nodes, max_categories).

        :func:`calibration.log_category_probabilities` on the nodes of
        :func:`calibration.score_eap`'s default quadrature, items first so that an exam's items
        are taken in one block each: their rows are the very table ``score_eap`` would compute
        for them (elementwise functions do not depend on the other items). None when an item
        has more categories than that holds for (``_EXACT_SUBSET_CATEGORIES``): scoring then
        computes its own table.
        """
        if self.parameters.max_categories > _EXACT_SUBSET_CATEGORIES:
            return None
        table = log_category_probabilities(self.parameters, normal_quadrature().nodes)
        table = np.ascontiguousarray(table.transpose(1, 0, 2))
        table.flags.writeable = False
        return table

    @cached_property
    def information_posterior_grid(self) -> npt.NDArray[np.float64]:
        """Item information at the posterior nodes, shape (n_posterior_nodes, n_items) (MPWI)."""
        table = np.ascontiguousarray(item_information(self.parameters, self.posterior_grid.nodes))
        table.flags.writeable = False
        return table

    @cached_property
    def selection_nodes(self) -> npt.NDArray[np.float64]:
        """The fine, equally spaced grid on which selection tables are interpolated."""
        nodes = np.linspace(-THETA_BOUND, THETA_BOUND, SELECTION_NODES)
        nodes.flags.writeable = False
        return nodes

    @cached_property
    def information_grid(self) -> npt.NDArray[np.float64]:
        """Item information on the selection grid, shape (n_selection_nodes, n_items)."""
        table = np.ascontiguousarray(item_information(self.parameters, self.selection_nodes))
        table.flags.writeable = False
        return table

    @cached_property
    def kl_tables(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Tables of the Kullback-Leibler index on the selection grid.

        Returns ``(probabilities, cumulative_log)``, both (n_selection_nodes, n_items,
        max_categories): ``P_jk(theta)`` and ``int_{-6}^{theta} log P_jk(t) dt`` by the
        trapezoidal rule, so the integral of the KL divergence over any interval is a difference
        of two rows.
        """
        probabilities = category_probabilities(self.parameters, self.selection_nodes)
        log_p = np.log(np.maximum(probabilities, _PROBABILITY_FLOOR))
        log_p = np.where(probabilities > 0, log_p, 0.0)
        step = self.selection_nodes[1] - self.selection_nodes[0]
        cumulative = np.zeros_like(log_p)
        cumulative[1:] = np.cumsum(0.5 * step * (log_p[1:] + log_p[:-1]), axis=0)
        for table in (probabilities, cumulative):
            table.flags.writeable = False
        return probabilities, cumulative

    @cached_property
    def _cache(self) -> dict[Any, Any]:
        """Per-pool cache of tables that depend on a blueprint (see :mod:`exam.engine`)."""
        return {}

    def log_probabilities_at(self, thetas: tuple[float, ...]) -> npt.NDArray[np.float64]:
        """``log P(X_j = k | theta)`` at fixed abilities, shape (n_items, max_categories, n).

        Cached per tuple of abilities (the SPRT needs the two ends of its indifference region).
        """
        key = ("log_probabilities_at", thetas)
        if key not in self._cache:
            probabilities = category_probabilities(self.parameters, np.asarray(thetas))
            table = np.log(np.maximum(probabilities, _PROBABILITY_FLOOR)).transpose(1, 2, 0)
            table = np.ascontiguousarray(table)
            table.flags.writeable = False
            self._cache[key] = table
        return self._cache[key]


def _codes(
    ids: tuple[str, ...], values: Sequence[str | None] | None, field: str, *, optional: bool
) -> tuple[str | None, ...]:
    if values is None:
        if not optional:
            raise PoolError("is required", field=field)
        return (None,) * len(ids)
    codes = tuple(values)
    if len(codes) != len(ids):
        raise PoolError(f"{len(codes)} values for {len(ids)} items", field=field)
    for item_id, code in zip(ids, codes, strict=True):
        if code is None and optional:
            continue
        if not isinstance(code, str) or not code.strip():
            raise PoolError(f"must be a non-empty code, got {code!r}", item_id=item_id, field=field)
    return codes


def _flags(ids: tuple[str, ...], values: npt.ArrayLike | None) -> npt.NDArray[np.bool_]:
    if values is None:
        flags = np.zeros(len(ids), dtype=bool)
    else:
        entries = list(np.asarray(values, dtype=object).reshape(-1)) if np.ndim(values) else []
        if np.ndim(values) != 1 or len(entries) != len(ids):
            raise PoolError(f"{len(entries)} values for {len(ids)} items", field="is_pretest")
        for item_id, value in zip(ids, entries, strict=True):
            if not isinstance(value, bool | np.bool_) and value not in (0, 1):
                raise PoolError(
                    f"must be true or false, got {value!r}", item_id=item_id, field="is_pretest"
                )
        flags = np.array([bool(value) for value in entries], dtype=bool)
    flags.flags.writeable = False
    return flags


def _exposure(ids: tuple[str, ...], values: npt.ArrayLike | None) -> npt.NDArray[np.float64]:
    if values is None:
        exposure = np.ones(len(ids))
    else:
        try:
            exposure = np.array(values, dtype=float)
        except (TypeError, ValueError):
            raise PoolError(
                f"must be numbers in [0, 1], got {values!r}", field="exposure_parameters"
            ) from None
        if exposure.shape != (len(ids),):
            raise PoolError(
                f"shape {exposure.shape} for {len(ids)} items", field="exposure_parameters"
            )
        bad = np.flatnonzero(~np.isfinite(exposure) | (exposure < 0) | (exposure > 1))
        if bad.size:
            raise PoolError(
                f"must be in [0, 1], got {exposure[bad[0]]!r}",
                item_id=ids[bad[0]],
                field="exposure_parameters",
            )
    exposure.flags.writeable = False
    return exposure


def _index_codes(codes: tuple[str | None, ...]) -> npt.NDArray[np.intp]:
    lookup: dict[str, int] = {}
    index = np.full(len(codes), -1, dtype=np.intp)
    for position, code in enumerate(codes):
        if code is not None:
            index[position] = lookup.setdefault(code, len(lookup))
    index.flags.writeable = False
    return index
