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


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends a request and reads a Content-Length answer.

    The saves' load generator: aiohttp's client cost 420–620 µs of CPU a request on this machine,
    more than the server under test (it shares the 2 cores with the servers and PostgreSQL). This
    costs a few tens of µs, so the cores go to what is measured. Only what the servers here answer
    is read: a status line, headers and a body of Content-Length bytes.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"content-length:")
        if at < 0:
            self.waiter.set_exception(ConnectionError("answer without Content-Length"))
            return
        line_end = head.find(b"\r\n", at)
        length = int(head[at + 15 : line_end if line_end >= 0 else len(head)])
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[9:12])
        del self.buf[: end + 4 + length]
        if b"connection: close" in head:
            self.closed = True
        waiter, self.waiter = self.waiter, None
        waiter.set_result(status)

    async def send(self, request: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


class RawPool:
    """Up to ``size`` connections to 127.0.0.1:``port``; a request waits for an idle one."""

    def __init__(self, port: int, size: int) -> None:
        self.port, self.size, self.opened = port, size, 0
        self.idle: asyncio.Queue[_Conn] = asyncio.Queue()

    async def request(self, request: bytes) -> int:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            try:
                _, conn = await asyncio.get_running_loop().create_connection(_Conn, "127.0.0.1", self.port)
            except OSError:
                self.opened -= 1
                raise
        else:
            conn = await self.idle.get()
        try:
            status = await conn.send(request)
        except BaseException:
            self.opened -= 1
            if conn.transport is not None:
                conn.transport.close()
            raise
        if conn.closed:
            self.opened -= 1
        else:
            self.idle.put_nowait(conn)
        return status

    def close(self) -> None:
        while not self.idle.empty():
            conn = self.idle.get_nowait()
            if conn.transport is not None:
                conn.transport.close()


def put_request(port: int, path: str, body: bytes, extra_headers: str = "") -> bytes:
    return (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra_headers}\r\n"
    ).encode() + body


async def save_loop(
    port: int,
    path_for: Any,
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
    pool = RawPool(port, concurrency)
    cookies = {
        id(st): f"Cookie: exam_session={st.cookie}\r\nX-CSRF-Token: {st.csrf}\r\n" if cookie_headers else ""
        for st in students
    }

    async def save(st: Student, due: float | None = None) -> None:
        st.seq += 1
        pos = rng.randint(1, st.positions)
        body = b'{"choice": %d, "seq": %d}' % (rng.randint(0, 4), st.seq)
        request = put_request(port, path_for(st, pos), body, cookies[id(st)])
        # Open loop: the latency counts from when the save was due, so a late generator is not hidden.
        t0 = time.perf_counter() if due is None else due
        try:
            status = await pool.request(request)
        except (OSError, ValueError) as e:
            if t0 >= counted_from:
                stats.error(type(e).__name__)
            return
        if t0 < counted_from:
            return
        if status != 200:
            stats.error(str(status))
            return
        stats.latencies_ms.append((time.perf_counter() - t0) * 1000)

    t_start = counted_from if warmup_s else time.perf_counter()
    try:
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
            while next_at < deadline and sent < max_requests:
                now = time.perf_counter()
                if now < next_at:
                    # Wake at most once a millisecond and send every save due by then.
                    await asyncio.sleep(max(next_at - now, 0.001))
                    now = time.perf_counter()
                while next_at <= now and next_at < deadline and sent < max_requests:
                    st = students[i % len(students)]
                    i += 1
                    sent += 1
                    t = asyncio.create_task(save(st, next_at))
                    tasks.add(t)
                    t.add_done_callback(tasks.discard)
                    next_at += interval
            if tasks:
                await asyncio.gather(*tasks)
        stats.wall_s = time.perf_counter() - t_start
    finally:
        pool.close()
    stats.extra["sent"] = sent  # the warm-up's saves included (for the server's CPU per save)
    return stats
