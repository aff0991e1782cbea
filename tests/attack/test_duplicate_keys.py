"""A JSON body that gives a key twice is refused, naming the key, in the reader's language, and changes nothing.

Before, ``{"choice": 1, "seq": 1, "choice": 2}`` saved choice 2: both parsers keep the last of a repeated
key without a word, so one body meant one thing to the server and possibly another to whatever else read
it (a proxy's filter, a log). One check in ``http.read_json`` covers every JSON route, nested objects too.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from exam_engine.domain.roles import Role
from exam_engine.tables import exams
from exam_engine.web import app  # noqa: F401 - registers the routes
from tests.factories import Api, make_user, make_world, new_api, open_client, start_exam, stored_choices


async def test_a_key_given_twice_is_refused_naming_it_on_every_kind_of_json_route_and_nothing_changes(services):
    world = await make_world(services, students=1, question_count=3, duration_s=1200)
    await make_user(services, "admin_ru", Role.ACADEMIC_ADMIN, language="ru")
    client = await open_client(services)
    try:
        student = Api(client)
        started = await start_exam(student, world.students[0], world.exam_id)
        attempt_id = uuid.UUID(started["attempt"]["id"])
        path = f"/api/v1/attempts/{attempt_id}/answers/1"
        headers = {"Content-Type": "application/json", "X-CSRF-Token": student.csrf}

        # The autosave (the hot path), a Kazakh student: refused with the key's name, nothing stored.
        resp = await client.put(path, data=b'{"choice":1,"seq":1,"choice":2}', headers=headers)
        answer = await resp.json()
        assert resp.status == 400, (resp.status, answer)
        assert answer["error"]["code"] == "duplicate_key", answer
        assert (
            answer["error"]["message"] == "Сұрау денесінде «choice» өрісі бірнеше рет берілген; оны бір рет жіберіңіз."
        )
        assert await stored_choices(services, attempt_id) == {}
        # The same key twice with blanks around the colon, beside a string holding colons: still refused.
        resp = await client.put(path, data=b'{"t":"10:00:00","choice" : 1,"seq":2,"choice" :3}', headers=headers)
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "duplicate_key"
        assert await stored_choices(services, attempt_id) == {}
        # The save sent once more, as it should be: stored.
        status, receipt = await student.call("PUT", path, {"choice": 2, "seq": 3})
        assert status == 200 and receipt["applied"] is True, receipt
        assert await stored_choices(services, attempt_id) == {1: 2}
        # A colon inside a string value is no reason to refuse (the check's cheap path is only a shortcut).
        resp = await client.put(path, data=b'{"choice":1,"seq":4,"note":"a:b:c"}', headers=headers)
        assert resp.status == 200, await resp.text()
        assert await stored_choices(services, attempt_id) == {1: 1}

        # The sign-in, from another browser (no session yet): the reader's language from the browser.
        stranger = await new_api(client)
        resp = await stranger.client.post(
            "/api/v1/auth/login",
            data=b'{"login":"x","password":"y","login":"z"}',
            headers={"Content-Type": "application/json", "Accept-Language": "ru-RU,ru;q=0.9"},
        )
        answer = await resp.json()
        await stranger.client.close()
        assert resp.status == 400, (resp.status, answer)
        assert answer["error"] == {
            "code": "duplicate_key",
            "message": "В теле запроса поле «login» указано несколько раз; укажите его один раз.",
        }

        # A staff route, a key repeated inside a nested object (an exam's blueprint), a Russian administrator.
        admin = Api(client)
        await admin.login("admin_ru")
        async with services.engine.connect() as conn:
            before = (await conn.execute(select(func.count()).select_from(exams))).scalar_one()
        resp = await client.post(
            "/api/v1/admin/exams",
            data=b'{"title":"T","blueprint":[{"count":1,"topic":null,"count":50}]}',
            headers={"Content-Type": "application/json", "X-CSRF-Token": admin.csrf},
        )
        answer = await resp.json()
        assert resp.status == 400, (resp.status, answer)
        assert answer["error"]["code"] == "duplicate_key"
        assert "«count»" in answer["error"]["message"] and "несколько раз" in answer["error"]["message"]
        async with services.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(exams))).scalar_one() == before
    finally:
        await client.close()
