"""The autosave's group-commit path on PostgreSQL, against the general path it falls back to.

On PostgreSQL an ordinary save is written by one autocommit statement with the saves that
waited with it (services/fast_save.py, issue 24);
anything unusual goes through the general path, which decides and words the refusal.
These tests check that the fast path only ever stores what the rules allow, that its
receipts are the same as the general path's, and that it cannot slip an answer past
finalisation.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from exam_engine.exam_day_tables import attempt_live
from exam_engine.observability import AUTOSAVES
from exam_engine.services.attempts import answer_digest
from exam_engine.tables import answers, attempt_items, attempts, auth_sessions, users
from tests.factories import Api, make_world, open_client

pytestmark = pytest.mark.parametrize("backend", ["postgres"])  # the fast path exists on PostgreSQL only


def _count(path: str) -> float:
    return AUTOSAVES.labels(path=path)._value.get()


async def _started(services, client, login: str = "student1") -> tuple[Api, dict]:
    world = await make_world(services, question_count=5, duration_s=600)
    api = Api(client)
    await api.login(login)
    status, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
    assert status == 200, started
    return api, started


async def _started_binding(services) -> tuple[uuid.UUID, int, str]:
    """A started attempt's id, its student and the session it is bound to."""
    client = await open_client(services)
    try:
        _, started = await _started(services, client)
    finally:
        await client.close()
    aid = uuid.UUID(started["attempt"]["id"])
    async with services.engine.connect() as conn:
        student_id, session = (
            await conn.execute(
                select(attempts.c.student_id, attempt_live.c.bound_session)
                .join(attempt_live, attempt_live.c.attempt_id == attempts.c.id)
                .where(attempts.c.id == aid)
            )
        ).one()
    return aid, student_id, session


async def _stored(services, attempt_id: str) -> dict[int, tuple]:
    async with services.engine.connect() as conn:
        rows = await conn.execute(
            select(answers.c.position, answers.c.choice, answers.c.seq, answers.c.saved_at).where(
                answers.c.attempt_id == uuid.UUID(attempt_id)
            )
        )
        return {r.position: (r.choice, r.seq, r.saved_at) for r in rows}


async def test_an_ordinary_save_takes_one_statement_and_its_receipt_matches_the_stored_row(services, clock):
    assert services.fast_saves is not None
    client = await open_client(services)
    try:
        api, started = await _started(services, client)
        aid = started["attempt"]["id"]
        fast, general = _count("fast"), _count("general")
        status, receipt = await api.call("PUT", f"/api/v1/attempts/{aid}/answers/2", {"choice": 3, "seq": 5})
        assert status == 200, receipt
        assert _count("fast") == fast + 1 and _count("general") == general
        # A replay with an older sequence number is not applied; the general path reports what is stored.
        status, replay = await api.call("PUT", f"/api/v1/attempts/{aid}/answers/2", {"choice": 1, "seq": 4})
        assert status == 200 and _count("general") == general + 1
        clearing = await api.call("PUT", f"/api/v1/attempts/{aid}/answers/3", {"choice": None, "seq": 6})
    finally:
        await client.close()
    stored = await _stored(services, aid)
    choice, seq, saved_at = stored[2]
    assert (choice, seq) == (3, 5) and receipt["applied"] is True
    assert receipt["saved_at"] == saved_at.isoformat() == clock.now().isoformat()
    assert receipt["digest"] == answer_digest(uuid.UUID(aid), 2, 3, 5, saved_at)
    assert replay["applied"] is False and (replay["choice"], replay["seq"]) == (3, 5)
    assert replay["digest"] == receipt["digest"]
    assert clearing[0] == 200 and stored[3][:2] == (None, 6)


