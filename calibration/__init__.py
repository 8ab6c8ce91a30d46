"""Item response theory: models, marginal-maximum-likelihood item calibration and person scoring.

The numerical core of sathach. It takes and returns arrays and frozen dataclasses, imports nothing
else of the project and does no I/O.
"""

from calibration.exceptions import ConvergenceWarning
from calibration.models import (
    NORMAL_OGIVE_SCALE,
    ItemModel,
    ItemParameters,
    answered_information,
    category_probabilities,
    difficulty_from_intercept,
    expected_scores,
    from_normal_ogive_slope,
    intercept_from_difficulty,
    item_information,
    log_likelihood,
    log_likelihood_grid,
    test_information,
    theta_derivatives,
    to_normal_ogive_slope,
)
from calibration.quadrature import Quadrature, normal_quadrature
from calibration.scoring import (
    AbilityEstimates,
    score_eap,
    score_map,
    score_mle,
    score_persons,
    score_wle,
)

__all__ = [
    "NORMAL_OGIVE_SCALE",
    "AbilityEstimates",
    "ConvergenceWarning",
    "ItemModel",
    "ItemParameters",
    "Quadrature",
    "answered_information",
    "category_probabilities",
    "difficulty_from_intercept",
    "expected_scores",
    "from_normal_ogive_slope",
    "intercept_from_difficulty",
    "item_information",
    "log_likelihood",
    "log_likelihood_grid",
    "normal_quadrature",
    "score_eap",
    "score_map",
    "score_mle",
    "score_persons",
    "score_wle",
    "test_information",
    "theta_derivatives",
    "to_normal_ogive_slope",
]
