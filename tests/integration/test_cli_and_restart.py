"""The command line as an operator uses it, and a real server process killed and restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from exam_engine.clock import SystemClock
from exam_engine.tables import attempts
from tests.conftest import SECRET
from tests.factories import PASSWORD, make_world

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_")}
    env.update(
        EXAM_DATA_DIR=str(tmp_path),
        EXAM_SECRET_KEY=SECRET,
        EXAM_SWEEP_INTERVAL_S="0.2",
        EXAM_NETWORK_GRACE_S="1",
        EXAM_LOG_LEVEL="WARNING",
        **extra,
    )
    if database_url:
        env["EXAM_DATABASE_URL"] = database_url
    return env


def cli(tmp_path: Path, *args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exam_engine.cli", *args],
        cwd=ROOT,
        env=_env(tmp_path, **extra),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_operator_creates_accounts_and_disciplines_from_the_command_line(tmp_path):
    assert cli(tmp_path, "migrate").returncode == 0
    made = cli(tmp_path, "user", "add", "a.student", "--role", "student", "--name", "Әлия Серікқызы")
    assert made.returncode == 0, made.stderr
    assert "one-time password: " in made.stdout
    again = cli(tmp_path, "user", "add", "a.student", "--role", "student", "--name", "X")
    assert again.returncode == 1 and "a.student логині бос емес" in again.stderr
    bad_role = cli(tmp_path, "--lang", "ru", "user", "add", "b.user", "--role", "wizard", "--name", "Y")
    assert bad_role.returncode == 1 and "Неизвестная роль «wizard»" in bad_role.stderr
    weak = cli(
        tmp_path, "user", "add", "c.user", "--role", "teacher", "--name", "Z", "--password-stdin", stdin="password123\n"
    )
    assert weak.returncode == 1 and "құпиясөз" in weak.stderr.lower()
    disc = cli(tmp_path, "discipline", "add", "CRIM-201", "--name", "Қылмыстық құқық", "--credits", "5")
    assert disc.returncode == 0 and "CRIM-201" in disc.stdout
    dup = cli(tmp_path, "discipline", "add", "CRIM-201", "--name", "again")
    assert dup.returncode == 1


def test_a_bad_setting_exits_2_with_the_variable_named(tmp_path):
    result = cli(tmp_path, "migrate", EXAM_PORT="eighty")
    assert result.returncode == 2 and "EXAM_PORT" in result.stderr
    result = cli(tmp_path, "user", "add")
    assert result.returncode == 2  # argparse usage error
    # Two settings that contradict each other: the recording's tail shorter than the deadline grace.
    result = cli(tmp_path, "--lang", "ru", "migrate", EXAM_RECORDING_TAIL_S="0.5")  # the grace: 1 s
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("Ошибка конфигурации: EXAM_RECORDING_TAIL_S=0.5 is shorter than EXAM_NETWORK_GRACE_S=1")


def test_a_contingent_file_with_an_error_is_refused_whole_from_the_command_line(tmp_path):
    assert cli(tmp_path, "migrate").returncode == 0
    f = tmp_path / "contingent.csv"
    f.write_text("role,login,full_name,group,faculty\nstudent,ok.one,Бір,G1,F\nstudent,,Екі,G1,F\n", encoding="cp1251")
    result = cli(tmp_path, "--lang", "ru", "contingent", "import", str(f))
    assert result.returncode == 1
    assert "Строка 3, столбец «login»: Значение пустое." in result.stderr
    f.write_text("role,login,full_name,group,faculty\nstudent,ok.one,Бір,G1,F\n", encoding="utf-8")
    result = cli(tmp_path, "contingent", "import", str(f))
    assert result.returncode == 0 and "ok.one" in result.stdout


def test_serve_refuses_an_unmigrated_database(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "exam_engine.cli", "serve", "--port", str(_free_port())],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "exam-engine migrate" in result.stderr


# ------------------------------------------------------------------------------------ restart


@pytest.fixture
def clock() -> SystemClock:
    """These tests run a real server process, so they need the real time."""
    return SystemClock()  # type: ignore[return-value]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(tmp_path: Path, database_url: str, port: int) -> subprocess.Popen[bytes]:
    log = open(tmp_path / f"server-{port}-{time.time_ns()}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "exam_engine.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=_env(tmp_path, database_url),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "server exited"
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("server did not become healthy")


def _plain_url(services) -> str:  # type: ignore[no-untyped-def]
    return services.settings.database_url.replace("+aiosqlite", "").replace("+psycopg", "")


async def test_a_server_stopped_before_a_deadline_finalises_the_attempt_when_it_starts_again(services, tmp_path):
    world = await make_world(services, students=1, duration_s=3)
    url, port = _plain_url(services), _free_port()
    await services.engine.dispose()  # SQLite: let the server process have the file
    proc = _start_server(tmp_path, url, port)
    try:
        await _wait_healthy(port, proc)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            base = f"http://127.0.0.1:{port}/api/v1"
            async with http.post(f"{base}/auth/login", json={"login": "student1", "password": PASSWORD}) as r:
                csrf = (await r.json())["csrf_token"]
            async with http.post(f"{base}/exams/{world.exam_id}/start", json={}, headers={"X-CSRF-Token": csrf}) as r:
                started = await r.json()
                assert r.status == 200, started
            attempt_id = uuid.UUID(started["attempt"]["id"])
            async with http.put(
                f"{base}/attempts/{attempt_id}/answers/1", json={"choice": 0, "seq": 1}, headers={"X-CSRF-Token": csrf}
            ) as r:
                assert r.status == 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = datetime.fromisoformat(started["attempt"]["deadline_at"])
    # Stay down until well past the deadline and the grace.
    await asyncio.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 1.5)
    async with services.engine.connect() as conn:
        before = (await conn.execute(select(attempts.c.status).where(attempts.c.id == attempt_id))).scalar_one()
    await services.engine.dispose()
    assert before == "in_progress"

    proc = _start_server(tmp_path, url, port)
    try:
        await _wait_healthy(port, proc)
        async with services.engine.connect() as conn:
            row = (await conn.execute(select(attempts).where(attempts.c.id == attempt_id))).one()
        await services.engine.dispose()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    # Finalised by the start-up sweep, before the server answered its first request.
    assert row.status == "timed_out" and row.finished_by == "deadline"
    assert row.submitted_at == row.deadline_at == deadline
    assert row.result == "unsatisfactory"
    assert datetime.now(UTC) - row.deadline_at < timedelta(minutes=5)


def test_the_operator_disables_and_enables_an_account_from_the_command_line(tmp_path):
    assert cli(tmp_path, "migrate").returncode == 0
    assert cli(tmp_path, "user", "add", "root", "--role", "sysadmin", "--name", "Жүйе Әкімші").returncode == 0
    assert cli(tmp_path, "user", "add", "a.student", "--role", "student", "--name", "Әлия").returncode == 0
    done = cli(tmp_path, "user", "disable", "a.student", "--reason", "Бұйрық №7")
    assert done.returncode == 0 and "disabled a.student; sessions ended: 0" in done.stdout, done.stderr
    again = cli(tmp_path, "--lang", "ru", "user", "disable", "a.student", "--reason", "ещё раз")
    assert again.returncode == 1 and "Учётная запись a.student уже отключена." in again.stderr
    assert "Traceback" not in again.stderr
    last = cli(tmp_path, "user", "disable", "root", "--reason", "тексеру")
    assert last.returncode == 1 and "root — жүйенің жалғыз белсенді әкімшісі" in last.stderr
    empty = cli(tmp_path, "user", "disable", "nobody.here", "--reason", "x")
    assert empty.returncode == 1 and "nobody.here" in empty.stderr
    blank = cli(tmp_path, "user", "enable", "a.student", "--reason", "  ")
    assert blank.returncode == 1 and "Себебін жазыңыз" in blank.stderr
    back = cli(tmp_path, "user", "enable", "a.student", "--reason", "Бұйрық күшін жойды")
    assert back.returncode == 0 and "enabled a.student" in back.stdout
