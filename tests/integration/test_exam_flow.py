"""A student sits a timed exam end to end, on SQLite and on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from exam_engine.tables import answers, attempts, audit_log, outbox
from tests.factories import Api, make_world, new_api, open_client

FORBIDDEN_KEYS = {"key_index", "correct", "is_correct", "key", "answer_key", "right"}


def _walk_keys(value) -> set[str]:  # type: ignore[no-untyped-def]
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found.add(k)
            found |= _walk_keys(v)
    elif isinstance(value, list):
        for v in value:
            found |= _walk_keys(v)
    return found


async def test_student_sits_the_exam_and_sees_the_result_the_same_day(services):
    world = await make_world(services, question_count=5)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        status, listing = await api.call("GET", "/api/v1/student/exams")
        assert status == 200 and listing["exams"][0]["open_now"] is True
        status, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 200, started
        attempt_id = started["attempt"]["id"]
        assert started["attempt"]["status"] == "in_progress"
        assert len(started["questions"]) == 5
        # Answer three right and two wrong: the key is the option whose text starts with KEY.
        for seq, q in enumerate(started["questions"], start=1):
            key = next(i for i, o in enumerate(q["options"]) if o.startswith("KEY"))
            choice = key if seq <= 3 else (key + 1) % len(q["options"])
            status, receipt = await api.call(
                "PUT", f"/api/v1/attempts/{attempt_id}/answers/{q['position']}", {"choice": choice, "seq": seq}
            )
            assert status == 200, receipt
            assert receipt["applied"] is True and receipt["seq"] == seq and len(receipt["digest"]) == 64
        status, result = await api.call("POST", f"/api/v1/attempts/{attempt_id}/submit")
        assert status == 200, result
        assert result["status"] == "submitted" and result["score"] == 60 and result["result"] == "passed"
        assert result["correct_count"] == 3
        status, again = await api.call("GET", f"/api/v1/attempts/{attempt_id}/result")
        assert status == 200 and again["score"] == 60
        status, listing = await api.call("GET", "/api/v1/student/exams")
        assert listing["exams"][0]["attempt"]["result"] == "passed"
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        event = (await conn.execute(select(outbox.c.payload))).scalar_one()
        actions = set((await conn.execute(select(audit_log.c.action))).scalars())
    assert event["attempt_id"] == attempt_id and event["score"] == 60 and event["status"] == "passed"
    assert {"attempt.started", "attempt.submitted", "auth.login"} <= actions


async def test_served_questions_never_contain_the_answer_key(services):
    world = await make_world(services, question_count=10, bank_size=10)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        status, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 200
        status, view = await api.call("GET", f"/api/v1/attempts/{started['attempt']['id']}")
        for body in (started, view):
            assert not (_walk_keys(body) & FORBIDDEN_KEYS)
            for q in body["questions"]:
                assert set(q) == {"position", "text", "options", "choice", "seq"}
        # Options are shuffled per attempt: the key is not always first (P(all first) = 5^-10).
        key_positions = [
            next(i for i, o in enumerate(q["options"]) if o.startswith("KEY")) for q in started["questions"]
        ]
        assert set(key_positions) != {0}
    finally:
        await client.close()


async def test_fifty_concurrent_starts_by_one_student_create_exactly_one_attempt(services):
    world = await make_world(services, students=1)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        results = await asyncio.gather(
            *(api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {}) for _ in range(50))
        )
    finally:
        await client.close()
    statuses = {status for status, _ in results}
    ids = {body["attempt"]["id"] for status, body in results if status == 200}
    assert statuses == {200}, results[:3]
    assert len(ids) == 1
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(attempts))).scalar_one() == 1


async def test_second_start_after_finishing_is_refused_as_a_retake(services):
    world = await make_world(services, students=1)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        await api.call("POST", f"/api/v1/attempts/{started['attempt']['id']}/submit")
        status, body = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
    finally:
        await client.close()
    assert status == 409 and body["error"]["code"] == "retake_forbidden"
    assert "қайта" in body["error"]["message"].lower()  # the student's language is Kazakh


async def test_a_save_after_the_deadline_is_refused_and_changes_nothing(services, clock):
    world = await make_world(services, duration_s=60)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        attempt_id = started["attempt"]["id"]
        status, _ = await api.call("PUT", f"/api/v1/attempts/{attempt_id}/answers/1", {"choice": 0, "seq": 1})
        assert status == 200
        clock.advance(60 + 1.5)  # past the deadline and the one-second network grace
        status, body = await api.call("PUT", f"/api/v1/attempts/{attempt_id}/answers/1", {"choice": 1, "seq": 2})
        assert status == 409 and body["error"]["code"] in ("deadline_passed", "attempt_finished")
        status, view = await api.call("GET", f"/api/v1/attempts/{attempt_id}")
    finally:
        await client.close()
    assert view["attempt"]["status"] == "timed_out"
    assert view["attempt"]["result"] == "unsatisfactory"
    assert view["attempt"]["submitted_at"] == view["attempt"]["deadline_at"]
    async with services.engine.connect() as conn:
        stored = (await conn.execute(select(answers.c.choice, answers.c.seq))).one()
    assert (stored.choice, stored.seq) == (0, 1)


async def test_a_save_inside_the_network_grace_is_accepted(services, clock):
    world = await make_world(services, duration_s=60)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        clock.advance(60.5)
        status, receipt = await api.call(
            "PUT", f"/api/v1/attempts/{started['attempt']['id']}/answers/1", {"choice": 2, "seq": 1}
        )
    finally:
        await client.close()
    assert status == 200 and receipt["applied"] is True


async def test_replayed_and_reordered_saves_keep_the_highest_sequence(services):
    world = await make_world(services)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        url = f"/api/v1/attempts/{started['attempt']['id']}/answers/2"
        _, r5 = await api.call("PUT", url, {"choice": 3, "seq": 5})
        _, r3 = await api.call("PUT", url, {"choice": 1, "seq": 3})
        _, r5_again = await api.call("PUT", url, {"choice": 3, "seq": 5})
    finally:
        await client.close()
    assert r5["applied"] is True
    assert r3["applied"] is False and r3["seq"] == 5 and r3["choice"] == 3
    assert r5_again["applied"] is False and r5_again["digest"] == r5["digest"]


async def test_a_repeated_submit_returns_the_same_result(services):
    world = await make_world(services)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        url = f"/api/v1/attempts/{started['attempt']['id']}/submit"
        first = await api.call("POST", url)
        second = await api.call("POST", url)
    finally:
        await client.close()
    keep = ("status", "score", "result", "submitted_at", "finished_by")
    assert first[0] == second[0] == 200
    assert {k: first[1][k] for k in keep} == {k: second[1][k] for k in keep}
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(outbox))).scalar_one() == 1


async def test_the_sweeper_finalises_an_abandoned_attempt_within_about_a_second(services, clock):
    world = await make_world(services, duration_s=120)
    client = await open_client(services, run_sweeper=True)
    try:
        api = Api(client)
        await api.login("student1")
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        attempt_id = started["attempt"]["id"]
        # The browser is gone: nobody reads or submits. Time passes the deadline.
        clock.advance(120 + 1.01)
        status = None
        for _ in range(30):  # up to ~1.5 s of real time for the 0.2 s sweeper
            await asyncio.sleep(0.05)
            async with services.engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(attempts.c.status, attempts.c.submitted_at, attempts.c.deadline_at).where(
                            attempts.c.id == uuid.UUID(attempt_id)
                        )
                    )
                ).one()
            status = row.status
            if status != "in_progress":
                break
    finally:
        await client.close()
    assert status == "timed_out"
    assert row.submitted_at == row.deadline_at


async def test_another_students_attempt_is_invisible(services):
    world = await make_world(services, students=2)
    client = await open_client(services)
    other = await new_api(client)
    try:
        api = Api(client)
        await api.login("student1")
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        attempt_id = started["attempt"]["id"]
        await other.login("student2")
        for method, path, body in (
            ("GET", f"/api/v1/attempts/{attempt_id}", None),
            ("PUT", f"/api/v1/attempts/{attempt_id}/answers/1", {"choice": 0, "seq": 1}),
            ("POST", f"/api/v1/attempts/{attempt_id}/submit", None),
        ):
            status, resp = await other.call(method, path, body)
            assert status == 404 and resp["error"]["code"] == "attempt_not_found", (method, path, resp)
    finally:
        await other.client.close()
        await client.close()


async def test_state_change_without_the_csrf_token_is_refused(services):
    world = await make_world(services)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        api.csrf = None
        status, body = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
    finally:
        await client.close()
    assert status == 403 and body["error"]["code"] == "csrf_failed"
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(attempts))).scalar_one() == 0


async def test_extra_time_moves_the_deadline_but_never_past_the_window(services, clock):
    from exam_engine.services import catalog
    from tests.factories import ADMIN

    world = await make_world(services, students=2, duration_s=1800, window_s=2400)
    async with services.engine.begin() as conn:
        for login, minutes in (("student1", 5), ("student2", 60)):
            sid = await catalog.user_id_by_login(conn, login)
            await catalog.set_extra_time(
                conn,
                ADMIN,
                exam_id=world.exam_id,
                student_id=sid,
                extra_s=minutes * 60,
                reason="medical certificate",
                now=clock.now(),
            )
    client = await open_client(services)
    try:
        deadlines = {}
        for login in ("student1", "student2"):
            api = await new_api(client)
            await api.login(login)
            _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
            deadlines[login] = started["attempt"]
            await api.client.close()
    finally:
        await client.close()
    from datetime import datetime

    start = clock.now()
    close = start + timedelta(seconds=-60 + 2400)
    assert datetime.fromisoformat(deadlines["student1"]["deadline_at"]) == start + timedelta(minutes=35)
    assert datetime.fromisoformat(deadlines["student2"]["deadline_at"]) == close


async def test_errors_come_in_the_users_language(services):
    world = await make_world(services, student_language="ru")
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        status, body = await api.call("PUT", "/api/v1/attempts/not-a-uuid/answers/1", {"choice": 0, "seq": 1})
        assert status == 422 and body["error"]["code"] == "invalid_id"
        assert "идентификатор" in body["error"]["message"]
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        status, body = await api.call(
            "PUT", f"/api/v1/attempts/{started['attempt']['id']}/answers/1", {"choice": "B", "seq": 1}
        )
        assert status == 422 and body["error"]["code"] == "invalid_field"
        assert "choice" in body["error"]["message"] and "должно" in body["error"]["message"]
    finally:
        await client.close()
    json.dumps(body)


async def test_an_annulled_attempt_becomes_unsatisfactory_and_sends_a_newer_result_event(services):
    from exam_engine.services.attempts import annul

    world = await make_world(services)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        attempt_id = uuid.UUID(started["attempt"]["id"])
        for q in started["questions"]:
            key = next(i for i, o in enumerate(q["options"]) if o.startswith("KEY"))
            await api.call("PUT", f"/api/v1/attempts/{attempt_id}/answers/{q['position']}", {"choice": key, "seq": 1})
        _, result = await api.call("POST", f"/api/v1/attempts/{attempt_id}/submit")
        assert result["result"] == "passed"
        async with services.engine.begin() as conn:
            assert (
                await annul(
                    conn, attempt_id, actor="user:proctor", reason="second person in frame", now=services.clock.now()
                )
                is True
            )
        async with services.engine.begin() as conn:
            assert (
                await annul(conn, attempt_id, actor="user:proctor", reason="again", now=services.clock.now()) is False
            )
        status, after = await api.call("GET", f"/api/v1/attempts/{attempt_id}/result")
    finally:
        await client.close()
    assert status == 200 and after["status"] == "annulled" and after["result"] == "unsatisfactory"
    assert after["score"] == 100  # the raw score stays on record
    async with services.engine.connect() as conn:
        events = (await conn.execute(select(outbox.c.version, outbox.c.payload).order_by(outbox.c.version))).all()
    assert [(v, p["status"]) for v, p in events] == [(1, "passed"), (2, "annulled")]


async def test_an_attempt_in_progress_cannot_be_annulled(services):
    from exam_engine.errors import Conflict
    from exam_engine.services.attempts import annul

    world = await make_world(services)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
    finally:
        await client.close()
    import pytest

    with pytest.raises(Conflict):
        async with services.engine.begin() as conn:
            await annul(
                conn, uuid.UUID(started["attempt"]["id"]), actor="user:proctor", reason="x", now=services.clock.now()
            )
