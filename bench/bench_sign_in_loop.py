"""One account signing in in a loop (issue 19: 300 sign-ins in 17 s made 304 sessions and slowed everyone).

300 correct sign-ins of one account, 20 at a time, while other people sign in one after another
(each once, as at an exam's start): how many sessions the loop made and kept, and the others'
median sign-in time before and during it. In-process server (aiohttp test server).

Run: ``.venv/bin/python bench/bench_sign_in_loop.py`` (SQLite, in-process throttle store) or
``.venv/bin/python bench/bench_sign_in_loop.py postgresql://user@host/empty_db`` (with Redis on
redis://127.0.0.1:6379/14).
"""

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from exam_engine.app import build_app
from exam_engine.bootstrap import build_services
from exam_engine.config import load_settings
from exam_engine.domain.roles import Role
from exam_engine.migrate import upgrade
from exam_engine.tables import auth_sessions, users
from tests.factories import PASSWORD, make_user


async def main() -> None:
    tmp = tempfile.mkdtemp()
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tmp}/exam.db"
    env = {"EXAM_DATABASE_URL": url, "EXAM_DATA_DIR": tmp, "EXAM_SECRET_KEY": "k" * 40}
    if url.startswith("postgres"):
        env.update(EXAM_REDIS_URL="redis://127.0.0.1:6379/14", EXAM_REDIS_PREFIX=f"h19b-bench-{time.time_ns()}:")
    services = build_services(load_settings(env))
    await upgrade(services.engine)
    await make_user(services, "looper", Role.STUDENT)
    for n in range(120):
        await make_user(services, f"other{n}", Role.STUDENT)
    others = iter(range(120))
    client = TestClient(TestServer(build_app(services, run_sweeper=False)), cookie_jar=CookieJar(unsafe=True))
    await client.start_server()

    def body(login: str) -> dict[str, str]:
        return {"login": login, "password": PASSWORD}

    async def quiet_sign_in() -> float:
        t = time.perf_counter()
        r = await client.post("/api/v1/auth/login", json=body(f"other{next(others)}"))
        assert r.status == 200, r.status
        return time.perf_counter() - t

    base = [await quiet_sign_in() for _ in range(10)]
    sem = asyncio.Semaphore(20)
    statuses = []

    async def loop_one() -> None:
        async with sem:
            r = await client.post("/api/v1/auth/login", json=body("looper"))
            statuses.append(r.status)

    storm = asyncio.gather(*(loop_one() for _ in range(300)))
    ended: list[float] = []
    storm.add_done_callback(lambda _: ended.append(time.perf_counter()))
    during = []
    t0 = time.perf_counter()
    while not storm.done() or time.perf_counter() - t0 < 5:
        during.append(await quiet_sign_in())
        await asyncio.sleep(0.2)
    await storm
    elapsed = ended[0] - t0
    async with services.engine.connect() as conn:
        uid = (await conn.execute(select(users.c.id).where(users.c.login == "looper"))).scalar_one()
        made = (
            await conn.execute(select(func.count()).select_from(auth_sessions).where(auth_sessions.c.user_id == uid))
        ).scalar_one()
        live = (
            await conn.execute(
                select(func.count())
                .select_from(auth_sessions)
                .where(auth_sessions.c.user_id == uid, auth_sessions.c.revoked_at.is_(None))
            )
        ).scalar_one()
    print(
        f"300 sign-ins answered in {elapsed:.1f}s; statuses={dict((s, statuses.count(s)) for s in set(statuses))} sessions created={made} open={live}"
    )
    print(
        f"other's sign-in median: quiet {statistics.median(base) * 1000:.0f} ms, during the loop and the 5 s from its start {statistics.median(during) * 1000:.0f} ms (n={len(during)})"
    )
    await client.close()


asyncio.run(main())
