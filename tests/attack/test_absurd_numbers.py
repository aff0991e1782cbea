"""Absurd numbers are refused where they enter, named, in the reader's language; nothing is stored.

The tester's case: ``POST /admin/exams/{id}/extra-time`` accepted 2**53 - 1 minutes; afterwards
the student's start was a 500 (OverflowError) on every try, and on PostgreSQL the admin call
itself was a 500. Every number a person types now has a bound (exam_engine/bounds.py), checked
by the API's ``field()`` helper and written into the OpenAPI document.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from exam_engine.domain.roles import Role
from exam_engine.tables import accommodations, audit_log
from exam_engine.web import app  # noqa: F401 - registers the routes
from exam_engine.web.openapi import document
from tests.factories import Api, make_user, make_world, new_api, open_client, start_exam

ABSURD = [2**53 - 1, 2**53, 10**400, -1, -(2**63), "NaN", "1e308", 1e308, 2.5, True, None, [], {}]
RAW_ABSURD = ["NaN", "Infinity", "-Infinity", "1e999"]  # JSON extensions Python's parser accepts


async def _count(services, table, *where) -> int:
    async with services.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def test_absurd_extra_time_is_refused_named_and_the_student_can_still_start(services):
    world = await make_world(services, students=1, duration_s=1200)
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN, language="ru")
    client = await open_client(services)
    try:
        admin = Api(client)
        await admin.login("admin1")
        path = f"/api/v1/admin/exams/{world.exam_id}/extra-time"
        for value in ABSURD:
            status, body = await admin.call(
                "POST", path, {"student": world.students[0], "extra_minutes": value, "reason": "medical certificate"}
            )
            assert status == 422, (value, body)
            assert body["error"]["code"] in ("out_of_range", "invalid_field", "missing_field"), (value, body)
            assert "extra_minutes" in body["error"]["message"], body
        for raw in RAW_ABSURD:
            resp = await client.post(
                path,
                data=f'{{"student": "{world.students[0]}", "extra_minutes": {raw}, "reason": "x"}}',
                headers={"Content-Type": "application/json", "X-CSRF-Token": admin.csrf},
            )
            body = await resp.json()
            assert resp.status == 422 and "extra_minutes" in body["error"]["message"], (raw, body)
        status, body = await admin.call(
            "POST", path, {"student": world.students[0], "extra_minutes": 2**53 - 1, "reason": "x"}
        )
        assert body["error"] == {
            "code": "out_of_range",
            "message": "Поле «extra_minutes» должно быть целым числом от 0 до 600.",
        }
        # Nothing was stored, nothing was recorded as done.
        assert await _count(services, accommodations) == 0
        assert await _count(services, audit_log, audit_log.c.action == "exam.extra_time") == 0

        # The student starts as if nothing had happened, with the exam's own duration.
        student = await new_api(client)
        started = await start_exam(student, world.students[0], world.exam_id)
        attempt = started["attempt"]
        span = datetime.fromisoformat(attempt["deadline_at"]) - datetime.fromisoformat(attempt["started_at"])
        assert span.total_seconds() == 1200
        await student.client.close()  # type: ignore[attr-defined]

        # The largest allowed value is accepted and applies.
        status, body = await admin.call(
            "POST", path, {"student": world.students[0], "extra_minutes": 600, "reason": "medical certificate"}
        )
        assert status == 200, body
    finally:
        await client.close()


async def test_every_typed_number_of_the_staff_routes_is_bounded(services):
    """Each number field of each staff route, given an absurd value: a 422 naming it, nothing changed."""
    world = await make_world(services, students=2)
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN)
    client = await open_client(services)
    try:
        student = await new_api(client)
        started = await start_exam(student, world.students[0], world.exam_id)
        attempt_id = started["attempt"]["id"]
        deadline = started["attempt"]["deadline_at"]
        admin = Api(client)
        await admin.login("admin1")
        exam = {
            "title": "T",
            "discipline": "LAW-101",
            "session": "S1",
            "groups": ["G1"],
            "banks": {"kk": world.bank_versions["kk"]},
            "question_count": 3,
            "duration_minutes": 30,
            "opens_at": "2026-06-02T09:00:00+05:00",
            "closes_at": "2026-06-02T12:00:00+05:00",
        }
        live = f"/api/v1/live/attempts/{attempt_id}"
        cases = [
            ("POST", "/api/v1/admin/exams", exam, "duration_minutes", [0, 1441, 2**53 - 1, -5]),
            ("POST", "/api/v1/admin/exams", exam, "question_count", [0, 501, 10**12]),
            ("POST", "/api/v1/admin/exams", exam, "pass_score", [-1, 101, 2**53 - 1]),
            ("POST", "/api/v1/admin/disciplines", {"code": "X-2", "name": "X"}, "credits", [0, 61, 2**40]),
            ("POST", f"{live}/extra-time", {"reason": "r"}, "minutes", [0, 601, 2**53 - 1, -1]),
            (
                "PUT",
                f"/api/v1/live/exams/{world.exam_id}/students/{{sid}}/accommodation",
                {"reason": "r"},
                "extra_minutes",
                [-1, 601, 2**53 - 1],
            ),
            (
                "PUT",
                f"/api/v1/live/exams/{world.exam_id}/students/{{sid}}/accommodation",
                {"reason": "r"},
                "multiplier",
                [0.5, 4.5, 1e308],
            ),
            ("POST", f"/api/v1/live/exams/{world.exam_id}/prepare", {}, "limit", [0, 2001, -(2**53)]),
            ("PUT", f"/api/v1/proctor/exams/{world.exam_id}/settings", {}, "frame_interval_s", [0, 121, 1e308]),
        ]
        async with services.engine.connect() as conn:
            from exam_engine.tables import users

            sid = (await conn.execute(select(users.c.id).where(users.c.login == world.students[1]))).scalar_one()
        audit_before = await _count(services, audit_log)
        for method, path, base, name, values in cases:
            for value in values:
                status, body = await admin.call(method, path.replace("{sid}", str(sid)), {**base, name: value})
                assert status == 422, (path, name, value, body)
                assert body["error"]["code"] == "out_of_range", (path, name, value, body)
                assert f"«{name}»" in body["error"]["message"], body
        # Nothing changed: no audit row for any of them, the running attempt keeps its deadline.
        assert await _count(services, audit_log) == audit_before
        status, again = await student.call("GET", f"/api/v1/attempts/{attempt_id}")
        assert status == 200 and again["attempt"]["deadline_at"] == deadline
        await student.client.close()  # type: ignore[attr-defined]
    finally:
        await client.close()


def _numbers(schema, path, out):
    if not isinstance(schema, dict):
        return
    kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
    if "integer" in kinds or "number" in kinds:
        out.append((path, schema))
    for name, sub in schema.get("properties", {}).items():
        _numbers(sub, f"{path}.{name}", out)
    _numbers(schema.get("items"), path + "[]", out)
    _numbers(schema.get("additionalProperties"), path + "{}", out)


def test_the_openapi_document_gives_every_request_number_its_range():
    found = []
    for path, ops in document()["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                _numbers(op["requestBody"]["content"]["application/json"]["schema"], f"{method.upper()} {path}", found)
    assert len(found) > 15
    unbounded = [where for where, schema in found if "minimum" not in schema or "maximum" not in schema]
    assert not unbounded, unbounded
    extra = document()["paths"]["/admin/exams/{exam_id}/extra-time"]["post"]
    assert extra["requestBody"]["content"]["application/json"]["schema"]["properties"]["extra_minutes"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 600,
        "description": "extra minutes decided before the start (0 removes them)",
    }


async def test_a_date_far_outside_the_calendar_is_refused_not_a_500(services):
    """Year 1 or 9999 with a time zone cannot be converted to UTC: it used to be stored as a 500."""
    world = await make_world(services, students=1)
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN, language="ru")
    client = await open_client(services)
    try:
        admin = Api(client)
        await admin.login("admin1")
        exam = {
            "title": "T",
            "discipline": "LAW-101",
            "session": "S1",
            "groups": ["G1"],
            "banks": {"kk": world.bank_versions["kk"]},
            "question_count": 3,
            "duration_minutes": 30,
            "opens_at": "2026-06-02T09:00:00+05:00",
            "closes_at": "2026-06-02T12:00:00+05:00",
        }
        for name, value in (("opens_at", "0001-01-01T00:00:00+05:00"), ("closes_at", "9999-12-31T23:59:59-05:00")):
            status, body = await admin.call("POST", "/api/v1/admin/exams", {**exam, name: value})
            assert status == 422, body
            assert body["error"] == {
                "code": "out_of_range",
                "message": f"Поле «{name}» должно содержать дату и время между 2000 и 2100 годами.",
            }
        status, body = await admin.call(
            "POST",
            f"/api/v1/live/exams/{world.exam_id}/students/1/reschedule",
            {
                "opens_at": "0001-01-01T00:00:00+05:00",
                "closes_at": "2026-06-02T12:00:00+05:00",
                "reason": "r",
                "document_ref": "d",
            },
        )
        assert status == 422 and body["error"]["code"] == "out_of_range", body
        async with services.engine.connect() as conn:
            from exam_engine.tables import exams

            assert (await conn.execute(select(func.count()).select_from(exams))).scalar_one() == 1
    finally:
        await client.close()


def test_an_absurd_extra_time_stored_before_the_bound_ends_at_the_window_not_in_an_overflow():
    from datetime import timedelta

    from exam_engine.domain.attempts import compute_deadline

    start = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    close = start + timedelta(hours=3)
    assert compute_deadline(start, 1200, (2**53 - 1) * 60, close) == close
    assert compute_deadline(start, 1200, 600, close) == start + timedelta(seconds=1800)
    assert compute_deadline(start, 1200, 0, start - timedelta(seconds=1)) == start - timedelta(seconds=1)
