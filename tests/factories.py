"""Building a small academic world through the real services (no fixtures in SQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from exam_engine.app import build_app
from exam_engine.bootstrap import Services
from exam_engine.domain.actors import cli_actor
from exam_engine.domain.roles import Role
from exam_engine.services import assignments, catalog, users
from question_bank import api as bank_api
from question_bank.model import Item

ADMIN = cli_actor("tests")
PASSWORD = "correct horse battery staple"


def make_items(count: int, *, language: str = "kk", options: int = 5, prefix: str = "Сұрақ") -> tuple[Item, ...]:
    """Items whose key is always the option text starting with 'KEY'."""
    return tuple(
        Item(
            text=f"{prefix} {language} {n}?",
            options=tuple([f"KEY {n}"] + [f"distractor {n}.{k}" for k in range(1, options)]),
            correct=0,
            number=n,
        )
        for n in range(1, count + 1)
    )


@dataclass
class World:
    exam_id: int
    students: list[str]
    bank_versions: dict[str, int]
    items: dict[str, tuple[Item, ...]] = field(default_factory=dict)


async def assign_proctor(services: Services, login: str, exam_id: int | None = None) -> None:
    """Assign the proctor ``login`` to the exam (None: to every exam scheduled so far), as the
    academic administration does: a proctor acts only on the exams they are assigned to."""
    from sqlalchemy import select

    from exam_engine.tables import exams

    async with services.engine.begin() as conn:
        ids = [exam_id] if exam_id is not None else list((await conn.execute(select(exams.c.id))).scalars())
        for one in ids:
            current = [p["login"] for p in await assignments.proctors_of(conn, one)]
            await assignments.set_exam_proctors(conn, ADMIN, one, [*current, login], now=services.clock.now())


async def make_user(services: Services, login: str, role: Role, *, language: str = "kk") -> int:
    async with services.engine.begin() as conn:
        new = await users.add_user(
            conn,
            ADMIN,
            login=login,
            full_name=f"Test {login}",
            role=role.value,
            language=language,
            password=PASSWORD,
            now=services.clock.now(),
        )
    return new.id


async def make_world(
    services: Services,
    *,
    students: int = 2,
    question_count: int = 5,
    bank_size: int = 10,
    duration_s: int = 1200,
    window_s: int = 8 * 3600,
    opens_in_s: int = -60,
    policy: str = "unsatisfactory",
    languages: tuple[str, ...] = ("kk",),
    pass_score: int = 50,
    student_language: str = "kk",
    requires_proctoring: bool = False,
) -> World:
    now = services.clock.now()
    logins = [f"student{i}" for i in range(1, students + 1)]
    async with services.engine.begin() as conn:
        fac = await catalog.ensure_faculty(conn, ADMIN, code="F1", name="Faculty", now=now)
        grp = await catalog.ensure_group(conn, ADMIN, code="G1", faculty_id=fac, now=now)
        await catalog.add_discipline(conn, ADMIN, code="LAW-101", name="Law", credits=5, now=now)
        await catalog.add_exam_session(
            conn, ADMIN, code="S1", name="Winter", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31), now=now
        )
        versions: dict[str, int] = {}
        all_items: dict[str, tuple[Item, ...]] = {}
        for lang in languages:
            items = make_items(bank_size, language=lang)
            info = await bank_api.add_version(
                conn,
                discipline_code="LAW-101",
                language=lang,
                items=items,
                source_name="test",
                created_by="tests",
                now=now,
                publish=True,
            )
            versions[lang] = info.id
            all_items[lang] = items
        for login in logins:
            new = await users.add_user(
                conn,
                ADMIN,
                login=login,
                full_name=f"Student {login}",
                role="student",
                language=student_language,
                password=PASSWORD,
                now=now,
            )
            await catalog.add_member(conn, ADMIN, group_id=grp, user_id=new.id, role=Role.STUDENT, now=now)
        exam_id = await catalog.add_exam(
            conn,
            ADMIN,
            catalog.ExamSpec(
                title="Law exam",
                discipline_code="LAW-101",
                session_code="S1",
                group_codes=["G1"],
                bank_versions=versions,
                question_count=question_count,
                duration_s=duration_s,
                opens_at=now + timedelta(seconds=opens_in_s),
                closes_at=now + timedelta(seconds=opens_in_s + window_s),
                timeout_policy=policy,
                pass_score=pass_score,
                requires_proctoring=requires_proctoring,
            ),
            now=now,
        )
    return World(exam_id=exam_id, students=logins, bank_versions=versions, items=all_items)


class Api:
    """A signed-in browser-like client: cookie jar plus the CSRF header."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf: str | None = None

    async def login(self, login: str, password: str = PASSWORD) -> dict[str, Any]:
        resp = await self.client.post("/api/v1/auth/login", json={"login": login, "password": password})
        body = await resp.json()
        assert resp.status == 200, body
        self.csrf = body["csrf_token"]
        return body

    def _headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf} if self.csrf else {}

    async def call(self, method: str, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        resp = await self.client.request(method, path, json=json, headers=self._headers(), **kw)
        ctype = resp.headers.get("Content-Type", "")
        body = await resp.json() if "json" in ctype else await resp.text()
        return resp.status, body


async def start_exam(api: Api, login: str, exam_id: int) -> dict[str, Any]:
    """Sign ``login`` in on ``api`` and start the exam as that student: the start's answer (its
    ``attempt``), asserted to be a 200."""
    await api.login(login)
    status, started = await api.call("POST", f"/api/v1/exams/{exam_id}/start", json={})
    assert status == 200, started
    return started


async def open_client(services: Services, *, run_sweeper: bool = False) -> TestClient:
    from aiohttp import CookieJar

    app = build_app(services, run_sweeper=run_sweeper)
    client = TestClient(TestServer(app), cookie_jar=CookieJar(unsafe=True))
    await client.start_server()
    return client


async def new_api(client: TestClient) -> Api:
    """A second browser against the same server (its own cookie jar)."""
    from aiohttp import ClientSession, CookieJar

    session = ClientSession(base_url=str(client.make_url("")), cookie_jar=CookieJar(unsafe=True))
    return Api(_SessionClient(session))  # type: ignore[arg-type]


class _SessionClient:
    def __init__(self, session: Any) -> None:
        self.session = session

    async def post(self, path: str, **kw: Any) -> Any:
        return await self.session.post(path, **kw)

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        return await self.session.request(method, path, **kw)

    async def close(self) -> None:
        await self.session.close()


async def stored_choices(services: Services, attempt_id: Any) -> dict[int, int | None]:
    """What the database holds for an attempt: position -> choice."""
    from sqlalchemy import select

    from exam_engine.tables import answers

    async with services.engine.connect() as conn:
        rows = await conn.execute(
            select(answers.c.position, answers.c.choice).where(answers.c.attempt_id == attempt_id)
        )
        return {r.position: r.choice for r in rows}
