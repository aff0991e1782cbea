"""Start storm: N signed-in students start the same exam within T seconds.

Run: ``.venv/bin/python bench/bench_start.py [--students 2000] [--within 10]``

Targets (issue: speed and scale): 0 errors, p99 start < 500 ms on a 2-core machine. The
baseline in the same run is the same number of cheap authenticated requests (GET /me) at the
same rate: what the server costs before a start does any work of its own.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import (  # noqa: E402
    Stats,
    histogram_quantile,
    in_process,
    machine,
    make_sessions,
    run_async,
    scratch_database,
    seed,
    server,
    timed,
)


def _started(response: object, body: bytes) -> bool:
    """A start counts when it answered 200 with the attempt in progress."""
    import json

    if getattr(response, "status", None) != 200:
        return False
    try:
        return json.loads(body)["attempt"]["status"] == "in_progress"
    except (ValueError, KeyError, TypeError):
        return False


def storm(port: int, exam_id: int, sessions: list[tuple[str, str, str]], within: float, path: str | None) -> Stats:
    import asyncio
    import time

    import aiohttp

    async def go() -> Stats:
        stats = Stats()
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as http:

            async def one(i: int, login: str, token: str, csrf: str) -> None:
                await asyncio.sleep(within * i / len(sessions))
                headers = {"Cookie": f"exam_session={token}", "X-CSRF-Token": csrf}
                if path is None:
                    await timed(
                        stats, http.post(f"{base}/api/v1/exams/{exam_id}/start", json={}, headers=headers), _started
                    )
                else:
                    await timed(stats, http.get(f"{base}{path}", headers=headers))

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i, *s) for i, s in enumerate(sessions)))
            stats.wall_s = time.perf_counter() - t0
        return stats

    return run_async(go)


async def prepared(url: str, data: Path) -> int:
    from sqlalchemy import func, select

    from exam_engine.bootstrap import build_services
    from exam_engine.config import load_settings
    from exam_engine.exam_day_tables import prepared_forms
    from harness import server_env

    services = build_services(load_settings(server_env(url, data)))
    async with services.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(prepared_forms))).scalar_one()
    await services.close()
    return count


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=2000)
    p.add_argument("--within", type=float, default=10.0)
    p.add_argument("--questions", type=int, default=25)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    print(f"machine: {machine()}")
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = run_async(seed, url, data, students=args.students, questions=args.questions)
        sessions = run_async(make_sessions, url, data, world.logins)
        with server(url, data, workers=args.workers) as (port, _):
            # The lobby: forms are drawn and frozen in the background before the storm (issue: exam day).
            deadline = time.monotonic() + 180
            while run_async(prepared, url, data) < args.students and time.monotonic() < deadline:
                time.sleep(1)
            print(f"forms prepared in advance: {run_async(prepared, url, data)}")
            baseline = in_process(storm, port, world.exam_id, sessions, args.within, "/api/v1/me")
            starts = in_process(storm, port, world.exam_id, sessions, args.within, None)
            lag = histogram_quantile(port, "exam_event_loop_lag_seconds", 0.99)
    print(
        f"\n{args.students} students within {args.within:.0f} s, {args.questions} questions each, "
        f"{args.workers} worker(s):"
    )
    print(baseline.line("baseline (GET /me, same rate)"))
    print(starts.line("start"))
    print(
        f"start p99 / baseline p99: {starts.pct(99) / baseline.pct(99):.1f}×   "
        f"(target: 0 errors, p99 < 500 ms; event-loop lag p99 ≤ {lag * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
