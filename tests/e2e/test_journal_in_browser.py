"""The journal in real headless Chromium: an exam result arrives, a teacher types scores, a deputy approves."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from exam_engine.domain.actors import Actor
from exam_engine.domain.roles import Role
from exam_engine.i18n import translate
from exam_engine.services import assignments
from exam_engine.tables import users
from exam_engine.web.api_journal import audit_sink, journal_actor, roster
from journal_bridge import api as journal
from journal_bridge.messages import MESSAGES
from tests.e2e.conftest import shot
from tests.factories import ADMIN, PASSWORD, make_user, make_world, new_api, open_client
from tests.integration.test_journal_world import KAZAKH_NAMES, JournalWorld, relay_now, release_exam, sit_exam

ALMATY = ZoneInfo("Asia/Almaty")

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

STAFF = {"teacher1": Role.TEACHER, "deputy1": Role.DEPUTY_HEAD, "dean1": Role.FACULTY_HEAD}


async def open_journal_world(services, *, students: int = 3) -> JournalWorld:  # type: ignore[no-untyped-def]
    """A group with Kazakh names, its exam, and a journal whose period is still open, kept by teacher1."""
    world = await make_world(services, students=students, question_count=5)
    ids = {
        login: await make_user(services, login, role, language="ru" if login == "deputy1" else "kk")
        for login, role in STAFF.items()
    }
    now = services.clock.now()
    async with services.engine.begin() as conn:
        for n, login in enumerate(world.students):
            await conn.execute(update(users).where(users.c.login == login).values(full_name=KAZAKH_NAMES[n]))
        rows = await conn.execute(select(users.c.login, users.c.id).where(users.c.login.in_(world.students)))
        ids.update({r.login: r.id for r in rows})
        sink = audit_sink(conn, now, ADMIN)
        journal_id = await journal.create_journal(
            conn,
            group_code="G1",
            discipline_code="LAW-101",
            period_code="2026-2027-1",
            period_closes_at=now + timedelta(days=90),
            institution="Қостанай академиясы",
            by=ADMIN.label,
            now=now,
            audit=sink,
        )
        await journal.assign_teacher(conn, journal_id, str(ids["teacher1"]), by=ADMIN.label, now=now, audit=sink)
        await assignments.set_faculty_head(conn, ADMIN, "dean1", "F1", now=now)  # G1's faculty (issue 19)
    return JournalWorld(world, journal_id, ids)


async def sign_in(page, base: str, login: str, then: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(f"{base}/login?next={then}")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit].primary")
    await page.wait_for_url(f"{base}{then}")


def row(student_id: int) -> str:
    return f'#grid tr[data-student="{student_id}"]'


async def test_a_teacher_sees_the_exam_result_arrive_and_keys_in_scores_and_a_correction(services, browser):
    jw = await open_journal_world(services)
    first, second = (jw.ids[s] for s in ("student2", "student1"))  # Ғабитұлы Әлішер, then Үмбетова Іңкәр
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    teacher = await browser.new_context(locale="kk-KZ", viewport={"width": 1200, "height": 900})
    deputy = await browser.new_context(locale="ru-RU", viewport={"width": 1100, "height": 900})
    page = await teacher.new_page()
    try:
        await sign_in(page, base, "teacher1", "/journals")
        await shot(page, "journal-my-journals-kk")
        await page.click(f"a[href='/journals/{jw.journal_id}']")
        await page.wait_for_selector("#grid")
        assert await page.inner_text(f"{row(first)} td[data-col=exam]") == "—"

        # The student sits the exam; grading writes the outbox row, one relay run delivers it.
        await sit_exam(services, jw, "student2", correct=4)
        await release_exam(services, jw)  # the others may still sit: released as if final (issue 25 gate)
        report = await relay_now(services)
        assert report.delivered == 1
        await page.reload()
        assert await page.inner_text(f"{row(first)} td[data-col=exam]") == "80"

        # A lesson held today, added through the page; then scores typed with the keyboard. The date is
        # typed as Kazakhstan writes it; one that is no day is refused in the page, nothing is sent.
        today = services.clock.now().astimezone(ALMATY).date()
        assert await page.input_value("#lesson-date") == today.strftime("%d.%m.%Y")
        assert await page.get_attribute("#lesson-date", "placeholder") == "КК.АА.ЖЖЖЖ"
        await page.fill("#lesson-topic", "Қылмыс құрамы")
        await page.fill("#lesson-date", "31.02.2026")
        await page.click("#add-lesson")
        assert await page.inner_text("#lesson-error") == "Күнді КК.АА.ЖЖЖЖ түрінде жазыңыз, мысалы 07.12.2026."
        assert await page.get_attribute("#lesson-date", "aria-invalid") == "true"
        grid = await (await page.request.get(f"{base}/api/v1/journals/{jw.journal_id}")).json()
        assert grid["lessons"] == []
        await page.fill("#lesson-date", f" {today.day}.{today.month}.{today.year} ")
        await page.click("#add-lesson")
        await page.wait_for_selector(f"{row(first)} .cell-input")
        await page.click(f"{row(first)} .cell-input")
        await page.keyboard.type("85")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(f'{row(first)} td.cell[data-state="saved"]')
        assert await page.locator(".cell-input:focus").get_attribute("data-student") == str(second)
        await page.keyboard.type("а")  # the Kazakh mark «ауру» (ill)
        await page.keyboard.press("Enter")
        await page.wait_for_selector(f'{row(second)} td.cell[data-state="saved"]')
        grid = await (await page.request.get(f"{base}/api/v1/journals/{jw.journal_id}")).json()
        cells = {s["id"]: list(s["cells"].values()) for s in grid["students"]}
        assert cells[str(first)][0]["score"] == 85
        assert cells[str(second)][0]["mark"] is not None and cells[str(second)][0]["score"] is None

        # Changing an entered value is refused with the rule's own words and offers a correction.
        await page.click(f"{row(first)} .cell-input")
        await page.keyboard.type("90")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#grid-status.error")
        expected = translate("kk", MESSAGES["value_already_entered"])
        assert expected in await page.inner_text("#grid-status")
        assert await page.get_attribute(f"{row(first)} .cell-input", "aria-invalid") == "true"
        await shot(page, "journal-grid-refused-kk")
        await page.click("#status-correction")
        assert await page.input_value("#correction-value") == "90"
        await page.fill("#correction-reason", "Техникалық қате: жұмыс қайта тексерілді")
        await shot(page, "journal-correction-dialog-kk")
        await page.click("#correction-submit")
        await page.wait_for_selector("#grid-status.ok")
        assert await page.input_value(f"{row(first)} .cell-input") == "85"

        # The deputy head approves it; the teacher then sees the new value and the cell's history.
        review = await deputy.new_page()
        await sign_in(review, base, "deputy1", "/journal/corrections")
        await shot(review, "journal-corrections-queue-ru")
        await review.fill("textarea[name=note]", "Разрешаю")
        await review.click("button[name=decision][value=approve]")
        await review.wait_for_selector("#review-notice")
        assert await review.locator("#queue-empty").count() == 1
        await page.reload()
        assert await page.input_value(f"{row(first)} .cell-input") == "90"
        await page.click(f"{row(first)} .cell-input")
        await page.click("#show-history")
        await page.wait_for_selector("#history li >> nth=1")
        await shot(page, "journal-grid-kk")
        statement = await page.request.get(base + await page.get_attribute("#statement-pdf", "href"))
        assert statement.status == 200 and (await statement.body()).startswith(b"%PDF")
    finally:
        await teacher.close()
        await deputy.close()
        await client.close()


async def test_a_faculty_head_grants_a_substitute_and_a_student_sees_what_the_exam_must_bring(services, browser):
    jw = await open_journal_world(services, students=1)
    now = services.clock.now()
    async with services.engine.begin() as conn:
        keeper = journal_actor(await _actor(conn, jw.ids["teacher1"]))
        sink = audit_sink(conn, now, ADMIN)
        found = await journal.load_journal(conn, jw.journal_id)
        names = await roster(conn, found)
        for kind in ("lesson", "midterm1", "midterm2", "lesson"):
            lesson = await journal.add_lesson(
                conn, keeper, jw.journal_id, held_on=now.date(), kind=kind, topic="", now=now, audit=sink
            )
            await journal.enter_cell(
                conn, keeper, jw.journal_id, lesson, str(jw.ids["student1"]), "80", roster=names, now=now, audit=sink
            )
        # The last lesson was recorded by mistake: deleting a held lesson needs the faculty head (J6).
        await journal.file_correction(
            conn,
            keeper,
            jw.journal_id,
            lesson,
            student_id=None,
            action="delete_lesson",
            typed=None,
            reason="Сабақ қате енгізілді",
            roster=names,
            now=now,
            audit=sink,
        )
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="kk-KZ", viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    try:
        await sign_in(page, base, "dean1", "/journal/substitutes")
        await page.fill("#sub-teacher", "teacher1")  # a teacher's account: no other opens a journal by a window
        await page.fill("#sub-from", "31.02.2026 10:00")  # no such day: refused beside the field, nothing granted
        await page.fill("#sub-until", (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"))  # ISO still reads
        await page.fill("#sub-reason", "Оқытушы іссапарда")
        await page.click("#grant")
        assert await page.inner_text("#err-valid_from") == (
            "Күн мен уақытты КК.АА.ЖЖЖЖ СС:ММ түрінде жазыңыз, мысалы 07.12.2026 16:15."
        )
        assert await page.get_attribute("#sub-from", "aria-invalid") == "true"
        until = (now + timedelta(days=7)).strftime("%d.%m.%Y %H:%M")
        assert await page.input_value("#sub-until") == until  # shown back the way the field writes it
        assert await page.get_attribute("#sub-from", "placeholder") == "КК.АА.ЖЖЖЖ СС:ММ"
        await shot(page, "journal-substitute-date-error-kk")
        await page.fill("#sub-from", (now + timedelta(hours=6)).astimezone(ALMATY).strftime("%d.%m.%Y %H:%M"))
        await page.click("#grant")
        await page.wait_for_selector("#grant-notice")
        await shot(page, "journal-substitute-kk")
        await page.click("a[href='/journal/corrections']")
        await page.wait_for_selector(".correction")
        await shot(page, "journal-lesson-deletion-queue-kk")
        await page.click("button[name=decision][value=approve]")
        await page.wait_for_selector("#review-notice")
        async with services.engine.connect() as conn:
            lessons = (
                await journal.grid(
                    conn, await journal.load_journal(conn, jw.journal_id), names, language="kk", translate=translate
                )
            )["lessons"]
        assert [ls["kind"] for ls in lessons] == ["lesson", "midterm1", "midterm2"]
        await page.click("form.inline button[type=submit].link")  # sign out

        await sign_in(page, base, "student1", "/student")
        await page.click("#my-results-link")
        await page.select_option("#target", "B")
        await page.click(".target-form button[type=submit]")
        await page.wait_for_selector("#target-1")
        admission = int(await page.inner_text("section.card td >> nth=0"))
        # total = 60 % admission + 40 % exam, half up; B starts at 80.
        needed = min(e for e in range(50, 101) if (6 * admission + 4 * e + 5) // 10 >= 80)
        assert str(needed) in await page.inner_text("#target-1")
        await shot(page, "student-results-kk")
    finally:
        await context.close()
        await client.close()


async def _actor(conn, user_id: int) -> Actor:  # type: ignore[no-untyped-def]
    login = (await conn.execute(select(users.c.login).where(users.c.id == user_id))).scalar_one()
    return Actor(user_id=user_id, login=login, role=Role.TEACHER)


async def test_journal_pages_open_only_for_the_roles_and_teachers_they_belong_to(services):
    jw = await open_journal_world(services, students=1)
    await make_user(services, "teacher2", Role.TEACHER)
    await make_user(services, "quality1", Role.QUALITY)
    journal_path = f"/journals/{jw.journal_id}"
    expected = {  # login -> {path: may open}
        "student1": {"/journals": False, journal_path: False, "/journal/corrections": False, "/student/results": True},
        "teacher1": {
            "/journals": True,
            journal_path: True,
            "/journal/corrections": False,
            "/journal/substitutes": False,
            "/student/results": False,
        },
        "teacher2": {"/journals": True, journal_path: False},
        "deputy1": {journal_path: True, "/journal/corrections": True, "/journal/substitutes": False},
        "dean1": {"/journal/corrections": True, "/journal/substitutes": True},
        "quality1": {journal_path: True, "/journal/corrections": False},
    }
    client = await open_client(services)
    try:
        for login, paths in expected.items():
            api = await new_api(client)
            await api.login(login)
            for path, allowed in paths.items():
                resp = await api.client.request("GET", path, allow_redirects=False)
                assert (resp.status == 200) is allowed and resp.status in (200, 403), (login, path, resp.status)
                if path == journal_path and allowed:
                    # Only the assigned teacher may add lessons and type into cells; the others read the journal.
                    assert ('id="lesson-form"' in await resp.text()) is (login == "teacher1"), login
            await api.client.close()
    finally:
        await client.close()


async def test_a_student_who_ran_out_of_time_is_unsatisfactory_in_the_teachers_grid_kk_and_ru(services, browser):
    # 000 §5.5.16: not finishing in time gives the grade "unsatisfactory" and no total. The grid
    # said only "time is up", with no grade; the regulation's word must be on the teacher's page.
    from exam_engine import sweeper
    from exam_engine.tables import attempts

    jw = await open_journal_world(services)
    late = jw.ids["student2"]
    attempt_id = await sit_exam(services, jw, "student2", correct=4, submit=False)
    async with services.engine.begin() as conn:  # the real clock: the deadline is moved instead
        started = (await conn.execute(select(attempts.c.started_at).where(attempts.c.id == attempt_id))).scalar_one()
        await conn.execute(
            update(attempts).where(attempts.c.id == attempt_id).values(deadline_at=started + timedelta(seconds=1))
        )
    await asyncio.sleep(3)  # past the deadline and its grace: the sweeper hands it in as timed out (E1)
    assert await sweeper.sweep_once(services) == 1
    await release_exam(services, jw)
    assert (await relay_now(services)).delivered == 1
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    teacher = await new_api(client)
    await teacher.login("teacher1")
    today = services.clock.now().date().isoformat()
    for kind in ("lesson", "midterm1", "midterm2"):  # an admission rating of 70, so the exam decides
        status, lesson = await teacher.call(
            "POST", f"/api/v1/journals/{jw.journal_id}/lessons", {"held_on": today, "kind": kind}
        )
        assert status == 201, lesson
        path = f"/api/v1/journals/{jw.journal_id}/lessons/{lesson['id']}/cells/{late}"
        assert (await teacher.call("PUT", path, {"value": "70"}))[0] == 200
    await teacher.client.close()
    context = await browser.new_context(locale="kk-KZ", viewport={"width": 1440, "height": 700})
    page = await context.new_page()
    try:
        await sign_in(page, base, "teacher1", f"/journals/{jw.journal_id}")
        await page.wait_for_selector("#grid")
        assert await page.inner_text(f"{row(late)} td[data-col=status]") == "Қанағаттанарлықсыз: уақытында аяқталмады"
        assert await page.inner_text(f"{row(late)} td[data-col=total]") != "0"
        await shot(page, "journal-grid-timed-out-kk")
        await page.click("button[name=lang][value=ru]")
        await page.wait_for_selector("#grid")
        status = await page.inner_text(f"{row(late)} td[data-col=status]")
        assert status == "Неудовлетворительно: не завершено в отведённое время"
        await shot(page, "journal-grid-timed-out-ru")
    finally:
        await context.close()
        await client.close()
