"""Log category probabilities and their parameter derivatives, in the slope-intercept form EM uses.

Calibration works on unconstrained "internal" parameters per item, in one row of a padded array:
column 0 is the slope ``a``; columns ``1..K-1`` the intercepts ``d_k`` (``d = -a b``); a 3PL item
has the logit of its lower asymptote in column 2. For every item family this module returns, on a
grid of abilities, ``log P_k`` and the score ``D_k = d log P_k / d params`` that the E-step, the
M-step (Fisher scoring) and the standard errors need. Probabilities themselves, in the difficulty
metric, live in :mod:`calibration.models`; here the log-space forms and the derivatives do.
"""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# The 3PL lower asymptote is kept in [1.2e-4, 0.9999]: without a prior, maximum likelihood
# often drives it to 0, where its logit would run off to -inf and EM would never settle.
LOGIT_ASYMPTOTE_BOUND = 9.0

# log P is clipped here so that a response at an extreme node never yields -inf in the E-step.
_LOG_FLOOR = np.log(1e-300)


class Family(enum.Enum):
    """How an item's category probabilities are formed from its internal parameters."""

    LOGISTIC = "logistic"  # rasch, 1pl, 2pl: P(1) = sigma(a theta + d)
    THREE_PL = "3pl"  # P(1) = c + (1 - c) sigma(a theta + d), c = sigma(gamma)
    GRADED = "grm"  # P(X >= k) = sigma(a theta + d_k), d_1 > d_2 > ...
    PARTIAL_CREDIT = "gpcm"  # P(X = k) ~ exp(k a theta + d_1 + ... + d_k)


def n_internal(family: Family, n_categories: int) -> int:
    """Number of internal parameters of an item: slope, K-1 intercepts, and 3PL's asymptote."""
    return n_categories + (1 if family is Family.THREE_PL else 0)


def _log_sigmoid(z: FloatArray) -> FloatArray:
    return -np.logaddexp(0.0, -z)


