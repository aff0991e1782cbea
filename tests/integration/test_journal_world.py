"""A small journal world for the journal's integration tests, and its basic sanity checks.

The other ``test_journal_*`` modules build on :func:`make_journal_world`: an exam for
group G1 in discipline LAW-101 (from ``tests.factories.make_world``), a journal for it,
its teacher, a second teacher who is not assigned, a substitute, a faculty head, a deputy
head, an academic admin, the quality department and a system administrator.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update

from exam_engine.bootstrap import Services
from exam_engine.domain.actors import Actor
from exam_engine.domain.roles import Role
from exam_engine.i18n import translate
from exam_engine.services import assignments, relay
from exam_engine.services import attempts as attempt_service
from exam_engine.tables import attempt_items, users
from exam_engine.web.api_journal import audit_sink, roster
from journal_bridge import api as journal
from tests.factories import ADMIN, World, make_user, make_world

PERIOD = "2025-2026-2"
PERIOD_CLOSES = datetime(2026, 7, 1, tzinfo=timezone(timedelta(hours=5)))
# Names that hold every Kazakh-specific letter: ә ғ қ ң ө ұ ү һ і.
KAZAKH_NAMES = [
    "Үмбетова Іңкәр",
    "Ғабитұлы Әлішер",
    "Һадиева Өміржан",
    "Ұланов Ерсұлтан",
    "Аманов Қуаныш",
    "Ибраева Дана",
]
STAFF = {
    "teacher1": Role.TEACHER,
    "teacher2": Role.TEACHER,
    "sub1": Role.TEACHER,
    "dean": Role.FACULTY_HEAD,
    "deputy": Role.DEPUTY_HEAD,
    "admin1": Role.ACADEMIC_ADMIN,
    "quality1": Role.QUALITY,
    "root1": Role.SYSADMIN,
}


@dataclass
class JournalWorld:
    world: World
    journal_id: int
    ids: dict[str, int]  # login -> user id

    def student_ids(self) -> list[int]:
        return [self.ids[s] for s in self.world.students]


async def make_journal_world(
    services: Services, *, students: int = 3, question_count: int = 5, bank_size: int = 10
) -> JournalWorld:
    world = await make_world(services, students=students, question_count=question_count, bank_size=bank_size)
    ids = {login: await make_user(services, login, role) for login, role in STAFF.items()}
    now = services.clock.now()
    async with services.engine.begin() as conn:
        for n, login in enumerate(world.students):
            await conn.execute(
                update(users).where(users.c.login == login).values(full_name=KAZAKH_NAMES[n % len(KAZAKH_NAMES)])
            )
        rows = await conn.execute(select(users.c.login, users.c.id).where(users.c.login.in_(world.students)))
        ids.update({r.login: r.id for r in rows})
        sink = audit_sink(conn, now, ADMIN)
        journal_id = await journal.create_journal(
            conn,
            group_code="G1",
            discipline_code="LAW-101",
            period_code=PERIOD,
            period_closes_at=PERIOD_CLOSES,
            institution="Қостанай академиясы",
            by=ADMIN.label,
            now=now,
            audit=sink,
        )
        await journal.assign_teacher(conn, journal_id, str(ids["teacher1"]), by=ADMIN.label, now=now, audit=sink)
        await assignments.set_faculty_head(conn, ADMIN, "dean", "F1", now=now)  # G1's faculty (issue 19)
    return JournalWorld(world, journal_id, ids)


def student(jw: JournalWorld, login: str) -> Actor:
    return Actor(user_id=jw.ids[login], login=login, role=Role.STUDENT)


async def sit_exam(
    services: Services, jw: JournalWorld, login: str, *, correct: int = 0, submit: bool = True
) -> uuid.UUID:
    """Start the exam as ``login``, answer ``correct`` questions right, and hand it in."""
    actor = student(jw, login)
    async with services.engine.begin() as conn:
        attempt_id = await attempt_service.start(
            conn, actor, jw.world.exam_id, language=None, now=services.clock.now(), bank_cache=services.bank_cache
        )
        keys = (
            await conn.execute(
                select(attempt_items.c.position, attempt_items.c.key_index)
                .where(attempt_items.c.attempt_id == attempt_id)
                .order_by(attempt_items.c.position)
            )
        ).all()
        for seq, k in enumerate(keys[:correct], start=1):
            await attempt_service.save_answer(
                conn, actor, attempt_id, k.position, k.key_index, seq, now=services.clock.now(), grace_s=1
            )
    if submit:
        async with services.engine.begin() as conn:
            await attempt_service.submit(conn, actor, attempt_id, now=services.clock.now(), grace_s=1)
    return attempt_id


async def relay_now(services: Services) -> relay.RelayReport:
    return await relay.relay_once(services.engine, relay.bridge_keys(services.settings), services.clock)


async def release_exam(services: Services, jw: JournalWorld) -> None:
    """Mark the exam's results released by the gate (as the quality department or a final, unflagged
    analysis would), for tests of delivery itself (issue 25: otherwise results wait until final)."""
    from exam_engine.hold_tables import exam_release

    async with services.engine.begin() as conn:
        await conn.execute(
            exam_release.insert().values(
                exam_id=jw.world.exam_id,
                state="released",
                decided_at=services.clock.now(),
                attempts=0,
                flagged=[],
                released_at=services.clock.now(),
                released_by="tests",
            )
        )


async def rows(services: Services, stmt: Any) -> list[Any]:
    async with services.engine.connect() as conn:
        return list((await conn.execute(stmt)).all())


# ------------------------------------------------------------------------------------ sanity


async def test_a_new_journal_lists_its_group_in_kazakh_order_with_no_totals_yet(services):
    jw = await make_journal_world(services, students=4)
    async with services.engine.connect() as conn:
        found = await journal.load_journal(conn, jw.journal_id)
        grid = await journal.grid(conn, found, await roster(conn, found), language="kk", translate=translate)
    names = [s["full_name"] for s in grid["students"]]
    assert names == ["Ғабитұлы Әлішер", "Ұланов Ерсұлтан", "Үмбетова Іңкәр", "Һадиева Өміржан"]
    assert {s["status"] for s in grid["students"]} == {"admission_pending"}
    assert grid["journal"]["teachers"] == [str(jw.ids["teacher1"])]
