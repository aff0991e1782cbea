"""The per-process session cache never outlives its bound, and evictions are immediate and announced."""

from __future__ import annotations

from datetime import UTC, datetime

from exam_engine.domain.actors import Actor
from exam_engine.domain.roles import Role
from exam_engine.services.auth import SessionCache, SessionInfo


class Tick:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _info(th: str, user_id: int) -> SessionInfo:
    return SessionInfo(
        actor=Actor(user_id=user_id, login=f"u{user_id}", role=Role.STUDENT),
        csrf_token="c",
        token_hash=th,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )


def test_a_cached_session_is_forgotten_within_the_ttl_and_expiries_are_spread():
    tick = Tick()
    cache = SessionCache(ttl_s=5, monotonic=tick)
    cache.set_synced(True)
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


def test_without_the_revocation_bus_a_session_is_kept_for_the_short_bound_only():
    tick = Tick()
    cache = SessionCache(ttl_s=60, unsynced_ttl_s=5, monotonic=tick)
    cache.put(_info("a", 1))
    tick.t += 5.01
    assert cache.get("a") is None
    cache.set_synced(True)
    cache.put(_info("a", 1))
    tick.t += 29.9
    assert cache.get("a") is not None  # half the long TTL at least
    tick.t += 30.2
    assert cache.get("a") is None


def test_losing_or_regaining_the_bus_forgets_everything_cached():
    cache = SessionCache(ttl_s=60, monotonic=Tick())
    cache.set_synced(True)
    cache.put(_info("a", 1))
    cache.set_synced(False)
    assert cache.get("a") is None
    cache.put(_info("b", 2))
    cache.set_synced(True)
    assert cache.get("b") is None


def test_evictions_are_announced_and_announcements_applied():
    here, there = SessionCache(monotonic=Tick()), SessionCache(monotonic=Tick())
    for cache in (here, there):
        cache.set_synced(True)
        cache.put(_info("a", 1))
        cache.put(_info("b", 1))
        cache.put(_info("c", 2))
    sent: list[str] = []
    here.on_evict = sent.append
    here.evict("c")
    here.evict_user(1)
    here.evict_user(None)  # nobody: nothing to announce
    assert sent == ["t:c", "u:1"]
    for message in sent:
        there.forget(message)
    assert [there.get(th) for th in "abc"] == [None, None, None]
    there.forget("u:not-a-number")  # ignored, logged
    there.forget("garbage")


def test_an_evicted_session_is_not_cached_again_by_a_request_that_read_it_before_the_commit():
    tick = Tick()
    cache = SessionCache(ttl_s=60, monotonic=tick, tombstone_s=10)
    cache.set_synced(True)
    cache.forget("t:a")  # signed out (announced before the sign-out's transaction committed)
    cache.forget("u:2")  # the password of user 2 changed
    cache.put(_info("a", 1))  # a request that read the row before the commit
    cache.put(_info("x", 2))
    assert cache.get("a") is None and cache.get("x") is None
    tick.t += 10.01  # long after the commit: a row read now is the committed one
    cache.put(_info("x", 2))
    assert cache.get("x") is not None
