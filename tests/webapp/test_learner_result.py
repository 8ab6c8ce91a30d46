"""The result page in plain words: the error band stays on the reported scale and names its end,
and after a pass the page says no retake is needed instead of counting attempts left."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from exam.blueprint import ScaleTransform
from item_bank.models import Course
from item_bank.seed import seed_bank
from webapp.exams.definitions import FINAL_BLUEPRINT, ensure_course_exams, final_exam_id
from webapp.exams.progress import mark_topics_completed
from webapp.exams.services import ResultView
from webapp.extensions import db
from webapp.learner.text import score_band, score_band_message

FINAL = final_exam_id("KNS-CBCX")
#: A scale ending at 600: every answer right puts the score at the end of the scale, and its
#: band (score + 1.96 SE) past it, as "706 to 911" on the 100-900 scale did.
SHORT_SCALE = {"slope": 100, "intercept": 500, "min": 100, "max": 600}


def _result(scale_score: float, scale_se: float) -> ResultView:
    return ResultView(
        session_id=1,
        exam_id=FINAL,
        kind="final",
        theta=0.0,
        se=0.3,
        scale_score=scale_score,
        scale_se=scale_se,
        passed=True,
        cut_score=475.0,
        n_scored=20,
        n_correct=18,
        stop_reason="se_target",
        finished_at=datetime(2026, 3, 2, tzinfo=UTC),
        competencies=(),
        certificate_code=None,
    )


@pytest.mark.parametrize(
    ("score", "se", "expected"),
    [
        (808.5, 52.3, (706.0, 900.0)),  # the reported "706 to 911"
        (150.0, 40.0, (100.0, 228.4)),
        (500.0, 30.0, (441.2, 558.8)),
        (500.0, 400.0, (100.0, 900.0)),
    ],
)
def test_the_band_is_clipped_to_the_scale(score, se, expected) -> None:
    band = score_band(_result(score, se), ScaleTransform(100, 500, 100, 900))
    assert (band.low, band.high) == pytest.approx(expected, abs=0.06)
    assert band.at_top == (expected[1] == 900.0) and band.at_bottom == (expected[0] == 100.0)


def test_the_band_names_the_end_of_the_scale_in_vietnamese_and_english(app: Flask) -> None:
    scale = ScaleTransform(100, 500, 100, 900)
    top = score_band(_result(808.5, 52.3), scale)
    bottom = score_band(_result(150.0, 40.0), scale)
    middle = score_band(_result(500.0, 30.0), scale)
    whole = score_band(_result(500.0, 400.0), scale)
    with app.test_request_context("/"):
        assert "từ 706 đến 900, là điểm cao nhất của thang điểm" in score_band_message(top)
        assert "từ 100 (điểm thấp nhất của thang điểm) đến 228" in score_band_message(bottom)
        assert "từ 441 đến 559 (đúng 19 trên 20 lần)" in score_band_message(middle)
        assert "bất kỳ đâu trên thang điểm, từ 100 đến 900" in score_band_message(whole)
    with app.test_request_context("/?lang=en"):
        assert "between 706 and 900, the top of the scale" in score_band_message(top)
        assert "between 100, the bottom of the scale, and 228" in score_band_message(bottom)


@pytest.fixture
def short_scale_bank(app: Flask, world: Any, clock: Any) -> Any:
    with app.app_context():
        session = db.session
        seed_bank(session)
        ensure_course_exams(
            session, "KNS-CBCX", final_blueprint=dict(FINAL_BLUEPRINT, scale=SHORT_SCALE)
        )
        topics = [topic.id for topic in session.get(Course, "KNS-CBCX").topics]
        mark_topics_completed(session, world.users["learner_x1"], topics, now=clock())
        session.commit()
    return world


def test_a_pass_at_the_top_of_the_scale_reads_right(
    right_answer_form, app, client, short_scale_bank, auth, csrf
) -> None:
    auth.login("learner_x1")
    token = csrf(client, f"/learn/exams/{FINAL}")
    session_url = client.post(f"/learn/exams/{FINAL}/start", data={"csrf_token": token}).headers[
        "Location"
    ]
    while "/result" not in client.get(session_url).headers.get("Location", ""):
        page = client.get(session_url).get_data(as_text=True)
        answered = client.post(session_url + "/answer", data=right_answer_form(app, page))
        assert answered.status_code == 302
    result = client.get(session_url + "/result").get_data(as_text=True)
    assert "Đạt" in result
    assert "trên thang điểm từ 100 đến 600; điểm đạt là 475" in result
    band = re.search(r'<p class="score-band">([^<]+)', result).group(1)
    assert "đến 600, là điểm cao nhất của thang điểm" in band
    assert all(int(number) <= 600 for number in re.findall(r"\d+", band))
    # passed: the exam is closed to the learner, so no retake and no attempts to count
    assert "Bạn đã đạt bài thi này: không cần thi lại." in result
    assert "Số lần thi còn lại" not in result and "Bạn có thể thi lại" not in result
    intro = client.get(f"/learn/exams/{FINAL}").get_data(as_text=True)
    assert "không cần thi lại" in intro and "Số lần thi còn lại" not in intro
    dashboard = client.get("/learn/").get_data(as_text=True)
    assert "Bạn đã đạt bài thi này: không cần thi lại." in dashboard
    english = client.get(session_url + "/result?lang=en").get_data(as_text=True)
    assert "on a scale from 100 to 600; the pass mark is 475" in english
    assert "You have passed this exam: no retake is needed." in english
    assert "Attempts left" not in english


def test_the_result_json_band_stays_within_the_scale_it_reports_on() -> None:
    """API clients get the same clipped band the result page shows."""
    result = replace(_result(808.5, 52.3), scale_min=100.0, scale_max=900.0)
    assert result.band == pytest.approx((706.0, 900.0), abs=0.1)
    assert result.to_json()["score_band"] == [706.0, 900.0]
    low_end = replace(_result(120.0, 40.0), scale_min=100.0, scale_max=900.0)
    assert low_end.to_json()["score_band"][0] == 100.0
