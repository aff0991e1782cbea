"""Shared pieces of the benchmarks: a scratch database, seeding, a real server, a load process.

Every benchmark runs the real server (``exam-engine serve``) against PostgreSQL and Redis on
127.0.0.1, and drives it from a separate load-generator process, bounded in requests and time.
Figures are medians and percentiles of one run on a shared 2-core machine: compare ratios
measured in the same run (the baseline), not absolute numbers across machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("EXAM_BENCH_PG_URL", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("EXAM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PASSWORD = "bench password for everyone"
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"


def machine() -> str:
    return f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · {platform.platform()}"


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    import psycopg

    name = f"exam_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_server_env_option(parser: Any) -> None:
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the server under test (repeatable), e.g. EXAM_HASH_THREADS=2",
    )


def server_env_option(args: Any) -> dict[str, str]:
    return dict(item.split("=", 1) for item in args.server_env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_")}
    env.update(
        EXAM_DATABASE_URL=database_url,
        EXAM_REDIS_URL=REDIS_URL,
        EXAM_SECRET_KEY=SECRET,
        EXAM_DATA_DIR=str(data_dir),
        EXAM_LOG_LEVEL="WARNING",
    )
    env.update(extra)  # may replace the defaults above (EXAM_REDIS_URL="" runs the embedded default)
    return env


@dataclass
class World:
    exam_id: int
    logins: list[str]


async def seed(
    database_url: str,
    data_dir: Path,
    *,
    students: int,
    questions: int = 20,
    duration_s: int = 3600,
    opens_in_s: int = -60,
) -> World:
    """Migrate and create one exam for ``students`` students (one shared password hash: seeding
    thousands of Argon2 hashes would measure the seeding, not the server)."""
    from sqlalchemy import insert

    from exam_engine.bootstrap import build_services
    from exam_engine.config import load_settings
    from exam_engine.domain.actors import cli_actor
    from exam_engine.migrate import upgrade
    from exam_engine.security.passwords import hash_password
    from exam_engine.services import catalog
    from exam_engine.tables import group_members, users
    from question_bank import api as bank_api
    from question_bank.model import Item

    services = build_services(load_settings(server_env(database_url, data_dir)))
    actor = cli_actor("bench")
    now = services.clock.now()
    await upgrade(services.engine)
    logins = [f"s{i:05d}" for i in range(students)]
    pw_hash = hash_password(PASSWORD)
    async with services.engine.begin() as conn:
        fac = await catalog.ensure_faculty(conn, actor, code="BF", name="Bench", now=now)
        grp = await catalog.ensure_group(conn, actor, code="BG", faculty_id=fac, now=now)
        await catalog.add_discipline(conn, actor, code="B-101", name="Bench", now=now)
        await catalog.add_exam_session(
            conn, actor, code="BS", name="Bench", starts_on=date(2020, 1, 1), ends_on=date(2040, 1, 1), now=now
        )
        items = tuple(
            Item(text=f"Question {n}", options=tuple(f"option {n}.{k}" for k in range(5)), correct=0)
            for n in range(1, max(questions, 1) * 2 + 1)
        )
        version = await bank_api.add_version(
            conn,
            discipline_code="B-101",
            language="kk",
            items=items,
            source_name="bench",
            created_by="bench",
            now=now,
            publish=True,
        )
        result = await conn.execute(
            insert(users).returning(users.c.id),
            [
                {
                    "login": login,
                    "full_name": f"Student {login}",
                    "role": "student",
                    "password_hash": pw_hash,
                    "language": "kk",
                    "is_active": True,
                    "must_change_password": False,
                    "created_at": now,
                    "created_by": "bench",
                }
                for login in logins
            ],
        )
        ids = [r.id for r in result]
        await conn.execute(insert(group_members), [{"group_id": grp, "student_id": i, "joined_at": now} for i in ids])
        exam_id = await catalog.add_exam(
            conn,
            actor,
            catalog.ExamSpec(
                title="Bench exam",
                discipline_code="B-101",
                session_code="BS",
                group_codes=["BG"],
                bank_versions={"kk": version.id},
                question_count=questions,
                duration_s=duration_s,
                opens_at=now + timedelta(seconds=opens_in_s),
                closes_at=now + timedelta(hours=6),
            ),
            now=now,
        )
    await services.close()
    return World(exam_id=exam_id, logins=logins)


@contextlib.contextmanager
def server(
    database_url: str,
    data_dir: Path,
    *,
    workers: int = 1,
    port: int | None = None,
    args: list[str] | None = None,
    **env: str,
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = port or free_port()
    cmd = [sys.executable, "-m", "exam_engine.cli", "serve", "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    log = open(data_dir / f"server-{port}.log", "ab")
    proc = subprocess.Popen(
        args or cmd,
        cwd=ROOT,
        env=server_env(database_url, data_dir, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_healthy(port, proc)
        yield port, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_healthy(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]

    def line(self, label: str) -> str:
        thr = self.ok / self.wall_s if self.wall_s else 0.0
        med = statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")
        return (
            f"{label:<34} {self.ok:>7} ok  {sum(self.errors.values()):>5} errors  {thr:>8.1f}/s  "
            f"p50 {med:7.1f} ms  p95 {self.pct(95):7.1f} ms  p99 {self.pct(99):7.1f} ms"
            + (f"  {self.errors}" if self.errors else "")
        )


async def timed(stats: Stats, request: Any, ok: Callable[[Any, bytes], bool] | None = None) -> bool:
    """Send one aiohttp request (``http.post(...)``, not yet awaited) and record it in ``stats``:
    its latency when ``ok(response, body)`` (default: status 200), else the status, or the client
    error's name. True when it was ok."""
    import aiohttp

    t0 = time.perf_counter()
    try:
        async with request as r:
            body = await r.read()
            if not (ok(r, body) if ok else r.status == 200):
                stats.error(str(r.status))
                return False
    except aiohttp.ClientError as e:
        stats.error(type(e).__name__)
        return False
    stats.latencies_ms.append((time.perf_counter() - t0) * 1000)
    return True


