"""Two server processes and an analysis worker against one PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from exam_engine.clock import SystemClock
from exam_engine.domain.roles import Role
from exam_engine.observability import JsonFormatter
from exam_engine.tables import attempts, outbox
from proctor.tables import evidence_items
from tests.conftest import SECRET
from tests.factories import PASSWORD, assign_proctor, make_user, make_world
from tests.integration.proctor_world import frame_person

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()  # type: ignore[return-value]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(services, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_")}
    env.update(
        EXAM_DATABASE_URL=services.settings.database_url,
        EXAM_REDIS_URL=services.settings.redis_url,
        EXAM_SECRET_KEY=SECRET,
        EXAM_DATA_DIR=str(tmp_path),
        EXAM_SWEEP_INTERVAL_S="0.2",
        EXAM_NETWORK_GRACE_S="1",
        EXAM_LOG_LEVEL="WARNING",
        EXAM_PROCTOR_CLAIM_IDLE_MS="2000",
        EXAM_REDIS_PREFIX=services.settings.redis_prefix,
    )
    return env


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    """SIGTERM to each process group, then SIGKILL to any still there after 20 s."""
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


async def _pids_answering(port: int, wanted: int, timeout: float) -> set[int]:
    """The process ids that answer /healthz, until ``wanted`` of them have (or the time is up).
    A new connection per request lets the kernel hand requests to any of the processes."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        while len(seen) < wanted and time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    seen.add((await r.json())["pid"])
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
    return seen


