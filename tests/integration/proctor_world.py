"""A proctored exam in progress, driven through the real API, for the proctoring tests.

Webcam frames are the labelled scenes of ``tests/unit/proctor/scenes.py`` (public-domain
images from scikit-image). Analysis runs for real: through the embedded process pool
on SQLite, through a Redis consumer-group worker on PostgreSQL (as in production).
"""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp

from exam_engine.bootstrap import Services
from exam_engine.domain.roles import Role
from exam_engine.services.proctoring import runtime_of
from proctor.queue import LocalQueue
from proctor.worker import StreamWorker
from tests.conftest import SECRET
from tests.factories import Api, assign_proctor, make_user, make_world, new_api, open_client
from tests.unit.proctor import scenes as sc

BASE = "/api/v1/proctor"
ROOT = Path(__file__).resolve().parents[2]


def frame_person(seed: int) -> bytes:
    return sc.live(sc.person(), seed)


def frame_empty(seed: int) -> bytes:
    return sc.live(sc.wall(), seed)


def frame_two_faces(seed: int) -> bytes:
    a, c = sc.astronaut(), sc.cameraman()
    two = sc.place(
        sc.place(sc.wall(), sc.crop(a, sc.ASTRONAUT_FACE), 40, 120, 300), sc.crop(c, sc.CAMERAMAN_FACE), 360, 120, 300
    )
    return sc.live(two, seed)


def enrolment_photo() -> bytes:
    return sc.jpeg(sc.astronaut(), 95)


@dataclass
class Proctored:
    services: Services
    client: Any
    student: Api
    other_student: Api
    proctor: Api
    attempt_id: str
    exam_id: int
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def upload(
        self, kind: str, data: bytes, *, seq: int | None = None, trigger: str = "interval", api: Api | None = None
    ) -> tuple[int, Any]:
        seq = self.next_seq() if seq is None else seq
        return await (api or self.student).call(
            "POST", f"{BASE}/attempts/{self.attempt_id}/{kind}?seq={seq}&trigger={trigger}", data=data
        )

    async def frame(self, data: bytes, *, advance: float = 5.0) -> dict:
        self.services.clock.advance(advance)  # type: ignore[attr-defined]
        status, body = await self.upload("frames", data)
        assert status == 200, body
        return body["items"][0]

    async def room_scan(self, frames: list[bytes], seq: int) -> tuple[int, Any]:
        form = aiohttp.FormData()
        for i, frame in enumerate(frames):
            form.add_field("frame", io.BytesIO(frame), filename=f"{i}.jpg", content_type="image/jpeg")
        return await self.student.call("POST", f"{BASE}/attempts/{self.attempt_id}/room-scans?seq={seq}", data=form)

    async def timeline(self, api: Api | None = None) -> dict:
        status, body = await (api or self.proctor).call("GET", f"{BASE}/attempts/{self.attempt_id}/timeline")
        assert status == 200, body
        return body

    async def close(self) -> None:
        await self.other_student.client.close()  # type: ignore[attr-defined]
        await self.proctor.client.close()  # type: ignore[attr-defined]
        await self.client.close()


async def proctored_attempt(services: Services, *, consent: bool = True) -> Proctored:
    world = await make_world(services, students=2, requires_proctoring=True)
    await make_user(services, "proctor1", Role.PROCTOR)
    await assign_proctor(services, "proctor1", world.exam_id)
    client = await open_client(services)
    student = Api(client)
    await student.login(world.students[0])
    status, started = await student.call("POST", f"/api/v1/exams/{world.exam_id}/start", json={})
    assert status == 200, started
    attempt_id = started["attempt"]["id"]
    other = await new_api(client)
    await other.login(world.students[1])
    proctor = await new_api(client)
    await proctor.login("proctor1")
    # A proctored attempt starts in its device checks (issue 20); these tests are about what comes
    # after, so the proctor lets the student in, as on exam day when the checks were done in person.
    status, body = await proctor.call(
        "POST", f"/api/v1/live/attempts/{attempt_id}/admit", json={"reason": "checks done in the room"}
    )
    assert status == 200, body
    if consent:
        status, body = await student.call(
            "POST", f"{BASE}/attempts/{attempt_id}/consent", json={"consent": True, "camera": True, "microphone": True}
        )
        assert status == 200, body
    return Proctored(services, client, student, other, proctor, attempt_id, world.exam_id)


async def analyse_everything(services: Services) -> int:
    """Run the analysis the way this backend runs it and wait for it to be stored."""
    runtime = runtime_of(services)
    if isinstance(runtime.queue, LocalQueue):
        await runtime.queue.drain()
        return -1
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(services.settings.redis_url)
    worker = StreamWorker(
        client,
        runtime.analyser,
        stream=runtime.config.stream,
        group=runtime.config.group,
        consumer="tests",
        claim_idle_ms=60_000,
    )
    await worker.ensure_group()
    while await worker.run_round(block_ms=50):
        pass
    await client.aclose()
    return worker.processed


def verify_cli(services: Services, attempt_id: UUID) -> subprocess.CompletedProcess[str]:
    """``exam-engine evidence verify ATTEMPT``, as an operator runs it (in Russian): the test's
    database, data directory and secret, nothing else of the test's environment."""
    env = {
        "EXAM_DATABASE_URL": services.settings.database_url,
        "EXAM_DATA_DIR": str(services.settings.data_dir),
        "EXAM_SECRET_KEY": SECRET,
        "PATH": "/usr/bin:/bin",
        "EXAM_LANG": "ru",
    }
    return subprocess.run(
        [sys.executable, "-m", "exam_engine.cli", "evidence", "verify", str(attempt_id)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
