"""API v1 exam endpoints: list, start (201) and resume (200), answer with the idempotency and
409 rules, time-limit finalization, results, the public certificate lookup and OpenAPI."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from webapp.exams.definitions import final_exam_id, quiz_exam_id
from webapp.exams.models import ExamResponse
from webapp.extensions import db

FINAL = final_exam_id("KNS-CBCX")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_exam_call_needs_a_token(client, bank) -> None:
    for method, url in [
        ("get", "/api/v1/exams"),
        ("post", f"/api/v1/exams/{FINAL}/sessions"),
        ("get", "/api/v1/sessions/1"),
        ("post", "/api/v1/sessions/1/responses"),
        ("get", "/api/v1/sessions/1/result"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 401, url
        assert response.get_json()["error"] == "unauthenticated"


def test_the_exam_list_says_who_may_take_what(client, bank, api_token) -> None:
    ready = {
        e["id"]: e
        for e in client.get("/api/v1/exams", headers=_headers(api_token("learner_x1"))).get_json()
    }
    assert ready[FINAL]["eligible"] is True and ready[FINAL]["kind"] == "final"
    assert ready[FINAL]["adaptive"] is True and ready[FINAL]["time_limit_s"] == 2400
    assert ready[quiz_exam_id("T-DX")]["kind"] == "topic_quiz"
    assert ready[quiz_exam_id("T-DX")]["adaptive"] is False
    beginner = {
        e["id"]: e
        for e in client.get("/api/v1/exams", headers=_headers(api_token("learner_x2"))).get_json()
    }
    assert beginner[FINAL]["eligible"] is False
    assert beginner[FINAL]["reason"] == "course_incomplete"
    refused = client.post(
        f"/api/v1/exams/{FINAL}/sessions", headers=_headers(api_token("learner_x2"))
    )
    assert refused.status_code == 403 and refused.get_json()["error"] == "course_incomplete"
    staff = client.get("/api/v1/exams", headers=_headers(api_token("manager_hn")))
    assert staff.status_code == 403


def test_a_whole_final_exam_through_the_api(app, client, bank, api_token, keyed_answer) -> None:
    headers = _headers(api_token("learner_x1"))
    started = client.post(f"/api/v1/exams/{FINAL}/sessions", headers=headers)
    assert started.status_code == 201
    body = started.get_json()
    assert body["status"] == "open" and body["position"] == 1 and body["time_left_s"] == 2400
    session_id = body["session_id"]
    again = client.post(f"/api/v1/exams/{FINAL}/sessions", headers=headers)
    assert again.status_code == 200 and again.get_json() == body
    while body["status"] == "open":
        item = body["item"]
        reply = client.post(
            f"/api/v1/sessions/{session_id}/responses",
            headers=headers,
            json={
                "position": body["position"],
                "item_id": item["id"],
                "answer": keyed_answer(app, item),
            },
        )
        assert reply.status_code == 200, reply.get_json()
        body = reply.get_json()
        assert "feedback" not in body  # the final exam never explains
    assert body["status"] == "finished" and body["result"]["passed"] is True
    result = client.get(f"/api/v1/sessions/{session_id}/result", headers=headers).get_json()
    for key in (
        "theta",
        "se",
        "scale_score",
        "passed",
        "cut_score",
        "competencies",
        "certificate_code",
    ):
        assert key in result
    code = result["certificate_code"]
    public = client.get(f"/api/v1/certificates/{code}")  # no token
    assert public.status_code == 200
    certificate = public.get_json()
    assert certificate["valid"] is True and certificate["status"] == "valid"
    assert certificate["holder"] == "Người learner_x1"
    assert client.get("/api/v1/certificates/AAAA-BBBB-CCCC").status_code == 404
    state = client.get(f"/api/v1/sessions/{session_id}", headers=headers).get_json()
    assert state["status"] == "finished" and state["item"] is None


def test_answers_are_idempotent_and_conflicts_get_409(
    app, client, bank, api_token, keyed_answer
) -> None:
    headers = _headers(api_token("learner_x1"))
    body = client.post(f"/api/v1/exams/{FINAL}/sessions", headers=headers).get_json()
    session_id, item = body["session_id"], body["item"]
    url = f"/api/v1/sessions/{session_id}/responses"
    answer = {"position": 1, "item_id": item["id"], "answer": keyed_answer(app, item)}
    first = client.post(url, headers=headers, json=answer)
    retry = client.post(url, headers=headers, json=answer)
    assert first.status_code == retry.status_code == 200
    assert retry.get_json() == first.get_json()
    with app.app_context():
        stored = db.session.scalar(
            select(func.count()).where(ExamResponse.session_id == session_id)
        )
    assert stored == 1
    changed = dict(answer, answer=keyed_answer(app, item, right=False))
    conflict = client.post(url, headers=headers, json=changed)
    assert conflict.status_code == 409 and conflict.get_json()["error"] == "already_answered"
    assert "đã được trả lời" in conflict.get_json()["message"]  # Vietnamese by default
    stale_item = client.post(
        url, headers=headers, json={"position": 2, "item_id": item["id"], "answer": "A"}
    )
    assert stale_item.status_code == 409 and stale_item.get_json()["error"] == "wrong_item"
    skipped = client.post(
        url,
        headers=headers,
        json={"position": 7, "item_id": first.get_json()["item"]["id"], "answer": "A"},
    )
    assert skipped.status_code == 409 and skipped.get_json()["error"] == "wrong_position"
    bad = client.post(url, headers=headers, json={"position": 2})
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_body"
    other = client.get(f"/api/v1/sessions/{session_id}", headers=_headers(api_token("learner_hp")))
    assert other.status_code == 404


def test_past_the_time_limit_the_reply_says_the_session_is_finalized(
    app, client, bank, api_token, clock, keyed_answer
) -> None:
    headers = _headers(api_token("learner_x1"))
    body = client.post(f"/api/v1/exams/{FINAL}/sessions", headers=headers).get_json()
    clock.advance(seconds=2401)
    item = body["item"]
    late = client.post(
        f"/api/v1/sessions/{body['session_id']}/responses",
        headers=headers,
        json={"position": 1, "item_id": item["id"], "answer": keyed_answer(app, item)},
    )
    assert late.status_code == 200
    reply = late.get_json()
    assert reply["status"] == "finished" and reply["time_limit_reached"] is True
    assert reply["result"]["n_scored"] == 0


def test_a_practice_quiz_reply_carries_feedback(app, client, bank, api_token, keyed_answer) -> None:
    headers = _headers(api_token("learner_x2"))
    body = client.post(
        f"/api/v1/exams/{quiz_exam_id('T-SEC')}/sessions", headers=headers
    ).get_json()
    reply = client.post(
        f"/api/v1/sessions/{body['session_id']}/responses",
        headers=headers,
        json={
            "position": 1,
            "item_id": body["item"]["id"],
            "answer": keyed_answer(app, body["item"]),
        },
    ).get_json()
    assert reply["feedback"]["correct"] is True
    assert reply["feedback"]["explanation"]["vi"]


def test_openapi_documents_every_exam_endpoint(client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    for path, method in [
        ("/exams", "get"),
        ("/exams/{exam_id}/sessions", "post"),
        ("/sessions/{session_id}", "get"),
        ("/sessions/{session_id}/responses", "post"),
        ("/sessions/{session_id}/result", "get"),
        ("/certificates/{code}", "get"),
    ]:
        assert method in paths[path], path
    assert paths["/certificates/{code}"]["get"]["security"] == []
    assert "ExamSession" in document["components"]["schemas"]


def test_concurrent_posts_through_two_workers_store_one_response(
    app, make_app, client, bank, api_token, keyed_answer
) -> None:
    import threading

    token = api_token("learner_x1")
    headers = _headers(token)
    body = client.post(f"/api/v1/exams/{FINAL}/sessions", headers=headers).get_json()
    workers = [app, make_app()]  # two "processes" on one database
    answer = {
        "position": 1,
        "item_id": body["item"]["id"],
        "answer": keyed_answer(app, body["item"]),
    }
    url = f"/api/v1/sessions/{body['session_id']}/responses"
    barrier = threading.Barrier(6)
    replies: list[tuple[int, Any]] = []

    def post(worker: Flask) -> None:
        own = worker.test_client()
        barrier.wait()
        response = own.post(url, headers=headers, json=answer)
        replies.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=post, args=(workers[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in replies] == [200] * 6
    assert all(reply == replies[0][1] for _, reply in replies)
    with app.app_context():
        stored = db.session.scalars(
            select(ExamResponse.position).where(ExamResponse.session_id == body["session_id"])
        ).all()
    assert stored == [1]
