"""A session ended in one server process is refused at once by every other, though each caches
resolved sessions for a minute: evictions travel over Redis (services/session_bus.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from exam_engine.clock import SystemClock
from exam_engine.domain.actors import Actor
from exam_engine.domain.roles import Role
from exam_engine.services.auth import SessionCache, SessionInfo
from exam_engine.services.session_bus import SessionBus
from tests.factories import PASSWORD, make_world
from tests.integration.test_scale_out import ROOT, _env, _free_port, _healthy


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()  # type: ignore[return-value]


def _serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "exam_engine.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def _until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("backend", ["postgres"])
async def test_signing_out_on_one_server_process_ends_the_session_on_the_other_at_once(services, tmp_path):
    await make_world(services, students=1, question_count=2)
    env = _env(services, tmp_path)
    env["EXAM_SESSION_CACHE_S"] = "600"  # a cached session would outlive the test by far without the bus
    ports = [_free_port(), _free_port()]
    procs = [_serve(port, env, tmp_path / f"server-{port}.log") for port in ports]
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    try:
        for port in ports:
            await _healthy(port)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{a}/api/v1/auth/login", json={"login": "student1", "password": PASSWORD}) as r:
                assert r.status == 200, await r.text()
                csrf = (await r.json())["csrf_token"]

            def me_answers(base: str, status: int):  # type: ignore[no-untyped-def]
                async def check() -> bool:
                    async with http.get(f"{base}/api/v1/me") as r:
                        return r.status == status

                return check

            # Both processes resolve (and cache) the session.
            assert await me_answers(a, 200)() and await me_answers(b, 200)()
            cookies = http.cookie_jar.filter_cookies(URL(a))
            async with http.post(f"{a}/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 200, await r.text()
            # The jar dropped the cookie at sign-out; an attacker who copied it sends it anyway.
            http.cookie_jar.update_cookies(cookies)
            assert await _until(me_answers(b, 401), timeout=2.0), "process B still honours the ended session"
            assert await me_answers(a, 401)()
    finally:
        for proc in procs:
            _stop(proc)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_password_reset_from_the_command_line_ends_the_session_in_a_running_server(services, tmp_path):
    await make_world(services, students=1, question_count=2)
    env = _env(services, tmp_path)
    env["EXAM_SESSION_CACHE_S"] = "600"
    port = _free_port()
    proc = _serve(port, env, tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        await _healthy(port)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{base}/api/v1/auth/login", json={"login": "student1", "password": PASSWORD}) as r:
                assert r.status == 200, await r.text()

            async def me_refused() -> bool:
                async with http.get(f"{base}/api/v1/me") as r:
                    return r.status == 401

            assert not await me_refused()  # resolved and cached
            reset = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "exam_engine.cli",
                "user",
                "reset-password",
                "student1",
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await reset.communicate()
            assert reset.returncode == 0, err.decode()
            assert b"one-time password" in out and b"warning" not in err
            assert await _until(me_refused, timeout=2.0), "the server still honours the session after the reset"
    finally:
        _stop(proc)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_disabling_a_student_on_one_process_refuses_their_autosave_on_the_other_at_once(services, tmp_path):
    """The access page on process A; the student's session cached by process B's autosave fast path."""
    from tests.factories import make_user

    world = await make_world(services, students=1, question_count=2)
    await make_user(services, "sys1", Role.SYSADMIN)
    env = _env(services, tmp_path)
    env["EXAM_SESSION_CACHE_S"] = "600"
    ports = [_free_port(), _free_port()]
    procs = [_serve(port, env, tmp_path / f"server-{port}.log") for port in ports]
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        for port in ports:
            await _healthy(port)
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as student,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as admin,
        ):
            async with student.post(f"{b}/api/v1/auth/login", json={"login": "student1", "password": PASSWORD}) as r:
                csrf = (await r.json())["csrf_token"]
            headers = {"X-CSRF-Token": csrf}
            async with student.post(f"{b}/api/v1/exams/{world.exam_id}/start", json={}, headers=headers) as r:
                assert r.status == 200, await r.text()
                attempt_id = (await r.json())["attempt"]["id"]
            seq = iter(range(1, 1000))

            def saves(status: int):  # type: ignore[no-untyped-def]
                async def check() -> bool:
                    url = f"{b}/api/v1/attempts/{attempt_id}/answers/1"
                    async with student.put(url, json={"choice": 0, "seq": next(seq)}, headers=headers) as r:
                        return r.status == status

                return check

            assert await saves(200)()  # B's fast path resolved and cached the session
            async with admin.post(f"{a}/api/v1/auth/login", json={"login": "sys1", "password": PASSWORD}) as r:
                admin_csrf = (await r.json())["csrf_token"]
            form = {"_csrf": admin_csrf, "login": "student1", "active": "0", "reason": "Шығарылды"}
            async with admin.post(f"{a}/admin/access", data=form) as r:
                assert r.status == 200, await r.text()
            assert await _until(saves(401), timeout=2.0), "process B still takes the disabled student's answers"
    finally:
        for proc in procs:
            _stop(proc)


def _info(th: str, user_id: int) -> SessionInfo:
    from datetime import datetime

    return SessionInfo(
        actor=Actor(user_id=user_id, login=f"u{user_id}", role=Role.STUDENT),
        csrf_token="c",
        token_hash=th,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_lost_subscription_clears_the_cache_and_shortens_it_until_it_is_back(services):
    import redis.asyncio as redis

    url, prefix = services.settings.redis_url, services.settings.redis_prefix
    here, there = SessionCache(ttl_s=600, unsynced_ttl_s=5), SessionCache(ttl_s=600, unsynced_ttl_s=5)
    bus_here = SessionBus(url, prefix, here, retry_s=0.2)
    bus_there = SessionBus(url, prefix, there, retry_s=0.2)
    bus_here.start()
    bus_there.start()
    admin = redis.Redis.from_url(url)
    try:
        assert await _until(_true(lambda: here.synced and there.synced))
        there.put(_info("t1", 1))
        there.put(_info("t2", 2))
        here.evict_user(1)  # a password changed in the other process
        assert await _until(_true(lambda: there.get("t1") is None), timeout=2.0)
        assert there.get("t2") is not None

        # Redis drops the subscriber's connection: announcements may be missed from now on.
        assert await admin.client_kill_filter(_type="pubsub") >= 2
        assert await _until(_true(lambda: not there.synced or there.get("t2") is None), timeout=5.0)
        assert there.get("t2") is None  # cleared: nothing cached before the loss is trusted
        assert await _until(_true(lambda: there.synced), timeout=10.0)  # back, with the long TTL again
        there.put(_info("t4", 4))
        assert there.get("t4") is not None
        here.evict("t4")  # a sign-out after the reconnection arrives as before
        assert await _until(_true(lambda: there.get("t4") is None), timeout=2.0)
    finally:
        await bus_here.close()
        await bus_there.close()
        await admin.aclose()


def _true(check):  # type: ignore[no-untyped-def]
    async def predicate() -> bool:
        return bool(check())

    return predicate
