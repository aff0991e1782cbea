"""Many idle connections from one client: the server stays within its open-file limit.

Every connection is an open file. A client that opened more connections than the process may hold
files (its ``RLIMIT_NOFILE``; 1,024 under a default systemd unit) left the process unable to open
anything: asyncio's accept loop logged "out of system resource" with a traceback thousands of times
a second (160 MB of log in 20 s in a demo run, the CPU spinning), and a database connection or an
evidence file the saves needed could not be opened. Now each process holds at most
``EXAM_MAX_CONNECTIONS`` client connections (by default its open-file limit less a reserve for the
database, Redis and files); a connection beyond answers ``503 server_busy`` with ``Retry-After``
(the exam page sends again) and is closed, and the refusals are logged once in a while, counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from exam_engine.clock import SystemClock
from tests.conftest import settings_env
from tests.factories import PASSWORD, make_world
from tests.integration.test_trust_crash import free_port

pytestmark = pytest.mark.parametrize("backend", ["postgres"])

ROOT = Path(__file__).resolve().parents[2]
FILE_LIMIT = 400  # the server's whole open-file limit (soft and hard: it cannot raise it)
FLOOD = 700


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()  # type: ignore[return-value]


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


async def test_a_flood_of_idle_connections_is_refused_at_the_cap_and_the_hall_goes_on(
    services, pg_database, redis_url, tmp_path
):
    world = await make_world(services, students=1, duration_s=1200)
    port, log = free_port(), tmp_path / "server.log"
    env = {**os.environ, **settings_env(pg_database, str(tmp_path), redis_url), "EXAM_SESSION_RATE_PER_MIN": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "exam_engine.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        preexec_fn=_limited,
    )
    base = f"http://127.0.0.1:{port}"
    flood: list[asyncio.StreamWriter] = []
    try:
        for _ in range(600):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.1)
        # The student is writing, on a kept-alive connection opened before the flood.
        student = requests.Session()
        signed = student.post(f"{base}/api/v1/auth/login", json={"login": world.students[0], "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        csrf = {"X-CSRF-Token": signed.json()["csrf_token"]}
        started = student.post(f"{base}/api/v1/exams/{world.exam_id}/start", json={}, headers=csrf, timeout=30)
        assert started.status_code == 200, started.text
        save = f"{base}/api/v1/attempts/{started.json()['attempt']['id']}/answers/1"

        # One client opens connection after connection and sends nothing.
        refused = []
        for _ in range(FLOOD):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            flood.append(writer)
            try:
                head = await asyncio.wait_for(reader.read(4096), timeout=0.05)
            except TimeoutError:
                continue
            if head:
                refused.append(head)
        await asyncio.sleep(3)

        assert proc.poll() is None, log.read_text()[-3000:]
        assert refused, "no connection was refused: the process ran out of open files instead"
        status, _, body = refused[0].partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in status, status
        assert json.loads(body)["error"]["code"] == "server_busy"
        # The student's kept-alive connection goes on: the answer is saved while the flood holds.
        saved = student.put(save, json={"choice": 1, "seq": 1}, headers=csrf, timeout=30)
        assert saved.status_code == 200 and saved.json()["applied"], saved.text
        text = log.read_text()
        assert "out of system resource" not in text, text[-2000:]
        assert "Too many open files" not in text, text[-2000:]
        assert text.count("connections refused") <= 2, text[-2000:]
        # Once the flood lets go, new connections are served again.
        for writer in flood:
            writer.close()
        flood.clear()
        await asyncio.sleep(1)
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        again = student.put(save, json={"choice": 2, "seq": 2}, headers=csrf, timeout=30)
        assert again.status_code == 200, again.text
    finally:
        for writer in flood:
            writer.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
