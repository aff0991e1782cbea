"""Access rules (R1–R4), sign-in throttling, and the administration API on both databases."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from exam_engine.domain.roles import Role
from exam_engine.kv import RedisKV
from exam_engine.services.auth import LoginThrottle
from exam_engine.tables import audit_log, disciplines, exams, group_members, users
from tests.factories import PASSWORD, Api, make_user, make_world, new_api, open_client


async def _signed_in(services, login: str, role: Role, language: str = "kk"):  # type: ignore[no-untyped-def]
    await make_user(services, login, role, language=language)
    client = await open_client(services)
    api = Api(client)
    await api.login(login)
    return client, api


@pytest.mark.parametrize("role", [Role.SYSADMIN, Role.TEACHER, Role.STUDENT, Role.PROCTOR])
async def test_only_the_academic_admin_creates_academic_data(services, role):
    client, api = await _signed_in(services, "someone", role)
    try:
        for path, body in (
            ("/api/v1/admin/disciplines", {"code": "X-1", "name": "X"}),
            (
                "/api/v1/admin/exam-sessions",
                {"code": "S9", "name": "S", "starts_on": "2026-01-01", "ends_on": "2026-01-31"},
            ),
            ("/api/v1/admin/users", {"login": "mallory", "full_name": "M", "role": "teacher"}),
        ):
            status, resp = await api.call("POST", path, body)
            assert status == 403 and resp["error"]["code"] == "forbidden", (role, path, resp)
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(disciplines))).scalar_one() == 0
        assert (await conn.execute(select(func.count()).select_from(users))).scalar_one() == 1


async def test_the_academic_admin_schedules_an_exam_through_the_api(services):
    world = await make_world(services, students=1)
    client, api = await _signed_in(services, "admin", Role.ACADEMIC_ADMIN)
    try:
        status, created = await api.call(
            "POST", "/api/v1/admin/users", {"login": "newteacher", "full_name": "Жаңа Оқытушы", "role": "teacher"}
        )
        assert status == 201 and created["one_time_password"]
        status, body = await api.call(
            "POST",
            "/api/v1/admin/exams",
            {
                "title": "Retake-proof",
                "discipline": "LAW-101",
                "session": "S1",
                "groups": ["G1"],
                "banks": {"kk": world.bank_versions["kk"]},
                "question_count": 3,
                "duration_minutes": 30,
                "opens_at": "2026-06-02T09:00:00+05:00",
                "closes_at": "2026-06-02T12:00:00+05:00",
            },
        )
        assert status == 201, body
        status, bad = await api.call(
            "POST",
            "/api/v1/admin/exams",
            {
                "title": "Bad",
                "discipline": "LAW-101",
                "session": "S1",
                "groups": ["G1"],
                "banks": {"kk": world.bank_versions["kk"]},
                "question_count": 3,
                "duration_minutes": 30,
                "opens_at": "2026-06-02T09:00:00",
                "closes_at": "2026-06-02T12:00:00+05:00",
            },
        )
        assert status == 422 and bad["error"]["code"] == "invalid_field" and "opens_at" in bad["error"]["message"]
        status, listing = await api.call("GET", "/api/v1/exams")
        assert status == 200 and [e["title"] for e in listing["items"]] == ["Law exam", "Retake-proof"]
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(
                select(audit_log.c.actor, audit_log.c.after)
                .where(audit_log.c.action == "exam.created")
                .order_by(audit_log.c.id.desc())
            )
        ).first()
        assert row.actor == "user:admin" and row.after["title"] == "Retake-proof"
        assert (await conn.execute(select(func.count()).select_from(exams))).scalar_one() == 2


async def test_a_teacher_cannot_start_an_exam_and_a_student_cannot_list_staff_exams(services):
    world = await make_world(services, students=1)
    client, teacher = await _signed_in(services, "teacher1", Role.TEACHER)
    student = await new_api(client)
    try:
        status, body = await teacher.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 403 and body["error"]["code"] == "forbidden"
        await student.login("student1")
        status, body = await student.call("GET", "/api/v1/exams")
        assert status == 403
    finally:
        await student.client.close()
        await client.close()


async def test_sign_in_with_a_wrong_password_is_refused_and_recorded(services):
    await make_user(services, "student9", Role.STUDENT, language="ru")
    client = await open_client(services)
    try:
        resp = await client.post(
            "/api/v1/auth/login",
            json={"login": "student9", "password": "wrong password!"},
            headers={"Accept-Language": "ru"},
        )
        body = await resp.json()
        assert resp.status == 401 and body["error"]["message"] == "Неверный логин или пароль."
        resp = await client.get("/api/v1/me")
        assert resp.status == 401
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        actions = list((await conn.execute(select(audit_log.c.action))).scalars())
    assert "auth.login_failed" in actions


async def test_after_five_failures_even_the_right_password_waits(services):
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    try:
        for _ in range(5):
            resp = await client.post("/api/v1/auth/login", json={"login": "student9", "password": "nope nope nope"})
            assert resp.status == 401
        resp = await client.post("/api/v1/auth/login", json={"login": "student9", "password": PASSWORD})
        assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
        assert (await resp.json())["error"]["code"] == "too_many_attempts"
    finally:
        await client.close()


async def test_throttling_on_redis_does_not_lock_the_student_out_from_another_address(redis_url):
    kv = RedisKV(redis_url, prefix=f"exam-test-throttle-{uuid.uuid4().hex[:8]}:")  # nothing left by other runs
    throttle = LoginThrottle(kv, max_failures=3, window_s=60)
    try:
        for _ in range(3):
            await throttle.failed("student1", "10.0.0.66")
        with pytest.raises(Exception) as err:
            await throttle.check("student1", "10.0.0.66")
        assert getattr(err.value, "code", None) == "too_many_attempts"
        await throttle.check("student1", "10.0.0.5")  # the student in the classroom is not locked out
    finally:
        for ip in ("10.0.0.66", "10.0.0.5"):
            for key in LoginThrottle._keys("student1", ip).values():
                await kv.reset(key)
        await kv.close()


async def test_sign_in_still_works_when_the_throttle_store_is_down(services):
    await make_user(services, "student9", Role.STUDENT)
    services.throttle.kv = RedisKV("redis://127.0.0.1:1/0")  # nothing listens there
    client = await open_client(services)
    try:
        resp = await client.post("/api/v1/auth/login", json={"login": "student9", "password": PASSWORD})
        assert resp.status == 200
    finally:
        await client.close()


async def test_changing_the_password_ends_other_sessions(services):
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    other = await new_api(client)
    try:
        api = Api(client)
        await api.login("student9")
        await other.login("student9")
        status, body = await api.call(
            "POST", "/api/v1/me/password", {"current": PASSWORD, "new": "a brand new long passphrase"}
        )
        assert status == 200, body
        status, _ = await api.call("GET", "/api/v1/me")
        assert status == 200
        status, body = await other.call("GET", "/api/v1/me")
        assert status == 401 and body["error"]["code"] == "not_signed_in"
    finally:
        await other.client.close()
        await client.close()


async def test_logout_revokes_the_session(services):
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student9")
        status, _ = await api.call("POST", "/api/v1/auth/logout")
        assert status == 200
        status, _ = await api.call("GET", "/api/v1/me")
        assert status == 401
    finally:
        await client.close()


async def test_an_expired_session_is_refused(services, clock):
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student9")
        clock.advance(services.settings.session_ttl_s + 1)
        status, _ = await api.call("GET", "/api/v1/me")
        assert status == 401
    finally:
        await client.close()


CSV_OK = (
    "role;login;full_name;group;faculty;language\n"
    "student;a.nurlan;Нұрлан Асқаров;PD-21;F-POL;kk\n"
    "student;b.ivanov;Борис Иванов;PD-21;F-POL;ru\n"
    "teacher;t.sultan;Сұлтан Бекұлы;PD-21;F-POL;kk\n"
)


async def test_contingent_import_creates_groups_students_and_teachers(services):
    client, api = await _signed_in(services, "admin", Role.ACADEMIC_ADMIN)
    try:
        resp = await client.post(
            "/api/v1/admin/contingent?filename=c.csv", data=CSV_OK.encode("utf-8"), headers={"X-CSRF-Token": api.csrf}
        )
        body = await resp.json()
        assert resp.status == 200, body
        assert {u["login"] for u in body["created_users"]} == {"a.nurlan", "b.ivanov", "t.sultan"}
        assert all(u["one_time_password"] for u in body["created_users"])
        # Importing the same file again creates nothing new.
        resp = await client.post(
            "/api/v1/admin/contingent?filename=c.csv", data=CSV_OK.encode("utf-8"), headers={"X-CSRF-Token": api.csrf}
        )
        again = await resp.json()
        assert again["created_users"] == [] and again["existing_users"] == 3
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(group_members))).scalar_one() == 2


async def test_a_contingent_file_with_errors_imports_nothing_and_names_each_row_and_column(services):
    wb = Workbook()
    ws = wb.active
    ws.append(["role", "login", "full_name", "group", "faculty"])
    ws.append(["student", "ok.one", "Дұрыс Адам", "PD-21", "F-POL"])
    ws.append(["student", "bad login!", "Қате Логин", "PD-21", "F-POL"])
    ws.append(["wizard", "w.one", "Сиқыршы", "PD-21", "F-POL"])
    ws.append(["student", "no.group", "Топсыз", "", "F-POL"])
    buf = io.BytesIO()
    wb.save(buf)
    client, api = await _signed_in(services, "admin", Role.ACADEMIC_ADMIN, language="ru")
    try:
        resp = await client.post(
            "/api/v1/admin/contingent?filename=c.xlsx", data=buf.getvalue(), headers={"X-CSRF-Token": api.csrf}
        )
        body = await resp.json()
    finally:
        await client.close()
    assert resp.status == 422 and body["error"]["code"] == "contingent_invalid"
    where = [(d["row"], d["column"]) for d in body["error"]["details"]]
    assert where == [(3, "login"), (4, "role"), (5, "group")]
    assert body["error"]["details"][0]["message"].startswith("Строка 3, столбец «login»:")
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(users))).scalar_one() == 1  # only the admin


async def test_a_student_who_left_the_group_cannot_start_its_exam(services):
    from exam_engine.services import catalog
    from tests.factories import ADMIN

    world = await make_world(services, students=1)
    async with services.engine.begin() as conn:
        g2 = await catalog.ensure_group(conn, ADMIN, code="G2", faculty_id=None, now=services.clock.now())
        sid = await catalog.user_id_by_login(conn, "student1")
        await catalog.add_member(
            conn, ADMIN, group_id=g2, user_id=sid, role=Role.STUDENT, now=services.clock.now() + timedelta(seconds=1)
        )
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        status, body = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
    finally:
        await client.close()
    assert status == 404 and body["error"]["code"] == "exam_not_found"
    async with services.engine.connect() as conn:
        history = (
            await conn.execute(select(func.count()).select_from(group_members).where(group_members.c.student_id == sid))
        ).scalar_one()
    assert history == 2  # the old membership is kept with its end date (J11)


async def test_a_session_revoked_by_another_process_is_refused_once_the_cache_bound_passes(services):
    from sqlalchemy import update

    from exam_engine.tables import auth_sessions

    await make_user(services, "student9", Role.STUDENT)
    services.sessions.unsynced_ttl_s = 0.3  # no revocation bus here: the short bound applies
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student9")
        assert (await api.call("GET", "/api/v1/me"))[0] == 200
        async with services.engine.begin() as conn:  # as another server process would
            await conn.execute(update(auth_sessions).values(revoked_at=services.clock.now()))
        import asyncio

        await asyncio.sleep(0.35)
        assert (await api.call("GET", "/api/v1/me"))[0] == 401
    finally:
        await client.close()


async def test_an_exam_whose_blueprint_the_bank_cannot_fill_is_refused_through_the_api(services):
    world = await make_world(services, students=1)
    client, api = await _signed_in(services, "admin", Role.ACADEMIC_ADMIN, language="ru")
    body = {
        "title": "Blueprinted",
        "discipline": "LAW-101",
        "session": "S1",
        "groups": ["G1"],
        "banks": {"kk": world.bank_versions["kk"]},
        "question_count": 3,
        "duration_minutes": 30,
        "opens_at": "2026-06-02T09:00:00+05:00",
        "closes_at": "2026-06-02T12:00:00+05:00",
    }
    try:
        status, bad = await api.call(
            "POST",
            "/api/v1/admin/exams",
            {**body, "blueprint": [{"topic": "criminal law", "difficulty": 2, "count": 3}]},
        )
        assert status == 422 and bad["error"]["code"] == "blueprint_shortfall"
        assert "criminal law" in bad["error"]["message"]
        status, ok = await api.call(
            "POST", "/api/v1/admin/exams", {**body, "blueprint": [{"topic": None, "difficulty": None, "count": 3}]}
        )
        assert status == 201, ok
        status, bad = await api.call("POST", "/api/v1/admin/exams", {**body, "duration_minutes": 10**12})
        assert status == 422 and bad["error"]["code"] == "out_of_range"
        assert "duration_minutes" in bad["error"]["message"] and "1440" in bad["error"]["message"]
        status, bad = await api.call("POST", "/api/v1/admin/exams", {**body, "duration_minutes": 2**60})
        assert status == 422 and bad["error"]["code"] == "out_of_range"
    finally:
        await client.close()


async def test_a_refused_access_is_recorded_in_the_audit_log(services):
    client, api = await _signed_in(services, "curious", Role.STUDENT)
    try:
        status, _ = await api.call("POST", "/api/v1/admin/disciplines", {"code": "X-1", "name": "X"})
        assert status == 403
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(
                select(audit_log.c.actor, audit_log.c.subject, audit_log.c.after).where(
                    audit_log.c.action == "access.denied"
                )
            )
        ).one()
    assert row.actor == "user:curious" and row.subject == "route:POST /api/v1/admin/disciplines"
    assert row.after == {"code": "forbidden"}


async def test_a_session_making_too_many_requests_is_slowed_down(services):
    client, api = await _signed_in(services, "busy", Role.STUDENT)
    services.session_rate.per_minute = 5
    try:
        statuses = [(await api.call("GET", "/api/v1/me"))[0] for _ in range(7)]
        other = await new_api(client)
        await make_user(services, "calm", Role.STUDENT)
        await other.login("calm")
        calm_status, _ = await other.call("GET", "/api/v1/me")
    finally:
        await client.close()
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    assert calm_status == 200  # the limit is per session, not per server


async def test_the_redis_store_counts_sliding_windows_and_timed_marks(redis_url):
    kv = RedisKV(redis_url, prefix=f"exam-test-kv-{uuid.uuid4().hex[:8]}:")
    try:
        assert await kv.hit("fixed", 100) == 1 and await kv.hit("fixed", 1000) == 2
        assert await kv.hit("slide", 100, sliding=True) == 1 and await kv.hit("slide", 1000, sliding=True) == 2
        await kv.block("mark", 30)
        (fixed, fixed_ttl), (slide, slide_ttl), (mark, mark_ttl), (none, none_ttl) = await kv.peek(
            ["fixed", "slide", "mark", "absent"]
        )
        assert (fixed, slide, mark, none) == (2, 2, 1, 0)
        assert 90 < fixed_ttl <= 100 and 990 < slide_ttl <= 1000 and 25 < mark_ttl <= 30 and none_ttl == 0
    finally:
        for key in ("fixed", "slide", "mark"):
            await kv.reset(key)
        await kv.close()
