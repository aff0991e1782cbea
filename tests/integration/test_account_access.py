"""Disabling a person's sign-in on the page (the system administrator, the academic administrator):
immediate everywhere, audited, with the exam the person is sitting kept and closed by its own rules."""

from __future__ import annotations

import asyncio
import re
import uuid
from html import unescape
from typing import Any

import pytest
from sqlalchemy import func, select

from exam_engine.domain.roles import Role
from exam_engine.tables import attempts, audit_log, auth_sessions, users
from tests.factories import PASSWORD, Api, make_user, make_world, new_api, open_client, start_exam, stored_choices


async def _staff(client: Any, login: str, role: Role, services: Any, language: str = "kk") -> Api:
    await make_user(services, login, role, language=language)
    api = Api(client)
    await api.login(login)
    return api


async def _post_access(api: Api, login: str, *, active: bool, reason: str) -> tuple[int, str]:
    form = {"_csrf": api.csrf or "", "login": login, "active": "1" if active else "0", "reason": reason}
    resp = await api.client.post("/admin/access", data=form)
    return resp.status, unescape(await resp.text())


def _alerts(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r'role="alert"[^>]*>(.*?)</p>', html, re.S)]


async def _is_active(services: Any, login: str) -> bool:
    async with services.engine.connect() as conn:
        return bool((await conn.execute(select(users.c.is_active).where(users.c.login == login))).scalar_one())


async def _access_rows(services: Any) -> list[Any]:
    async with services.engine.connect() as conn:
        return (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.action.in_(("user.disabled", "user.enabled")))
                .order_by(audit_log.c.id)
            )
        ).all()


async def test_a_student_disabled_in_the_middle_of_an_exam_is_refused_at_once_and_the_attempt_is_kept(services, clock):
    world = await make_world(services, students=1, duration_s=600)
    client = await open_client(services, run_sweeper=True)
    other = await new_api(client)  # the same student's second browser (a phone)
    try:
        student = Api(client)
        started = await start_exam(student, "student1", world.exam_id)
        attempt_id = started["attempt"]["id"]
        await other.login("student1")
        save = f"/api/v1/attempts/{attempt_id}/answers/1"
        assert (await student.call("PUT", save, {"choice": 2, "seq": 1}))[0] == 200  # the autosave's session cached
        assert (await other.call("GET", "/api/v1/me"))[0] == 200

        sysadmin = await _staff(await open_client(services), "sys1", Role.SYSADMIN, services, language="ru")
        status, html = await _post_access(sysadmin, "student1", active=False, reason="Отчислен приказом №12")
        assert status == 200, _alerts(html)
        assert "Учётная запись Student student1 отключена" in html
        assert "Law exam" in html and "ответы сохраняются" in html  # the exam they are sitting, said

        # No waiting: the very next request of every session is refused, the autosave's included.
        assert (await student.call("PUT", save, {"choice": 3, "seq": 2}))[0] == 401
        assert (await student.call("GET", "/api/v1/me"))[0] == 401
        assert (await other.call("GET", "/api/v1/me"))[0] == 401
        async with services.engine.connect() as conn:
            open_sessions = (
                await conn.execute(
                    select(func.count())
                    .select_from(auth_sessions)
                    .join(users, users.c.id == auth_sessions.c.user_id)
                    .where(users.c.login == "student1", auth_sessions.c.revoked_at.is_(None))
                )
            ).scalar_one()
        assert open_sessions == 0

        # Signing in again with the right password says why, in the person's language; no session opens.
        resp = await client.post("/api/v1/auth/login", json={"login": "student1", "password": PASSWORD})
        body = await resp.json()
        assert resp.status == 403 and body["error"]["code"] == "account_disabled"
        assert "өшірілген" in body["error"]["message"]

        # Who, when, why, and the previous value.
        (row,) = await _access_rows(services)
        assert row.actor == "user:sys1" and row.subject.startswith("user:") and row.at == clock.now()
        assert row.before == {"is_active": True}
        assert row.after["is_active"] is False and row.after["reason"] == "Отчислен приказом №12"
        assert row.after["sessions_ended"] == 2 and row.after["open_attempts"] == [attempt_id]

        # The attempt is not lost: the saved answer stays, and the deadline closes it by the exam's rules.
        assert await stored_choices(services, uuid.UUID(attempt_id)) == {1: 2}
        clock.advance(600 + 1.5)
        for _ in range(40):
            await asyncio.sleep(0.05)
            async with services.engine.connect() as conn:
                done = (
                    await conn.execute(
                        select(attempts.c.status, attempts.c.submitted_at, attempts.c.deadline_at).where(
                            attempts.c.id == uuid.UUID(attempt_id)
                        )
                    )
                ).one()
            if done.status != "in_progress":
                break
        assert done.status == "timed_out" and done.submitted_at == done.deadline_at
        assert await stored_choices(services, uuid.UUID(attempt_id)) == {1: 2}
        await sysadmin.client.close()
    finally:
        await other.client.close()
        await client.close()


