"""Durability: acknowledged saves survive kill -9 of the server and of PostgreSQL.

A PRIVATE throw-away PostgreSQL cluster (initdb + pg_ctl on a free port in a temporary
directory; the machine's main cluster on 5432 is never touched) and the real server as
a subprocess. A couple of hundred simulated students (aiohttp, 127.0.0.1 only) save
answers continuously while, twice over, the server is killed with SIGKILL and restarted,
then PostgreSQL is stopped with ``pg_ctl stop -m immediate`` (no shutdown checkpoint:
a crash as far as the data is concerned) and restarted. Every save the server
ACKNOWLEDGED must then be in the database. Finally the server is killed before the
attempts' deadlines and restarted after them: the start-up sweep finalises each one with
its submit time equal to its deadline and exactly one result event.

The saves go through the autosave's group commit (issue 24) with one committer, so that the
saves arriving while a commit is in flight are written together: each kill lands while groups
are being written, and the test checks that groups of several saves were indeed written.
"""

from __future__ import annotations

import asyncio
import glob
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from exam_engine.bootstrap import build_services
from exam_engine.config import load_settings
from exam_engine.tables import answers, attempts, group_members, outbox, users
from tests.conftest import SECRET
from tests.factories import PASSWORD, make_world

STUDENTS = 200
DURATION_S = 55
RUN_S = 3.0
# The checkout's code (``python -m`` from its root), not whatever the ``exam-engine`` script of the
# environment was installed from: the test is about this code's acknowledgements.
ROOT = Path(__file__).resolve().parents[2]
EXAM_ENGINE = [sys.executable, "-m", "exam_engine.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateCluster:
    """initdb/pg_ctl as the ``postgres`` user when we are root (PostgreSQL refuses to run as root)."""

    def __init__(self, root: Path) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not binaries:
            pytest.fail(
                "initdb is unavailable (no /usr/lib/postgresql/*/bin/initdb): the crash test needs a "
                "private PostgreSQL cluster; install the postgresql server package",
                pytrace=False,
            )
        self.bin = Path(binaries[-1]).parent
        self.root, self.data, self.sock = root, root / "data", root / "sock"
        self.port = free_port()
        self.sock.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")

    def _as_owner(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{cmd[0]} failed: {done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self._as_owner(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "root",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=on "
            f"-c synchronous_commit=on -c full_page_writes=on -c max_connections=100"
        )
        self._as_owner(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "pg.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def crash(self) -> None:
        """Stop without a checkpoint: what is not in the WAL on disk is lost, as in a power cut."""
        self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--"] * (os.geteuid() == 0)
            + [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )

    def url(self, database: str) -> str:
        return f"postgresql://root@127.0.0.1:{self.port}/{database}"


class Server:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [*EXAM_ENGINE, "serve", "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, f"the server exited: {self.log.read_text()[-3000:]}"
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("the server did not come up")

    async def grouped(self) -> tuple[float, float]:
        """(group commits, saves in them) since this server process started, from its /metrics."""
        values = {"exam_autosave_group_size_count": 0.0, "exam_autosave_group_size_sum": 0.0}
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{self.port}/metrics") as resp:
            assert resp.status == 200, await resp.text()
            for line in (await resp.text()).splitlines():
                name, _, value = line.partition(" ")
                if name in values:
                    values[name] += float(value)
        return values["exam_autosave_group_size_count"], values["exam_autosave_group_size_sum"]

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: no shutdown, no flush
            self.proc.wait()


@dataclass
class Student:
    login: str
    http: aiohttp.ClientSession
    csrf: str = ""
    attempt_id: str = ""
    positions: list[int] = field(default_factory=list)
    seq: int = 0
    acked: dict[int, tuple[int, int]] = field(default_factory=dict)  # position -> (seq, choice)
    errors: int = 0
    acks: int = 0


async def drive(student: Student, base: str, running: asyncio.Event) -> None:
    """Save answers while the run lasts; only a 200 counts as acknowledged."""
    rng = random.Random(student.login)
    while running.is_set():
        position = rng.choice(student.positions)
        choice = rng.randrange(4)
        student.seq += 1
        try:
            async with student.http.put(
                f"{base}/api/v1/attempts/{student.attempt_id}/answers/{position}",
                json={"choice": choice, "seq": student.seq},
                headers={"X-CSRF-Token": student.csrf},
            ) as resp:
                if resp.status == 200:
                    body = await resp.json()
                    student.acks += 1
                    if body["seq"] == student.seq:
                        previous = student.acked.get(position, (0, 0))
                        if student.seq > previous[0]:
                            student.acked[position] = (student.seq, choice)
                else:
                    student.errors += 1
        except (TimeoutError, aiohttp.ClientError):
            student.errors += 1
        await asyncio.sleep(rng.uniform(0.2, 0.5))


async def build_world(url: str, data_dir: Path) -> int:
    """One exam and STUDENTS students; one password hash computed, then copied (hashing is slow)."""
    services = build_services(
        load_settings({"EXAM_DATABASE_URL": url, "EXAM_DATA_DIR": str(data_dir), "EXAM_SECRET_KEY": SECRET})
    )
    try:
        world = await make_world(services, students=1, question_count=5, bank_size=10, duration_s=DURATION_S)
        async with services.engine.begin() as conn:
            first = (await conn.execute(select(users).where(users.c.login == world.students[0]))).one()
            member = (await conn.execute(select(group_members))).one()
            for n in range(2, STUDENTS + 1):
                new_id = (
                    await conn.execute(
                        users.insert()
                        .values(
                            login=f"student{n}",
                            full_name=f"Student {n}",
                            role="student",
                            password_hash=first.password_hash,
                            language="kk",
                            is_active=True,
                            must_change_password=False,
                            created_at=first.created_at,
                            created_by="tests",
                        )
                        .returning(users.c.id)
                    )
                ).scalar_one()
                await conn.execute(
                    group_members.insert().values(
                        group_id=member.group_id, student_id=new_id, joined_at=member.joined_at
                    )
                )
        return world.exam_id
    finally:
        await services.close()


async def sign_in_and_start(student: Student, base: str, exam_id: int) -> None:
    async with student.http.post(
        f"{base}/api/v1/auth/login", json={"login": student.login, "password": PASSWORD}
    ) as resp:
        assert resp.status == 200, await resp.text()
        student.csrf = (await resp.json())["csrf_token"]
    async with student.http.post(
        f"{base}/api/v1/exams/{exam_id}/start", json={}, headers={"X-CSRF-Token": student.csrf}
    ) as resp:
        assert resp.status == 200, await resp.text()
        view = await resp.json()
    student.attempt_id = view["attempt"]["id"]
    student.positions = [q["position"] for q in view["questions"]]


async def test_acknowledged_saves_survive_kill_9_of_server_and_postgres_and_overdue_attempts_finalise(tmp_path):
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="exam-crash-", dir="/tmp"))
    cluster = PrivateCluster(root)
    server: Server | None = None
    try:
        cluster.init()
        cluster.start()
        import psycopg

        with psycopg.connect(cluster.url("postgres"), autocommit=True) as admin:
            admin.execute("CREATE DATABASE exam")
        url = cluster.url("exam")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "EXAM_DATABASE_URL": url,
            "EXAM_DATA_DIR": str(tmp_path),
            "EXAM_SECRET_KEY": SECRET,
            "EXAM_LOG_LEVEL": "WARNING",
            "EXAM_SWEEP_INTERVAL_S": "0.5",
            "EXAM_NETWORK_GRACE_S": "1",
            "EXAM_AUTOSAVE_GROUPS": "1",
        }
        migrated = subprocess.run(
            [*EXAM_ENGINE, "migrate"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert migrated.returncode == 0, migrated.stderr
        exam_id = await build_world(url, tmp_path)

        server = Server(env, free_port(), tmp_path / "server.log")
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=10)
        students = [
            Student(
                f"student{n}",
                aiohttp.ClientSession(
                    connector=connector,
                    connector_owner=False,
                    timeout=timeout,
                    cookie_jar=aiohttp.CookieJar(unsafe=True),
                ),
            )
            for n in range(1, STUDENTS + 1)
        ]
        try:
            gate = asyncio.Semaphore(8)

            async def enter(s: Student) -> None:
                async with gate:
                    await sign_in_and_start(s, base, exam_id)

            await asyncio.gather(*(enter(s) for s in students))
            running = asyncio.Event()
            running.set()
            tasks = [asyncio.create_task(drive(s, base, running)) for s in students]
            groups = grouped = 0.0
            for _cycle in range(2):
                await asyncio.sleep(RUN_S)
                count, total = await server.grouped()
                groups, grouped = groups + count, grouped + total
                server.kill()  # kill -9 of the server, mid-run (groups in flight)
                await asyncio.sleep(0.5)
                await server.start()
                await asyncio.sleep(RUN_S)
                cluster.crash()  # PostgreSQL stops without a checkpoint, mid-run
                await asyncio.sleep(0.5)
                cluster.start()
            await asyncio.sleep(RUN_S)
            count, total = await server.grouped()
            groups, grouped = groups + count, grouped + total
            server.kill()  # down across every deadline
            running.clear()
            await asyncio.gather(*tasks)
        finally:
            for s in students:
                await s.http.close()
            await connector.close()

        checker = build_services(
            load_settings({"EXAM_DATABASE_URL": url, "EXAM_DATA_DIR": str(tmp_path), "EXAM_SECRET_KEY": SECRET})
        )
        try:
            async with checker.engine.connect() as conn:
                stored = {
                    (str(r.attempt_id), r.position): (r.seq, r.choice) for r in await conn.execute(select(answers))
                }
                last_deadline = (await conn.execute(select(func.max(attempts.c.deadline_at)))).scalar()
            acknowledged = missing = 0
            for s in students:
                for position, (seq, choice) in s.acked.items():
                    acknowledged += 1
                    row = stored.get((s.attempt_id, position))
                    if row is None or row[0] < seq or (row[0] == seq and row[1] != choice):
                        missing += 1
            assert acknowledged > 500, f"too few acknowledged saves to prove anything: {acknowledged}"
            assert missing == 0, f"{missing} of {acknowledged} acknowledged saves are not in the database"
            assert sum(s.errors for s in students) > 0, "the kills should have refused some saves"
            assert groups > 0 and grouped > groups, f"no group of several saves was written ({grouped} in {groups})"

            wait = (last_deadline - checker.clock.now()).total_seconds() + 1.5
            await asyncio.sleep(max(0.0, wait))
            await server.start()  # the start-up sweep finalises everything overdue
            async with checker.engine.connect() as conn:
                rows = (await conn.execute(select(attempts))).all()
                events = dict(
                    (
                        await conn.execute(
                            select(outbox.c.key, func.count())
                            .where(outbox.c.topic == "exam.result")
                            .group_by(outbox.c.key)
                        )
                    ).all()
                )
            assert len(rows) == STUDENTS
            for row in rows:
                assert row.status == "timed_out", row
                assert row.submitted_at == row.deadline_at, row
                assert events.get(str(row.id)) == 1, f"attempt {row.id} has {events.get(str(row.id))} result events"
        finally:
            await checker.close()
        print(
            f"crash test: {STUDENTS} students, {sum(s.acks for s in students)} acknowledged saves "
            f"({grouped:.0f} in {groups:.0f} group commits seen before the kills) "
            f"({acknowledged} latest per question checked), 0 missing, "
            f"{time.monotonic() - started:.0f} s"
        )
    finally:
        if server is not None:
            server.kill()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
