"""Whose journal holds a transferred student's exam result: the group they sat it in (J11, J8).

A student sits the exam in group G1 and is transferred to G2 afterwards; both groups keep a journal
of the discipline. The result showed in both journals (G1 lists everyone with an entry, G2 its current
members, and results were matched by student and discipline only), with two totals from two
admission ratings. Now it belongs to the journal of the group at the time of the exam: G1 keeps it
(and its statement), G2 lists the student without it, the student's own page shows it under G1.
"""

from __future__ import annotations

from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.services import catalog
from exam_engine.tables import groups
from exam_engine.web.api_journal import audit_sink
from journal_bridge import api as journal
from tests.factories import ADMIN, new_api, open_client
from tests.integration.test_journal_world import PERIOD, PERIOD_CLOSES, make_journal_world, relay_now, sit_exam


async def _journal_of_g2(services, jw) -> int:  # type: ignore[no-untyped-def]
    now = services.clock.now()
    async with services.engine.begin() as conn:
        faculty = (await conn.execute(select(groups.c.faculty_id).where(groups.c.code == "G1"))).scalar()
        await catalog.ensure_group(conn, ADMIN, code="G2", faculty_id=faculty, now=now)
        return await journal.create_journal(
            conn,
            group_code="G2",
            discipline_code="LAW-101",
            period_code=PERIOD,
            period_closes_at=PERIOD_CLOSES,
            institution="Қостанай академиясы",
            by=ADMIN.label,
            now=now,
            audit=audit_sink(conn, now, ADMIN),
        )


async def _transfer(services, jw, login: str) -> None:  # type: ignore[no-untyped-def]
    async with services.engine.begin() as conn:
        g2 = (await conn.execute(select(groups.c.id).where(groups.c.code == "G2"))).scalar_one()
        await catalog.add_member(
            conn, ADMIN, group_id=g2, user_id=jw.ids[login], role=Role.STUDENT, now=services.clock.now()
        )


async def _read(services, jw, g2_journal: int):  # type: ignore[no-untyped-def]
    client = await open_client(services)
    try:
        admin = await new_api(client)
        await admin.login("admin1")
        grids = {}
        for name, journal_id in (("G1", jw.journal_id), ("G2", g2_journal)):
            status, body = await admin.call("GET", f"/api/v1/journals/{journal_id}")
            assert status == 200, body
            grids[name] = {s["id"]: s for s in body["students"]}
        await admin.client.close()
        me = await new_api(client)
        await me.login("student1")
        status, mine = await me.call("GET", "/api/v1/student/results")
        assert status == 200, mine
        await me.client.close()
    finally:
        await client.close()
    return grids, mine["items"]


async def test_a_result_sat_before_a_transfer_stays_in_the_old_groups_journal_only(services):
    jw = await make_journal_world(services, students=2)
    g2_journal = await _journal_of_g2(services, jw)
    await sit_exam(services, jw, "student1", correct=5)
    await sit_exam(services, jw, "student2", correct=3)
    services.clock.advance(60)
    await _transfer(services, jw, "student1")  # after the exam, before the results go out
    services.clock.advance(8 * 3600)
    assert (await relay_now(services)).delivered == 2
    grids, mine = await _read(services, jw, g2_journal)
    me = str(jw.ids["student1"])
    assert grids["G1"][me]["exam"]["score"] == 100  # sat in G1: G1's journal and statement keep it
    assert me in grids["G2"] and grids["G2"][me]["exam"] is None  # listed in G2 (a member now), without it
    shown = [(item["journal"]["group"], item["exam"]["score"] if item["exam"] else None) for item in mine]
    assert ("G1", 100) in shown and ("G2", 100) not in shown


async def test_an_exam_sat_after_the_transfer_belongs_to_the_new_group(services):
    jw = await make_journal_world(services, students=2)
    g2_journal = await _journal_of_g2(services, jw)
    async with services.engine.begin() as conn:  # the exam is G2's too (the student sits it there)
        from exam_engine.tables import exam_groups

        g2 = (await conn.execute(select(groups.c.id).where(groups.c.code == "G2"))).scalar_one()
        await conn.execute(exam_groups.insert().values(exam_id=jw.world.exam_id, group_id=g2))
    await _transfer(services, jw, "student1")
    services.clock.advance(60)
    await sit_exam(services, jw, "student1", correct=5)
    await sit_exam(services, jw, "student2", correct=3)
    services.clock.advance(8 * 3600)
    assert (await relay_now(services)).delivered == 2
    grids, mine = await _read(services, jw, g2_journal)
    me = str(jw.ids["student1"])
    assert grids["G2"][me]["exam"]["score"] == 100
    assert me not in grids["G1"]  # no entry in G1 and not a member: not listed there
    assert [(i["journal"]["group"], i["exam"]["score"]) for i in mine] == [("G2", 100)]
