"""What the autosave's group statement costs PostgreSQL per save, by plan mode and group size.

Run: ``.venv/bin/python bench/bench_autosave_statement.py [--students 200] [--runs 600]``

One connection runs the group statement of ``exam_engine/services/fast_save.py`` (prepared,
autocommit) over the attempts of a seeded exam, for groups of 1, 6 and 60 saves, with every
group planned anew (``force_custom_plan``, the fast path until 2026-12-07) and with one generic
plan (``force_generic_plan``, the fast path since), then the bare one-UPSERT baseline of
``bench_autosave.py``. It prints the PostgreSQL backend's CPU per saved row (from /proc; the
server and the client are not counted) and the wall time per row. ``synchronous_commit`` is off
for this connection only, so the figures are the statement's CPU, not the disk's flush: the
real path commits with it on. (issue 24; the figures are in docs/performance.md)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_autosave import cpu_seconds, real_setup  # noqa: E402

import harness  # noqa: E402
from harness import in_process, machine, run_async, scratch_database, seed, server  # noqa: E402

BASELINE_UPSERT = (
    "INSERT INTO bench_answers (attempt_id, position, choice, seq) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (attempt_id, position) DO UPDATE SET choice = excluded.choice, seq = excluded.seq"
)


async def measure(conninfo: str, runs: int) -> None:
    import psycopg

    from exam_engine.services import fast_save as fs

    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    cur = await conn.execute(
        "SELECT a.id, a.student_id, l.bound_session FROM attempts a "
        "JOIN attempt_live l ON l.attempt_id = a.id WHERE a.status = 'in_progress'"
    )
    attempts = await cur.fetchall()
    await conn.close()

    async def backend(**options: Any) -> tuple[Any, int]:
        """A connection with ``synchronous_commit`` off (the statement's CPU, not the flush) and its backend's pid."""
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True, **options)
        await conn.execute("SET synchronous_commit = off")
        return conn, (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]

    seq = 10**9

    def params(size: int, i: int) -> dict[str, str]:
        nonlocal seq
        seq += 1
        group = attempts[(i * size) % (len(attempts) - size) :][:size]
        now = datetime.now(UTC)
        return {
            "attempt_id": fs._array(str(a[0]) for a in group),
            "student_id": fs._array(str(a[1]) for a in group),
            "position": fs._array("1" for _ in group),
            "choice": fs._array("0" for _ in group),
            "seq": fs._array(str(seq) for _ in group),
            "now": fs._array(now.isoformat() for _ in group),
            "cutoff": fs._array((now - timedelta(seconds=30)).isoformat() for _ in group),
            "session": fs._array(fs._quoted(a[2]) for a in group),
            "in_progress": "in_progress",
        }

    print(f"{len(attempts)} attempts; {runs} groups per line; PostgreSQL backend CPU and wall time per saved row")
    for mode in ("force_custom_plan", "force_generic_plan"):
        # A connection of its own per mode, set up as the fast path's (autocommit, prepared at once).
        conn, pid = await backend(prepare_threshold=0, options=f"-c plan_cache_mode={mode}")
        for size in (1, 6, 60):
            for i in range(20):  # warm-up: prepared, caches filled
                await conn.execute(fs._SAVE_GROUP, params(size, i))
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            for i in range(runs):
                await conn.execute(fs._SAVE_GROUP, params(size, i))
            rows = runs * size
            print(
                f"group statement, {mode:18s} group of {size:3d}: CPU {(cpu_seconds(pid) - cpu0) * 1e6 / rows:6.0f} µs/row"
                f"   wall {(time.perf_counter() - t0) * 1e6 / rows:6.0f} µs/row"
            )
        await conn.close()
    conn, pid = await backend()
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_answers (attempt_id uuid, position smallint, "
        "choice smallint, seq bigint, PRIMARY KEY (attempt_id, position))"
    )
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    for i in range(runs):
        await conn.execute(BASELINE_UPSERT, (uuid.uuid4(), 1, 0, i))
    print(
        f"baseline: one UPSERT per save (not prepared, as bench_autosave's baseline): CPU "
        f"{(cpu_seconds(pid) - cpu0) * 1e6 / runs:6.0f} µs/row   wall {(time.perf_counter() - t0) * 1e6 / runs:6.0f} µs/row"
    )
    await conn.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=200)
    p.add_argument("--runs", type=int, default=600)
    args = p.parse_args()
    print(f"machine: {machine()}")
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        world = run_async(seed, url, data, students=args.students)
        with server(url, data) as (port, _proc):  # the attempts are started through the real endpoint
            sessions = run_async(harness.make_sessions, url, data, world.logins)
            in_process(real_setup, port, world.exam_id, sessions)
        from exam_engine.services.fast_save import conninfo_of

        asyncio.run(measure(conninfo_of(url), args.runs))


if __name__ == "__main__":
    main()
