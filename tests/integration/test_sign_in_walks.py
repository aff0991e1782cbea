"""Sign-in hardening, walked over every route of the application (pages and API) on both backends:
CSRF on every state-changing request, the one-time password on every route, ``no-store`` on every
answer that may carry personal data; plus the session's renewal at sign-in, the cookie's flags and
the same refusal for an unknown login and a wrong password (docs/security.md)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from exam_engine.domain.roles import Role
from exam_engine.services import users as user_service
from exam_engine.tables import audit_log, auth_sessions
from exam_engine.web.http import DEVICE_COOKIE, SESSION_COOKIE
from tests.factories import ADMIN, PASSWORD, Api, make_user, make_world, new_api, open_client

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"])

_PARAM = re.compile(r"{(\w+)}")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# Reached before anyone signs in, on purpose: the sign-in itself (its own checks: JSON from this origin,
# docs/security.md *Login CSRF*), the health probes, the metrics (their own token), the API document.
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/favicon.ico"),
    ("POST", "/language"),  # before sign-in it only sets a cookie; signed in, it checks the form's token
}


def _routes(app: Any) -> list[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None or resource.canonical.startswith("/static"):
            continue
        methods = ("GET", "POST") if route.method == "*" else (route.method,)
        out |= {(m, resource.canonical) for m in methods if m not in ("HEAD", "OPTIONS")}
    return sorted(out)


def _url(path: str, ids: dict[str, Any]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in ids:
            return str(ids[name])
        return str(uuid.uuid4()) if name.endswith("attempt_id") else "1"

    return _PARAM.sub(value, path)


def _csrf_refused(path: str, status: int, body: bytes) -> bool:
    if path.startswith("/api/"):
        return status == 403 and b'"csrf_failed"' in body
    return status == 403 and "Форманың мерзімі өтті".encode() in body  # the page in the person's language


async def test_every_state_changing_request_without_the_forms_token_is_refused_and_changes_nothing(services):
    """Every POST, PUT, PATCH and DELETE of the application — the API's and the pages' (a page's ``*`` route
    answered PUT and DELETE without looking at the token) — sent by a signed-in person without the
    session's token: 403 (``csrf_failed``; a page says the form has expired, in kk), nothing written."""
    world = await make_world(services)
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN)
    client = await open_client(services)
    api = Api(client)
    try:
        await api.login("admin1")
        async with services.engine.connect() as conn:
            before = (await conn.execute(select(func.count()).select_from(audit_log))).scalar_one()
        routes = [(m, p) for m, p in _routes(client.server.app) if m != "GET" and (m, p) not in PUBLIC]
        star = [(m, p) for m, p in routes if p == "/admin/assignments"]
        assert len(routes) >= 80 and star, routes
        not_refused = []
        for method, path in routes + [("PUT", "/admin/assignments"), ("DELETE", "/admin/journals")]:
            url = _url(path, {"exam_id": world.exam_id})
            if path.startswith("/api/"):
                resp = await client.request(method, url, json={}, allow_redirects=False)
            else:
                resp = await client.request(method, url, data={"action": "department"}, allow_redirects=False)
            body = await resp.read()
            if resp.status == 405:  # no such method on that path (the DELETE probe of a GET/POST page)
                continue
            if not _csrf_refused(path, resp.status, body):
                not_refused.append((method, path, resp.status, body[:80]))
        assert not not_refused, not_refused
        status, me = await api.call("GET", "/api/v1/me")
        assert status == 200 and me["user"]["login"] == "admin1"  # not signed out by a tokenless sign-out
        async with services.engine.connect() as conn:
            written = (
                await conn.execute(
                    select(audit_log.c.action).where(audit_log.c.id > before, audit_log.c.action != "access.denied")
                )
            ).all()
        assert written == []
    finally:
        await client.close()