@pytest.mark.parametrize(
    "case",
    [
        "other_student",
        "other_session",
        "paused",
        "no_such_choice",
        "no_such_position",
        "after_deadline",
        "finished",
        "negative_choice",
    ],
)
async def test_the_one_statement_path_stores_nothing_the_rules_refuse(services, clock, case):
    aid, student_id, session = await _started_binding(services)
    async with services.engine.begin() as conn:
        other_student = (await conn.execute(select(users.c.id).where(users.c.login == "student2"))).scalar_one()
        if case == "paused":
            await conn.execute(
                update(attempt_live).where(attempt_live.c.attempt_id == aid).values(paused_at=clock.now())
            )
        if case == "finished":
            await conn.execute(update(attempts).where(attempts.c.id == aid).values(status="submitted"))
        options = (
            await conn.execute(
                select(attempt_items.c.options)
                .where(attempt_items.c.attempt_id == aid)
                .where(attempt_items.c.position == 1)
            )
        ).scalar_one()
    args = dict(
        student_id=student_id,
        attempt_id=aid,
        position=1,
        choice=0,
        seq=1,
        now=clock.now(),
        grace_s=1.0,
        session=session,
    )
    # The same save with nothing wrong is stored: each case differs from it in one thing only.
    changed = {
        "other_student": {"student_id": other_student},
        "other_session": {"session": "0" * 64},
        "paused": {},
        "finished": {},
        "no_such_choice": {"choice": len(options)},
        "negative_choice": {"choice": -1},
        "no_such_position": {"position": 6},
        "after_deadline": {"now": clock.now() + timedelta(seconds=600 + 1.001)},
    }[case]
    assert await services.fast_saves.save(**{**args, **changed}) is None
    assert await _stored(services, str(aid)) == {}
    if case in ("paused", "finished"):
        return
    saved_at = await services.fast_saves.save(**args)
    assert saved_at == clock.now() and (await _stored(services, str(aid)))[1][:2] == (0, 1)


async def test_the_deadline_grace_is_the_same_on_both_paths(services, clock):
    """The last instant the general path accepts (deadline + grace) is accepted by the fast path too."""
    client = await open_client(services)
    try:
        api, started = await _started(services, client)
        aid = started["attempt"]["id"]
        clock.advance(600 + 1.0)  # exactly deadline + grace: still accepted
        fast = _count("fast")
        status, body = await api.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 1, "seq": 1})
        assert status == 200 and body["applied"] is True and _count("fast") == fast + 1
        clock.advance(0.001)
        status, body = await api.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 2, "seq": 2})
        assert status == 409 and body["error"]["code"] == "deadline_passed", body
    finally:
        await client.close()


async def test_no_acknowledged_answer_is_left_out_of_the_grade_when_saves_race_the_submit(services):
    """Fifty saves in flight while the student hands in: each is either graded or refused, never lost."""
    client = await open_client(services)
    try:
        api, started = await _started(services, client)
        aid = started["attempt"]["id"]
        saves = [
            api.call("PUT", f"/api/v1/attempts/{aid}/answers/{1 + i % 5}", {"choice": i % 4, "seq": i + 1})
            for i in range(50)
        ]
        results = await asyncio.gather(*saves[:25], api.call("POST", f"/api/v1/attempts/{aid}/submit"), *saves[25:])
    finally:
        await client.close()
    submitted = results[25]
    assert submitted[0] == 200 and submitted[1]["status"] == "submitted"
    acknowledged = [body for status, body in results[:25] + results[26:] if status == 200]
    refused = [body for status, body in results[:25] + results[26:] if status != 200]
    assert all(b["error"]["code"] == "attempt_finished" for b in refused), refused
    stored = await _stored(services, aid)
    for receipt in acknowledged:  # an acknowledged answer is in the table the grade was computed from
        assert stored[receipt["position"]][1] >= receipt["seq"]
    async with services.engine.connect() as conn:
        keys = dict(
            (
                await conn.execute(
                    select(attempt_items.c.position, attempt_items.c.key_index).where(
                        attempt_items.c.attempt_id == uuid.UUID(aid)
                    )
                )
            ).all()
        )
        graded = (
            await conn.execute(select(attempts.c.correct_count).where(attempts.c.id == uuid.UUID(aid)))
        ).scalar_one()
    assert graded == sum(1 for pos, (choice, _, _) in stored.items() if choice == keys[pos])


