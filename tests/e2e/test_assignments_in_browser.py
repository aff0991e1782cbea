"""The academic administration assigns a proctor to an exam and a faculty head to a faculty in real
headless Chromium (kk and ru); the proctor's dashboard then shows that exam, and only it (issue 19)."""

from __future__ import annotations

import pytest

from exam_engine.domain.roles import Role
from tests.e2e.conftest import shot, sign_in
from tests.factories import make_user, make_world, open_client

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]


async def test_the_administration_assigns_a_proctor_and_a_faculty_head_on_the_pages(services, browser):
    world = await make_world(services, students=1, requires_proctoring=True)
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN, language="ru")
    await make_user(services, "admin2", Role.ACADEMIC_ADMIN, language="kk")
    await make_user(services, "proctor.a", Role.PROCTOR, language="kk")
    await make_user(services, "proctor.b", Role.PROCTOR, language="kk")
    await make_user(services, "dean.f1", Role.FACULTY_HEAD, language="kk")
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    admin = await browser.new_context(locale="ru-RU", viewport={"width": 1200, "height": 900})
    proctor = await browser.new_context(locale="kk-KZ", viewport={"width": 1200, "height": 900})
    page = await admin.new_page()
    try:
        await sign_in(page, base, "admin1")
        await page.click("a[href='/admin/assignments']")
        await page.wait_for_selector("h1:has-text('Назначения')")
        # A faculty head: chosen from the faculty heads' accounts, assigned to the group's faculty.
        await page.select_option("#f-faculty_head-login", "dean.f1")
        await page.select_option("#f-faculty_head-faculty", "F1")
        await page.click("section:has(#fh-h) button[type=submit]")
        await page.wait_for_selector("text=Начальник факультета назначен.")
        assert "dean.f1" in await page.inner_text("section:has(#fac-h)")
        # A department whose faculty does not exist is refused beside the field, nothing added.
        await page.fill("#f-department-code", "D1")
        await page.fill("#f-department-name", "Кафедра права")
        await page.click("section:has(#dep-h) button[type=submit]")
        assert await page.inner_text("#err-department-faculty") == "Выберите значение из списка."
        await shot(page, "assign-overview-ru")

        # The exam's proctors: proctor.a ticked and saved.
        await page.click(f"a[href='/admin/exams/{world.exam_id}/proctors']")
        await page.check("input[name=proctor][value='proctor.a']")
        await page.click("form button[type=submit].primary")
        await page.wait_for_selector("text=Прокторы экзамена сохранены.")
        assert await page.is_checked("input[value='proctor.a']") and not await page.is_checked(
            "input[value='proctor.b']"
        )
        await shot(page, "assign-exam-proctors-ru")

        # proctor.a sees the exam in the list of the API and may open its live view; proctor.b may not.
        seen = await proctor.new_page()
        await sign_in(seen, base, "proctor.a")
        listing = await seen.request.get(f"{base}/api/v1/exams")
        assert [e["id"] for e in (await listing.json())["items"]] == [world.exam_id]
        refused = await seen.goto(f"{base}/admin/assignments")
        assert refused is not None and refused.status == 403  # assigning is the administration's, not a proctor's
        other = await browser.new_context(locale="kk-KZ")
        stranger = await other.new_page()
        await sign_in(stranger, base, "proctor.b")
        listing = await stranger.request.get(f"{base}/api/v1/exams")
        assert (await listing.json())["items"] == []
        live = await stranger.request.get(f"{base}/api/v1/live/exams/{world.exam_id}")
        assert live.status == 404 and (await live.json())["error"]["code"] == "exam_not_found"
        await other.close()

        # The same page in Kazakh, for an administrator who reads kk.
        kk = await browser.new_context(locale="kk-KZ", viewport={"width": 1200, "height": 900})
        kk_page = await kk.new_page()
        await sign_in(kk_page, base, "admin2")
        await kk_page.goto(f"{base}/admin/exams/{world.exam_id}/proctors")
        assert await kk_page.inner_text("h1") == "«Law exam» емтиханының прокторлары"
        assert await kk_page.is_checked("input[value='proctor.a']")
        await shot(kk_page, "assign-exam-proctors-kk")
        await kk.close()
    finally:
        await admin.close()
        await proctor.close()
        await client.close()


async def test_the_administration_withdraws_a_journals_teacher_and_the_open_page_loses_it(services, browser):
    """Withdrawing a journal's teacher on /admin/journals (ru, kk): a reason is required; the teacher,
    whose journal page is open, is refused at the next load; the audit log names both, in words."""
    from tests.integration.test_journal_world import make_journal_world

    jw = await make_journal_world(services, students=1)  # teacher1 keeps the journal; admin1 reads kk
    await make_user(services, "admin.ru", Role.ACADEMIC_ADMIN, language="ru")
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    teacher_ctx = await browser.new_context(locale="kk-KZ", viewport={"width": 1200, "height": 900})
    admin_ctx = await browser.new_context(locale="ru-RU", viewport={"width": 1200, "height": 900})
    try:
        teacher = await teacher_ctx.new_page()
        await sign_in(teacher, base, "teacher1")
        opened = await teacher.goto(f"{base}/journals/{jw.journal_id}")
        assert opened is not None and opened.status == 200

        page = await admin_ctx.new_page()
        await sign_in(page, base, "admin.ru")
        await page.goto(f"{base}/admin/journals")
        await page.wait_for_selector("h2:has-text('Снять преподавателя с журнала')")
        assignment = f"{jw.journal_id}:teacher1"
        await page.select_option("#f-r_assignment", assignment)
        await page.click("#remove-teacher")  # no reason: refused beside the field, nothing removed
        assert await page.inner_text("#err-r_reason") == "Укажите причину: она сохраняется в журнале аудита."
        assert "Test teacher1" in await page.inner_text(f"#journal-{jw.journal_id}")
        await page.select_option("#f-r_assignment", assignment)
        await page.fill("#f-r_reason", "переведён на другую кафедру")
        await shot(page, "journal-teacher-withdraw-ru")
        await page.click("#remove-teacher")
        await page.wait_for_selector("#journals-notice")
        assert "Преподаватель снят с журнала" in await page.inner_text("#journals-notice")
        assert "Test teacher1" not in await page.inner_text(f"#journal-{jw.journal_id}")
        assert await page.locator(f"#f-r_assignment option[value='{assignment}']").count() == 0

        # The teacher's page, open since before: its next load is refused, in Kazakh.
        again = await teacher.reload()
        assert again is not None and again.status in (403, 404)
        body = await teacher.inner_text("body")
        assert "Бұл журналды көруге рұқсатыңыз жоқ" in body
        await shot(teacher, "journal-teacher-withdrawn-refused-kk")

        # The audit log says it in words: who, what, the reason.
        await page.goto(f"{base}/admin/audit?action=journal.teacher_removed")
        log = await page.inner_text("main")
        assert "преподаватель снят с журнала" in log and "переведён на другую кафедру" in log
        assert "Test teacher1" in log and "teacher_id" not in log
        await shot(page, "journal-teacher-withdrawn-audit-ru")

        kk = await browser.new_context(locale="kk-KZ", viewport={"width": 1200, "height": 900})
        kk_page = await kk.new_page()
        await sign_in(kk_page, base, "admin1")
        await kk_page.goto(f"{base}/admin/journals")
        assert await kk_page.inner_text("#remove-h") == "Оқытушыны журналдан шығару"
        await shot(kk_page, "journal-teacher-withdraw-kk")
        await kk.close()
    finally:
        await teacher_ctx.close()
        await admin_ctx.close()
        await client.close()
