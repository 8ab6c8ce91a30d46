"""Answers served in front of Flask (``webapp.api.fast_answers``) are the view's replies, byte
for byte, and whatever the layer does not serve reaches the app as it came."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webapp.api import fast_answers
from webapp.api.fast_answers import MAX_BODY_BYTES, FastAnswers
from webapp.exams.definitions import final_exam_id, quiz_exam_id
from webapp.extensions import db

FINAL = final_exam_id("KNS-CBCX")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _reply(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body; a cookie's ``Expires`` (now plus its max age, to the second
    of the real clock) is left out, or two replies a second boundary apart would differ."""
    headers = [
        (name, _EXPIRES.sub("", value) if name == "Set-Cookie" else value)
        for name, value in response.headers.items()
    ]
    return response.status_code, sorted(headers), response.get_data()


_EXPIRES = re.compile(r"Expires=[^;]*; ")


@pytest.fixture
def plain(make_app) -> FlaskClient:
    """A second worker on the same database whose every answer goes through the view."""
    return make_app(API_FAST_ANSWERS=False).test_client()


def _layer(app: Flask) -> FastAnswers:
    assert isinstance(app.wsgi_app, FastAnswers)
    return app.wsgi_app


@pytest.mark.parametrize("exam", [FINAL, quiz_exam_id("T-DX")])
def test_every_answer_is_served_in_front_of_the_app_with_the_views_reply(
    app, client, plain, bank, api_token, keyed_answer, exam
) -> None:
    token = api_token("learner_x1")
    layer = _layer(app)
    body = client.post(f"/api/v1/exams/{exam}/sessions", headers=_headers(token)).get_json()
    served = 0
    while body["status"] == "open":
        item = body["item"]
        answer = {
            "position": body["position"],
            "item_id": item["id"],
            "answer": keyed_answer(app, item, right=body["position"] % 3 != 0),
        }
        first = client.post(
            f"/api/v1/sessions/{body['session_id']}/responses", headers=_headers(token), json=answer
        )
        served += 1
        assert layer.served == served
        # the same post again is a replay: the view's reply, from the worker without the layer
        again = plain.post(
            f"/api/v1/sessions/{body['session_id']}/responses", headers=_headers(token), json=answer
        )
        assert first.status_code == 200
        assert _reply(first) == _reply(again)
        body = first.get_json()
    assert body["status"] == "finished" and body["result"] is not None
    assert "Set-Cookie" not in first.headers
    assert first.headers["Cache-Control"] == "no-store"


def _started(client: FlaskClient, token: str) -> dict[str, Any]:
    return client.post(f"/api/v1/exams/{FINAL}/sessions", headers=_headers(token)).get_json()


@pytest.mark.parametrize(
    "change",
    [
        "no_token",
        "unknown_token",
        "query_string",
        "text_plain",
        "not_json",
        "not_an_object",
        "missing_field",
        "wrong_position",
        "wrong_item",
        "leading_zero_id",
        "trailing_slash",
        "too_large",
        "get",
    ],
)
def test_what_the_layer_does_not_serve_gets_the_apps_reply(
    app, client, plain, bank, api_token, keyed_answer, change
) -> None:
    token = api_token("learner_x1")
    layer = _layer(app)
    body = _started(client, token)
    item = body["item"]
    session_id = body["session_id"]
    fields: dict[str, Any] = {
        "position": body["position"],
        "item_id": item["id"],
        "answer": keyed_answer(app, item),
    }
    url = f"/api/v1/sessions/{session_id}/responses"
    options: dict[str, Any] = {"headers": _headers(token), "json": fields}
    method = "post"
    if change == "no_token":
        options["headers"] = {}
    elif change == "unknown_token":
        options["headers"] = _headers("not-a-token")
    elif change == "query_string":
        url += "?lang=en"
        fields["position"] = 2  # a 409, in English, and no answer stored on either worker
    elif change == "text_plain":
        options.pop("json")
        options.update(data=str(fields), content_type="text/plain")
    elif change == "not_json":
        options.pop("json")
        options.update(data=b"{position: 1", content_type="application/json")
    elif change == "not_an_object":
        options["json"] = [fields]
    elif change == "missing_field":
        fields.pop("answer")
    elif change == "wrong_position":
        fields["position"] = 5
    elif change == "wrong_item":
        fields["item_id"] = "not-the-current-item"
    elif change == "leading_zero_id":
        url = f"/api/v1/sessions/0{session_id}/responses"
    elif change == "trailing_slash":
        url += "/"
    elif change == "too_large":
        fields["padding"] = "x" * MAX_BODY_BYTES
    elif change == "get":
        method = "get"
        options.pop("json")
    before = layer.served
    response = getattr(client, method)(url, **options)
    assert layer.served == before
    assert response.status_code != 200 or change in {"leading_zero_id", "too_large"}
    expected = getattr(plain, method)(url, **options)
    assert _reply(response) == _reply(expected)


def test_a_token_new_to_this_worker_is_checked_against_the_database_then_cached(
    make_app, bank, api_token, keyed_answer, recorded_statements
) -> None:
    token = api_token("learner_x1")  # checked by another worker (the fixture's app)
    started = _started(make_app().test_client(), token)  # the session, started on a third one
    app = make_app()
    client = app.test_client()
    layer = _layer(app)
    body = started
    for expected_served, checks in ((1, True), (2, False)):
        item = body["item"]
        answer = {
            "position": body["position"],
            "item_id": item["id"],
            "answer": keyed_answer(app, item),
        }
        with recorded_statements(db.engine(app)) as statements:
            response = client.post(
                f"/api/v1/sessions/{body['session_id']}/responses",
                headers=_headers(token),
                json=answer,
            )
        assert response.status_code == 200
        assert layer.served == expected_served
        assert bool([s for s in statements if "api_tokens" in s]) is checks
        body = response.get_json()


def test_a_revoked_token_is_refused_at_once_by_the_layer_too(
    app, client, bank, api_token, keyed_answer
) -> None:
    token = api_token("learner_x1")
    body = _started(client, token)
    assert client.delete("/api/v1/auth/token", headers=_headers(token)).status_code == 204
    item = body["item"]
    response = client.post(
        f"/api/v1/sessions/{body['session_id']}/responses",
        headers=_headers(token),
        json={"position": 1, "item_id": item["id"], "answer": keyed_answer(app, item)},
    )
    assert response.status_code == 401
    assert _layer(app).served == 0


def test_the_layer_can_be_turned_off(make_app) -> None:
    assert not isinstance(make_app(API_FAST_ANSWERS=False).wsgi_app, FastAnswers)


def test_a_token_this_worker_holds_answers_by_the_users_id_alone(
    app, client, bank, api_token, keyed_answer, monkeypatch
) -> None:
    token = api_token("learner_x1")  # issued by this worker: in its cache
    body = _started(client, token)
    loaded: list[object] = []

    def no_user_load(*args: Any, **kwargs: Any) -> Any:
        loaded.append(args)
        raise AssertionError("the layer loaded the user")

    monkeypatch.setattr(fast_answers, "authenticate_api_token", no_user_load)
    for expected_served in (1, 2):
        item = body["item"]
        response = client.post(
            f"/api/v1/sessions/{body['session_id']}/responses",
            headers=_headers(token),
            json={
                "position": body["position"],
                "item_id": item["id"],
                "answer": keyed_answer(app, item),
            },
        )
        assert response.status_code == 200
        assert _layer(app).served == expected_served
        body = response.get_json()
    assert loaded == []
    assert body["position"] == 3
