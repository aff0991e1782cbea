"""An answer refused for a moment is sent again, never dropped.

The exam page treated every answer the server did not take — other than "paused", "finished",
"open elsewhere" or "signed out" — like a wrong request: it took the answer out of its queue and
wrote the error. But ``503 server_busy`` (a bounded wait for the database ran out, ``Retry-After``),
``429`` (the session's request budget), ``408`` (the body did not arrive) and nginx's ``502``/``504``
(a worker restarting) say "try again": the answer stayed shown as chosen, was never stored, and a
hand-in went ahead without it.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import select

from exam_engine.tables import attempts
from tests.e2e.conftest import browser, clock, open_exam, served_page, shot, webcam_file  # noqa: F401 - fixtures
from tests.factories import make_world, stored_choices

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

BUSY = json.dumps(
    {"error": {"code": "server_busy", "message": "Сервер қазір бос емес. Бірнеше секундтан кейін қайталап көріңіз."}}
)


async def _exam_page(services, base: str, page, exam_id: int) -> uuid.UUID:  # type: ignore[no-untyped-def]
    await open_exam(page, base, exam_id)
    async with services.engine.connect() as conn:
        return (await conn.execute(select(attempts.c.id))).scalar_one()


async def test_answers_refused_as_busy_or_by_a_restarting_proxy_are_sent_again_and_handed_in(services, browser):  # noqa: F811
    world = await make_world(services, students=1, question_count=3, duration_s=1200)
    async with served_page(services, browser, locale="kk-KZ") as (base, page):
        attempt_id = await _exam_page(services, base, page, world.exam_id)

        # The first saves meet a busy server, a restarting proxy and the request budget; then all is well.
        refusals = [
            {"status": 503, "body": BUSY, "headers": {"Retry-After": "1"}, "content_type": "application/json"},
            {"status": 502, "body": "<html><body>502 Bad Gateway</body></html>", "content_type": "text/html"},
            {"status": 429, "body": "{}", "headers": {"Retry-After": "1"}, "content_type": "application/json"},
        ]

        async def refuse_first(route):  # type: ignore[no-untyped-def]
            if refusals:
                await route.fulfill(**refusals.pop(0))
            else:
                await route.continue_()

        await page.route("**/answers/**", refuse_first)
        await page.click("#q-options .option >> nth=1")
        await page.click("#next")
        await page.click("#q-options .option >> nth=2")
        for _ in range(150):  # backing off: within 15 s both answers are in
            if len(await stored_choices(services, attempt_id)) == 2:
                break
            await asyncio.sleep(0.1)
        assert not refusals, "the page did not send again after a refusal"
        assert await stored_choices(services, attempt_id) == {1: 1, 2: 2}
        await page.wait_for_selector("#save-status:not(.pending):not(.offline):has-text('№')")
        await page.click("#submit")
        await page.click("#confirm-yes")
        await page.wait_for_url(f"{base}/attempt/{attempt_id}/result")
        assert await stored_choices(services, attempt_id) == {1: 1, 2: 2}


async def test_a_hand_in_that_does_not_reach_the_server_says_so_and_the_page_goes_on(services, browser):  # noqa: F811
    """The hand-in's request failing on the network (no answer at all) left the page silent, its clock
    stopped: the student could leave believing they had handed in, and be graded «unsatisfactory» at
    the deadline."""
    world = await make_world(services, students=1, question_count=3, duration_s=1200)
    async with served_page(services, browser, locale="kk-KZ") as (base, page):
        attempt_id = await _exam_page(services, base, page, world.exam_id)
        await page.click("#q-options .option >> nth=1")
        await page.wait_for_selector("#save-status:not(.pending):not(.offline):has-text('№')")
        await page.route("**/submit", lambda route: route.abort())
        await page.click("#submit")
        await page.click("#confirm-yes")
        await page.wait_for_selector("#alert:has-text('ТАПСЫРЫЛМАДЫ: сервермен байланыс жоқ')", timeout=10000)
        shown = await page.inner_text("#remaining")
        await asyncio.sleep(2.2)
        assert await page.inner_text("#remaining") != shown, "the clock stopped after the failed hand-in"
        async with services.engine.connect() as conn:
            assert (await conn.execute(select(attempts.c.status))).scalar_one() == "in_progress"
        await page.unroute("**/submit")
        await page.click("#submit")
        await page.click("#confirm-yes")
        await page.wait_for_url(f"{base}/attempt/{attempt_id}/result")
        async with services.engine.connect() as conn:
            assert (await conn.execute(select(attempts.c.status))).scalar_one() != "in_progress"


NOT_SAVED = {
    "kk": "Сервер 1-сұраққа берген жауабыңызды сақтай алмады. Прокторды шақырыңыз.",
    "ru": "Сервер не смог сохранить ваш ответ на вопрос 1. Позовите проктора.",
}
FAULT = {
    "kk": "Сервер сұрауды орындай алмады; қате тіркелді.",
    "ru": "Сервер не смог выполнить запрос; ошибка записана.",
}


@pytest.mark.parametrize("language", ["kk", "ru"])
async def test_an_answer_the_server_always_fails_is_told_and_holds_no_later_answer(services, browser, language):  # noqa: F811
    """Every 5xx was "try again", forever, first in the queue: an answer the server failed each time
    (a 500) held every later answer behind it, unsaved, with the page saying "the server is busy"."""
    world = await make_world(services, students=1, question_count=3, duration_s=1200, student_language=language)
    async with served_page(services, browser, locale=f"{language}-KZ") as (base, page):
        attempt_id = await _exam_page(services, base, page, world.exam_id)
        tries: list[float] = []

        async def fail_question_one(route):  # type: ignore[no-untyped-def]
            if route.request.url.endswith("/answers/1"):
                tries.append(asyncio.get_running_loop().time())
                body = {"error": {"code": "internal_error", "message": FAULT[language]}}
                await route.fulfill(status=500, body=json.dumps(body), content_type="application/json")
            else:
                await route.continue_()

        await page.route("**/answers/**", fail_question_one)
        for option in (1, 2, 0):
            await page.click(f"#q-options .option >> nth={option}")
            if option != 0:
                await page.click("#next")
        # The later answers are stored while the first one is still being tried.
        for _ in range(30):
            if len(await stored_choices(services, attempt_id)) == 2:
                break
            await asyncio.sleep(0.1)
        assert await stored_choices(services, attempt_id) == {2: 2, 3: 0}
        assert len(tries) < 4, "the later answers waited for the failing one to be given up"
        # Tried four times with back-off (1, 2, 4 s), then the student is told which answer was not saved.
        await page.wait_for_selector(f"#alert:has-text('{NOT_SAVED[language]}')", timeout=15000)
        assert len(tries) == 4, tries
        gaps = [b - a for a, b in zip(tries, tries[1:], strict=False)]
        assert all(gap >= 0.9 for gap in gaps) and gaps[-1] >= 3.5, gaps
        await asyncio.sleep(2)
        assert len(tries) == 4, "the page kept sending an answer the server fails"
        status = {"kk": "Сақталмады: 1-сұрақ", "ru": "Не сохранён: вопрос 1"}[language]
        await page.wait_for_selector(f"#save-status.offline:not(.pending):has-text('{status}')")
        await shot(page, f"exam-answer-not-saved-{language}")
        assert 1 not in await stored_choices(services, attempt_id)

        # The fault is mended; the student chooses the answer again: it is saved and the notice goes.
        await page.unroute("**/answers/**")
        await page.click("#prev")
        await page.click("#prev")
        # The question shows what the server holds (nothing), not the click it could not save.
        assert await page.locator("#q-options input:checked").count() == 0
        await page.click("#q-options .option >> nth=1")
        for _ in range(50):
            if len(await stored_choices(services, attempt_id)) == 3:
                break
            await asyncio.sleep(0.1)
        assert await stored_choices(services, attempt_id) == {1: 1, 2: 2, 3: 0}
        await page.wait_for_function(
            "text => !document.getElementById('alert').textContent.includes(text)", arg=NOT_SAVED[language]
        )
        await page.click("#submit")
        await page.click("#confirm-yes")
        await page.wait_for_url(f"{base}/attempt/{attempt_id}/result")
