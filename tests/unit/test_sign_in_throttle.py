"""The sign-in throttle's delays and the client address behind trusted proxies (pure parts, fake time)."""

from __future__ import annotations

import ipaddress

import pytest

from exam_engine.config import load_settings
from exam_engine.errors import TooManyRequests
from exam_engine.kv import MemoryKV
from exam_engine.services.auth import LoginThrottle, throttle_delay
from exam_engine.web.http import forwarded_client

NGINX = (ipaddress.ip_network("10.0.0.5/32"), ipaddress.ip_network("192.168.10.0/24"))


class Tick:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def wait_of(throttle: LoginThrottle, login: str, ip: str) -> int:
    """The Retry-After the next attempt would get (0: it goes through)."""
    try:
        await throttle.check(login, ip)
    except TooManyRequests as refused:
        return refused.retry_after
    return 0


def test_the_trusted_proxies_are_parsed_as_networks(tmp_path):
    s = load_settings(
        {
            "EXAM_DATA_DIR": str(tmp_path),
            "EXAM_SECRET_KEY": "k" * 40,
            "EXAM_TRUSTED_PROXIES": "10.0.0.5, 192.168.10.0/24 ::1",
        }
    )
    assert s.trusted_proxies == (
        ipaddress.ip_network("10.0.0.5/32"),
        ipaddress.ip_network("192.168.10.0/24"),
        ipaddress.ip_network("::1/128"),
    )


@pytest.mark.parametrize(
    "peer,header,client",
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not a proxy of ours: its header is the client's own words
        ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),  # the client wrote "1.2.3.4" itself
        ("10.0.0.5", ["1.2.3.4", "198.51.100.1, 192.168.10.7"], "198.51.100.1"),  # two proxies of ours, two headers
        ("10.0.0.5", [], "10.0.0.5"),
        ("10.0.0.5", ["garbage, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.5", ["198.51.100.1, garbage"], "10.0.0.5"),  # the proxy's own hop is unreadable: stop at the proxy
        ("10.0.0.5", ["[2001:db8::7]:51000"], "2001:db8::7"),
        ("::ffff:10.0.0.5", ["198.51.100.1:443"], "198.51.100.1"),
    ],
)
def test_the_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy(peer, header, client):
    assert forwarded_client(peer, header, NGINX) == client


def test_without_trusted_proxies_the_header_is_never_read():
    assert forwarded_client("10.0.0.5", ["198.51.100.1"], ()) == "10.0.0.5"


def test_the_delays_double_and_stop_at_their_cap():
    delays = [throttle_delay(n, free=5, first_s=15, cap_s=900) for n in range(1, 13)]
    assert delays == [0, 0, 0, 0, 15, 30, 60, 120, 240, 480, 900, 900]
    assert throttle_delay(10**6, free=20, first_s=0.5, cap_s=10, step=5) == 10


async def test_one_person_failing_from_one_client_waits_longer_each_time():
    tick = Tick()
    throttle = LoginThrottle(MemoryKV(tick))
    await throttle.succeeded("aigerim", "198.51.100.8")  # her own laptop, used last week
    waits = []
    for _ in range(14):
        wait = await wait_of(throttle, "aigerim", "198.51.100.7")
        tick.t += wait  # the guesser waits exactly as long as told, then fails again
        await throttle.failed("aigerim", "198.51.100.7")
        waits.append(wait)
    # Past the hour the counts are remembered for: they slide with each failure and never reset.
    assert waits == [0, 0, 0, 0, 0, 15, 30, 60, 120, 240, 480, 900, 900, 900] and sum(waits) > 3600
    assert await wait_of(throttle, "aigerim", "198.51.100.8") == 0  # her own laptop: not held at all
    assert 0 < await wait_of(throttle, "aigerim", "198.51.100.9") <= 5  # a new computer: seconds


async def test_a_client_spraying_many_logins_slows_down_while_its_neighbours_wait_seconds():
    tick = Tick()
    throttle = LoginThrottle(MemoryKV(tick))
    waits = []
    for n in range(60):
        wait = await wait_of(throttle, f"student{n}", "203.0.113.66")
        tick.t += wait
        await throttle.failed(f"student{n}", "203.0.113.66")
        waits.append(wait)
    assert waits[:20] == [0] * 20 and waits[-1] == 10 and waits == sorted(waits)
    # A classmate behind the same address with the right password waits at most the cap, once.
    assert 0 < await wait_of(throttle, "classmate", "203.0.113.66") <= 10
    assert await wait_of(throttle, "classmate", "198.51.100.1") == 0


async def test_after_a_hundred_consecutive_failures_only_known_computers_are_heard():
    tick = Tick()
    throttle = LoginThrottle(MemoryKV(tick))
    await throttle.succeeded("aigerim", "198.51.100.7")  # her computer is known from last week
    for n in range(100):  # a botnet: every address new, each one under every per-client bound
        ip = f"203.0.{n // 250}.{n % 250}"
        tick.t += await wait_of(throttle, "aigerim", ip)  # at most the short account wait (5 s)
        await throttle.failed("aigerim", ip)
    assert await wait_of(throttle, "aigerim", "198.51.100.99") >= 3600  # NIST: no 101st guess from a stranger
    assert await wait_of(throttle, "aigerim", "198.51.100.7") == 0  # her own computer still signs in
    await throttle.succeeded("aigerim", "198.51.100.7")
    assert await wait_of(throttle, "aigerim", "198.51.100.99") == 0  # and a correct sign-in starts afresh


async def test_other_clients_failures_hold_a_stranger_for_seconds_only():
    tick = Tick()
    throttle = LoginThrottle(MemoryKV(tick))
    longest = 0
    for n in range(99):
        ip = f"203.0.{n // 250}.{n % 250}"
        await throttle.failed("aigerim", ip)
        longest = max(longest, await wait_of(throttle, "aigerim", "198.51.100.99"))
    assert 0 < longest <= 5


async def test_concurrent_sign_ins_of_one_account_take_places_before_the_password_is_checked():
    import asyncio

    throttle = LoginThrottle(MemoryKV(Tick()))
    waits = await asyncio.gather(*(wait_of(throttle, "looper", "198.51.100.7") for _ in range(30)))
    assert waits.count(0) == 10 and all(0 < w <= 60 for w in waits if w)
    await throttle.failed("looper", "198.51.100.7")  # one of the ten had the wrong password: its place is free
    assert await wait_of(throttle, "looper", "198.51.100.7") == 0
    assert await wait_of(throttle, "looper", "198.51.100.7") > 0
