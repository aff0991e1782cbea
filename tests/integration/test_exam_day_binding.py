"""One active session per attempt (issue 7), the proctor's device move, and downtime credit."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.exam_day_tables import attempt_live
from exam_engine.services.uptime import BEAT_S, UptimeRecorder
from exam_engine.tables import answers
from tests.factories import make_world, open_client
from tests.integration.test_exam_day_world import LIVE, attempt_count, audit_actions, close_all, signed_in, staff, start


async def test_a_second_browser_of_the_same_student_is_refused_and_the_refusal_is_recorded(services):
    world = await make_world(services)
    client = await open_client(services)
    try:
        first = await signed_in(client, "student1")
        second = await signed_in(client, "student1")  # same person, another browser (another session)
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        aid = (await start(first, world.exam_id))["attempt"]["id"]
        refused = [
            await second.call("POST", f"/api/v1/exams/{world.exam_id}/start", {}),
            await second.call("GET", f"/api/v1/attempts/{aid}"),
            await second.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 1, "seq": 1}),
            await second.call("POST", f"/api/v1/attempts/{aid}/presence"),
            await second.call("POST", f"/api/v1/attempts/{aid}/submit"),
        ]
        status, mine = await first.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 0, "seq": 1})
        _, live = await proctor.call("GET", f"{LIVE}/exams/{world.exam_id}")
    finally:
        await close_all(first, second, proctor)
        await client.close()
    for code, body in refused:
        assert code == 409 and body["error"]["code"] == "attempt_open_elsewhere", body
    assert status == 200 and mine["applied"] is True
    entry = live["students"][0]["attempt"]
    assert entry["open_elsewhere"]["count"] == 5 and entry["status"] == "in_progress"
    assert (await audit_actions(services, f"attempt:{aid}")).count("attempt.open_elsewhere") == 5
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(answers.c.choice))).scalar_one() == 0  # the refused save left nothing
    assert await attempt_count(services) == 1


async def test_moving_to_another_device_hands_the_attempt_to_the_next_session_and_not_back(services):
    world = await make_world(services)
    client = await open_client(services)
    try:
        laptop = await signed_in(client, "student1")
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        aid = (await start(laptop, world.exam_id))["attempt"]["id"]
        await laptop.call("PUT", f"/api/v1/attempts/{aid}/answers/2", {"choice": 3, "seq": 1})
        status, body = await proctor.call("POST", f"{LIVE}/attempts/{aid}/release-device", {"reason": ""})
        assert status == 422
        status, body = await proctor.call(
            "POST", f"{LIVE}/attempts/{aid}/release-device", {"reason": "laptop battery died"}
        )
        assert status == 200 and body["attempt"]["bound_to_device"] is False
        spare = await signed_in(client, "student1")
        status, resumed = await spare.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 200 and resumed["attempt"]["id"] == aid
        assert {q["position"]: q["choice"] for q in resumed["questions"]}[2] == 3  # the answers came along
        status, body = await laptop.call("PUT", f"/api/v1/attempts/{aid}/answers/2", {"choice": 1, "seq": 2})
        assert status == 409 and body["error"]["code"] == "attempt_open_elsewhere"
        status, _ = await spare.call("POST", f"/api/v1/attempts/{aid}/submit")
        assert status == 200
        status, result = await laptop.call("GET", f"/api/v1/attempts/{aid}/result")
    finally:
        await close_all(laptop, spare, proctor)
        await client.close()
    assert status == 200 and result["status"] == "submitted"  # a finished result may be read from anywhere
    actions = await audit_actions(services, f"attempt:{aid}")
    assert actions.index("attempt.device_released") < actions.index("attempt.device_claimed")


async def test_measured_server_downtime_is_shown_and_credited_once(services, clock):
    world = await make_world(services, duration_s=1800)
    recorder = UptimeRecorder()

    async def beat() -> None:
        async with services.engine.begin() as conn:
            await recorder.beat(conn, clock.now())

    await beat()
    client = await open_client(services)
    try:
        student = await signed_in(client, "student1")
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        for _ in range(12):  # a minute up
            clock.advance(BEAT_S)
            await beat()
        down_from = clock.now()
        clock.advance(120)  # every process down for two minutes: no beats
        recorder = UptimeRecorder()  # a restarted process
        await beat()
        clock.advance(BEAT_S)
        await beat()
        _, live = await proctor.call("GET", f"{LIVE}/exams/{world.exam_id}")
        downtime = live["students"][0]["attempt"]["downtime"]
        deadline = datetime.fromisoformat(live["students"][0]["attempt"]["deadline_at"])
        status, body = await proctor.call(
            "POST", f"{LIVE}/attempts/{aid}/downtime-credit", {"reason": "server restart 10:41"}
        )
        again = await proctor.call("POST", f"{LIVE}/attempts/{aid}/downtime-credit", {"reason": "again"})
    finally:
        await close_all(student, proctor)
        await client.close()
    assert downtime["creditable_s"] == 115 and len(downtime["gaps"]) == 1
    assert downtime["gaps"][0]["from"] == (down_from + timedelta(seconds=BEAT_S)).isoformat()
    assert status == 200, body
    assert datetime.fromisoformat(body["attempt"]["deadline_at"]) == deadline + timedelta(seconds=115)
    assert body["attempt"]["downtime"]["creditable_s"] == 0 and body["attempt"]["downtime"]["credited_s"] == 115
    assert again[0] == 409 and again[1]["error"]["code"] == "no_downtime_to_credit"
    async with services.engine.connect() as conn:
        credited = (await conn.execute(select(attempt_live.c.downtime_credited_s))).scalar_one()
    assert credited == 115
    assert "attempt.downtime_credited" in await audit_actions(services, f"attempt:{aid}")
