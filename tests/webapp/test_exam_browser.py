"""End to end in a real browser at phone width (Playwright driving Debian's chromium against
``sathach serve``): log in as a learner, finish the last topic's practice quiz, take the
adaptive final exam to the end, read the result, download the certificate and verify it on
the public page."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pypdf
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank.db import make_engine
from item_bank.models import Course, Item, ItemVersion
from item_bank.seed import seed_bank
from webapp.exams.definitions import ensure_course_exams
from webapp.exams.progress import mark_topics_completed
from webapp.models import OrgUnit, OrgUnitKind, Role, User
from webapp.services.passwords import hash_password

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "mat-khau-dai-1"
LAST_TOPIC = "T-SEC"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]


def _prepare(url: str) -> dict[str, ItemVersion]:
    """A learner with every topic but T-SEC done; the keys of all items (the test's cheat)."""
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            seed_bank(session)
            ensure_course_exams(session, "KNS-CBCX")
            unit = OrgUnit(code="X1", name="Xã Một", kind=OrgUnitKind.COMMUNE)
            session.add(unit)
            session.flush()
            user = User(username="hocvien", full_name="Trần Thị Bích Ngọc", org_unit_id=unit.id,
                        role=Role.LEARNER,
                        password_hash=hash_password(PASSWORD, "pbkdf2:sha256:1000"))
            session.add(user)
            session.flush()
            topics = [t.id for t in session.get(Course, "KNS-CBCX").topics if t.id != LAST_TOPIC]
            mark_topics_completed(session, user.id, topics, now=datetime.now(UTC))
            session.commit()
            versions = {}
            for item in session.scalars(select(Item)):
                versions[item.id] = session.scalar(select(ItemVersion).where(
                    ItemVersion.item_id == item.id,
                    ItemVersion.version == item.current_version_number))
            return versions
    finally:
        engine.dispose()


def _answer(page: Any, versions: dict[str, ItemVersion]) -> None:
    item_id = page.locator('input[name="item_id"]').get_attribute("value")
    version = versions[item_id]
    if version.type == "multiple_response":
        chosen = list(version.key)
    elif version.type == "ordered":
        chosen = [max(version.options, key=lambda option: option["score"])["id"]]
    else:
        chosen = [version.key]
    for option_id in chosen:
        page.locator(f"#option-{option_id}").check()
    page.get_by_role("button", name="Trả lời và tiếp tục").click()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(url: str, folder: Any) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "SATHACH_DATABASE_URL": url, "SATHACH_SECRET_KEY": "b" * 48}
    process = subprocess.Popen(
        [sys.executable, "-c", "from webapp.cli import main; main()", "serve", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return process, base
        except OSError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("the server did not come up")


def test_a_learner_goes_from_practice_to_a_verified_certificate_on_a_phone(
    fresh_database_url, tmp_path
) -> None:
    from playwright.sync_api import sync_playwright

    versions = _prepare(fresh_database_url)
    process, base = _serve(fresh_database_url, tmp_path)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 360, "height": 740},
                                          is_mobile=True, has_touch=True, accept_downloads=True,
                                          locale="vi-VN")
            page = context.new_page()
            page.goto(base + "/learn/")
            page.get_by_label("Tên đăng nhập").fill("hocvien")
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.goto(base + "/learn/")
            assert "Hãy hoàn thành khóa học trước" in page.content()
            # the last mandatory topic: its practice quiz, with feedback after each answer
            page.locator(f"#topic-{LAST_TOPIC}").click()
            page.get_by_role("button", name="Bắt đầu làm bài").click()
            for _ in range(5):
                _answer(page, versions)
                assert page.locator(".feedback-right").is_visible()
                assert page.locator(".explanation").inner_text()
                page.locator("a.button").click()
            assert "Chuyên đề đã hoàn thành" in page.content()
            # the final exam, to the end
            page.goto(base + "/learn/")
            page.get_by_role("link", name="Đến bài kiểm tra cuối khóa").click()
            assert "không thể quay lại" in page.content()
            page.get_by_role("button", name="Bắt đầu làm bài").click()
            answered = 0
            while page.locator('input[name="item_id"]').count():
                bar = page.locator(".exam-bar").inner_text()
                assert f"Câu {answered + 1}, tối đa 30 câu" in bar
                assert re.search(r"\d+:\d\d", page.locator("#time-left").inner_text())
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 360  # nothing wider than the phone
                _answer(page, versions)
                answered += 1
                assert answered <= 30
            assert answered >= 15
            content = page.content()
            assert "Kết quả của bạn" in content and "Đạt" in content
            assert "trình độ thực của bạn nhiều khả năng nằm trong khoảng" in content
            code = page.locator("code").first.inner_text()
            with page.expect_download() as download_info:
                page.get_by_role("link", name="Tải giấy chứng nhận (PDF)").click()
            pdf_path = download_info.value.path()
            with open(pdf_path, "rb") as handle:
                text = pypdf.PdfReader(io.BytesIO(handle.read())).pages[0].extract_text()
            assert "Trần Thị Bích Ngọc" in text and code in text
            # the public page, in a fresh browser without a login
            public = browser.new_context(viewport={"width": 360, "height": 740},
                                         locale="vi-VN").new_page()
            public.goto(f"{base}/verify/{code}")
            assert "Giấy chứng nhận hợp lệ" in public.content()
            assert "Trần Thị Bích Ngọc" in public.content()
            browser.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
