"""Issue 20 in real headless Chromium, in Kazakh and in Russian: nothing on exam day traps a student.

* the rules page before anything starts, saying what running out of time means;
* sign-out asks first, and signing in again in the same browser resumes the attempt (device
  cookie), while another browser is refused;
* the question on screen survives a reload;
* a proctored exam's clock starts only after the device checks; a camera with no face in it
  fails the check (the fake webcam is a lit wall), the clock does not start, the live view says
  "needs help" and a proctor lets the student in;
* the warnings say the real time left and the grading rule;
* an annulled exam reads as annulled on the home card and in "My results" (with the discipline's
  name), and after a password change there is a way on to "My exams".
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.services import attempts as attempt_service
from exam_engine.services import live_control
from exam_engine.tables import attempts, audit_log
from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, SCREENSHOTS, open_exam, served_page, shot, sign_in, write_y4m
from tests.factories import (
    ADMIN,
    PASSWORD,
    assign_proctor,
    make_user,
    make_world,
    new_api,
    open_client,
    stored_choices,
)
from tests.unit.proctor import scenes as sc

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

LOCALE = {"kk": "kk-KZ", "ru": "ru-RU"}
TEXT = {
    "kk": {
        "not_automatic": "автоматты түрде ТАПСЫРЫЛМАЙДЫ",
        "unsatisfactory": "қанағаттанарлықсыз",
        "camera": "камера",
        "elsewhere": "басқа браузерде",
        "no_face": "бет көрінбейді",
        "min_left": "{m} минуттан аз уақыт қалды",
        "annulled": "күші жойылды",
        "hand_in": "«Тапсыру»",
        "not_paused": "ТОҚТАТЫЛМАЙДЫ",
        "all_saved": "Барлық жауап сақталды",
        "not_handed_in": "ТАПСЫРЫЛМАДЫ: сервермен байланыс жоқ",
        "back_not_handed_in": "Емтихан әлі ТАПСЫРЫЛМАДЫ",
        "camera_blocked": "камераға рұқсат беріңіз",
        "start_offline": "Сервермен байланыс жоқ",
        "paused": "Проктор емтиханыңызды уақытша тоқтатты",
        "media_busy": "басқа бағдарлама пайдаланып тұр",
        "media_missing": "компьютерге қосылмаған",
        "result_when_online": "нәтижеңіз осы жерде ашылады",
    },
    "ru": {
        "not_automatic": "НЕ сдаются автоматически",
        "unsatisfactory": "неудовлетворительно",
        "camera": "камера",
        "elsewhere": "другом браузере",
        "no_face": "лица не видно",
        "min_left": "Осталось меньше {m} мин",
        "annulled": "Аннулирован",
        "hand_in": "«Сдать»",
        "not_paused": "НЕ приостанавливается",
        "all_saved": "Все ответы сохранены",
        "not_handed_in": "НЕ сдано: нет связи с сервером",
        "back_not_handed_in": "Экзамен ещё НЕ сдан",
        "camera_blocked": "Разрешите камеру",
        "start_offline": "Нет связи с сервером",
        "paused": "Проктор приостановил ваш экзамен",
        "media_busy": "занимает другая программа",
        "media_missing": "не подключены",
        "result_when_online": "результат откроется здесь",
    },
}


async def _the_attempt(services):  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return (await conn.execute(select(attempts))).one()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_rules_first_sign_out_asks_and_signing_in_again_resumes_where_the_student_was(services, browser, lang):
    world = await make_world(services, students=1, question_count=5, duration_s=1200, student_language=lang)
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    t = TEXT[lang]
    context = await browser.new_context(locale=LOCALE[lang], viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    try:
        await sign_in(page, base, "student1", "/student")
        await page.click(f"a[href='/exam/{world.exam_id}/rules']")
        await page.wait_for_url(f"{base}/exam/{world.exam_id}/rules")
        timeout_rule = await page.inner_text("#rule-timeout")
        assert t["not_automatic"] in timeout_rule and t["unsatisfactory"] in timeout_rule
        assert await page.query_selector("#rule-retake") and await page.query_selector("#rule-signout")
        assert await _count_attempts(services) == 0  # reading the rules starts nothing
        await shot(page, f"student-rules-{lang}")
        await page.click("#rules-continue")
        await page.wait_for_selector("#exam:not([hidden])")
        await page.click("#q-options .option >> nth=1")
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        await page.click("#qmap li:nth-child(3) button")
        await page.reload()
        await page.wait_for_selector("#exam:not([hidden])")
        assert "3" in await page.inner_text("#q-title")  # back on the question the student was on

        await page.click("form[action='/logout'] button")
        await page.wait_for_selector("#signout-dialog[open]")
        assert t["not_paused"] in await page.inner_text("#signout-text")
        await shot(page, f"student-signout-confirm-{lang}")
        await page.click("#signout-stay")
        assert page.url.endswith(f"/exam/{world.exam_id}")
        await page.click("form[action='/logout'] button")
        await page.click("#signout-go")
        await page.wait_for_url(f"{base}/login")

        await sign_in(page, base, "student1", "/student")
        await page.click(f"a[href='/exam/{world.exam_id}']")  # "Continue the exam"
        await page.wait_for_selector("#exam:not([hidden])")
        await page.click("#qmap li:nth-child(1) button")
        assert await page.is_checked("#q-options .option >> nth=1 >> input")  # the answer is still there
        attempt = await _the_attempt(services)
        assert await stored_choices(services, attempt.id) == {1: 1}

        laptop = await browser.new_context(locale=LOCALE[lang])  # another browser: refused, with a way out
        other = await laptop.new_page()
        await sign_in(other, base, "student1", "/student")
        await other.goto(f"{base}/exam/{world.exam_id}")
        await other.wait_for_selector("#exam-loading .error")
        refusal = await other.inner_text("#exam-loading .error")
        assert t["elsewhere"] in refusal
        await shot(other, f"student-open-elsewhere-{lang}")
        await laptop.close()
    finally:
        await context.close()
        await client.close()
    assert await _count_attempts(services) == 1


async def _count_attempts(services) -> int:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return len((await conn.execute(select(attempts.c.id))).all())


def _proctored_args(tmp_path: Path, scene: np.ndarray, name: str) -> list[str]:
    frames = []
    for i in range(10):
        jpeg = sc.live(scene, seed=i)
        frames.append(cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    webcam = write_y4m(tmp_path / f"{name}.y4m", frames, fps=2)
    return [
        *CHROMIUM_FLAGS,
        f"--use-file-for-fake-video-capture={webcam}",
        "--auto-select-desktop-capture-source=Entire screen",
    ]


async def _analysis_pool(services) -> None:  # type: ignore[no-untyped-def]
    import dataclasses
    import os

    from proctor.config import load_config
    from proctor.runtime import ProctorRuntime

    config = load_config(os.environ, services.settings.data_dir, None)
    services.proctor = ProctorRuntime.build(
        dataclasses.replace(config, pool_workers=1), services.engine, now=services.clock.now()
    )


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_proctored_clock_starts_only_after_the_checks_and_camera_or_screen_trouble_says_what_to_do(
    services, tmp_path, lang
):
    from playwright.async_api import async_playwright

    world = await make_world(
        services, students=1, question_count=3, duration_s=600, requires_proctoring=True, student_language=lang
    )
    await _analysis_pool(services)
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    t = TEXT[lang]
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=_proctored_args(tmp_path, sc.person(), "face")
        )
        context = await b.new_context(locale=LOCALE[lang], viewport={"width": 1100, "height": 900})
        # The browser's refusal, as Chromium words it when the camera is blocked for the site.
        await context.add_init_script(
            "const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);"
            "navigator.mediaDevices.getUserMedia = (c) => window.__blockCamera"
            " ? Promise.reject(new DOMException('Permission denied', 'NotAllowedError')) : gum(c);"
        )
        page = await context.new_page()
        try:
            await sign_in(page, base, "student1", "/student")
            assert t["camera"] in (await page.inner_text(f"#needs-camera-{world.exam_id}")).lower()
            await shot(page, f"student-home-camera-{lang}")
            await page.click(f"a[href='/exam/{world.exam_id}/rules']")
            assert await page.query_selector("#rule-proctoring")
            await page.click("#rules-continue")
            await page.wait_for_url(f"{base}/exam/{world.exam_id}/check")
            await page.wait_for_selector('#camera-state[data-ok="true"]', timeout=15000)
            await page.check("#consent")
            await page.click("#continue")
            await page.wait_for_url(f"{base}/exam/{world.exam_id}", timeout=60000)
            await page.wait_for_selector("#exam:not([hidden])")
            await shot(page, f"student-exam-after-checks-{lang}")
            # Mid-exam the camera permission is withdrawn (the site's setting changed, another app took
            # it): the page must say to allow the camera, not to check the cable, and to go on.
            await page.evaluate(
                "window.__blockCamera = true;"
                "window.examMedia.getVideoTracks().forEach((t) => { t.stop(); t.dispatchEvent(new Event('ended')); })"
            )
            await page.wait_for_selector(f"#capture-alert:has-text('{t['camera_blocked']}')", timeout=10000)
            # The student stops sharing the screen: the dialog asks to share again, and Escape (pressed
            # in a hurry, twice) must not take it away with its only «Share the entire screen» button.
            await page.evaluate(
                "window.examScreen.getVideoTracks().forEach((t) => { t.stop(); t.dispatchEvent(new Event('ended')); })"
            )
            await page.wait_for_selector("#capture-dialog[open] #capture-dialog-button:not([hidden])")
            await page.keyboard.press("Escape")
            await page.keyboard.press("Escape")
            await page.wait_for_timeout(300)
            assert await page.is_visible("#capture-dialog-button")
            await page.click("#capture-dialog-button")  # the fake picker shares the entire screen again
            await page.wait_for_selector("#capture-dialog:not([open])", state="attached", timeout=10000)
        finally:
            await b.close()
            await client.close()
    attempt = await _the_attempt(services)
    async with services.engine.connect() as conn:
        created = (
            await conn.execute(select(audit_log.c.at).where(audit_log.c.action == "attempt.started"))
        ).scalar_one()
        passed = (
            await conn.execute(select(audit_log.c.at).where(audit_log.c.action == "attempt.checks_passed"))
        ).scalar_one()
    assert attempt.status == "in_progress"
    assert passed > created + timedelta(seconds=3)  # the checks took their time (photo, room scan)...
    assert attempt.started_at == passed  # ...and none of it came off the exam's:
    assert attempt.deadline_at - attempt.started_at == timedelta(seconds=600)


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_camera_without_a_face_fails_the_check_and_a_proctor_lets_the_student_in(services, tmp_path, lang):
    from playwright.async_api import async_playwright

    world = await make_world(
        services, students=1, question_count=3, duration_s=600, requires_proctoring=True, student_language=lang
    )
    await make_user(services, "proctor1", Role.PROCTOR)
    await assign_proctor(services, "proctor1", world.exam_id)
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    t = TEXT[lang]
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=_proctored_args(tmp_path, sc.wall(), "nobody")
        )
        page = await (await b.new_context(locale=LOCALE[lang], viewport={"width": 1100, "height": 900})).new_page()
        proctor = await new_api(client)
        try:
            await sign_in(page, base, "student1", "/student")
            await page.goto(f"{base}/exam/{world.exam_id}/check")
            await page.wait_for_selector('#camera-state[data-ok="true"]', timeout=15000)  # bright: a picture
            await page.check("#consent")
            await page.click("#continue")
            failed = page.locator("#proctor-steps li[data-ok=false]")
            await failed.wait_for(timeout=30000)
            assert t["no_face"] in await failed.inner_text()
            await shot(page, f"student-check-no-face-{lang}")
            attempt = await _the_attempt(services)
            assert attempt.status == "checks"  # no clock, no questions

            await proctor.login("proctor1")
            _, live = await proctor.call("GET", f"/api/v1/live/exams/{world.exam_id}")
            assert live["students"][0]["state"] == "needs_help"
            status, _ = await proctor.call(
                "POST",
                f"/api/v1/live/attempts/{attempt.id}/admit",
                {"reason": "камера бұзық / камера сломана; личность проверена"},
            )
            assert status == 200
            await page.goto(f"{base}/exam/{world.exam_id}/check")  # back to the questions
            await page.wait_for_url(f"{base}/exam/{world.exam_id}")
            await page.wait_for_selector("#exam:not([hidden])")
        finally:
            await proctor.client.close()  # type: ignore[attr-defined]
            await b.close()
            await client.close()
    admitted = await _the_attempt(services)
    assert admitted.status == "in_progress"
    assert admitted.deadline_at - admitted.started_at == timedelta(seconds=600)


@pytest.mark.parametrize("lang, duration_s", [("kk", 70), ("ru", 8)])
async def test_the_warnings_say_the_real_time_left_and_the_grading_rule(services, browser, lang, duration_s):
    world = await make_world(services, students=1, question_count=3, duration_s=duration_s, student_language=lang)
    client = await open_client(services, run_sweeper=True)
    base = str(client.make_url("")).rstrip("/")
    t = TEXT[lang]
    context = await browser.new_context(locale=LOCALE[lang])
    page = await context.new_page()
    try:
        await sign_in(page, base, "student1", "/student")
        await page.goto(f"{base}/exam/{world.exam_id}")  # straight to the exam: the rules come first
        await page.wait_for_url(f"{base}/exam/{world.exam_id}/rules")
        await page.click("#rules-continue")
        await page.wait_for_selector("#exam:not([hidden])")
        first_band = "300" if duration_s > 60 else "60"
        await page.wait_for_selector(f"#alert[data-band='{first_band}']")
        first = await page.inner_text("#alert")
        expected_minutes = -(-duration_s // 60)  # 70 s: "less than 2 min"; 8 s: "less than 1 min"; never "5"
        assert first.startswith(t["min_left"].format(m=expected_minutes)), first
        assert "5" not in first
        assert t["hand_in"] in first and t["unsatisfactory"] in first and t["not_automatic"] in first
        await shot(page, f"student-warning-{lang}")
        if duration_s > 60:
            await page.wait_for_selector("#alert[data-band='60']", timeout=20000)
            assert (await page.inner_text("#alert")).startswith(t["min_left"].format(m=1))
        else:
            await page.wait_for_url("**/result", timeout=30000)
            verdict = await page.inner_text("#verdict")
            assert t["unsatisfactory"] in verdict.lower()
            await shot(page, f"student-timed-out-{lang}")
    finally:
        await context.close()
        await client.close()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_an_annulment_reads_as_annulled_and_a_password_change_leads_on(services, browser, lang):
    from tests.e2e.test_journal_in_browser import open_journal_world
    from tests.integration.test_journal_world import relay_now, sit_exam

    jw = await open_journal_world(services, students=1)
    attempt_id = await sit_exam(services, jw, "student1", correct=1)
    async with services.engine.begin() as conn:
        await attempt_service.annul(conn, attempt_id, actor=ADMIN, reason="violation", now=services.clock.now())
    await relay_now(services)
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    t = TEXT[lang]
    context = await browser.new_context(locale=LOCALE[lang], viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    try:
        await sign_in(page, base, "student1", "/student")
        if lang == "ru":
            await page.click("button[value=ru]")
            await page.wait_for_selector("html[lang=ru]")
        card = await page.inner_text(f"#annulled-{jw.world.exam_id}")
        assert t["annulled"].lower() in card.lower() and "/ 100" not in card
        await shot(page, f"student-home-annulled-{lang}")
        await page.click("#my-results-link")
        heading = await page.inner_text("section.card h2")
        assert heading.startswith("Law") and "LAW-101" not in heading  # the discipline's name, not its code
        exam_cell = await page.inner_text("section.card td.exam-cell")
        assert t["annulled"].lower() in exam_cell.lower() and "20" not in exam_cell  # no score shown as a result
        await shot(page, f"student-results-annulled-{lang}")

        await page.goto(f"{base}/account")
        await page.fill("#current", PASSWORD)
        await page.fill("#new", "a brand new passphrase 2026")
        await page.click("form[action='/account'] button[type=submit]")
        await page.click("#onward")
        await page.wait_for_url(f"{base}/student")
        await shot(page, f"student-after-password-{lang}")
    finally:
        await context.close()
        await client.close()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_hand_in_without_a_connection_says_it_did_not_go_and_the_exam_goes_on(services, browser, lang):
    # The student presses «Hand in» while the hall's network is down. Nothing reaches the server: the
    # page must say the exam is NOT handed in (it said nothing, and with every answer saved the clock
    # froze for good), keep the clock running, and once the connection is back say it is still not
    # handed in. After a reload the bar says the answers are saved (it was empty).
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    t = TEXT[lang]
    async with served_page(services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 740}) as (
        base,
        page,
    ):
        await open_exam(page, base, world.exam_id)
        await page.click("#q-options .option >> nth=0")
        await page.wait_for_selector("#save-status:not(.pending):has-text('№')")
        await page.reload()
        await page.wait_for_selector("#exam:not([hidden])")
        assert t["all_saved"] in await page.inner_text("#save-status")

        await page.context.set_offline(True)
        await page.click("#submit")
        await page.click("#confirm-yes")
        await page.wait_for_selector(f"#alert:has-text('{t['not_handed_in']}')", timeout=10000)
        # In sight on the phone, below the time bar: not above the screen where «Hand in» was pressed.
        bar, said = await page.locator(".exam-bar").bounding_box(), await page.locator("#alert").bounding_box()
        assert bar and said and bar["y"] + bar["height"] <= said["y"] < 740, (bar, said)
        await page.screenshot(path=str(SCREENSHOTS / f"student-hand-in-offline-{lang}.png"))
        shown = await page.inner_text("#remaining")
        await page.wait_for_timeout(2500)
        assert await page.inner_text("#remaining") != shown  # the clock goes on
        assert (await _the_attempt(services)).status == "in_progress"

        await page.context.set_offline(False)
        await page.wait_for_selector(f"#alert:has-text('{t['back_not_handed_in']}')", timeout=20000)
        assert (await _the_attempt(services)).status == "in_progress"
        await page.click("#submit")
        await page.click("#confirm-yes")
        await page.wait_for_selector("#score")
    assert (await _the_attempt(services)).status == "submitted"


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_time_running_out_offline_keeps_the_page_and_opens_the_result_when_the_connection_returns(
    services, browser, lang
):
    # The hall's network drops in the last seconds. The page went to the result anyway a minute after
    # the deadline, and the browser showed its own "no internet" page, in its words and language.
    world = await make_world(services, students=1, question_count=3, duration_s=8, student_language=lang)
    t = TEXT[lang]
    async with served_page(services, browser, locale=LOCALE[lang]) as (base, page):
        await open_exam(page, base, world.exam_id)
        await page.context.set_offline(True)
        await page.wait_for_selector(f"#alert:has-text('{t['result_when_online']}')", timeout=30000)
        assert t["unsatisfactory"] in (await page.inner_text("#alert")).lower()  # the rule stays said
        assert f"/exam/{world.exam_id}" in page.url
        await page.wait_for_timeout(4000)  # a few more tries of the page: it stays
        assert f"/exam/{world.exam_id}" in page.url
        await page.context.set_offline(False)
        await page.wait_for_url("**/result", timeout=90000)
        assert t["unsatisfactory"] in (await page.inner_text("#verdict")).lower()


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_on_a_phone_the_next_question_is_not_hidden_under_the_time_bar(services, browser, lang):
    # At 360 px the student scrolls down to «Next»; the focus moves to the next question's title,
    # which must come to rest below the sticky time bar, not under it.
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    async with served_page(services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 600}) as (
        base,
        page,
    ):
        await open_exam(page, base, world.exam_id)
        for _ in range(2):
            await page.locator("#next").scroll_into_view_if_needed()
            assert await page.evaluate("window.scrollY") > 0  # the page is longer than the screen
            await page.focus("#next")
            await page.keyboard.press("Enter")
            assert await page.evaluate("document.activeElement.id") == "q-title"
            bar = await page.locator(".exam-bar").bounding_box()
            title = await page.locator("#q-title").bounding_box()
            assert bar and title
            assert title["y"] >= bar["y"] + bar["height"], (bar, title)


BUSY = {
    "status": 503,
    "headers": {"Retry-After": "1"},
    "content_type": "application/json",
    "body": '{"error": {"code": "database_busy", "message": "busy"}}',
}


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_busy_or_unreachable_server_loses_no_answer_and_the_page_says_what_it_waits_for(
    services, browser, lang
):
    # The server's bounded wait for the database answers 503 (and a proxy answers 502 while it
    # restarts): such a save was dropped from the queue as if refused — the answer never reached the
    # server and nothing sent it again. And a page whose first request found no server said
    # «Loading…» for ever. Now both wait and try again, and say so in the student's language.
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    t = TEXT[lang]
    async with served_page(services, browser, locale=LOCALE[lang], viewport={"width": 1280, "height": 800}) as (
        base,
        page,
    ):
        await sign_in(page, base, "student1", "/student")
        await page.goto(f"{base}/exam/{world.exam_id}/rules")
        await page.route("**/api/v1/exams/*/start", lambda route: route.abort("internetdisconnected"))
        await page.click("#rules-continue")
        await page.wait_for_selector(f"#exam-loading:has-text('{t['start_offline']}')", timeout=10000)
        await page.unroute("**/api/v1/exams/*/start")
        await page.wait_for_selector("#exam:not([hidden])", timeout=15000)

        await page.route("**/api/v1/attempts/*/answers/*", lambda route: route.fulfill(**BUSY))
        await page.click("#q-options .option >> nth=2")
        await page.wait_for_selector("#save-status.offline", timeout=10000)
        attempt = await _the_attempt(services)
        assert await stored_choices(services, attempt.id) == {}
        await page.unroute("**/api/v1/attempts/*/answers/*")
        await page.wait_for_selector("#save-status:not(.offline):not(.pending):has-text('№')", timeout=15000)
        assert await stored_choices(services, attempt.id) == {1: 2}
        assert await page.inner_text("#alert") == ""  # no «Something went wrong»


def _clock_s(text: str) -> int:
    parts = [int(x) for x in text.split(":")]
    return parts[0] * 3600 + parts[1] * 60 + parts[2] if len(parts) == 3 else parts[0] * 60 + parts[1]


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_pause_is_shown_where_the_student_is_and_the_clock_agrees_with_the_server_after_it(
    services, browser, lang
):
    # The proctor pauses the attempt while the student, on a phone, is scrolled down to the options:
    # the page learns it from its presence ping, locks the options and must say why there, not in
    # the message box above the screen. After the resume the clock shows the server's time left.
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=lang)
    t = TEXT[lang]
    async with served_page(services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 600}) as (
        base,
        page,
    ):
        await open_exam(page, base, world.exam_id)
        await page.locator("#submit").scroll_into_view_if_needed()
        assert await page.evaluate("window.scrollY") > 0
        attempt = await _the_attempt(services)
        async with services.engine.begin() as conn:
            await live_control.pause(conn, ADMIN, attempt.id, reason="e2e", now=services.clock.now())
        await page.wait_for_selector(f"#alert:has-text('{t['paused']}')", timeout=25000)
        assert await page.is_disabled("#q-options .option >> nth=0 >> input")
        bar, said = await page.locator(".exam-bar").bounding_box(), await page.locator("#alert").bounding_box()
        assert bar and said and bar["y"] + bar["height"] <= said["y"] < 600, (bar, said)

        async with services.engine.begin() as conn:
            await live_control.resume(conn, ADMIN, attempt.id, reason="e2e", now=services.clock.now())
        await page.wait_for_selector("#q-options .option >> nth=0 >> input:not([disabled])", timeout=25000)
        resumed = await _the_attempt(services)
        left = (resumed.deadline_at - services.clock.now()).total_seconds()
        assert abs(_clock_s(await page.inner_text("#remaining")) - left) <= 2


def _camera_fails_with(name: str) -> str:
    return (
        "navigator.mediaDevices.getUserMedia = () =>"
        f" Promise.reject(new DOMException('Could not start video source', '{name}'));"
    )


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_the_check_page_says_why_there_is_no_camera(services, browser, lang):
    # Before a proctored exam the camera may be held by another program (a video call left open) or
    # not be there at all: «allow the camera in the browser» (all the page said) helps with neither.
    world = await make_world(
        services, students=1, question_count=3, duration_s=600, requires_proctoring=True, student_language=lang
    )
    t = TEXT[lang]
    async with served_page(services, browser, locale=LOCALE[lang], viewport={"width": 360, "height": 740}) as (
        base,
        page,
    ):
        await sign_in(page, base, "student1", "/student")
        await page.context.add_init_script(_camera_fails_with("NotReadableError"))
        await page.goto(f"{base}/exam/{world.exam_id}/check")
        await page.wait_for_selector(f"#camera-state:has-text('{t['media_busy']}')")
        assert await page.is_disabled("#continue")
        await page.context.add_init_script(_camera_fails_with("NotFoundError"))
        await page.reload()
        await page.wait_for_selector(f"#camera-state:has-text('{t['media_missing']}')")
        assert await page.is_disabled("#continue")
