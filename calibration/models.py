"""Unidimensional IRT models: category probabilities, likelihood and information.

All models use the logistic metric without the 1.702 scaling constant. A dichotomous item's
probability of a correct answer is

.. math:: P(\\theta) = c + (1 - c)\\,\\frac{1}{1 + e^{-a(\\theta - b)}}

(Birnbaum 1968), with ``c = 0`` for the 2PL and ``a = 1`` (or one common ``a``) for the
Rasch model and the 1PL. The graded response model (Samejima 1969) sets
``P(X >= k) = 1 / (1 + exp(-a(theta - b_k)))`` for increasing thresholds ``b_1 < ... < b_{K-1}``;
the generalized partial credit model (Muraki 1992) sets
``P(X = k) ∝ exp(sum_{v <= k} a(theta - b_v))`` with step difficulties ``b_v``.

In slope-intercept form a dichotomous item is ``a*theta + d`` with ``d = -a*b`` (mirt's
parameterisation); a normal-ogive slope is the logistic slope divided by 1.702.

Responses are arrays of shape ``(n_persons, n_items)`` holding the category index ``0..K-1`` of
each answer (0/1 for dichotomous items) and NaN where the item was not answered.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

NORMAL_OGIVE_SCALE = 1.702
"""Logistic slope = 1.702 x normal-ogive slope (Haley 1952): the two metrics agree within 0.01."""

_TINY = np.finfo(float).tiny


class ItemModel(enum.StrEnum):
    """The item response models sathach calibrates and administers."""

    RASCH = "rasch"
    ONE_PL = "1pl"
    TWO_PL = "2pl"
    THREE_PL = "3pl"
    GRM = "grm"
    GPCM = "gpcm"

    @property
    def is_dichotomous(self) -> bool:
        return self not in (ItemModel.GRM, ItemModel.GPCM)


def intercept_from_difficulty(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Slope-intercept intercept ``d = -a*b`` of an item with slope ``a`` and difficulty ``b``."""
    return -np.asarray(a, dtype=float) * np.asarray(b, dtype=float)


