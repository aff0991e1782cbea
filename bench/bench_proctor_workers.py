"""Analysis capacity through the real queue: 1 against 2 ``proctor-worker`` processes, alternating.

Run: ``.venv/bin/python bench/bench_proctor_workers.py [--students 24] [--seconds 6] [--rounds 4] [--pin]``

The real server (PostgreSQL, Redis) takes webcam frames from students of a proctored exam (640×480
JPEGs, encrypted, stored, chained) until there is a backlog, as in ``bench_ingest.py``. One worker
drains the jobs the server queued (a warm-up, not measured). Then, in each round, with 1 or 2
``exam-engine proctor-worker`` processes (alternating 1, 2, 2, 1, …):

1. the workers are started and left to load their models; a worker is ready when it is listed
   as a consumer of the group (``XINFO CONSUMERS``: it registers itself once its models are
   loaded, ``XGROUP CREATECONSUMER``);
2. every frame of the backlog is marked unanalysed again and its findings removed (its
   ``received_at`` set to now; the workers run with ``EXAM_PROCTOR_RESCUE_AFTER_S`` at a day and
   ``EXAM_PROCTOR_CLAIM_IDLE_MS`` at an hour, so neither the rescue of old unanalysed items nor a
   claim takes frames outside the queue during a long drain);
3. a job per frame is ``XADD``\\ ed to the stream in one pipeline (time 0), and the frames are
   polled until all are analysed: analysed frames per second = frames / time of the last one.

On a shared machine the throughput of 2 workers is bounded by the cores they actually receive, so
each round also measures, from ``/proc``, between time 0 and the end of the drain:

* each worker process's CPU time (``utime + stime``: its analysis threads, Redis and SQL) and the
  frames it analysed (from its own count, logged when it stops): CPU ms per frame with 1 and with
  2 workers. If it does not rise with 2 workers (no contention on the queue, locks or the
  database), capacity is linear in the cores given to workers: frames/s = cores × 1000 / CPU ms;
* the cores the workers received (their CPU seconds / wall seconds), PostgreSQL's CPU for them
  (the backends connected to the bench's database, except the poller's), and what the rest of
  the machine used (``/proc/stat``);
* with 2 workers, how many frames each took (the consumer group spreads the jobs).

Each worker reads, decrypts, analyses (the schedule of ``ProctorSettings``: the full pass on every
``thorough_every_n_frames``-th frame of an attempt), stores the findings and acknowledges, as in
production. The students have no enrolment photo, so no identity frames run (their cost is in
``bench_proctor_cpu.py``'s server mix). The stream has its own Redis prefix, so other runs on the
same Redis do not take its jobs. ``--pin`` pins worker *i* to core *i* (``sched_setaffinity``);
the other processes of the machine still run on those cores.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_ingest import Poller, sign_in_and_consent, upload  # noqa: E402

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

TICK = os.sysconf("SC_CLK_TCK")
GROUP = "analysers"  # ProctorConfig.group


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process and all its threads (None: it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores, /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / TICK


def backends_cpu_s(conn: Any, database: str, exclude: set[int]) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database`` (but ``exclude``)."""
    pids = [
        pid
        for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)).fetchall()
        if pid not in exclude
    ]
    return {pid: cpu for pid in pids if (cpu := cpu_s(pid)) is not None}


def start_workers(
    count: int, env: dict[str, str], logs: Path, concurrency: int, names: list[str], pin: bool
) -> list[subprocess.Popen[bytes]]:
    cores = sorted(os.sched_getaffinity(0))
    workers = []
    for i in range(count):
        w = subprocess.Popen(
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
            stderr=open(logs / f"{names[i]}.log", "ab"),
        )
        if pin:  # its threads (analysis, OpenCV, the event loop) start after this: they inherit it
            os.sched_setaffinity(w.pid, {cores[i % len(cores)]})
        workers.append(w)
    return workers


