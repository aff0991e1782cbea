"""Who may change which journal cell, and when, through the HTTP API (R4, J4–J7, J11)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from exam_engine.tables import audit_log
from tests.factories import Api, new_api, open_client
from tests.integration.test_journal_world import PERIOD, make_journal_world, rows


async def _signed_in(client, login: str) -> Api:  # type: ignore[no-untyped-def]
    api = await new_api(client)
    await api.login(login)
    return api


async def _setup(services, students: int = 2):  # type: ignore[no-untyped-def]
    jw = await make_journal_world(services, students=students)
    client = await open_client(services)
    teacher = await _signed_in(client, "teacher1")
    today = services.clock.now().date().isoformat()
    status, lesson = await teacher.call(
        "POST", f"/api/v1/journals/{jw.journal_id}/lessons", {"held_on": today, "topic": "Қылмыс құрамы"}
    )
    assert status == 201, lesson
    return jw, client, teacher, lesson["id"]


def _cell(jw, lesson_id: int, login: str = "student1") -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/journals/{jw.journal_id}/lessons/{lesson_id}/cells/{jw.ids[login]}"


async def _close(*apis: Api) -> None:
    for api in apis:
        await api.client.close()


async def test_a_teacher_sees_and_keeps_only_the_journals_assigned_to_them(services):
    jw, client, teacher, lesson = await _setup(services)
    other = await _signed_in(client, "teacher2")
    try:
        assert [j["id"] for j in (await teacher.call("GET", "/api/v1/journals"))[1]["items"]] == [jw.journal_id]
        assert (await other.call("GET", "/api/v1/journals"))[1]["items"] == []
        status, body = await other.call("GET", f"/api/v1/journals/{jw.journal_id}")
        assert (status, body["error"]["code"]) == (403, "journal_view_denied")
        status, body = await other.call("PUT", _cell(jw, lesson), {"value": "90"})
        assert (status, body["error"]["code"]) == (403, "not_assigned")
        status, body = await teacher.call("PUT", _cell(jw, lesson), {"value": "қ"})
        assert status == 200 and body["cell"] == {"score": None, "mark": "absent"}
        status, grid = await teacher.call("GET", f"/api/v1/journals/{jw.journal_id}")
        assert grid["can_edit"] is True
        row = next(s for s in grid["students"] if s["id"] == str(jw.ids["student1"]))
        assert row["cells"][str(lesson)]["value"] == "қ"
    finally:
        await _close(teacher, other)
        await client.close()


async def test_a_substitute_enters_grades_only_inside_the_faculty_heads_window(services):
    jw, client, teacher, lesson = await _setup(services)
    dean, sub = await _signed_in(client, "dean"), await _signed_in(client, "sub1")
    now = services.clock.now()
    window = {
        "teacher": "sub1",
        "valid_from": (now + timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(hours=2)).isoformat(),
        "reason": "Оқытушы ауырып қалды",
    }
    try:
        status, body = await teacher.call("POST", f"/api/v1/journals/{jw.journal_id}/substitutes", window)
        assert (status, body["error"]["code"]) == (403, "forbidden")
        status, _ = await dean.call("POST", f"/api/v1/journals/{jw.journal_id}/substitutes", window)
        assert status == 201
        status, body = await sub.call("PUT", _cell(jw, lesson), {"value": "75"})
        assert (status, body["error"]["code"]) == (403, "substitute_window_closed")
        services.clock.advance(3600)
        assert (await sub.call("PUT", _cell(jw, lesson), {"value": "75"}))[0] == 200
        services.clock.advance(3600)
        status, body = await sub.call("PUT", _cell(jw, lesson, "student2"), {"value": "80"})
        assert (status, body["error"]["code"]) == (403, "substitute_window_closed")
    finally:
        await _close(teacher, dean, sub)
        await client.close()


async def test_a_changed_grade_is_applied_only_after_a_deputy_head_approves_it(services):
    jw, client, teacher, lesson = await _setup(services)
    dean, deputy = await _signed_in(client, "dean"), await _signed_in(client, "deputy")
    try:
        assert (await teacher.call("PUT", _cell(jw, lesson), {"value": "70"}))[0] == 200
        status, body = await teacher.call("PUT", _cell(jw, lesson), {"value": "80"})
        assert (status, body["error"]["code"]) == (409, "value_already_entered")
        status, filed = await teacher.call(
            "POST",
            f"/api/v1/journals/{jw.journal_id}/corrections",
            {
                "lesson_id": lesson,
                "student_id": jw.ids["student1"],
                "action": "change",
                "value": "80",
                "reason": "Техникалық қате: 80 орнына 70 жазылған",
            },
        )
        assert status == 201, filed
        path = f"/api/v1/journal-corrections/{filed['id']}"
        assert (await teacher.call("POST", path + "/approve", {}))[1]["error"]["code"] == "forbidden"
        status, body = await dean.call("POST", path + "/approve", {})
        assert (status, body["error"]["code"]) == (403, "approver_wrong_role")
        assert [c["id"] for c in (await deputy.call("GET", "/api/v1/journal-corrections"))[1]["items"]] == [filed["id"]]
        status, body = await deputy.call("POST", path + "/approve", {"note": "Рұқсат етілді"})
        assert (status, body) == (200, {"state": "applied"})
        status, history = await teacher.call("GET", _cell(jw, lesson) + "/history")
        assert [(h["old"], h["new"]) for h in history["items"]] == [
            (None, {"score": 70, "mark": None}),
            ({"score": 70, "mark": None}, {"score": 80, "mark": None}),
        ]
        assert history["items"][1]["correction_id"] == filed["id"]
        assert (await deputy.call("POST", path + "/approve", {}))[1]["error"]["code"] == "correction_not_pending"
    finally:
        await _close(teacher, dean, deputy)
        await client.close()
    actions = {r.action for r in await rows(services, select(audit_log.c.action))}
    assert {"journal.cell_entered", "journal.correction_filed", "journal.correction_approved"} <= actions


async def test_a_late_first_entry_needs_a_correction(services):
    jw, client, teacher, lesson = await _setup(services)
    try:
        services.clock.advance(2 * 24 * 3600)  # the 3rd: still inside the 2-day window (local calendar days)
        await teacher.login("teacher1")
        assert (await teacher.call("PUT", _cell(jw, lesson), {"value": "90"}))[0] == 200
        services.clock.advance(24 * 3600)
        await teacher.login("teacher1")
        status, body = await teacher.call("PUT", _cell(jw, lesson, "student2"), {"value": "90"})
        assert (status, body["error"]["code"]) == (409, "entry_window_passed")
    finally:
        await _close(teacher)
        await client.close()


async def test_after_the_period_is_locked_only_an_approved_correction_changes_the_journal(services):
    jw, client, teacher, lesson = await _setup(services)
    admin, deputy = await _signed_in(client, "admin1"), await _signed_in(client, "deputy")
    try:
        assert (await teacher.call("PUT", _cell(jw, lesson), {"value": "60"}))[0] == 200
        assert (await teacher.call("POST", "/api/v1/journal-periods/lock", {"period": PERIOD}))[0] == 403
        assert (await admin.call("POST", "/api/v1/journal-periods/lock", {"period": PERIOD}))[0] == 200
        status, body = await teacher.call("PUT", _cell(jw, lesson, "student2"), {"value": "90"})
        assert (status, body["error"]["code"]) == (409, "period_closed")
        status, body = await teacher.call(
            "POST", f"/api/v1/journals/{jw.journal_id}/lessons", {"held_on": services.clock.now().date().isoformat()}
        )
        assert body["error"]["code"] == "period_closed"
        status, filed = await teacher.call(
            "POST",
            f"/api/v1/journals/{jw.journal_id}/corrections",
            {
                "lesson_id": lesson,
                "student_id": jw.ids["student2"],
                "action": "change",
                "value": "90",
                "reason": "Баға уақытында енгізілмеді",
            },
        )
        assert status == 201
        assert (await deputy.call("POST", f"/api/v1/journal-corrections/{filed['id']}/approve", {}))[0] == 200
        status, grid = await teacher.call("GET", f"/api/v1/journals/{jw.journal_id}")
        row = next(s for s in grid["students"] if s["id"] == str(jw.ids["student2"]))
        assert row["cells"][str(lesson)]["score"] == 90 and grid["journal"]["locked"] is True
    finally:
        await _close(teacher, admin, deputy)
        await client.close()


async def test_deleting_an_unsatisfactory_grade_needs_the_faculty_head(services):
    jw, client, teacher, lesson = await _setup(services)
    dean, deputy = await _signed_in(client, "dean"), await _signed_in(client, "deputy")
    try:
        assert (await teacher.call("PUT", _cell(jw, lesson), {"value": "30"}))[0] == 200
        status, filed = await teacher.call(
            "POST",
            f"/api/v1/journals/{jw.journal_id}/corrections",
            {
                "lesson_id": lesson,
                "student_id": jw.ids["student1"],
                "action": "delete_grade",
                "reason": "Студент сабақта болмады, баға қате қойылды",
            },
        )
        assert status == 201
        path = f"/api/v1/journal-corrections/{filed['id']}/approve"
        assert (await deputy.call("POST", path, {}))[1]["error"]["code"] == "approver_wrong_role"
        assert (await dean.call("POST", path, {}))[1] == {"state": "applied"}
        status, grid = await teacher.call("GET", f"/api/v1/journals/{jw.journal_id}")
        row = next(s for s in grid["students"] if s["id"] == str(jw.ids["student1"]))
        assert str(lesson) not in row["cells"]
    finally:
        await _close(teacher, dean, deputy)
        await client.close()


async def test_the_quality_department_reads_journals_and_the_sysadmin_does_not(services):
    jw, client, teacher, lesson = await _setup(services)
    quality, root = await _signed_in(client, "quality1"), await _signed_in(client, "root1")
    try:
        assert (await teacher.call("PUT", _cell(jw, lesson), {"value": "88"}))[0] == 200
        status, grid = await quality.call("GET", f"/api/v1/journals/{jw.journal_id}")
        assert status == 200 and grid["can_edit"] is False
        status, history = await quality.call("GET", _cell(jw, lesson) + "/history")
        assert status == 200 and history["items"][0]["changed_by"] == str(jw.ids["teacher1"])
        assert (await quality.call("PUT", _cell(jw, lesson, "student2"), {"value": "50"}))[0] == 403
        assert (await root.call("GET", f"/api/v1/journals/{jw.journal_id}"))[0] == 403
        assert (await root.call("GET", "/api/v1/journals"))[0] == 403
    finally:
        await _close(teacher, quality, root)
        await client.close()


async def test_a_held_lesson_is_deleted_only_with_the_faculty_heads_approval_and_a_rejection_changes_nothing(services):
    jw, client, teacher, lesson = await _setup(services)
    dean, deputy = await _signed_in(client, "dean"), await _signed_in(client, "deputy")
    base = f"/api/v1/journals/{jw.journal_id}"
    try:
        assert (await teacher.call("PUT", _cell(jw, lesson), {"value": "55"}))[0] == 200
        _, change = await teacher.call(
            "POST",
            base + "/corrections",
            {
                "lesson_id": lesson,
                "student_id": jw.ids["student1"],
                "action": "change",
                "value": "95",
                "reason": "Қайта тексерілді",
            },
        )
        status, body = await deputy.call(
            "POST", f"/api/v1/journal-corrections/{change['id']}/reject", {"note": "Негіз жоқ"}
        )
        assert (status, body) == (200, {"state": "rejected"})
        _, delete = await teacher.call(
            "POST",
            base + "/corrections",
            {"lesson_id": lesson, "action": "delete_lesson", "reason": "Сабақ өткізілмеді"},
        )
        services.clock.advance(15 * 24 * 3600)  # past the two weeks allowed for deleting
        await dean.login("dean")
        status, body = await dean.call("POST", f"/api/v1/journal-corrections/{delete['id']}/approve", {})
        assert (status, body["error"]["code"]) == (409, "deletion_window_passed")
        services.clock.set(services.clock.now() - timedelta(days=14))
        await dean.login("dean")
        assert (await dean.call("POST", f"/api/v1/journal-corrections/{delete['id']}/approve", {}))[0] == 200
        await teacher.login("teacher1")
        status, grid = await teacher.call("GET", base)
        assert grid["lessons"] == []
        _, listed = await teacher.call("GET", base + "/corrections")
        assert [c["state"] for c in listed["items"]] == ["rejected", "applied"]
    finally:
        await _close(teacher, dean, deputy)
        await client.close()
