"""Learner views: dashboard, exam introduction and start, one item per screen, practice
feedback, results, attempt history and the certificate PDF.

Views validate the form, call :mod:`webapp.exams.services` and render what comes back. The item
page is always the session's current item (``GET /learn/sessions/<id>``), so reloading, going
back in the browser or coming back after a lost connection shows exactly where the learner is.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from item_bank.models import ItemVersion
from reports.certificates import render_certificate_pdf
from webapp import clock
from webapp.exams import services
from webapp.exams.certificates import certificate_pdf_data, verify_certificate
from webapp.exams.definitions import quiz_exam_id
from webapp.exams.models import Certificate, ExamKind, ExamResponse, ExamSession
from webapp.exams.progress import course_progress, eligibility
from webapp.exams.web import pool_cache, verify_url
from webapp.exceptions import ConflictError, InvalidInputError, PermissionDeniedError
from webapp.extensions import db
from webapp.learner import bp
from webapp.learner.text import (
    attempts_left_message,
    ineligible_message,
    practice_review,
    retake_message,
    score_band,
    score_band_message,
    stop_reason_message,
)
from webapp.models import Role
from webapp.security import role_required


def _user() -> Any:
    return current_user._get_current_object()


def _locale() -> str:
    return str(get_locale() or "vi")


@bp.get("/")
@role_required(Role.LEARNER)
def dashboard() -> str:
    session = db.session
    course_ids = services.learner_course_ids(session)
    courses = [
        course_progress(session, current_user.id, course_id, now=clock.now())
        for course_id in course_ids
    ]
    return render_template(
        "learner/dashboard.html", courses=courses, ineligible_message=ineligible_message
    )


@bp.get("/exams/<exam_id>")
@role_required(Role.LEARNER)
def exam_intro(exam_id: str) -> str:
    session = db.session
    definition = services.get_definition(session, exam_id)
    status = eligibility(session, current_user.id, definition, now=clock.now())
    history = services.attempt_history(session, _user(), exam_id)
    return render_template(
        "learner/exam_intro.html",
        definition=definition,
        blueprint=definition.blueprint,
        status=status,
        history=history,
        reason=ineligible_message(status),
        attempts_left=attempts_left_message(status),
    )


@bp.post("/exams/<exam_id>/start")
@role_required(Role.LEARNER)
def start(exam_id: str) -> Response:
    try:
        view, created = services.start_session(
            db.session, pool_cache(), _user(), exam_id, now=clock.now()
        )
    except PermissionDeniedError:
        flash(gettext("You cannot start this exam now."), "warning")
        return redirect(url_for("learner.exam_intro", exam_id=exam_id))
    if not created:
        flash(gettext("Welcome back: you continue where you left off."), "info")
    return redirect(url_for("learner.session_page", session_id=view.session_id))


@bp.get("/sessions/<int:session_id>")
@role_required(Role.LEARNER)
def session_page(session_id: int) -> str | Response:
    view = services.get_session_view(db.session, pool_cache(), _user(), session_id, now=clock.now())
    if view.finished:
        if view.time_limit_reached:
            flash(gettext("Time is up: the exam was ended and scored."), "warning")
        return redirect(url_for("learner.result", session_id=session_id))
    return render_template("learner/item.html", view=view, locale=_locale())


def _answer_from_form(item_type: str) -> Any:
    if item_type == "multiple_response":
        return request.form.getlist("answer")
    answer = request.form.get("answer")
    if not answer:
        raise InvalidInputError(gettext("Please choose an answer."), code="no_answer")
    return answer


@bp.post("/sessions/<int:session_id>/answer")
@role_required(Role.LEARNER)
def answer(session_id: int) -> str | Response:
    try:
        position = int(request.form.get("position", ""))
    except ValueError:
        abort(400)
    item_id = request.form.get("item_id", "")
    item_type = request.form.get("item_type", "")
    try:
        view = services.submit_answer(
            db.session,
            pool_cache(),
            _user(),
            session_id,
            position=position,
            item_id=item_id,
            answer=_answer_from_form(item_type),
            now=clock.now(),
        )
    except InvalidInputError as error:
        flash(
            error.message if error.code == "no_answer" else gettext("That answer is not valid."),
            "warning",
        )
        return redirect(url_for("learner.session_page", session_id=session_id))
    except ConflictError:
        # another tab or an old page: show the learner where the exam really is
        flash(gettext("This question was already answered; here is your current question."), "info")
        return redirect(url_for("learner.session_page", session_id=session_id))
    if view.feedback is not None and view.kind == ExamKind.TOPIC_QUIZ:
        # practice only: the question again, the learner's answer and the right one(s)
        response = db.session.scalar(
            select(ExamResponse).where(
                ExamResponse.session_id == session_id,
                ExamResponse.position == view.feedback.position,
            )
        )
        version = db.session.get(ItemVersion, response.item_version_id)
        return render_template(
            "learner/feedback.html",
            view=view,
            feedback=view.feedback,
            review=practice_review(version, response.answer),
            locale=_locale(),
        )
    if view.finished:
        return redirect(url_for("learner.result", session_id=session_id))
    return redirect(url_for("learner.session_page", session_id=session_id))


@bp.get("/sessions/<int:session_id>/result")
@role_required(Role.LEARNER)
def result(session_id: int) -> str | Response:
    try:
        outcome = services.session_result(
            db.session, pool_cache(), _user(), session_id, now=clock.now()
        )
    except ConflictError:
        return redirect(url_for("learner.session_page", session_id=session_id))
    session = db.session
    definition = services.get_definition(session, outcome.exam_id)
    history = services.attempt_history(session, _user(), outcome.exam_id)
    status = eligibility(session, current_user.id, definition, now=clock.now())
    # the scale the session was scored on (its stored blueprint), not today's definition
    exam_session = session.get(ExamSession, session_id)
    scale = pool_cache().blueprint(exam_session.blueprint).scale
    band = score_band(outcome, scale)
    return render_template(
        "learner/result.html",
        result=outcome,
        definition=definition,
        is_final=definition.kind == ExamKind.FINAL,
        history=history,
        status=status,
        scale=scale,
        band=band,
        band_message=score_band_message(band),
        retake=retake_message(status, outcome.passed),
        attempts_left=attempts_left_message(status, outcome.passed),
        stop_reason=stop_reason_message(outcome.stop_reason),
        quiz_exam_id=quiz_exam_id,
        locale=_locale(),
    )


@bp.get("/certificates/<code>.pdf")
@role_required(Role.LEARNER)
def certificate_pdf(code: str) -> Response:
    session = db.session
    owner = session.scalar(select(Certificate.user_id).where(Certificate.code == code))
    if owner != current_user.id:
        abort(404)
    view = verify_certificate(session, code)
    pdf = render_certificate_pdf(certificate_pdf_data(view, verify_url(view.code)))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="chung-nhan-{view.code}.pdf"'},
    )