async def test_the_one_time_password_opens_no_route_but_the_password_change(services):
    """Signed in with a printed one-time password, every route of the application (but signing out,
    asking who one is, choosing the language and the change itself) answers 403
    ``password_change_required`` (API) or sends to the change page (pages); nothing answers with data."""
    world = await make_world(services)
    client = await open_client(services)
    fresh = Api(client)
    try:
        async with services.engine.begin() as conn:
            otp = await user_service.reset_password(conn, ADMIN, "student1", now=services.clock.now())
        await fresh.login("student1", otp)
        allowed = {
            ("GET", "/api/v1/me"),
            ("POST", "/api/v1/me/password"),
            ("PUT", "/api/v1/me/language"),
            ("POST", "/api/v1/auth/logout"),
            ("GET", "/api/v1/time"),  # the server's clock, for anyone
            ("GET", "/account"),
            ("POST", "/account"),
            ("POST", "/logout"),
            ("POST", "/language"),
        }
        let_through = []
        for method, path in _routes(client.server.app):
            if (method, path) in PUBLIC or (method, path) in allowed:
                continue
            url = _url(path, {"exam_id": world.exam_id})
            resp = await client.request(
                method,
                url,
                json={} if method != "GET" else None,
                headers={"X-CSRF-Token": fresh.csrf or ""},
                allow_redirects=False,
            )
            body = await resp.read()
            if path.startswith("/api/"):
                ok = resp.status == 403 and b'"password_change_required"' in body
            else:
                location = resp.headers.get("Location", "")
                # A fixed redirect with nothing in it (a form's address opened by hand, an old address) shows nothing.
                ok = location == "/account?first=1" or (
                    resp.status in (302, 303) and body in (b"", b"302: Found", b"303: See Other")
                )
            if not ok:
                let_through.append((method, path, resp.status, body[:80]))
        assert not let_through, let_through
    finally:
        await client.close()


async def test_every_answer_with_a_persons_data_is_not_stored_by_the_browser(services):
    """``Cache-Control: no-store`` on every page and API answer a signed-in person gets (a shared hall
    computer's cache keeps nothing of the previous student's exam or grades)."""
    world = await make_world(services)
    await make_user(services, "admin1", Role.ACADEMIC_ADMIN)
    client = await open_client(services)
    try:
        for login in ("admin1", "student1"):
            api = await new_api(client)
            try:
                await api.login(login)
                stored = []
                for method, path in _routes(client.server.app):
                    if method != "GET" or (method, path) in PUBLIC:
                        continue
                    resp = await api.client.request(
                        "GET", _url(path, {"exam_id": world.exam_id}), allow_redirects=False
                    )
                    if resp.status < 300 and "no-store" not in resp.headers.get("Cache-Control", ""):
                        stored.append((login, path, resp.status, resp.headers.get("Cache-Control")))
                assert not stored, stored
            finally:
                await api.client.close()  # type: ignore[attr-defined]
    finally:
        await client.close()


def _cookie(resp: Any, name: str) -> str:
    found = [h for h in resp.headers.getall("Set-Cookie", []) if h.startswith(f"{name}=")]
    assert found, (name, resp.headers.getall("Set-Cookie", []))
    return found[0]


async def test_a_sign_in_gives_a_new_session_and_ends_the_one_the_browser_held(services):
    """Fixation: a cookie planted before the sign-in is not adopted, and a browser signed in as somebody
    before (a shared computer) holds only the new session: the old token stops working at once."""
    await make_world(services)
    client = await open_client(services)
    try:
        planted = "attacker-chosen-token-" + "x" * 30
        client.session.cookie_jar.update_cookies({SESSION_COOKIE: planted})
        resp = await client.post("/api/v1/auth/login", json={"login": "student1", "password": PASSWORD})
        assert resp.status == 200
        first = _cookie(resp, SESSION_COOKIE).split(";")[0].split("=", 1)[1]
        assert first != planted and len(first) >= 40
        # The same browser, signed in as another person: a new token, and the first one is ended.
        resp = await client.post("/api/v1/auth/login", json={"login": "student2", "password": PASSWORD})
        assert resp.status == 200
        second = _cookie(resp, SESSION_COOKIE).split(";")[0].split("=", 1)[1]
        assert second != first
        old = await open_client(services)
        try:
            old.session.cookie_jar.update_cookies({SESSION_COOKIE: first})
            resp = await old.get("/api/v1/me")
            assert resp.status == 401
        finally:
            await old.close()
        resp = await client.get("/api/v1/me")
        assert resp.status == 200 and (await resp.json())["user"]["login"] == "student2"
        async with services.engine.connect() as conn:
            open_sessions = (
                await conn.execute(
                    select(func.count()).select_from(auth_sessions).where(auth_sessions.c.revoked_at.is_(None))
                )
            ).scalar_one()
            ended = (
                await conn.execute(
                    select(audit_log.c.subject, audit_log.c.after).where(audit_log.c.action == "auth.session_ended")
                )
            ).all()
        assert open_sessions == 1
        assert [(e.after or {}).get("reason") for e in ended] == ["signed_in_again"]
        # The sign-in page does the same.
        resp = await client.post(
            "/login", data={"login": "student1", "password": PASSWORD, "next": "/"}, allow_redirects=False
        )
        assert resp.status == 302
        resp = await open_client_get_me(services, second)
        assert resp == 401
    finally:
        await client.close()


