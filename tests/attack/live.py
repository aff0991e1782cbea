"""A real exam server on 127.0.0.1 in a background thread, for the attacker's tests.

Schemathesis and ``requests`` are synchronous; the server runs its own event loop
in a thread (the sweeper, relay and audit sealer included), on a fresh PostgreSQL
database of the test session, with a real clock.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from aiohttp import web

from exam_engine.app import build_app
from exam_engine.bootstrap import Services, build_services
from exam_engine.config import load_settings
from tests.conftest import REDIS_PREFIX, _truncate, settings_env
from tests.factories import PASSWORD


@dataclass
class Session:
    """A signed-in browser: its cookie and CSRF header."""

    cookies: dict[str, str]
    headers: dict[str, str]


@dataclass
class LiveServer:
    services: Services
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    port: int = 0
    runner: web.AppRunner | None = None

    def run(self, make: Callable[[], Awaitable[Any]] | Any) -> Any:
        """Run a coroutine (or coroutine factory) on the server's loop and wait for it."""
        coro = make() if callable(make) else make
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    def start(self) -> None:
        threading.Thread(target=self.loop.run_forever, name="live-server", daemon=True).start()

        async def up() -> int:
            await _truncate(self.services)
            self.runner = web.AppRunner(build_app(self.services, run_sweeper=True), access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        self.port = self.run(up)

    def stop(self) -> None:
        if self.runner is not None:
            self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sign_in(self, login: str, password: str = PASSWORD) -> Session:
        resp = requests.post(f"{self.url}/api/v1/auth/login", json={"login": login, "password": password}, timeout=30)
        assert resp.status_code == 200, resp.text
        return Session(dict(resp.cookies), {"X-CSRF-Token": resp.json()["csrf_token"]})


def live_server(pg_url: str, redis_url: str, data_dir: str, **extra_env: str) -> LiveServer:
    # No per-session request budget: a fuzzing run sends thousands of requests a minute from one session,
    # and every operation must reach its handler, not the budget's 429 (tests/unit/test_session_rate.py).
    env = {**settings_env(pg_url, data_dir, redis_url), "EXAM_SESSION_RATE_PER_MIN": "0", **extra_env}
    _forget_counters(redis_url)
    services = build_services(load_settings(env))
    server = LiveServer(services)
    server.start()
    return server


def _forget_counters(redis_url: str) -> None:
    """The tests' Redis keys, cleared as the ``services`` fixture clears them: a live server starts
    with no sign-in counted. Without this, the scenes of one module signed the same students in more
    than ``EXAM_LOGIN_SUCCESSES_PER_MIN`` times a minute, and the next scene's sign-in got 429."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
    try:
        for key in client.scan_iter(match=REDIS_PREFIX + "*", count=1000):
            client.delete(key)
    finally:
        client.close()
