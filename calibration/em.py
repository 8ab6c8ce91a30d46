r"""Item calibration by marginal maximum likelihood with the EM algorithm (Bock & Aitkin 1981).

The latent ability is integrated out on a fixed quadrature (default: 61 equally spaced nodes on
[-6, 6], the R package mirt's grid). Each EM iteration

1. **E-step**: computes every response row's posterior over the nodes, in log space, from sparse
   indicator-matrix products (:mod:`calibration._estep`), and from it the expected number of
   persons at each node answering each item in each category, :math:`r_{ikq}`;
2. **M-step**: maximises, for all items at once, the expected complete-data log-likelihood
   :math:`\sum_{k,q} r_{ikq} \log P_{ik}(\theta_q)` plus the log prior (Bayes-modal estimation,
   Mislevy 1986), by Fisher scoring with batched small linear systems and step halving; and,
   when the scale is set by anchors or Rasch items, updates the latent mean and sd.

SQUAREM (Varadhan & Roland 2008) extrapolates the EM map, monotonically safeguarded by the log
posterior. Standard errors come from the observed information of the marginal likelihood, by the
Oakes (1999) identity: the Hessian of the marginal log-likelihood is the Jacobian of the
EM gradient :math:`\nabla_{\theta'} Q(\theta' \mid \theta)|_{\theta'=\theta}`, obtained by
central differences of that analytic gradient; for large banks the cross-product of the
persons' score vectors (XPD) is used instead.

Parameters are estimated internally in slope-intercept form (``a theta + d``, ``d = -a b``,
3PL asymptote on the logit scale) and reported in the difficulty metric; standard errors of
``b`` and ``c`` follow by the delta method.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.linalg import lapack

from calibration._estep import EStepResult, ResponseBlocks
from calibration._item_terms import (
    Family,
    log_probabilities,
    log_probabilities_and_scores,
    n_internal,
    project,
    valid_parameters,
)
from calibration.anchors import FixedItems
from calibration.exceptions import ConvergenceWarning, StandardErrorWarning
from calibration.models import ItemModel, ItemParameters
from calibration.priors import Priors
from calibration.quadrature import Quadrature, normal_quadrature
from calibration.responses import ResponseData
from calibration.result import CalibrationResult, ExcludedItem

__all__ = ["DEFAULT_MIN_RESPONSES", "calibrate"]

FloatArray = npt.NDArray[np.float64]
ProgressCallback = Callable[[int, float], None]

DEFAULT_MIN_RESPONSES = 10
"""Items answered by fewer persons are left out of a calibration (too little information)."""

# The observed-information (Oakes) standard errors need 2 E-steps per parameter; beyond this
# many response-node products they fall back to the cross-product (XPD) information.
_OAKES_BUDGET = 2e9
_NEWTON_STEPS = 8
_NEWTON_TOLERANCE = 1e-6
_MAX_NEWTON_STEP = 1.0
_PROBIT_SCALE = math.sqrt(1.0 + math.pi / 8.0)  # E sigma(theta + d) ~ sigma(d / 1.18), N(0, 1)

_FAMILY = {
    ItemModel.RASCH: Family.LOGISTIC,
    ItemModel.ONE_PL: Family.LOGISTIC,
    ItemModel.TWO_PL: Family.LOGISTIC,
    ItemModel.THREE_PL: Family.THREE_PL,
    ItemModel.GRM: Family.GRADED,
    ItemModel.GPCM: Family.PARTIAL_CREDIT,
}


# --------------------------------------------------------------------------------------------
# Parameter layout: which internal parameters are free, and where they sit in the EM vector
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    family: Family
    n_categories: int
    items: npt.NDArray[np.int64]
    n_params: int
    prior: npt.NDArray[np.bool_]  # per item of the group: priors apply


class _Layout:
    """Free-parameter bookkeeping for one calibration."""

    def __init__(
        self,
        models: Sequence[ItemModel],
        n_categories: npt.NDArray[np.int64],
        fixed: npt.NDArray[np.bool_],
        priors: Priors,
    ) -> None:
        self.models = tuple(models)
        self.n_items = len(models)
        self.n_categories = n_categories
        self.fixed = fixed
        self.priors = priors
        self.width = max(
            n_internal(_FAMILY[m], int(k)) for m, k in zip(models, n_categories, strict=True)
        )
        self.max_categories = int(n_categories.max())
        index = np.full((self.n_items, self.width), -1, dtype=np.int64)
        n_free = 0
        shared_slope = -1
        for i, model in enumerate(models):
            if fixed[i]:
                continue
            p = n_internal(_FAMILY[model], int(n_categories[i]))
            first = 0
            if model is ItemModel.RASCH:
                first = 1
            elif model is ItemModel.ONE_PL:
                if shared_slope < 0:
                    shared_slope, n_free = n_free, n_free + 1
                index[i, 0] = shared_slope
                first = 1
            for column in range(first, p):
                index[i, column] = n_free
                n_free += 1
        self.index = index
        self.shared_slope = shared_slope
        self.one_pl = np.array(
            [m is ItemModel.ONE_PL and not f for m, f in zip(models, fixed, strict=True)],
            dtype=bool,
        )
        self.n_item_params = n_free
        self.has_anchors = bool(fixed.any())
        self.estimate_mean = self.has_anchors
        self.estimate_sd = self.has_anchors or any(
            m is ItemModel.RASCH and not f for m, f in zip(models, fixed, strict=True)
        )
        self.n_free = n_free + int(self.estimate_mean) + int(self.estimate_sd)
        keys: dict[tuple[Family, int], list[int]] = {}
        for i, model in enumerate(models):
            keys.setdefault((_FAMILY[model], int(n_categories[i])), []).append(i)
        self.groups = [
            _Group(
                family=family,
                n_categories=k,
                items=np.array(items, dtype=np.int64),
                n_params=n_internal(family, k),
                prior=np.array(
                    [priors.applies_to(models[i].value) and not fixed[i] for i in items],
                    dtype=bool,
                ),
            )
            for (family, k), items in keys.items()
        ]
        self.free_mask = index >= 0

    def pack(self, params: FloatArray, mean: float, log_sd: float) -> FloatArray:
        x = np.empty(self.n_free)
        mask = self.free_mask
        x[self.index[mask]] = params[mask]
        position = self.n_item_params
        if self.estimate_mean:
            x[position] = mean
            position += 1
        if self.estimate_sd:
            x[position] = log_sd
        return x

    def unpack(
        self, x: FloatArray, template: FloatArray, mean: float, log_sd: float
    ) -> tuple[FloatArray, float, float]:
        params = template.copy()
        mask = self.free_mask
        params[mask] = x[self.index[mask]]
        position = self.n_item_params
        if self.estimate_mean:
            mean = float(x[position])
            position += 1
        if self.estimate_sd:
            log_sd = float(x[position])
        return params, mean, log_sd


# --------------------------------------------------------------------------------------------
# Priors in the internal parameterisation
# --------------------------------------------------------------------------------------------


def _prior_terms(
    group: _Group, params: FloatArray, priors: Priors
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Log prior, its gradient and a positive curvature, per item of a group."""
    n, p = params.shape[0], group.n_params
    log_prior = np.zeros(n)
    gradient = np.zeros((n, p))
    curvature = np.zeros((n, p, p))
    on = group.prior
    if not on.any():
        return log_prior, gradient, curvature
    slope = params[:, 0]
    if priors.slope is not None:
        log_prior += np.where(on, priors.slope.log_density(slope), 0.0)
        g, h = priors.slope.gradient_and_curvature(slope)
        gradient[:, 0] += np.where(on, g, 0.0)
        curvature[:, 0, 0] += np.where(on, h, 0.0)
    if priors.difficulty is not None:
        safe_slope = np.where(np.abs(slope) > 1e-8, slope, 1e-8)
        for column in range(1, group.n_categories):
            intercept = params[:, column]
            difficulty = -intercept / safe_slope
            log_prior += np.where(on, priors.difficulty.log_density(difficulty), 0.0)
            g, h = priors.difficulty.gradient_and_curvature(difficulty)
            jacobian_a, jacobian_d = intercept / safe_slope**2, -1.0 / safe_slope
            g, h = np.where(on, g, 0.0), np.where(on, h, 0.0)
            gradient[:, 0] += g * jacobian_a
            gradient[:, column] += g * jacobian_d
            curvature[:, 0, 0] += h * jacobian_a**2
            curvature[:, column, column] += h * jacobian_d**2
            curvature[:, 0, column] += h * jacobian_a * jacobian_d
            curvature[:, column, 0] += h * jacobian_a * jacobian_d
    if group.family is Family.THREE_PL and priors.lower_asymptote is not None:
        logit_c = params[:, 2]
        log_prior += np.where(on, priors.lower_asymptote.log_density_logit(logit_c), 0.0)
        g, h = priors.lower_asymptote.gradient_and_curvature_logit(logit_c)
        gradient[:, 2] += np.where(on, g, 0.0)
        curvature[:, 2, 2] += np.where(on, h, 0.0)
    return log_prior, gradient, curvature


