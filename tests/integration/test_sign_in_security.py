"""Issue 19: sign-in cannot be turned against others; the one-time password is one-time (both backends)."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter

from sqlalchemy import func, insert, select

from exam_engine.config import Secret
from exam_engine.domain.roles import Role
from exam_engine.security import passwords
from exam_engine.services import users as user_service
from exam_engine.tables import audit_log, auth_sessions, users
from tests.factories import ADMIN, PASSWORD, Api, make_user, make_world, new_api, open_client

PROXY = (ipaddress.ip_network("127.0.0.1/32"),)  # the test client connects from 127.0.0.1: "nginx"


def behind_proxy(services) -> None:  # type: ignore[no-untyped-def]
    services.settings = services.settings.with_overrides(trusted_proxies=PROXY)


def via(address: str) -> dict[str, str]:
    """What nginx adds: the client's address as the rightmost X-Forwarded-For hop."""
    return {"X-Forwarded-For": address}


async def add_people(services, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``count`` students with the same password (hashed once: Argon2 per row would take a minute)."""
    digest = passwords.hash_password(PASSWORD)
    now = services.clock.now()
    logins = [f"person{i:03d}" for i in range(count)]
    async with services.engine.begin() as conn:
        await conn.execute(
            insert(users),
            [
                {
                    "login": login,
                    "full_name": f"Person {login}",
                    "role": "student",
                    "password_hash": digest,
                    "language": "kk",
                    "is_active": True,
                    "must_change_password": False,
                    "created_at": now,
                    "password_changed_at": now,
                    "created_by": "tests",
                }
                for login in logins
            ],
        )
    return logins


async def sign_in(client, login: str, password: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    resp = await client.post("/api/v1/auth/login", json={"login": login, "password": password}, headers=headers or {})
    body = await resp.json()
    return resp, body


async def test_a_thousand_wrong_passwords_from_one_client_behind_the_proxy_lock_no_one_else_out(services):
    behind_proxy(services)
    people = await add_people(services, 100)
    client = await open_client(services)
    try:
        outcomes: Counter[int] = Counter()
        waits = []
        for round_ in range(10):  # 1,000 wrong passwords, spread over the 100 logins, from one client
            for login in people:
                resp, body = await sign_in(client, login, f"guess number {round_}", via("203.0.113.66"))
                outcomes[resp.status] += 1
                if resp.status == 429:
                    assert body["error"]["code"] == "too_many_attempts"
                    waits.append(int(resp.headers["Retry-After"]))
        # The guessing client slowed down: only a few dozen of its guesses were even verified.
        assert outcomes[401] + outcomes[429] == 1000
        assert outcomes[401] <= 40, outcomes
        assert max(waits) <= 10  # ...while the others behind its address would wait seconds, not minutes
        # Every one of the 100 people signs in at once with the right password from their own computer.
        for n, login in enumerate(people):
            resp, body = await sign_in(client, login, PASSWORD, via(f"198.51.100.{n + 1}"))
            assert resp.status == 200, (login, body)
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        ips = set((await conn.execute(select(auth_sessions.c.ip))).scalars())
        failed_from = set(
            (await conn.execute(select(audit_log.c.actor).where(audit_log.c.action == "auth.login_failed"))).scalars()
        )
    assert ips == {f"198.51.100.{n + 1}" for n in range(100)}  # the session keeps the client, not the proxy
    assert failed_from == {"anon:203.0.113.66"}


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(services, monkeypatch, caplog):
    from exam_engine.web import http

    monkeypatch.setattr(http, "_warned_untrusted", False)
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)  # no EXAM_TRUSTED_PROXIES: the socket's peer is the client
    try:
        for n in range(5):  # a client pretending to be five different addresses
            resp, _ = await sign_in(client, "student9", "wrong wrong wrong", via(f"192.0.2.{n + 1}"))
            assert resp.status == 401
        resp, body = await sign_in(client, "student9", PASSWORD, via("192.0.2.200"))
        assert resp.status == 429 and body["error"]["code"] == "too_many_attempts"
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        actors = set(
            (await conn.execute(select(audit_log.c.actor).where(audit_log.c.action == "auth.login_failed"))).scalars()
        )
    assert actors == {"anon:127.0.0.1"}
    warnings = [r.getMessage() for r in caplog.records if "EXAM_TRUSTED_PROXIES is not set" in r.getMessage()]
    assert len(warnings) == 1  # the operator is told once, not on every request


async def test_failures_of_one_person_from_one_client_wait_there_not_on_another_computer(services):
    behind_proxy(services)
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    try:
        for _ in range(5):
            resp, _ = await sign_in(client, "student9", "wrong wrong wrong", via("203.0.113.66"))
            assert resp.status == 401
        resp, body = await sign_in(client, "student9", PASSWORD, via("203.0.113.66"))
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 15
        resp, body = await sign_in(client, "student9", PASSWORD, via("198.51.100.7"))
        assert resp.status == 200, body
    finally:
        await client.close()


async def test_the_one_time_password_allows_nothing_but_changing_it(services):
    world = await make_world(services, question_count=3)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student1")
        status, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status == 200, started
        attempt_id, position = started["attempt"]["id"], started["questions"][0]["position"]
        async with services.engine.begin() as conn:  # the administrator prints a new one-time password
            otp = await user_service.reset_password(conn, ADMIN, "student1", now=services.clock.now())
        fresh = await new_api(client)
        try:
            body = await fresh.login("student1", otp)
            assert body["must_change_password"] is True
            status, body = await fresh.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
            assert status == 403 and body["error"]["code"] == "password_change_required", body
            status, body = await fresh.call(
                "PUT", f"/api/v1/attempts/{attempt_id}/answers/{position}", {"choice": 0, "seq": 1}
            )
            assert status == 403 and body["error"]["code"] == "password_change_required", body
            for path in ("/api/v1/student/exams", f"/api/v1/attempts/{attempt_id}"):
                status, body = await fresh.call("GET", path)
                assert status == 403 and body["error"]["code"] == "password_change_required", (path, body)
            for path in ("/", "/student", f"/exam/{world.exam_id}", f"/attempt/{attempt_id}/result"):
                resp = await fresh.client.request("GET", path, allow_redirects=False)
                assert resp.status == 302 and resp.headers["Location"] == "/account?first=1", path
            resp = await fresh.client.request("GET", "/account?first=1", allow_redirects=False)
            assert resp.status == 200
            status, body = await fresh.call("GET", "/api/v1/me")
            assert status == 200 and body["must_change_password"] is True
            status, body = await fresh.call(
                "POST", "/api/v1/me/password", {"current": otp, "new": "my own long exam passphrase"}
            )
            assert status == 200, body
            status, body = await fresh.call("GET", "/api/v1/student/exams")
            assert status == 200, body
            # From here the exam's own rules speak again (the attempt is bound to the first browser).
            status, body = await fresh.call(
                "PUT", f"/api/v1/attempts/{attempt_id}/answers/{position}", {"choice": 0, "seq": 1}
            )
            assert status == 409 and body["error"]["code"] == "attempt_open_elsewhere", body
            resp = await fresh.client.request("GET", "/student", allow_redirects=False)
            assert resp.status == 200
        finally:
            await fresh.client.close()
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        refused = (
            await conn.execute(select(func.count()).select_from(audit_log).where(audit_log.c.action == "access.denied"))
        ).scalar_one()
    assert refused >= 4  # each refusal is on record


async def test_the_one_time_password_cannot_be_kept_as_the_new_password(services):
    """The printed password, seen by the administrator, cannot become the person's own by "changing" it to itself."""
    await make_user(services, "student9", Role.STUDENT)
    async with services.engine.begin() as conn:
        otp = await user_service.reset_password(conn, ADMIN, "student9", now=services.clock.now())
    client = await open_client(services)
    try:
        api = Api(client)
        assert (await api.login("student9", otp))["must_change_password"] is True
        status, body = await api.call("POST", "/api/v1/me/password", {"current": otp, "new": otp})
        assert status == 422 and body["error"]["code"] == "password_unchanged", body
        assert "басқа жаңа құпиясөз" in body["error"]["message"]  # in the person's language (kk)
        status, body = await api.call("GET", "/api/v1/me")
        assert status == 200 and body["must_change_password"] is True  # still nothing but the change
        # The page refuses it the same way, in words, and the one-time password stays one-time.
        resp = await api.client.request(
            "POST", "/account", data={"_csrf": api.csrf or "", "current": otp, "new": otp}, allow_redirects=False
        )
        assert resp.status == 422 and "басқа жаңа құпиясөз" in await resp.text()
        resp = await api.client.request("GET", "/student", allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/account?first=1"
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        row = (
            await conn.execute(
                select(users.c.must_change_password, users.c.password_hash).where(users.c.login == "student9")
            )
        ).one()
        refusals = (
            (await conn.execute(select(audit_log.c.after).where(audit_log.c.action == "auth.password_change_failed")))
            .scalars()
            .all()
        )
    assert row.must_change_password is True and passwords.verify_password(row.password_hash, otp)
    assert refusals == [{"code": "password_unchanged"}] * 2


async def test_the_sign_in_page_sends_a_one_time_password_to_the_change_page_and_every_page_back_there(services):
    await make_user(services, "student9", Role.STUDENT)
    async with services.engine.begin() as conn:
        otp = await user_service.reset_password(conn, ADMIN, "student9", now=services.clock.now())
    client = await open_client(services)
    try:
        resp = await client.post(
            "/login", data={"login": "student9", "password": otp, "next": "/student"}, allow_redirects=False
        )
        assert resp.status == 302 and resp.headers["Location"] == "/account?first=1"
        resp = await client.get("/student", allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/account?first=1"
    finally:
        await client.close()


def _session_cookie(api: Api) -> str:
    jar = api.client.session.cookie_jar  # type: ignore[attr-defined]
    return next(c.value for c in jar if c.key == "exam_session")


async def test_a_cookie_copied_from_the_very_session_that_changes_the_password_stops_working(services):
    """Someone copied the session cookie (a shared computer, a stolen laptop); the owner notices and
    changes the password in that same browser. Before, only the *other* sessions ended: the copy,
    being the owner's own session, went on working."""
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    owner, thief = await new_api(client), await new_api(client)
    try:
        for how in ("api", "page"):
            await owner.login("student9", PASSWORD if how == "api" else "a brand new long passphrase")
            thief.client.session.cookie_jar.update_cookies({"exam_session": _session_cookie(owner)})  # type: ignore[attr-defined]
            thief.csrf = owner.csrf
            status, _ = await thief.call("GET", "/api/v1/me")
            assert status == 200  # the copy works, as the owner's session does
            if how == "api":
                status, body = await owner.call(
                    "POST", "/api/v1/me/password", {"current": PASSWORD, "new": "a brand new long passphrase"}
                )
                assert status == 200, body
            else:
                resp = await owner.client.request(
                    "POST",
                    "/account",
                    data={
                        "_csrf": owner.csrf or "",
                        "current": "a brand new long passphrase",
                        "new": "yet another passphrase",
                    },
                )
                assert resp.status == 200 and "құпиясөзіңіз өзгертілді" in (await resp.text()).lower()
            status, body = await thief.call("GET", "/api/v1/me")
            assert status == 401 and body["error"]["code"] == "not_signed_in", (how, body)
            # The owner goes on in the same browser, with the CSRF token the open pages already hold.
            status, body = await owner.call("PUT", "/api/v1/me/language", {"language": "kk"})
            assert status == 200, (how, body)
    finally:
        await owner.client.close()  # type: ignore[attr-defined]
        await thief.client.close()  # type: ignore[attr-defined]
        await client.close()


async def test_the_sign_in_page_goes_back_only_to_a_page_of_this_site(services):
    """A link to ``/login?next=/%09/evil.example`` sent a person, just signed in, to another site: the
    browser (and yarl, writing the ``Location``) drops the tab, leaving ``//evil.example``."""
    await make_user(services, "teacher9", Role.TEACHER)
    client = await open_client(services)
    try:
        for sneaky in (
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/\\evil.example",
            "/ /evil.example",
        ):
            client.session.cookie_jar.clear()  # signed out: the language switch before sign-in, then the sign-in
            resp = await client.post("/language", data={"lang": "ru", "next": sneaky}, allow_redirects=False)
            assert resp.headers["Location"] == "/", (repr(sneaky), resp.headers["Location"])
            resp = await client.get("/login", params={"next": sneaky})
            assert '<input type="hidden" name="next" value="/">' in await resp.text(), repr(sneaky)  # not carried on
            resp = await client.post(
                "/login", data={"login": "teacher9", "password": PASSWORD, "next": sneaky}, allow_redirects=False
            )
            assert resp.status == 302 and resp.headers["Location"] == "/", (repr(sneaky), resp.headers["Location"])
        resp = await client.post(
            "/login",
            data={"login": "teacher9", "password": PASSWORD, "next": "/admin/audit?page=2"},
            allow_redirects=False,
        )
        assert resp.status == 302 and resp.headers["Location"] == "/admin/audit?page=2"  # a real page still works
    finally:
        await client.close()


async def test_a_wrong_current_password_is_throttled_like_a_sign_in_and_recorded(services):
    behind_proxy(services)
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    try:
        api = Api(client)
        resp = await client.post(
            "/api/v1/auth/login", json={"login": "student9", "password": PASSWORD}, headers=via("203.0.113.66")
        )
        api.csrf = (await resp.json())["csrf_token"]
        statuses = []
        for n in range(8):  # a stolen cookie guessing the password
            resp = await client.post(
                "/api/v1/me/password",
                json={"current": f"guess {n} guess", "new": "x" * 20},
                headers={**api._headers(), **via("203.0.113.66")},
            )
            statuses.append(resp.status)
        assert statuses[:5] == [422] * 5 and set(statuses[5:]) == {429}
        resp = await client.post(
            "/api/v1/me/password",
            json={"current": PASSWORD, "new": "a brand new passphrase"},
            headers={**api._headers(), **via("203.0.113.66")},
        )
        assert resp.status == 429  # even the right one waits: the guesses were not free
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.ip, audit_log.c.after).where(
                    audit_log.c.action.like("auth.password%")
                )
            )
        ).all()
        hash_now = (await conn.execute(select(users.c.password_hash).where(users.c.login == "student9"))).scalar_one()
    assert [r.action for r in rows] == ["auth.password_change_failed"] * 5
    assert {r.ip for r in rows} == {"203.0.113.66"}
    assert rows[0].after == {"code": "bad_current_password"}
    assert passwords.verify_password(hash_now, PASSWORD)


