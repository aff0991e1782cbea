"""A late exam-result correction in headless Chromium, in Kazakh and Russian (J5, J6).

The miskeyed bank of ``tests/integration/test_result_holds.py``: the results reach the journal,
the period closes, then the quality department re-keys the flagged question. Every regraded
score is now a correction that waits for a deputy head: the teacher sees it waiting on the
grid, the deputy head approves the strong student's on the page (a comment is required, and the
page asks first), and the journal's exam column then shows "92 → 100" with the correction applied.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from exam_engine.services import holds
from exam_engine.tables import audit_log
from exam_engine.web.api_journal import audit_sink
from journal_bridge import api as journal
from journal_bridge.tables import academic_periods, journal_exam_results
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_quality_in_browser import sign_in
from tests.factories import ADMIN, open_client
from tests.integration.test_journal_world import rows
from tests.integration.test_result_holds import (
    REAL,
    _bank_id,
    miskeyed_world,
    quality,
    relay_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]


async def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """What the reader sees (the viewport): a queue of twenty cards is too long for one readable picture."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def late_corrections(services):  # type: ignore[no-untyped-def]
    """Results in the journal, the period closed, then a re-key: twenty corrections wait for a deputy head."""
    jw, ids = await miskeyed_world(services)
    now = services.clock.now()
    async with services.engine.begin() as conn:  # the browser lives in real time: open while the results arrive
        await conn.execute(update(academic_periods).values(closes_at=now + timedelta(days=30)))
        assert (await relay_now(services)).held == [jw.world.exam_id]
        await holds.release(conn, quality(jw), jw.world.exam_id, reason="Тексерілді", now=now)
    assert (await relay_now(services)).delivered == 20
    async with services.engine.begin() as conn:
        await journal.lock_period(
            conn,
            "2025-2026-2",
            by=ADMIN.label,
            now=services.clock.now(),
            audit=audit_sink(conn, services.clock.now(), ADMIN),
        )
        await conn.execute(update(academic_periods).values(closes_at=services.clock.now() - timedelta(minutes=1)))
    strong = ids[jw.world.students[0]]
    async with services.engine.begin() as conn:
        done = await holds.decide_item(
            conn,
            quality(jw),
            jw.world.exam_id,
            item=f"item:{await _bank_id(conn, strong)}",
            action="rekey",
            options=[REAL],
            reason="Кілт қате: дұрыс жауап — B нұсқасы",
            now=services.clock.now(),
        )
    assert done.corrections == 20
    assert (await relay_now(services)).delivered == 20
    return jw, ids


