"""Fixed quadrature on the latent scale, shared by calibration, scoring and the CAT engine."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

DEFAULT_NODES = 61
DEFAULT_BOUND = 6.0


@dataclass(frozen=True)
class Quadrature:
    """Nodes on the latent scale and the weights of the latent density at them.

    Attributes
    ----------
    nodes : ndarray of shape (n_nodes,)
        Equally spaced ability values.
    weights : ndarray of shape (n_nodes,)
        Density at the nodes, normalised to sum to one.
    """

    nodes: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        nodes = np.asarray(self.nodes, dtype=float)
        weights = np.asarray(self.weights, dtype=float)
        if nodes.ndim != 1 or nodes.shape != weights.shape or nodes.size < 2:
            raise ValueError(
                f"nodes and weights must be 1-d arrays of one length >= 2, got shapes "
                f"{nodes.shape} and {weights.shape}"
            )
        if not np.all(np.isfinite(nodes)) or np.any(np.diff(nodes) <= 0):
            raise ValueError("quadrature nodes must be finite and strictly increasing")
        if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
            raise ValueError(
                f"quadrature weights must be >= 0 and sum to 1, sum is {weights.sum()}"
            )
        nodes.flags.writeable = False
        weights.flags.writeable = False
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "weights", weights)

    @property
    def n_nodes(self) -> int:
        return int(self.nodes.size)

    @cached_property
    def log_weights(self) -> npt.NDArray[np.float64]:
        """Natural log of the weights (``-inf`` where a weight is zero), computed once."""
        with np.errstate(divide="ignore"):
            log_weights = np.log(self.weights)
        log_weights.flags.writeable = False
        return log_weights

    def mean(self) -> float:
        """Mean of the latent density that the weights describe."""
        return float(self.weights @ self.nodes)

    def sd(self) -> float:
        """Standard deviation of the latent density that the weights describe."""
        return float(np.sqrt(self.weights @ (self.nodes - self.mean()) ** 2))


def normal_quadrature(
    n_nodes: int = DEFAULT_NODES,
    bound: float = DEFAULT_BOUND,
    mean: float = 0.0,
    sd: float = 1.0,
) -> Quadrature:
    """Equally spaced nodes on ``[-bound, bound]`` weighted by a normalised N(mean, sd) density.

    The default (61 nodes on [-6, 6], N(0, 1)) is the quadrature of the R package mirt, whose
    published estimates the calibration reproduces.
    """
    if int(n_nodes) != n_nodes or n_nodes < 2:
        raise ValueError(f"n_nodes must be an integer >= 2, got {n_nodes!r}")
    if not (np.isfinite(bound) and bound > 0):
        raise ValueError(f"bound must be a positive number, got {bound!r}")
    if not (np.isfinite(sd) and sd > 0) or not np.isfinite(mean):
        raise ValueError(f"the latent density needs a finite mean and sd > 0, got {mean!r}, {sd!r}")
    nodes = np.linspace(-bound, bound, int(n_nodes))
    log_density = -0.5 * ((nodes - mean) / sd) ** 2
    weights = np.exp(log_density - log_density.max())
    return Quadrature(nodes=nodes, weights=weights / weights.sum())
