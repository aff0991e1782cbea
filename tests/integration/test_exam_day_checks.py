"""Issue 20 on the server: the device checks before a proctored exam's clock, the device cookie that
lets a student sign out and in again, and the time-left warnings.

Runs on both backends (the ``backend`` fixture); the clock is a FakeClock moved by hand.
"""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import aiohttp
from sqlalchemy import select, update

from exam_engine.domain.roles import Role
from exam_engine.exam_day_tables import attempt_live
from exam_engine.services.attempts import sweep_expired
from exam_engine.tables import exams
from tests.factories import PASSWORD, Api, make_world, open_client
from tests.integration.test_exam_day_world import LIVE, attempt_row, audit_actions, close_all, signed_in, staff, start
from tests.unit.proctor import scenes as sc

BASE = "/api/v1/proctor"


async def _sweep(services) -> int:  # type: ignore[no-untyped-def]
    async with services.engine.begin() as conn:
        return len(await sweep_expired(conn, now=services.clock.now(), grace_s=1.0))


async def _camera(api: Api, aid: str, jpeg: bytes) -> dict:
    status, body = await api.call("POST", f"/api/v1/attempts/{aid}/camera-check", data=jpeg)
    assert status == 200, body
    return body


async def _room_scan(api: Api, aid: str) -> None:
    form = aiohttp.FormData()
    for i in range(3):
        form.add_field("frame", io.BytesIO(sc.live(sc.wall(), i)), filename=f"{i}.jpg", content_type="image/jpeg")
    status, body = await api.call("POST", f"{BASE}/attempts/{aid}/room-scans?seq=1", data=form)
    assert status == 200, body


async def test_signing_out_and_in_again_in_the_same_browser_resumes_the_attempt(services):
    world = await make_world(services)
    client = await open_client(services)
    try:
        browser = await signed_in(client, "student1")
        aid = (await start(browser, world.exam_id))["attempt"]["id"]
        await browser.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 2, "seq": 1})
        status, _ = await browser.call("POST", "/api/v1/auth/logout")
        assert status == 200
        await browser.login("student1")  # a new session, the same browser (its device cookie is kept)
        status, resumed = await browser.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 200 and resumed["attempt"]["id"] == aid, resumed
        assert {q["position"]: q["choice"] for q in resumed["questions"]}[1] == 2
        status, saved = await browser.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 3, "seq": 2})
        assert status == 200 and saved["applied"] is True

        other = await signed_in(client, "student1")  # another browser: another device cookie
        status, refused = await other.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 409 and refused["error"]["code"] == "attempt_open_elsewhere"
        # A non-proctored exam has no proctor in the room: the academic administrator releases it.
        admin = await staff(services, client, "admin2", Role.ACADEMIC_ADMIN)
        status, _ = await admin.call("POST", f"{LIVE}/attempts/{aid}/release-device", {"reason": "new computer"})
        assert status == 200
        status, claimed = await other.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 200 and claimed["attempt"]["id"] == aid
        status, _ = await browser.call("GET", f"/api/v1/attempts/{aid}")
        assert status == 409  # the first browser lost it with the release
    finally:
        await close_all(browser, other, admin)
        await client.close()


async def test_the_device_cookie_is_long_lived_http_only_and_strict(services):
    await make_world(services, students=1)
    client = await open_client(services)
    try:
        resp = await client.post("/api/v1/auth/login", json={"login": "student1", "password": PASSWORD})
        header = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("exam_device="))
        again = await client.post("/api/v1/auth/login", json={"login": "student1", "password": PASSWORD})
        resent = [v for v in again.headers.getall("Set-Cookie") if v.startswith("exam_device=")]
    finally:
        await client.close()
    assert resp.status == 200, await resp.text()
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Max-Age=34560000" in header
    assert resent == []  # kept, not replaced, at the next sign-in in the same browser