async def test_a_hot_route_looks_the_session_up_once_the_cache_forgets_it_and_refuses_a_revoked_one(services, clock):
    client = await open_client(services)
    try:
        api, started = await _started(services, client)
        aid = started["attempt"]["id"]
        services.sessions._entries.clear()  # as after EXAM_SESSION_CACHE_S
        status, receipt = await api.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 1, "seq": 1})
        assert status == 200 and receipt["applied"] is True, receipt
        async with services.engine.begin() as conn:  # signed out in another process
            await conn.execute(update(auth_sessions).values(revoked_at=clock.now()))
        status, cached = await api.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 2, "seq": 2})
        services.sessions._entries.clear()
        status_after, body = await api.call("PUT", f"/api/v1/attempts/{aid}/answers/1", {"choice": 3, "seq": 3})
    finally:
        await client.close()
    assert status == 200  # within the cache's bound the revocation is not seen yet (documented: ≤ 5 s)
    assert status_after == 401 and body["error"]["code"] == "not_signed_in", body
    assert (await _stored(services, aid))[1][:2] == (2, 2)


def _groups() -> tuple[float, float]:
    """(groups written, saves in them) so far: the group-commit histogram's count and sum."""
    from prometheus_client import REGISTRY

    return (
        REGISTRY.get_sample_value("exam_autosave_group_size_count") or 0.0,
        REGISTRY.get_sample_value("exam_autosave_group_size_sum") or 0.0,
    )


async def _two_started(services) -> list[tuple[uuid.UUID, int, str]]:
    """Two students' started attempts in one exam: (attempt id, student id, bound session) each."""
    world = await make_world(services, question_count=5, duration_s=600)
    out = []
    for login in world.students[:2]:
        client = await open_client(services)
        try:
            api = Api(client)
            await api.login(login)
            status, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
            assert status == 200, started
        finally:
            await client.close()
        aid = uuid.UUID(started["attempt"]["id"])
        async with services.engine.connect() as conn:
            out.append(
                tuple(
                    (
                        await conn.execute(
                            select(attempts.c.id, attempts.c.student_id, attempt_live.c.bound_session)
                            .join(attempt_live, attempt_live.c.attempt_id == attempts.c.id)
                            .where(attempts.c.id == aid)
                        )
                    ).one()
                )
            )
    return out


async def test_saves_that_wait_for_a_commit_are_written_together_and_each_gets_its_own_answer(services, clock):
    """One group: two students' saves, one past its deadline, one for a question that does not
    exist, one from another session. The refused ones are answered None (the general path words the refusal); the others
    are stored by the same statement."""
    from exam_engine.services.fast_save import FastSaves

    (a1, s1, k1), (a2, s2, k2) = await _two_started(services)
    fast = FastSaves(services.settings.database_url, size=1, groups=1)
    late = clock.now() + timedelta(seconds=600 + 1.5)  # past deadline + grace
    one = dict(student_id=s1, attempt_id=a1, session=k1, grace_s=1.0)
    two = dict(student_id=s2, attempt_id=a2, session=k2, grace_s=1.0)
    groups, saves = _groups()
    try:
        results = await asyncio.gather(
            fast.save(**one, position=1, choice=1, seq=1, now=clock.now()),
            fast.save(**two, position=1, choice=2, seq=1, now=clock.now()),
            fast.save(**one, position=2, choice=3, seq=2, now=late),  # deadline passed
            fast.save(**two, position=6, choice=0, seq=2, now=clock.now()),  # no such question
            fast.save(**one, position=3, choice=None, seq=3, now=clock.now()),
            fast.save(**two, position=2, choice=4, seq=3, now=clock.now()),
            fast.save(**{**one, "session": 'x", NULL}\\{'}, position=4, choice=0, seq=4, now=clock.now()),
        )
    finally:
        await fast.close()
    now = clock.now()
    assert results == [now, now, None, None, now, now, None]  # the last: another session (any text)
    assert _groups() == (groups + 1, saves + 7)  # all seven in one statement
    assert {p: v[:2] for p, v in (await _stored(services, str(a1))).items()} == {1: (1, 1), 3: (None, 3)}
    assert {p: v[:2] for p, v in (await _stored(services, str(a2))).items()} == {1: (2, 1), 2: (4, 3)}


