"""End to end in a real browser at phone width: a learner logs in, finishes the topics the course
rule needs through practice quizzes with feedback, takes the adaptive final exam to the end
(going back and closing the browser on the way), reads the result, downloads the certificate PDF
and verifies it on the public page the certificate points to.

The app runs as a real ``sathach serve`` (gunicorn) process on a free loopback port, on a fresh
SQLite database prepared by ``sathach demo``'s own :func:`webapp.demo.prepare_demo` (seed bank,
a simulated history the bank is calibrated on, the course's exams, the demo accounts), where the
demo admin has created a new learner who has done only part of the course. Playwright drives
Debian's chromium (``/usr/bin/chromium``, installed by ``.ci/run``; never a downloaded browser).
Screenshots of the main pages are written to the test's ``tmp_path``.
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from item_bank.db import make_engine
from item_bank.models import Course, Item, ItemVersion
from webapp.demo import prepare_demo
from webapp.exams.definitions import final_exam_id
from webapp.exams.models import ExamResponse, ExamSession
from webapp.exams.progress import mark_topics_completed
from webapp.migrations import upgrade
from webapp.models import Role, User, utcnow
from webapp.services.accounts import create_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
COURSE = "KNS-CBCX"
FINAL = final_exam_id(COURSE)
LEARNER = "hocvien.moi"
LEARNER_NAME = "Nguyễn Thị Hương"
LEARNER_PASSWORD = "Mat-khau-rieng-2026"
DEMO_PASSWORD = "demo"
DEMO_HISTORY_EXAMINEES = 500  # the smallest history `sathach demo` accepts; enough to calibrate
FAST_HASH = "pbkdf2:sha256:1000"  # production uses scrypt; the test needs speed, not strength
#: Topics the learner completed in earlier training (imported, as the demo does). The browser
#: finishes the rest the course rule needs: the last mandatory topic and one elective.
EARLIER_TOPICS = ["T-DX", "T-SEC", "T-EDOC", "T-ESIG", "T-PDP", "T-AI", "T-AIETH", "T-PRES"]
BROWSER_TOPICS = ["T-PSV", "T-WORD"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (Debian's chromium package)"
    ),
]


def _catalogue() -> gettext.NullTranslations:
    """The Vietnamese catalogues the pages use (exam delivery first, then the platform)."""
    root = resources.files("webapp")
    chain: gettext.NullTranslations | None = None
    for folder in ("exams/translations", "translations"):
        with resources.as_file(root.joinpath(folder)) as path:
            translation = gettext.translation("messages", localedir=str(path), languages=["vi"])
        if chain is None:
            chain = translation
        else:
            chain.add_fallback(translation)
    assert chain is not None
    return chain


_VI = _catalogue()


def vi(message: str) -> str:
    """What the Vietnamese page shows for ``message``."""
    translated = _VI.gettext(message)
    assert translated != message, f"no Vietnamese translation of {message!r}"
    return translated


def _prepare_demo_database(url: str) -> None:
    """``sathach demo``'s database, plus a new learner with part of the course done."""
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        summary = prepare_demo(
            session, password=DEMO_PASSWORD, now=utcnow(), n_examinees=DEMO_HISTORY_EXAMINEES
        )
        created = create_user(
            session,
            summary.accounts.users["admin"],
            username=LEARNER,
            full_name=LEARNER_NAME,
            org_unit_id=summary.accounts.commune.id,
            role=Role.LEARNER,
            password=LEARNER_PASSWORD,
            must_change_password=False,
            hash_method=FAST_HASH,
        )
        mark_topics_completed(session, created.user_id, EARLIER_TOPICS, now=utcnow())
        session.commit()
    engine.dispose()


