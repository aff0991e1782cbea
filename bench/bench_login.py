"""Login storm: N students sign in within T seconds.

Run: ``.venv/bin/python bench/bench_login.py [--students 2000] [--within 30]``

Password hashing (Argon2id, m=19 MiB, t=2) is deliberately expensive and runs in threads,
never on the event loop: the event-loop lag printed here is what every other request (an
autosave during the storm) would wait at most. The baseline measured in the same run is one
Argon2 verification on this machine, which bounds sign-ins per second to about cores / time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import (  # noqa: E402
    Stats,
    add_server_env_option,
    histogram_quantile,
    in_process,
    machine,
    run_async,
    scratch_database,
    seed,
    server,
    server_env_option,
)


def storm(port: int, logins: list[str], within: float) -> Stats:
    import asyncio

    import aiohttp

    from harness import PASSWORD, timed

    async def go() -> Stats:
        stats = Stats()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024)) as http:

            async def one(i: int, login: str) -> None:
                await asyncio.sleep(within * i / len(logins))
                await timed(
                    stats,
                    http.post(
                        f"http://127.0.0.1:{port}/api/v1/auth/login", json={"login": login, "password": PASSWORD}
                    ),
                )

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i, login) for i, login in enumerate(logins)))
            stats.wall_s = time.perf_counter() - t0
        return stats

    return run_async(go)


def argon2_verify_ms() -> float:
    from exam_engine.security.passwords import hash_password, verify_password

    stored = hash_password("a long enough passphrase")
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        verify_password(stored, "a long enough passphrase")
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=2000)
    p.add_argument("--within", type=float, default=30.0)
    p.add_argument("--workers", type=int, default=1)
    add_server_env_option(p)
    args = p.parse_args()
    print(f"machine: {machine()}")
    verify_ms = argon2_verify_ms()
    capacity = (os.cpu_count() or 1) * 1000 / verify_ms
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = run_async(seed, url, data, students=args.students)
        with server(url, data, workers=args.workers, **server_env_option(args)) as (port, _):
            stats = in_process(storm, port, world.logins, args.within)
            lag99 = histogram_quantile(port, "exam_event_loop_lag_seconds", 0.99)
            lag_max = histogram_quantile(port, "exam_event_loop_lag_seconds", 1.0)
    rate = stats.ok / stats.wall_s if stats.wall_s else 0.0
    print(
        f"\nbaseline: one Argon2id verification {verify_ms:.1f} ms → at most ~{capacity:.0f} sign-ins/s "
        f"on {os.cpu_count()} cores"
    )
    print(
        f"{args.students} students within {args.within:.0f} s ({args.students / args.within:.0f}/s offered), "
        f"{args.workers} worker(s) {' '.join(args.server_env)}:"
    )
    print(stats.line("sign-in"))
    print(
        f"achieved {rate:.0f}/s = {rate / capacity:.0%} of the hashing bound; event-loop lag p99 ≤ "
        f"{lag99 * 1000:.0f} ms, max ≤ {lag_max * 1000:.0f} ms (hashing is off the loop)"
    )


if __name__ == "__main__":
    main()