async def test_enabled_again_before_the_deadline_the_student_continues_in_the_same_browser(services):
    world = await make_world(services, students=1, duration_s=600)
    client = await open_client(services)
    admin_client = await open_client(services)
    try:
        student = Api(client)
        started = await start_exam(student, "student1", world.exam_id)
        save = f"/api/v1/attempts/{started['attempt']['id']}/answers/1"
        admin = await _staff(admin_client, "acadm", Role.ACADEMIC_ADMIN, services)
        assert (await _post_access(admin, "student1", active=False, reason="Қате басылды"))[0] == 200
        assert (await student.call("PUT", save, {"choice": 1, "seq": 1}))[0] == 401
        status, html = await _post_access(admin, "student1", active=True, reason="Қате басылды, қайта қосылды")
        assert status == 200 and "қайта қосылды" in html
        await student.login("student1")  # the same browser: its device cookie resumes the attempt
        assert (await student.call("PUT", save, {"choice": 1, "seq": 1}))[0] == 200
        disabled, enabled = await _access_rows(services)
        assert enabled.before == {"is_active": False} and enabled.after["reason"] == "Қате басылды, қайта қосылды"
    finally:
        await client.close()
        await admin_client.close()


@pytest.mark.parametrize("language", ["kk", "ru"])
async def test_nobody_disables_themselves_or_the_last_system_administrator(services, language):
    client = await open_client(services)
    other_client = await open_client(services)
    try:
        sysadmin = await _staff(client, "sys1", Role.SYSADMIN, services, language=language)
        admin = await _staff(other_client, "acadm", Role.ACADEMIC_ADMIN, services, language=language)
        status, html = await _post_access(sysadmin, "sys1", active=False, reason="test")
        assert status == 422
        assert _alerts(html) == [
            {
                "kk": "Өз есептік жазбаңызды өшіре алмайсыз; оны басқа әкімші өшіруі керек.",
                "ru": "Нельзя отключить собственную учётную запись; это должен сделать другой администратор.",
            }[language]
        ]
        status, html = await _post_access(admin, "sys1", active=False, reason="test")
        assert status == 422
        assert _alerts(html) == [
            {
                "kk": "sys1 — жүйенің жалғыз белсенді әкімшісі; серверлерге қызмет көрсететін адам қалуы үшін "
                "алдымен басқасын қосыңыз немесе жасаңыз.",
                "ru": "sys1 — последний активный системный администратор; сначала включите или создайте другого, "
                "чтобы было кому обслуживать серверы.",
            }[language]
        ]
        status, html = await _post_access(admin, "sys1", active=False, reason="   ")
        assert status == 422 and len(_alerts(html)) == 1 and 'id="err-reason"' in html
        assert await _is_active(services, "sys1") and await _is_active(services, "acadm")
        assert await _access_rows(services) == []
        # With a second system administrator the first may go, and the page works on.
        await make_user(services, "sys2", Role.SYSADMIN)
        assert (await _post_access(admin, "sys1", active=False, reason="Ауысты / Переведён"))[0] == 200
        assert not await _is_active(services, "sys1")
        resp = await client.get("/admin/access", allow_redirects=False)  # his own session ended at once
        assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    finally:
        await client.close()
        await other_client.close()


