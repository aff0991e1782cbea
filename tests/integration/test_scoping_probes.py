"""Scoping probes the route walks of test_permission_matrix.py do not make: ids of another journal's
things sent through one's own journal's path, and an assignment taken away while the session is open."""

from __future__ import annotations

import pytest

from exam_engine.services import assignments, catalog
from exam_engine.web.api_journal import audit_sink
from journal_bridge import api as journal
from tests.factories import ADMIN, Api, new_api, open_client
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
