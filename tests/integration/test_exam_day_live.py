"""Live control on exam day: pause and resume against the sweeper, extra time, terminate,
permissions, and that no action ever yields a second attempt (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.sweeper import sweep_once
from exam_engine.tables import outbox
from tests.factories import make_world, open_client
from tests.integration.test_exam_day_world import (
    LIVE,
    attempt_count,
    attempt_row,
    audit_actions,
    close_all,
    signed_in,
    staff,
    start,
)


async def test_a_paused_attempt_is_not_auto_submitted_while_paused_and_is_after_its_moved_deadline(services, clock):
    world = await make_world(services, duration_s=600)
    client = await open_client(services)
    try:
        student = await signed_in(client, "student1")
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        original = (await attempt_row(services, aid)).deadline_at
        clock.advance(100)
        status, body = await proctor.call("POST", f"{LIVE}/attempts/{aid}/pause", {"reason": "fire alarm"})
        assert status == 200 and body["attempt"]["status"] == "paused", body
        assert body["attempt"]["remaining_s"] == 500
        status, body = await student.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 0, "seq": 1})
        assert status == 409 and body["error"]["code"] == "attempt_paused"
        status, body = await student.call("POST", f"/api/v1/attempts/{aid}/submit")
        assert status == 409 and body["error"]["code"] == "attempt_paused"

        clock.advance(3600)  # far past the original deadline: the sweeper must leave it alone
        assert await sweep_once(services) == 0
        status, view = await student.call("GET", f"/api/v1/attempts/{aid}")
        assert view["attempt"]["status"] == "paused" and view["attempt"]["remaining_s"] == 500

        status, body = await proctor.call("POST", f"{LIVE}/attempts/{aid}/resume", {"reason": "alarm over"})
        assert status == 200, body
        moved = datetime.fromisoformat(body["attempt"]["deadline_at"])
        assert moved == original + timedelta(seconds=3600)
        clock.advance(499)
        assert await sweep_once(services) == 0
        status, _ = await student.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 0, "seq": 2})
        assert status == 200
        clock.advance(1 + services.settings.network_grace_s + 0.01)
        assert await sweep_once(services) == 1
    finally:
        await close_all(student, proctor)
        await client.close()
    row = await attempt_row(services, aid)
    assert row.status == "timed_out" and row.submitted_at == moved
    assert await audit_actions(services, f"attempt:{aid}") == [
        "attempt.started",
        "attempt.paused",
        "attempt.resumed",
        "attempt.timed_out",
    ]


async def test_extra_minutes_move_the_deadline_up_to_the_window_and_only_the_admin_widens_it(services, clock):
    world = await make_world(services, duration_s=1800, window_s=2400)  # opened 60 s ago: closes in 2340 s
    client = await open_client(services)
    try:
        student = await signed_in(client, "student1")
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        admin = await staff(services, client, "admin1", Role.ACADEMIC_ADMIN)
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        close = clock.now() + timedelta(seconds=2340)
        url = f"{LIVE}/attempts/{aid}/extra-time"
        status, body = await proctor.call("POST", url, {"minutes": 5, "reason": "network failure, ticket 17"})
        assert status == 200 and body["attempt"]["granted_s"] == 300
        status, body = await proctor.call("POST", url, {"minutes": 10, "reason": "power cut"})
        assert status == 200 and datetime.fromisoformat(body["attempt"]["deadline_at"]) == close
        status, body = await proctor.call("POST", url, {"minutes": 1, "reason": "again"})
        assert status == 409 and body["error"]["code"] == "window_cap_reached"
        status, body = await proctor.call("POST", url, {"minutes": 10, "reason": "again", "widen_window": True})
        assert status == 403
        status, body = await admin.call("POST", url, {"minutes": 10, "reason": "order 5", "widen_window": True})
        assert status == 200 and datetime.fromisoformat(body["attempt"]["deadline_at"]) == close + timedelta(minutes=10)
        status, view = await student.call("POST", f"/api/v1/attempts/{aid}/presence")
        assert status == 200 and datetime.fromisoformat(view["deadline_at"]) == close + timedelta(minutes=10)
    finally:
        await close_all(student, proctor, admin)
        await client.close()
    assert "exam.window_widened" in await audit_actions(services, f"exam:{world.exam_id}")
    assert (await audit_actions(services, f"attempt:{aid}")).count("attempt.time_granted") == 3


async def test_terminate_finishes_a_running_or_paused_attempt_and_annuls_it(services, clock):
    world = await make_world(services, students=2)
    client = await open_client(services)
    try:
        students = [await signed_in(client, login) for login in ("student1", "student2")]
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        ids = [(await start(api, world.exam_id))["attempt"]["id"] for api in students]
        await proctor.call("POST", f"{LIVE}/attempts/{ids[1]}/pause", {"reason": "phone seen"})
        clock.advance(30)
        for aid in ids:
            status, body = await proctor.call("POST", f"{LIVE}/attempts/{aid}/terminate", {"reason": "phone in hand"})
            assert status == 200 and body["attempt"]["status"] == "annulled", body
        status, result = await students[0].call("GET", f"/api/v1/attempts/{ids[0]}/result")
    finally:
        await close_all(*students, proctor)
        await client.close()
    assert status == 200 and result["result"] == "unsatisfactory" and result["finished_by"] == "proctor"
    async with services.engine.connect() as conn:
        events = (await conn.execute(select(outbox.c.key, outbox.c.version, outbox.c.payload))).all()
    assert sorted((e.key, e.version, e.payload["status"]) for e in events) == sorted(
        [(i, 1, "unsatisfactory") for i in ids] + [(i, 2, "annulled") for i in ids]
    )
    assert "attempt.terminated" in await audit_actions(services, f"attempt:{ids[1]}")


async def test_only_proctors_and_the_academic_admin_see_and_act_and_every_action_needs_a_reason(services):
    world = await make_world(services)
    client = await open_client(services)
    try:
        student = await signed_in(client, "student1")
        teacher = await staff(services, client, "teacher1", Role.TEACHER)
        sysadmin = await staff(services, client, "sys1", Role.SYSADMIN)
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        actions = [
            ("pause", {}),
            ("resume", {}),
            ("extra-time", {"minutes": 1}),
            ("downtime-credit", {}),
            ("terminate", {}),
            ("release-device", {}),
        ]
        for api in (student, teacher, sysadmin):
            status, _ = await api.call("GET", f"{LIVE}/exams/{world.exam_id}")
            assert status == 403
            for action, extra in actions:
                status, body = await api.call("POST", f"{LIVE}/attempts/{aid}/{action}", {"reason": "x", **extra})
                assert status == 403 and body["error"]["code"] == "forbidden", (action, body)
        for action, extra in actions:
            status, body = await proctor.call("POST", f"{LIVE}/attempts/{aid}/{action}", {"reason": "  ", **extra})
            assert status == 422 and body["error"]["code"] == "reason_required", (action, body)
        status, _ = await proctor.call("GET", f"{LIVE}/exams/{world.exam_id}")
        assert status == 200
        status, _ = await proctor.call("POST", f"{LIVE}/exams/{world.exam_id}/prepare", {})
        assert status == 403  # preparing forms is the administrator's
    finally:
        await close_all(student, teacher, sysadmin, proctor)
        await client.close()
    row = await attempt_row(services, aid)
    assert row.status == "in_progress"  # nothing refused changed anything


async def test_no_live_action_ever_yields_a_second_attempt(services, clock):
    world = await make_world(services, students=1)
    client = await open_client(services)
    try:
        student = await signed_in(client, "student1")
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        admin = await staff(services, client, "admin1", Role.ACADEMIC_ADMIN)
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        base = f"{LIVE}/attempts/{aid}"
        calls = [student.call("POST", f"/api/v1/exams/{world.exam_id}/start", {}) for _ in range(10)]
        calls += [
            proctor.call("POST", f"{base}/pause", {"reason": "r"}),
            admin.call("POST", f"{base}/extra-time", {"minutes": 3, "reason": "r"}),
            proctor.call("POST", f"{base}/resume", {"reason": "r"}),
            admin.call("POST", f"{base}/release-device", {"reason": "laptop died"}),
        ]
        results = await asyncio.gather(*calls)
        assert all(status in (200, 409) for status, _ in results), results
        status, body = await admin.call("POST", f"{base}/terminate", {"reason": "violation"})
        assert status == 200
        status, body = await student.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 409 and body["error"]["code"] == "retake_forbidden"
        status, body = await admin.call(
            "POST",
            f"{LIVE}/exams/{world.exam_id}/students/{(await attempt_row(services, aid)).student_id}/reschedule",
            {
                "opens_at": (clock.now() + timedelta(days=1)).isoformat(),
                "closes_at": (clock.now() + timedelta(days=1, hours=2)).isoformat(),
                "reason": "ill",
                "document_ref": "cert 12",
            },
        )
        assert status == 409 and body["error"]["code"] == "reschedule_is_retake"
    finally:
        await close_all(student, proctor, admin)
        await client.close()
    assert await attempt_count(services) == 1


async def test_the_live_view_shows_absent_lobby_writing_silent_paused_and_finished(services, clock):
    world = await make_world(services, students=6)
    client = await open_client(services)
    try:
        apis = {login: await signed_in(client, login) for login in world.students}
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        status, _ = await apis["student2"].call(
            "POST",
            f"/api/v1/exams/{world.exam_id}/lobby",
            {"checks": {"camera": True, "microphone": True, "consent": True}},
        )
        assert status == 200
        ids = {
            login: (await start(apis[login], world.exam_id))["attempt"]["id"]
            for login in ("student3", "student4", "student5", "student6")
        }
        await proctor.call("POST", f"{LIVE}/attempts/{ids['student5']}/pause", {"reason": "camera check"})
        await apis["student6"].call("POST", f"/api/v1/attempts/{ids['student6']}/submit")
        clock.advance(61)
        await apis["student4"].call("POST", f"/api/v1/attempts/{ids['student4']}/presence")
        status, live = await proctor.call("GET", f"{LIVE}/exams/{world.exam_id}?silent_after_s=60")
        status_bad, _ = await proctor.call("GET", f"{LIVE}/exams/{world.exam_id}?silent_after_s=abc")
    finally:
        await close_all(*apis.values(), proctor)
        await client.close()
    assert status == 200 and status_bad == 422
    states = {s["student"]["login"]: s["state"] for s in live["students"]}
    assert states == {
        "student1": "absent",
        "student2": "lobby",
        "student3": "silent",
        "student4": "writing",
        "student5": "paused",
        "student6": "finished",
    }
    assert live["counts"]["silent"] == 1 and live["counts"]["absent"] == 1
    by_login = {s["student"]["login"]: s for s in live["students"]}
    assert by_login["student2"]["lobby"]["checks"] == {"camera": True, "microphone": True, "consent": True}
    assert by_login["student3"]["attempt"]["remaining_s"] == world_duration_left(by_login["student3"], clock)
    assert by_login["student3"]["silent_for_s"] == 61


def world_duration_left(entry: dict, clock) -> float:  # type: ignore[no-untyped-def]
    return (datetime.fromisoformat(entry["attempt"]["deadline_at"]) - clock.now()).total_seconds()