@pytest.fixture
def demo_database(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    _prepare_demo_database(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def server(demo_database: Engine, live_server: Any) -> Any:
    return live_server(
        demo_database.url.render_as_string(hide_password=False),
        workers=1,
        environment={"SATHACH_SESSION_COOKIE_SECURE": "false"},  # plain http on loopback
    )


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _phone(browser: Any) -> Any:
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN", accept_downloads=True
    )
    context.set_default_timeout(15_000)
    return context


class Keys:
    """The answer keys, read by the test from the database (the pages never carry them)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def version(self, item_id: str) -> ItemVersion:
        with Session(self._engine, expire_on_commit=False) as session:
            item = session.get(Item, item_id)
            assert item is not None, item_id
            return session.scalar(
                select(ItemVersion).where(
                    ItemVersion.item_id == item_id,
                    ItemVersion.version == item.current_version_number,
                )
            )

    def options_to_tick(self, item_id: str, *, right: bool) -> tuple[str, list[str]]:
        version = self.version(item_id)
        options = [option["id"] for option in version.options]
        if version.type == "multiple_response":
            wrong = [option for option in options if option not in version.key][:1]
            return version.type, list(version.key) if right else wrong
        if version.type == "ordered":
            ranked = sorted(version.options, key=lambda option: option["score"])
            return version.type, [ranked[-1 if right else 0]["id"]]
        chosen = version.key if right else next(o for o in options if o != version.key)
        return version.type, [chosen]


def _fits_the_phone(page: Any) -> None:
    """No sideways scrolling, and the main button is a comfortable tap target."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px at {PHONE['width']}px"
    button = page.locator("main .button").first
    if button.count():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44, (page.url, box)


def _log_in(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/auth/login")
    page.locator("input[name=username]").fill(LEARNER)
    page.locator("input[name=password]").fill(LEARNER_PASSWORD)
    page.get_by_role("button", name=vi("Log in")).click()
    page.wait_for_load_state()
    assert "/auth/login" not in page.url, page.content()[:2000]


def _answer_shown_item(page: Any, keys: Keys, *, right: bool) -> tuple[int, str]:
    """Tick the right (or a wrong) answer of the item on screen and submit it."""
    form = page.locator("form.item-form")
    position = int(form.locator("input[name=position]").input_value())
    item_id = form.locator("input[name=item_id]").input_value()
    _item_type, ticks = keys.options_to_tick(item_id, right=right)
    for option_id in ticks:
        page.locator(f"label[for='option-{option_id}']").tap()
    assert page.locator("input[name=answer]:checked").count() == len(ticks)
    page.get_by_role("button", name=vi("Answer and continue")).click()
    page.wait_for_load_state()
    return position, item_id


def _final_is_open(page: Any) -> bool:
    return page.locator(".final-card", has_text=vi("The final exam is open to you.")).count() == 1


def _practise(page: Any, keys: Keys, topic_id: str, shots: Path, *, first: bool) -> None:
    page.locator(f"#topic-{topic_id}").click()
    page.get_by_role("button", name=vi("Start")).click()
    page.wait_for_load_state()
    for index in range(5):
        right = index != 1  # one wrong answer per quiz: the feedback must say so
        _position, item_id = _answer_shown_item(page, keys, right=right)
        feedback = page.locator(".feedback")
        expected_class = "feedback-right" if right else "feedback-wrong"
        assert expected_class in (feedback.get_attribute("class") or ""), page.url
        explanation = keys.version(item_id).explanation_vi
        if explanation:
            assert feedback.locator(".explanation").inner_text().strip() == explanation.strip()
        if first and index == 1:
            page.screenshot(path=str(shots / "quiz-feedback.png"), full_page=True)
            _fits_the_phone(page)
        next_label = vi("See your result") if index == 4 else vi("Next question")
        page.get_by_role("link", name=next_label).click()
        page.wait_for_load_state()
    assert "/result" in page.url
    page.get_by_role("link", name=vi("Back to my courses")).click()
    page.wait_for_load_state()
    done = page.locator(f"li.topic:has(#topic-{topic_id})")
    assert "topic-done" in (done.get_attribute("class") or "")
    assert "(4/5)" in done.inner_text()


def _stored_responses(engine: Engine, session_id: int) -> int:
    with Session(engine) as session:
        return (
            session.scalar(select(func.count()).where(ExamResponse.session_id == session_id)) or 0
        )


def test_a_learner_on_a_phone_goes_from_topics_to_a_verified_certificate(
    server: Any, browser: Any, demo_database: Engine, tmp_path: Path
) -> None:
    keys = Keys(demo_database)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = _phone(browser)
    page = context.new_page()
    _log_in(page, server.base_url)
    page.goto(f"{server.base_url}/learn/")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    _fits_the_phone(page)

    # The topics: the final exam opens only once the course rule is met.
    for number, topic_id in enumerate(BROWSER_TOPICS):
        assert not _final_is_open(page), f"the final exam is open before {topic_id}"
        _practise(page, keys, topic_id, shots, first=number == 0)
    assert _final_is_open(page)

    # The final exam: rules first, then one item per screen with position and time left.
    page.locator(".final-card a.button").click()
    page.wait_for_load_state()
    assert page.get_by_text(vi("You cannot go back to a question once you have answered it."))
    page.get_by_role("button", name=vi("Start")).click()
    page.wait_for_load_state()
    session_url = page.url
    session_id = int(re.search(r"/sessions/(\d+)", session_url).group(1))
    assert page.locator("#time-left").inner_text() in ("40:00", "39:59", "39:58")
    page.screenshot(path=str(shots / "final-item.png"), full_page=True)
    _fits_the_phone(page)
    answered: list[tuple[int, str]] = []
    for _ in range(3):
        answered.append(_answer_shown_item(page, keys, right=True))
        assert page.locator(".feedback").count() == 0  # the final exam never explains
    assert [position for position, _item in answered] == [1, 2, 3]

    # Going back in the browser never reopens an answered question: the page is the current
    # one, and an old page kept by the browser is refused and replaced by the current one.
    current_item = page.locator("input[name=item_id]").input_value()
    page.go_back()
    page.wait_for_load_state()
    if page.locator("input[name=item_id]").input_value() != current_item:
        page.locator("input[name=answer]").first.check()
        page.get_by_role("button", name=vi("Answer and continue")).click()
        page.wait_for_load_state()
        assert page.locator(".flash-info").count() == 1
    assert page.locator("input[name=position]").input_value() == "4"
    assert page.locator("input[name=item_id]").input_value() == current_item
    assert _stored_responses(demo_database, session_id) == 3

    # Closing the browser mid-exam: a new one, after logging in, continues at the same item.
    context.close()
    context = _phone(browser)
    page = context.new_page()
    _log_in(page, server.base_url)
    page.goto(f"{server.base_url}/learn/")
    page.get_by_role("link", name=vi("Continue the final exam")).click()
    page.get_by_role("button", name=vi("Continue")).click()
    page.wait_for_load_state()
    assert page.url == session_url
    assert page.locator("input[name=position]").input_value() == "4"
    assert page.locator("input[name=item_id]").input_value() == current_item

    # To the end: every answer right.
    for _ in range(40):
        if "/result" in page.url:
            break
        answered.append(_answer_shown_item(page, keys, right=True))
    assert "/result" in page.url, page.url
    with Session(demo_database) as session:
        exam = session.get(ExamSession, session_id)
        assert exam.status == "finished"
        n_answered = _stored_responses(demo_database, session_id)
    assert n_answered == len(answered) and 15 <= n_answered <= 30
    assert [position for position, _item in answered] == list(range(1, n_answered + 1))

    # The result, then the certificate.
    assert page.locator(".result-verdict").inner_text().strip() == vi("Passed")
    page.screenshot(path=str(shots / "result.png"), full_page=True)
    _fits_the_phone(page)
    code = page.locator("main code").first.inner_text().strip()
    with page.expect_download() as download_info:
        page.get_by_role("link", name=vi("Download the certificate (PDF)")).click()
    download = download_info.value
    pdf_path = tmp_path / "certificate.pdf"
    download.save_as(pdf_path)
    assert download.suggested_filename == f"chung-nhan-{code}.pdf"
    pdf_text = "\n".join(
        page_.extract_text() for page_ in PdfReader(io.BytesIO(pdf_path.read_bytes())).pages
    )
    with Session(demo_database) as session:
        holder = session.scalar(select(User.full_name).where(User.username == LEARNER))
        course_title = session.get(Course, COURSE).title_vi
    assert code in pdf_text and holder in pdf_text
    verify_link = re.search(r"https?://\S+/verify/\S+", pdf_text)
    assert verify_link, pdf_text
    assert verify_link.group(0) == f"{server.base_url}/verify/{code}"
    context.close()

    # Anyone (no login) opens the link the certificate carries.
    public = _phone(browser)
    page = public.new_page()
    reply = page.goto(verify_link.group(0))
    assert reply is not None and reply.status == 200
    assert page.locator(".flash-success").inner_text().strip() == vi("Valid certificate")
    facts = page.locator("dl.facts").inner_text()
    assert holder in facts and code in facts and course_title in facts
    page.screenshot(path=str(shots / "verify.png"), full_page=True)
    _fits_the_phone(page)
    public.close()