async def test_a_proctored_clock_starts_when_the_checks_pass_not_at_start(services):
    world = await make_world(services, duration_s=180, requires_proctoring=True)
    client = await open_client(services)
    try:
        student = await signed_in(client, "student1")
        started = await start(student, world.exam_id)
        aid = started["attempt"]["id"]
        assert started["attempt"]["status"] == "checks" and started["questions"] == []  # nothing to read yet
        status, body = await student.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 0, "seq": 1})
        assert status == 409 and body["error"]["code"] == "attempt_in_checks"
        status, body = await student.call("POST", f"/api/v1/attempts/{aid}/begin")
        assert status == 409 and body["error"]["code"] == "consent_required"
        await student.call(
            "POST", f"{BASE}/attempts/{aid}/consent", {"consent": True, "camera": True, "microphone": True}
        )
        # A lit wall: bright enough, but nobody there. Brightness alone no longer passes.
        nobody = await _camera(student, aid, sc.live(sc.wall(), 1))
        assert nobody["ok"] is False and nobody["reason"] == "no_face"
        status, body = await student.call("POST", f"/api/v1/attempts/{aid}/begin")
        assert status == 409 and body["error"]["code"] == "camera_check_required"
        assert "камера" in body["error"]["message"].lower()  # in the student's language (kk)
        services.clock.advance(400)  # a long struggle with the camera: longer than the exam itself
        assert await _sweep(services) == 0  # the sweeper leaves an attempt in its checks alone
        face = await _camera(student, aid, sc.live(sc.person(), 2))
        assert face["ok"] is True and face["faces"] == 1
        status, body = await student.call(
            "POST", f"{BASE}/attempts/{aid}/enrolment?seq=1", data=sc.jpeg(sc.astronaut(), 95)
        )
        assert status == 200, body
        status, body = await student.call("POST", f"/api/v1/attempts/{aid}/begin")
        assert status == 409 and body["error"]["code"] == "room_scan_required"
        await _room_scan(student, aid)
        status, begun = await student.call("POST", f"/api/v1/attempts/{aid}/begin")
        assert status == 200, begun
        again, _ = await student.call("POST", f"/api/v1/attempts/{aid}/begin")
    finally:
        await close_all(student)
        await client.close()
    now = services.clock.now()
    assert begun["attempt"]["status"] == "in_progress" and len(begun["questions"]) == 5
    assert begun["attempt"]["remaining_s"] == 180  # the whole duration: the checks took none of it
    row = await attempt_row(services, aid)
    assert row.started_at == now and row.deadline_at == now + timedelta(seconds=180)
    assert again == 200
    actions = await audit_actions(services, f"attempt:{aid}")
    assert actions.count("attempt.checks_passed") == 1
    async with services.engine.connect() as conn:
        live = (await conn.execute(select(attempt_live).where(attempt_live.c.attempt_id == uuid.UUID(aid)))).one()
    assert live.checks_passed_at == now and live.failed_checks == 4  # no face, three refused begins
    services.clock.advance(182)
    assert await _sweep(services) == 1  # and now its own deadline applies


async def test_a_student_stuck_in_the_checks_needs_help_and_a_proctor_lets_them_in(services):
    world = await make_world(services, duration_s=600, window_s=3600, requires_proctoring=True)
    client = await open_client(services)
    try:
        student = await signed_in(client, "student1")
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        _, live = await proctor.call("GET", f"{LIVE}/exams/{world.exam_id}")
        first = next(s for s in live["students"] if s["student"]["login"] == "student1")
        await student.call("POST", f"{BASE}/attempts/{aid}/consent", {"consent": True})
        await _camera(student, aid, sc.live(sc.wall(), 3))
        _, live = await proctor.call("GET", f"{LIVE}/exams/{world.exam_id}")
        stuck = next(s for s in live["students"] if s["student"]["login"] == "student1")
        status, body = await proctor.call("POST", f"{LIVE}/attempts/{aid}/admit", {"reason": " "})
        assert status == 422 and body["error"]["code"] == "reason_required"
        services.clock.advance(30)
        status, admitted = await proctor.call(
            "POST",
            f"{LIVE}/attempts/{aid}/admit",
            {"reason": "camera broken; identity checked by the proctor in person"},
        )
        again, body = await proctor.call("POST", f"{LIVE}/attempts/{aid}/admit", {"reason": "twice"})
        status_view, view = await student.call("GET", f"/api/v1/attempts/{aid}")
    finally:
        await close_all(student, proctor)
        await client.close()
    assert first["state"] == "checks" and live["counts"]["needs_help"] == 1
    assert stuck["state"] == "needs_help" and stuck["attempt"]["checks"]["camera"]["reason"] == "no_face"
    assert status == 200 and admitted["attempt"]["status"] == "in_progress"
    assert admitted["attempt"]["remaining_s"] == 600
    assert again == 409 and body["error"]["code"] == "attempt_not_in_checks"
    assert status_view == 200 and len(view["questions"]) == 5
    assert "attempt.admitted" in await audit_actions(services, f"attempt:{aid}")


