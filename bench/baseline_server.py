"""The baselines: bare aiohttp endpoints doing the least that stores the data durably.

* ``PUT /save/{attempt}/{pos}``: one raw psycopg UPSERT — no session, no deadline check, no
  idempotency rule beyond the upsert, no receipt: the cheapest way to store an answer.
* ``POST /frame/{attempt}/{seq}`` (with a FRAME_DIR): the request body written to a file and
  fsynced — no session, no encryption, no hash chain, no database row, no queue.

The real endpoints are measured against them.
Run: python bench/baseline_server.py DATABASE_URL PORT [FRAME_DIR]
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import psycopg
from aiohttp import web

POOL_SIZE = 10
UPSERT = (
    "INSERT INTO bench_answers (attempt_id, position, choice, seq) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (attempt_id, position) DO UPDATE SET choice = excluded.choice, seq = excluded.seq"
)


def _write_durably(path: str, blob: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, blob)
        os.fsync(fd)
    finally:
        os.close(fd)


async def main(url: str, port: int, frame_dir: str | None = None) -> None:
    setup = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await setup.execute(
        "CREATE TABLE IF NOT EXISTS bench_answers (attempt_id uuid, position smallint, "
        "choice smallint, seq bigint, PRIMARY KEY (attempt_id, position))"
    )
    await setup.close()
    pool: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
    for _ in range(POOL_SIZE):
        pool.put_nowait(await psycopg.AsyncConnection.connect(url, autocommit=True))

    async def save(request: web.Request) -> web.Response:
        body = await request.json()
        conn = await pool.get()
        try:
            await conn.execute(
                UPSERT,
                (uuid.UUID(request.match_info["attempt"]), int(request.match_info["pos"]), body["choice"], body["seq"]),
            )
        finally:
            pool.put_nowait(conn)
        return web.json_response({"ok": True})

    async def frame(request: web.Request) -> web.Response:
        blob = await request.read()
        name = f"{uuid.UUID(request.match_info['attempt'])}-{int(request.match_info['seq'])}.jpg"
        await asyncio.to_thread(_write_durably, os.path.join(frame_dir or ".", name), blob)
        return web.json_response({"ok": True})

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"ready": True})

    app = web.Application()
    app.router.add_put("/save/{attempt}/{pos}", save)
    app.router.add_get("/readyz", ready)
    if frame_dir:
        app.router.add_post("/frame/{attempt}/{seq}", frame)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))
