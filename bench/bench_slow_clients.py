"""Slow clients: 200 sockets that send headers and then nothing, while other students sit the exam.

Run: ``.venv/bin/python bench/bench_slow_clients.py [--slow 200] [--hold 60] [--students 40] [--db both]``

Two phases per database, each ``--hold`` seconds long, each with its own fresh students (so a
start is a real start both times): *without* the slow clients, then *with* 200 of them held open
for the whole phase. Every other student signs in (a real Argon2 sign-in), lists their exams,
starts, then autosaves about twice a second and lists their exams again every 5 s. The slow
clients announce a body (``Content-Length``) and never send it: a third are a signed-in student's
exam start (JSON), a third a signed-in student's webcam frame (1.9 MB JPEG announced), a third
anonymous sign-ins; a socket the server closes (its 408 after ``EXAM_BODY_TIMEOUT_S``) is opened
again at once, so 200 stay open throughout. Printed: p50/p99 of sign-in, exam list, start and
autosave in both phases and the ratio of the p99s (target: within 2x).

PostgreSQL (with Redis) and the embedded default (SQLite, no Redis) each run one server process
(``exam-engine serve``); the slow clients and the students are two more processes. On the
shared 2-core machine compare the ratio, not the absolute figures.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import (  # noqa: E402
    PASSWORD,
    Stats,
    in_process,
    machine,
    make_sessions,
    run_async,
    scratch_database,
    seed,
    server,
)

KINDS = ("sign-in", "exam list", "start", "autosave")


def students_load(port: int, exam_id: int, logins: list[str], seconds: float) -> dict[str, Stats]:
    """Each student: sign in, list, start, then save ~2/s and list every 5 s until ``seconds`` pass."""
    import asyncio
    import random

    import aiohttp

    from harness import timed

    base = f"http://127.0.0.1:{port}"

    async def go() -> dict[str, Stats]:
        stats = {k: Stats() for k in KINDS}
        t_end = time.perf_counter() + seconds
        timeout = aiohttp.ClientTimeout(total=120)

        async def student(i: int, login: str) -> None:
            await asyncio.sleep(min(seconds / 3, 10.0) * i / len(logins))  # arrivals over the first third
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as http:
                got: dict[str, object] = {}

                def keep(name: str):  # noqa: ANN202 - a timed() check that keeps the JSON body
                    def ok(r, body: bytes) -> bool:
                        if r.status != 200:
                            return False
                        import json

                        got[name] = json.loads(body)
                        return True

                    return ok

                if not await timed(
                    stats["sign-in"],
                    http.post(f"{base}/api/v1/auth/login", json={"login": login, "password": PASSWORD}),
                    keep("login"),
                ):
                    return
                headers = {"X-CSRF-Token": got["login"]["csrf_token"]}  # type: ignore[index]
                await timed(stats["exam list"], http.get(f"{base}/api/v1/student/exams"))
                if not await timed(
                    stats["start"],
                    http.post(f"{base}/api/v1/exams/{exam_id}/start", json={}, headers=headers),
                    keep("start"),
                ):
                    return
                attempt = got["start"]["attempt"]["id"]  # type: ignore[index]
                seq, last_list = 0, time.perf_counter()
                while time.perf_counter() < t_end:
                    seq += 1
                    await timed(
                        stats["autosave"],
                        http.put(
                            f"{base}/api/v1/attempts/{attempt}/answers/{random.randint(1, 20)}",
                            json={"choice": random.randint(0, 4), "seq": seq},
                            headers=headers,
                        ),
                    )
                    if time.perf_counter() - last_list > 5:
                        last_list = time.perf_counter()
                        await timed(stats["exam list"], http.get(f"{base}/api/v1/student/exams"))
                    await asyncio.sleep(random.uniform(0.3, 0.7))

        t0 = time.perf_counter()
        await asyncio.gather(*(student(i, login) for i, login in enumerate(logins)))
        for s in stats.values():
            s.wall_s = time.perf_counter() - t0
        return stats

    return run_async(go)


def slow_clients(
    port: int,
    exam_id: int,
    sessions: list[tuple[str, str, str]],
    count: int,
    hold_s: float,
    ready: mp.synchronize.Event,
    result: mp.Queue,
) -> None:
    """``count`` sockets that send headers and no body, reopened as soon as the server closes one."""
    import asyncio
    import uuid

    async def one(i: int, counts: dict[str, int], t_end: float) -> None:
        login, token, csrf = sessions[i % len(sessions)]
        while time.perf_counter() < t_end:
            kind = i % 3
            if kind == 0:
                path, length, ctype, auth = f"/api/v1/exams/{exam_id}/start", 200, "application/json", True
            elif kind == 1:
                path, length, ctype, auth = (
                    f"/api/v1/proctor/attempts/{uuid.uuid4()}/frames?seq=1",
                    1_900_000,
                    "image/jpeg",
                    True,
                )
            else:
                path, length, ctype, auth = "/api/v1/auth/login", 80, "application/json", False
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                counts["connect_failed"] += 1
                await asyncio.sleep(0.5)
                continue
            cookie = f"Cookie: exam_session={token}\r\nX-CSRF-Token: {csrf}\r\n" if auth else ""
            writer.write(
                (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}Content-Type: {ctype}\r\n"
                    f"Content-Length: {length}\r\n\r\n"
                ).encode()
            )
            counts["opened"] += 1
            try:
                head = await asyncio.wait_for(reader.read(64), timeout=max(0.1, t_end - time.perf_counter()))
                status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "closed"
                counts[status] = counts.get(status, 0) + 1
            except (TimeoutError, OSError):
                pass
            finally:
                writer.close()

    async def go() -> dict[str, int]:
        counts = {"opened": 0, "connect_failed": 0}
        t_end = time.perf_counter() + hold_s
        tasks = [asyncio.create_task(one(i, counts, t_end)) for i in range(count)]
        await asyncio.sleep(1.0)  # all sockets open and their headers sent
        ready.set()
        await asyncio.gather(*tasks)
        return counts

    result.put(asyncio.run(go()))


def run_backend(name: str, url: str, data: Path, args: argparse.Namespace) -> dict[str, dict[str, Stats]]:
    per_phase = args.students
    world = run_async(seed, url, data, students=2 * per_phase + 20, questions=20)
    free, hostile = world.logins[: 2 * per_phase], world.logins[2 * per_phase :]
    sessions = run_async(make_sessions, url, data, hostile)
    env = {"EXAM_REDIS_URL": ""} if name == "sqlite" else {}
    out: dict[str, dict[str, Stats]] = {}
    with server(url, data, **env) as (port, _):
        out["without"] = in_process(students_load, port, world.exam_id, free[:per_phase], args.hold)
        ctx = mp.get_context("spawn")
        ready, result = ctx.Event(), ctx.Queue()
        slow = ctx.Process(
            target=slow_clients, args=(port, world.exam_id, sessions, args.slow, args.hold + 5, ready, result)
        )
        slow.start()
        ready.wait(30)
        out["with"] = in_process(students_load, port, world.exam_id, free[per_phase:], args.hold)
        counts = result.get(timeout=args.hold + 60)
        slow.join(10)
    print(
        f"\n{name}: {args.slow} slow clients held {args.hold:.0f} s "
        f"(sockets opened {counts['opened']}, answers { ({k: v for k, v in counts.items() if k != 'opened'}) })"
    )
    for phase in ("without", "with"):
        for kind in KINDS:
            print(out[phase][kind].line(f"  {phase:<8} {kind}"))
    for kind in KINDS:
        a, b = out["without"][kind].pct(99), out["with"][kind].pct(99)
        print(f"  p99 {kind:<10} {a:8.1f} ms -> {b:8.1f} ms   ratio {b / a if a else float('nan'):5.2f}x")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slow", type=int, default=200, help="slow clients held open")
    p.add_argument("--hold", type=float, default=60.0, help="seconds each phase lasts (the slow clients' hold)")
    p.add_argument("--students", type=int, default=40, help="other students per phase")
    p.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    args = p.parse_args()
    print(f"machine: {machine()}")
    if args.db in ("postgres", "both"):
        with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
            run_backend("postgres", url, Path(tmp), args)
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run_backend("sqlite", f"sqlite:///{tmp}/exam.db", Path(tmp), args)


if __name__ == "__main__":
    main()
