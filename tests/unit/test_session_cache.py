"""The per-process session cache never outlives its bound, and evictions are immediate."""

from __future__ import annotations

from datetime import datetime, timezone

from exam_engine.domain.actors import Actor
from exam_engine.domain.roles import Role
from exam_engine.services.auth import SessionCache, SessionInfo


class Tick:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _info(th: str, user_id: int) -> SessionInfo:
    return SessionInfo(actor=Actor(user_id=user_id, login=f"u{user_id}", role=Role.STUDENT), csrf_token="c",
                       token_hash=th, expires_at=datetime(2030, 1, 1, tzinfo=timezone.utc))


def test_a_cached_session_is_forgotten_after_the_ttl():
    tick = Tick()
    cache = SessionCache(ttl_s=5, monotonic=tick)
    cache.put(_info("a", 1))
    tick.t += 4.9
    assert cache.get("a") is not None
    tick.t += 0.2
    assert cache.get("a") is None


def test_sign_out_and_password_change_evict_at_once():
    cache = SessionCache(ttl_s=5, monotonic=Tick())
    cache.put(_info("a", 1))
    cache.put(_info("b", 1))
    cache.put(_info("c", 2))
    cache.evict("c")
    assert cache.get("c") is None
    cache.evict_user(1)
    assert cache.get("a") is None and cache.get("b") is None


def test_a_zero_ttl_disables_the_cache():
    cache = SessionCache(ttl_s=0, monotonic=Tick())
    cache.put(_info("a", 1))
    assert cache.get("a") is None
