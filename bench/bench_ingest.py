"""Frames end to end: ingestion (encrypted and stored) and analysis lag through the Redis workers.

Run: ``.venv/bin/python bench/bench_ingest.py [--students 200] [--seconds 20] [--rate 40] [--workers 2]
[--server-workers 2]``

The real server (PostgreSQL, Redis) and ``exam-engine proctor-worker`` processes, with a
load generator in its own process uploading 640×480 webcam JPEGs as the exam page does:

0. **baseline**, in the same run: the same uploads to a bare aiohttp endpoint that writes the
   body to a file and fsyncs it (``baseline_server.py``), nothing else;
1. **ingestion**: uploads as fast as the server takes them (64 connections), no worker
   running — each acknowledged frame is encrypted, written and chained before the reply
   (printed with its ratio to the baseline);
2. **drain**: then the workers start and analyse that backlog — analysed frames per second
   end to end (read, decrypt, analyse, store findings) on this machine's cores;
3. **lag**: uploads at a fixed rate while the workers run; the lag of a frame is from its
   acknowledgement to its findings being stored (polled every 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import (  # noqa: E402
    ROOT,
    Stats,
    free_port,
    in_process,
    machine,
    run_async,
    scratch_database,
    seed,
    server,
    server_env,
    timed,
    wait_healthy,
)

BASE = "/api/v1/proctor"


def _frames(count: int) -> list[bytes]:
    from bench_frames import webcam_frames

    return webcam_frames(count)[0]


def sign_in_and_consent(url: str, port: int, exam_id: int, logins: list[str]) -> list[tuple[str, str, str]]:
    """(cookie, csrf, attempt id) of each student, signed in, started and consenting.

    The seeded exam is made proctored after the starts: consent to a non-proctored exam is refused
    (409 ``exam_not_proctored``), and a proctored start needs an assigned proctor and an admission,
    which these benchmarks are not about."""
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
                    f"{base}{BASE}/attempts/{st.attempt_id}/consent",
                    headers=load.headers(st),
                    json={"consent": True, "camera": True, "microphone": True},
                ) as r:
                    if r.status != 200:
                        raise SystemExit(f"consent refused: {r.status} {await r.text()}")
        return [(s.cookie, s.csrf, s.attempt_id) for s in students]

    return run_async(go)


def upload(
    port: int,
    students: list[tuple[str, str, str]],
    first_seq: int,
    seconds: float,
    rate: float | None,
    baseline: bool = False,
) -> Stats:
    """Closed loop (``rate=None``) or open loop at ``rate`` frames/s; ``extra['acked']``: (attempt, seq, time).

    ``baseline``: to ``baseline_server.py``'s frame endpoint (the body written and fsynced, nothing else).
    """
    import aiohttp

    frames = _frames(24)

    async def go() -> Stats:
        stats = Stats()
        acked: list[tuple[str, int, float]] = []
        seqs = {aid: first_seq for _, _, aid in students}
        deadline = time.perf_counter() + seconds
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:

            async def one(i: int) -> None:
                cookie, csrf, aid = students[i % len(students)]
                seq = seqs[aid]
                seqs[aid] += 1
                if baseline:
                    request = http.post(
                        f"http://127.0.0.1:{port}/frame/{aid}/{seq}",
                        data=frames[i % len(frames)],
                        headers={"Content-Type": "image/jpeg"},
                    )
                else:
                    request = http.post(
                        f"http://127.0.0.1:{port}{BASE}/attempts/{aid}/frames?seq={seq}&trigger=interval",
                        data=frames[i % len(frames)],
                        headers={
                            "Cookie": f"exam_session={cookie}",
                            "X-CSRF-Token": csrf,
                            "Content-Type": "image/jpeg",
                        },
                    )
                if await timed(stats, request):
                    acked.append((aid, seq, time.time()))

            t_start = time.perf_counter()
            if rate is None:
                counter = iter(range(10**9))

                async def worker() -> None:
                    while time.perf_counter() < deadline:
                        await one(next(counter))

                await asyncio.gather(*(worker() for _ in range(64)))
            else:
                tasks = []
                for i in range(int(seconds * rate)):
                    delay = t_start + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one(i)))
                await asyncio.gather(*tasks)
            stats.wall_s = time.perf_counter() - t_start
        stats.extra["acked"] = acked
        stats.extra["next_seq"] = max(seqs.values())
        return stats

    return run_async(go)


class Poller:
    """When frames are first seen analysed, on one connection, reading only what changed.

    Every 100 ms: the frames stored since the last poll, and which of the frames not yet
    seen analysed still are not. Ids are handed out before commit, so a frame can appear
    below the highest id already read: the last 256 ids are read again. Reading the whole
    table each time on a new connection (as this bench first did) cost the cores it
    measures.
    """

    def __init__(self, url: str) -> None:
        import psycopg

        self._conn = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
        self._last_id = 0
        self._known: set[int] = set()
        self._pending: dict[int, tuple[str, int]] = {}
        self.seen: dict[tuple[str, int], float] = {}

    def close(self) -> None:
        self._conn.close()

    def poll(self) -> None:
        now = time.time()
        rows = self._conn.execute(
            "SELECT id, attempt_id::text, client_seq, analysed FROM evidence_items WHERE kind = 'frame' AND id > %s",
            (self._last_id - 256,),
        ).fetchall()
        for item_id, attempt, seq, analysed in rows:
            if item_id in self._known:
                continue
            self._known.add(item_id)
            self._last_id = max(self._last_id, item_id)
            if analysed:
                self.seen.setdefault((attempt, seq), now)
            else:
                self._pending[item_id] = (attempt, seq)
        if not self._pending:
            return
        waiting = {
            item_id
            for (item_id,) in self._conn.execute(
                "SELECT id FROM evidence_items WHERE kind = 'frame' AND NOT analysed AND id <= %s", (self._last_id,)
            ).fetchall()
        }
        for item_id in [i for i in self._pending if i not in waiting]:
            self.seen.setdefault(self._pending.pop(item_id), now)

    def wait(self, wanted: set[tuple[str, int]], timeout_s: float) -> dict[tuple[str, int], float]:
        """Polls until every wanted frame was seen analysed (or the time is up)."""
        deadline = time.monotonic() + timeout_s
        while not wanted <= self.seen.keys() and time.monotonic() < deadline:
            self.poll()
            time.sleep(0.1)
        return {k: self.seen[k] for k in wanted if k in self.seen}


def upload_while_polling(
    poller: Poller, port: int, students: list[tuple[str, str, str]], first_seq: int, seconds: float, rate: float
) -> tuple[Stats, dict[tuple[str, int], float]]:
    """The open-loop upload in its own process while this one polls for analysed frames."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(1) as pool:
        pending = pool.apply_async(upload, (port, students, first_seq, seconds, rate))
        while not pending.ready():
            poller.poll()
            time.sleep(0.1)
        stats = pending.get()
    acked = {(a, s) for a, s, _ in stats.extra["acked"]}
    return stats, poller.wait(acked, 120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=200)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rate", type=float, default=40, help="frames/s offered in the lag run")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="proctor-worker processes")
    p.add_argument("--concurrency", type=int, default=2, help="jobs in flight in each worker")
    p.add_argument("--server-workers", type=int, default=1, help="server processes (serve --workers)")
    args = p.parse_args()
    print(f"machine: {machine()}")
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = run_async(seed, url, data, students=args.students)
        env = server_env(url, data)
        with server(url, data, workers=args.server_workers) as (port, _):
            students = sign_in_and_consent(url, port, world.exam_id, world.logins)
            (data / "baseline-frames").mkdir()
            base_port = free_port()
            baseline_proc = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).with_name("baseline_server.py")),
                    url,
                    str(base_port),
                    str(data / "baseline-frames"),
                ]
            )
            try:
                wait_healthy(base_port, baseline_proc)
                baseline = in_process(upload, base_port, students, 1, min(args.seconds, 10), None, True)
            finally:
                baseline_proc.terminate()
                baseline_proc.wait()
            ingest = in_process(upload, port, students, 1, min(args.seconds, 10), None)
            backlog = {(a, s) for a, s, _ in ingest.extra["acked"]}
            workers = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "exam_engine.cli",
                        "proctor-worker",
                        "--name",
                        f"bench-{i}",
                        "--concurrency",
                        str(args.concurrency),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(data / f"worker-{i}.log", "ab"),
                )
                for i in range(args.workers)
            ]
            poller = Poller(url)
            try:
                t0 = time.time()
                drained = poller.wait(backlog, 600)
                drain_s = (max(drained.values()) - t0) if drained else float("nan")
                lag_run, seen = upload_while_polling(
                    poller, port, students, ingest.extra["next_seq"] + 1, args.seconds, args.rate
                )
                acked = {(a, s): t for a, s, t in lag_run.extra["acked"]}
            finally:
                poller.close()
                for w in workers:
                    w.terminate()
                for w in workers:
                    w.wait(timeout=30)
    lags = Stats(latencies_ms=[(seen[k] - acked[k]) * 1000 for k in seen], wall_s=lag_run.wall_s)
    print(f"\n{len(students)} students, 640x480 webcam JPEGs (~{len(_frames(1)[0]) // 1024} KB)")
    print(baseline.line("baseline: body written + fsync only"))
    print(ingest.line("ingestion, closed loop (no analysis)"))
    ratio = (ingest.ok / ingest.wall_s) / (baseline.ok / baseline.wall_s)
    print(f"ingestion / baseline throughput: {ratio:.2f} (encrypted, chained, recorded and queued vs written)")
    print(
        f"drain: {len(drained)}/{len(backlog)} frames analysed by {args.workers} proctor-worker process(es) in "
        f"{drain_s:.1f} s = {len(drained) / drain_s:.1f} analysed frames/s end to end (target ≥ 100 on 2 cores)"
    )
    print(lag_run.line(f"uploads at {args.rate:.0f}/s with analysis"))
    print(lags.line("analysis lag (ack → findings)"))
    missing = len(acked) - len(seen)
    print(f"analysis lag p99 {lags.pct(99) / 1000:.2f} s (target < 2 s); not analysed within 120 s: {missing}")


if __name__ == "__main__":
    main()