def wait_ready(
    stream: str, names: list[str], workers: list[subprocess.Popen[bytes]], logs: Path, timeout_s: float = 300
) -> None:
    """Until every worker is listed as a consumer of the group: it registers itself after its
    models are loaded, before its first read."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and all(w.poll() is None for w in workers):
            try:
                listed = {c["name"].decode() for c in client.xinfo_consumers(stream, GROUP)}
            except redis.exceptions.ResponseError:  # the stream or the group is not made yet
                listed = set()
            if set(names) <= listed:
                return
            time.sleep(0.2)
    finally:
        client.close()
    tails = [(logs / f"{name}.log").read_text(errors="replace")[-800:] for name in names]
    raise SystemExit("the workers did not start:\n" + "\n".join(tails))


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        w.terminate()
    for w in workers:
        w.wait(timeout=60)


def analysed_by(name: str, logs: Path) -> int:
    """Frames a stopped worker analysed, from the line it logs when it stops."""
    found = re.search(
        rf"proctor worker {re.escape(name)} stopping: \d+ jobs handled, (\d+) frames analysed",
        (logs / f"{name}.log").read_text(errors="replace"),
    )
    if found is None:
        raise SystemExit(f"worker {name} did not log its count when it stopped")
    return int(found.group(1))


@dataclass(frozen=True)
class Frame:
    item_id: int
    attempt: str
    seq: int  # in the attempt's evidence chain: what a job names
    client_seq: int  # the page's frame number: what the poller reports

    @property
    def polled(self) -> tuple[str, int]:
        return self.attempt, self.client_seq


def stored_frames(url: str, limit: int) -> list[Frame]:
    """The first ``limit`` stored frames, by frame number then attempt. (Uploads of one student
    overlap, so a frame's place in the chain is not its frame number.)"""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id, attempt_id::text, seq, client_seq FROM evidence_items WHERE kind = 'frame' "
            "ORDER BY client_seq, attempt_id LIMIT %s",
            (limit,),
        ).fetchall()
    return [Frame(*row) for row in rows]


def reset(url: str, backlog: list[Frame]) -> None:
    """The backlog unanalysed again, received now (not old enough to rescue); all findings gone.
    Other frames stay analysed, so a starting worker finds nothing stale to queue."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DELETE FROM proctor_signals WHERE source = 'frame'")
        conn.execute("DELETE FROM proctor_flags")
        conn.execute("UPDATE proctor_attempts SET frames_analysed = 0")
        conn.execute(
            "UPDATE evidence_items SET analysed = false, received_at = now() WHERE id = ANY(%s)",
            ([f.item_id for f in backlog],),
        )


def enqueue(stream: str, backlog: list[Frame]) -> float:
    """A job per frame in one pipeline; the time it was sent."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        pipe = client.pipeline(transaction=False)
        for frame in backlog:
            pipe.xadd(stream, {"attempt_id": frame.attempt, "seq": str(frame.seq)})
        t0 = time.time()
        pipe.execute()
        return t0
    finally:
        client.close()


@dataclass
class Round:
    workers: int
    frames: int
    wall_s: float
    cpu_s: list[float]  # per worker, time 0 to the end of the drain
    analysed: list[int]  # per worker
    postgres_s: float
    machine_s: float

    @property
    def rate(self) -> float:
        return self.frames / self.wall_s

    @property
    def cpu_ms_per_frame(self) -> float:
        return sum(self.cpu_s) * 1000 / sum(self.analysed)

    @property
    def cores(self) -> float:
        return sum(self.cpu_s) / self.wall_s

    def line(self) -> str:
        each = ", ".join(
            f"{c:.1f} s/{n} frames = {c * 1000 / max(1, n):.0f} ms"
            for c, n in zip(self.cpu_s, self.analysed, strict=True)
        )
        return (
            f"{self.workers} worker(s): {self.frames} frames in {self.wall_s:.1f} s = {self.rate:.1f} frames/s; "
            f"workers' CPU {sum(self.cpu_s):.1f} s ({each}) = {self.cpu_ms_per_frame:.1f} ms/frame; "
            f"workers got {self.cores:.2f} cores, PostgreSQL {self.postgres_s / self.wall_s:.2f} "
            f"({self.postgres_s * 1000 / self.frames:.1f} ms/frame), the whole machine "
            f"{self.machine_s / self.wall_s:.2f} of {os.cpu_count()}"
        )


