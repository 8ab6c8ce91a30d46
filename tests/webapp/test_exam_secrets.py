"""Learners never receive keys, option scores, item parameters or statistics, nor explanations
during the final exam: every learner-facing JSON payload and page of a whole final exam and a
practice quiz (API and HTML) is walked and checked."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from item_bank.models import Item, ItemVersion
from webapp.exams.definitions import final_exam_id, quiz_exam_id
from webapp.extensions import db

FINAL = final_exam_id("KNS-CBCX")
ITEM_KEYS = {"id", "type", "stem", "options", "media"}
OPTION_KEYS = {"id", "text"}
FORBIDDEN_KEYS = {
    "key",
    "keys",
    "correct_option",
    "a",
    "b",
    "c",
    "se_a",
    "se_b",
    "se_c",
    "parameters",
    "model",
    "discrimination",
    "difficulty",
    "guessing",
    "exposure",
    "exposure_rate",
    "statistics",
    "p_value",
    "point_biserial",
    "n_responses",
    "enemy_group",
    "information",
    "explanation_vi",
    "explanation_en",
    "item_version_id",
    "pool_items",
    "seed",
}


@pytest.fixture
def bank(bank: Any, app: Flask) -> dict[str, Any]:
    """The shared bank fixture, with every explanation and each item's current version."""
    world = bank
    with app.app_context():
        session = db.session
        versions = session.scalars(select(ItemVersion)).all()
        explanations = {v.explanation_vi for v in versions if v.explanation_vi}
        explanations |= {v.explanation_en for v in versions if v.explanation_en}
        keys = {}
        for version in versions:
            item = session.get(Item, version.item_id)
            if version.version == item.current_version_number:
                keys[version.item_id] = version
        session.expunge_all()
    return {"world": world, "explanations": explanations, "versions": keys}


def _answer(version: ItemVersion) -> Any:
    if version.type == "multiple_response":
        return list(version.key)
    if version.type == "ordered":
        return max(version.options, key=lambda option: option["score"])["id"]
    return version.key


def _walk(value: Any, path: str = "$") -> list[str]:
    """Paths of forbidden keys, and items or options carrying more than showing them needs."""
    problems = []
    if isinstance(value, dict):
        if {"stem", "options"} <= set(value) and set(value) != ITEM_KEYS:
            problems.append(f"{path}: item has {sorted(value)}")
        for key, child in value.items():
            if key in FORBIDDEN_KEYS:
                problems.append(f"{path}.{key}")
            if key == "options" and isinstance(child, list):
                for index, option in enumerate(child):
                    if set(option) != OPTION_KEYS:
                        problems.append(f"{path}.options[{index}]: {sorted(option)}")
            problems.extend(_walk(child, f"{path}.{key}"))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            problems.extend(_walk(child, f"{path}[{index}]"))
    return problems


def test_no_api_payload_carries_keys_parameters_or_statistics(app, client, bank, api_token) -> None:
    headers = {"Authorization": f"Bearer {api_token('learner_x1')}"}
    payloads: list[tuple[str, Any]] = [
        ("exams", client.get("/api/v1/exams", headers=headers).get_json())
    ]
    for exam_id in (quiz_exam_id("T-SEC"), FINAL):
        body = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=headers).get_json()
        payloads.append((f"{exam_id} start", body))
        session_id = body["session_id"]
        while body["status"] == "open":
            item = body["item"]
            payloads.append(
                (
                    f"{exam_id} get",
                    client.get(f"/api/v1/sessions/{session_id}", headers=headers).get_json(),
                )
            )
            body = client.post(
                f"/api/v1/sessions/{session_id}/responses",
                headers=headers,
                json={
                    "position": body["position"],
                    "item_id": item["id"],
                    "answer": _answer(bank["versions"][item["id"]]),
                },
            ).get_json()
            payloads.append((f"{exam_id} answer", body))
        result = client.get(f"/api/v1/sessions/{session_id}/result", headers=headers).get_json()
        payloads.append((f"{exam_id} result", result))
        if exam_id == FINAL:
            code = result["certificate_code"]
            payloads.append(("certificate", client.get(f"/api/v1/certificates/{code}").get_json()))
    assert len(payloads) > 20
    for name, payload in payloads:
        assert _walk(payload) == [], name
        text = json.dumps(payload, ensure_ascii=False)
        if name.startswith(FINAL) or name in ("exams", "certificate"):
            leaked = [e for e in bank["explanations"] if e in text]
            assert leaked == [], name
    quiz_answers = [p for n, p in payloads if n == f"{quiz_exam_id('T-SEC')} answer"]
    assert all("feedback" in p for p in quiz_answers)  # the practice quiz does explain


def test_no_page_of_the_final_exam_reveals_keys_scores_or_explanations(
    app, client, bank, auth, csrf
) -> None:
    auth.login("learner_x1")
    pages = [
        client.get("/learn/").get_data(as_text=True),
        client.get(f"/learn/exams/{FINAL}").get_data(as_text=True),
    ]
    token = csrf(client, f"/learn/exams/{FINAL}")
    session_url = client.post(f"/learn/exams/{FINAL}/start", data={"csrf_token": token}).headers[
        "Location"
    ]
    while True:
        response = client.get(session_url)
        if response.status_code == 302:
            break
        page = response.get_data(as_text=True)
        pages.append(page)
        item_id = re.search(r'name="item_id" value="([^"]+)"', page).group(1)
        version = bank["versions"][item_id]
        values = set(re.findall(r'<input[^>]*value="([^"]*)"', page))
        option_ids = {option["id"] for option in version.options}
        hidden = {
            re.search(r'name="position" value="(\d+)"', page).group(1),
            item_id,
            version.type,
            re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
        }
        assert values == option_ids | hidden  # nothing else travels in the form
        for marker in ("data-key", "data-score", "data-correct", '"score"', "explanation"):
            assert marker not in page
        answer = _answer(version)
        form = {
            "csrf_token": token,
            "position": re.search(r'name="position" value="(\d+)"', page).group(1),
            "item_id": item_id,
            "item_type": version.type,
            "answer": answer,
        }
        after = client.post(session_url + "/answer", data=form)
        assert after.status_code == 302
        pages.append(after.get_data(as_text=True))
    pages.append(client.get(session_url + "/result").get_data(as_text=True))
    assert len(pages) > 10
    for page in pages:
        leaked = [e for e in bank["explanations"] if e in page]
        assert leaked == []


def test_the_walker_catches_what_it_looks_for() -> None:
    item = {
        "id": "X",
        "type": "ordered",
        "stem": {},
        "media": [],
        "options": [{"id": "A", "text": {}, "score": 2}],
    }
    assert _walk({"item": item}) == ["$.item.options[0]: ['id', 'score', 'text']"]
    assert _walk({"item": dict(item, options=[], key="A")})[0].startswith("$.item: item has")
    assert _walk([{"result": {"a": 1.2}}]) == ["$[0].result.a"]