async def test_concurrent_saves_of_one_question_keep_the_last_sequence_number(services, clock):
    """Saves of one question in any order, all at once: the highest sequence number is stored,
    whatever the grouping (a group never holds one question twice: the later save starts the next)."""
    import random

    from exam_engine.services.fast_save import FastSaves

    aid, student_id, session = await _started_binding(services)
    args = dict(student_id=student_id, attempt_id=aid, now=clock.now(), grace_s=1.0, session=session)
    fast = FastSaves(services.settings.database_url, size=1, groups=2)
    order = list(range(1, 41))
    random.Random(24).shuffle(order)
    try:
        results = await asyncio.gather(
            *(fast.save(**args, position=1 + seq % 2, choice=seq % 5, seq=seq) for seq in order)
        )
        # and through the endpoint, two sessions' worth of requests at once for one question
    finally:
        await fast.close()
    stored = await _stored(services, str(aid))
    assert {p: v[:2] for p, v in stored.items()} == {1: (40 % 5, 40), 2: (39 % 5, 39)}
    # The save that wrote the stored row was acknowledged as applied; a later-sent lower one was not.
    assert results[order.index(40)] == clock.now() and results[order.index(39)] == clock.now()


async def test_a_save_for_an_attempt_being_finalised_holds_up_nobody_else_in_its_group(services, clock):
    """The attempt's row locked (a finalisation): that save goes to the general path at once
    (which waits for the lock within its bound); the other student's save in the group is stored."""
    from exam_engine.services.fast_save import FastSaves

    (a1, s1, k1), (a2, s2, k2) = await _two_started(services)
    fast = FastSaves(services.settings.database_url, size=1, groups=1, timeout_s=5)
    try:
        async with services.engine.connect() as locker:
            await locker.execute(select(attempts.c.id).where(attempts.c.id == a1).with_for_update())
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            results = await asyncio.gather(
                fast.save(
                    student_id=s1, attempt_id=a1, session=k1, grace_s=1.0, position=1, choice=1, seq=1, now=clock.now()
                ),
                fast.save(
                    student_id=s2, attempt_id=a2, session=k2, grace_s=1.0, position=1, choice=2, seq=1, now=clock.now()
                ),
            )
            assert loop.time() - t0 < 1.0  # nobody waited for the lock
            await locker.rollback()
    finally:
        await fast.close()
    assert results == [None, clock.now()]
    assert await _stored(services, str(a1)) == {}
    assert (await _stored(services, str(a2)))[1][:2] == (2, 1)


async def test_a_full_autosave_queue_and_a_commit_that_does_not_come_are_503_not_a_hang(services, clock):
    """A commit held up (its answer row locked): the saves queued behind it wait at most the bound;
    one more than the queue holds is refused at once with server_busy."""
    from exam_engine.errors import ServerBusy
    from exam_engine.services.fast_save import FastSaves

    aid, student_id, session = await _started_binding(services)
    args = dict(student_id=student_id, attempt_id=aid, choice=1, now=clock.now(), grace_s=1.0, session=session)
    fast = FastSaves(services.settings.database_url, size=1, groups=1, queue_max=2, timeout_s=1.0)
    try:
        assert await fast.save(**args, position=1, seq=1) == clock.now()
        async with services.engine.connect() as locker:
            await locker.execute(select(answers.c.seq).where(answers.c.attempt_id == aid).with_for_update())
            loop = asyncio.get_running_loop()
            stuck = asyncio.create_task(fast.save(**args, position=1, seq=2))  # waits for the row lock
            await asyncio.sleep(0.2)
            t0 = loop.time()
            queued = [asyncio.create_task(fast.save(**args, position=p, seq=p)) for p in (2, 3)]
            await asyncio.sleep(0)
            with pytest.raises(ServerBusy) as refused:
                await fast.save(**args, position=4, seq=4)
            assert refused.value.code == "server_busy" and loop.time() - t0 < 0.2
            outcomes = await asyncio.wait_for(asyncio.gather(stuck, *queued, return_exceptions=True), 5)
            assert loop.time() - t0 < 3
            # The held-up save is not acknowledged: the general path decides (None) or its wait ran
            # out (server_busy). The two behind it are written by the next group once it gave up.
            assert outcomes[0] is None or isinstance(outcomes[0], ServerBusy), outcomes
            assert all(o == clock.now() or isinstance(o, ServerBusy) for o in outcomes[1:]), outcomes
            await locker.rollback()
        assert await fast.save(**args, position=4, seq=5) == clock.now()
    finally:
        await fast.close()
    stored = await _stored(services, str(aid))
    assert stored[4][:2] == (1, 5) and stored[1][1] == 1
    assert all(stored[p][1] == p for p, o in zip((2, 3), outcomes[1:], strict=True) if o == clock.now())


