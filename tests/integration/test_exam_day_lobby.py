"""The lobby, forms prepared in advance, accommodations and valid-reason reschedules."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select

from exam_engine.domain.roles import Role
from exam_engine.exam_day_tables import prepared_forms, prepared_items
from exam_engine.services import catalog, lobby
from exam_engine.tables import attempt_items
from tests.factories import ADMIN, make_world, open_client
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


async def _clear_spent(services) -> None:  # type: ignore[no-untyped-def]
    """What the background task does every 30 s: drop prepared forms whose student started."""
    async with services.engine.begin() as conn:
        await lobby.prepare_due(conn, now=services.clock.now(), bank_cache=services.bank_cache, lead_s=0)


async def _count(services, table) -> int:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_students_wait_in_the_lobby_and_start_from_a_prepared_form_on_their_own_clock(services, clock):
    world = await make_world(services, students=3, opens_in_s=600, question_count=5)
    client = await open_client(services)
    try:
        apis = [await signed_in(client, login) for login in world.students]
        admin = await staff(services, client, "admin1", Role.ACADEMIC_ADMIN)
        status, body = await apis[0].call(
            "POST", f"/api/v1/exams/{world.exam_id}/lobby", {"checks": {"camera": True, "consent": True}}
        )
        assert status == 200 and body["can_start"] is False and body["opens_in_s"] == 600
        assert body["form_prepared"] is True  # within the lead time: prepared as the student arrived
        assert body["checks"] == {"camera": True, "microphone": False, "consent": True}
        status, body = await apis[0].call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 409 and body["error"]["code"] == "exam_not_open"
        status, body = await admin.call("POST", f"{LIVE}/exams/{world.exam_id}/prepare", {"limit": 1})
        assert status == 200 and body == {"exam_id": world.exam_id, "prepared": 1, "more": True}
        status, body = await admin.call("POST", f"{LIVE}/exams/{world.exam_id}/prepare", {})
        assert body["prepared"] == 1 and body["more"] is False
        assert await _count(services, prepared_forms) == 3 and await _count(services, prepared_items) == 15
        assert await attempt_count(services) == 0  # a prepared form is not an attempt

        clock.advance(600)  # the opening minute
        first = await start(apis[1], world.exam_id)
        clock.advance(240)  # a late student's clock starts when they start
        late = await start(apis[2], world.exam_id)
    finally:
        await close_all(*apis, admin)
        await client.close()
    assert len(first["questions"]) == 5 and all(q["text"] for q in first["questions"])
    for summary, started_at in (
        (first["attempt"], clock.now() - timedelta(seconds=240)),
        (late["attempt"], clock.now()),
    ):
        assert datetime.fromisoformat(summary["deadline_at"]) == started_at + timedelta(seconds=1200)
    assert await _count(services, attempt_items) == 10
    await _clear_spent(services)
    assert await _count(services, prepared_forms) == 1 and await _count(services, prepared_items) == 5
    async with services.engine.connect() as conn:
        from exam_engine.tables import audit_log

        started = (await conn.execute(select(audit_log.c.after).where(audit_log.c.action == "attempt.started"))).all()
    assert all(r.after["prepared"] is True for r in started)


async def test_concurrent_starts_on_a_prepared_form_create_one_attempt_with_one_copy_of_the_form(services):
    world = await make_world(services, students=1, question_count=5)
    async with services.engine.begin() as conn:
        await lobby.prepare_forms(conn, ADMIN, world.exam_id, now=services.clock.now(), bank_cache=services.bank_cache)
    client = await open_client(services)
    try:
        api = await signed_in(client, "student1")
        results = await asyncio.gather(
            *(api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {}) for _ in range(30))
        )
    finally:
        await close_all(api)
        await client.close()
    assert {status for status, _ in results} == {200}
    assert len({body["attempt"]["id"] for _, body in results}) == 1
    assert await attempt_count(services) == 1
    assert await _count(services, attempt_items) == 5
    await _clear_spent(services)
    assert await _count(services, prepared_items) == 0


async def test_the_prepared_start_is_a_cheap_step(services):
    """A timing note, not a benchmark: the prepared start against drawing the form at start."""
    world = await make_world(services, students=20, question_count=40, bank_size=60)
    async with services.engine.begin() as conn:
        await lobby.prepare_forms(
            conn, ADMIN, world.exam_id, now=services.clock.now(), bank_cache=services.bank_cache, limit=10
        )
    from exam_engine.domain.actors import Actor
    from exam_engine.services import attempts as attempt_service

    async def start_as(login: str) -> float:
        async with services.engine.begin() as conn:
            sid = await catalog.user_id_by_login(conn, login)
        actor = Actor(user_id=sid, login=login, role=Role.STUDENT)
        began = time.perf_counter()
        async with services.engine.begin() as conn:
            await attempt_service.start(
                conn,
                actor,
                world.exam_id,
                language=None,
                now=services.clock.now(),
                bank_cache=services.bank_cache,
                session="s" * 64,
            )
        return time.perf_counter() - began

    await start_as("student20")  # warm the bank cache and the statement caches
    prepared = sorted([await start_as(f"student{i}") for i in range(1, 11)])  # the ten prepared
    drawn = sorted([await start_as(f"student{i}") for i in range(11, 20)])
    print(
        f"\n[{services.engine.dialect.name}] start, 40 questions: prepared median "
        f"{prepared[4] * 1000:.1f} ms, drawn at start median {drawn[4] * 1000:.1f} ms"
    )
    await _clear_spent(services)
    assert await _count(services, prepared_items) == 0


async def test_an_accommodation_multiplies_the_time_capped_by_the_window_unless_widened(services, clock):
    world = await make_world(services, students=3, duration_s=1800, window_s=3600, opens_in_s=0)
    client = await open_client(services)
    try:
        admin = await staff(services, client, "admin1", Role.ACADEMIC_ADMIN)
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        ids = {}
        async with services.engine.connect() as conn:
            for login in world.students:
                ids[login] = await catalog.user_id_by_login(conn, login)
        base = f"{LIVE}/exams/{world.exam_id}/students"
        close = clock.now() + timedelta(seconds=3600)
        status, body = await admin.call(
            "PUT", f"{base}/{ids['student1']}/accommodation", {"multiplier": 1.5, "reason": "medical certificate 4"}
        )
        assert status == 200, body
        status, _ = await admin.call(
            "PUT", f"{base}/{ids['student2']}/accommodation", {"multiplier": 2.5, "reason": "certificate 5"}
        )
        status, body = await admin.call(
            "PUT",
            f"{base}/{ids['student3']}/accommodation",
            {
                "multiplier": 2.5,
                "reason": "certificate 6",
                "window_closes_at": (close + timedelta(hours=1)).isoformat(),
            },
        )
        assert status == 200, body
        status, body = await proctor.call(
            "PUT", f"{base}/{ids['student1']}/accommodation", {"extra_minutes": 5, "reason": "x"}
        )
        assert status == 403
        clock.advance(60)
        deadlines = {}
        for login in world.students:
            api = await signed_in(client, login)
            deadlines[login] = datetime.fromisoformat((await start(api, world.exam_id))["attempt"]["deadline_at"])
            await close_all(api)
        status, body = await admin.call(
            "PUT", f"{base}/{ids['student1']}/accommodation", {"extra_minutes": 5, "reason": "late"}
        )
    finally:
        await close_all(admin, proctor)
        await client.close()
    assert status == 409 and body["error"]["code"] == "accommodation_after_start"
    assert deadlines["student1"] == clock.now() + timedelta(seconds=2700)
    assert deadlines["student2"] == close  # capped by the exam window
    assert deadlines["student3"] == clock.now() + timedelta(seconds=4500)  # widened window


async def test_a_student_who_did_not_start_gets_a_later_window_and_one_who_started_is_refused(services, clock):
    world = await make_world(services, students=2, duration_s=1800, window_s=3600)
    client = await open_client(services)
    try:
        admin = await staff(services, client, "admin1", Role.ACADEMIC_ADMIN)
        proctor = await staff(services, client, "proctor1", Role.PROCTOR)
        ill, present = (await signed_in(client, "student1")), (await signed_in(client, "student2"))
        await start(present, world.exam_id)
        async with services.engine.connect() as conn:
            ill_id = await catalog.user_id_by_login(conn, "student1")
            present_id = await catalog.user_id_by_login(conn, "student2")
        base = f"{LIVE}/exams/{world.exam_id}/students"
        opens, closes = clock.now() + timedelta(days=7), clock.now() + timedelta(days=7, minutes=40)
        window = {
            "opens_at": opens.isoformat(),
            "closes_at": closes.isoformat(),
            "reason": "illness",
            "document_ref": "medical certificate No 118 of 2026-06-01",
        }
        status, body = await proctor.call("POST", f"{base}/{ill_id}/reschedule", window)
        assert status == 403
        status, body = await admin.call("POST", f"{base}/{ill_id}/reschedule", {**window, "document_ref": " "})
        assert status == 422 and body["error"]["code"] == "document_required"
        status, body = await admin.call("POST", f"{base}/{present_id}/reschedule", window)
        assert status == 409 and body["error"]["code"] == "reschedule_is_retake"
        status, body = await admin.call("POST", f"{base}/{ill_id}/reschedule", window)
        assert status == 200 and body["rescheduled"] is True, body
        status, body = await ill.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 409 and body["error"]["code"] == "exam_not_open"  # the exam is open, but not for them
        _, listing = await ill.call("GET", "/api/v1/student/exams")
        clock.set(opens + timedelta(minutes=20))
        await ill.login("student1")  # a week later: a new session
        started = await start(ill, world.exam_id)
    finally:
        await close_all(admin, proctor, ill, present)
        await client.close()
    assert listing["exams"][0]["opens_at"] == opens.isoformat() and listing["exams"][0]["personal_window"] is True
    assert datetime.fromisoformat(started["attempt"]["deadline_at"]) == closes  # capped by the personal window
    after = await audit_actions(services, f"exam:{world.exam_id}")
    assert after.count("exam.rescheduled") == 1
    row = await attempt_row(services, started["attempt"]["id"])
    assert row.started_at == opens + timedelta(minutes=20)


async def test_one_background_round_prepares_every_student_batch_after_batch(services, monkeypatch):
    """A sitting larger than a batch is fully prepared in one round, not one batch per 30 s."""
    from exam_engine.services.uptime import UptimeRecorder
    from exam_engine.web import api_live

    world = await make_world(services, students=5, opens_in_s=600, question_count=3)
    monkeypatch.setattr(lobby, "DEFAULT_BATCH", 2)
    await api_live.tick(services, UptimeRecorder(), prepare=True, lead_s=3600)
    assert await _count(services, prepared_forms) == len(world.students) == 5


async def test_the_page_a_new_start_answers_is_the_page_read_back_from_the_database(services):
    """The start builds a new attempt's page from what it wrote (prepared form or drawn at the start);
    reading the attempt back gives the same page, question by question, in the same order."""
    world = await make_world(services, students=2, question_count=6, bank_size=9)
    async with services.engine.begin() as conn:
        await lobby.prepare_forms(
            conn, ADMIN, world.exam_id, now=services.clock.now(), bank_cache=services.bank_cache, limit=1
        )  # student1 prepared, student2 drawn at the start
    client = await open_client(services)
    try:
        apis = [await signed_in(client, login) for login in world.students]
        pages = [await start(api, world.exam_id) for api in apis]
        read_back = []
        for api, page in zip(apis, pages, strict=True):
            status, body = await api.call("GET", f"/api/v1/attempts/{page['attempt']['id']}")
            assert status == 200, body
            read_back.append(body)
    finally:
        await close_all(*apis)
        await client.close()
    async with services.engine.connect() as conn:
        from exam_engine.tables import audit_log

        prepared = [
            r.after["prepared"]
            for r in await conn.execute(
                select(audit_log.c.after).where(audit_log.c.action == "attempt.started").order_by(audit_log.c.id)
            )
        ]
    assert prepared == [True, False]
    for page, back in zip(pages, read_back, strict=True):
        assert [q["position"] for q in page["questions"]] == list(range(1, 7))
        assert page == back
        assert all(set(q) == {"position", "text", "options", "choice", "seq"} for q in page["questions"])  # no key


async def test_background_preparation_pauses_between_batches_so_requests_keep_their_pace(services, monkeypatch):
    """Preparing 2,000 forms at full speed beside a sign-in storm took the storm's p95 from ~50 ms
    to ~1 s; after each batch the round now waits PREPARE_PAUSE_RATIO times the batch's time."""
    import contextlib

    from exam_engine.services.uptime import UptimeRecorder
    from exam_engine.web import api_live

    await make_world(services, students=5, opens_in_s=600, question_count=3)
    monkeypatch.setattr(lobby, "DEFAULT_BATCH", 2)
    monkeypatch.setattr(api_live, "PREPARE_PAUSE_RATIO", 1000.0)  # a batch of milliseconds, a pause of seconds
    round_ = asyncio.create_task(api_live.tick(services, UptimeRecorder(), prepare=True, lead_s=3600))
    try:
        for _ in range(200):
            if await _count(services, prepared_forms) >= 2:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert await _count(services, prepared_forms) == 2 and not round_.done()
    finally:
        round_.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await round_


async def test_two_preparers_at_once_give_each_student_one_form(services, monkeypatch):
    """A batch is claimed in one statement: a student the other preparer claimed first is skipped,
    not drawn twice (both commit; every student ends with one form of question_count items)."""
    world = await make_world(services, students=6, opens_in_s=600, question_count=4)
    monkeypatch.setattr(lobby, "ITEMS_CHUNK", 4)  # the items in more than one statement too

    async def prepare() -> int:
        async with services.engine.begin() as conn:
            done = await lobby.prepare_forms(
                conn,
                "system:prepare",
                world.exam_id,
                now=services.clock.now(),
                bank_cache=services.bank_cache,
                limit=100,
            )
            await asyncio.sleep(0.1)  # hold the transaction open while the other one runs
            return done["prepared"]

    counts = await asyncio.gather(prepare(), prepare())
    assert sum(counts) == 6
    async with services.engine.connect() as conn:
        per_student = (
            await conn.execute(select(prepared_items.c.student_id, func.count()).group_by(prepared_items.c.student_id))
        ).all()
    assert len(per_student) == 6 and {n for _, n in per_student} == {4}
    assert await _count(services, prepared_forms) == 6
