"""A student sits an exam in real headless Chromium: camera check, answers, a network drop, hand-in."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from exam_engine.tables import answers, attempts, users
from tests.e2e.conftest import served_page, shot, sign_in
from tests.factories import make_world, open_client, stored_choices

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]


async def test_a_student_answers_through_a_network_drop_and_hands_in(services, browser):
    world = await make_world(services, students=1, question_count=5, duration_s=1200, requires_proctoring=True)
    client = await open_client(services, run_sweeper=True)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="kk-KZ", viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(f"{base}/login")
        await shot(page, "login-kk")
        await sign_in(page, base, "student1", "/student")
        await shot(page, "student-home-kk")
        await page.click("text=Емтиханды бастау")
        await page.wait_for_url(f"{base}/exam/{world.exam_id}/rules")  # the rules first (issue 20)
        await page.click("#rules-continue")
        await page.wait_for_url(f"{base}/exam/{world.exam_id}/check")
        # The fake webcam shows a lit face: the camera check passes; consent unlocks the exam.
        await page.wait_for_selector('#camera-state[data-ok="true"]', timeout=15000)
        await page.wait_for_selector('#mic-state[data-ok="true"]', timeout=15000)
        assert await page.is_disabled("#continue")
        await page.check("#consent")
        await shot(page, "pre-exam-check-kk")
        await page.click("#continue")
        await page.wait_for_url(f"{base}/exam/{world.exam_id}")
        await page.wait_for_selector("#exam:not([hidden])")
        async with services.engine.connect() as conn:
            attempt_id = (await conn.execute(select(attempts.c.id))).scalar_one()

        chosen: dict[int, int] = {}

        async def answer(index: int) -> None:
            await page.click(f"#qmap li:nth-child({index + 1}) button")
            option = await page.query_selector_all("#q-options .option")
            texts = [await o.inner_text() for o in option]
            key = next(i for i, t in enumerate(texts) if t.startswith("KEY"))
            await option[key].click()
            chosen[index + 1] = key

        await answer(0)
        await answer(1)
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        await shot(page, "exam-page-kk")
        assert len(await stored_choices(services, attempt_id)) == 2

        await context.set_offline(True)
        await answer(2)
        await answer(3)
        await page.wait_for_selector("#save-status.offline", timeout=10000)
        await shot(page, "exam-offline-kk")
        await asyncio.sleep(3)
        assert len(await stored_choices(services, attempt_id)) == 2  # nothing got through while offline
        await context.set_offline(False)
        # (Selectors, not wait_for_function: the page's CSP rightly forbids eval.)
        await page.wait_for_selector("#save-status:not(.offline):not(.pending):has-text('№')", timeout=15000)
        stored = await stored_choices(services, attempt_id)
        assert len(stored) == 4
        # The served order of options is the page's order: the stored choices are the keys clicked.
        await page.click("#submit")
        await page.click("#confirm-yes")
        await page.wait_for_url(f"{base}/attempt/{attempt_id}/result")
        await page.wait_for_selector("#score")
        assert (await page.inner_text("#score")).startswith("80")
        await shot(page, "result-kk")
        html = await page.content()
        assert "KEY" not in html
    finally:
        await context.close()
        await client.close()


async def test_the_saved_time_is_written_in_kazakhstan_time_whatever_the_computers_zone_and_language(services, browser):
    # A hall computer left on English and another zone: the receipt's time must still read as the exam's
    # other times do (Asia/Almaty, 24 hours), not "1:17:23 AM" of the computer's own zone.
    world = await make_world(services, students=1, question_count=3, duration_s=1200)
    async with served_page(services, browser, locale="en-US", timezone_id="America/New_York") as (base, page):
        await sign_in(page, base, "student1", "/student")
        await page.goto(f"{base}/exam/{world.exam_id}/rules")
        await page.click("#rules-continue")
        await page.wait_for_url(f"{base}/exam/{world.exam_id}")
        await page.click("#q-options .option >> nth=0")
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        shown = await page.inner_text("#save-status")
    async with services.engine.connect() as conn:
        saved_at = (await conn.execute(select(answers.c.saved_at))).scalar_one()
    assert saved_at.astimezone(ZoneInfo("Asia/Almaty")).strftime("%H:%M:%S") in shown, shown
    assert "AM" not in shown and "PM" not in shown, shown


async def _fits(page, what: str) -> None:  # type: ignore[no-untyped-def]
    width = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{what}: the page is {width[0]} px wide on a {width[1]} px screen"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_on_a_phone_no_student_page_is_wider_than_the_screen(services, browser, lang):
    # A student checking the exam list and the journal on a phone scrolls down, never sideways: a
    # table wider than the screen scrolls inside its card instead of widening the whole page.
    from tests.e2e.test_journal_in_browser import open_journal_world

    jw = await open_journal_world(services)
    async with services.engine.begin() as conn:
        await conn.execute(update(users).where(users.c.login == "student1").values(language=lang))
    phone = {"locale": "kk-KZ", "viewport": {"width": 360, "height": 740}}
    async with served_page(services, browser, **phone) as (base, page):
        await sign_in(page, base, "student1", "/student")
        await _fits(page, "my exams")
        await page.goto(f"{base}/student/results")
        await page.wait_for_selector("main table")
        await _fits(page, "my results")
        await page.goto(f"{base}/exam/{jw.world.exam_id}/rules")
        await _fits(page, "the rules")
        await page.click("#rules-continue")
        await page.wait_for_url(f"{base}/exam/{jw.world.exam_id}")
        await page.click("#q-options .option >> nth=0")
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        await _fits(page, "the questions")
        await page.click("#submit")
        await page.click("#confirm-yes")
        await page.wait_for_selector("#score")
        await _fits(page, "the result")


async def test_time_running_out_closes_the_attempt_as_unsatisfactory(services, browser):
    world = await make_world(services, students=1, question_count=3, duration_s=8, student_language="ru")
    client = await open_client(services, run_sweeper=True)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="ru-RU")
    page = await context.new_page()
    try:
        await page.goto(f"{base}/login")
        await sign_in(page, base, "student1", "/student")
        await shot(page, "student-home-ru")
        await page.goto(f"{base}/exam/{world.exam_id}")
        await page.wait_for_url(f"{base}/exam/{world.exam_id}/rules")  # the rules first (issue 20)
        await page.click("#rules-continue")
        await page.wait_for_selector("#exam:not([hidden])")
        await page.click("#q-options .option >> nth=0")
        await shot(page, "exam-page-ru")
        # No hand-in: the server closes the attempt at its deadline (E1: unsatisfactory), the page follows.
        await page.wait_for_url("**/result", timeout=20000)
        await page.wait_for_selector("#verdict")
        verdict = await page.inner_text("#verdict")
        await shot(page, "result-timed-out-ru")
    finally:
        await context.close()
        await client.close()
    assert "неудовлетворительно" in verdict.lower()
    async with services.engine.connect() as conn:
        row = (await conn.execute(select(attempts.c.status, attempts.c.submitted_at, attempts.c.deadline_at))).one()
    assert row.status == "timed_out" and row.submitted_at == row.deadline_at


async def test_the_login_page_speaks_russian_when_asked(services, browser):
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="ru-RU", extra_http_headers={"Accept-Language": "ru"})
    page = await context.new_page()
    try:
        await page.goto(f"{base}/login")
        assert await page.inner_text("h1") == "Вход"
        await shot(page, "login-ru")
        await page.click("button[value=kk]")
        await page.wait_for_url(f"{base}/login")
        assert await page.inner_text("h1") == "Кіру"
        await page.fill("#login", "nobody")
        await page.fill("#password", "wrong password")
        await page.click("button[type=submit].primary")
        assert "Логин немесе құпиясөз қате." in await page.inner_text("#login-error")
    finally:
        await context.close()
        await client.close()


async def test_signing_out_from_the_page_ends_the_session_on_the_server(services, browser):
    from exam_engine.domain.roles import Role
    from tests.factories import make_user

    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await sign_in(page, base, "student9", "/student")
        cookie = next(c for c in await context.cookies() if c["name"] == "exam_session")
        await page.click("text=Шығу")
        await page.wait_for_url(f"{base}/login")
        # The old cookie, replayed (as a thief would), is refused: the session ended on the server.
        resp = await client.get("/api/v1/me", headers={"Cookie": f"exam_session={cookie['value']}"})
        assert resp.status == 401
    finally:
        await context.close()
        await client.close()
