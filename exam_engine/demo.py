"""``exam-engine demo``: a working exam on the embedded default, in one command.

Creates (once) a faculty, a group, one account per role, two disciplines with a
small Kazakh and Russian bank each, a journal per discipline kept by the demo
teacher (exam results flow into it), and (whenever none is open) two exams open
now for eight hours: a plain one and a proctored one, so that every printed
account has something to do. Every run issues fresh one-time passwords for the demo accounts and
prints them, then serves on 127.0.0.1:8080.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from journal_bridge import api as journal_api
from question_bank import api as bank_api

from .bootstrap import Services, build_services
from .config import load_settings
from .demo_bank import DEMO_ITEMS
from .domain.actors import cli_actor
from .domain.roles import Role
from .migrate import upgrade
from .server import serve
from .services import assignments, catalog, users
from .tables import departments, disciplines, exams
from .tables import users as users_table
from .web.api_journal import audit_sink

log = logging.getLogger(__name__)

DISCIPLINE = "DEMO-101"
PROCTORED_DISCIPLINE = "DEMO-102"
PROCTORED_NAME = "Криминалистика (бейнебақылаумен) / Криминалистика (с прокторингом)"
JOURNAL_PERIOD = "DEMO"
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
                new = await users.add_user(
                    conn, actor, login=login, full_name=name, role=role.value, language=lang, now=now
                )
                user_id, otp = new.id, new.one_time_password or ""
            else:
                user_id, otp = int(exists.id), await users.reset_password(conn, actor, login, now=now)
            if role in (Role.STUDENT, Role.TEACHER):
                await catalog.add_member(conn, actor, group_id=group_id, user_id=user_id, role=role, now=now)
            logins.append((login, role.value, otp))
        if (await conn.execute(select(disciplines.c.id).where(disciplines.c.code == DISCIPLINE))).first() is None:
            await catalog.add_discipline(
                conn, actor, code=DISCIPLINE, name="Құқық негіздері / Основы права", credits=5, now=now
            )
        versions = {v.language: v.id for v in await bank_api.list_versions(conn, DISCIPLINE) if v.status == "published"}
        for lang, items in DEMO_ITEMS.items():
            if lang not in versions:
                info = await bank_api.add_version(
                    conn,
                    discipline_code=DISCIPLINE,
                    language=lang,
                    items=items,
                    source_name="демо",
                    created_by=actor.label,
                    now=now,
                    publish=True,
                )
                versions[lang] = info.id
        if (
            await conn.execute(select(disciplines.c.id).where(disciplines.c.code == PROCTORED_DISCIPLINE))
        ).first() is None:
            await catalog.add_discipline(
                conn, actor, code=PROCTORED_DISCIPLINE, name=PROCTORED_NAME, credits=5, now=now
            )
        proctored_versions = {
            v.language: v.id
            for v in await bank_api.list_versions(conn, PROCTORED_DISCIPLINE)
            if v.status == "published"
        }
        for lang, items in DEMO_ITEMS.items():
            if lang not in proctored_versions:
                info = await bank_api.add_version(
                    conn,
                    discipline_code=PROCTORED_DISCIPLINE,
                    language=lang,
                    items=items,
                    source_name="демо",
                    created_by=actor.label,
                    now=now,
                    publish=True,
                )
                proctored_versions[lang] = info.id
        await _ensure_exams(conn, actor, now, versions, proctored_versions)
        await _assign(conn, actor, now)
        teacher_id = (await conn.execute(select(users_table.c.id).where(users_table.c.login == "teacher"))).scalar()
        await _ensure_journals(conn, actor, now, str(teacher_id))
    return logins


async def _open_exam(conn: Any, discipline_code: str, now: Any) -> bool:
    found = await conn.execute(
        select(exams.c.id)
        .select_from(exams.join(disciplines, disciplines.c.id == exams.c.discipline_id))
        .where(
            disciplines.c.code == discipline_code,
            exams.c.opens_at <= now,
            exams.c.closes_at > now + timedelta(minutes=30),
        )
    )
    return found.first() is not None


async def _ensure_exams(
    conn: Any, actor: Any, now: Any, versions: dict[str, int], proctored_versions: dict[str, int]
) -> None:
    """Two exams open now for eight hours: a plain one and a proctored one (camera, microphone, screen), so
    the students have both kinds and the proctor has a proctored exam on the exam-day page."""
    wanted = [
        (DISCIPLINE, "Құқық негіздері — емтихан / Основы права — экзамен", versions, False),
        (PROCTORED_DISCIPLINE, f"{PROCTORED_NAME} — емтихан / экзамен", proctored_versions, True),
    ]
    missing = [w for w in wanted if not await _open_exam(conn, w[0], now)]
    if not missing:
        return
    code = f"DEMO-{now:%Y%m%d-%H%M%S}"
    await catalog.add_exam_session(
        conn,
        actor,
        code=code,
        name="Демо сессиясы",
        starts_on=now.date(),
        ends_on=now.date() + timedelta(days=1),
        now=now,
    )
    for discipline, title, pinned, proctored in missing:
        await catalog.add_exam(
            conn,
            actor,
            catalog.ExamSpec(
                title=title,
                discipline_code=discipline,
                session_code=code,
                group_codes=[GROUP],
                bank_versions=pinned,
                question_count=5,
                duration_s=20 * 60,
                opens_at=now - timedelta(minutes=1),
                closes_at=now + timedelta(hours=8),
                requires_proctoring=proctored,
            ),
            now=now,
        )


async def _assign(conn: Any, actor: Any, now: Any) -> None:
    """Authority is data (issue 19): the demo's proctor watches both demo exams, its faculty head heads
    the demo faculty, its head of department heads the department that teaches the disciplines."""
    for exam_id in (
        await conn.execute(
            select(exams.c.id).join(disciplines).where(disciplines.c.code.in_([DISCIPLINE, PROCTORED_DISCIPLINE]))
        )
    ).scalars():
        watching = [p["login"] for p in await assignments.proctors_of(conn, exam_id)]
        if "proctor" not in watching:
            await assignments.set_exam_proctors(conn, actor, exam_id, [*watching, "proctor"], now=now)
    await assignments.set_faculty_head(conn, actor, "faculty_head", FACULTY, now=now)
    if (await conn.execute(select(departments.c.id).where(departments.c.code == DEPARTMENT))).first() is None:
        await assignments.add_department(
            conn, actor, code=DEPARTMENT, name="Құқық кафедрасы / Кафедра права", faculty_code=FACULTY, now=now
        )
    await assignments.set_department_head(conn, actor, "dephead", DEPARTMENT, now=now)
    for discipline in (DISCIPLINE, PROCTORED_DISCIPLINE):
        await assignments.set_discipline_department(conn, actor, discipline, DEPARTMENT, now=now)


async def _ensure_journals(conn: Any, actor: Any, now: Any, teacher_id: str) -> None:
    """A journal per demo discipline with the demo teacher assigned: the exam results flow into it."""
    existing = {(j.group_code, j.discipline_code) for j in await journal_api.load_journals(conn)}
    for discipline in (DISCIPLINE, PROCTORED_DISCIPLINE):
        if (GROUP, discipline) in existing:
            continue
        journal_id = await journal_api.create_journal(
            conn,
            group_code=GROUP,
            discipline_code=discipline,
            period_code=JOURNAL_PERIOD,
            period_closes_at=now + timedelta(days=120),
            institution="Демо академиясы / Демо академия",
            by=actor.label,
            now=now,
            audit=audit_sink(conn, now, actor),
        )
        await journal_api.assign_teacher(
            conn, journal_id, teacher_id, by=actor.label, now=now, audit=audit_sink(conn, now, actor)
        )


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
