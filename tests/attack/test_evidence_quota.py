"""A student cannot fill the evidence store (issue 18).

The tester stored 40 frames of 1.9 MB in 5 s (about 1 GB a minute), on an exam that was not even
proctored. Evidence is now bounded per attempt — uploads per minute and bytes in all — with a 429
and a refusal the reviewer sees, and refused outright for an exam that is not proctored.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from exam_engine.tables import audit_log
from proctor.config import MIB
from proctor.tables import evidence_items, proctor_attempts
from tests.factories import Api, make_world, open_client, start_exam
from tests.integration.proctor_world import BASE, frame_person, proctored_attempt


async def _count(services, table, *where) -> int:
    async with services.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def test_uploads_beyond_the_minutes_quota_get_429_once_recorded_and_resume_next_minute(services, monkeypatch):
    monkeypatch.setenv("EXAM_EVIDENCE_UPLOADS_PER_MIN", "4")
    world = await proctored_attempt(services)
    try:
        jpeg = frame_person(1)
        for _ in range(4):
            status, body = await world.upload("frames", jpeg)
            assert status == 200, body
        status, body = await world.upload("frames", jpeg)
        assert status == 429, body
        assert body["error"]["code"] == "evidence_rate_exceeded"
        assert body["error"]["message"] == (
            "Прокторинг жазбалары тым жиі жіберілді: бір емтихан үшін минутына ең "
            "көбі 4. Бет оларды өзі қайта жібереді."
        )
        # Events count as uploads too; the refusal comes before the body is even looked at.
        status, body = await world.student.call(
            "POST", f"{BASE}/attempts/{world.attempt_id}/events", json={"events": [{"seq": 1, "type": "tab_hidden"}]}
        )
        assert status == 429 and body["error"]["code"] == "evidence_rate_exceeded", body
        resp = await world.client.post(
            f"{BASE}/attempts/{world.attempt_id}/frames?seq=99", data=jpeg, headers={"X-CSRF-Token": world.student.csrf}
        )
        assert resp.status == 429 and 1 <= int(resp.headers["Retry-After"]) <= 60
        # A made-up attempt id brings no fresh quota (and no body is read for it).
        status, body = await world.student.call("POST", f"{BASE}/attempts/{uuid.uuid4()}/frames?seq=1", data=jpeg)
        assert status == 429 and body["error"]["code"] == "evidence_rate_exceeded", body
        # Four frames stored, plus the one server-made event the reviewer sees; one audit row.
        kinds = await _count(services, evidence_items, evidence_items.c.kind == "frame")
        assert kinds == 4
        assert await _count(services, audit_log, audit_log.c.action == "proctor.evidence_quota") == 1
        timeline = await world.timeline()
        refusals = [i for i in timeline["items"] if i["trigger"] == "evidence_quota"]
        assert len(refusals) == 1 and refusals[0]["kind"] == "event", timeline["items"]
        # The next minute this student may go on.
        world.services.clock.advance(60)  # type: ignore[attr-defined]
        status, body = await world.upload("frames", jpeg)
        assert status == 200, body
    finally:
        await world.close()


async def test_an_attempts_evidence_bytes_are_bounded_in_all(services, monkeypatch):
    jpeg = frame_person(1)
    monkeypatch.setenv("EXAM_EVIDENCE_MAX_MB", str(2.5 * len(jpeg) / MIB))
    world = await proctored_attempt(services)
    try:
        for _ in range(2):
            status, body = await world.upload("frames", jpeg)
            assert status == 200, body
        for _ in range(2):
            world.services.clock.advance(60)  # type: ignore[attr-defined]
            status, body = await world.upload("frames", jpeg)
            assert status == 429, body
            assert body["error"]["code"] == "evidence_quota_exceeded"
        assert await _count(services, evidence_items, evidence_items.c.kind == "frame") == 2
        # Recorded once, when the quota was first crossed.
        assert await _count(services, audit_log, audit_log.c.action == "proctor.evidence_quota") == 1
        assert [i for i in (await world.timeline())["items"] if i["trigger"] == "evidence_quota"]
    finally:
        await world.close()


async def test_evidence_for_an_exam_that_is_not_proctored_is_refused_and_nothing_is_stored(services):
    world = await make_world(services, students=1, requires_proctoring=False)
    client = await open_client(services)
    try:
        student = Api(client)
        started = await start_exam(student, world.students[0], world.exam_id)
        base = f"{BASE}/attempts/{started['attempt']['id']}"
        jpeg = frame_person(1)
        calls = [
            ("consent", {"json": {"consent": True, "camera": True, "microphone": True}}),
            ("frames?seq=1", {"data": jpeg}),
            ("screens?seq=1", {"data": jpeg}),
            ("enrolment?seq=1", {"data": jpeg}),
            ("events", {"json": {"events": [{"seq": 1, "type": "tab_hidden"}]}}),
            ("noise", {"json": {"seq": 1, "dbfs": [-30.0]}}),
            ("heartbeat", {"json": {"page_id": "p1"}}),
        ]
        for suffix, kw in calls:
            status, body = await student.call("POST", f"{base}/{suffix}", **kw)
            assert status == 409, (suffix, body)
            assert body["error"]["code"] == "exam_not_proctored", (suffix, body)
            assert "прокторингсіз" in body["error"]["message"]
        assert await _count(services, proctor_attempts) == 0
        assert await _count(services, evidence_items) == 0
        # The exam itself goes on: an answer is saved.
        status, saved = await student.call(
            "PUT", f"/api/v1/attempts/{started['attempt']['id']}/answers/1", json={"choice": 0, "seq": 1}
        )
        assert status == 200 and saved["applied"], saved
    finally:
        await client.close()
