"""``exam-engine demo``: a working exam on the embedded default, in one command.

Creates (once) a faculty, a group, one account per role, a discipline with a
small Kazakh and Russian bank, and (whenever none is open) an exam open now for
eight hours. Every run issues fresh one-time passwords for the demo accounts and
prints them, then serves on 127.0.0.1:8080.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from question_bank import api as bank_api

from .bootstrap import Services, build_services
from .config import load_settings
from .domain.actors import cli_actor
from .domain.roles import Role
from .migrate import upgrade
from .server import serve
from .services import assignments, catalog, users
from .tables import departments, disciplines, exams, users as users_table
from .demo_bank import DEMO_ITEMS

log = logging.getLogger(__name__)

DISCIPLINE = "DEMO-101"
GROUP = "DEMO-G1"
FACULTY = "DEMO-F"
DEPARTMENT = "DEMO-D"
ACCOUNTS: list[tuple[str, Role, str, str]] = [
    ("student1", Role.STUDENT, "Әлібек Қанатұлы Нұрланов", "kk"),
    ("student2", Role.STUDENT, "Иван Петрович Сидоров", "ru"),
    ("student3", Role.STUDENT, "Гүлназ Серікқызы Өмірбаева", "kk"),
    ("teacher", Role.TEACHER, "Бекзат Оралұлы Жұмабаев", "kk"),
    ("proctor", Role.PROCTOR, "Айгүл Ержанқызы Сәтбаева", "kk"),
    ("quality", Role.QUALITY, "Мария Сергеевна Ким", "ru"),
    ("methodologist", Role.METHODOLOGIST, "Дәурен Асқарұлы Ахметов", "kk"),
    ("dephead", Role.DEPARTMENT_HEAD, "Нұргүл Болатқызы Есенова", "kk"),
    ("faculty_head", Role.FACULTY_HEAD, "Серік Маратұлы Байжанов", "kk"),
    ("deputy", Role.DEPUTY_HEAD, "Ольга Николаевна Ли", "ru"),
    ("admin", Role.ACADEMIC_ADMIN, "Ерлан Тимурұлы Қасымов", "kk"),
    ("sysadmin", Role.SYSADMIN, "Тимур Ринатович Галиев", "ru"),
]


async def seed(services: Services) -> list[tuple[str, str, str]]:
    """Create what is missing; return (login, role, one-time password) for every demo account."""
    actor = cli_actor("demo")
    now = services.clock.now()
    logins: list[tuple[str, str, str]] = []
    async with services.engine.begin() as conn:
        faculty_id = await catalog.ensure_faculty(conn, actor, code=FACULTY, name="Демо факультеті", now=now)
        group_id = await catalog.ensure_group(conn, actor, code=GROUP, faculty_id=faculty_id, now=now)
        for login, role, name, lang in ACCOUNTS:
            exists = (await conn.execute(select(users_table.c.id).where(users_table.c.login == login))).first()
            if exists is None:
                new = await users.add_user(conn, actor, login=login, full_name=name, role=role.value, language=lang,
                                           now=now)
                user_id, otp = new.id, new.one_time_password or ""
            else:
                user_id, otp = int(exists.id), await users.reset_password(conn, actor, login, now=now)
            if role in (Role.STUDENT, Role.TEACHER):
                await catalog.add_member(conn, actor, group_id=group_id, user_id=user_id, role=role, now=now)
            logins.append((login, role.value, otp))
        if (await conn.execute(select(disciplines.c.id).where(disciplines.c.code == DISCIPLINE))).first() is None:
            await catalog.add_discipline(conn, actor, code=DISCIPLINE, name="Құқық негіздері / Основы права",
                                         credits=5, now=now)
        versions = {v.language: v.id for v in await bank_api.list_versions(conn, DISCIPLINE) if v.status == "published"}
        for lang, items in DEMO_ITEMS.items():
            if lang not in versions:
                info = await bank_api.add_version(conn, discipline_code=DISCIPLINE, language=lang, items=items,
                                                  source_name="demo", created_by=actor.label, now=now, publish=True)
                versions[lang] = info.id
        open_now = (await conn.execute(
            select(exams.c.id).where(exams.c.opens_at <= now, exams.c.closes_at > now + timedelta(minutes=30))
        )).first()
        if open_now is None:
            code = f"DEMO-{now:%Y%m%d-%H%M%S}"
            await catalog.add_exam_session(conn, actor, code=code, name="Демо сессиясы", starts_on=now.date(),
                                           ends_on=now.date() + timedelta(days=1), now=now)
            await catalog.add_exam(conn, actor, catalog.ExamSpec(
                title="Құқық негіздері — емтихан / Основы права — экзамен", discipline_code=DISCIPLINE,
                session_code=code, group_codes=[GROUP], bank_versions=versions, question_count=5,
                duration_s=20 * 60, opens_at=now - timedelta(minutes=1), closes_at=now + timedelta(hours=8),
            ), now=now)
        await _assign(conn, actor, now)
    return logins


async def _assign(conn: Any, actor: Any, now: Any) -> None:
    """Authority is data (issue 19): the demo's proctor watches the demo's exams, its faculty head
    heads the demo faculty, its head of department heads the department that teaches the discipline."""
    for exam_id in (await conn.execute(select(exams.c.id).join(disciplines).where(
            disciplines.c.code == DISCIPLINE))).scalars():
        watching = [p["login"] for p in await assignments.proctors_of(conn, exam_id)]
        if "proctor" not in watching:
            await assignments.set_exam_proctors(conn, actor, exam_id, [*watching, "proctor"], now=now)
    await assignments.set_faculty_head(conn, actor, "faculty_head", FACULTY, now=now)
    if (await conn.execute(select(departments.c.id).where(departments.c.code == DEPARTMENT))).first() is None:
        await assignments.add_department(conn, actor, code=DEPARTMENT, name="Құқық кафедрасы / Кафедра права",
                                         faculty_code=FACULTY, now=now)
    await assignments.set_department_head(conn, actor, "dephead", DEPARTMENT, now=now)
    await assignments.set_discipline_department(conn, actor, DISCIPLINE, DEPARTMENT, now=now)


async def prepare(settings_env: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    services = build_services(load_settings(settings_env))
    try:
        await upgrade(services.engine)
        return await seed(services)
    finally:
        await services.close()


def run_demo(*, host: str | None = None, port: int | None = None) -> int:
    settings = load_settings()
    logins = asyncio.run(prepare())
    host = host or settings.host
    port = port or settings.port
    print("\nexam-engine demo — one-time passwords for this run:\n")
    for login, role, otp in logins:
        print(f"  {login:<14} {role:<16} {otp}")
    print(f"\nOpen http://{host}:{port}/  (API: http://{host}:{port}/api/v1/openapi.json)\n", flush=True)
    return serve(host=host, port=port, settings=settings)
