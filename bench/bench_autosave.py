"""Autosave throughput and latency: the real endpoint against a bare one-UPSERT baseline.

Run: ``.venv/bin/python bench/bench_autosave.py [--students 200] [--seconds 15] [--concurrency 64]``

Both servers run as separate processes against the same PostgreSQL (synchronous_commit on:
every acknowledged answer is durable); the load generator is a third process. Prints closed-loop
throughput for both and the ratio (target: the real endpoint ≥ 50 % of the baseline), then an
open-loop run at a fixed rate (target: p99 < 50 ms at 1,000 saves/s).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402
from harness import Stats, free_port, in_process, machine, run_async, scratch_database, seed, server  # noqa: E402


def real_load(port: int, exam_id: int, logins: list[str], concurrency: int, seconds: float,
              rate: float) -> tuple[Stats, Stats]:
    """Sign in, start, then a closed-loop run and an open-loop run at ``rate`` with the same sessions.

    (An open attempt is bound to the session that started it: the second run must reuse the
    sessions, not sign in again.)
    """
    import load

    async def go() -> tuple[Stats, Stats]:
        base = f"http://127.0.0.1:{port}"
        students = await load.login_all(base, logins, 16)
        await load.start_all(base, exam_id, students, 16)
        students = [s for s in students if s.attempt_id]
        if not students:
            raise SystemExit("no attempt could be started: see the server's log")
        url = lambda st, pos: f"{base}/api/v1/attempts/{st.attempt_id}/answers/{pos}"  # noqa: E731
        closed = await load.save_loop(url, students, concurrency=concurrency, duration_s=seconds, rate=None,
                                      max_requests=int(seconds * 20000))
        await asyncio.sleep(0.5)
        opened = await load.save_loop(url, students, concurrency=concurrency, duration_s=seconds, rate=rate,
                                      max_requests=int(seconds * 20000))
        return closed, opened

    return run_async(go)


def baseline_load(port: int, count: int, concurrency: int, seconds: float, rate: float | None) -> Stats:
    import uuid

    import load

    students = [load.Student(f"b{i}", attempt_id=str(uuid.uuid4()), positions=20) for i in range(count)]
    url = lambda st, pos: f"http://127.0.0.1:{port}/save/{st.attempt_id}/{pos}"  # noqa: E731
    return run_async(lambda: load.save_loop(url, students, concurrency=concurrency, duration_s=seconds, rate=rate,
                                            max_requests=int(seconds * 20000), cookie_headers=False))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=200)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--workers", type=int, default=1)
    harness.add_server_env_option(p)
    args = p.parse_args()
    extra_env = harness.server_env_option(args)
    print(f"machine: {machine()}")
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = run_async(seed, url, data, students=args.students)
        base_port = free_port()
        baseline = subprocess.Popen([sys.executable, str(Path(__file__).with_name("baseline_server.py")),
                                     url, str(base_port)])
        try:
            harness.wait_healthy(base_port, baseline)
            b_closed = in_process(baseline_load, base_port, args.students, args.concurrency, args.seconds, None)
            b_open = in_process(baseline_load, base_port, args.students, args.concurrency, args.seconds, args.rate)
        finally:
            baseline.terminate()
            baseline.wait()
        with server(url, data, workers=args.workers, **extra_env) as (port, _):
            r_closed, r_open = in_process(real_load, port, world.exam_id, world.logins, args.concurrency,
                                          args.seconds, args.rate)
    print(f"\nclosed loop, {args.concurrency} connections, {args.seconds:.0f} s each, {args.workers} worker(s)"
          f"{', ' + ' '.join(args.server_env) if args.server_env else ''}:")
    print(b_closed.line("baseline (1 raw UPSERT)"))
    print(r_closed.line("real endpoint"))
    ratio = (r_closed.ok / r_closed.wall_s) / (b_closed.ok / b_closed.wall_s)
    print(f"ratio real/baseline throughput: {ratio:.2f}  (target ≥ 0.50)")
    print(f"\nopen loop at {args.rate:.0f} saves/s:")
    print(b_open.line("baseline (1 raw UPSERT)"))
    print(r_open.line("real endpoint"))
    print(f"real endpoint p99 at {args.rate:.0f}/s: {r_open.pct(99):.1f} ms  (target < 50 ms)")


if __name__ == "__main__":
    main()