def log_probabilities_and_scores(
    family: Family, params: FloatArray, n_categories: int, nodes: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Log category probabilities and their gradients for items of one family and size.

    Parameters
    ----------
    family : Family
    params : ndarray, shape (n_items, p)
        Internal parameters, ``p = n_internal(family, n_categories)``.
    n_categories : int
        Number of categories ``K`` shared by these items.
    nodes : ndarray, shape (n_nodes,)
        Ability grid.

    Returns
    -------
    log_p : ndarray, shape (n_items, K, n_nodes)
    scores : ndarray, shape (n_items, K, n_nodes, p)
        ``d log P_k(theta_q) / d params``.
    """
    if family is Family.LOGISTIC:
        return _logistic(params, nodes)
    if family is Family.THREE_PL:
        return _three_pl(params, nodes)
    if family is Family.GRADED:
        return _graded(params, n_categories, nodes)
    return _partial_credit(params, n_categories, nodes)


def log_probabilities(
    family: Family, params: FloatArray, n_categories: int, nodes: FloatArray
) -> FloatArray:
    """``log P_k`` only, shape (n_items, K, n_nodes); see :func:`log_probabilities_and_scores`."""
    return log_probabilities_and_scores(family, params, n_categories, nodes)[0]


def _logistic(params: FloatArray, nodes: FloatArray) -> tuple[FloatArray, FloatArray]:
    slope, intercept = params[:, 0:1], params[:, 1:2]
    z = slope * nodes + intercept  # (n, Q)
    log_p = np.stack([_log_sigmoid(-z), _log_sigmoid(z)], axis=1)
    p_one = np.exp(log_p[:, 1])
    design = np.stack([np.broadcast_to(nodes, z.shape), np.ones_like(z)], axis=-1)  # (n, Q, 2)
    scores = np.stack([-p_one[..., None] * design, (1.0 - p_one)[..., None] * design], axis=1)
    return np.maximum(log_p, _LOG_FLOOR), scores


def _three_pl(params: FloatArray, nodes: FloatArray) -> tuple[FloatArray, FloatArray]:
    slope, intercept, logit_c = params[:, 0:1], params[:, 1:2], params[:, 2:3]
    z = slope * nodes + intercept
    log_s, log_not_s = _log_sigmoid(z), _log_sigmoid(-z)
    log_c, log_not_c = _log_sigmoid(logit_c), _log_sigmoid(-logit_c)
    log_p_one = np.logaddexp(log_c, log_not_c + log_s)
    log_p_zero = log_not_c + log_not_s
    s, c = np.exp(log_s), np.exp(log_c)
    design = np.stack([np.broadcast_to(nodes, z.shape), np.ones_like(z)], axis=-1)
    # dP/dz = (1-c) s (1-s); dP/dgamma = c (1-c) (1-s); scores are dP/P and -dP/(1-P).
    d_z_one = np.exp(log_not_c + log_s + log_not_s - log_p_one)
    d_gamma_one = np.exp(log_c + log_not_c + log_not_s - log_p_one)
    score_one = np.concatenate([d_z_one[..., None] * design, d_gamma_one[..., None]], axis=-1)
    score_zero = np.concatenate(
        [-s[..., None] * design, -np.broadcast_to(c, z.shape)[..., None]], axis=-1
    )
    log_p = np.stack([log_p_zero, log_p_one], axis=1)
    return np.maximum(log_p, _LOG_FLOOR), np.stack([score_zero, score_one], axis=1)


def _graded(
    params: FloatArray, n_categories: int, nodes: FloatArray
) -> tuple[FloatArray, FloatArray]:
    n_items, n_q = params.shape[0], nodes.shape[0]
    slope, intercepts = params[:, 0:1], params[:, 1:n_categories]
    # z[:, k] for boundaries k = 1..K-1 (P(X >= k)), shape (n, K-1, Q)
    z = slope[:, :, None] * nodes + intercepts[:, :, None]
    inf = np.full((n_items, 1, n_q), np.inf)
    z_upper = np.concatenate([inf, z], axis=1)  # boundary k of category k (k = 0..K-1)
    z_lower = np.concatenate([z, -inf], axis=1)  # boundary k+1 of category k
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.exp(z_lower - z_upper)  # in [0, 1) when the intercepts decrease
        log_p = _log_sigmoid(z_upper) + _log_sigmoid(-z_lower) + np.log1p(-np.minimum(gap, 1.0))
    log_p = np.maximum(np.nan_to_num(log_p, nan=_LOG_FLOOR, neginf=_LOG_FLOOR), _LOG_FLOOR)
    cumulative = np.exp(_log_sigmoid(z))
    w = cumulative * (1.0 - cumulative)  # dP*/dz, (n, K-1, Q)
    zeros = np.zeros((n_items, 1, n_q))
    w_upper = np.concatenate([zeros, w], axis=1)
    w_lower = np.concatenate([w, zeros], axis=1)
    inv_p = np.exp(-log_p)
    scores = np.zeros((n_items, n_categories, n_q, n_categories))
    scores[..., 0] = (w_upper - w_lower) * nodes * inv_p
    for k in range(n_categories):
        if k >= 1:
            scores[:, k, :, k] = w_upper[:, k] * inv_p[:, k]
        if k + 1 <= n_categories - 1:
            scores[:, k, :, k + 1] = -w_lower[:, k] * inv_p[:, k]
    return log_p, scores


def _partial_credit(
    params: FloatArray, n_categories: int, nodes: FloatArray
) -> tuple[FloatArray, FloatArray]:
    n_items = params.shape[0]
    slope, intercepts = params[:, 0:1], params[:, 1:n_categories]
    k = np.arange(n_categories, dtype=np.float64)
    cumulative_d = np.concatenate([np.zeros((n_items, 1)), np.cumsum(intercepts, axis=1)], axis=1)
    eta = k[None, :, None] * slope[:, :, None] * nodes + cumulative_d[:, :, None]  # (n, K, Q)
    log_p = eta - np.logaddexp.reduce(eta, axis=1, keepdims=True)
    p = np.exp(log_p)
    expected = np.einsum("k,nkq->nq", k, p)
    # P(X >= v) for v = 1..K-1
    at_least = np.flip(np.cumsum(np.flip(p, axis=1), axis=1), axis=1)[:, 1:]
    scores = np.empty((n_items, n_categories, nodes.shape[0], n_categories))
    scores[..., 0] = (k[None, :, None] - expected[:, None, :]) * nodes
    step_reached = (k[:, None] >= np.arange(1, n_categories)[None, :]).astype(np.float64)
    scores[..., 1:] = step_reached[None, :, None, :] - at_least.transpose(0, 2, 1)[:, None, :, :]
    return np.maximum(log_p, _LOG_FLOOR), scores


def valid_parameters(
    family: Family, params: FloatArray, n_categories: int
) -> npt.NDArray[np.bool_]:
    """Per item, whether the internal parameters are finite and (for GRM) strictly ordered."""
    ok = np.all(np.isfinite(params[:, : n_internal(family, n_categories)]), axis=1)
    ok &= np.abs(params[:, 0]) < 50.0
    if family is Family.THREE_PL:
        ok &= np.abs(params[:, 2]) <= LOGIT_ASYMPTOTE_BOUND
    if family is Family.GRADED and n_categories > 2:
        ok &= np.all(np.diff(params[:, 1:n_categories], axis=1) < 0, axis=1)
    return ok


def project(family: Family, params: FloatArray) -> FloatArray:
    """Clip parameters into the region :func:`valid_parameters` accepts, where that is a box."""
    if family is Family.THREE_PL:
        params = params.copy()
        params[:, 2] = np.clip(params[:, 2], -LOGIT_ASYMPTOTE_BOUND, LOGIT_ASYMPTOTE_BOUND)
    return params