async def test_a_deputy_head_approves_a_late_result_correction_and_the_journal_shows_the_new_score(services, browser):
    jw, ids = await late_corrections(services)
    strong = str(ids[jw.world.students[0]])
    async with services.engine.connect() as conn:
        pending = await journal.result_corrections(conn, pending=True)
    mine = next(p for p in pending if p["attempt_id"] == strong)
    assert (mine["old"]["score"], mine["new"]["score"]) == (92, 100)
    student_id = jw.ids[jw.world.students[0]]
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    teacher = await browser.new_context(locale="kk-KZ", viewport={"width": 1200, "height": 900})
    deputy = await browser.new_context(locale="kk-KZ", viewport={"width": 1100, "height": 900})
    try:
        # The teacher sees the regraded score waiting for the deputy head, and the journal unchanged.
        grid = await teacher.new_page()
        await sign_in(grid, base, "teacher1", f"/journals/{jw.journal_id}")
        waiting = grid.locator(f'#result-corrections tr[data-student="{student_id}"]')
        assert "92 → 100" in await waiting.inner_text()
        assert "бастық орынбасарының бекітуін күтуде" in await waiting.locator(".state").inner_text()
        assert (
            await rows(
                services, select(journal_exam_results.c.score).where(journal_exam_results.c.attempt_id == strong)
            )
        )[0].score == 92
        await grid.locator("#result-corr-h").evaluate("h => h.scrollIntoView()")
        await shot(grid, "corr_teacher-waiting-kk")

        # The deputy head's start page leads to the queue; every card names student, discipline, scores, who, why.
        page = await deputy.new_page()
        await sign_in(page, base, "deputy", "/")
        await page.click("a[href='/journal/result-corrections']")
        await page.wait_for_url(f"{base}/journal/result-corrections")
        assert await page.locator("li.correction").count() == 20
        card = page.locator(f"#result-correction-{mine['id']}")
        text = await card.inner_text()
        assert "Үмбетова Іңкәр" in text and "92 → 100" in text and "Test quality1" in text
        assert "Кілт қате: дұрыс жауап — B нұсқасы" in text
        await shot(page, "corr_queue-kk")
        await page.click("button[name=lang][value=ru]")
        await page.wait_for_url(f"{base}/journal/result-corrections")
        assert "Исправления результатов экзаменов, ожидающие утверждения" in await page.inner_text("h1")
        await shot(page, "corr_queue-ru")

        # No comment: the browser asks for one; past the browser, the server refuses and changes nothing.
        await card.locator("button[value=approve]").click()
        assert await page.locator("#confirm-review").count() == 0
        await page.evaluate("document.querySelectorAll('textarea[required]').forEach(t => t.required = false)")
        await card.locator("button[value=approve]").click()
        await page.wait_for_selector("#review-error")
        assert f"Напишите комментарий к исправлению № {mine['id']}" in await page.inner_text("#review-error")

        # With a comment the page asks first; only "Yes" decides.
        card = page.locator(f"#result-correction-{mine['id']}")
        await card.locator("textarea[name=note]").fill("Утверждаю: ключ исправлен отделом качества")
        await card.locator("button[value=approve]").click()
        await page.wait_for_selector("#confirm-review")
        assert "Үмбетова Іңкәр" in await page.inner_text("#confirm-p")
        assert "с 92 на 100" in await page.inner_text("#confirm-p")
        assert await page.inner_text("#confirm-h") == f"Одобрить исправление № {mine['id']}?"
        await shot(page, "corr_confirm-ru")
        async with services.engine.connect() as conn:
            assert mine["id"] in {p["id"] for p in await journal.result_corrections(conn, pending=True)}
        await page.click("#confirm-yes")
        await page.wait_for_selector("#review-notice")
        assert "в журнале новый балл" in await page.inner_text("#review-notice")
        assert await page.locator("li.correction").count() == 19
        await shot(page, "corr_approved-ru")

        # The journal shows the new score, and the teacher reads the correction as approved, with the comment.
        await grid.reload()
        exam_cell = await grid.locator(f'#grid tr[data-student="{student_id}"] td.exam').inner_text()
        assert "92 → 100" in exam_cell
        state = await grid.locator(f'#result-corrections tr[data-student="{student_id}"] .state').inner_text()
        assert "бекітіліп, енгізілді" in state and "Утверждаю: ключ исправлен отделом качества" in state
        await grid.locator("#result-corr-h").evaluate("h => h.scrollIntoView()")
        await shot(grid, "corr_teacher-applied-kk")
    finally:
        await teacher.close()
        await deputy.close()
        await client.close()
    assert (
        await rows(services, select(journal_exam_results.c.score).where(journal_exam_results.c.attempt_id == strong))
    )[0].score == 100
    approved = await rows(services, select(audit_log).where(audit_log.c.action == "journal.result_correction_approved"))
    assert [(a.actor, a.after["note"]) for a in approved] == [
        ("user:deputy", "Утверждаю: ключ исправлен отделом качества")
    ]


async def test_only_a_deputy_head_decides_and_a_rejection_keeps_the_old_score(services):
    from tests.factories import new_api

    jw, ids = await late_corrections(services)
    strong = str(ids[jw.world.students[0]])
    async with services.engine.connect() as conn:
        mine = next(p for p in await journal.result_corrections(conn, pending=True) if p["attempt_id"] == strong)
    client = await open_client(services)
    path = f"/journal/result-corrections/{mine['id']}"
    try:
        people = {login: await new_api(client) for login in ("teacher1", "dean", "deputy")}
        for login, api in people.items():
            await api.login(login)
        resp = await people["teacher1"].client.request("GET", "/journal/result-corrections", allow_redirects=False)
        assert resp.status == 403  # a teacher has no review permission
        resp = await people["dean"].client.request("GET", "/journal/result-corrections")
        page = await resp.text()  # a faculty head reviews journal corrections, not regraded results (J6)
        assert resp.status == 200 and 'id="queue-empty"' in page and "92 → 100" not in page
        deputy = people["deputy"]
        form = {"_csrf": deputy.csrf or "", "decision": "reject", "note": "Кілт дұрыс болған"}
        resp = await deputy.client.request("POST", path, data={**form, "_csrf": "stale"}, allow_redirects=False)
        assert resp.status == 403  # the form's CSRF token is checked
        resp = await deputy.client.request("POST", path, data=form, allow_redirects=False)
        assert resp.status == 200 and 'id="confirm-review"' in await resp.text()  # asked first, nothing decided
        resp = await deputy.client.request(
            "POST",
            f"/journal/result-corrections/{mine['id'] + 1000}",
            data={**form, "confirm": "1"},
            allow_redirects=False,
        )
        assert resp.status == 404
        resp = await deputy.client.request("POST", path, data={**form, "confirm": "1"}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].endswith(f"id={mine['id']}&state=rejected")
        resp = await deputy.client.request("POST", path, data={**form, "confirm": "1"}, allow_redirects=False)
        assert resp.status == 404  # decided once: it no longer waits
        for api in people.values():
            await api.client.close()
    finally:
        await client.close()
    assert (
        await rows(services, select(journal_exam_results.c.score).where(journal_exam_results.c.attempt_id == strong))
    )[0].score == 92
    rejected = await rows(services, select(audit_log).where(audit_log.c.action == "journal.result_correction_rejected"))
    assert [(a.actor, a.after["note"]) for a in rejected] == [("user:deputy", "Кілт дұрыс болған")]