# --------------------------------------------------------------------------------------------
# The model: log-probabilities on the grid, M-step, latent update, gradients
# --------------------------------------------------------------------------------------------


class _Model:
    def __init__(self, layout: _Layout, nodes: FloatArray) -> None:
        self.layout = layout
        self.nodes = nodes

    def log_p(self, params: FloatArray) -> FloatArray:
        """Log category probabilities of all items, (n_items, max_categories, n_nodes)."""
        layout = self.layout
        out = np.zeros((layout.n_items, max(layout.max_categories, 2), len(self.nodes)))
        for group in layout.groups:
            values = log_probabilities(
                group.family,
                params[group.items, : group.n_params],
                group.n_categories,
                self.nodes,
            )
            out[group.items, : group.n_categories] = values
        return out

    def scores(self, params: FloatArray) -> FloatArray:
        """``d log P / d params`` of all items, (n_items, max_categories, n_nodes, width)."""
        layout = self.layout
        out = np.zeros(
            (layout.n_items, max(layout.max_categories, 2), len(self.nodes), layout.width)
        )
        for group in layout.groups:
            _, values = log_probabilities_and_scores(
                group.family,
                params[group.items, : group.n_params],
                group.n_categories,
                self.nodes,
            )
            out[group.items, : group.n_categories, :, : group.n_params] = values
        return out

    def log_prior(self, params: FloatArray) -> float:
        total = 0.0
        for group in self.layout.groups:
            if group.prior.any():
                values, _, _ = _prior_terms(
                    group, params[group.items, : group.n_params], self.layout.priors
                )
                total += float(values.sum())
        return total

    def valid(self, params: FloatArray) -> bool:
        layout = self.layout
        for group in layout.groups:
            free = ~layout.fixed[group.items]
            ok = valid_parameters(
                group.family, params[group.items, : group.n_params], group.n_categories
            )
            if not ok[free].all():
                return False
        return True

    # -- M-step -------------------------------------------------------------------------------

    def _group_objective(self, group, params_g, counts_g) -> FloatArray:
        log_p = log_probabilities(group.family, params_g, group.n_categories, self.nodes)
        value = np.einsum("ikq,ikq->i", counts_g, log_p)
        if group.prior.any():
            value = value + _prior_terms(group, params_g, self.layout.priors)[0]
        return value

    def _group_gradient_information(self, group, params_g, counts_g):
        log_p, score = log_probabilities_and_scores(
            group.family, params_g, group.n_categories, self.nodes
        )
        gradient = _contract(counts_g, score)
        answered = counts_g.sum(axis=1)  # (n, Q)
        weight = np.exp(log_p) * answered[:, None, :]
        n, p = score.shape[0], score.shape[-1]
        flat = score.reshape(n, -1, p)
        information = np.matmul((weight.reshape(n, -1, 1) * flat).transpose(0, 2, 1), flat)
        if group.prior.any():
            _, prior_gradient, prior_curvature = _prior_terms(group, params_g, self.layout.priors)
            gradient += prior_gradient
            information += prior_curvature
        return gradient, information

    def m_step(self, params: FloatArray, counts: FloatArray) -> FloatArray:
        """Fisher scoring for every free item at once; 1PL's common slope by its own Newton step."""
        layout = self.layout
        params = params.copy()
        for full_group in layout.groups:
            p = full_group.n_params
            free = layout.free_mask[full_group.items, :p]
            free &= layout.index[full_group.items, :p] != layout.shared_slope
            estimated = free.any(axis=1)
            if not estimated.any():
                continue
            # fixed items (anchors) stay out of the update entirely
            group = _Group(
                full_group.family,
                full_group.n_categories,
                full_group.items[estimated],
                p,
                full_group.prior[estimated],
            )
            items, free = group.items, free[estimated]
            counts_g = counts[items, : group.n_categories]
            current = params[items, :p]
            objective = self._group_objective(group, current, counts_g)
            for _ in range(_NEWTON_STEPS):
                gradient, information = self._group_gradient_information(group, current, counts_g)
                gradient = np.where(free, gradient, 0.0)
                pinned = ~free
                information = (
                    np.where(pinned[:, :, None] | pinned[:, None, :], 0.0, information)
                    + np.eye(p)[None] * pinned[:, :, None]
                )
                step = _solve_batched(information, gradient)
                largest = np.abs(step).max(axis=1, keepdims=True)
                step *= np.minimum(1.0, _MAX_NEWTON_STEP / np.maximum(largest, 1e-300))
                current, objective, moved = self._halving(group, current, step, objective, counts_g)
                if moved < _NEWTON_TOLERANCE:
                    break
            params[items, :p] = current
        if layout.shared_slope >= 0:
            params = self._common_slope_step(params, counts)
        return params

    def _halving(self, group, current, step, objective, counts_g):
        trial_step = step.copy()
        accepted = np.zeros(len(current), dtype=bool)
        result = current.copy()
        new_objective = objective.copy()
        for _ in range(12):
            pending = ~accepted
            if not pending.any():
                break
            trial = project(group.family, current[pending] + trial_step[pending])
            value = np.full(len(trial), -np.inf)
            ok = valid_parameters(group.family, trial, group.n_categories)
            if ok.any():
                sub = _Group(
                    group.family,
                    group.n_categories,
                    group.items[pending][ok],
                    group.n_params,
                    group.prior[pending][ok],
                )
                value[ok] = self._group_objective(sub, trial[ok], counts_g[pending][ok])
            better = np.isfinite(value) & (
                value >= objective[pending] - 1e-10 * np.abs(objective[pending])
            )
            index = np.flatnonzero(pending)
            result[index[better]] = trial[better]
            new_objective[index[better]] = value[better]
            accepted[index[better]] = True
            trial_step[index[~better]] *= 0.5
        moved = float(np.abs(result - current).max(initial=0.0))
        return result, new_objective, moved

    def _common_slope_step(self, params: FloatArray, counts: FloatArray) -> FloatArray:
        layout = self.layout
        chosen = np.flatnonzero(layout.one_pl)
        group = _Group(
            Family.LOGISTIC, 2, chosen, 2, np.array([layout.priors.applies_to("1pl")] * len(chosen))
        )
        counts_g = counts[chosen, :2]
        current = params[chosen, :2].copy()
        objective = float(self._group_objective(group, current, counts_g).sum())
        for _ in range(_NEWTON_STEPS):
            gradient, information = self._group_gradient_information(group, current, counts_g)
            step = float(gradient[:, 0].sum() / max(information[:, 0, 0].sum(), 1e-12))
            step = float(np.clip(step, -_MAX_NEWTON_STEP, _MAX_NEWTON_STEP))
            for _ in range(12):
                trial = current.copy()
                trial[:, 0] += step
                value = float(self._group_objective(group, trial, counts_g).sum())
                if np.isfinite(value) and value >= objective - 1e-10 * abs(objective):
                    current, objective = trial, value
                    break
                step *= 0.5
            else:
                break
            if abs(step) < _NEWTON_TOLERANCE:
                break
        params[chosen, :2] = current
        return params

    # -- latent distribution ------------------------------------------------------------------

    def latent_update(self, node_totals: FloatArray, mean: float, log_sd: float):
        """Latent mean and sd maximising ``sum_q n_q log pi_q`` on the fixed nodes."""
        layout = self.layout
        total = node_totals.sum()
        if total <= 0 or not (layout.estimate_mean or layout.estimate_sd):
            return mean, log_sd
        target_mean = float(node_totals @ self.nodes / total)
        centre = target_mean if layout.estimate_mean else mean
        target_var = float(node_totals @ (self.nodes - centre) ** 2 / total)
        new_mean, new_sd = mean, math.exp(log_sd)
        # The normalised discrete normal's moments differ slightly from (mean, sd): correct.
        for _ in range(20):
            weights = _normal_weights(self.nodes, new_mean, new_sd)
            model_mean = float(weights @ self.nodes)
            if layout.estimate_mean:
                new_mean += target_mean - model_mean
                centre = new_mean
                model_mean = float(weights @ self.nodes)
            model_var = float(weights @ (self.nodes - centre) ** 2)
            if layout.estimate_sd and model_var > 0:
                new_sd *= math.sqrt(target_var / model_var)
            if abs(target_mean - model_mean) < 1e-12 and abs(target_var - model_var) < 1e-12:
                break
        return new_mean, math.log(max(new_sd, 1e-6))

    def latent_gradient(self, node_totals: FloatArray, mean: float, log_sd: float) -> FloatArray:
        """Gradient of ``sum_q n_q log pi_q`` in (mean, log sd), the free components only."""
        layout = self.layout
        sd = math.exp(log_sd)
        weights = _normal_weights(self.nodes, mean, sd)
        total = node_totals.sum()
        z = (self.nodes - mean) / sd
        out = []
        if layout.estimate_mean:
            out.append(float(node_totals @ z - total * (weights @ z)) / sd)
        if layout.estimate_sd:
            out.append(float(node_totals @ z**2 - total * (weights @ z**2)))
        return np.array(out)

    def latent_scores(self, mean: float, log_sd: float) -> FloatArray:
        """``d log pi_q / d (mean, log sd)``, shape (n_nodes, n_latent_free)."""
        layout = self.layout
        sd = math.exp(log_sd)
        weights = _normal_weights(self.nodes, mean, sd)
        z = (self.nodes - mean) / sd
        columns = []
        if layout.estimate_mean:
            columns.append((z - weights @ z) / sd)
        if layout.estimate_sd:
            columns.append(z**2 - weights @ z**2)
        return np.stack(columns, axis=1) if columns else np.zeros((len(self.nodes), 0))

    # -- gradient of the marginal log posterior -----------------------------------------------

    def total_gradient(
        self, params: FloatArray, mean: float, log_sd: float, estep: EStepResult
    ) -> FloatArray:
        layout = self.layout
        gradient = np.zeros(layout.n_free)
        for group in layout.groups:
            items, p = group.items, group.n_params
            _, score = log_probabilities_and_scores(
                group.family, params[items, :p], group.n_categories, self.nodes
            )
            local = _contract(estep.counts[items, : group.n_categories], score)
            if group.prior.any():
                local += _prior_terms(group, params[items, :p], layout.priors)[1]
            index = layout.index[items, :p]
            mask = index >= 0
            np.add.at(gradient, index[mask], local[mask])
        latent = self.latent_gradient(estep.node_totals, mean, log_sd)
        gradient[layout.n_item_params :] = latent
        return gradient


