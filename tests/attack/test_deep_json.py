"""A JSON body nested deeper than the parser's stack is refused as such, in the reader's language —
not a 500 — and the route goes on serving the next request (the hostile client harms only itself)."""

from __future__ import annotations

from exam_engine.web import app  # noqa: F401 - registers the routes
from tests.factories import Api, make_world, open_client, start_exam


async def test_a_deeply_nested_body_is_refused_precisely_and_the_next_save_is_stored(services):
    world = await make_world(services, students=1, question_count=3, duration_s=1200)
    client = await open_client(services)
    try:
        student = Api(client)
        started = await start_exam(student, world.students[0], world.exam_id)
        path = f"/api/v1/attempts/{started['attempt']['id']}/answers/1"
        headers = {"Content-Type": "application/json", "X-CSRF-Token": student.csrf}

        def nested(depth: int, seq: int) -> str:
            return f'{{"choice": 1, "seq": {seq}, "x": ' + "[" * depth + "]" * depth + "}"

        # 950 levels: under orjson's 1,024, near Python's stack (the checks on the parsed body once
        # recursed past it): read, and the save is stored (the unknown field is ignored).
        resp = await client.put(path, data=nested(950, 1), headers=headers)
        answer = await resp.json()
        assert resp.status == 200 and answer["applied"] is True, (resp.status, answer)
        # 20,000 levels, 40 KB (under the 64 KB bound): refused, precisely, in the student's language.
        resp = await client.put(path, data=nested(20_000, 2), headers=headers)
        answer = await resp.json()
        assert resp.status == 422, (resp.status, answer)
        assert answer["error"]["code"] == "invalid_json", answer
        assert "тым терең" in answer["error"]["message"], answer  # kk
        status, receipt = await student.call("PUT", path, {"choice": 2, "seq": 3})
        assert status == 200 and receipt["applied"] is True, receipt
    finally:
        await client.close()
