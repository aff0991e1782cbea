"""What a recording chunk upload costs the server, next to a webcam frame (issue 21).

Run: ``.venv/bin/python bench/bench_recording_upload.py [--rounds 5] [--uploads 20] [--kbps 250] [--chunk-s 5]``

One proctored attempt on a scratch PostgreSQL database (Redis for the quota counters), the real
application in-process (aiohttp test server and client share one event loop, so the figures
include the client's side too). Each round uploads ``--uploads`` chunks of the size the bit rate
gives one chunk (random bytes after a WebM header: the server does not decode video), then as many
640×480 webcam frames (JPEG, ~50 kB: the server checks and decodes each). Rounds alternate and the
medians of the per-round medians are printed, milliseconds per upload from request to receipt.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import REDIS_URL, SECRET, machine, scratch_database  # noqa: E402


async def run(args: argparse.Namespace, url: str) -> None:
    from exam_engine.bootstrap import build_services
    from exam_engine.clock import FakeClock
    from exam_engine.config import load_settings
    from exam_engine.migrate import upgrade
    from tests.integration.proctor_world import BASE, frame_person, proctored_attempt

    data_dir = tempfile.mkdtemp(prefix="bench-rec-")
    os.environ["EXAM_RECORDING_KBPS"] = str(args.kbps)
    os.environ["EXAM_RECORDING_CHUNK_S"] = str(args.chunk_s)
    settings = load_settings(
        {
            "EXAM_DATABASE_URL": "postgresql+psycopg://" + url.split("://", 1)[1],
            "EXAM_DATA_DIR": data_dir,
            "EXAM_SECRET_KEY": SECRET,
            "EXAM_REDIS_URL": REDIS_URL,
            "EXAM_REDIS_PREFIX": f"bench{os.getpid()}:",
            "EXAM_NETWORK_GRACE_S": "1",
        }
    )
    clock = FakeClock()
    services = build_services(settings, clock=clock)
    await upgrade(services.engine)
    world = await proctored_attempt(services)
    status, seg = await world.student.call("POST", f"{BASE}/attempts/{world.attempt_id}/recording", json={})
    assert status == 200, seg
    size = int(args.kbps * 1000 / 8 * args.chunk_s)
    header = b"\x1a\x45\xdf\xa3" + b"\x00" * 28
    frame = frame_person(1)
    chunk_no, frame_no = 0, 0
    chunk_rounds, frame_rounds = [], []
    try:
        for _ in range(args.rounds):
            times = []
            for _ in range(args.uploads):
                chunk_no += 1
                body = (header if chunk_no == 1 else b"") + os.urandom(size)
                clock.advance(1)
                start = time.perf_counter()
                status, receipt = await world.student.call(
                    "POST",
                    f"{BASE}/attempts/{world.attempt_id}/recording/1?seq={chunk_no}&offset_ms=0"
                    f"&duration_ms={int(args.chunk_s * 1000)}",
                    data=body,
                )
                times.append((time.perf_counter() - start) * 1000)
                assert status == 200, receipt
            chunk_rounds.append(statistics.median(times))
            times = []
            for _ in range(args.uploads):
                frame_no += 1
                clock.advance(1)
                start = time.perf_counter()
                status, receipt = await world.upload("frames", frame, seq=frame_no)
                times.append((time.perf_counter() - start) * 1000)
                assert status == 200, receipt
            frame_rounds.append(statistics.median(times))
    finally:
        await world.close()
        await services.close()
    print(machine())
    print(
        f"chunk {size / 1024:.0f} KiB ({args.kbps} kbit/s × {args.chunk_s} s): per-round medians "
        f"{[round(x, 1) for x in chunk_rounds]} ms → median {statistics.median(chunk_rounds):.1f} ms per chunk"
    )
    print(
        f"frame {len(frame) / 1024:.0f} KiB JPEG: per-round medians {[round(x, 1) for x in frame_rounds]} ms "
        f"→ median {statistics.median(frame_rounds):.1f} ms per frame"
    )
    print(f"ratio chunk/frame: {statistics.median(chunk_rounds) / statistics.median(frame_rounds):.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--uploads", type=int, default=20)
    p.add_argument("--kbps", type=int, default=250)
    p.add_argument("--chunk-s", type=float, default=5.0)
    args = p.parse_args()
    with scratch_database() as url:
        asyncio.run(run(args, url))


if __name__ == "__main__":
    main()
