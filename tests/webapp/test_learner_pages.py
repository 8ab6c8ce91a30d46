"""Learner pages: dashboard with mandatory and elective topics, practice quiz with feedback,
the completion rule unlocking the final exam, the exam one item per screen with position and
time, resume after leaving, the result page, retakes and the certificate PDF; CSRF and roles."""

from __future__ import annotations

import io
import re
from typing import Any

import pypdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from item_bank.models import Course, Item, ItemVersion
from item_bank.seed import seed_bank
from webapp.exams.definitions import ensure_course_exams, final_exam_id, quiz_exam_id
from webapp.exams.progress import mark_topics_completed
from webapp.extensions import db

FINAL = final_exam_id("KNS-CBCX")
_POSITION = re.compile(r'name="position" value="(\d+)"')
_ITEM = re.compile(r'name="item_id" value="([^"]+)"')
_TYPE = re.compile(r'name="item_type" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def bank(app: Flask, world: Any) -> Any:
    with app.app_context():
        seed_bank(db.session)
        ensure_course_exams(db.session, "KNS-CBCX")
        db.session.commit()
    return world


def _complete(app: Flask, user_id: int, topic_ids: list[str] | None = None) -> None:
    with app.app_context():
        course = db.session.get(Course, "KNS-CBCX")
        chosen = topic_ids if topic_ids is not None else [t.id for t in course.topics]
        mark_topics_completed(db.session, user_id, chosen, now=app.config["CLOCK"]())
        db.session.commit()


def _html(response: Any) -> str:
    return response.get_data(as_text=True)


def _form(page: str) -> dict[str, str]:
    return {
        "csrf_token": _CSRF.search(page).group(1),
        "position": _POSITION.search(page).group(1),
        "item_id": _ITEM.search(page).group(1),
        "item_type": _TYPE.search(page).group(1),
    }


def _answer(app: Flask, page: str, *, right: bool = True) -> dict[str, Any]:
    """The form of the item on ``page`` filled in with the keyed (or a wrong) answer."""
    form: dict[str, Any] = _form(page)
    with app.app_context():
        session = db.session
        item = session.get(Item, form["item_id"])
        version = session.scalar(
            select(ItemVersion).where(
                ItemVersion.item_id == item.id, ItemVersion.version == item.current_version_number
            )
        )
        options = [option["id"] for option in version.options]
        if version.type == "multiple_response":
            form["answer"] = (
                list(version.key) if right else [o for o in options if o not in version.key][:1]
            )
        elif version.type == "ordered":
            ranked = sorted(version.options, key=lambda option: option["score"])
            form["answer"] = ranked[-1 if right else 0]["id"]
        else:
            form["answer"] = version.key if right else next(o for o in options if o != version.key)
    return form


def _start(client: FlaskClient, exam_id: str, csrf: Any) -> Any:
    token = csrf(client, f"/learn/exams/{exam_id}")
    return client.post(f"/learn/exams/{exam_id}/start", data={"csrf_token": token})


def test_the_dashboard_marks_topics_and_locks_the_final_exam(client, bank, auth) -> None:
    auth.login("learner_x1")
    page = _html(client.get("/learn/"))
    assert page.count('class="badge badge-mandatory">bắt buộc<') == 5  # Vietnamese first
    assert page.count('class="badge badge-elective">tự chọn<') == 14
    assert "Hãy hoàn thành khóa học trước" in page
    english = _html(client.get("/learn/?lang=en"))
    assert english.count('class="badge badge-mandatory">mandatory<') == 5
    assert "Complete the course first" in english


def test_a_practice_quiz_shows_right_or_wrong_and_why_then_completes_the_topic(
    app, client, bank, auth, csrf
) -> None:
    auth.login("learner_x1")
    page = _html(client.get(_start(client, quiz_exam_id("T-SEC"), csrf).headers["Location"]))
    for position in range(1, 6):
        assert f'name="position" value="{position}"' in page
        right = position != 2
        form = _answer(app, page, right=right)
        feedback = client.post(_action(page), data=form)
        assert feedback.status_code == 200
        text = _html(feedback)
        assert ("Đúng" in text) if right else ("Chưa đúng" in text or "Đúng một phần" in text)
        assert 'class="explanation"' in text
        # the question again, the learner's answer and the right option(s), to learn from
        version = _version(app, form["item_id"])
        assert f'<p class="review-stem">{escape(version.stem_vi)}</p>' in text
        given = form["answer"] if isinstance(form["answer"], list) else [form["answer"]]
        yours, best = re.search(
            r"<dt>Câu trả lời của bạn</dt>\s*<dd>(.*?)</dd>\s*<dt>(?:Các đáp án đúng|Đáp án đúng"
            r"|Đáp án tốt nhất)</dt>\s*<dd>(.*?)</dd>",
            text,
            re.S,
        ).groups()
        assert _option_texts(yours) == [_option_text(version, o) for o in given]
        assert _option_texts(best) == [_option_text(version, o) for o in _right(version)]
        next_url = re.search(r'href="(/learn/sessions/\d+(?:/result)?)"', text).group(1)
        page = _html(client.get(next_url))
    assert "Bạn trả lời đúng 4 trên 5 câu" in page
    dashboard = _html(client.get("/learn/"))
    assert "đã hoàn thành (4/5)" in dashboard


def _version(app: Flask, item_id: str) -> ItemVersion:
    with app.app_context():
        item = db.session.get(Item, item_id)
        version = db.session.scalar(
            select(ItemVersion).where(
                ItemVersion.item_id == item.id, ItemVersion.version == item.current_version_number
            )
        )
        db.session.expunge(version)
        return version


def _right(version: ItemVersion) -> list[str]:
    if version.type == "ordered":
        best = max(option["score"] for option in version.options)
        return [option["id"] for option in version.options if option["score"] == best]
    return list(version.key) if isinstance(version.key, list) else [version.key]


def _option_text(version: ItemVersion, option_id: str) -> str:
    return str(escape(next(o for o in version.options if o["id"] == option_id)["text"]["vi"]))


def _option_texts(html: str) -> list[str]:
    return re.findall(r'<span class="review-option[^"]*">(.*?)</span>', html)


def test_the_practice_feedback_in_english_names_the_right_answer(
    app, client, bank, auth, csrf
) -> None:
    auth.login("learner_x1")
    page = _html(client.get(_start(client, quiz_exam_id("T-SEC"), csrf).headers["Location"]))
    form = _answer(app, page, right=False)
    text = _html(client.post(_action(page) + "?lang=en", data=form))
    assert "<dt>Your answer</dt>" in text
    assert re.search(r"<dt>The (?:right|best) answers?</dt>", text)


def test_topics_completed_without_a_quiz_show_no_empty_score(app, client, bank, auth) -> None:
    _complete(app, bank.users["learner_x1"], ["T-DX", "T-SEC"])
    auth.login("learner_x1")
    page = _html(client.get("/learn/"))
    assert page.count("đã hoàn thành</span>") == 2
    assert "(0/0)" not in page


def _action(page: str) -> str:
    return re.search(r'<form method="post" action="([^"]+/answer)"', page).group(1)


def test_the_final_exam_one_item_per_screen_resumes_and_ends_with_a_certificate(
    app, client, bank, auth, csrf, clock
) -> None:
    _complete(app, bank.users["learner_x1"])
    auth.login("learner_x1")
    intro = _html(client.get(f"/learn/exams/{FINAL}"))
    assert "không thể quay lại" in intro  # no going back, said before the start
    assert "40 phút" in intro
    started = _start(client, FINAL, csrf)
    session_url = started.headers["Location"]
    page = _html(client.get(session_url))
    assert "Câu 1, tối đa 30 câu" in page and 'id="time-left" data-seconds="2400"' in page
    assert page.count('name="answer"') >= 2
    # small and self-contained for a cheap phone on a slow network
    assert len(page.encode()) < 12_000
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
    for asset in re.findall(r'(?:src|href)="(/[^"]+\.(?:css|js))"', page):
        fetched = client.get(asset)
        assert fetched.status_code == 200 and len(fetched.data) < 8_000, asset
        fetched.close()
    # leave and come back (a new browser): the same item at the same position
    first_item = _form(page)["item_id"]
    auth.logout()
    auth.login("learner_x1")
    resumed = _start(client, FINAL, csrf)
    assert resumed.headers["Location"] == session_url
    page = _html(client.get(session_url))
    assert _form(page)["item_id"] == first_item
    clock.advance(seconds=30)
    previous = _answer(app, page)
    after = client.post(_action(page), data=previous)
    assert after.status_code == 302 and after.headers["Location"] == session_url
    page = _html(client.get(session_url))
    assert "Câu 2, tối đa 30 câu" in page and 'data-seconds="2370"' in page
    # a re-sent old form (back button, double tap) changes nothing
    again = client.post(_action(page), data=previous)
    assert again.status_code == 302
    assert "Câu 2, tối đa 30 câu" in _html(client.get(session_url))
    while "/result" not in client.get(session_url).headers.get("Location", ""):
        page = _html(client.get(session_url))
        assert 'class="explanation"' not in page
        reply = client.post(_action(page), data=_answer(app, page))
        assert reply.status_code == 302
    result = _html(client.get(session_url + "/result"))
    assert "Đạt" in result and "trình độ thực của bạn nhiều khả năng nằm trong khoảng" in result
    assert "Hồ sơ năng lực của bạn" in result
    code = re.search(r"<code>([A-Z0-9-]+)</code>", result).group(1)
    pdf = client.get(f"/learn/certificates/{code}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "Người learner_x1" in text and code in text
    auth.logout()
    auth.login("learner_x2")
    assert client.get(f"/learn/certificates/{code}.pdf").status_code == 404


def test_a_failed_exam_shows_what_to_study_and_the_retake_rule(
    app, client, bank, auth, csrf
) -> None:
    _complete(app, bank.users["learner_x1"])
    auth.login("learner_x1")
    session_url = _start(client, FINAL, csrf).headers["Location"]
    while "/result" not in client.get(session_url).headers.get("Location", ""):
        page = _html(client.get(session_url))
        client.post(_action(page), data=_answer(app, page, right=False))
    result = _html(client.get(session_url + "/result"))
    assert "Lần này chưa đạt" in result
    assert "Nên học tiếp" in result and "/learn/exams/QUIZ-" in result
    assert "Bạn có thể thi lại từ" in result and "Số lần thi còn lại: 2." in result


def test_time_up_ends_the_exam_at_the_next_page(app, client, bank, auth, csrf, clock) -> None:
    _complete(app, bank.users["learner_x1"])
    auth.login("learner_x1")
    session_url = _start(client, FINAL, csrf).headers["Location"]
    clock.advance(minutes=41)
    auth.login("learner_x1")  # the idle login session has expired too
    response = client.get(session_url)
    assert response.status_code == 302 and response.headers["Location"].endswith("/result")
    assert "Đã hết thời gian làm bài." in _html(client.get(response.headers["Location"]))


def test_roles_and_login_are_checked_on_every_learner_page(client, bank, auth) -> None:
    for url in [
        "/learn/",
        f"/learn/exams/{FINAL}",
        "/learn/sessions/1",
        "/learn/sessions/1/result",
        "/learn/certificates/AAAA-BBBB-CCCC.pdf",
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    auth.login("manager_hn")
    for url in ["/learn/", f"/learn/exams/{FINAL}", "/learn/sessions/1"]:
        assert client.get(url).status_code == 403, url


def test_another_learners_session_is_not_found(app, client, bank, auth, csrf) -> None:
    auth.login("learner_x1")
    session_url = _start(client, quiz_exam_id("T-DX"), csrf).headers["Location"]
    auth.logout()
    auth.login("learner_hp")
    assert client.get(session_url).status_code == 404


def test_forms_without_a_csrf_token_are_refused(app, client, bank, auth, csrf) -> None:
    auth.login("learner_x1")
    assert client.post(f"/learn/exams/{quiz_exam_id('T-DX')}/start").status_code == 400
    session_url = _start(client, quiz_exam_id("T-DX"), csrf).headers["Location"]
    form = _answer(app, _html(client.get(session_url)))
    del form["csrf_token"]
    assert client.post(session_url + "/answer", data=form).status_code == 400
