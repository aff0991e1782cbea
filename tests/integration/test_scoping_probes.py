"""Scoping probes the route walks of test_permission_matrix.py do not make: ids of another journal's
things sent through one's own journal's path, and an assignment taken away while the session is open."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.services import assignments, catalog
from exam_engine.tables import audit_log
from exam_engine.web.api_journal import audit_sink
from journal_bridge import api as journal
from tests.factories import ADMIN, Api, make_user, new_api, open_client
from tests.integration.test_journal_world import PERIOD, PERIOD_CLOSES, make_journal_world

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"])


async def _second_journal(services, jw) -> int:  # type: ignore[no-untyped-def]
    """Another discipline's journal of the same group, kept by teacher2."""
    now = services.clock.now()
    async with services.engine.begin() as conn:
        await catalog.add_discipline(conn, ADMIN, code="HIS-1", name="Тарих", credits=3, now=now)
        sink = audit_sink(conn, now, ADMIN)
        other = await journal.create_journal(
            conn,
            group_code="G1",
            discipline_code="HIS-1",
            period_code=PERIOD,
            period_closes_at=PERIOD_CLOSES,
            institution="—",
            by=ADMIN.label,
            now=now,
            audit=sink,
        )
        await journal.assign_teacher(conn, other, str(jw.ids["teacher2"]), by=ADMIN.label, now=now, audit=sink)
    return other


async def test_a_teacher_reaches_no_lesson_of_another_journal_through_their_own(services):
    jw = await make_journal_world(services, students=1)
    other = await _second_journal(services, jw)
    client = await open_client(services)
    mine, theirs = Api(client), await new_api(client)
    try:
        await mine.login("teacher1")
        await theirs.login("teacher2")
        day = services.clock.now().date().isoformat()
        status, lesson = await theirs.call("POST", f"/api/v1/journals/{other}/lessons", {"held_on": day})
        assert status == 201, lesson
        student = jw.ids["student1"]
        cell = f"/api/v1/journals/{other}/lessons/{lesson['id']}/cells/{student}"
        assert (await theirs.call("PUT", cell, {"value": "80"}))[0] == 200
        through_mine = f"/api/v1/journals/{jw.journal_id}/lessons/{lesson['id']}"
        status, body = await mine.call("PUT", f"{through_mine}/cells/{student}", {"value": "10"})
        assert status == 404 and body["error"]["code"] == "lesson_not_found", body
        status, body = await mine.call(
            "POST",
            f"/api/v1/journals/{jw.journal_id}/corrections",
            {"lesson_id": lesson["id"], "action": "delete_lesson", "reason": "двойная запись"},
        )
        assert status == 404 and body["error"]["code"] == "lesson_not_found", body
        status, body = await mine.call("GET", f"{through_mine}/cells/{student}/history")
        assert status == 200 and body["items"] == []  # the other journal's history is not shown
        status, grid = await theirs.call("GET", f"/api/v1/journals/{other}")
        assert status == 200 and len(grid["lessons"]) == 1  # nothing of theirs changed
        status, history = await theirs.call("GET", f"{cell}/history")
        assert [h["new"]["score"] for h in history["items"]] == [80]
    finally:
        await theirs.client.close()  # type: ignore[attr-defined]
        await client.close()


async def test_a_faculty_head_moved_to_another_faculty_loses_the_journals_at_the_next_request(services):
    jw = await make_journal_world(services, students=1)
    client = await open_client(services)
    dean = Api(client)
    try:
        await dean.login("dean")
        assert (await dean.call("GET", f"/api/v1/journals/{jw.journal_id}"))[0] == 200
        async with services.engine.begin() as conn:
            await catalog.ensure_faculty(conn, ADMIN, code="F2", name="Басқа факультет", now=services.clock.now())
            await assignments.set_faculty_head(conn, ADMIN, "dean", "F2", now=services.clock.now())
        status, body = await dean.call("GET", f"/api/v1/journals/{jw.journal_id}")
        assert status == 404 and body["error"]["code"] == "journal_not_found", body
        status, listing = await dean.call("GET", "/api/v1/journals")
        assert status == 200 and listing["items"] == []
        resp = await client.get(f"/journals/{jw.journal_id}", allow_redirects=False)
        assert resp.status == 404
    finally:
        await client.close()


async def _remove(api: Api, assignment: str, reason: str) -> tuple[int, str, str]:
    resp = await api.client.request(
        "POST",
        "/admin/journals/teachers/remove",
        data={"_csrf": api.csrf, "assignment": assignment, "reason": reason},
        allow_redirects=False,
    )
    return resp.status, await resp.text(), resp.headers.get("Location", "")