def difficulty_from_intercept(a: npt.ArrayLike, d: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Difficulty ``b = -d/a`` of an item with slope ``a`` and intercept ``d``."""
    return -np.asarray(d, dtype=float) / np.asarray(a, dtype=float)


def to_normal_ogive_slope(a: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Normal-ogive slope of a logistic slope: ``a / 1.702`` (difficulties are unchanged)."""
    return np.asarray(a, dtype=float) / NORMAL_OGIVE_SCALE


def from_normal_ogive_slope(a: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Logistic slope of a normal-ogive slope: ``a * 1.702`` (difficulties are unchanged)."""
    return np.asarray(a, dtype=float) * NORMAL_OGIVE_SCALE


@dataclass(frozen=True)
class ItemParameters:
    """Parameters of a set of items, whose models may be mixed.

    Attributes
    ----------
    models : tuple of ItemModel
        The model of each item.
    a : ndarray of shape (n_items,)
        Slopes (discriminations), positive.
    b : ndarray of shape (n_items, max_categories - 1)
        Difficulties, NaN-padded on the right. A dichotomous item uses column 0; a GRM item its
        increasing thresholds for ``P(X >= k)``; a GPCM item its step difficulties, lowest
        category first.
    c : ndarray of shape (n_items,)
        Lower asymptotes, 0 except for 3PL items.
    n_categories : ndarray of int, shape (n_items,)
        Number of score categories (2 for dichotomous items).
    """

    models: tuple[ItemModel, ...]
    a: npt.NDArray[np.float64]
    b: npt.NDArray[np.float64]
    c: npt.NDArray[np.float64]
    n_categories: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        models = tuple(ItemModel(m) for m in self.models)
        a = np.array(self.a, dtype=float).reshape(-1)
        b = np.array(self.b, dtype=float)
        if b.ndim == 1:
            b = b[:, None]
        c = np.array(self.c, dtype=float).reshape(-1)
        n_categories = np.array(self.n_categories, dtype=np.int64).reshape(-1)
        n_items = len(models)
        if not (a.shape == c.shape == n_categories.shape == (n_items,)) or b.shape[0] != n_items:
            raise ValueError(
                f"parameter arrays disagree on the number of items: models {n_items}, "
                f"a {a.shape}, b {b.shape}, c {c.shape}, n_categories {n_categories.shape}"
            )
        if n_items == 0:
            raise ValueError("an ItemParameters needs at least one item")
        _validate_items(models, a, b, c, n_categories)
        for array in (a, b, c, n_categories):
            array.flags.writeable = False
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "n_categories", n_categories)

    @classmethod
    def from_lists(
        cls,
        models: Sequence[str | ItemModel] | str | ItemModel,
        a: Sequence[float] | npt.ArrayLike,
        b: Sequence[float | Sequence[float]],
        c: Sequence[float | None] | npt.ArrayLike | None = None,
    ) -> ItemParameters:
        """Build from per-item values: ``b[i]`` is a number or, for GRM/GPCM, a list of thresholds.

        A single model name applies to every item; ``c`` entries that are None count as 0.
        """
        n_items = len(b)
        if isinstance(models, str | ItemModel):
            models = [models] * n_items
        if len(models) != n_items:
            raise ValueError(f"{len(models)} models given for {n_items} items")
        parsed = [ItemModel(m) for m in models]
        rows = []
        for index, (model, value) in enumerate(zip(parsed, b, strict=True)):
            thresholds = np.atleast_1d(np.asarray(value, dtype=float))
            if thresholds.ndim != 1 or thresholds.size == 0:
                raise ValueError(f"item {index}: b must be a number or a list, got {value!r}")
            if model.is_dichotomous and thresholds.size != 1:
                raise ValueError(
                    f"item {index}: a {model} item has one difficulty, got {thresholds.size}"
                )
            rows.append(thresholds)
        width = max(row.size for row in rows)
        b_matrix = np.full((n_items, width), np.nan)
        for index, row in enumerate(rows):
            b_matrix[index, : row.size] = row
        c_values = (
            np.zeros(n_items)
            if c is None
            else np.array(
                [0.0 if value is None else float(value) for value in c]  # type: ignore[union-attr]
            )
        )
        return cls(
            models=tuple(parsed),
            a=np.asarray(a, dtype=float),
            b=b_matrix,
            c=c_values,
            n_categories=np.array([row.size + 1 for row in rows]),
        )

    @property
    def n_items(self) -> int:
        return len(self.models)

    @cached_property
    def max_categories(self) -> int:
        return int(self.n_categories.max())

    def subset(self, indices: npt.ArrayLike) -> ItemParameters:
        """The parameters of the items at ``indices`` (integer positions or a boolean mask).

        The rows of validated parameters are valid, so a non-empty subset skips the per-item
        checks of the constructor (scoring an exam takes several subsets per answer).
        """
        index = np.arange(self.n_items)[np.asarray(indices)]
        width = int(self.n_categories[index].max()) - 1 if index.size else 1
        fields = {
            "models": tuple(map(self.models.__getitem__, index.tolist())),
            "a": self.a[index],
            "b": self.b[index, :width],
            "c": self.c[index],
            "n_categories": self.n_categories[index],
        }
        if not index.size:
            return ItemParameters(**fields)  # raises: an ItemParameters needs an item
        subset = object.__new__(ItemParameters)
        for name, value in fields.items():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            object.__setattr__(subset, name, value)
        return subset

    def thresholds(self, item: int) -> list[float]:
        """The difficulties of one item, without padding."""
        return [float(v) for v in self.b[item, : self.n_categories[item] - 1]]

    @cached_property
    def _groups(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Positions of the dichotomous, graded and partial-credit items (cached: immutable)."""
        kinds = np.array([_kind(model) for model in self.models])
        return (
            np.flatnonzero(kinds == 0),
            np.flatnonzero(kinds == 1),
            np.flatnonzero(kinds == 2),
        )


def _kind(model: ItemModel) -> int:
    if model.is_dichotomous:
        return 0
    return 1 if model is ItemModel.GRM else 2


def _validate_items(
    models: tuple[ItemModel, ...],
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    c: npt.NDArray[np.float64],
    n_categories: npt.NDArray[np.int64],
) -> None:
    for index, model in enumerate(models):
        k = int(n_categories[index])
        where = f"item {index} ({model})"
        if not (np.isfinite(a[index]) and a[index] > 0):
            raise ValueError(f"{where}: slope a must be a positive number, got {a[index]!r}")
        if model.is_dichotomous and k != 2:
            raise ValueError(f"{where}: a dichotomous item has 2 categories, got {k}")
        if k < 2 or k - 1 > b.shape[1]:
            raise ValueError(f"{where}: {k} categories do not fit {b.shape[1]} thresholds")
        thresholds = b[index, : k - 1]
        if not np.all(np.isfinite(thresholds)):
            raise ValueError(f"{where}: difficulties must be finite, got {thresholds.tolist()}")
        if not np.all(np.isnan(b[index, k - 1 :])):
            raise ValueError(f"{where}: more difficulties than its {k} categories allow")
        if model is ItemModel.GRM and np.any(np.diff(thresholds) <= 0):
            raise ValueError(f"{where}: GRM thresholds must increase, got {thresholds.tolist()}")
        if model is ItemModel.THREE_PL:
            if not (0.0 <= c[index] < 1.0):
                raise ValueError(f"{where}: lower asymptote c must be in [0, 1), got {c[index]!r}")
        elif c[index] != 0.0:
            raise ValueError(f"{where}: only 3PL items have a lower asymptote, got c={c[index]!r}")


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _theta_column(theta: npt.ArrayLike) -> npt.NDArray[np.float64]:
    values = np.asarray(theta, dtype=float)
    if values.ndim > 1:
        raise ValueError(f"theta must be a number or a 1-d array, got shape {values.shape}")
    return np.atleast_1d(values)[:, None]


def _category_terms(
    parameters: ItemParameters, theta: npt.ArrayLike, order: int
) -> list[npt.NDArray[np.float64]]:
    """Category probabilities and, up to ``order``, their derivatives in theta.

    Each array has shape (n_theta, n_items, max_categories) and is zero beyond an item's
    categories. One formula per model family, evaluated for that family's items at once.
    """
    t = _theta_column(theta)
    n_theta, width = t.shape[0], parameters.max_categories
    terms = [np.zeros((n_theta, parameters.n_items, width)) for _ in range(order + 1)]
    dichotomous, graded, partial_credit = parameters._groups
    a, b, c = parameters.a, parameters.b, parameters.c

    if dichotomous.size:
        ai, ci = a[dichotomous], c[dichotomous]
        s = _sigmoid(ai * (t - b[dichotomous, 0]))
        p = ci + (1.0 - ci) * s
        terms[0][:, dichotomous, 0] = 1.0 - p
        terms[0][:, dichotomous, 1] = p
        if order >= 1:
            dp = (1.0 - ci) * ai * s * (1.0 - s)
            terms[1][:, dichotomous, 0] = -dp
            terms[1][:, dichotomous, 1] = dp
        if order >= 2:
            d2p = (1.0 - ci) * ai**2 * s * (1.0 - s) * (1.0 - 2.0 * s)
            terms[2][:, dichotomous, 0] = -d2p
            terms[2][:, dichotomous, 1] = d2p

    if graded.size:
        ai = a[graded][None, :, None]
        steps = b[graded][None, :, : width - 1]
        with np.errstate(invalid="ignore"):
            cumulative = np.nan_to_num(_sigmoid(ai * (t[:, :, None] - steps)), nan=0.0)
        ones = np.ones((*cumulative.shape[:2], 1))
        zeros = np.zeros_like(ones)
        upper = np.concatenate([ones, cumulative], axis=2)
        lower = np.concatenate([cumulative, zeros], axis=2)
        terms[0][:, graded, :] = upper - lower
        if order >= 1:
            slope_upper = ai * upper * (1.0 - upper)
            slope_lower = ai * lower * (1.0 - lower)
            terms[1][:, graded, :] = slope_upper - slope_lower
        if order >= 2:
            terms[2][:, graded, :] = ai * (
                slope_upper * (1.0 - 2.0 * upper) - slope_lower * (1.0 - 2.0 * lower)
            )

    if partial_credit.size:
        ai = a[partial_credit][None, :, None]
        steps = b[partial_credit][None, :, : width - 1]
        exists = np.arange(width)[None, :] < parameters.n_categories[partial_credit][:, None]
        increments = ai * (t[:, :, None] - np.nan_to_num(steps, nan=0.0))
        z = np.concatenate([np.zeros((*increments.shape[:2], 1)), increments], axis=2)
        z = np.cumsum(z, axis=2)
        z = np.where(exists[None], z, -np.inf)
        z -= z.max(axis=2, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=2, keepdims=True)
        terms[0][:, partial_credit, :] = p
        if order >= 1:
            k = np.arange(width)[None, None, :]
            centred = np.where(exists[None], k - (p * k).sum(axis=2, keepdims=True), 0.0)
            terms[1][:, partial_credit, :] = ai * p * centred
        if order >= 2:
            variance = (p * centred**2).sum(axis=2, keepdims=True)
            terms[2][:, partial_credit, :] = ai**2 * p * (centred**2 - variance)
    return terms


def category_probabilities(
    parameters: ItemParameters, theta: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Probability of every score category, shape (n_theta, n_items, max_categories).

    Categories beyond an item's own count have probability 0.
    """
    return _category_terms(parameters, theta, order=0)[0]


def expected_scores(parameters: ItemParameters, theta: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Expected item score ``sum_k k P_k(theta)``, shape (n_theta, n_items)."""
    probabilities = category_probabilities(parameters, theta)
    return probabilities @ np.arange(parameters.max_categories, dtype=float)


def item_information(parameters: ItemParameters, theta: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Fisher information of every item, ``sum_k P_k'(theta)^2 / P_k(theta)``.

    Returns an array of shape (n_theta, n_items). For the 3PL this is
    ``a^2 (P - c)^2 Q / ((1 - c)^2 P)`` (Lord 1980); for the GPCM ``a^2 Var(X | theta)``.
    """
    probabilities, slopes = _category_terms(parameters, theta, order=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        contributions = np.where(probabilities > 0, slopes**2 / probabilities, 0.0)
    return contributions.sum(axis=2)


def test_information(parameters: ItemParameters, theta: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Test information, the sum of item information, shape (n_theta,)."""
    return item_information(parameters, theta).sum(axis=1)


test_information.__test__ = False  # type: ignore[attr-defined]  # not a pytest test function


def _validated_responses(
    parameters: ItemParameters, responses: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    values = np.asarray(responses, dtype=float)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != parameters.n_items:
        raise ValueError(
            f"responses must have shape (n_persons, {parameters.n_items}), got {values.shape}"
        )
    observed = ~np.isnan(values)
    scores = np.where(observed, values, 0.0)
    bad = observed & (
        (scores != np.rint(scores)) | (scores < 0) | (scores >= parameters.n_categories)
    )
    if bad.any():
        person, item = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"response of person {person} to item {item} is {float(values[person, item])}; "
            f"scores are category indices 0..{int(parameters.n_categories[item]) - 1} or NaN"
        )
    return scores, observed


def _indicator(
    scores: npt.NDArray[np.float64], observed: npt.NDArray[np.bool_], category: int
) -> npt.NDArray[np.float64]:
    return (observed & (scores == category)).astype(float)


def log_category_probabilities(
    parameters: ItemParameters, theta: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """``log P(X_j = k | theta)``, shape (n_theta, n_items, max_categories), floored at the
    smallest positive float (categories beyond an item's own count: ``log(tiny)``)."""
    return np.log(np.maximum(category_probabilities(parameters, theta), _TINY))


def log_likelihood_grid(
    parameters: ItemParameters,
    responses: npt.ArrayLike,
    nodes: npt.ArrayLike,
    *,
    log_probabilities: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Log-likelihood of every response pattern at every node, shape (n_persons, n_nodes).

    Computed as ``sum_k Y_k @ log P_k.T`` with one indicator matrix per category, so missing
    responses cost nothing but their zeros.

    Parameters
    ----------
    log_probabilities : ndarray of shape (n_nodes, n_items, max_categories), optional
        ``log_category_probabilities(parameters, nodes)``, when the caller has it already (for
        instance as rows of a table of a whole item pool); it is then not recomputed.
    """
    scores, observed = _validated_responses(parameters, responses)
    if log_probabilities is None:
        log_probabilities = log_category_probabilities(parameters, nodes)
    total = np.zeros((scores.shape[0], log_probabilities.shape[0]))
    for category in range(parameters.max_categories):
        total += _indicator(scores, observed, category) @ log_probabilities[:, :, category].T
    return total


def _person_terms(
    parameters: ItemParameters, theta: npt.ArrayLike, responses: npt.ArrayLike, order: int
) -> tuple[list[npt.NDArray[np.float64]], npt.NDArray[np.bool_]]:
    """The observed category's probability (and derivatives), each (n_persons, n_items)."""
    scores, observed = _validated_responses(parameters, responses)
    t = np.atleast_1d(np.asarray(theta, dtype=float))
    if t.shape != (scores.shape[0],):
        raise ValueError(f"theta must have shape ({scores.shape[0]},), got {t.shape}")
    index = scores.astype(np.intp)[:, :, None]
    picked = [
        np.take_along_axis(term, index, axis=2)[:, :, 0]
        for term in _category_terms(parameters, t, order)
    ]
    return picked, observed


def log_likelihood(
    parameters: ItemParameters, theta: npt.ArrayLike, responses: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Log-likelihood of each person's responses at that person's theta, shape (n_persons,)."""
    (probability,), observed = _person_terms(parameters, theta, responses, order=0)
    return np.where(observed, np.log(np.maximum(probability, _TINY)), 0.0).sum(axis=1)


def theta_derivatives(
    parameters: ItemParameters, theta: npt.ArrayLike, responses: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """First and second derivative of each person's log-likelihood in theta.

    Both arrays have shape (n_persons,): ``sum_j P'/P`` and ``sum_j (P'' P - P'^2) / P^2`` over
    the answered items, with P the probability of the observed category.
    """
    (probability, slope, curvature), observed = _person_terms(parameters, theta, responses, order=2)
    p = np.maximum(probability, _TINY)
    first = np.where(observed, slope / p, 0.0).sum(axis=1)
    second = np.where(observed, (curvature * p - slope**2) / p**2, 0.0).sum(axis=1)
    return first, second


def answered_information(
    parameters: ItemParameters, theta: npt.ArrayLike, responses: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Fisher information of the items each person answered, and Warm's bias term.

    Returns ``(information, warm_term)`` of shape (n_persons,), where the second is
    ``J(theta) = sum_j sum_k P_jk' P_jk'' / P_jk`` over the answered items (Warm 1989), the
    quantity the weighted likelihood estimator needs.
    """
    scores, observed = _validated_responses(parameters, responses)
    t = np.atleast_1d(np.asarray(theta, dtype=float))
    if t.shape != (scores.shape[0],):
        raise ValueError(f"theta must have shape ({scores.shape[0]},), got {t.shape}")
    probability, slope, curvature = _category_terms(parameters, t, order=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = probability > 0
        information = np.where(positive, slope**2 / probability, 0.0).sum(axis=2)
        warm = np.where(positive, slope * curvature / probability, 0.0).sum(axis=2)
    return (
        np.where(observed, information, 0.0).sum(axis=1),
        np.where(observed, warm, 0.0).sum(axis=1),
    )
