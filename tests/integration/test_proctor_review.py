"""Who may see evidence and review, and what a proctor's decisions do."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.tables import attempts, audit_log, outbox
from tests.factories import assign_proctor, make_user, new_api
from tests.integration.proctor_world import BASE, frame_person, proctored_attempt


async def _paste(world, seq: int = 1) -> None:
    status, body = await world.student.call(
        "POST", f"{BASE}/attempts/{world.attempt_id}/events", json={"events": [{"seq": seq, "type": "paste"}]}
    )
    assert status == 200, body


async def test_students_and_teachers_can_neither_read_evidence_nor_review(services):
    world = await proctored_attempt(services)
    await make_user(services, "teacher1", Role.TEACHER)
    teacher = await new_api(world.client)
    await teacher.login("teacher1")
    try:
        item = await world.frame(frame_person(1))
        await _paste(world)
        timeline = await world.timeline()
        flag_id = timeline["flags"][0]["id"]
        evidence = f"{BASE}/attempts/{world.attempt_id}/evidence/{item['evidence_seq']}"
        for api in (world.student, world.other_student, teacher):
            for method, path, body in (
                ("GET", evidence, None),
                ("GET", f"{BASE}/attempts/{world.attempt_id}/timeline", None),
                ("GET", f"{BASE}/queue", None),
                ("GET", f"{BASE}/live", None),
                ("POST", f"{BASE}/flags/{flag_id}/review", {"status": "dismissed"}),
                ("POST", f"{BASE}/attempts/{world.attempt_id}/decisions", {"decision": "clean", "reason": "x"}),
            ):
                status, reply = await api.call(method, path, json=body)
                assert status == 403 and reply["error"]["code"] == "forbidden", (api, path, reply)

        resp = await world.proctor.client.request("GET", evidence + "?thumb=1")
        assert resp.status == 200 and (await resp.read())[:2] == b"\xff\xd8"
        async with services.engine.connect() as conn:
            views = (
                await conn.execute(
                    select(audit_log.c.actor, audit_log.c.after).where(audit_log.c.action == "evidence.viewed")
                )
            ).all()
        assert [(v.actor, v.after["seq"], v.after["thumb"]) for v in views] == [
            ("user:proctor1", item["evidence_seq"], True)
        ]
    finally:
        await teacher.client.close()  # type: ignore[attr-defined]
        await world.close()


async def test_dismissing_a_flag_lowers_the_risk_and_confirming_keeps_it(services):
    world = await proctored_attempt(services)
    try:
        await _paste(world)
        before = await world.timeline()
        flag_id = before["flags"][0]["id"]
        assert before["risk_score"] > 0
        status, body = await world.proctor.call(
            "POST", f"{BASE}/flags/{flag_id}/review", json={"status": "dismissed", "note": "own notes"}
        )
        assert status == 200 and body["status"] == "dismissed"
        after = await world.timeline()
        assert after["risk_score"] == 0 and after["flags"][0]["reviewed_by"] == "user:proctor1"
        await world.proctor.call("POST", f"{BASE}/flags/{flag_id}/review", json={"status": "confirmed"})
        assert (await world.timeline())["risk_score"] == before["risk_score"]
        status, body = await world.proctor.call("POST", f"{BASE}/flags/{flag_id}/review", json={"status": "maybe"})
        assert status == 422 and body["error"]["code"] == "flag_status_invalid"
    finally:
        await world.close()


async def test_a_decision_needs_a_reason_and_only_a_second_reviewer_can_overrule_it(services):
    world = await proctored_attempt(services)
    await make_user(services, "proctor2", Role.PROCTOR)
    await assign_proctor(services, "proctor2")
    second = await new_api(world.client)
    await second.login("proctor2")
    url = f"{BASE}/attempts/{world.attempt_id}/decisions"
    try:
        status, body = await world.proctor.call("POST", url, json={"decision": "clean", "reason": "  "})
        assert status == 422 and body["error"]["code"] == "reason_required"
        assert (await world.proctor.call("POST", url, json={"decision": "clean", "reason": "all fine"}))[0] == 200
        status, body = await world.proctor.call("POST", url, json={"decision": "suspicious", "reason": "hm"})
        assert status == 409 and body["error"]["code"] == "second_reviewer_required"
        status, body = await second.call("POST", url, json={"decision": "suspicious", "reason": "a voice at 10:12"})
        assert status == 200 and body["overrules"] is not None
        decisions = (await world.timeline())["decisions"]
        assert [(d["decision"], d["reviewer"]) for d in decisions] == [
            ("clean", "user:proctor1"),
            ("suspicious", "user:proctor2"),
        ]
    finally:
        await second.client.close()  # type: ignore[attr-defined]
        await world.close()


async def test_a_violation_annuls_a_running_attempt_and_the_journal_gets_a_newer_result(services):
    world = await proctored_attempt(services)
    await make_user(services, "proctor2", Role.PROCTOR)
    await assign_proctor(services, "proctor2")
    second = await new_api(world.client)
    await second.login("proctor2")
    url = f"{BASE}/attempts/{world.attempt_id}/decisions"
    try:
        await world.frame(frame_person(1))
        status, body = await world.proctor.call(
            "POST", url, json={"decision": "violation", "reason": "a second person dictates answers"}
        )
        assert status == 200, body
        async with services.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(attempts.c.status, attempts.c.result).where(attempts.c.id == UUID(world.attempt_id))
                )
            ).one()
            events = (
                await conn.execute(
                    select(outbox.c.version, outbox.c.payload)
                    .where(outbox.c.key == world.attempt_id)
                    .order_by(outbox.c.version)
                )
            ).all()
        assert (row.status, row.result) == ("annulled", "unsatisfactory")
        assert [(e.version, e.payload["status"]) for e in events][-1] == (2, "annulled")
        status, body = await second.call("POST", url, json={"decision": "clean", "reason": "overrule"})
        assert status == 409 and body["error"]["code"] == "violation_final"
        status, body = await world.upload("frames", frame_person(2))
        assert status == 409 and body["error"]["code"] == "attempt_finished"
    finally:
        await second.client.close()  # type: ignore[attr-defined]
        await world.close()
