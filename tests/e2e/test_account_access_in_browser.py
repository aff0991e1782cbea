"""The system administrator disables a student who is sitting an exam (kk); the student's page is
refused at its next save and the sign-in page says why; the academic administrator (ru) is refused
the last system administrator and enables the student again."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.tables import attempts
from tests.e2e.conftest import open_exam, served_page, shot, sign_in
from tests.factories import PASSWORD, make_user, make_world, stored_choices

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]


async def test_a_student_disabled_during_the_exam_is_refused_at_once_and_enabled_again(services, browser):
    world = await make_world(services, students=1, question_count=3, duration_s=1200)
    await make_user(services, "root1", Role.SYSADMIN, language="kk")
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN, language="ru")
    async with served_page(services, browser, locale="kk-KZ", viewport={"width": 1200, "height": 900}) as (
        base,
        student,
    ):
        await open_exam(student, base, world.exam_id)
        await student.click("#q-options .option >> nth=0")
        await student.wait_for_selector("#save-status:not(.pending):has-text('№')")
        async with services.engine.connect() as conn:
            attempt_id = (await conn.execute(select(attempts.c.id))).scalar_one()
        saved = await stored_choices(services, attempt_id)
        assert len(saved) == 1

        staff_context = await browser.new_context(locale="kk-KZ", viewport={"width": 1200, "height": 900})
        staff = await staff_context.new_page()
        try:
            # The system administrator (kk): the start page leads to the access page.
            await sign_in(staff, base, "root1")
            await staff.click("a[href='/admin/access']")
            await staff.click("#person-student1 a.button")
            warning = await staff.inner_text("#confirm-access")
            assert "Law exam" in warning and "Жауаптар сақталады" in warning
            await staff.click("#confirm-access-yes")  # no reason: refused next to the field, nothing changed
            assert "Себебін жазыңыз" in await staff.inner_text("#err-reason")
            await staff.fill("#f-reason", "Бұйрық №45: академиядан шығарылды")
            await staff.click("#confirm-access-yes")
            changed = await staff.inner_text("#access-changed")
            assert "Student student1 есептік жазбасы өшірілді" in changed and "аяқталған сеанстар: 1" in changed
            row = await staff.inner_text("#person-student1")
            assert "өшірілген" in row and "Бұйрық №45" in row and "Test root1" in row
            await shot(staff, "access-disabled-kk")

            # The student's next save is refused: the page keeps the answer and offers to sign in again,
            # and the sign-in page says why.
            await student.click("#q-options .option >> nth=1")
            await student.click("#sign-in-again")
            await student.wait_for_url(f"{base}/login**")
            await student.fill("#login", "student1")
            await student.fill("#password", PASSWORD)
            await student.click("button[type=submit].primary")
            assert "Есептік жазбаңыз өшірілген" in await student.inner_text("main")
            await shot(student, "access-disabled-sign-in-kk")
            assert await stored_choices(services, attempt_id) == saved  # the attempt is kept as it was
            await staff_context.close()

            # The academic administrator (ru): the last system administrator cannot be disabled.
            staff_context = await browser.new_context(locale="ru-RU", viewport={"width": 1200, "height": 900})
            staff = await staff_context.new_page()
            await sign_in(staff, base, "admin1")
            await staff.goto(f"{base}/admin/access?q=root1")
            await staff.click("#person-root1 a.button")
            await staff.fill("#f-reason", "Проверка")
            await staff.click("#confirm-access-yes")
            refused = await staff.inner_text("#err-_form")
            assert refused.startswith("root1 — последний активный системный администратор")
            await shot(staff, "access-last-sysadmin-ru")

            # ... and enables the student again; the student goes on in the same browser.
            await staff.goto(f"{base}/admin/access")
            await staff.click("#person-student1 a.button")
            assert "Включить учётную запись Student student1?" in await staff.inner_text("#confirm-access")
            await staff.fill("#f-reason", "Приказ отменён")
            await staff.click("#confirm-access-yes")
            assert "снова включена" in await staff.inner_text("#access-changed")
            await shot(staff, "access-enabled-ru")
            await student.fill("#login", "student1")
            await student.fill("#password", PASSWORD)
            await student.click("button[type=submit].primary")
            await student.wait_for_url(f"{base}/exam/{world.exam_id}")
            await student.wait_for_selector("#exam:not([hidden])")
            await student.click("#q-options .option >> nth=1")
            await student.wait_for_selector("#save-status:not(.pending):has-text('№')")
            assert len(await stored_choices(services, uuid.UUID(str(attempt_id)))) >= 1
        finally:
            await staff_context.close()