async def test_a_successful_password_change_is_recorded(services):
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    try:
        api = Api(client)
        await api.login("student9")
        status, _ = await api.call("POST", "/api/v1/me/password", {"current": PASSWORD, "new": "short"})
        assert status == 422
        status, _ = await api.call(
            "POST", "/api/v1/me/password", {"current": PASSWORD, "new": "a brand new long passphrase"}
        )
        assert status == 200
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        actions = list(
            (
                await conn.execute(
                    select(audit_log.c.action).where(audit_log.c.action.like("auth.password%")).order_by(audit_log.c.id)
                )
            ).scalars()
        )
    assert actions == ["auth.password_change_failed", "auth.password_changed"]


async def test_a_cross_site_text_plain_sign_in_is_refused(services):
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    body = json.dumps({"login": "student9", "password": PASSWORD})
    try:
        resp = await client.post(
            "/api/v1/auth/login", data=body, headers={"Content-Type": "text/plain", "Origin": "https://evil.example"}
        )
        assert resp.status == 415 and (await resp.json())["error"]["code"] == "json_required"
        assert "exam_session" not in resp.cookies
        resp = await client.post(
            "/api/v1/auth/login",
            data=body,
            headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
        )
        assert resp.status == 403 and (await resp.json())["error"]["code"] == "foreign_origin"
        resp = await client.post(
            "/api/v1/auth/login", data=body, headers={"Content-Type": "application/json", "Origin": "null"}
        )
        assert resp.status == 403
        resp = await client.post(
            "/login",
            data={"login": "student9", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
            allow_redirects=False,
        )
        assert resp.status == 403
        origin = str(client.make_url("")).rstrip("/")
        resp = await client.post(
            "/api/v1/auth/login", data=body, headers={"Content-Type": "application/json", "Origin": origin}
        )
        assert resp.status == 200
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        opened = (await conn.execute(select(func.count()).select_from(auth_sessions))).scalar_one()
    assert opened == 1


async def test_a_new_sign_in_beyond_the_cap_ends_the_oldest_session(services, clock):
    assert services.settings.max_sessions_per_user == 5
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    browsers = [await new_api(client) for _ in range(6)]
    try:
        for browser in browsers:
            await browser.login("student9")
            status, _ = await browser.call("GET", "/api/v1/me")  # cached by the server
            assert status == 200
            clock.advance(1)
        statuses = [(await browser.call("GET", "/api/v1/me"))[0] for browser in browsers]
        assert statuses == [401, 200, 200, 200, 200, 200]
    finally:
        for browser in browsers:
            await browser.client.close()
        await client.close()
    async with services.engine.connect() as conn:
        ended = (
            (await conn.execute(select(audit_log.c.after).where(audit_log.c.action == "auth.session_ended")))
            .scalars()
            .all()
        )
        open_ = (
            await conn.execute(
                select(func.count()).select_from(auth_sessions).where(auth_sessions.c.revoked_at.is_(None))
            )
        ).scalar_one()
    assert len(ended) == 1 and ended[0]["reason"] == "session_limit" and open_ == 5


async def test_correct_sign_ins_of_one_account_are_limited(services):
    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    try:
        statuses = []
        for _ in range(30):
            resp, body = await sign_in(client, "student9", PASSWORD)
            statuses.append(resp.status)
        assert statuses[:10] == [200] * 10 and set(statuses[10:]) == {429}
        assert body["error"]["code"] == "too_many_sign_ins" and int(resp.headers["Retry-After"]) <= 60
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        created = (await conn.execute(select(func.count()).select_from(auth_sessions))).scalar_one()
    assert created == 10


async def test_metrics_need_the_token_or_a_local_unproxied_peer(services):
    client = await open_client(services)
    try:
        resp = await client.get("/metrics")  # loopback, no proxy in between: the local scraper
        assert resp.status == 200
        resp = await client.get("/metrics", headers=via("203.0.113.66"))  # through nginx on this host
        assert resp.status == 403
        services.settings = services.settings.with_overrides(metrics_token=Secret("m" * 40))
        resp = await client.get("/metrics")
        assert resp.status == 401 and "exam_" not in await resp.text()
        resp = await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
        assert resp.status == 401
        resp = await client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
        assert resp.status == 200 and "exam_" in await resp.text()
    finally:
        await client.close()


async def test_concurrent_sign_ins_of_one_person_leave_no_more_sessions_than_the_cap(services):
    import asyncio

    await make_user(services, "student9", Role.STUDENT)
    client = await open_client(services)
    try:
        results = await asyncio.gather(*(sign_in(client, "student9", PASSWORD) for _ in range(9)))
        assert sorted(resp.status for resp, _ in results) == [200] * 9
    finally:
        await client.close()
    async with services.engine.connect() as conn:
        open_ = (
            await conn.execute(
                select(func.count()).select_from(auth_sessions).where(auth_sessions.c.revoked_at.is_(None))
            )
        ).scalar_one()
    assert open_ == 5


async def test_after_a_hundred_failures_strangers_wait_until_the_administrator_resets_the_password(services):
    import re

    behind_proxy(services)
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN)
    await make_user(services, "student9", Role.STUDENT)
    for n in range(100):  # a botnet's guesses, each from its own address (counted as the sign-in route does)
        await services.throttle.failed("student9", f"203.0.{n // 200}.{n % 200 + 1}")
    client = await open_client(services)
    try:
        resp, body = await sign_in(client, "student9", PASSWORD, via("198.51.100.7"))  # a computer never used
        assert resp.status == 429 and body["error"]["code"] == "account_protected", body
        admin = Api(client)
        await admin.login("admin1")
        resp = await client.post("/admin/users/reset", data={"_csrf": admin.csrf, "login": "student9", "confirm": "1"})
        assert resp.status == 200
        otp = re.search(r'id="reset-otp">([^<]+)<', await resp.text()).group(1)
        student = await new_api(client)
        try:
            resp = await student.client.post(
                "/api/v1/auth/login", json={"login": "student9", "password": otp}, headers=via("198.51.100.7")
            )
            assert resp.status == 200 and (await resp.json())["must_change_password"] is True
        finally:
            await student.client.close()
    finally:
        await client.close()
