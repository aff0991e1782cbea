"""The academic admin sets up an exam in real headless Chromium; the sysadmin sees health and no academic page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.tables import exam_banks, exam_groups, exams, group_members, groups, users
from question_bank import api as bank_api
from tests.e2e.conftest import served_page, shot, sign_in
from tests.factories import make_items, make_user, make_world, open_client

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

HEADER = "role,login,full_name,group,faculty,faculty_name\n"
BROKEN = HEADER + (
    "student,aidana.s,Сейітова Айдана,ПД-21,F2,Полиция факультеті\n"
    "student,ерлан,Ержанов Ерлан,ПД-21,F2,Полиция факультеті\n"
    "teacher,nurlan.t,Тілеуов Нұрлан,ПД-21,F2,Полиция факультеті\n"
)
FIXED = BROKEN.replace("student,ерлан,", "student,erlan.e,")


async def test_the_academic_admin_sets_up_an_exam_and_the_sysadmin_sees_only_health(services, browser, tmp_path):
    await make_world(services, students=1)  # an exam session S1 and the group G1 exist already
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN, language="ru")
    await make_user(services, "root1", Role.SYSADMIN, language="kk")
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    try:
        await sign_in(page, base, "admin1")
        await shot(page, "admin-start-ru")
        assert await page.is_visible("a[href='/admin/exams']") and not await page.is_visible("a[href='/admin/system']")

        # An account: its one-time password is shown once, on the answer to the form, and never again.
        await page.click("a[href='/admin/users']")
        await page.fill("#f-login", "proctor.b")
        await page.fill("#f-full_name", "Бекова Әсем")
        await page.select_option("#f-role", "proctor")
        await page.click("form.grid-form button[type=submit]")
        otp = await page.inner_text("#created-otp")
        assert len(otp) >= 12
        await shot(page, "admin-users-ru")
        await page.goto(f"{base}/admin/users")
        assert otp not in await page.content() and await page.is_visible("text=Бекова Әсем")

        # A discipline: first refused (empty code, error beside the field), then added.
        await page.click("a[href='/admin/disciplines']")
        await page.fill("#f-name", "Қылмыстық құқық")
        await page.click("form.grid-form button[type=submit]")
        assert "1 до 64" in await page.inner_text("#err-code")
        assert await page.get_attribute("#f-code", "aria-invalid") == "true"
        await page.fill("#f-code", "CRIM-201")
        await page.fill("#f-credits", "5")
        await page.click("form.grid-form button[type=submit]")
        await page.wait_for_selector("text=Дисциплина CRIM-201 добавлена.")
        await shot(page, "admin-disciplines-ru")

        # The contingent: a wrong login is reported with its row and column; nothing is imported.
        broken, fixed = tmp_path / "contingent.csv", tmp_path / "contingent-fixed.csv"
        broken.write_text(BROKEN, encoding="utf-8")
        fixed.write_text(FIXED, encoding="utf-8")
        await page.click("a[href='/admin/contingent']")
        await page.set_input_files("#f-file", str(broken))
        await page.click("form button[type=submit].primary")
        problem = await page.inner_text("#problems li")
        assert problem.startswith("Строка 3, столбец «login»") and "ерлан" in problem
        await shot(page, "admin-contingent-error-ru")
        async with services.engine.connect() as conn:
            assert (await conn.execute(select(groups.c.id).where(groups.c.code == "ПД-21"))).first() is None
        await page.set_input_files("#f-file", str(fixed))
        await page.click("form button[type=submit].primary")
        await page.wait_for_selector("#report")
        assert await page.locator("#report tbody tr").count() == 3  # three new accounts, each with a password
        await shot(page, "admin-contingent-imported-ru")

        # The quality department publishes a bank for the new discipline (outside this page).
        async with services.engine.begin() as conn:
            version = await bank_api.add_version(
                conn,
                discipline_code="CRIM-201",
                language="kk",
                items=make_items(8),
                source_name="e2e",
                created_by="quality",
                now=services.clock.now(),
                publish=True,
            )

        await page.click("a[href='/admin/groups']")
        await page.wait_for_selector("text=Сейітова Айдана")
        await shot(page, "admin-groups-ru")

        # Schedule the exam: the bank version of the chosen discipline is offered and pinned.
        await page.click("a[href='/admin/exams']")
        await page.fill("#f-title", "Қылмыстық құқық — емтихан")
        await page.select_option("#f-discipline", "CRIM-201")
        assert await page.input_value("#f-bank_kk") == str(version.id)
        await page.select_option("#f-session", "S1")
        await page.check("input[name=groups][value='ПД-21']")
        await page.fill("#f-question_count", "5")
        await page.fill("#f-duration_minutes", "40")
        await page.fill("#f-opens_at", "2026-06-02T09:00")
        await page.fill("#f-closes_at", "2026-06-02T08:00")
        await page.click("form[action='/admin/exams'] button[type=submit]")
        assert "закрывается раньше" in await page.inner_text("#err-closes_at")
        assert await page.input_value("#f-title") == "Қылмыстық құқық — емтихан"  # what was typed stays
        await shot(page, "admin-exam-error-ru")
        await page.fill("#f-closes_at", "2026-06-02T12:00")
        await page.click("form[action='/admin/exams'] button[type=submit]")
        await page.wait_for_selector("#exam-created")

        # Extra time for the student with special needs, with the reason.
        async with services.engine.connect() as conn:
            exam_id = (await conn.execute(select(exams.c.id).where(exams.c.title.like("Қылмыстық%")))).scalar_one()
        await page.select_option("#f-x_exam", str(exam_id))
        await page.fill("#f-x_student", "aidana.s")
        await page.fill("#f-x_extra_minutes", "20")
        await page.fill("#f-x_reason", "Нашар көреді (E6)")
        await page.click("form[action='/admin/exams/extra-time'] button[type=submit]")
        await page.wait_for_selector("text=Дополнительное время для aidana.s сохранено.")
        await page.click("button[lang=kk]")  # the same page in Kazakh
        await page.wait_for_selector("text=Жоспарланған емтихандар")
        await shot(page, "admin-exams-kk")

        async with services.engine.connect() as conn:
            exam = (await conn.execute(select(exams).where(exams.c.title == "Қылмыстық құқық — емтихан"))).one()
            assert exam.opens_at.isoformat().startswith("2026-06-02T04:00")  # 09:00 in Almaty is 04:00 UTC
            pinned = (
                (await conn.execute(select(exam_banks.c.bank_version_id).where(exam_banks.c.exam_id == exam.id)))
                .scalars()
                .all()
            )
            assert pinned == [version.id]
            group = (
                await conn.execute(select(exam_groups.c.group_id).where(exam_groups.c.exam_id == exam.id))
            ).scalar()
            members = (
                (
                    await conn.execute(
                        select(users.c.login)
                        .select_from(group_members.join(users))
                        .where(group_members.c.group_id == group)
                    )
                )
                .scalars()
                .all()
            )
            assert sorted(members) == ["aidana.s", "erlan.e"]

        # The sysadmin: health and the audit chain; every academic page refuses him, his start page offers none.
        await context.clear_cookies()
        await sign_in(page, base, "root1")
        assert await page.locator("main a[href^='/admin/']").evaluate_all("links => links.map(a => a.pathname)") == [
            "/admin/system",
            "/admin/access",
            "/admin/audit",
        ]  # the audit log is read only (issue 20); disabling a sign-in changes no academic data
        for path in (
            "/admin/users",
            "/admin/contingent",
            "/admin/disciplines",
            "/admin/exams",
            "/admin/groups",
            "/admin/journals",
            "/proctor/live",
        ):
            response = await page.goto(f"{base}{path}")
            assert response is not None and response.status == 403, path
        await shot(page, "sysadmin-refused-kk")
        await page.goto(f"{base}/admin/system")
        assert await page.inner_text("#ready-state") == "дайын"
        await page.click("#verify-audit")
        await page.wait_for_selector("#audit-state.ok")
        await shot(page, "sysadmin-health-kk")
    finally:
        await context.close()
        await client.close()


NATIVE_DATE_FIELDS = "input[type=date], input[type=datetime-local], input[type=time], input[type=month]"
ENGLISH_DATE_WORDS = re.compile(r"mm/dd|dd/mm|yyyy|\bAM\b|\bPM\b|--:--")


async def _no_english_date_field(page) -> None:  # type: ignore[no-untyped-def]
    """No field Chromium would draw in its own language, and no English date words in what the page shows."""
    assert await page.locator(NATIVE_DATE_FIELDS).count() == 0, page.url
    shown = await page.evaluate(
        "() => document.body.innerText + ' ' + Array.from(document.querySelectorAll('input:not([type=hidden])'))"
        ".map(e => e.placeholder + ' ' + e.value).join(' ')"
    )
    # Hidden fields (the form token) are not shown, and a random token may hold "PM" as letters of a word.
    assert not ENGLISH_DATE_WORDS.search(shown), (page.url, ENGLISH_DATE_WORDS.findall(shown))


async def test_on_an_english_computer_dates_are_typed_the_way_kazakhstan_writes_them(services, browser):
    # Chromium draws type="date" in the browser's language and order: on an English computer the exam form
    # showed "mm/dd/yyyy, --:-- --" with AM/PM on a Russian page, and 07/12 reads as 12 July here.
    await make_world(services, students=1)
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN, language="ru")
    english = {"locale": "en-US", "viewport": {"width": 1200, "height": 900}}
    async with served_page(services, browser, **english) as (base, page):
        await sign_in(page, base, "admin1")
        for path in ("/admin/sessions", "/admin/journals", "/admin/exams"):
            await page.goto(f"{base}{path}")
            await _no_english_date_field(page)
        assert await page.get_attribute("#f-opens_at", "placeholder") == "ДД.ММ.ГГГГ ЧЧ:ММ"
        # The full keyboard: a phone's numeric pad has no "." or ":" to type a date with.
        assert await page.get_attribute("#f-opens_at", "inputmode") is None
        assert await page.inner_text("#hint-opens_at") == (
            "Формат: ДД.ММ.ГГГГ ЧЧ:ММ, например 07.12.2026 16:15. Время Казахстана (Алматы)."
        )

        await page.fill("#f-title", "Уголовное право — экзамен")
        await page.select_option("#f-discipline", "LAW-101")
        await page.select_option("#f-session", "S1")
        await page.check("input[name=groups][value='G1']")
        await page.fill("#f-question_count", "3")
        await page.fill("#f-duration_minutes", "40")
        # The US way ("12/07/2026 4:15 PM") is refused with the expected form named, never guessed.
        await page.fill("#f-opens_at", "12/07/2026 4:15 PM")
        await page.fill("#f-closes_at", "07.12.2026 18:30")
        await page.click("form[action='/admin/exams'] button[type=submit]")
        assert await page.inner_text("#err-opens_at") == (
            "Введите дату и время в виде ДД.ММ.ГГГГ ЧЧ:ММ, например 07.12.2026 16:15."
        )
        assert await page.get_attribute("#f-opens_at", "aria-invalid") == "true"
        assert await page.input_value("#f-closes_at") == "07.12.2026 18:30"  # what was typed stays
        async with services.engine.connect() as conn:
            assert (await conn.execute(select(exams.c.id).where(exams.c.title.like("Уголовное%")))).first() is None
        await shot(page, "admin-exam-dates-error-english-computer-ru")
        await page.fill("#f-opens_at", "7.12.2026 16:15")
        await page.click("form[action='/admin/exams'] button[type=submit]")
        await page.wait_for_selector("#exam-created")
        await _no_english_date_field(page)

        # The first date of an exam session, typed wrong (no 31 February), then right; both dates shown back.
        await page.goto(f"{base}/admin/sessions")
        await page.fill("#f-code", "2026-WINTER")
        await page.fill("#f-starts_on", "31.02.2026")
        await page.fill("#f-ends_on", "2026-12-31")
        await page.click("form[action='/admin/sessions'] button[type=submit]")
        assert await page.inner_text("#err-starts_on") == "Введите дату в виде ДД.ММ.ГГГГ, например 07.12.2026."
        assert await page.input_value("#f-ends_on") == "31.12.2026"  # ISO typed, shown back in the page's form
        await page.fill("#f-starts_on", "01.12.2026")
        await page.click("form[action='/admin/sessions'] button[type=submit]")
        await page.wait_for_selector("text=2026-WINTER")

        await page.goto(f"{base}/admin/exams")
        await page.click("button[lang=kk]")  # the same fields in Kazakh letters
        await page.wait_for_selector("text=Жоспарланған емтихандар")
        assert await page.get_attribute("#f-opens_at", "placeholder") == "КК.АА.ЖЖЖЖ СС:ММ"
        await page.goto(f"{base}/admin/sessions")
        assert await page.get_attribute("#f-starts_on", "placeholder") == "КК.АА.ЖЖЖЖ"
        await _no_english_date_field(page)
        await shot(page, "admin-sessions-dates-english-computer-kk")

        async with services.engine.connect() as conn:
            exam = (await conn.execute(select(exams).where(exams.c.title == "Уголовное право — экзамен"))).one()
        assert exam.opens_at.isoformat().startswith("2026-12-07T11:15")  # 16:15 in Almaty is 11:15 UTC
        assert exam.closes_at.isoformat().startswith("2026-12-07T13:30")