async def _assigned(services, journal_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return await journal.teacher_ids(conn, journal_id)


async def test_the_administration_withdraws_a_teacher_with_a_reason_and_the_open_session_loses_the_journal(services):
    """A journal's teacher is withdrawn on /admin/journals (kk and ru), with a reason kept in the audit log with
    the assignment it ended; the teacher's session, signed in before, is refused at its next request."""
    jw = await make_journal_world(services, students=1)
    client = await open_client(services)
    teacher, admin, admin_ru = Api(client), await new_api(client), await new_api(client)
    teacher_id = str(jw.ids["teacher1"])
    assignment = f"{jw.journal_id}:teacher1"
    try:
        await teacher.login("teacher1")
        assert (await teacher.call("GET", f"/api/v1/journals/{jw.journal_id}"))[0] == 200
        day = services.clock.now().date().isoformat()
        status, lesson = await teacher.call("POST", f"/api/v1/journals/{jw.journal_id}/lessons", {"held_on": day})
        assert status == 201, lesson
        await admin.login("admin1")  # reads kk
        status, html = await admin.call("GET", "/admin/journals")
        assert status == 200 and f'value="{assignment}"' in html and "Оқытушыны журналдан шығару" in html

        # Refused, nothing changed: no reason (kk), nothing chosen, a teacher's own try (not their right).
        status, html, _ = await _remove(admin, assignment, "   ")
        assert status == 422 and "Себебін жазыңыз: ол аудит журналында сақталады." in html, html
        status, html, _ = await _remove(admin, "", "ауысты")
        assert status == 422 and "Тізімнен журнал мен оның оқытушысын таңдаңыз." in html
        status, _, _ = await _remove(teacher, assignment, "өзім кетемін")
        assert status == 403
        assert await _assigned(services, jw.journal_id) == [teacher_id]

        status, _, location = await _remove(admin, assignment, "басқа кафедраға ауысты")
        assert status == 303 and location.startswith("/admin/journals?done=removed"), location
        status, html = await admin.call("GET", location)
        assert "Оқытушы журналдан шығарылды" in html and f'value="{assignment}"' not in html
        assert await _assigned(services, jw.journal_id) == []

        # At once, on the session opened before: no read, no lesson, no grade, no page.
        status, body = await teacher.call("GET", f"/api/v1/journals/{jw.journal_id}")
        assert status in (403, 404), body
        status, body = await teacher.call("POST", f"/api/v1/journals/{jw.journal_id}/lessons", {"held_on": day})
        assert status in (403, 404), body
        cell = f"/api/v1/journals/{jw.journal_id}/lessons/{lesson['id']}/cells/{jw.ids['student1']}"
        status, body = await teacher.call("PUT", cell, {"value": "90"})
        assert status in (403, 404), body
        status, listing = await teacher.call("GET", "/api/v1/journals")
        assert status == 200 and listing["items"] == []
        resp = await client.get(f"/journals/{jw.journal_id}", allow_redirects=False)
        assert resp.status in (403, 404)

        async with services.engine.connect() as conn:
            rows = (await conn.execute(select(audit_log).where(audit_log.c.action == "journal.teacher_removed"))).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.actor == "user:admin1" and row.subject == f"journal:{jw.journal_id}"
        assert row.at == services.clock.now()
        assert row.before["teacher_id"] == teacher_id and row.before["assigned_at"]
        assert row.after == {"teacher_id": None, "reason": "басқа кафедраға ауысты"}

        # Sent twice, or in Russian for a teacher no longer there: a reason in the reader's language.
        await make_user(services, "admin.ru", Role.ACADEMIC_ADMIN, language="ru")
        await admin_ru.login("admin.ru")
        status, html, _ = await _remove(admin_ru, assignment, "повторно")
        assert status == 422 and "Этот преподаватель не назначен на журнал" in html, html
        status, html, _ = await _remove(admin_ru, assignment, "")
        assert status == 422 and "Укажите причину: она сохраняется в журнале аудита." in html
        status, html = await admin_ru.call("GET", "/admin/audit?action=journal.teacher_removed")
        assert status == 200 and "преподаватель снят с журнала" in html and "басқа кафедраға ауысты" in html
        assert "Test teacher1" in html and "teacher_id" not in html  # the person by name, not the raw field
    finally:
        await admin.client.close()  # type: ignore[attr-defined]
        await admin_ru.client.close()  # type: ignore[attr-defined]
        await client.close()


async def test_the_api_withdraws_a_teacher_for_the_administration_only_and_needs_a_reason(services):
    jw = await make_journal_world(services, students=1)
    client = await open_client(services)
    teacher, admin, dean = Api(client), await new_api(client), await new_api(client)
    path = f"/api/v1/journals/{jw.journal_id}/teachers/withdrawals"
    try:
        await teacher.login("teacher1")
        await admin.login("admin1")
        await dean.login("dean")
        for who in (teacher, dean):  # neither assigns teachers, so neither withdraws one
            status, body = await who.call("POST", path, {"teacher": "teacher1", "reason": "кетті"})
            assert status == 403 and body["error"]["code"] == "forbidden", body
        status, body = await admin.call("POST", path, {"teacher": "teacher1", "reason": "  "})
        assert status == 409 and body["error"]["code"] == "removal_reason_missing", body
        assert body["error"]["message"] == "Оқытушының журналдан неге шығарылатынын жазыңыз"
        status, body = await admin.call("POST", path, {"teacher": "teacher2", "reason": "қате"})
        assert status == 409 and body["error"]["code"] == "teacher_not_assigned", body
        assert await _assigned(services, jw.journal_id) == [str(jw.ids["teacher1"])]
        status, body = await admin.call("POST", path, {"teacher": "teacher1", "reason": "зейнетке шықты"})
        assert status == 200, body
        assert await _assigned(services, jw.journal_id) == []
        status, body = await teacher.call("GET", f"/api/v1/journals/{jw.journal_id}")
        assert status in (403, 404), body
    finally:
        await admin.client.close()  # type: ignore[attr-defined]
        await dean.client.close()  # type: ignore[attr-defined]
        await client.close()
