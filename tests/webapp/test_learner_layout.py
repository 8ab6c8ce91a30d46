"""The learner pages laid out at phone width (390x844) in Debian's chromium: the mandatory and
elective badges are small inline badges beside the topic title, not bars across the screen, and
the certificate's download button and public verification link each sit cleanly on their line.

The pages come from the Flask test client: Playwright asks for them on a made-up origin and the
test answers every request (pages, stylesheets) from the app, so no server process is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from webapp.exams.definitions import final_exam_id

CHROMIUM = Path("/usr/bin/chromium")
ORIGIN = "http://sathach.test"
FINAL = final_exam_id("KNS-CBCX")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]


@pytest.fixture
def phone(client: FlaskClient) -> Iterator[Any]:
    """A phone-sized chromium page whose every request is served by ``client``."""
    from playwright.sync_api import sync_playwright

    def serve(route: Any) -> None:
        parts = urlsplit(route.request.url)
        reply = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        route.fulfill(
            status=reply.status_code, body=reply.data, headers={"content-type": reply.content_type}
        )
        reply.close()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            context.route(f"{ORIGIN}/**", serve)
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture
def learner(bank: Any, auth: Any) -> Any:
    """learner_x1, who has completed every topic, logged in."""
    auth.login("learner_x1")
    return bank


def _text_lines(locator: Any) -> int:
    """On how many lines the element's text is laid out (one client rect per line)."""
    return int(
        locator.evaluate(
            "element => { const range = document.createRange(); range.selectNodeContents(element);"
            " return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size; }"
        )
    )


def test_the_topic_badges_are_inline_badges(phone, learner) -> None:
    phone.goto(f"{ORIGIN}/learn/")
    topics = phone.locator("li.topic")
    assert topics.count() == 19
    for index in (0, topics.count() - 1):
        topic = topics.nth(index)
        badge = topic.locator(".badge").bounding_box()
        row = topic.bounding_box()
        title = topic.locator(".topic-title").evaluate(  # the first line of the title
            "element => { const r = element.getClientRects()[0]; return {x: r.x, y: r.y}; }"
        )
        assert badge["width"] < 0.35 * row["width"], (badge, row)
        assert _text_lines(topic.locator(".badge")) == 1
        # the title starts on the badge's line, to its right
        assert title["y"] < badge["y"] + badge["height"] and title["x"] > badge["x"]


def test_the_certificate_button_and_verification_link_fit_a_phone(
    right_answer_form, phone, app, client, learner, csrf
) -> None:
    token = csrf(client, f"/learn/exams/{FINAL}")
    session_url = client.post(f"/learn/exams/{FINAL}/start", data={"csrf_token": token}).headers[
        "Location"
    ]
    while "/result" not in client.get(session_url).headers.get("Location", ""):
        page = client.get(session_url).get_data(as_text=True)
        client.post(session_url + "/answer", data=right_answer_form(app, page))
    phone.goto(f"{ORIGIN}{session_url}/result")
    button = phone.get_by_role("link", name="Tải giấy chứng nhận (PDF)").bounding_box()
    link = phone.get_by_role("link", name="Trang xác minh công khai")
    box = link.bounding_box()
    assert _text_lines(link) == 1  # never wrapped
    beside = box["y"] < button["y"] + button["height"]
    if beside:  # on the button's line: to its right, vertically within it
        assert box["x"] >= button["x"] + button["width"]
        assert (
            box["y"] >= button["y"] - 1
            and box["y"] + box["height"] <= button["y"] + button["height"] + 1
        )
    else:  # on a line of its own below, starting at the left edge like the button
        assert abs(box["x"] - button["x"]) < 1
    assert box["height"] >= 40  # a comfortable tap target
    overflow = phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
