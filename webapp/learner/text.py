"""Plain words for the learner: why an exam is closed, why it ended, what a score band means."""

from __future__ import annotations

from flask_babel import format_datetime, gettext

from webapp.exams.progress import Eligibility, IneligibleReason


def ineligible_message(status: Eligibility | None) -> str | None:
    """Why the learner may not start the exam now, in the request's language (None if open)."""
    if status is None or status.eligible:
        return None
    reason = status.reason
    if reason is IneligibleReason.COURSE_INCOMPLETE:
        return gettext("Complete the course first: the final exam opens when the course rule "
                       "is met.")
    if reason is IneligibleReason.ATTEMPTS_EXHAUSTED:
        return gettext("You have used all your attempts at this exam.")
    if reason is IneligibleReason.RETAKE_WAIT and status.retake_at is not None:
        return gettext("You can try again from %(when)s.",
                       when=format_datetime(status.retake_at, "short"))
    if reason is IneligibleReason.ALREADY_PASSED:
        return gettext("You have passed this exam.")
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
