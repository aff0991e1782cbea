"""Exam day in the browser, third walk, kk and ru: the staff's live page with a wrong computer clock,
and the student's traps around the hand-in (a lost connection at «Hand in», the keyboard alone, long
Kazakh words on a phone, the browser's «Leave site?» prompt, a window that closed before «Start»)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.tables import attempts
from tests.e2e.conftest import open_exam, served_page, shot, sign_in
from tests.e2e.test_exam_clock_and_session_in_browser import LATE, SKEWED_DATE, TEXT, _serious_violations, _set_skew
from tests.factories import make_user, make_world, new_api, open_client, stored_choices
from tests.integration.test_staff_pages import watch

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

LOCALE = {"kk": "kk-KZ", "ru": "ru-RU"}


def _seconds(text: str) -> int:
    parts = [int(p) for p in text.strip().split(":")]
    return parts[0] * 3600 + parts[1] * 60 + parts[2] if len(parts) == 3 else parts[0] * 60 + parts[1]


async def _server_left_s(services, attempt_id: str) -> float:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        deadline = (await conn.execute(select(attempts.c.deadline_at).where(attempts.c.id == attempt_id))).scalar_one()
    return (deadline - datetime.now(UTC)).total_seconds()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_live_page_shows_the_servers_time_left_whatever_the_computers_clock(services, browser, lang):
    world = await make_world(services, students=1, question_count=3, duration_s=1800)
    await make_user(services, "proctor1", Role.PROCTOR, language=lang)
    await watch(services, world.exam_id, "proctor1")
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    student = await new_api(client)
    await student.login("student1")
    status, started = await student.call("POST", f"/api/v1/exams/{world.exam_id}/start", json={})
    assert status == 200, started
    aid = started["attempt"]["id"]
    context = await browser.new_context(locale=LOCALE[lang], viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    try:
        await page.add_init_script(SKEWED_DATE)
        await page.goto(f"{base}/login")
        await _set_skew(page, 3 * 3600)  # the proctor's laptop 3 h ahead
        await sign_in(page, base, "proctor1", "/")
        await page.goto(f"{base}/proctor/live/{world.exam_id}")
        remaining = page.locator("#live-rows .remaining[data-deadline]")
        await remaining.wait_for()
        await page.wait_for_timeout(1500)
        shown, server = _seconds(await remaining.inner_text()), await _server_left_s(services, aid)
        assert abs(shown - server) <= 3, (shown, server)

        # The Wi-Fi drops and the laptop's clock is corrected meanwhile (5 h back): the rows cannot be
        # fetched again, and the time left must still be the server's.
        await context.set_offline(True)
        await _set_skew(page, -2 * 3600)
        await page.wait_for_timeout(2500)
        shown, server = _seconds(await remaining.inner_text()), await _server_left_s(services, aid)
        assert abs(shown - server) <= 3, f"the page shows {shown} s left, the server {server:.0f} s"
        assert 28 <= shown // 60 <= 30  # «29:5x»: the minutes a proctor reads
        await context.set_offline(False)
        await shot(page, f"staff-live-wrong-clock-{lang}")
    finally:
        await context.close()
        await student.client.close()
        await client.close()


# Everything the message box ever said, in order (a word shown for a moment counts too).
RECORD_ALERTS = """
window.__said = [];
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("alert");
  if (box) new MutationObserver(() => window.__said.push(box.textContent)).observe(box, {childList: true, characterData: true, subtree: true});
});
"""


async def _attempt_row(services):  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return (await conn.execute(select(attempts))).one()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_hand_in_whose_answer_is_lost_on_the_way_back_opens_the_result_not_time_is_up(services, browser, lang):
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    t = TEXT[lang]
    async with served_page(services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 740}) as (
        base,
        page,
    ):
        await page.add_init_script(RECORD_ALERTS)
        await open_exam(page, base, world.exam_id)
        await page.click("#q-options .option >> nth=1")
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")

        async def reaches_the_server_but_the_answer_is_lost(route):  # type: ignore[no-untyped-def]
            await route.fetch()  # the server hands the attempt in…
            await route.abort("connectionreset")  # …and its answer never comes back

        await page.route("**/api/v1/attempts/*/submit", reaches_the_server_but_the_answer_is_lost)
        await page.click("#submit")
        await page.click("#confirm-yes")
        await page.wait_for_url("**/result", timeout=6000)  # the server's word, at once: handed in
        said = await page.evaluate("window.__said")
        assert not any(t["time_up"] in x or t["unsatisfactory"] in x for x in said), said
        row = await _attempt_row(services)
        assert row.status == "submitted" and (await stored_choices(services, row.id)) == {1: 1}


CLOSED = {
    "kk": "Емтихан терезесі жабылды",
    "ru": "Окно экзамена закрылось",
}
BACK_HOME = {"kk": "Менің емтихандарым", "ru": "Мои экзамены"}


async def _close_window(services, exam_id: int) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlalchemy import update

    from exam_engine.tables import exams

    async with services.engine.begin() as conn:
        await conn.execute(
            update(exams).where(exams.c.id == exam_id).values(closes_at=datetime.now(UTC) - timedelta(seconds=5))
        )


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_window_that_closed_before_start_is_said_so_with_a_way_back(services, browser, lang):
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    async with served_page(
        services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 740}, bypass_csp=True
    ) as (base, page):
        await sign_in(page, base, "student1", "/student")
        await page.goto(f"{base}/exam/{world.exam_id}/rules")
        await _close_window(services, world.exam_id)  # the window closes while the student reads the rules
        await page.click("#rules-continue")
        said = page.locator("#exam-loading")
        await said.locator(f"text={CLOSED[lang]}").wait_for(timeout=10000)
        text = await said.inner_text()
        assert not re.search(r"\d{4}-\d{2}-\d{2}T", text), text  # not the server's raw time
        await shot(page, f"student-window-closed-{lang}")
        assert await _serious_violations(page) == []
        await said.locator("a[href='/student']").click()
        await page.wait_for_url(f"{base}/student")
        card = await page.inner_text(f"li.exam[data-exam='{world.exam_id}']")
        assert CLOSED[lang] in card, card  # not «Not open yet.» for an exam that has closed
        await page.goto(f"{base}/exam/{world.exam_id}/rules")
        assert CLOSED[lang] in await page.inner_text("main")
        assert await page.locator("#rules-continue").count() == 0


LONG_WORD = "мемлекеттендірілмегендіктеріңізден" * 3  # 102 letters, no place to break


async def _overflowing(page) -> list[str]:  # type: ignore[no-untyped-def]
    """What sticks out of the screen or out of its own box on the question card."""
    return await page.evaluate(
        """() => {
          const out = [];
          if (document.documentElement.scrollWidth > window.innerWidth) out.push("the page is wider than the screen");
          for (const el of document.querySelectorAll("#q-text, #q-options .option, #q-options .option span, #q-title")) {
            const r = el.getBoundingClientRect();
            if (r.right > window.innerWidth + 1 || el.scrollWidth > el.clientWidth + 1) out.push(el.id || el.className || el.tagName);
          }
          return out;
        }"""
    )


@pytest.mark.parametrize("lang", ["kk", "ru"])
@pytest.mark.parametrize("width", [360, 1280])
async def test_very_long_words_in_a_question_and_its_options_stay_on_the_screen(services, browser, lang, width):
    from sqlalchemy import update

    from exam_engine.tables import attempt_items

    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    async with served_page(services, browser, locale=LOCALE[lang], viewport={"width": width, "height": 740}) as (
        base,
        page,
    ):
        await open_exam(page, base, world.exam_id)
        row = await _attempt_row(services)
        async with services.engine.begin() as conn:  # a bank item with very long words (as typed by an author)
            await conn.execute(
                update(attempt_items)
                .where(attempt_items.c.attempt_id == row.id)
                .values(
                    text=f"Төмендегілердің қайсысы {LONG_WORD}?",
                    options=[f"{LONG_WORD} {i}" for i in range(4)],
                )
            )
        await page.reload()
        await page.wait_for_selector("#exam:not([hidden])")
        assert LONG_WORD in await page.inner_text("#q-text")
        assert await _overflowing(page) == []
        await page.click("#q-options .option >> nth=3")  # the last option, whole, can be chosen
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        await shot(page, f"student-long-words-{lang}-{width}")


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_keyboard_alone_answers_opens_escapes_and_confirms_the_hand_in(services, browser, lang):
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    async with served_page(services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 740}) as (
        base,
        page,
    ):
        await open_exam(page, base, world.exam_id)
        focused = "() => document.activeElement && (document.activeElement.id || document.activeElement.name)"
        await page.focus("#q-title")
        for _ in range(10):  # Tab to the first option
            await page.keyboard.press("Tab")
            if await page.evaluate(focused) == "q1":
                break
        assert await page.evaluate(focused) == "q1"
        await page.keyboard.press("Space")
        await page.keyboard.press("ArrowDown")  # the next option: chosen and saved
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        row = await _attempt_row(services)
        assert (await stored_choices(services, row.id)) == {1: 1}
        for _ in range(10):
            await page.keyboard.press("Tab")
            if await page.evaluate(focused) == "submit":
                break
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#confirm-dialog[open]")
        assert await page.evaluate(focused) in ("confirm-no", "confirm-yes")
        await page.keyboard.press("Alt+ArrowRight")  # the question under the dialog stays
        await page.keyboard.press("Escape")
        await page.wait_for_selector("#confirm-dialog:not([open])", state="attached")
        assert await page.evaluate(focused) == "submit"  # back where the student was
        assert "1" in await page.inner_text("#q-title")
        assert (await _attempt_row(services)).status == "in_progress"
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#confirm-dialog[open]")
        for _ in range(4):
            if await page.evaluate(focused) == "confirm-yes":
                break
            await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/result")
        assert (await _attempt_row(services)).status == "submitted"


RESULT_LOST = {
    "kk": "Жауаптарыңыз емтихан аяқталғанда әлі осы браузерде күтіп тұрған еді және САҚТАЛМАДЫ (сұрақ: 2)",
    "ru": "Ваши ответы на вопросы 2 ещё ждали отправки в этом браузере, когда экзамен завершился, и НЕ сохранены",
}


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_answers_left_waiting_in_a_closed_page_are_named_on_the_result_after_the_end(services, browser, lang):
    from datetime import timedelta

    from sqlalchemy import update

    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    async with served_page(
        services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 740}, bypass_csp=True
    ) as (base, page):
        await open_exam(page, base, world.exam_id)
        row = await _attempt_row(services)
        await page.click("#q-options .option >> nth=1")  # question 1: saved
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        await page.context.set_offline(True)  # the Wi-Fi goes; question 2 waits in the browser
        # And no answer leaves this page whatever the emulation does: in one full-suite run (2 cores
        # busy) question 2 reached the server although the context was already offline.
        await page.route("**/answers/**", lambda route: route.abort("internetdisconnected"))
        await page.click("#next")
        await page.click("#q-options .option >> nth=2")
        await page.wait_for_selector("#save-status.offline")
        context = page.context
        await page.close()  # the tab closed (or reloaded onto the browser's «no internet» page)
        assert (await stored_choices(services, row.id)) == {1: 1}, "question 2 reached the server"
        async with services.engine.begin() as conn:  # and the time runs out meanwhile
            await conn.execute(
                update(attempts)
                .where(attempts.c.id == row.id)
                .values(
                    started_at=row.started_at - timedelta(seconds=1300),
                    deadline_at=row.deadline_at - timedelta(seconds=1300),
                )
            )
        await context.set_offline(False)
        again = await context.new_page()
        await again.goto(f"{base}/exam/{world.exam_id}")  # back, connected
        # The server decides where: the result (the attempt already timed out), or — the sweeper not yet
        # round — the exam page, whose queue meets the refusal and names the question itself.
        try:
            await again.wait_for_selector("#late-lost:not(:empty), #to-result", timeout=15000)
        except Exception:
            raise AssertionError(again.url + " :: " + await again.inner_text("body")) from None
        if "/result" not in again.url:
            assert LATE[lang]["late"] in await again.inner_text("#alert")
            await again.click("#to-result")
            await again.wait_for_url("**/result")
            assert (await again.inner_text("#late-lost")).strip() == ""  # said once, not twice
            return
        said = again.locator("#late-lost")
        assert RESULT_LOST[lang] in await said.inner_text()
        assert (await stored_choices(services, row.id)) == {1: 1}
        await shot(again, f"student-result-waiting-answers-{lang}")
        assert await _serious_violations(again) == []
        await again.reload()  # said once: the browser no longer keeps them
        assert (await again.inner_text("#late-lost")).strip() == ""


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_reload_as_the_time_runs_out_opens_the_result_not_a_retake_refusal(services, browser, lang):
    from datetime import timedelta

    from sqlalchemy import update

    from exam_engine.services import attempts as attempt_service

    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    async with served_page(services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 740}) as (
        base,
        page,
    ):
        await open_exam(page, base, world.exam_id)
        row = await _attempt_row(services)

        async def the_time_runs_out_meanwhile(route):  # type: ignore[no-untyped-def]
            # The page was served while the attempt was open; before its «start» arrives the time runs
            # out and the sweeper closes the attempt.
            async with services.engine.begin() as conn:
                await conn.execute(
                    update(attempts)
                    .where(attempts.c.id == row.id)
                    .values(
                        started_at=row.started_at - timedelta(seconds=1300),
                        deadline_at=row.deadline_at - timedelta(seconds=1300),
                    )
                )
                await attempt_service.sweep_expired(conn, now=datetime.now(UTC), grace_s=1.0)
            await route.continue_()

        await page.route("**/api/v1/exams/*/start", the_time_runs_out_meanwhile)
        await page.reload()
        await page.wait_for_url("**/result", timeout=10000)
        assert TEXT[lang]["unsatisfactory"] in (await page.inner_text("#verdict")).lower()
        assert (await _attempt_row(services)).status == "timed_out"
