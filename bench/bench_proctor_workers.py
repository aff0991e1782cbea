"""Analysis capacity through the real queue: 1 against 2 ``proctor-worker`` processes, alternating.

Run: ``.venv/bin/python bench/bench_proctor_workers.py [--students 24] [--seconds 6] [--rounds 4]``

The real server (PostgreSQL, Redis) takes webcam frames from students of a proctored exam (640×480
JPEGs, encrypted, stored, chained) until there is a backlog, as in ``bench_ingest.py``. Then, in
each round, with 1 or 2 ``exam-engine proctor-worker`` processes (alternating 1, 2, 2, 1, …):

1. the workers are started and left to load their models (idle on ``XREADGROUP``);
2. every frame of the backlog is marked unanalysed again and its findings removed (its
   ``received_at`` set to now, so the workers' rescue of old unanalysed items does not take them
   outside the queue);
3. a job per frame is ``XADD``\\ ed to the stream in one pipeline (time 0), and the frames are
   polled until all are analysed: analysed frames per second = frames / time of the last one.

Each worker reads, decrypts, analyses (the schedule of ``ProctorSettings``: the full pass on every
``thorough_every_n_frames``-th frame of an attempt), stores the findings and acknowledges, as in
production. The students have no enrolment photo, so no identity frames run (their cost is in
``bench_proctor_cpu.py``'s server mix). The stream has its own Redis prefix, so other runs on the
same Redis do not take its jobs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_ingest import Poller, upload  # noqa: E402

from harness import (  # noqa: E402
    REDIS_URL,
    ROOT,
    machine,
    run_async,
    scratch_database,
    seed,
    server,
    server_env,
)


def sign_in_start_and_consent(url: str, port: int, exam_id: int, logins: list[str]) -> list[tuple[str, str, str]]:
    """As ``bench_ingest.sign_in_and_consent``, with the exam made proctored after the starts (a
    proctored start needs an assigned proctor and an admission, which this bench is not about)."""
    import aiohttp
    import load
    import psycopg

    async def go() -> list[tuple[str, str, str]]:
        base = f"http://127.0.0.1:{port}"
        students = await load.login_all(base, logins, 16)
        await load.start_all(base, exam_id, students, 16)
        students = [s for s in students if s.attempt_id]
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("UPDATE exams SET requires_proctoring = true WHERE id = %s", (exam_id,))
        async with aiohttp.ClientSession() as http:
            for st in students:
                async with http.post(
                    f"{base}/api/v1/proctor/attempts/{st.attempt_id}/consent",
                    headers=load.headers(st),
                    json={"consent": True, "camera": True, "microphone": True},
                ) as r:
                    if r.status != 200:
                        raise SystemExit(f"consent refused: {r.status} {await r.text()}")
        return [(s.cookie, s.csrf, s.attempt_id) for s in students]

    return run_async(go)


def start_workers(
    count: int, env: dict[str, str], logs: Path, concurrency: int, names: list[str]
) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exam_engine.cli",
                "proctor-worker",
                "--name",
                names[i],
                "--concurrency",
                str(concurrency),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(logs / f"worker-{i}.log", "ab"),
        )
        for i in range(count)
    ]


def wait_ready(names: list[str], logs: Path, timeout_s: float = 180) -> None:
    """Until every worker logged that it reads the stream: its models are loaded by then. (A worker
    blocked on an empty stream is not yet listed as a consumer, so the group cannot tell.)"""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = "".join((logs / f"worker-{i}.log").read_text(errors="replace") for i in range(len(names)))
        if all(f"proctor worker {name} reading" in text for name in names):
            return
        time.sleep(0.2)
    tails = [(logs / f"worker-{i}.log").read_text(errors="replace")[-800:] for i in range(len(names))]
    raise SystemExit("the workers did not start:\n" + "\n".join(tails))


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        w.terminate()
    for w in workers:
        w.wait(timeout=30)


def requeue(url: str, stream: str, backlog: list[tuple[str, int]]) -> float:
    """Mark the backlog unanalysed, drop its findings, XADD a job per frame; the time of the XADD."""
    import psycopg
    import redis

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DELETE FROM proctor_signals WHERE source = 'frame'")
        conn.execute("DELETE FROM proctor_flags")
        conn.execute("UPDATE proctor_attempts SET frames_analysed = 0")
        conn.execute("UPDATE evidence_items SET analysed = false, received_at = now() WHERE kind = 'frame'")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        pipe = client.pipeline(transaction=False)
        for attempt, seq in backlog:
            pipe.xadd(stream, {"attempt_id": attempt, "seq": str(seq)})
        t0 = time.time()
        pipe.execute()
        return t0
    finally:
        client.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=24)
    p.add_argument("--seconds", type=float, default=6, help="closed-loop upload time that makes the backlog")
    p.add_argument("--max-frames", type=int, default=600, help="frames of the backlog used in each round")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=2, help="jobs in flight in each worker")
    args = p.parse_args()
    prefix = f"benchw{os.getpid()}:"
    stream = f"{prefix}proctor:jobs"
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} (shared with other runs)", flush=True)
    rates: dict[int, list[float]] = {1: [], 2: []}
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = run_async(seed, url, data, students=args.students)
        env = server_env(url, data, EXAM_REDIS_PREFIX=prefix, EXAM_LOG_LEVEL="INFO")
        with server(url, data, EXAM_REDIS_PREFIX=prefix) as (port, _):
            students = sign_in_start_and_consent(url, port, world.exam_id, world.logins)
            ingest = upload(port, students, 1, args.seconds, None)
        backlog = sorted({(a, s) for a, s, _ in ingest.extra["acked"]}, key=lambda k: (k[1], k[0]))[: args.max_frames]
        per_student = len(backlog) / max(1, len({a for a, _ in backlog}))
        print(
            f"backlog: {len(backlog)} frames of {len({a for a, _ in backlog})} attempts "
            f"(~{per_student:.0f} frames each, 640x480 JPEG), server stopped before the rounds"
        )
        order = [1, 2, 2, 1] * (args.rounds // 4 + 1)
        for r, count in enumerate(order[: args.rounds]):
            logs = data / f"round-{r}"
            logs.mkdir()
            names = [f"bench-r{r}-{i}" for i in range(count)]
            workers = start_workers(count, env, logs, args.concurrency, names)
            try:
                wait_ready(names, logs)
                if r == 0:  # the jobs the server queued while uploading: let them drain first
                    first = Poller(url)
                    first.wait(set(backlog), 600)
                    first.close()
                t0 = requeue(url, stream, backlog)
                poller = Poller(url)
                try:
                    seen = poller.wait(set(backlog), 600)
                finally:
                    poller.close()
            finally:
                stop(workers)
            if len(seen) < len(backlog):
                raise SystemExit(f"round {r + 1}: only {len(seen)}/{len(backlog)} frames analysed")
            rate = len(seen) / (max(seen.values()) - t0)
            rates[count].append(rate)
            print(
                f"round {r + 1}: {count} worker(s): {len(seen)} frames in {max(seen.values()) - t0:.1f} s = "
                f"{rate:.1f} analysed frames/s",
                flush=True,
            )
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.delete(stream)
        client.close()
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    ratios = [b / a for a, b in zip(rates[1], rates[2], strict=True)]
    print(
        f"median: 1 worker {one:.1f} frames/s, 2 workers {two:.1f} frames/s; 2/1 = {two / one:.2f} "
        f"(pairs: {', '.join(f'{x:.2f}' for x in ratios)}); PostgreSQL, Redis and the poller share the 2 cores"
    )


if __name__ == "__main__":
    main()
