"""The quality department's held-exam page in headless Chromium, in Kazakh and Russian (issue 25).

The miskeyed bank of ``tests/integration/test_result_holds.py``: the gate holds the exam; the
department reads the flagged question's option statistics, re-keys it with a reason, releases the
results; the journal then holds the corrected scores and a strong student reads "92 → 100".
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from journal_bridge.tables import academic_periods, journal_exam_results
from tests.e2e.conftest import shot
from tests.e2e.test_quality_in_browser import sign_in
from tests.factories import open_client
from tests.integration.test_journal_world import rows
from tests.integration.test_result_holds import REAL, STRONG, miskeyed_world, relay_now

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]


async def test_the_quality_department_reads_a_held_exam_rekeys_it_and_releases_it_in_kk_and_ru(services, browser):
    jw, ids = await miskeyed_world(services)
    async with services.engine.begin() as conn:  # the browser lives in real time: keep the period open
        await conn.execute(update(academic_periods).values(closes_at=services.clock.now() + timedelta(days=30)))
    assert (await relay_now(services)).held == [jw.world.exam_id]
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="kk-KZ", viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    try:
        await sign_in(page, base, "quality1", "/quality/holds")
        assert await page.locator("#held tbody tr").count() == 1
        await page.click(f"a[href='/quality/holds/{jw.world.exam_id}']")
        await page.wait_for_selector(".flagged-item")
        item = page.locator(".flagged-item")
        assert await item.count() == 1
        text = await item.inner_text()
        assert "Кілт қате болуы мүмкін: үздік білім алушылар басқа нұсқаны таңдайды" in text
        assert "Теріс дискриминация" in text
        # Option B (the real answer) was chosen by every strong student; the stored key A by none of them.
        strong_b = await item.locator("table.options tbody tr").nth(REAL).locator("td").nth(1).inner_text()
        strong_a = await item.locator("table.options tbody tr").nth(0).locator("td").nth(1).inner_text()
        assert (int(strong_a), int(strong_b)) == (0, 6)  # the top 27 % of 20
        assert "Тоқтатылған" in await page.inner_text("#hold-state")
        await shot(page, "quality-hold-kk")

        await page.click("button[name=lang][value=ru]")
        await page.wait_for_url(f"{base}/quality/holds/{jw.world.exam_id}")
        assert "Задержаны" in await page.inner_text("#hold-state")
        assert "Выбрали самые сильные обучающиеся" in await page.inner_text(".flagged-item")
        await shot(page, "quality-hold-ru")

        # A decision without a reason is refused by the browser; with one, every attempt is regraded.
        await page.check(".flagged-item input[name=action][value=rekey]")
        await page.check(f".flagged-item input[name=option][value='{REAL}']")
        await page.fill(".flagged-item textarea[name=reason]", "Ключ ошибочен: верный ответ — вариант B")
        await page.click(".flagged-item button[type=submit]")
        await page.wait_for_selector("#decisions")
        cells = await page.locator("#decisions tbody tr td").all_inner_texts()
        assert cells[2:5] == ["Изменить ключ", "B", "Ключ ошибочен: верный ответ — вариант B"]
        assert cells[6] == "20"
        await page.fill("#release-reason", "Ключ исправлен, оценки пересчитаны")
        await page.click("#release-form button[type=submit]")
        await page.wait_for_url(f"{base}/quality/holds/{jw.world.exam_id}?released=1")
        assert "Переданы в журнал" in await page.inner_text("#hold-state")
        await shot(page, "quality-hold-released-ru")

        assert (await relay_now(services)).delivered == 20
        scores = {r.attempt_id: r.score for r in await rows(services, select(journal_exam_results))}
        assert {scores[str(ids[s])] for s in jw.world.students[:STRONG]} == {100}

        # The strong student's own result page (kk) shows the regrade.
        student = await (await browser.new_context(locale="kk-KZ")).new_page()
        first = jw.world.students[0]
        await sign_in(student, base, first, f"/attempt/{ids[first]}/result")
        assert await student.inner_text("#score") == "100 / 100"
        assert "92 → 100" in await student.inner_text("#result-note")
        await shot(student, "quality-hold-student-result-kk")
    finally:
        await context.close()
        await client.close()