@pytest.mark.parametrize(
    "role", [Role.TEACHER, Role.PROCTOR, Role.QUALITY, Role.FACULTY_HEAD, Role.DEPUTY_HEAD, Role.STUDENT]
)
async def test_no_other_role_disables_anyone(services, role):
    await make_user(services, "victim", Role.TEACHER)
    client = await open_client(services)
    try:
        someone = await _staff(client, "someone", role, services)
        status, html = await _post_access(someone, "victim", active=False, reason="x")
        assert status == 403
        assert (await client.get("/admin/access")).status == 403
    finally:
        await client.close()
    assert await _is_active(services, "victim") and await _access_rows(services) == []


@pytest.mark.parametrize("language", ["kk", "ru"])
async def test_the_audit_page_tells_who_disabled_whom_and_why_in_words(services, language):
    await make_user(services, "victim", Role.TEACHER)
    client = await open_client(services)
    try:
        admin = await _staff(client, "acadm", Role.ACADEMIC_ADMIN, services, language=language)
        assert (await _post_access(admin, "victim", active=False, reason="Бұйрық №3"))[0] == 200
        refused = await client.post("/api/v1/auth/login", json={"login": "victim", "password": PASSWORD})
        assert refused.status == 403
        await admin.login("acadm")  # the refused sign-in shared the cookie jar; sign the administrator in again
        resp = await client.get("/admin/audit")
        html = unescape(await resp.text())
    finally:
        await client.close()
    words = {
        "kk": ("жүйеге кіру өшірілді", "Жүйеге кіруге рұқсат: жоқ", "есептік жазба өшірілгендіктен кіру тоқтатылды"),
        "ru": ("вход отключён", "Вход разрешён: нет", "вход отклонён: учётная запись отключена"),
    }[language]
    for text in words:
        assert text in html, text
    shown = re.sub(r"<[^>]+>", " ", html)  # what a person reads (the filter's option values are codes)
    for raw in ("user.disabled", "auth.login_refused", "is_active", "sessions_ended", "account_disabled"):
        assert raw not in shown, raw


async def test_the_accounts_page_shows_who_is_disabled_and_warns_before_a_reset(services):
    await make_user(services, "victim", Role.TEACHER)
    client = await open_client(services)
    try:
        admin = await _staff(client, "acadm", Role.ACADEMIC_ADMIN, services, language="ru")
        assert (await _post_access(admin, "victim", active=False, reason="Уволен"))[0] == 200
        html = unescape(await (await client.get("/admin/users")).text())
        row = re.search(r"<tr><th scope=\"row\">Test victim</th>(.*?)</tr>", html, re.S)
        assert row and "отключён" in row.group(1) and 'href="/admin/access?person=victim"' in row.group(1)
        resp = await client.post("/admin/users/reset", data={"_csrf": admin.csrf or "", "login": "victim"})
        html = unescape(await resp.text())
        assert "новый пароль заработает только после её включения" in html
    finally:
        await client.close()


async def test_the_access_page_finds_a_person_by_a_kazakh_name_in_any_case(services):
    await make_user(services, "a.nurlanov", Role.STUDENT)
    async with services.engine.begin() as conn:
        from sqlalchemy import update

        await conn.execute(update(users).where(users.c.login == "a.nurlanov").values(full_name="Әлібек Нұрланов"))
    client = await open_client(services)
    try:
        await _staff(client, "sys1", Role.SYSADMIN, services)
        for query in ("әлібек", "НҰРЛАН", "NURLANOV"):
            html = unescape(await (await client.get("/admin/access", params={"q": query})).text())
            assert 'id="person-a.nurlanov"' in html and 'id="person-sys1"' not in html, query
    finally:
        await client.close()
