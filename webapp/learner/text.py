"""Plain words for the learner: why an exam is closed, why it ended, what a score band means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import format_datetime, gettext

from exam.blueprint import ScaleTransform
from item_bank.models import ItemVersion
from webapp.exams.progress import Eligibility, IneligibleReason
from webapp.exams.services import ResultView


def ineligible_message(status: Eligibility | None) -> str | None:
    """Why the learner may not start the exam now, in the request's language (None if open)."""
    if status is None or status.eligible:
        return None
    reason = status.reason
    if reason is IneligibleReason.COURSE_INCOMPLETE:
        return gettext(
            "Complete the course first: the final exam opens when the course rule is met."
        )
    if reason is IneligibleReason.ATTEMPTS_EXHAUSTED:
        return gettext("You have used all your attempts at this exam.")
    if reason is IneligibleReason.RETAKE_WAIT and status.retake_at is not None:
        return gettext(
            "You can try again from %(when)s.", when=format_datetime(status.retake_at, "short")
        )
    if reason is IneligibleReason.ALREADY_PASSED:
        return gettext("You have passed this exam: no retake is needed.")
    return gettext("This exam is not open now.")


def stop_reason_message(reason: str) -> str:
    """Why the exam ended."""
    messages = {
        "time_limit": gettext("The time limit was reached."),
        "classified": gettext("Your answers were enough to decide the result with confidence."),
        "se_target": gettext("Your answers measured your level precisely enough."),
        "max_length": gettext("You answered the maximum number of questions."),
        "form_complete": gettext("You answered every question."),
        "pool_exhausted": gettext("No more questions were available."),
        "abandoned": gettext("The exam was ended."),
    }
    return messages.get(reason, reason)


@dataclass(frozen=True)
class ScoreBand:
    """The 95% error band of a scale score, clipped to the reported scale.

    A score near the top or bottom of the scale has a band that would run past the scale's end
    ("706 to 911" on a scale ending at 900); nobody can score there, so the band stops at the
    bound and says so.
    """

    low: float
    high: float
    scale_min: float
    scale_max: float

    @property
    def at_bottom(self) -> bool:
        return self.low <= self.scale_min

    @property
    def at_top(self) -> bool:
        return self.high >= self.scale_max

    def includes(self, score: float) -> bool:
        return self.low <= score <= self.high


def score_band(result: ResultView, scale: ScaleTransform) -> ScoreBand:
    """The result's error band (:attr:`ResultView.band`) within ``[scale.min, scale.max]``."""
    low, high = result.band
    return ScoreBand(
        low=min(max(low, scale.min), scale.max),
        high=max(min(high, scale.max), scale.min),
        scale_min=scale.min,
        scale_max=scale.max,
    )


def score_band_message(band: ScoreBand) -> str:
    """The error band in plain words, naming the end of the scale when the band reaches it."""
    low, high = round(band.low), round(band.high)
    if band.at_bottom and band.at_top:
        return gettext(
            "This exam could not measure your level precisely: it may lie anywhere "
            "on the scale, from %(low)d to %(high)d.",
            low=low,
            high=high,
        )
    if band.at_top:
        return gettext(
            "No exam measures exactly: your true level most likely lies between "
            "%(low)d and %(high)d, the top of the scale (19 times out of 20).",
            low=low,
            high=high,
        )
    if band.at_bottom:
        return gettext(
            "No exam measures exactly: your true level most likely lies between "
            "%(low)d, the bottom of the scale, and %(high)d (19 times out of 20).",
            low=low,
            high=high,
        )
    return gettext(
        "No exam measures exactly: your true level most likely lies between %(low)d "
        "and %(high)d (19 times out of 20).",
        low=low,
        high=high,
    )


def has_passed(status: Eligibility | None, passed: bool | None = None) -> bool:
    """Whether the learner has passed the exam (this attempt or an earlier one)."""
    return bool(passed) or (status is not None and status.reason is IneligibleReason.ALREADY_PASSED)


def retake_message(status: Eligibility | None, passed: bool | None = None) -> str | None:
    """The retake rule as it applies to the learner now (None when the exam is open again).

    A learner who has passed is done: the exam closes for them (:func:`eligibility`), so the
    page says no retake is needed rather than counting attempts left.
    """
    if has_passed(status, passed):
        return gettext("You have passed this exam: no retake is needed.")
    return ineligible_message(status)


def attempts_left_message(status: Eligibility | None, passed: bool | None = None) -> str | None:
    """How many attempts are left, only where that still matters (not after a pass, not 0)."""
    if status is None or status.attempts_left is None or has_passed(status, passed):
        return None
    if status.attempts_left == 0:
        return None  # "You have used all your attempts" says it already
    return gettext("Attempts left: %(n)d.", n=status.attempts_left)


@dataclass(frozen=True)
class ReviewOption:
    """One option of a practice question as the feedback page shows it."""

    id: str
    text_vi: str
    text_en: str | None
    chosen: bool
    correct: bool


@dataclass(frozen=True)
class PracticeReview:
    """A practice question after the answer: stem, every option, which were chosen and right.

    Only for topic quizzes: the final exam never shows keys (``ordered`` items have no single
    key; their best-scored options are the ones shown as right).
    """

    item_type: str
    stem_vi: str
    stem_en: str | None
    options: tuple[ReviewOption, ...]

    @property
    def chosen(self) -> tuple[ReviewOption, ...]:
        return tuple(option for option in self.options if option.chosen)

    @property
    def correct(self) -> tuple[ReviewOption, ...]:
        return tuple(option for option in self.options if option.correct)


def practice_review(version: ItemVersion, answer: Any) -> PracticeReview:
    """What the feedback page of a practice question shows, from the answered item version."""
    chosen = set(answer) if isinstance(answer, list) else {answer}
    if version.type == "ordered":
        best = max(int(option["score"]) for option in version.options)
        right = {option["id"] for option in version.options if int(option["score"]) == best}
    elif isinstance(version.key, list):
        right = set(version.key)
    else:
        right = {version.key}
    options = []
    for option in version.options:
        text = option.get("text") or {}
        options.append(
            ReviewOption(
                id=option["id"],
                text_vi=text.get("vi") or "",
                text_en=text.get("en"),
                chosen=option["id"] in chosen,
                correct=option["id"] in right,
            )
        )
    return PracticeReview(version.type, version.stem_vi, version.stem_en, tuple(options))
