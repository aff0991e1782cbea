"""What the assignment check costs a proctor's request: ``authorize`` on PostgreSQL vs a bare ``SELECT 1``.

    .venv/bin/python bench/bench_authorize.py [--n 2000]

Creates a throw-away database (``EXAM_TEST_PG_URL``, default postgresql://root@127.0.0.1:5432/test),
one exam with one attempt and its assigned proctor, then times N checks of each kind and N bare
round trips on one connection, and prints the medians. Dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
from sqlalchemy import text

from exam_engine.db import create_engine
from exam_engine.domain.actors import Actor
from exam_engine.domain.roles import Permission, Role
from exam_engine.migrate import upgrade
from exam_engine.services import authority
from exam_engine.tables import attempts, disciplines, exam_proctors, exam_sessions, exams, users

ADMIN_URL = os.environ.get("EXAM_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/test")


async def main(n: int) -> None:
    name = f"exam_bench_auth_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = "postgresql+psycopg://" + ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            uid = (
                await conn.execute(
                    users.insert()
                    .values(
                        login="p", full_name="P", role="proctor", password_hash="x", created_at=now, created_by="bench"
                    )
                    .returning(users.c.id)
                )
            ).scalar_one()
            sid = (
                await conn.execute(
                    users.insert()
                    .values(
                        login="s", full_name="S", role="student", password_hash="x", created_at=now, created_by="bench"
                    )
                    .returning(users.c.id)
                )
            ).scalar_one()
            did = (
                await conn.execute(disciplines.insert().values(code="D", name="D").returning(disciplines.c.id))
            ).scalar_one()
            esid = (
                await conn.execute(
                    exam_sessions.insert()
                    .values(code="S", name="S", starts_on=date.today(), ends_on=date.today())
                    .returning(exam_sessions.c.id)
                )
            ).scalar_one()
            eid = (
                await conn.execute(
                    exams.insert()
                    .values(
                        title="E",
                        discipline_id=did,
                        exam_session_id=esid,
                        question_count=1,
                        duration_s=60,
                        opens_at=now,
                        closes_at=now + timedelta(hours=1),
                        timeout_policy="unsatisfactory",
                        pass_score=50,
                        created_at=now,
                    )
                    .returning(exams.c.id)
                )
            ).scalar_one()
            aid = uuid.uuid4()
            await conn.execute(
                attempts.insert().values(
                    id=aid,
                    exam_id=eid,
                    student_id=sid,
                    discipline_id=did,
                    exam_session_id=esid,
                    language="kk",
                    status="in_progress",
                    started_at=now,
                    deadline_at=now + timedelta(minutes=1),
                    question_count=1,
                    timeout_policy="unsatisfactory",
                    pass_score=50,
                )
            )
            await conn.execute(
                exam_proctors.insert().values(exam_id=eid, proctor_id=uid, assigned_at=now, assigned_by="bench")
            )
        actor = Actor(user_id=uid, login="p", role=Role.PROCTOR)
        results: dict[str, list[float]] = {"SELECT 1": [], "authorize(exam)": [], "authorize(attempt)": []}
        async with engine.connect() as conn:
            for _ in range(n):
                t = time.perf_counter()
                await conn.execute(text("SELECT 1"))
                results["SELECT 1"].append(time.perf_counter() - t)
                t = time.perf_counter()
                await authority.authorize(conn, actor, Permission.LIVE_CONTROL, authority.exam(eid))
                results["authorize(exam)"].append(time.perf_counter() - t)
                t = time.perf_counter()
                await authority.authorize(conn, actor, Permission.LIVE_CONTROL, authority.attempt(aid))
                results["authorize(attempt)"].append(time.perf_counter() - t)
        for label, values in results.items():
            print(
                f"{label:<20} median {statistics.median(values) * 1e6:7.0f} µs   p95 "
                f"{statistics.quantiles(values, n=20)[-1] * 1e6:7.0f} µs   (n={n})"
            )
    finally:
        await engine.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}"')


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    asyncio.run(main(parser.parse_args().n))