def measure(
    url: str, database: str, stream: str, backlog: list[Frame], workers: list[subprocess.Popen[bytes]]
) -> tuple[float, float, list[float], float, float]:
    """Time 0 to the last analysed frame: (time 0, wall s, CPU s of each worker, PostgreSQL CPU s,
    the machine's busy CPU s)."""
    import psycopg

    reset(url, backlog)
    poller = Poller(url)
    meta = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
    try:
        exclude = {poller._conn.info.backend_pid, meta.info.backend_pid}
        pg0 = backends_cpu_s(meta, database, exclude)
        cpu0 = [cpu_s(w.pid) or 0.0 for w in workers]
        busy0 = machine_busy_s()
        t0 = enqueue(stream, backlog)
        seen = poller.wait({f.polled for f in backlog}, 900)
        cpu1 = [cpu_s(w.pid) or 0.0 for w in workers]
        busy1 = machine_busy_s()
        pg1 = backends_cpu_s(meta, database, exclude)
    finally:
        meta.close()
        poller.close()
    if len(seen) < len(backlog):
        raise SystemExit(f"only {len(seen)}/{len(backlog)} frames analysed")
    wall = max(seen.values()) - t0
    postgres = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
    return t0, wall, [b - a for a, b in zip(cpu0, cpu1, strict=True)], postgres, busy1 - busy0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=24)
    p.add_argument("--seconds", type=float, default=6, help="closed-loop upload time that makes the backlog")
    p.add_argument("--max-frames", type=int, default=600, help="frames of the backlog used in each round")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=2, help="jobs in flight in each worker")
    p.add_argument("--pin", action="store_true", help="pin worker i to core i (sched_setaffinity)")
    args = p.parse_args()
    prefix = f"benchw{os.getpid()}:"
    stream = f"{prefix}proctor:jobs"
    print(
        f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} (shared with other runs)"
        f"{'; workers pinned to cores 0 and 1' if args.pin else ''}",
        flush=True,
    )
    rounds: list[Round] = []
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        database = url.rsplit("/", 1)[1]
        world = run_async(seed, url, data, students=args.students)
        env = server_env(
            url,
            data,
            EXAM_REDIS_PREFIX=prefix,
            EXAM_LOG_LEVEL="INFO",
            EXAM_PROCTOR_RESCUE_AFTER_S="86400",
            EXAM_PROCTOR_CLAIM_IDLE_MS="3600000",
        )
        with server(url, data, EXAM_REDIS_PREFIX=prefix) as (port, _):
            students = sign_in_and_consent(url, port, world.exam_id, world.logins)
            ingest = upload(port, students, 1, args.seconds, None)
        backlog = stored_frames(url, args.max_frames)
        attempts = len({f.attempt for f in backlog})
        per_student = len(backlog) / max(1, attempts)
        print(
            f"backlog: {len(backlog)} frames of {attempts} attempts "
            f"(~{per_student:.0f} frames each, 640x480 JPEG), server stopped before the rounds",
            flush=True,
        )
        warm = start_workers(1, env, data, args.concurrency, ["bench-warm-up"], args.pin)
        try:  # the jobs the server queued while uploading
            wait_ready(stream, ["bench-warm-up"], warm, data)
            drained = Poller(url)
            drained.wait({(a, s) for a, s, _ in ingest.extra["acked"]}, 900)
            drained.close()
        finally:
            stop(warm)
        order = [1, 2, 2, 1] * (args.rounds // 4 + 1)
        for r, count in enumerate(order[: args.rounds]):
            names = [f"bench-r{r}-{i}" for i in range(count)]
            workers = start_workers(count, env, data, args.concurrency, names, args.pin)
            try:
                wait_ready(stream, names, workers, data)
                _, wall, cpu, postgres, busy = measure(url, database, stream, backlog, workers)
            finally:
                stop(workers)
            rounds.append(Round(count, len(backlog), wall, cpu, [analysed_by(n, data) for n in names], postgres, busy))
            if sum(rounds[-1].analysed) != len(backlog):
                print(f"  note: the workers counted {sum(rounds[-1].analysed)} analysed frames, not {len(backlog)}")
            print(f"round {r + 1}: {rounds[-1].line()}", flush=True)
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.delete(stream)
        client.close()
    summarise(rounds)


def summarise(rounds: list[Round]) -> None:
    by = {n: [r for r in rounds if r.workers == n] for n in (1, 2)}
    if not by[1] or not by[2]:
        return
    med = statistics.median
    rate = {n: med(r.rate for r in by[n]) for n in by}
    ms = {n: med(r.cpu_ms_per_frame for r in by[n]) for n in by}
    cores = {n: med(r.cores for r in by[n]) for n in by}
    pg = {n: med(r.postgres_s * 1000 / r.frames for r in by[n]) for n in by}
    rest = {n: med((r.machine_s - sum(r.cpu_s) - r.postgres_s) / r.wall_s for r in by[n]) for n in by}
    print(f"\nmedians of {len(by[1])} + {len(by[2])} alternating rounds (machine shared with other runs):")
    print(f"throughput: 1 worker {rate[1]:.1f} frames/s, 2 workers {rate[2]:.1f}; 2/1 = {rate[2] / rate[1]:.2f}")
    print(
        f"cores the workers received: 1 worker {cores[1]:.2f}, 2 workers {cores[2]:.2f}; 2/1 = "
        f"{cores[2] / cores[1]:.2f} (the throughput ratio cannot exceed it); the rest of the machine "
        f"(other runs, Redis, the poller) used {rest[1]:.2f} and {rest[2]:.2f} cores"
    )
    print(
        f"CPU per frame in the workers: 1 worker {ms[1]:.1f} ms, 2 workers {ms[2]:.1f} ms; 2/1 = "
        f"{ms[2] / ms[1]:.2f} (1.00: no contention between workers, capacity linear in cores)"
    )
    print(
        f"capacity per core given to workers: {1000 / ms[1]:.1f} frames/s (1 worker), {1000 / ms[2]:.1f} "
        f"(2 workers); PostgreSQL {pg[1]:.1f} and {pg[2]:.1f} ms/frame"
    )
    shares = [f"{min(r.analysed)}/{max(r.analysed)}" for r in by[2]]
    print(f"frames per worker with 2 workers (fewer/more): {', '.join(shares)}")


if __name__ == "__main__":
    main()