def _contract(counts: FloatArray, score: FloatArray) -> FloatArray:
    """``sum_{k,q} counts[i,k,q] * score[i,k,q,p]`` for every item, as batched matrix products."""
    n, p = score.shape[0], score.shape[-1]
    return np.matmul(counts.reshape(n, 1, -1), score.reshape(n, -1, p))[:, 0, :]


def _normal_weights(nodes: FloatArray, mean: float, sd: float) -> FloatArray:
    log_density = -0.5 * ((nodes - mean) / sd) ** 2
    weights = np.exp(log_density - log_density.max())
    return weights / weights.sum()


def _log_weights(nodes: FloatArray, mean: float, log_sd: float) -> FloatArray:
    """Log quadrature weights of N(mean, exp(log_sd)^2) on the fixed nodes."""
    return np.log(_normal_weights(nodes, mean, math.exp(log_sd)))


def _solve_batched(matrices: FloatArray, vectors: FloatArray) -> FloatArray:
    """Solve each small system; a singular one gets a ridge so the step stays finite."""
    try:
        return np.linalg.solve(matrices, vectors[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.zeros_like(vectors)
        for i in range(len(matrices)):
            matrix = matrices[i] + 1e-6 * np.eye(matrices.shape[1])
            out[i] = np.linalg.lstsq(matrix, vectors[i], rcond=None)[0]
        return out


# --------------------------------------------------------------------------------------------
# Start values and exclusions
# --------------------------------------------------------------------------------------------


def _logit(p: FloatArray) -> FloatArray:
    return np.log(p) - np.log1p(-p)


def _start_values(
    models: Sequence[ItemModel],
    counts: FloatArray,
    n_categories: npt.NDArray[np.int64],
    width: int,
    priors: Priors,
) -> FloatArray:
    params = np.zeros((len(models), width))
    for i, model in enumerate(models):
        k = int(n_categories[i])
        item_counts = counts[i, :k] + 0.5
        share = item_counts / item_counts.sum()
        params[i, 0] = 1.0
        if model.is_dichotomous:
            p_correct = share[1]
            if model is ItemModel.THREE_PL:
                guess = 0.2
                if priors.applies_to("3pl") and priors.lower_asymptote is not None:
                    alpha, beta = priors.lower_asymptote.alpha, priors.lower_asymptote.beta
                    guess = (alpha - 1.0) / (alpha + beta - 2.0) if alpha + beta > 2 else 0.2
                guess = float(np.clip(guess, 0.01, 0.5))
                p_correct = float(np.clip((p_correct - guess) / (1.0 - guess), 0.05, 0.95))
                params[i, 2] = _logit(np.array(guess))
            params[i, 1] = _PROBIT_SCALE * _logit(np.array(p_correct))
        elif model is ItemModel.GRM:
            at_least = np.clip(np.cumsum(share[::-1])[::-1][1:], 0.005, 0.995)
            intercepts = _PROBIT_SCALE * _logit(at_least)
            # strictly decreasing, as the graded model requires
            for j in range(1, len(intercepts)):
                intercepts[j] = min(intercepts[j], intercepts[j - 1] - 0.05)
            params[i, 1:k] = intercepts
        else:
            params[i, 1:k] = np.log(item_counts[1:] / item_counts[:-1])
    return params


def _fixed_internal(parameters: ItemParameters, index: int, width: int) -> FloatArray:
    model = parameters.models[index]
    k = int(parameters.n_categories[index])
    row = np.zeros(width)
    a = float(parameters.a[index])
    row[0] = a
    row[1:k] = -a * parameters.b[index, : k - 1]
    if model is ItemModel.THREE_PL:
        c = float(parameters.c[index])
        row[2] = -np.inf if c <= 0 else float(_logit(np.array(c)))
    return row


def _parse_models(models, n_items: int) -> list[ItemModel]:
    if isinstance(models, str | ItemModel):
        names = [models] * n_items
    else:
        names = list(models)
        if len(names) != n_items:
            raise ValueError(f"{len(names)} models given for {n_items} items")
    parsed = []
    for position, name in enumerate(names):
        try:
            parsed.append(ItemModel(str(name).lower()))
        except ValueError:
            choices = ", ".join(m.value for m in ItemModel)
            raise ValueError(
                f"unknown item model {name!r} for item {position}; choose one of {choices}"
            ) from None
    return parsed


# --------------------------------------------------------------------------------------------
# Standard errors
# --------------------------------------------------------------------------------------------


def _oakes_information(model, blocks, layout, params, mean, log_sd) -> FloatArray:
    """Observed information: minus the central-difference Jacobian of the analytic gradient."""
    x = layout.pack(params, mean, log_sd)

    def gradient_at(point: FloatArray) -> FloatArray:
        p, m, s = layout.unpack(point, params, mean, log_sd)
        estep = blocks.expected_counts(model.log_p(p), _log_weights(model.nodes, m, s))
        return model.total_gradient(p, m, s, estep)

    hessian = np.empty((layout.n_free, layout.n_free))
    for j in range(layout.n_free):
        step = 1e-4 * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += step
        down[j] -= step
        hessian[:, j] = (gradient_at(up) - gradient_at(down)) / (2.0 * step)
    return -0.5 * (hessian + hessian.T)


def _xpd_information(model, blocks, layout, params, mean, log_sd) -> FloatArray:
    """Cross-product information ``sum_j w_j g_j g_j'`` of the rows' marginal score vectors."""
    log_p = model.log_p(params)
    scores = model.scores(params)
    latent_scores = model.latent_scores(mean, log_sd)
    log_weights = _log_weights(model.nodes, mean, log_sd)
    n_free = layout.n_free
    information = np.zeros((n_free, n_free))
    for block, _, posterior in blocks.posteriors(log_p, log_weights):
        if block.dense:
            row_scores = _dense_row_scores(block, posterior, scores, latent_scores, layout)
            information += row_scores.T @ (block.weights[:, None] * row_scores)
            continue
        local_rows = block.rows - np.int32(block.start)
        n_block = block.stop - block.start
        # rows in sub-blocks small enough that their score matrix and its product stay small
        per_row = max(1.0, layout.width * len(local_rows) / max(n_block, 1))
        sub_rows = int(max(256, min(n_block, 2e7 // per_row**2)))
        bounds = np.arange(0, n_block + sub_rows, sub_rows)
        cuts = np.searchsorted(local_rows, np.minimum(bounds, n_block))
        for first_row, last_row, lo, hi in zip(
            bounds[:-1], np.minimum(bounds[1:], n_block), cuts[:-1], cuts[1:], strict=True
        ):
            if last_row <= first_row:
                continue
            row_scores = _sparse_row_scores(
                posterior,
                local_rows[lo:hi],
                block.items[lo:hi],
                block.categories[lo:hi],
                first_row,
                last_row,
                scores,
                latent_scores,
                layout,
            )
            weighted = sparse.csr_array(
                row_scores.multiply(np.sqrt(block.weights[first_row:last_row])[:, None])
            )
            information += (weighted.T @ weighted).toarray()
    for group in layout.groups:
        if not group.prior.any():
            continue
        items, p = group.items, group.n_params
        _, _, curvature = _prior_terms(group, params[items, :p], layout.priors)
        index = layout.index[items, :p]
        for a_col in range(p):
            for b_col in range(p):
                ok = (index[:, a_col] >= 0) & (index[:, b_col] >= 0)
                np.add.at(
                    information,
                    (index[ok, a_col], index[ok, b_col]),
                    curvature[ok, a_col, b_col],
                )
    return information


def _sparse_row_scores(
    posterior, rows, items, categories, first_row, last_row, scores, latent_scores, layout
) -> sparse.csr_array:
    """Rows ``first_row:last_row`` x free-parameters score matrix, from their responses."""
    n_rows = last_row - first_row
    chunk = max(1024, 2_000_000 // (posterior.shape[1] * layout.width))
    entry_rows, entry_cols, entry_values = [], [], []
    for lo in range(0, len(rows), chunk):
        chunk_rows = rows[lo : lo + chunk].astype(np.int64)
        chunk_items = items[lo : lo + chunk]
        values = np.matmul(
            posterior[chunk_rows][:, None, :], scores[chunk_items, categories[lo : lo + chunk]]
        )[:, 0, :]
        index = layout.index[chunk_items]
        mask = index >= 0
        entry_rows.append(np.broadcast_to(chunk_rows[:, None] - first_row, index.shape)[mask])
        entry_cols.append(index[mask])
        entry_values.append(values[mask])
    for column in range(latent_scores.shape[1]):
        entry_rows.append(np.arange(n_rows))
        entry_cols.append(np.full(n_rows, layout.n_item_params + column))
        entry_values.append(posterior[first_row:last_row] @ latent_scores[:, column])
    return sparse.csr_array(
        (
            np.concatenate(entry_values),
            (np.concatenate(entry_rows), np.concatenate(entry_cols)),
        ),
        shape=(n_rows, layout.n_free),
    )


def _dense_row_scores(block, posterior, scores, latent_scores, layout) -> FloatArray:
    """Rows x free-parameters score matrix of a dense block, by BLAS products."""
    n_block, n_items = block.stop - block.start, layout.n_items
    row_scores = np.zeros((n_block, layout.n_free))
    observed = np.ones((n_block, n_items)) if block.mask is None else block.mask
    lowest = observed - sum(block.indicators)
    indicators = (lowest, *block.indicators)
    for column in range(layout.width):
        index = layout.index[:, column]
        if not (index >= 0).any():
            continue
        per_response = np.zeros((n_block, n_items))
        for category, indicator in enumerate(indicators):
            per_response += indicator * (posterior @ scores[:, category, :, column].T)
        own = (index >= 0) & (index != layout.shared_slope)
        row_scores[:, index[own]] = per_response[:, own]
        shared = index == layout.shared_slope
        if layout.shared_slope >= 0 and shared.any():
            row_scores[:, layout.shared_slope] += per_response[:, shared].sum(axis=1)
    row_scores[:, layout.n_item_params :] = posterior @ latent_scores
    return row_scores


def _covariance(information: FloatArray) -> FloatArray | None:
    if information.size == 0:
        return information
    factor, status = lapack.dpotrf(information, lower=1)
    if status == 0:
        inverse, status = lapack.dpotri(factor, lower=1)
    if status != 0:
        warnings.warn(
            "the information matrix is not positive definite (a parameter is not identified); "
            "standard errors are NaN",
            StandardErrorWarning,
            stacklevel=3,
        )
        return None
    # dpotri fills the lower triangle only
    return np.tril(inverse) + np.tril(inverse, -1).T


# --------------------------------------------------------------------------------------------
# The public entry point
# --------------------------------------------------------------------------------------------


def calibrate(
    responses: ResponseData | npt.ArrayLike,
    models: str | ItemModel | Sequence[str | ItemModel] = "2pl",
    *,
    priors: Priors | None = None,
    fixed: FixedItems | None = None,
    quadrature: Quadrature | None = None,
    tol: float = 1e-4,
    max_iter: int = 2000,
    min_responses: int = DEFAULT_MIN_RESPONSES,
    se_method: str = "auto",
    accelerate: bool = True,
    progress: ProgressCallback | None = None,
) -> CalibrationResult:
    r"""Calibrate items by marginal maximum likelihood (EM, Bock & Aitkin 1981).

    Parameters
    ----------
    responses : ResponseData or array_like of shape (n_persons, n_items)
        Category indices ``0..K-1`` per item, missing responses absent (or NaN in an array).
    models : str, ItemModel or sequence of them, default "2pl"
        One model for every item, or one per item (a mixed calibration): ``"rasch"``
        (slope 1, latent variance estimated, as mirt's Rasch), ``"1pl"`` (one common slope,
        N(0, 1) latent), ``"2pl"``, ``"3pl"``, ``"grm"``, ``"gpcm"``. Fixed items keep the
        model of their anchor parameters.
    priors : Priors, optional
        Bayes-modal priors; default :class:`~calibration.priors.Priors` (lognormal(0, 0.5)
        slope, N(0, 2) difficulty, Beta(5, 17) asymptote) on 3PL items only.
        ``Priors.none()`` switches them off.
    fixed : FixedItems, optional
        Anchor items (matched by item id) whose parameters are held fixed; the other items are
        estimated on their scale and the latent mean and sd are estimated.
    quadrature : Quadrature, optional
        Nodes of the latent grid; default 61 equally spaced nodes on [-6, 6]. Only the nodes are
        used: the weights follow the (estimated or standard) normal latent density.
    tol : float, default 1e-4
        Convergence when no parameter changes by more than ``tol`` in one EM iteration
        (mirt's criterion).
    max_iter : int, default 2000
        Cap on EM iterations (E-steps); reaching it warns :class:`ConvergenceWarning`.
    min_responses : int, default 10
        Items answered by fewer persons are excluded with the reason recorded.
    se_method : {"auto", "oakes", "xpd", "none"}, default "auto"
        Observed information by the Oakes identity (exact; two E-steps per parameter), the
        cross-product of person scores (cheap, slightly optimistic in small samples), or none.
        ``"auto"`` takes Oakes when it costs at most about 2e9 response-node products, else XPD.
    accelerate : bool, default True
        Extrapolate the EM map with SQUAREM.
    progress : callable(iteration, log_likelihood), optional
        Called after every E-step; for progress display, the core itself prints nothing.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ValueError
        On an unknown model, a dichotomous model for an item with more than two categories,
        fewer than two items left to calibrate, or bad options.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` is reached first; the result has ``converged=False``.
    StandardErrorWarning
        When the information matrix is singular; the standard errors are NaN.

    Notes
    -----
    The marginal log-likelihood is

    .. math:: \log L = \sum_j w_j \log \sum_q \pi_q \prod_{i \in j} P_{i x_{ji}}(\theta_q),

    with :math:`w_j` the row weights (pattern counts) and :math:`\pi_q` the normalised normal
    density at the nodes. An item is excluded when fewer than ``min_responses`` persons
    answered it, when only one category was observed (no variance), or when a category between
    its lowest and highest was never observed; fixed items are never excluded. A free item whose
    slope comes out negative (it discriminates in reverse, usually a keying error) is excluded
    and the rest recalibrated.
    """
    data = responses if isinstance(responses, ResponseData) else ResponseData.from_dense(responses)
    item_models = _parse_models(models, data.n_items)
    priors = Priors() if priors is None else priors
    if not isinstance(priors, Priors):
        raise TypeError(f"priors must be a Priors instance or None, got {type(priors).__name__}")
    if se_method not in {"auto", "oakes", "xpd", "none"}:
        raise ValueError(f"se_method must be 'auto', 'oakes', 'xpd' or 'none', got {se_method!r}")
    if not (isinstance(tol, int | float) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    nodes = (quadrature or normal_quadrature()).nodes.astype(np.float64)

    excluded: list[ExcludedItem] = []
    for _ in range(4):  # at most a few rounds of dropping reversed items
        result, reversed_items = _calibrate_once(
            data,
            item_models,
            priors,
            fixed,
            nodes,
            tol,
            int(max_iter),
            min_responses,
            se_method,
            accelerate,
            progress,
            excluded,
        )
        if not reversed_items:
            return result
        excluded.extend(reversed_items)
    return result


def _calibrate_once(
    data,
    item_models,
    priors,
    fixed,
    nodes,
    tol,
    max_iter,
    min_responses,
    se_method,
    accelerate,
    progress,
    already_excluded,
):
    excluded = list(already_excluded)
    skip = {e.item_id for e in excluded}
    counts = data.category_counts
    answered = data.responses_per_item
    keep: list[int] = []
    models: list[ItemModel] = []
    fixed_rows: dict[int, int] = {}
    for i, item_id in enumerate(data.item_ids):
        if item_id in skip:
            continue
        anchor = fixed.index_of(item_id) if fixed is not None else None
        model = item_models[i]
        k = int(data.n_categories[i])
        if anchor is not None:
            model = fixed.parameters.models[anchor]
            allowed = int(fixed.parameters.n_categories[anchor])
            if k > allowed:
                raise ValueError(
                    f"item {item_id!r}: responses reach category {k - 1} but its fixed "
                    f"parameters have {allowed} categories"
                )
            fixed_rows[len(keep)] = anchor
            keep.append(i)
            models.append(model)
            continue
        if model.is_dichotomous and k > 2:
            raise ValueError(
                f"item {item_id!r} has {k} categories, too many for the dichotomous model "
                f"{model.value!r}"
            )
        observed = counts[i, :k] > 0
        if answered[i] < min_responses:
            excluded.append(
                ExcludedItem(item_id, f"too few responses: {answered[i]:g} < {min_responses}")
            )
        elif observed.sum() < 2:
            only = int(np.flatnonzero(observed)[0]) if observed.any() else 0
            excluded.append(
                ExcludedItem(item_id, f"no variance: every response is in category {only}")
            )
        elif not observed.all():
            missing = np.flatnonzero(~observed).tolist()
            excluded.append(
                ExcludedItem(item_id, f"category gap: categories {missing} never observed")
            )
        else:
            keep.append(i)
            models.append(model)
    if len(keep) < 2:
        raise ValueError(
            f"at least two items are needed to calibrate, {len(keep)} left after exclusions: "
            f"{[(e.item_id, e.reason) for e in excluded]}"
        )
    if not fixed_rows and len(keep) == 0:
        raise ValueError("no item to estimate")
    sub = data.subset_items(keep)
    n_categories = np.array(
        [
            int(fixed.parameters.n_categories[fixed_rows[j]])
            if j in fixed_rows
            else max(int(sub.n_categories[j]), 2)
            for j in range(len(keep))
        ],
        dtype=np.int64,
    )
    is_fixed = np.array([j in fixed_rows for j in range(len(keep))], dtype=bool)
    layout = _Layout(models, n_categories, is_fixed, priors)
    model = _Model(layout, nodes)
    # anchors may have more categories than the new sample reached: pad the counts
    observed_counts = np.zeros((len(keep), layout.max_categories))
    observed_counts[:, : sub.category_counts.shape[1]] = sub.category_counts
    params = _start_values(models, observed_counts, n_categories, layout.width, priors)
    for j, anchor in fixed_rows.items():
        params[j] = _fixed_internal(fixed.parameters, anchor, layout.width)
    blocks = ResponseBlocks(sub, layout.max_categories, len(nodes))

    mean, log_sd = 0.0, 0.0
    x = layout.pack(params, mean, log_sd)
    template = params
    evaluations = 0

    def em_map(point: FloatArray) -> tuple[FloatArray, float, float]:
        nonlocal evaluations
        p, m, s = layout.unpack(point, template, mean, log_sd)
        estep = blocks.expected_counts(model.log_p(p), _log_weights(nodes, m, s), exact=False)
        evaluations += 1
        if progress is not None:
            progress(evaluations, estep.log_likelihood)
        new_params = model.m_step(p, estep.counts)
        new_mean, new_log_sd = model.latent_update(estep.node_totals, m, s)
        objective = estep.log_likelihood + model.log_prior(p)
        return layout.pack(new_params, new_mean, new_log_sd), objective, estep.log_likelihood

    def valid(point: FloatArray) -> bool:
        if not np.all(np.isfinite(point)):
            return False
        p, _, s = layout.unpack(point, template, mean, log_sd)
        return model.valid(p) and abs(s) < 5.0

    converged = False
    if layout.n_free == 0:
        converged = True
    while not converged and evaluations < max_iter:
        x1, _, _ = em_map(x)
        if np.max(np.abs(x1 - x)) < tol:
            x, converged = x1, True
            break
        if not accelerate or evaluations >= max_iter:
            x = x1
            continue
        x2, objective1, _ = em_map(x1)
        if np.max(np.abs(x2 - x1)) < tol:
            x, converged = x2, True
            break
        r = x1 - x
        v = x2 - x1 - r
        norm_v = float(np.linalg.norm(v))
        alpha = -float(np.linalg.norm(r)) / norm_v if norm_v > 0 else -1.0
        alpha = min(alpha, -1.0)
        start, x = x, x2
        while alpha < -1.0 and evaluations < max_iter:
            candidate = start - 2.0 * alpha * r + alpha**2 * v
            if valid(candidate):
                x3, objective_candidate, _ = em_map(candidate)
                if np.isfinite(
                    objective_candidate
                ) and objective_candidate >= objective1 - 1e-7 * abs(objective1):
                    x = x3 if valid(x3) else candidate
                    break
            alpha = (alpha - 1.0) / 2.0
            if alpha > -1.5:
                break

    if not converged:
        warnings.warn(
            f"EM did not converge in {max_iter} iterations (tol={tol}); the estimates are "
            "returned with converged=False",
            ConvergenceWarning,
            stacklevel=3,
        )

    params, mean, log_sd = layout.unpack(x, template, mean, log_sd)
    log_weights = _log_weights(nodes, mean, log_sd)
    final = blocks.expected_counts(model.log_p(params), log_weights)

    # A free item with a negative slope is reversed (usually a keying error): drop and refit.
    reversed_items = [
        ExcludedItem(
            sub.item_ids[j],
            f"negative slope a = {params[j, 0]:.3f}: the item discriminates in reverse "
            "(check its key)",
        )
        for j in range(len(keep))
        if not is_fixed[j] and params[j, 0] <= 0
    ]
    if reversed_items:
        return None, reversed_items

    method = se_method
    if method == "auto":
        cost = 2.0 * layout.n_free * sub.n_observed * len(nodes)
        method = "oakes" if cost <= _OAKES_BUDGET else "xpd"
    covariance = None
    if method != "none" and layout.n_free:
        if method == "oakes":
            information = _oakes_information(model, blocks, layout, params, mean, log_sd)
        else:
            information = _xpd_information(model, blocks, layout, params, mean, log_sd)
        covariance = _covariance(information)

    return _build_result(
        sub,
        layout,
        params,
        mean,
        log_sd,
        final,
        model,
        covariance,
        method,
        evaluations,
        converged,
        excluded,
    ), []


def _build_result(
    data,
    layout,
    params,
    mean,
    log_sd,
    final,
    model,
    covariance,
    method,
    evaluations,
    converged,
    excluded,
) -> CalibrationResult:
    n_items = layout.n_items
    width_b = max(layout.max_categories - 1, 1)
    a = params[:, 0].copy()
    b = np.full((n_items, width_b), np.nan)
    c = np.zeros(n_items)
    se_a = np.full(n_items, np.nan)
    se_b = np.full((n_items, width_b), np.nan)
    se_c = np.full(n_items, np.nan)
    variance = None if covariance is None else covariance

    def cov(i: int, j: int) -> float:
        if variance is None or i < 0 or j < 0:
            return 0.0
        return float(variance[i, j])

    for i, item_model in enumerate(layout.models):
        k = int(layout.n_categories[i])
        index = layout.index[i]
        b[i, : k - 1] = -params[i, 1:k] / a[i]
        if item_model is ItemModel.THREE_PL:
            c[i] = 1.0 / (1.0 + math.exp(-params[i, 2])) if np.isfinite(params[i, 2]) else 0.0
        if layout.fixed[i] or variance is None:
            continue
        if index[0] >= 0:
            se_a[i] = math.sqrt(max(cov(index[0], index[0]), 0.0))
        for column in range(1, k):
            jac_a, jac_d = params[i, column] / a[i] ** 2, -1.0 / a[i]
            var_b = (
                jac_a**2 * cov(index[0], index[0])
                + jac_d**2 * cov(index[column], index[column])
                + 2.0 * jac_a * jac_d * cov(index[0], index[column])
            )
            se_b[i, column - 1] = math.sqrt(max(var_b, 0.0))
        if item_model is ItemModel.THREE_PL and index[2] >= 0:
            se_c[i] = c[i] * (1.0 - c[i]) * math.sqrt(max(cov(index[2], index[2]), 0.0))

    se_mean = se_sd = math.nan
    position = layout.n_item_params
    if variance is not None:
        if layout.estimate_mean:
            se_mean = math.sqrt(max(variance[position, position], 0.0))
            position += 1
        if layout.estimate_sd:
            se_sd = math.exp(log_sd) * math.sqrt(max(variance[position, position], 0.0))
    parameters = ItemParameters(
        models=layout.models, a=a, b=b, c=c, n_categories=layout.n_categories
    )
    answered_rows = np.zeros(data.n_rows, dtype=bool)
    answered_rows[data.rows] = True
    return CalibrationResult(
        item_ids=data.item_ids,
        parameters=parameters,
        se_a=se_a,
        se_b=se_b,
        se_c=se_c,
        fixed=layout.fixed.copy(),
        n_responses=data.responses_per_item,
        log_likelihood=final.log_likelihood,
        log_posterior=final.log_likelihood + model.log_prior(params),
        n_parameters=layout.n_free,
        n_persons=float(data.weights[answered_rows].sum()),
        n_iter=evaluations,
        converged=converged,
        latent_mean=mean,
        latent_sd=math.exp(log_sd),
        se_latent_mean=se_mean,
        se_latent_sd=se_sd,
        excluded=tuple(excluded),
        se_method=method,
        covariance=covariance,
    )
