"""Load-generator coroutines, run in a separate process by the benchmarks (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from harness import PASSWORD, Stats


@dataclass
class Student:
    login: str
    cookie: str = ""
    csrf: str = ""
    attempt_id: str = ""
    positions: int = 0
    seq: int = 0


def _session_cookie(resp: aiohttp.ClientResponse) -> str:
    morsel = resp.cookies.get("exam_session")
    return morsel.value if morsel else ""


async def login_all(base: str, logins: list[str], concurrency: int, stats: Stats | None = None) -> list[Student]:
    students = [Student(login) for login in logins]
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def one(st: Student) -> None:
            async with sem:
                t0 = time.perf_counter()
                try:
                    async with http.post(
                        f"{base}/api/v1/auth/login", json={"login": st.login, "password": PASSWORD}
                    ) as r:
                        body = await r.json()
                        if r.status != 200:
                            if stats:
                                stats.error(f"login {r.status}")
                            return
                        st.cookie, st.csrf = _session_cookie(r), body["csrf_token"]
                except aiohttp.ClientError as e:
                    if stats:
                        stats.error(type(e).__name__)
                    return
                if stats:
                    stats.latencies_ms.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(s) for s in students))
        if stats:
            stats.wall_s = time.perf_counter() - t0
    return [s for s in students if s.cookie]


def headers(st: Student) -> dict[str, str]:
    return {"Cookie": f"exam_session={st.cookie}", "X-CSRF-Token": st.csrf}


async def start_all(
    base: str,
    exam_id: int,
    students: list[Student],
    concurrency: int,
    stats: Stats | None = None,
    spread_s: float = 0.0,
) -> None:
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def one(i: int, st: Student) -> None:
            if spread_s:
                await asyncio.sleep(spread_s * i / max(1, len(students)))
            async with sem:
                t0 = time.perf_counter()
                try:
                    async with http.post(f"{base}/api/v1/exams/{exam_id}/start", json={}, headers=headers(st)) as r:
                        body = await r.json()
                        if r.status != 200:
                            if stats:
                                stats.error(f"start {r.status} {body.get('error', {}).get('code')}")
                            return
                except aiohttp.ClientError as e:
                    if stats:
                        stats.error(type(e).__name__)
                    return
                st.attempt_id = body["attempt"]["id"]
                st.positions = len(body["questions"])
                if stats:
                    stats.latencies_ms.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i, s) for i, s in enumerate(students)))
        if stats:
            stats.wall_s = time.perf_counter() - t0


async def save_loop(
    url_for: Any,
    students: list[Student],
    *,
    concurrency: int,
    duration_s: float,
    rate: float | None,
    max_requests: int,
    cookie_headers: bool = True,
    warmup_s: float = 0.0,
) -> Stats:
    """Closed loop (``rate=None``: as fast as the server answers) or open loop at ``rate`` saves/s.

    Saves sent in the first ``warmup_s`` seconds are not counted (the run is ``duration_s`` longer).
    """
    stats = Stats()
    rng = random.Random(1)
    counted_from = time.perf_counter() + warmup_s
    deadline = counted_from + duration_s
    sent = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def save(st: Student) -> None:
            st.seq += 1
            pos = rng.randint(1, st.positions)
            t0 = time.perf_counter()
            try:
                async with http.put(
                    url_for(st, pos),
                    json={"choice": rng.randint(0, 4), "seq": st.seq},
                    headers=headers(st) if cookie_headers else None,
                ) as r:
                    await r.read()
                    if t0 < counted_from:
                        return
                    if r.status != 200:
                        stats.error(str(r.status))
                        return
            except aiohttp.ClientError as e:
                if t0 >= counted_from:
                    stats.error(type(e).__name__)
                return
            stats.latencies_ms.append((time.perf_counter() - t0) * 1000)

        if warmup_s:
            t_start = counted_from
        else:
            t_start = time.perf_counter()
        if rate is None:

            async def worker(mine: list[Student]) -> None:
                nonlocal sent
                i = 0
                while time.perf_counter() < deadline and sent < max_requests:
                    sent += 1
                    await save(mine[i % len(mine)])
                    i += 1

            slices = [students[i::concurrency] for i in range(concurrency)]
            await asyncio.gather(*(worker(s) for s in slices if s))
        else:
            tasks: set[asyncio.Task[None]] = set()
            interval = 1.0 / rate
            next_at = time.perf_counter()
            i = 0
            while time.perf_counter() < deadline and sent < max_requests:
                now = time.perf_counter()
                if now < next_at:
                    await asyncio.sleep(next_at - now)
                next_at += interval
                st = students[i % len(students)]
                i += 1
                sent += 1
                t = asyncio.create_task(save(st))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
        stats.wall_s = time.perf_counter() - t_start
    stats.extra["sent"] = sent  # the warm-up's saves included (for the server's CPU per save)
    return stats
