"""Item response theory: models, marginal-maximum-likelihood item calibration and person scoring.

The numerical core of sathach. It takes and returns arrays and frozen dataclasses, imports nothing
else of the project and does no I/O.
"""

from calibration.anchors import FixedItems
from calibration.em import calibrate
from calibration.exceptions import ConvergenceWarning, StandardErrorWarning
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
    log_category_probabilities,
    log_likelihood,
    log_likelihood_grid,
    test_information,
    theta_derivatives,
    to_normal_ogive_slope,
)
from calibration.priors import BetaPrior, LogNormalPrior, NormalPrior, Priors
from calibration.quadrature import Quadrature, normal_quadrature
from calibration.responses import ResponseData
from calibration.result import CalibrationResult, ExcludedItem
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
    "BetaPrior",
    "CalibrationResult",
    "ConvergenceWarning",
    "ExcludedItem",
    "FixedItems",
    "ItemModel",
    "ItemParameters",
    "LogNormalPrior",
    "NormalPrior",
    "Priors",
    "Quadrature",
    "ResponseData",
    "StandardErrorWarning",
    "answered_information",
    "calibrate",
    "category_probabilities",
    "difficulty_from_intercept",
    "expected_scores",
    "from_normal_ogive_slope",
    "intercept_from_difficulty",
    "item_information",
    "log_category_probabilities",
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
