"""The computer-adaptive test engine: item pools, selection, exposure and content control,
stopping and classification rules, blueprints and a simulator.

Pure numerics on top of :mod:`calibration`; no database, web framework or I/O.
"""

from exam.blueprint import (
    Blueprint,
    ClassificationRule,
    ContentConstraint,
    ContentRule,
    EstimationRule,
    ExposureRule,
    LengthRule,
    ScaleTransform,
    SelectionRule,
)
from exam.classification import ConfidenceIntervalClassifier, SPRTClassifier
from exam.content import ContentBalancer, check_feasibility
from exam.engine import ExamDefinition, define_exam, finish, replay, start, step
from exam.exceptions import (
    BlueprintError,
    ExamFinishedError,
    InfeasibleBlueprintError,
    InvalidResponseError,
    NoItemsAvailableError,
    PoolError,
    ReplayMismatchError,
)
from exam.exposure import SympsonHetterResult, compute_sympson_hetter
from exam.pool import ItemPool, domain_of
from exam.scoring import DomainScore, ExamResult, score_exam
from exam.selection import (
    KullbackLeiblerSelector,
    MaxInfoSelector,
    PosteriorWeightedInfoSelector,
)
from exam.simulation import SimulationResult, simulate
from exam.state import ExamState, Response
from exam.stopping import (
    MaxLengthStopper,
    StandardErrorStopper,
    StopReason,
    TimeLimitStopper,
)

__all__ = [
    "Blueprint",
    "BlueprintError",
    "ClassificationRule",
    "ConfidenceIntervalClassifier",
    "ContentBalancer",
    "ContentConstraint",
    "ContentRule",
    "DomainScore",
    "EstimationRule",
    "ExamDefinition",
    "ExamFinishedError",
    "ExamResult",
    "ExamState",
    "ExposureRule",
    "InfeasibleBlueprintError",
    "InvalidResponseError",
    "ItemPool",
    "KullbackLeiblerSelector",
    "LengthRule",
    "MaxInfoSelector",
    "MaxLengthStopper",
    "NoItemsAvailableError",
    "PoolError",
    "PosteriorWeightedInfoSelector",
    "ReplayMismatchError",
    "Response",
    "SPRTClassifier",
    "ScaleTransform",
    "SelectionRule",
    "SimulationResult",
    "StandardErrorStopper",
    "StopReason",
    "SympsonHetterResult",
    "TimeLimitStopper",
    "check_feasibility",
    "compute_sympson_hetter",
    "define_exam",
    "domain_of",
    "finish",
    "replay",
    "score_exam",
    "simulate",
    "start",
    "step",
]