async def test_an_attempt_still_in_its_checks_times_out_when_the_window_closes(services):
    world = await make_world(services, duration_s=600, window_s=900, opens_in_s=-60, requires_proctoring=True)
    client = await open_client(services)
    try:
        student, other = await signed_in(client, "student1"), await signed_in(client, "student2")
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        second = (await start(other, world.exam_id))["attempt"]["id"]
    finally:
        await close_all(student, other)
        await client.close()
    services.clock.advance(700)  # past the duration, inside the window: still in the checks
    assert await _sweep(services) == 0
    services.clock.advance(200 + 2)  # the window closed (840 s after the start) plus the grace
    assert await _sweep(services) == 2  # one batch, both rows
    for attempt_id in (aid, second):
        row = await attempt_row(services, attempt_id)
        assert row.status == "timed_out" and row.result == "unsatisfactory"


async def test_the_rules_page_says_what_running_out_of_time_means_under_each_policy(services):
    strict = await make_world(services, students=1, student_language="ru")
    client = await open_client(services)
    try:
        student = await signed_in(client, "student1")
        status, _ = await student.call("GET", f"/exam/{strict.exam_id}", allow_redirects=False)
        assert status == 302  # the exam page without an attempt sends the student to the rules first
        _, page = await student.call("GET", f"/exam/{strict.exam_id}/rules")
        async with services.engine.begin() as conn:
            await conn.execute(update(exams).where(exams.c.id == strict.exam_id).values(timeout_policy="grade_saved"))
        _, lenient = await student.call("GET", f"/exam/{strict.exam_id}/rules")
        _, api_view = await student.call("POST", f"/api/v1/exams/{strict.exam_id}/start", {})
    finally:
        await close_all(student)
        await client.close()
    assert "«неудовлетворительно»" in page and "НЕ сдаются автоматически" in page
    assert "Пересдачи нет" in page and "прокторингом" not in page  # this exam is not proctored
    assert "сохранённые ответы будут оценены как есть" in lenient and "НЕ сдаются автоматически" not in lenient
    assert api_view["attempt"]["timeout_policy"] == "grade_saved"  # the exam page words its warnings after it


async def test_pause_and_extra_time_wait_for_the_clock_to_start(services):
    world = await make_world(services, duration_s=600, requires_proctoring=True)
    client = await open_client(services)
    try:
        student = await signed_in(client, "student1")
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        refused = [
            await proctor.call("POST", f"{LIVE}/attempts/{aid}/pause", {"reason": "noise"}),
            await proctor.call("POST", f"{LIVE}/attempts/{aid}/extra-time", {"reason": "late", "minutes": 5}),
        ]
        status, _ = await proctor.call("POST", f"{LIVE}/attempts/{aid}/admit", {"reason": "checked in person"})
        granted, body = await proctor.call(
            "POST", f"{LIVE}/attempts/{aid}/extra-time", {"reason": "late", "minutes": 5}
        )
    finally:
        await close_all(student, proctor)
        await client.close()
    for code, refusal in refused:
        assert code == 409 and refusal["error"]["code"] == "attempt_in_checks", refusal
    assert status == 200 and granted == 200 and body["attempt"]["remaining_s"] == 900


async def test_every_page_of_an_ended_sitting_leads_to_its_result(services):
    # A bookmark, the back button or a link from the exam list must not end on a bare "no retake"
    # refusal with nowhere to go: the rules, the checks and the questions all show the result.
    world = await make_world(services, students=2, duration_s=600)
    client = await open_client(services)
    try:
        handed, late = await signed_in(client, "student1"), await signed_in(client, "student2")
        handed_in = (await start(handed, world.exam_id))["attempt"]["id"]
        timed_out = (await start(late, world.exam_id))["attempt"]["id"]
        status, body = await handed.call("POST", f"/api/v1/attempts/{handed_in}/submit", {})
        assert status == 200, body
        services.clock.advance(700)
        assert await _sweep(services) == 1
        for api, aid in ((handed, handed_in), (late, timed_out)):
            for page in ("", "/rules", "/check"):
                resp = await api.client.request("GET", f"/exam/{world.exam_id}{page}", allow_redirects=False)
                assert (resp.status, resp.headers.get("Location")) == (302, f"/attempt/{aid}/result"), page
            status, result = await api.call("GET", f"/attempt/{aid}/result")
            assert status == 200 and "/ 100" in result
    finally:
        await close_all(handed, late)
        await client.close()
