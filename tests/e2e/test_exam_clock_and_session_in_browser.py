"""Exam day as a student lives it, in real headless Chromium, in Kazakh and Russian: the computer's
clock wrong or changed, a laptop asleep, the sign-in ended mid-exam, the back button and double
clicks after a hand-in, the time warning on a phone, and axe-core on the student's pages.

The computer's clock is emulated by an init script that shifts ``Date`` by what the test keeps in
``localStorage`` (as a clock set wrong does: the browser's monotonic ``performance.now`` is not
moved); a sleep by freezing the page (``Page.setWebLifecycleState``) while the computer's clock and
the server's time both go on.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from exam_engine.tables import attempts
from tests.e2e.conftest import SCREENSHOTS, open_exam, served_page, shot
from tests.factories import PASSWORD, make_world, stored_choices

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

LOCALE = {"kk": "kk-KZ", "ru": "ru-RU"}
TEXT = {
    "kk": {
        "unsatisfactory": "қанағаттанарлықсыз",
        "time_up": "Уақыт бітті",
        "session_lost": "Жүйеге кіру мерзімі аяқталды",
        "sign_in_again": "Қайта кіру",
        "waiting_sign_in": "1 жауап күтіп тұр: қайта кіргенде жіберіледі",
        "min_left": "{m} минуттан аз уақыт қалды",
        "hand_in": "«Тапсыру»",
    },
    "ru": {
        "unsatisfactory": "неудовлетворительно",
        "time_up": "Время истекло",
        "session_lost": "Срок вашего входа истёк",
        "sign_in_again": "Войти снова",
        "waiting_sign_in": "Ожидают отправки ответов: 1. Они будут отправлены, когда вы снова войдёте",
        "min_left": "Осталось меньше {m} мин",
        "hand_in": "«Сдать»",
    },
}

# The computer's clock: Date shifted by localStorage["test-clock-skew-ms"]; performance.now untouched.
SKEWED_DATE = """
(() => {
  const Real = Date;
  const skew = () => { try { return Number(localStorage.getItem("test-clock-skew-ms") || 0); } catch (e) { return 0; } };
  class Skewed extends Real {
    constructor(...a) { if (a.length === 0) super(Real.now() + skew()); else super(...a); }
    static now() { return Real.now() + skew(); }
  }
  window.Date = Skewed;
})();
"""


async def _set_skew(page, seconds: float) -> None:  # type: ignore[no-untyped-def]
    await page.evaluate("ms => localStorage.setItem('test-clock-skew-ms', String(ms))", int(seconds * 1000))


async def _attempt(services):  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return (await conn.execute(select(attempts))).one()


async def _count_attempts(services) -> int:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(attempts))).scalar_one())


async def _move_deadline(services, attempt_id, by_s: float) -> None:  # type: ignore[no-untyped-def]
    row = await _attempt(services)
    async with services.engine.begin() as conn:
        await conn.execute(
            update(attempts)
            .where(attempts.c.id == attempt_id)
            .values(  # the whole attempt earlier: as if that much of the server's time had passed
                started_at=row.started_at + timedelta(seconds=by_s),
                deadline_at=row.deadline_at + timedelta(seconds=by_s),
            )
        )


async def _shown_left_s(page) -> int:  # type: ignore[no-untyped-def]
    text = (await page.inner_text("#remaining")).strip()
    parts = [int(p) for p in text.split(":")]
    return parts[0] * 3600 + parts[1] * 60 + parts[2] if len(parts) == 3 else parts[0] * 60 + parts[1]


async def _server_left_s(services) -> float:  # type: ignore[no-untyped-def]
    row = await _attempt(services)
    return (row.deadline_at - datetime.now(UTC)).total_seconds()


async def _assert_clock_follows_server(page, services) -> None:  # type: ignore[no-untyped-def]
    shown = await _shown_left_s(page)
    server = await _server_left_s(services)
    assert abs(shown - server) <= 3, f"the page shows {shown} s left, the server's deadline is {server:.0f} s away"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_wrong_or_changed_computer_clock_does_not_move_the_exam_clock(services, browser, lang):
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    t = TEXT[lang]
    async with served_page(services, browser, locale=LOCALE[lang]) as (base, page):
        await page.add_init_script(SKEWED_DATE)
        await page.goto(f"{base}/login")
        await _set_skew(page, 3 * 3600)  # the computer's clock 3 h ahead from the start
        await open_exam(page, base, world.exam_id)
        await page.wait_for_timeout(1000)
        await _assert_clock_follows_server(page, services)

        await _set_skew(page, 5 * 3600)  # and set 2 h further ahead during the exam
        await page.wait_for_timeout(2500)
        alert = await page.inner_text("#alert")
        assert t["time_up"] not in alert and t["unsatisfactory"] not in alert, alert
        await _assert_clock_follows_server(page, services)

        await _set_skew(page, -4 * 3600)  # then 4 h behind: no time beyond the server's deadline either
        await page.wait_for_timeout(2500)
        await _assert_clock_follows_server(page, services)
        await page.click("#q-options .option >> nth=1")  # the exam goes on: an answer is saved
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        assert (await stored_choices(services, (await _attempt(services)).id)) == {1: 1}
        assert page.url.endswith(f"/exam/{world.exam_id}")


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_after_a_sleep_the_page_asks_the_server_sends_what_waited_and_says_what_it_decided(
    services, browser, lang
):
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    t = TEXT[lang]
    async with served_page(services, browser, locale=LOCALE[lang]) as (base, page):
        await page.add_init_script(SKEWED_DATE)
        await open_exam(page, base, world.exam_id)
        attempt = await _attempt(services)
        cdp = await page.context.new_cdp_session(page)

        # The lid closed for 5 minutes with nothing waiting: the clock agrees with the server on waking.
        await cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
        # The server's time went on (first: the page must not see the jump before the server has it)…
        await _move_deadline(services, attempt.id, -300)
        await _set_skew(page, 300)  # …and so did the computer's clock
        await cdp.send("Page.setWebLifecycleState", {"state": "active"})
        await page.wait_for_timeout(2000)
        await _assert_clock_follows_server(page, services)

        # The Wi-Fi goes first, an answer waits in the browser, the lid is closed for 5 more minutes.
        await page.context.set_offline(True)
        await page.click("#q-options .option >> nth=2")
        await page.wait_for_selector("#save-status.offline")
        await cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
        await _move_deadline(services, attempt.id, -300)
        await _set_skew(page, 600)
        await page.context.set_offline(False)
        await cdp.send("Page.setWebLifecycleState", {"state": "active"})
        await page.wait_for_selector("#save-status:not(.pending):not(.offline):has-text('№')", timeout=15000)
        assert (await stored_choices(services, attempt.id)) == {1: 2}
        await page.wait_for_timeout(1000)
        await _assert_clock_follows_server(page, services)

        # Asleep again, and this time the deadline passes meanwhile: the server times the attempt out.
        await cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
        await _move_deadline(services, attempt.id, -((await _server_left_s(services)) + 30))
        await _set_skew(page, 600 + 1200)
        await cdp.send("Page.setWebLifecycleState", {"state": "active"})
        await page.wait_for_url("**/result", timeout=10000)  # the server's decision, in words, at once
        assert t["unsatisfactory"] in (await page.inner_text("#verdict")).lower()
        assert (await _attempt(services)).status == "timed_out"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_sign_in_that_ended_mid_exam_keeps_the_answers_and_leads_back_to_the_same_attempt(
    services, browser, lang
):
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    t = TEXT[lang]
    async with served_page(
        services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 740}, bypass_csp=True
    ) as (
        base,
        page,
    ):
        await open_exam(page, base, world.exam_id)
        attempt = await _attempt(services)
        await page.click("#q-options .option >> nth=0")
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")

        # The session ends (expired, the server's sessions lost): the server answers 401.
        await page.context.add_cookies([{"name": "exam_session", "value": "gone", "url": base}])
        await page.click("#next")
        await page.click("#q-options .option >> nth=1")
        await page.wait_for_selector(f"#alert:has-text('{t['session_lost']}')", timeout=10000)
        assert page.url.endswith(f"/exam/{world.exam_id}")  # not thrown to another page
        assert await page.inner_text("#save-status") == t["waiting_sign_in"]  # not «Saving…» for ever
        bar, said = await page.locator(".exam-bar").bounding_box(), await page.locator("#alert").bounding_box()
        assert said["y"] >= bar["y"] + bar["height"] - 1 and said["y"] < 740, "said out of sight"
        assert (await stored_choices(services, attempt.id)) == {1: 0}  # not saved yet, kept in the browser
        await shot(page, f"student-session-ended-{lang}")
        assert await _serious_violations(page) == []

        await page.click(f"#sign-in-again:has-text('{t['sign_in_again']}')")
        await page.wait_for_url(re.compile(r".*/login\?next=.*"))
        await page.fill("#login", "student1")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit].primary")
        await page.wait_for_url(f"{base}/exam/{world.exam_id}")
        await page.wait_for_selector("#exam:not([hidden])")
        await page.wait_for_selector("#save-status:not(.pending):not(.offline)")
        for _ in range(20):
            if (await stored_choices(services, attempt.id)) == {1: 0, 2: 1}:
                break
            await page.wait_for_timeout(250)
        assert (await stored_choices(services, attempt.id)) == {1: 0, 2: 1}
        assert await _count_attempts(services) == 1
        assert "2" in await page.inner_text("#q-title")  # back on the question the student was on


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_double_clicks_the_back_button_and_a_second_window_after_a_hand_in_lead_to_the_result(
    services, browser, lang
):
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    async with served_page(services, browser, locale=LOCALE[lang]) as (base, page):
        await page.goto(f"{base}/login")
        await page.fill("#login", "student1")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit].primary")
        await page.wait_for_url(f"{base}/student")
        await page.goto(f"{base}/exam/{world.exam_id}/rules")
        await page.dblclick("#rules-continue")  # a double click on «start»
        await page.wait_for_selector("#exam:not([hidden])")
        assert await _count_attempts(services) == 1
        await page.click("#q-options .option >> nth=1")
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        await page.click("#submit")
        await page.dblclick("#confirm-yes")  # and on «Hand in»
        await page.wait_for_url("**/result")
        result_url = page.url
        verdict = await page.inner_text("#verdict")
        assert verdict.strip()

        await page.go_back()  # the back button: the result again, no error page, no second attempt
        await page.wait_for_load_state()
        assert page.url == result_url or page.url.endswith(f"/exam/{world.exam_id}")
        await page.wait_for_url("**/result")
        await page.reload()
        assert await page.inner_text("#verdict") == verdict
        other = await page.context.new_page()  # a second window
        for path in (f"/exam/{world.exam_id}", f"/exam/{world.exam_id}?begin=1", f"/exam/{world.exam_id}/rules"):
            await other.goto(base + path)
            assert other.url == result_url, path
            assert await other.inner_text("#verdict") == verdict
        assert await _count_attempts(services) == 1
        assert (await _attempt(services)).status == "submitted"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_on_a_phone_the_time_warning_is_seen_at_the_last_question(services, browser, lang):
    world = await make_world(services, students=1, question_count=8, duration_s=68, student_language=lang)
    t = TEXT[lang]
    async with served_page(
        services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 640}, bypass_csp=True
    ) as (
        base,
        page,
    ):
        await open_exam(page, base, world.exam_id)
        await page.click("#qmap li:last-child button")  # at the last question, scrolled down to «Hand in»
        await page.locator("#submit").scroll_into_view_if_needed()
        await page.wait_for_selector("#alert[data-band='60']", timeout=20000)
        warning = page.locator("#time-warning")
        await warning.wait_for(state="visible")
        assert (await warning.inner_text()).startswith(t["min_left"].format(m=1))
        assert t["hand_in"] in await warning.inner_text()
        box = await warning.bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= 640, "the warning is out of sight"
        await page.click("#q-options .option >> nth=0")  # the options under the bar are still reachable
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")  # the receipt in the bar too
        bar = await page.locator(".exam-bar").bounding_box()
        assert bar["height"] <= 640 * 0.25, f"the bar hides the question: {bar}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"student-warning-phone-{lang}.png"))
        # One announcement: the message box (a live region) says it; the bar's copy is no live region.
        assert await warning.get_attribute("role") is None and await warning.get_attribute("aria-live") is None
        assert await _serious_violations(page) == []


def _axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


async def _serious_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core on the page as it stands: the serious and critical findings, one line each."""
    await page.add_script_tag(content=_axe_source())
    result = await page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    assert len(result["passes"]) > 10, "axe-core checked nothing"
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] for n in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("lang", ["kk", "ru"])
@pytest.mark.parametrize("width", [360, 1280])
async def test_axe_finds_nothing_serious_on_the_sign_in_exam_and_result_pages(services, browser, lang, width):
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    # bypass_csp: the page allows only its own scripts; axe-core is added for the check alone
    context = {"locale": LOCALE[lang], "viewport": {"width": width, "height": 800}, "bypass_csp": True}
    async with served_page(services, browser, **context) as (
        base,
        page,
    ):
        found: dict[str, list[str]] = {}
        await page.goto(f"{base}/login")
        found["sign-in"] = await _serious_violations(page)
        await open_exam(page, base, world.exam_id)
        await page.click("#q-options .option >> nth=1")
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        found["exam"] = await _serious_violations(page)
        await page.click("#submit")
        await page.wait_for_selector("#confirm-dialog[open]")
        found["hand-in dialog"] = await _serious_violations(page)
        await page.click("#confirm-yes")
        await page.wait_for_url("**/result")
        found["result"] = await _serious_violations(page)
        assert found == {"sign-in": [], "exam": [], "hand-in dialog": [], "result": []}


