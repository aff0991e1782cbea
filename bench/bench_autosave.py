"""Autosave throughput and latency: the real endpoint against a bare one-UPSERT baseline.

Run: ``.venv/bin/python bench/bench_autosave.py [--students 1000] [--seconds 15] [--rounds 3] [--rates 1000 2000]``

Each student saves at random positions in turn (at 1,000 saves/s, 1,000 students each save
once a second — most saves then find their session still cached; a student saving every 10 s
would not); every run starts with 2 s that are not counted. Baseline and real endpoint take
turns, round after round, and the medians of the rounds are printed.

Both servers run as separate processes against the same PostgreSQL (synchronous_commit on:
every acknowledged answer is durable); the load generator is a third process, which writes its
requests on keep-alive connections itself (``load.RawPool``: aiohttp's client cost 2.5–3× more of
the 2 shared cores than the saves it sent) and, in the open loop, counts each save's latency from
the moment it was due. Each round is a
closed-loop run of each (throughput; the ratio's target, issue 24: the real endpoint ≥ 1.0× the
baseline, median of the rounds), then an open-loop run of each at every ``--rates`` rate
(targets: p99 < 50 ms at 1,000 saves/s in every round; 0 errors and p99 < 100 ms at 2,000/s).
The load average before and after is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402

WARMUP_S = 2.0  # each run's first seconds are not counted (connections opening, caches filling)

from harness import Stats, free_port, in_process, machine, run_async, scratch_database, seed, server  # noqa: E402


def real_setup(port: int, exam_id: int, sessions: list[tuple[str, str, str]]) -> list:
    """Start once with sessions made in the database; every run reuses them (an attempt is bound
    to the session that started it). The login storm is measured by bench_login.py."""
    import load

    async def go() -> list:
        base = f"http://127.0.0.1:{port}"
        students = [load.Student(login, cookie=token, csrf=csrf) for login, token, csrf in sessions]
        await load.start_all(base, exam_id, students, 16)
        students = [s for s in students if s.attempt_id]
        if not students:
            raise SystemExit("no attempt could be started: see the server's log")
        return students

    return run_async(go)


def real_load(port: int, students: list, concurrency: int, seconds: float, rate: float | None, run: int) -> Stats:
    import load

    path = lambda st, pos: f"/api/v1/attempts/{st.attempt_id}/answers/{pos}"  # noqa: E731
    # Each run in its own process: its sequence numbers start above every earlier run's (a lower
    # one would be a replay, answered without storing).
    for st in students:
        st.seq = run * 10**7
    return run_async(
        lambda: load.save_loop(
            port,
            path,
            students,
            concurrency=concurrency,
            duration_s=seconds,
            rate=rate,
            max_requests=int((seconds + WARMUP_S) * 20000),
            warmup_s=WARMUP_S,
        )
    )


def baseline_load(port: int, count: int, concurrency: int, seconds: float, rate: float | None) -> Stats:
    import uuid

    import load

    students = [load.Student(f"b{i}", attempt_id=str(uuid.uuid4()), positions=20) for i in range(count)]
    path = lambda st, pos: f"/save/{st.attempt_id}/{pos}"  # noqa: E731
    return run_async(
        lambda: load.save_loop(
            port,
            path,
            students,
            concurrency=concurrency,
            duration_s=seconds,
            rate=rate,
            max_requests=int((seconds + WARMUP_S) * 20000),
            cookie_headers=False,
            warmup_s=WARMUP_S,
        )
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def measured(pid: int, run: Callable[..., Stats], *args: Any) -> Stats:
    """``run(*args)``, with the CPU the server ``pid`` spent per save sent (warm-up included) in extra["cpu_us"]."""
    before = cpu_seconds(pid)
    stats = run(*args)
    stats.extra["cpu_us"] = (cpu_seconds(pid) - before) * 1e6 / max(1, stats.extra.get("sent", 0))
    return stats


def load_average() -> str:
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rates", type=float, nargs="+", default=[1000, 2000], help="open-loop rates, saves/s")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3, help="alternating baseline/real closed-loop runs")
    harness.add_server_env_option(p)
    args = p.parse_args()
    extra_env = harness.server_env_option(args)
    print(f"machine: {machine()}")
    print(f"before: {load_average()}")
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = run_async(seed, url, data, students=args.students)
        base_port = free_port()
        baseline = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("baseline_server.py")), url, str(base_port)]
        )
        try:
            harness.wait_healthy(base_port, baseline)
            with server(url, data, workers=args.workers, **extra_env) as (port, proc):
                sessions = run_async(harness.make_sessions, url, data, world.logins)
                students = in_process(real_setup, port, world.exam_id, sessions)
                # Baseline and real endpoint take turns, so that the machine's drift hits both alike.
                rounds: list[tuple[Stats, Stats]] = []
                opens: dict[float, list[tuple[Stats, Stats]]] = {rate: [] for rate in args.rates}
                run = 0
                for _ in range(args.rounds):
                    run += 1
                    closed = (args.concurrency, args.seconds, None)
                    b = measured(baseline.pid, in_process, baseline_load, base_port, args.students, *closed)
                    r = measured(proc.pid, in_process, real_load, port, students, *closed, run)
                    rounds.append((b, r))
                    for rate in args.rates:
                        run += 1
                        b = in_process(baseline_load, base_port, args.students, args.concurrency, args.seconds, rate)
                        r = in_process(real_load, port, students, args.concurrency, args.seconds, rate, run)
                        opens[rate].append((b, r))
                lag99 = harness.histogram_quantile(port, "exam_event_loop_lag_seconds", 0.99)
                lag_max = harness.histogram_quantile(port, "exam_event_loop_lag_seconds", 1.0)
                groups = harness.metric_value(port, "exam_autosave_group_size_count")
                grouped = harness.metric_value(port, "exam_autosave_group_size_sum")
        finally:
            baseline.terminate()
            baseline.wait()
    print(f"after: {load_average()}")
    print(
        f"\nclosed loop, {args.concurrency} connections, {args.seconds:.0f} s each, {args.rounds} alternating rounds, "
        f"{args.workers} worker(s){', ' + ' '.join(args.server_env) if args.server_env else ''}:"
    )
    ratios, cpu = [], []
    for i, (b, r) in enumerate(rounds, 1):
        print(b.line(f"round {i}: baseline (1 raw UPSERT)") + f"  server CPU {b.extra['cpu_us']:.0f} µs/save")
        print(r.line(f"round {i}: real endpoint") + f"  server CPU {r.extra['cpu_us']:.0f} µs/save")
        ratios.append((r.ok / r.wall_s) / (b.ok / b.wall_s))
        cpu.append(r.extra["cpu_us"] / b.extra["cpu_us"])
    print(
        f"ratio real/baseline throughput per round: {', '.join(f'{x:.2f}' for x in ratios)}; "
        f"median {statistics.median(ratios):.2f}  (target ≥ 1.00)"
    )
    print(
        f"server process CPU per save, real/baseline per round: {', '.join(f'{x:.2f}' for x in cpu)}; "
        f"median {statistics.median(cpu):.2f}  (one process each; PostgreSQL and the load generator not counted)"
    )
    targets = {1000: "p99 < 50 ms in every round", 2000: "0 errors, p99 < 100 ms"}
    for rate, pairs in opens.items():
        print(f"\nopen loop at {rate:.0f} saves/s, after each closed-loop round:")
        for i, (b, r) in enumerate(pairs, 1):
            print(b.line(f"round {i}: baseline (1 raw UPSERT)"))
            print(r.line(f"round {i}: real endpoint"))
        p99s = [r.pct(99) for _, r in pairs]
        errors = sum(sum(r.errors.values()) for _, r in pairs)
        print(
            f"real endpoint at {rate:.0f}/s: p99 per round {', '.join(f'{x:.1f}' for x in p99s)} ms, max "
            f"{max(p99s):.1f} ms, {errors} errors  (target: {targets.get(int(rate), 'none')}); baseline p99 "
            f"median {statistics.median(b.pct(99) for b, _ in pairs):.1f} ms"
        )
    print(
        f"\ngroup commit: {int(grouped)} saves in {int(groups)} groups over the whole run "
        f"(mean {grouped / groups if groups else float('nan'):.1f} saves per commit)"
    )
    print(f"server event-loop lag over the whole run: p99 ≤ {lag99 * 1000:.0f} ms, max ≤ {lag_max * 1000:.0f} ms")


if __name__ == "__main__":
    main()