async def test_the_group_statement_is_planned_once_per_connection_not_once_per_group(services, clock):
    """Planning the group statement anew for each group cost PostgreSQL ~1.3 ms of CPU per group,
    4× the statement itself at 6 saves a group (docs/performance.md). Groups of different sizes
    on one committer's connection run one generic plan: PostgreSQL counts no custom plan."""
    from exam_engine.services.fast_save import FastSaves

    (a1, s1, k1), (a2, s2, k2) = await _two_started(services)
    fast = FastSaves(services.settings.database_url, size=1, groups=1)
    one = dict(student_id=s1, attempt_id=a1, session=k1, grace_s=1.0)
    two = dict(student_id=s2, attempt_id=a2, session=k2, grace_s=1.0)
    try:
        seq = 0
        for size in (1, 3, 2, 5, 1):  # groups of different sizes, one after the other
            saves = []
            for i in range(size):
                seq += 1
                saves.append(fast.save(**(one if i % 2 else two), position=i + 1, choice=0, seq=seq, now=clock.now()))
            assert all(r == clock.now() for r in await asyncio.gather(*saves))
        plans = []
        async with fast._pool.connection() as c1, fast._pool.connection() as c2:  # the pool's two connections
            for conn in (c1, c2):
                cur = await conn.execute(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                    "WHERE statement LIKE '%INSERT INTO answers%'",
                    prepare=False,
                )
                plans += await cur.fetchall()
    finally:
        await fast.close()
    assert plans and sum(custom for _, custom in plans) == 0, plans
    assert sum(generic for generic, _ in plans) == 5, plans  # one generic plan's run per group


async def test_last_seen_is_written_after_the_answers_and_leaves_their_durability_as_configured(services, clock):
    """The live view's last-seen is written by the committer after the group's answers, with its own
    commit not waiting for the WAL flush (it is not academic data). That setting lasts for that one
    transaction: the next group's answers on the same connection commit durably again."""
    from exam_engine.services.fast_save import FastSaves

    aid, student_id, session = await _started_binding(services)
    async with services.engine.begin() as conn:
        await conn.execute(update(attempt_live).where(attempt_live.c.attempt_id == aid).values(last_seen_at=None))
    fast = FastSaves(services.settings.database_url, size=1, groups=1)
    args = dict(student_id=student_id, attempt_id=aid, session=session, grace_s=1.0)
    try:
        assert await fast.save(**args, position=1, choice=0, seq=1, now=clock.now()) == clock.now()
        settings = []  # of the pool's two connections, the committer's among them
        async with fast._pool.connection() as c1, fast._pool.connection() as c2:
            for conn in (c1, c2):
                cur = await conn.execute("SHOW synchronous_commit")
                settings.append((await cur.fetchone())[0])
    finally:
        await fast.close()
    async with services.engine.connect() as conn:
        seen = (
            await conn.execute(select(attempt_live.c.last_seen_at).where(attempt_live.c.attempt_id == aid))
        ).scalar_one()
    assert seen == clock.now()
    assert settings == ["on", "on"]
