"""A proctor's action sent twice. The extra-time form sent twice (a double click, the browser resending it) or after the
student's time changed (another proctor's grant for the same failure, a pause).

Each POST used to be a new grant: ten minutes asked for once became twenty, recorded as two grants.
The form now carries the deadline the proctor saw; a grant on a deadline that moved since changes
nothing and says so in the proctor's language, and the form shown again carries the new deadline.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.tables import attempts, audit_log
from tests.factories import make_world, open_client
from tests.integration.test_exam_day_world import close_all, signed_in, staff, start

HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


async def _form(api, path: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    resp = await api.client.request("GET", path, allow_redirects=False)
    html = await resp.text()
    assert resp.status == 200, html
    return dict(HIDDEN.findall(html))


async def _post(api, path: str, data: dict) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    resp = await api.client.request("POST", path, data=data, allow_redirects=False)
    return resp.status, await resp.text()


async def _deadline(services, attempt_id: str):  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return (
            await conn.execute(select(attempts.c.deadline_at).where(attempts.c.id == uuid.UUID(attempt_id)))
        ).scalar_one()


async def _grants(services, attempt_id: str) -> int:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.id).where(
                audit_log.c.subject == f"attempt:{attempt_id}", audit_log.c.action == "attempt.time_granted"
            )
        )
        return len(rows.all())


async def test_an_extra_time_form_sent_twice_grants_the_minutes_once(services):
    world = await make_world(services, students=1, duration_s=1200)
    client = await open_client(services)
    student = await signed_in(client, "student1")
    proctor = await staff(services, client, "proctor1", Role.PROCTOR)
    try:
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        before = await _deadline(services, aid)
        path = f"/proctor/live/{world.exam_id}/attempts/{aid}/extra-time"
        form = {**await _form(proctor, path), "minutes": "10", "reason": "компьютер қатып қалды"}
        assert "deadline" in form, "the form does not say which deadline the proctor saw"
        # A double click: the same form twice, at once.
        sent = await asyncio.gather(_post(proctor, path, form), _post(proctor, path, form))
        statuses = sorted(status for status, _ in sent)
        assert statuses == [303, 409], statuses
        assert await _deadline(services, aid) == before + timedelta(minutes=10)
        assert await _grants(services, aid) == 1
        refused = next(html for status, html in sent if status == 409)
        assert "Студенттің уақыты бұл пішін ашылғаннан кейін өзгерді" in refused, refused
        # The form shown again carries the new deadline: sent once more, it grants (the proctor meant it).
        again = {**dict(HIDDEN.findall(refused)), "minutes": "10", "reason": "компьютер қатып қалды"}
        status, _ = await _post(proctor, path, again)
        assert status == 303
        assert await _deadline(services, aid) == before + timedelta(minutes=20)
        assert await _grants(services, aid) == 2
    finally:
        await close_all(student, proctor)


async def test_a_grant_on_a_form_opened_before_another_proctors_grant_changes_nothing(services):
    world = await make_world(services, students=1, duration_s=1200)
    client = await open_client(services)
    student = await signed_in(client, "student1")
    first = await staff(services, client, "proctor1", Role.PROCTOR)
    second = await staff(services, client, "proctor2", Role.PROCTOR)
    try:
        aid = (await start(student, world.exam_id))["attempt"]["id"]
        before = await _deadline(services, aid)
        path = f"/proctor/live/{world.exam_id}/attempts/{aid}/extra-time"
        # Both proctors open the live page's dialog for the same frozen computer.
        live = await (await second.client.request("GET", f"/proctor/live/{world.exam_id}")).text()
        seen = re.search(r'data-action="extra-time"[^>]*data-deadline="([^"]+)"', live)
        assert seen is not None, "the live page's extra-time link does not carry the deadline shown"
        status, _ = await _post(
            first, path, {**await _form(first, path), "minutes": "5", "reason": "компьютер қатып қалды"}
        )
        assert status == 303
        status, html = await _post(
            second,
            path,
            {"_csrf": second.csrf, "deadline": seen.group(1), "minutes": "5", "reason": "компьютер қатып қалды"},
        )
        assert status == 409, html
        # The same through the API, for a client that sends the deadline it saw.
        status, body = await second.call(
            "POST",
            f"/api/v1/live/attempts/{aid}/extra-time",
            {"minutes": 5, "reason": "компьютер қатып қалды", "deadline_at": seen.group(1)},
        )
        assert status == 409 and body["error"]["code"] == "attempt_time_changed", body
        assert await _deadline(services, aid) == before + timedelta(minutes=5)
        assert await _grants(services, aid) == 1
    finally:
        await close_all(student, first, second)


async def test_a_move_to_another_device_sent_twice_still_keeps_the_old_browser_out(services):
    """The move remembers the browser the attempt left, so that browser (its tab still open, saving and
    pinging) cannot take the attempt back before the student signs in on the new one. A second move —
    the proctor's double click — remembered "no browser", and the old tab's next save took it back:
    the student at the new computer was refused "open in another browser"."""
    world = await make_world(services, students=1, duration_s=1200)
    client = await open_client(services)
    old_browser = await signed_in(client, "student1")
    proctor = await staff(services, client, "proctor1", Role.PROCTOR)
    new_browser = None
    try:
        aid = (await start(old_browser, world.exam_id))["attempt"]["id"]
        save = f"/api/v1/attempts/{aid}/answers/1"
        status, body = await old_browser.call("PUT", save, {"choice": 0, "seq": 1})
        assert status == 200, body
        move = f"/api/v1/live/attempts/{aid}/release-device"
        sent = await asyncio.gather(
            proctor.call("POST", move, {"reason": "ноутбук істен шықты"}),
            proctor.call("POST", move, {"reason": "ноутбук істен шықты"}),
        )
        assert all(status == 200 for status, _ in sent), sent
        status, body = await old_browser.call("PUT", save, {"choice": 1, "seq": 2})
        assert status == 409 and body["error"]["code"] == "attempt_open_elsewhere", body
        new_browser = await signed_in(client, "student1")
        status, body = await new_browser.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 200 and body["attempt"]["id"] == aid, body
        status, body = await new_browser.call("PUT", save, {"choice": 2, "seq": 3})
        assert status == 200 and body["applied"], body
    finally:
        await close_all(old_browser, proctor, *([new_browser] if new_browser else []))


async def test_a_decision_overrules_only_the_decision_its_reviewer_saw(services):
    """Two reviewers open the same attempt; the first decides. The second's form, opened before, used to
    overrule a decision its reviewer never read; and a double click on one's own decision answered
    "another reviewer must overrule your decision" although it had been recorded."""
    from tests.factories import assign_proctor, make_user, new_api
    from tests.integration.proctor_world import proctored_attempt

    world = await proctored_attempt(services)
    await make_user(services, "proctor2", Role.PROCTOR)
    await assign_proctor(services, "proctor2")
    second = await new_api(world.client)
    await second.login("proctor2")
    page = f"/proctor/attempts/{world.attempt_id}"
    try:
        first_form = {**await _form(world.proctor, page), "decision": "suspicious", "reason": "бөгде дауыс 10:12"}
        second_form = {**await _form(second, page), "decision": "clean", "reason": "бәрі дұрыс"}
        assert first_form.get("latest") == "0", first_form
        sent = await asyncio.gather(
            _post(world.proctor, f"{page}/decision", first_form), _post(world.proctor, f"{page}/decision", first_form)
        )
        assert sorted(status for status, _ in sent) == [303, 409], [status for status, _ in sent]
        refused = next(html for status, html in sent if status == 409)
        assert "Бұл бет ашылғаннан кейін басқа шешім жазылды" in refused
        status, html = await _post(second, f"{page}/decision", second_form)
        assert status == 409 and "Бұл бет ашылғаннан кейін басқа шешім жазылды" in html, html
        decisions = (await world.timeline())["decisions"]
        assert [(d["decision"], d["reviewer"]) for d in decisions] == [("suspicious", "user:proctor1")]
        # Having read it (the page shown again names it), the second reviewer may overrule it.
        again = {**dict(HIDDEN.findall(html)), "decision": "clean", "reason": "бәрі дұрыс"}
        assert again["latest"] == str(decisions[0]["id"])
        status, _ = await _post(second, f"{page}/decision", again)
        assert status == 303
        decisions = (await world.timeline())["decisions"]
        assert [(d["decision"], d["reviewer"]) for d in decisions] == [
            ("suspicious", "user:proctor1"),
            ("clean", "user:proctor2"),
        ]
        # The same through the API, for a client that sends the newest decision it saw.
        status, body = await world.proctor.call(
            "POST",
            f"/api/v1/proctor/attempts/{world.attempt_id}/decisions",
            json={"decision": "suspicious", "reason": "тағы да", "latest": decisions[0]["id"]},
        )
        assert status == 409 and body["error"]["code"] == "decision_changed", body
    finally:
        await second.client.close()  # type: ignore[attr-defined]
        await world.close()
