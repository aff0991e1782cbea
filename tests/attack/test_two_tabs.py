"""The exam open in two tabs of the same browser (an old tab left open, a second one opened by mistake).

Both tabs belong to the same session and device, so the server accepts answers from both, and keeps
for each question the answer with the highest sequence number. Each tab used to count its own
sequence numbers from the moment it loaded: a click in the tab that had counted less was answered
200 "saved" but not stored (the other tab's older click kept a higher number), the tab still showed
the student's last choice, and that answer was lost at hand-in.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from exam_engine.tables import attempts
from tests.e2e.conftest import browser, clock, open_exam, served_page, webcam_file  # noqa: F401 - fixtures
from tests.factories import make_world, stored_choices

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

SAVED = "#save-status:not(.pending):not(.offline):has-text('№')"


async def _choose(page, option: int) -> None:  # type: ignore[no-untyped-def]
    await page.click(f"#q-options .option >> nth={option}")
    await page.wait_for_selector(SAVED)


async def _two_tabs(services, base: str, old_tab, exam_id: int):  # type: ignore[no-untyped-def]
    await open_exam(old_tab, base, exam_id)
    async with services.engine.connect() as conn:
        attempt_id = (await conn.execute(select(attempts.c.id))).scalar_one()
    new_tab = await old_tab.context.new_page()
    await new_tab.goto(f"{base}/exam/{exam_id}")
    await new_tab.wait_for_selector("#exam:not([hidden])")
    return attempt_id, new_tab


async def test_the_last_click_in_either_of_two_tabs_is_the_stored_answer(services, browser):  # noqa: F811
    world = await make_world(services, students=1, question_count=3, duration_s=1200)
    async with served_page(services, browser, locale="kk-KZ") as (base, old_tab):
        attempt_id, new_tab = await _two_tabs(services, base, old_tab, world.exam_id)
        # The student changes their mind twice on question 1 in the new tab…
        await _choose(new_tab, 0)
        await _choose(new_tab, 1)
        assert (await stored_choices(services, attempt_id)).get(1) == 1
        # …then, back in the old tab, picks a third option: that is their answer now.
        await _choose(old_tab, 2)
        assert (await stored_choices(services, attempt_id)).get(1) == 2, (
            "the old tab said 'saved' and its answer was not stored"
        )
        # And the other way round: the new tab's later click wins over the old tab's.
        await _choose(new_tab, 3)
        assert (await stored_choices(services, attempt_id)).get(1) == 3
        await _choose(old_tab, 0)
        assert (await stored_choices(services, attempt_id)).get(1) == 0


async def test_an_answer_waiting_in_one_tab_survives_its_reload_after_the_other_tab_saved(services, browser):  # noqa: F811
    """The tabs share the browser's store of answers waiting for their receipt: one tab's save used to
    overwrite it with its own (empty) queue, and the other tab, reloaded, had lost what it was sending."""
    world = await make_world(services, students=1, question_count=3, duration_s=1200)
    async with served_page(services, browser, locale="kk-KZ") as (base, old_tab):
        attempt_id, new_tab = await _two_tabs(services, base, old_tab, world.exam_id)
        # The new tab's saves do not get through (its connection hangs); the answer waits in its queue.
        await new_tab.route("**/answers/**", lambda route: route.abort())
        await new_tab.click("#next")
        await new_tab.click("#q-options .option >> nth=2")
        await new_tab.wait_for_selector("#save-status.offline", timeout=10000)
        # Meanwhile the old tab saves an answer to question 1.
        await _choose(old_tab, 1)
        # The new tab is reloaded (the student presses F5): its waiting answer is sent and stored.
        await new_tab.unroute("**/answers/**")
        await new_tab.reload()
        await new_tab.wait_for_selector("#exam:not([hidden])")
        for _ in range(100):  # the reloaded page sends what waits at once; give it 10 s
            if (await stored_choices(services, attempt_id)).get(2) is not None:
                break
            await asyncio.sleep(0.1)
        assert (await stored_choices(services, attempt_id)).get(2) == 2, "the waiting answer was lost at the reload"
        assert (await stored_choices(services, attempt_id)).get(1) == 1