async def open_client_get_me(services, token: str) -> int:  # type: ignore[no-untyped-def]
    other = await open_client(services)
    try:
        other.session.cookie_jar.update_cookies({SESSION_COOKIE: token})
        return (await other.get("/api/v1/me")).status
    finally:
        await other.close()


async def test_the_cookies_are_http_only_same_site_and_secure_behind_tls(services):
    await make_world(services)
    for secure in (False, True):
        services.settings = services.settings.with_overrides(cookie_secure=secure)
        client = await open_client(services)
        try:
            resp = await client.post("/api/v1/auth/login", json={"login": "student1", "password": PASSWORD})
            assert resp.status == 200
            session = _cookie(resp, SESSION_COOKIE)
            assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
            for name in (SESSION_COOKIE, "lang", DEVICE_COOKIE):
                assert ("Secure" in _cookie(resp, name).split("; ")) is secure, (name, _cookie(resp, name))
            csrf = (await resp.json())["csrf_token"]
            token = session.split(";")[0].split("=", 1)[1]
            # Over plain HTTP the test client keeps a Secure cookie to itself: the session is named by hand.
            own = {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": csrf}
            resp = await client.put("/api/v1/me/language", json={"language": "ru"}, headers=own)
            assert resp.status == 200 and ("Secure" in _cookie(resp, "lang").split("; ")) is secure
            resp = await client.post(
                "/language", data={"lang": "kk", "next": "/", "_csrf": csrf}, headers=own, allow_redirects=False
            )
            assert resp.status == 302 and ("Secure" in _cookie(resp, "lang").split("; ")) is secure
        finally:
            await client.close()


async def test_an_unknown_login_and_a_wrong_password_get_the_same_refusal(services):
    await make_world(services)
    client = await open_client(services)
    try:
        for lang, words in (("kk", "Логин немесе құпиясөз қате."), ("ru", "Неверный логин или пароль.")):
            answers = []
            for login, password in (
                ("student1", "not the password at all"),
                ("nobody.here", "not the password at all"),
            ):
                resp = await client.post(
                    f"/api/v1/auth/login?lang={lang}",
                    json={"login": login, "password": password},
                    headers={"Accept-Language": lang},
                )
                answers.append((resp.status, await resp.json()))
                page = await client.post(
                    "/login",
                    data={"login": login, "password": password, "next": "/"},
                    headers={"Accept-Language": lang},
                    allow_redirects=False,
                )
                text = await page.text()
                assert page.status == 401 and words in text, (lang, login)
            assert answers[0] == answers[1], answers
            assert answers[0][0] == 401 and answers[0][1]["error"] == {"code": "bad_credentials", "message": words}
    finally:
        await client.close()


async def test_the_sign_in_page_says_when_to_try_again_in_kk_and_ru_with_retry_after(services):
    await make_world(services)
    client = await open_client(services)
    try:
        for lang, words in (
            ("kk", "Кіру әрекеттері тым көп сәтсіз болды."),
            ("ru", "Слишком много неудачных попыток входа."),
        ):
            login = f"student{1 if lang == 'kk' else 2}"
            for _ in range(5):
                resp = await client.post(
                    "/login",
                    data={"login": login, "password": "wrong wrong wrong", "next": "/"},
                    headers={"Accept-Language": lang},
                    allow_redirects=False,
                )
                assert resp.status == 401
            resp = await client.post(
                "/login",
                data={"login": login, "password": PASSWORD, "next": "/"},
                headers={"Accept-Language": lang},
                allow_redirects=False,
            )
            assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0, resp.headers
            assert words in await resp.text()
    finally:
        await client.close()


async def test_signing_out_on_the_page_ends_the_session_on_the_server(services):
    """A copy of the cookie (another tab, a proxy log) is worth nothing after «Sign out»."""
    await make_world(services)
    client = await open_client(services)
    api = Api(client)
    try:
        await api.login("student1")
        token = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value
        resp = await client.post("/logout", data={"_csrf": api.csrf}, allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/login"
        assert await open_client_get_me(services, token) == 401
        async with services.engine.connect() as conn:
            revoked = (
                await conn.execute(select(auth_sessions.c.revoked_at).where(auth_sessions.c.revoked_at.is_not(None)))
            ).all()
        assert len(revoked) == 1
    finally:
        await client.close()