async def _healthy(port: int, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("server pool did not become ready")


async def _admit(base: str, attempt_id: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as desk:
        async with desk.post(f"{base}/api/v1/auth/login", json={"login": "proctor1", "password": PASSWORD}) as r:
            csrf = (await r.json())["csrf_token"]
        async with desk.post(
            f"{base}/api/v1/live/attempts/{attempt_id}/admit",
            json={"reason": "checked in person"},
            headers={"X-CSRF-Token": csrf},
        ) as r:
            assert r.status == 200, await r.text()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_an_exam_sat_across_two_server_processes_with_a_separate_analysis_worker(services, tmp_path):
    world = await make_world(services, students=2, question_count=5, duration_s=4, requires_proctoring=True)
    await make_user(services, "proctor1", Role.PROCTOR)
    await assign_proctor(services, "proctor1", world.exam_id)
    port = _free_port()
    env = _env(services, tmp_path)
    log = open(tmp_path / "pool.log", "wb")
    pool = subprocess.Popen(
        [sys.executable, "-m", "exam_engine.cli", "serve", "--workers", "2", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "exam_engine.cli", "proctor-worker", "--name", "w1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await _healthy(port)
        # A new connection per request lets the kernel hand requests to either process.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            pids = await _pids_answering(port, 2, 40)  # until both processes have started and answered
            assert len(pids) == 2, (
                f"only {pids} answered; {(tmp_path / 'pool.log').read_text(errors='replace')[-3000:]}"
            )

            async with http.post(f"{base}/api/v1/auth/login", json={"login": "student1", "password": PASSWORD}) as r:
                csrf = (await r.json())["csrf_token"]
            headers = {"X-CSRF-Token": csrf}
            async with http.post(f"{base}/api/v1/exams/{world.exam_id}/start", json={}, headers=headers) as r:
                started = await r.json()
                assert r.status == 200, started
            attempt_id = started["attempt"]["id"]
            assert started["attempt"]["status"] == "checks"  # a proctored exam: no clock before the checks
            async with http.post(
                f"{base}/api/v1/proctor/attempts/{attempt_id}/consent",
                json={"consent": True, "camera": True, "microphone": True},
                headers=headers,
            ) as r:
                assert r.status in (200, 201), await r.text()
            async with http.post(
                f"{base}/api/v1/proctor/attempts/{attempt_id}/frames?seq=1",
                data=frame_person(1),
                headers={**headers, "Content-Type": "image/jpeg"},
            ) as r:
                assert r.status in (200, 201, 202), await r.text()
            # A proctor lets the student in (the checks themselves have their own tests): the clock starts.
            await _admit(base, attempt_id)
            async with http.get(f"{base}/api/v1/attempts/{attempt_id}", headers=headers) as r:
                started = await r.json()
                assert r.status == 200 and started["attempt"]["status"] == "in_progress", started
            for seq, q in enumerate(started["questions"], start=1):
                async with http.put(
                    f"{base}/api/v1/attempts/{attempt_id}/answers/{q['position']}",
                    json={"choice": 0, "seq": seq},
                    headers=headers,
                ) as r:
                    assert r.status == 200
            # The second student starts and walks away: one of the two processes' sweepers finalises it, once.
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
                async with other.post(
                    f"{base}/api/v1/auth/login", json={"login": "student2", "password": PASSWORD}
                ) as r:
                    csrf2 = (await r.json())["csrf_token"]
                async with other.post(
                    f"{base}/api/v1/exams/{world.exam_id}/start", json={}, headers={"X-CSRF-Token": csrf2}
                ) as r:
                    abandoned = (await r.json())["attempt"]["id"]
            await _admit(base, abandoned)
            async with http.post(f"{base}/api/v1/attempts/{attempt_id}/submit", headers=headers) as r:
                result = await r.json()
                assert r.status == 200 and result["status"] == "submitted"
            async with http.get(f"{base}/metrics") as r:
                text = await r.text()
                assert "exam_http_request_seconds_count" in text and 'exam_attempts{status="submitted"}' in text
            await asyncio.sleep(4 + 1 + 1.5)
            async with services.engine.connect() as conn:
                status = (
                    await conn.execute(
                        select(attempts.c.status).where(attempts.c.id == __import__("uuid").UUID(abandoned))
                    )
                ).scalar_one()
                events = (
                    await conn.execute(select(func.count()).select_from(outbox).where(outbox.c.key == abandoned))
                ).scalar_one()
            assert status == "timed_out" and events == 1
            async with http.get(f"{base}/metrics") as r:  # summed over both processes
                samples = dict(
                    line.rsplit(" ", 1) for line in (await r.text()).splitlines() if line and not line.startswith("#")
                )
            assert float(samples['exam_autosaves_total{path="fast"}']) == len(started["questions"])
            assert float(samples['exam_attempts_finalised_total{status="timed_out"}']) == 1
            assert float(samples["exam_sweeper_lag_seconds_count"]) == 1
            for _ in range(100):  # the separate worker analyses the frame
                async with services.engine.connect() as conn:
                    analysed = (
                        await conn.execute(select(evidence_items.c.analysed).where(evidence_items.c.kind == "frame"))
                    ).scalar()
                if analysed:
                    break
                await asyncio.sleep(0.2)
            assert analysed is True, (tmp_path / "pool.log").read_text(errors="replace")[-3000:]
    finally:
        _stop(pool, worker)
        log.close()
    await services.engine.dispose()


def test_several_workers_are_refused_on_sqlite_or_without_redis(tmp_path):
    from exam_engine.config import load_settings
    from exam_engine.errors import ConfigError
    from exam_engine.server import check_workers

    sqlite = load_settings({"EXAM_DATA_DIR": str(tmp_path), "EXAM_SECRET_KEY": SECRET})
    with pytest.raises(ConfigError, match="PostgreSQL"):
        check_workers(sqlite, 2)
    pg = load_settings(
        {"EXAM_DATA_DIR": str(tmp_path), "EXAM_SECRET_KEY": SECRET, "EXAM_DATABASE_URL": "postgresql://x@127.0.0.1/y"}
    )
    with pytest.raises(ConfigError, match="Redis"):
        check_workers(pg, 2)
    check_workers(sqlite, 1)


def test_log_lines_are_json_with_readable_cyrillic_and_the_request_id():
    from exam_engine.observability import REQUEST_ID

    token = REQUEST_ID.set("req-12345678")
    try:
        record = logging.LogRecord("exam_engine", logging.WARNING, __file__, 1, "Студент %s: қате", ("Әлия",), None)
        line = JsonFormatter().format(record)
    finally:
        REQUEST_ID.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "Студент Әлия: қате" and "Әлия" in line
    assert entry["request_id"] == "req-12345678" and entry["level"] == "WARNING"


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_server_whose_start_up_fails_exits_with_the_reason_instead_of_hanging(services, tmp_path):
    """A start-up step failing after the pools opened (here: an empty signing-key file, as a
    process could once read it while another was writing it) used to leave the process hanging
    with its pools' tasks: under `serve --workers` it then never answered and was never restarted."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "exam_signing_ed25519.pem").write_bytes(b"")
    env = {**_env(services, tmp_path), "EXAM_LOG_LEVEL": "INFO"}
    proc = subprocess.run(
        [sys.executable, "-m", "exam_engine.cli", "serve", "--port", str(_free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "exam_signing_ed25519.pem: not a PEM private key" in proc.stderr
    assert "serving on" not in proc.stderr  # said once the port is bound, not before the start-up steps


@pytest.mark.parametrize("backend", ["postgres"])
async def test_server_workers_that_cannot_start_stop_the_pool_with_the_reason(services, tmp_path):
    """`serve --workers 2` whose workers exit with a configuration error before the server ever
    answered: the supervisor used to restart them every second, forever, serving nothing."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "exam_signing_ed25519.pem").write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "exam_engine.cli", "serve", "--workers", "2", "--port", str(_free_port())],
        cwd=ROOT,
        env=_env(services, tmp_path),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "could not start" in proc.stderr, proc.stderr[-3000:]
    assert 1 <= proc.stderr.count("not a PEM private key") <= 2, proc.stderr[-3000:]  # no restarts


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_killed_server_worker_is_replaced_while_the_other_serves(services, tmp_path):
    port = _free_port()
    log = open(tmp_path / "pool.log", "wb")
    pool = subprocess.Popen(
        [sys.executable, "-m", "exam_engine.cli", "serve", "--workers", "2", "--port", str(port)],
        cwd=ROOT,
        env=_env(services, tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    try:
        await _healthy(port)
        first = await _pids_answering(port, 2, 40)
        assert len(first) == 2, (tmp_path / "pool.log").read_text(errors="replace")[-3000:]
        victim, survivor = sorted(first)
        os.kill(victim, signal.SIGKILL)
        later = await _pids_answering(port, 2, 40)
        assert survivor in later and victim not in later and len(later) == 2, (
            later,
            (tmp_path / "pool.log").read_text(errors="replace")[-3000:],
        )
        assert pool.poll() is None
    finally:
        _stop(pool)
        log.close()
