"""The exam blueprint: a validated JSON document that defines how an exam is assembled and scored.

A blueprint names the item-selection rule, exposure control, content constraints, length bounds,
the standard-error target, the pass/fail classification rule and cut, the reported scale, the time
limit, attempts allowed and the number of unscored pretest items. ``Blueprint.from_dict`` checks
every field and raises :class:`~exam.exceptions.BlueprintError` naming the field path;
``to_dict`` gives the document back (``from_dict(to_dict(b)) == b``). Checks that need the pool
(enough items for every content minimum) are in :func:`exam.content.check_feasibility`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exam.exceptions import BlueprintError


class ExamMode(enum.StrEnum):
    """Adaptive (item by item) or fixed form (linear, e.g. a topic quiz)."""

    ADAPTIVE = "adaptive"
    FIXED = "fixed"


class SelectionRuleName(enum.StrEnum):
    """Item-selection criterion: maximum Fisher information, global Kullback-Leibler, MPWI."""

    MFI = "mfi"
    KL = "kl"
    MPWI = "mpwi"


class SelectionTarget(enum.StrEnum):
    """Where information is maximised: at the current estimate or at the cut (classification)."""

    ESTIMATE = "estimate"
    CUT = "cut"


class EstimatorName(enum.StrEnum):
    """Ability estimators. EAP and MAP serve during the test; all four for the final score."""

    EAP = "eap"
    MAP = "map"
    MLE = "mle"
    WLE = "wle"


class ExposureMethod(enum.StrEnum):
    """Exposure-control methods."""

    NONE = "none"
    RANDOMESQUE = "randomesque"
    SYMPSON_HETTER = "sympson_hetter"
    A_STRATIFIED = "a_stratified"


class ContentMethod(enum.StrEnum):
    """Content-balancing methods: maximum priority index or Kingsbury-Zara."""

    MPI = "mpi"
    KINGSBURY_ZARA = "kingsbury_zara"


class ConstraintKind(enum.StrEnum):
    """What a content constraint counts: items of a competency domain or of a topic."""

    DOMAIN = "domain"
    TOPIC = "topic"


class ClassificationRuleName(enum.StrEnum):
    """Pass/fail classification rules that may end the test early."""

    NONE = "none"
    SPRT = "sprt"
    CI = "ci"


@dataclass(frozen=True)
class LengthRule:
    """Bounds on the number of scored items (pretest items come on top)."""

    min: int
    max: int


@dataclass(frozen=True)
class SelectionRule:
    """Item-selection criterion and start.

    The first item is chosen at ``start_theta``, or at an ability drawn uniformly from
    ``start_theta +- start_spread`` per exam (so that not every exam begins with one item).
    ``kl_window`` is the constant ``c`` of the Kullback-Leibler interval
    ``theta_hat +- c / sqrt(n)`` (Chang & Ying 1996).
    """

    rule: SelectionRuleName = SelectionRuleName.MFI
    target: SelectionTarget = SelectionTarget.ESTIMATE
    start_theta: float = 0.0
    start_spread: float = 0.0
    kl_window: float = 3.0


@dataclass(frozen=True)
class EstimationRule:
    """Interim (during the test) and final ability estimators and the prior of EAP/MAP."""

    interim: EstimatorName = EstimatorName.EAP
    final: EstimatorName = EstimatorName.EAP
    prior_mean: float = 0.0
    prior_sd: float = 1.0


@dataclass(frozen=True)
class ExposureRule:
    """Exposure control: method and its settings.

    ``randomesque_k`` items of highest criterion share the draw (Kingsbury & Zara 1989);
    ``strata`` is the number of a-strata (Chang & Ying 1999); ``target_rate`` is the maximum
    exposure rate aimed at when Sympson-Hetter parameters are computed.
    """

    method: ExposureMethod = ExposureMethod.NONE
    randomesque_k: int = 5
    strata: int = 4
    target_rate: float = 0.2


@dataclass(frozen=True)
class ContentConstraint:
    """Bounds on the items of one competency domain or topic, as counts or as shares.

    Shares are of the maximum length; a count and a share of the same bound may not both be given.
    """

    kind: ConstraintKind
    code: str
    min: int | None = None
    max: int | None = None
    min_share: float | None = None
    max_share: float | None = None

    def lower_count(self, max_length: int) -> int:
        """The minimum as a count of items in a test of ``max_length`` scored items."""
        if self.min is not None:
            return self.min
        if self.min_share is not None:
            return math.ceil(self.min_share * max_length - 1e-9)
        return 0

    def upper_count(self, max_length: int) -> int:
        """The maximum as a count of items in a test of ``max_length`` scored items."""
        if self.max is not None:
            return min(self.max, max_length)
        if self.max_share is not None:
            return math.floor(self.max_share * max_length + 1e-9)
        return max_length


@dataclass(frozen=True)
class ContentRule:
    """Content balancing method and constraints."""

    method: ContentMethod = ContentMethod.MPI
    constraints: tuple[ContentConstraint, ...] = ()


@dataclass(frozen=True)
class ClassificationRule:
    """Pass/fail decision at the cut that may end the test early.

    SPRT (Wald 1947; Reckase 1983; Eggen 1999) compares the likelihood at ``cut - indifference``
    and ``cut + indifference`` with error rates ``alpha`` (false pass) and ``beta`` (false fail);
    the confidence-interval rule (Kingsbury & Weiss 1983) stops when the ``confidence`` interval
    of the estimate excludes the cut.
    """

    rule: ClassificationRuleName = ClassificationRuleName.NONE
    indifference: float = 0.25
    alpha: float = 0.05
    beta: float = 0.05
    confidence: float = 0.95


@dataclass(frozen=True)
class ScaleTransform:
    """Reported scale: ``intercept + slope * theta``, clipped to ``[min, max]``."""

    slope: float = 100.0
    intercept: float = 500.0
    min: float = 0.0
    max: float = 1000.0

    def to_scale(self, theta: float) -> float:
        """Scale score of ``theta``."""
        return float(min(max(self.intercept + self.slope * theta, self.min), self.max))

    def se_to_scale(self, se: float) -> float:
        """Standard error on the reported scale."""
        return float(abs(self.slope) * se)


@dataclass(frozen=True)
class Blueprint:
    """A validated exam definition. Build it with :meth:`from_dict`.

    Attributes
    ----------
    mode : ExamMode
        Adaptive, or a fixed form given in order (``form``; ``None`` takes the pool's operational
        items in pool order), shuffled when ``shuffle_form``.
    length : LengthRule
        Bounds on the number of scored items.
    se_target : float or None
        Stop once the interim standard error is at most this (after ``length.min``).
    time_limit_s : float or None
        Stop once the elapsed time reaches this.
    cut_theta : float or None
        Pass/fail cut on the ability scale; ``cut_score`` is the same on the reported scale.
    attempts_allowed : int or None
        Attempts a learner may take (``None``: unlimited); enforced by the caller.
    exclude_seen_items : bool
        Leave out items the learner saw in earlier attempts.
    pretest_items : int
        Unscored pretest items seeded at random positions.
    """

    mode: ExamMode = ExamMode.ADAPTIVE
    name: str = ""
    form: tuple[str, ...] | None = None
    shuffle_form: bool = False
    length: LengthRule = field(default_factory=lambda: LengthRule(min=30, max=30))
    selection: SelectionRule = field(default_factory=SelectionRule)
    estimation: EstimationRule = field(default_factory=EstimationRule)
    exposure: ExposureRule = field(default_factory=ExposureRule)
    content: ContentRule = field(default_factory=ContentRule)
    se_target: float | None = None
    time_limit_s: float | None = None
    classification: ClassificationRule = field(default_factory=ClassificationRule)
    cut_theta: float | None = None
    scale: ScaleTransform = field(default_factory=ScaleTransform)
    attempts_allowed: int | None = None
    exclude_seen_items: bool = True
    pretest_items: int = 0

    @property
    def cut_score(self) -> float | None:
        """The cut on the reported scale."""
        return None if self.cut_theta is None else self.scale.to_scale(self.cut_theta)

    @classmethod
    def fixed_length(
        cls,
        length: int,
        *,
        selection: str = "mfi",
        estimator: str = "eap",
        final: str | None = None,
    ) -> Blueprint:
        """A plain adaptive blueprint of ``length`` items with no other rule."""
        return cls.from_dict(
            {
                "length": {"min": length, "max": length},
                "selection": {"rule": selection},
                "estimation": {"interim": estimator, "final": final or estimator},
            }
        )

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Blueprint:
        """Validate a blueprint document.

        Raises
        ------
        BlueprintError
            Naming the field path and the problem, for the first bad field found.
        """
        reader = _Reader(document, "")
        mode = reader.enum("mode", ExamMode, ExamMode.ADAPTIVE)
        name = reader.string("name", "")
        form = reader.optional_string_list("form")
        shuffle_form = reader.boolean("shuffle_form", False)
        length_reader = reader.section("length")
        if length_reader is None:
            if mode is ExamMode.FIXED and form is not None:
                length = LengthRule(min=len(form), max=len(form))
            else:
                raise BlueprintError("length", "is required: {'min': ..., 'max': ...}")
        else:
            max_length = length_reader.integer("max", None, minimum=1)
            min_length = length_reader.integer("min", max_length, minimum=1)
            if min_length > max_length:
                raise BlueprintError("length.min", f"{min_length} is above length.max {max_length}")
            length_reader.finish()
            length = LengthRule(min=min_length, max=max_length)
        if form is not None:
            if mode is not ExamMode.FIXED:
                raise BlueprintError("form", "is only for mode 'fixed'")
            if len(set(form)) != len(form):
                raise BlueprintError("form", "lists an item twice")
            if len(form) < length.max:
                raise BlueprintError(
                    "form", f"has {len(form)} items, fewer than length.max {length.max}"
                )

        selection_reader = reader.section("selection") or _Reader({}, "selection")
        selection = SelectionRule(
            rule=selection_reader.enum("rule", SelectionRuleName, SelectionRuleName.MFI),
            target=selection_reader.enum("target", SelectionTarget, SelectionTarget.ESTIMATE),
            start_theta=selection_reader.number("start_theta", 0.0, low=-6.0, high=6.0),
            start_spread=selection_reader.number("start_spread", 0.0, low=0.0, high=3.0),
            kl_window=selection_reader.number("kl_window", 3.0, low=0.0, low_open=True),
        )
        selection_reader.finish()

        estimation_reader = reader.section("estimation") or _Reader({}, "estimation")
        interim = estimation_reader.enum("interim", EstimatorName, EstimatorName.EAP)
        if interim not in (EstimatorName.EAP, EstimatorName.MAP):
            raise BlueprintError("estimation.interim", f"must be 'eap' or 'map', got {interim!r}")
        estimation = EstimationRule(
            interim=interim,
            final=estimation_reader.enum("final", EstimatorName, interim),
            prior_mean=estimation_reader.number("prior_mean", 0.0, low=-4.0, high=4.0),
            prior_sd=estimation_reader.number("prior_sd", 1.0, low=0.0, low_open=True, high=10.0),
        )
        estimation_reader.finish()

        exposure_reader = reader.section("exposure") or _Reader({}, "exposure")
        exposure = ExposureRule(
            method=exposure_reader.enum("method", ExposureMethod, ExposureMethod.NONE),
            randomesque_k=exposure_reader.integer("randomesque_k", 5, minimum=1),
            strata=exposure_reader.integer("strata", 4, minimum=1),
            target_rate=exposure_reader.number(
                "target_rate", 0.2, low=0.0, low_open=True, high=1.0
            ),
        )
        exposure_reader.finish()
        if exposure.method is ExposureMethod.A_STRATIFIED and exposure.strata > length.max:
            raise BlueprintError(
                "exposure.strata", f"{exposure.strata} strata exceed length.max {length.max}"
            )

        content_reader = reader.section("content") or _Reader({}, "content")
        method = content_reader.enum("method", ContentMethod, ContentMethod.MPI)
        constraints = tuple(
            _read_constraint(entry) for entry in content_reader.section_list("constraints")
        )
        content_reader.finish()
        content = ContentRule(method=method, constraints=constraints)
        _check_constraints(content, length)

        se_target = reader.optional_number("se_target", low=0.0, low_open=True)
        time_limit_s = reader.optional_number("time_limit_s", low=0.0, low_open=True)

        classification_reader = reader.section("classification") or _Reader({}, "classification")
        classification = ClassificationRule(
            rule=classification_reader.enum(
                "rule", ClassificationRuleName, ClassificationRuleName.NONE
            ),
            indifference=classification_reader.number(
                "indifference", 0.25, low=0.0, low_open=True, high=3.0
            ),
            alpha=classification_reader.number("alpha", 0.05, low=0.0, low_open=True, high=0.5),
            beta=classification_reader.number("beta", 0.05, low=0.0, low_open=True, high=0.5),
            confidence=classification_reader.number(
                "confidence", 0.95, low=0.5, high=1.0, high_open=True
            ),
        )
        classification_reader.finish()
        cut_theta = reader.optional_number("cut_theta", low=-6.0, high=6.0)
        if classification.rule is not ClassificationRuleName.NONE and cut_theta is None:
            raise BlueprintError("cut_theta", "is required by the classification rule")
        if selection.target is SelectionTarget.CUT and cut_theta is None:
            raise BlueprintError("cut_theta", "is required by selection.target 'cut'")

        scale_reader = reader.section("scale") or _Reader({}, "scale")
        scale = ScaleTransform(
            slope=scale_reader.number("slope", 100.0),
            intercept=scale_reader.number("intercept", 500.0),
            min=scale_reader.number("min", 0.0),
            max=scale_reader.number("max", 1000.0),
        )
        scale_reader.finish()
        if scale.slope == 0:
            raise BlueprintError("scale.slope", "must not be 0")
        if scale.min >= scale.max:
            raise BlueprintError("scale.min", f"{scale.min} is not below scale.max {scale.max}")

        attempts_allowed = reader.optional_integer("attempts_allowed", minimum=1)
        exclude_seen_items = reader.boolean("exclude_seen_items", True)
        pretest_items = reader.integer("pretest_items", 0, minimum=0)
        reader.finish()
        return cls(
            mode=mode,
            name=name,
            form=form,
            shuffle_form=shuffle_form,
            length=length,
            selection=selection,
            estimation=estimation,
            exposure=exposure,
            content=content,
            se_target=se_target,
            time_limit_s=time_limit_s,
            classification=classification,
            cut_theta=cut_theta,
            scale=scale,
            attempts_allowed=attempts_allowed,
            exclude_seen_items=exclude_seen_items,
            pretest_items=pretest_items,
        )

    def to_dict(self) -> dict[str, Any]:
        """The blueprint as a JSON-ready document that :meth:`from_dict` reads back."""
        constraints = []
        for constraint in self.content.constraints:
            entry: dict[str, Any] = {"kind": str(constraint.kind), "code": constraint.code}
            for key in ("min", "max", "min_share", "max_share"):
                value = getattr(constraint, key)
                if value is not None:
                    entry[key] = value
            constraints.append(entry)
        document: dict[str, Any] = {
            "mode": str(self.mode),
            "name": self.name,
            "length": {"min": self.length.min, "max": self.length.max},
            "selection": {
                "rule": str(self.selection.rule),
                "target": str(self.selection.target),
                "start_theta": self.selection.start_theta,
                "start_spread": self.selection.start_spread,
                "kl_window": self.selection.kl_window,
            },
            "estimation": {
                "interim": str(self.estimation.interim),
                "final": str(self.estimation.final),
                "prior_mean": self.estimation.prior_mean,
                "prior_sd": self.estimation.prior_sd,
            },
            "exposure": {
                "method": str(self.exposure.method),
                "randomesque_k": self.exposure.randomesque_k,
                "strata": self.exposure.strata,
                "target_rate": self.exposure.target_rate,
            },
            "content": {"method": str(self.content.method), "constraints": constraints},
            "se_target": self.se_target,
            "time_limit_s": self.time_limit_s,
            "classification": {
                "rule": str(self.classification.rule),
                "indifference": self.classification.indifference,
                "alpha": self.classification.alpha,
                "beta": self.classification.beta,
                "confidence": self.classification.confidence,
            },
            "cut_theta": self.cut_theta,
            "scale": {
                "slope": self.scale.slope,
                "intercept": self.scale.intercept,
                "min": self.scale.min,
                "max": self.scale.max,
            },
            "attempts_allowed": self.attempts_allowed,
            "exclude_seen_items": self.exclude_seen_items,
            "pretest_items": self.pretest_items,
        }
        if self.form is not None:
            document["form"] = list(self.form)
            document["shuffle_form"] = self.shuffle_form
        elif self.shuffle_form:
            document["shuffle_form"] = True
        return document


def _read_constraint(reader: _Reader) -> ContentConstraint:
    kind = reader.enum("kind", ConstraintKind, None)
    code = reader.string("code", None)
    if not code:
        raise BlueprintError(reader.path("code"), "must be a non-empty code")
    constraint = ContentConstraint(
        kind=kind,
        code=code,
        min=reader.optional_integer("min", minimum=0),
        max=reader.optional_integer("max", minimum=0),
        min_share=reader.optional_number("min_share", low=0.0, high=1.0),
        max_share=reader.optional_number("max_share", low=0.0, high=1.0),
    )
    reader.finish()
    if constraint.min is not None and constraint.min_share is not None:
        raise BlueprintError(reader.path("min_share"), "give either min or min_share, not both")
    if constraint.max is not None and constraint.max_share is not None:
        raise BlueprintError(reader.path("max_share"), "give either max or max_share, not both")
    if all(getattr(constraint, k) is None for k in ("min", "max", "min_share", "max_share")):
        raise BlueprintError(reader.path("min"), "a constraint needs a min or a max")
    return constraint


def _check_constraints(content: ContentRule, length: LengthRule) -> None:
    """Pool-independent feasibility: each bound in range, the minima of a kind fit the length."""
    seen: set[tuple[str, str]] = set()
    lower_total = {ConstraintKind.DOMAIN: 0, ConstraintKind.TOPIC: 0}
    for index, constraint in enumerate(content.constraints):
        path = f"content.constraints[{index}]"
        key = (str(constraint.kind), constraint.code)
        if key in seen:
            raise BlueprintError(
                f"{path}.code", f"{constraint.kind} {constraint.code!r} is constrained twice"
            )
        seen.add(key)
        lower = constraint.lower_count(length.max)
        upper = constraint.upper_count(length.max)
        if lower > upper:
            raise BlueprintError(
                f"{path}.min",
                f"minimum {lower} is above the maximum {upper} (as counts of {length.max} items)",
            )
        if lower > length.max:
            raise BlueprintError(f"{path}.min", f"{lower} exceeds length.max {length.max}")
        lower_total[constraint.kind] += lower
    for kind, total in lower_total.items():
        if total > length.max:
            raise BlueprintError(
                "content.constraints",
                f"the {kind} minima add up to {total} items, more than length.max {length.max}",
            )


class _Reader:
    """Reads one JSON object, naming every field by its path, and rejects unknown keys."""

    def __init__(self, document: Any, prefix: str) -> None:
        if not isinstance(document, Mapping):
            raise BlueprintError(prefix or "<document>", f"must be an object, got {document!r}")
        self._document = document
        self._prefix = prefix
        self._read: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self._prefix}.{key}" if self._prefix else key

    def _take(self, key: str) -> Any:
        self._read.add(key)
        return self._document.get(key)

    def finish(self) -> None:
        unknown = sorted(set(self._document) - self._read)
        if unknown:
            raise BlueprintError(self.path(str(unknown[0])), "is not a blueprint field")

    def section(self, key: str) -> _Reader | None:
        value = self._take(key)
        return None if value is None else _Reader(value, self.path(key))

    def section_list(self, key: str) -> list[_Reader]:
        value = self._take(key)
        if value is None:
            return []
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise BlueprintError(self.path(key), f"must be a list, got {value!r}")
        return [_Reader(entry, f"{self.path(key)}[{i}]") for i, entry in enumerate(value)]

    def enum(self, key: str, kind: type[enum.StrEnum], default: Any) -> Any:
        value = self._take(key)
        if value is None:
            if default is None:
                raise BlueprintError(self.path(key), "is required")
            return default
        try:
            return kind(value)
        except ValueError:
            choices = ", ".join(repr(str(member)) for member in kind)
            raise BlueprintError(
                self.path(key), f"must be one of {choices}, got {value!r}"
            ) from None

    def string(self, key: str, default: str | None) -> str:
        value = self._take(key)
        if value is None:
            if default is None:
                raise BlueprintError(self.path(key), "is required")
            return default
        if not isinstance(value, str):
            raise BlueprintError(self.path(key), f"must be a string, got {value!r}")
        return value

    def optional_string_list(self, key: str) -> tuple[str, ...] | None:
        value = self._take(key)
        if value is None:
            return None
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise BlueprintError(self.path(key), f"must be a list of item ids, got {value!r}")
        for index, entry in enumerate(value):
            if not isinstance(entry, str) or not entry:
                raise BlueprintError(f"{self.path(key)}[{index}]", f"not an item id: {entry!r}")
        return tuple(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._take(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise BlueprintError(self.path(key), f"must be true or false, got {value!r}")
        return value

    def integer(self, key: str, default: int | None, *, minimum: int) -> int:
        value = self.optional_integer(key, minimum=minimum)
        if value is None:
            if default is None:
                raise BlueprintError(self.path(key), "is required")
            return default
        return value

    def optional_integer(self, key: str, *, minimum: int) -> int | None:
        value = self._take(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise BlueprintError(self.path(key), f"must be an integer, got {value!r}")
        if value < minimum:
            raise BlueprintError(self.path(key), f"must be >= {minimum}, got {value!r}")
        return value

    def number(self, key: str, default: float, **bounds: Any) -> float:
        value = self.optional_number(key, **bounds)
        return default if value is None else value

    def optional_number(
        self,
        key: str,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float | None:
        value = self._take(key)
        if value is None:
            return None
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not math.isfinite(value):
            raise BlueprintError(self.path(key), f"must be a finite number, got {value!r}")
        value = float(value)
        if low is not None and (value < low or (low_open and value == low)):
            sign = ">" if low_open else ">="
            raise BlueprintError(self.path(key), f"must be {sign} {low}, got {value!r}")
        if high is not None and (value > high or (high_open and value == high)):
            sign = "<" if high_open else "<="
            raise BlueprintError(self.path(key), f"must be {sign} {high}, got {value!r}")
        return value