def in_process(fn: Callable[..., Stats], *args: Any) -> Stats:
    """Run a load generator in its own process (its own core time, its own event loop)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def run_async(coro_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return asyncio.run(coro_fn(*args, **kwargs))


async def make_sessions(database_url: str, data_dir: Path, logins: list[str]) -> list[tuple[str, str, str]]:
    """Signed-in sessions straight into the database: (login, cookie token, csrf token).

    A start or autosave benchmark measures starts and saves, not 2,000 Argon2 verifications
    (the login-storm benchmark measures those).
    """
    import secrets
    from datetime import datetime, timedelta

    from sqlalchemy import insert, select

    from exam_engine.bootstrap import build_services
    from exam_engine.config import load_settings
    from exam_engine.services.auth import token_hash
    from exam_engine.tables import auth_sessions, users

    services = build_services(load_settings(server_env(database_url, data_dir)))
    now = datetime.now(UTC)
    out = []
    async with services.engine.begin() as conn:
        ids = dict((await conn.execute(select(users.c.login, users.c.id).where(users.c.login.in_(logins)))).all())
        rows = []
        for login in logins:
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            rows.append(
                {
                    "token_hash": token_hash(token),
                    "user_id": ids[login],
                    "csrf_token": csrf,
                    "created_at": now,
                    "expires_at": now + timedelta(hours=6),
                }
            )
            out.append((login, token, csrf))
        await conn.execute(insert(auth_sessions), rows)
    await services.close()
    return out


def metric_value(port: int, name: str, labels: str = "") -> float:
    """Sum of a Prometheus sample from the server's /metrics (e.g. a histogram's _sum or _count)."""
    import urllib.request

    total = 0.0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name) and (not labels or labels in line) and not line.startswith("#"):
                head = line.split(" ")[0]
                if head == name or head.startswith(name + "{"):
                    total += float(line.rsplit(" ", 1)[1])
    return total


def histogram_quantile(port: int, name: str, q: float) -> float:
    """An upper bound of the q-quantile from a Prometheus histogram's buckets."""
    import urllib.request

    buckets: dict[float, float] = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "_bucket{"):
                le = line.split('le="', 1)[1].split('"', 1)[0]
                bound = float("inf") if le == "+Inf" else float(le)
                buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
    if not buckets:
        return float("nan")
    total = buckets[max(buckets)]
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound
    return float("inf")
