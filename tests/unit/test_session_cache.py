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


def test_a_cached_session_is_forgotten_within_the_ttl_and_expiries_are_spread():
    tick = Tick()
    cache = SessionCache(ttl_s=5, monotonic=tick)
    for n in range(200):  # a hall signing in together
        cache.put(_info(f"s{n}", n))
    tick.t += 2.49
    assert all(cache.get(f"s{n}") is not None for n in range(200))
    tick.t += 1.26  # 3.75 s: between half and the whole TTL some are gone, not all
    alive = sum(cache.get(f"s{n}") is not None for n in range(200))
    assert 20 < alive < 180
    tick.t += 1.26  # past the TTL: none survives
    assert all(cache.get(f"s{n}") is None for n in range(200))


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