LATE = {
    "kk": {
        "late": "Жауаптарыңыз серверге уақыт біткеннен кейін жетті және САҚТАЛМАДЫ (сұрақ: 2)",
        "see_result": "Нәтижені көру",
        "not_saved": "Сақталмады: 2-сұрақ",
    },
    "ru": {
        "late": "Ваши ответы на вопросы 2 дошли до сервера после окончания времени и НЕ сохранены",
        "see_result": "Посмотреть результат",
        "not_saved": "Не сохранён: вопрос 2",
    },
}


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_answers_that_waited_through_a_sleep_past_the_deadline_are_named_as_not_saved(services, browser, lang):
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    t, late = TEXT[lang], LATE[lang]
    async with served_page(
        services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 740}, bypass_csp=True
    ) as (base, page):
        await page.add_init_script(SKEWED_DATE)
        await open_exam(page, base, world.exam_id)
        attempt = await _attempt(services)
        await page.click("#q-options .option >> nth=1")  # question 1: saved
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")

        # The Wi-Fi goes, question 2 is answered (it waits in the browser), the lid closes, and the
        # deadline passes while the laptop sleeps; the server times the attempt out meanwhile.
        await page.context.set_offline(True)
        await page.click("#next")
        await page.click("#q-options .option >> nth=2")
        await page.wait_for_selector("#save-status.offline")
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
        await _move_deadline(services, attempt.id, -((await _server_left_s(services)) + 30))
        await _set_skew(page, 1300)
        await page.context.set_offline(False)
        await cdp.send("Page.setWebLifecycleState", {"state": "active"})

        # The page says the time ended and which answer the server did not take — not a silent result.
        link = page.locator(f"#to-result:has-text('{late['see_result']}')")
        await link.wait_for(timeout=15000)
        alert = await page.inner_text("#alert")
        assert t["time_up"] in alert and late["late"] in alert, alert
        assert await page.inner_text("#save-status") == late["not_saved"]
        assert page.url.endswith(f"/exam/{world.exam_id}")
        box = await page.locator("#alert").bounding_box()
        assert box["y"] < 740, "said out of sight"
        assert (await stored_choices(services, attempt.id)) == {1: 1}  # the server's truth: question 2 not saved
        # …and the page shows that truth: question 2 does not look answered.
        assert await page.locator("#q-options input:checked").count() == 0
        assert "answered" not in (await page.get_attribute("#qmap li:nth-child(2) button", "class") or "")
        assert "answered" in (await page.get_attribute("#qmap li:nth-child(1) button", "class") or "")
        await page.keyboard.press("Alt+ArrowLeft")  # the keyboard's way to another question: still locked
        assert "1" in await page.inner_text("#q-title")
        assert await page.locator("#q-options input:enabled, #qmap button:enabled").count() == 0
        assert (await _attempt(services)).status == "timed_out"
        await shot(page, f"student-late-answers-not-saved-{lang}")
        assert await _serious_violations(page) == []
        # Nothing waits any more: leaving the page does not ask, the result opens.
        await link.click()
        await page.wait_for_url("**/result")
        assert t["unsatisfactory"] in (await page.inner_text("#verdict")).lower()
