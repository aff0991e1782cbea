"""Fixtures of the attacker's tests: a live server with a student mid-exam and an admin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from exam_engine.domain.roles import Role
from tests.attack.live import LiveServer, Session, live_server
from tests.factories import World, make_user, make_world


@dataclass
class Scene:
    server: LiveServer
    world: World
    student: Session
    other_student: Session
    admin: Session
    attempt_id: str
    other_attempt_id: str


@pytest.fixture
def scene_env() -> dict[str, str]:
    """Settings of the live server beyond the tests' own (a test module overrides this fixture)."""
    return {}


@pytest.fixture
def scene(pg_database: str, redis_url: str, tmp_path, scene_env: dict[str, str]) -> Iterator[Scene]:
    import requests

    server = live_server(pg_database, redis_url, str(tmp_path), **scene_env)
    try:
        world = server.run(lambda: make_world(server.services, students=2, question_count=5))
        server.run(lambda: make_user(server.services, "admin1", Role.ACADEMIC_ADMIN))
        student, other = server.sign_in(world.students[0]), server.sign_in(world.students[1])
        attempts = []
        for who in (student, other):
            resp = requests.post(
                f"{server.url}/api/v1/exams/{world.exam_id}/start",
                json={},
                cookies=who.cookies,
                headers=who.headers,
                timeout=30,
            )
            assert resp.status_code == 200, resp.text
            attempts.append(resp.json()["attempt"]["id"])
        yield Scene(server, world, student, other, server.sign_in("admin1"), attempts[0], attempts[1])
    finally:
        server.stop()
