"""The item-analysis gate before the journal: hold, re-key, regrade, release (issue 25).

The miskeyed bank: 12 questions, question 1's stored key is option 1 ("KEY 1") but the real
answer is option 2; the 8 strongest of 20 students answer every question rightly (so they pick
option 2 on question 1), the 12 others answer some questions and pick the stored key on question 1.
"""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select

from exam_engine.domain.actors import Actor
from exam_engine.domain.holds import HoldPolicy
from exam_engine.domain.roles import Role
from exam_engine.errors import Conflict, InvalidInput
from exam_engine.services import attempts as attempt_service
from exam_engine.services import holds, relay
from exam_engine.tables import attempt_items, attempts, audit_log
from exam_engine.web.api_journal import audit_sink
from journal_bridge import api as journal
from journal_bridge.tables import journal_exam_results
from tests.factories import ADMIN
from tests.integration.test_journal_world import make_journal_world, rows, student

pytestmark = pytest.mark.asyncio

STRONG = 8
QUESTIONS = 12
REAL = 1  # the real answer of question 1 (bank option index); the bank's stored key is 0


async def sit(services, jw, login: str, picks: dict[int, int]) -> uuid.UUID:
    """Start as ``login``, choose bank option ``picks[n]`` on question number n, hand in."""
    actor = student(jw, login)
    items = {i.text: i for i in jw.world.items["kk"]}
    async with services.engine.begin() as conn:
        attempt_id = await attempt_service.start(
            conn, actor, jw.world.exam_id, language=None, now=services.clock.now(), bank_cache=services.bank_cache
        )
        served = (
            await conn.execute(
                select(attempt_items.c.position, attempt_items.c.text, attempt_items.c.options).where(
                    attempt_items.c.attempt_id == attempt_id
                )
            )
        ).all()
        for seq, s in enumerate(served, start=1):
            item = items[s.text]
            if item.number in picks:
                choice = list(s.options).index(item.options[picks[item.number]])
                await attempt_service.save_answer(
                    conn, actor, attempt_id, s.position, choice, seq, now=services.clock.now(), grace_s=1
                )
        await attempt_service.submit(conn, actor, attempt_id, now=services.clock.now(), grace_s=1)
    return attempt_id


async def miskeyed_world(services):
    jw = await make_journal_world(services, students=20, question_count=QUESTIONS, bank_size=QUESTIONS)
    ids = {}
    for n, login in enumerate(jw.world.students):
        if n < STRONG:  # everything right, and the real answer of question 1
            picks = {q: 0 for q in range(2, QUESTIONS + 1)} | {1: REAL}
        else:  # some right, and the stored (wrong) key of question 1
            picks = {q: 0 for q in range(2, 2 + n % 6)} | {q: 3 for q in range(2 + n % 6, QUESTIONS + 1)} | {1: 0}
        ids[login] = await sit(services, jw, login, picks)
    return jw, ids


def quality(jw) -> Actor:
    return Actor(user_id=jw.ids["quality1"], login="quality1", role=Role.QUALITY, language="ru")


async def relay_now(services, policy: HoldPolicy | None = None) -> relay.RelayReport:
    return await relay.relay_once(
        services.engine,
        relay.bridge_keys(services.settings),
        services.clock,
        hold=policy or holds.policy_of(services.settings),
    )


async def journal_scores(services) -> dict[str, tuple[int | None, int]]:
    return {r.attempt_id: (r.score, r.version) for r in await rows(services, select(journal_exam_results))}


async def test_a_miskeyed_item_holds_the_results_and_a_rekey_regrades_all_twenty(services):
    jw, ids = await miskeyed_world(services)
    strong = [ids[s] for s in jw.world.students[:STRONG]]
    async with services.engine.connect() as conn:
        before = {r.id: r for r in await conn.execute(select(attempts))}
    assert {before[a].score for a in strong} == {92}  # 11 of 12 with the wrong key

    report = await relay_now(services)
    assert report.delivered == 0 and report.held == [jw.world.exam_id]
    assert await journal_scores(services) == {}  # the wrong key never reached the journal

    async with services.engine.connect() as conn:
        (held,) = await holds.held_exams(conn, quality(jw))
        notes = await holds.result_notes(conn, list(before.values()))
    assert held["state"] == "held" and held["attempts"] == 20
    (flag,) = held["flagged"]
    assert set(flag["flags"]) == {"miskeyed", "negative_discrimination"}
    assert all(n["provisional"] and n["held"] for n in notes.values())
    async with services.engine.connect() as conn:
        note = await holds.result_note(conn, strong[0], jw.world.exam_id, language="ru")
    assert (
        note == "Предварительный результат: отдел качества проверяет вопросы этого экзамена; ваш балл может измениться."
    )
    item = flag["item"]

    async with services.engine.begin() as conn:
        done = await holds.decide_item(
            conn,
            quality(jw),
            jw.world.exam_id,
            item=item,
            action="rekey",
            options=[REAL],
            reason="Кілт қате: дұрыс жауап 2-нұсқа",
            now=services.clock.now(),
        )
    assert done.regraded == 20 and done.changed == 20
    async with services.engine.connect() as conn:
        after = {r.id: r for r in await conn.execute(select(attempts))}
    assert {after[a].score for a in strong} == {100}
    assert all(after[a].score < before[a].score for a in ids.values() if a not in strong)
    # Nothing reopened or created: same attempts, same statuses and submit times.
    assert set(after) == set(before)
    assert all((after[a].status, after[a].submitted_at) == (before[a].status, before[a].submitted_at) for a in after)
    assert (await relay_now(services)).delivered == 0  # still held until the department releases it

    async with services.engine.begin() as conn:
        await holds.release(conn, quality(jw), jw.world.exam_id, reason="Кілт түзетілді", now=services.clock.now())
    assert (await relay_now(services)).delivered == 20
    got = await journal_scores(services)
    assert {got[str(a)] for a in strong} == {(100, 2)}
    assert all(got[str(a)] == (after[a].score, 2) for a in after)
    regraded = await rows(services, select(audit_log).where(audit_log.c.action == "attempt.regraded"))
    assert len(regraded) == 20 and {
        (r.before["score"], r.after["score"]) for r in regraded if uuid.UUID(r.subject.split(":")[1]) in strong
    } == {(92, 100)}
    async with services.engine.connect() as conn:
        notes = await holds.result_notes(conn, list(after.values()))
    assert all(
        not n["provisional"] and n["regrades"][-1]["new_score"] == after[uuid.UUID(a)].score for a, n in notes.items()
    )
    async with services.engine.connect() as conn:
        note = await holds.result_note(conn, strong[0], jw.world.exam_id, language="kk")
    assert note == "Емтихан кілті түзетілгеннен кейін қайта бағаланды: 92 → 100 / 100."


async def test_an_expired_hold_releases_the_results_and_a_later_rekey_is_a_journal_correction_with_history(
    services, clock
):
    jw, ids = await miskeyed_world(services)
    policy = HoldPolicy(release_at=(23, 59))
    await relay_now(services, policy)
    async with services.engine.connect() as conn:
        (state,) = (await holds.release_state(conn, [jw.world.exam_id])).values()
    local = state.release_after.astimezone(timezone(timedelta(hours=5)))
    assert (local.hour, local.minute) == (23, 59) and state.release_after > clock.now()
    clock.advance((state.release_after - clock.now()).total_seconds() - 1)
    assert (await relay_now(services, policy)).delivered == 0  # a second before: still held
    clock.advance(1)
    assert (await relay_now(services, policy)).delivered == 20
    expired = await rows(services, select(audit_log).where(audit_log.c.action == "exam.hold_expired"))
    assert [e.actor for e in expired] == ["system:hold"]

    strong = ids[jw.world.students[0]]
    async with services.engine.begin() as conn:
        await holds.decide_item(
            conn,
            quality(jw),
            jw.world.exam_id,
            item=f"item:{await _bank_id(conn, strong)}",
            action="accept",
            options=[0, REAL],
            reason="Екі жауап та дұрыс",
            now=services.clock.now(),
        )
    assert (await relay_now(services, policy)).delivered == 8  # only the grades that changed
    assert (await journal_scores(services))[str(strong)] == (100, 2)
    async with services.engine.connect() as conn:
        history = await journal.result_history(conn, str(jw.ids[jw.world.students[0]]), "LAW-101")
    assert [(h["old"]["score"], h["new"]["score"], h["reason"]) for h in history] == [(92, 100, "regrade")]
    # Attributed: the key decision and the regrade it caused name the quality user, with the value before;
    # the journal's update keeps the stored result it replaced.
    decided = await rows(services, select(audit_log).where(audit_log.c.action == "exam.key_decision"))
    assert [d.actor for d in decided] == [quality(jw).label]
    regraded = await rows(
        services,
        select(audit_log).where(audit_log.c.action == "attempt.regraded", audit_log.c.subject == f"attempt:{strong}"),
    )
    assert [(r.actor, r.before["score"], r.after["score"]) for r in regraded] == [(quality(jw).label, 92, 100)]
    updated = await rows(
        services,
        select(audit_log).where(
            audit_log.c.action == "journal.result_update", audit_log.c.subject == f"attempt:{strong}"
        ),
    )
    assert [(u.before["score"], u.after["score"]) for u in updated] == [(92, 100)]
    # The teacher's grid shows the corrected exam score with the one it replaced.
    from admin_ui.journal import computed
    from exam_engine.i18n import translate

    async with services.engine.connect() as conn:
        found = await journal.load_journal(conn, jw.journal_id)
        grid = await journal.grid(
            conn, found, {str(jw.ids[s]): s for s in jw.world.students}, language="kk", translate=translate
        )
    rows_by_id = {r["id"]: r for r in grid["students"]}
    mine, weak = rows_by_id[str(jw.ids[jw.world.students[0]])], rows_by_id[str(jw.ids[jw.world.students[-1]])]
    assert (mine["exam"]["score"], mine["exam"]["corrected_from"]) == (100, 92)
    assert computed(mine, "kk")["exam"] == "92 → 100"
    assert "corrected_from" not in weak["exam"] and computed(weak, "kk")["exam"] == str(weak["exam"]["score"])


async def _bank_id(conn, attempt_id: uuid.UUID) -> int:
    """The bank id of question 1 in an attempt."""
    return (
        await conn.execute(
            select(attempt_items.c.bank_item_id).where(
                attempt_items.c.attempt_id == attempt_id, attempt_items.c.text.like("% 1?")
            )
        )
    ).scalar_one()


async def test_an_unflagged_exam_goes_straight_to_the_journal(services):
    jw = await make_journal_world(services, students=12, question_count=QUESTIONS, bank_size=QUESTIONS)
    for n, login in enumerate(jw.world.students):
        await sit(services, jw, login, {q: 0 for q in range(1, 2 + n)})
    report = await relay_now(services)
    assert report.delivered == 12 and report.held == []
    assert len(await journal_scores(services)) == 12
    async with services.engine.connect() as conn:
        assert await holds.held_exams(conn, quality(jw)) == []


async def test_results_of_an_exam_still_in_progress_wait_until_it_is_final(services, clock):
    jw = await make_journal_world(services, students=3, question_count=QUESTIONS, bank_size=QUESTIONS)
    await sit(services, jw, "student1", {1: 0})
    assert (await relay_now(services)).delivered == 0  # two students have not finished: not final
    await sit(services, jw, "student2", {1: 0})
    assert (await relay_now(services)).delivered == 0
    clock.advance(8 * 3600)  # the window closes: final, though student3 never came
    assert (await relay_now(services)).delivered == 2


async def test_a_regrade_after_the_journal_period_closed_waits_for_a_deputy_head(services, clock):
    jw, ids = await miskeyed_world(services)
    assert (await relay_now(services)).held == [jw.world.exam_id]
    async with services.engine.begin() as conn:
        await holds.release(conn, quality(jw), jw.world.exam_id, reason="Тексерілді", now=clock.now())
    assert (await relay_now(services)).delivered == 20
    async with services.engine.begin() as conn:
        await journal.lock_period(
            conn, "2025-2026-2", by=ADMIN.label, now=clock.now(), audit=audit_sink(conn, clock.now(), ADMIN)
        )
    clock.advance(60)
    strong = ids[jw.world.students[0]]
    async with services.engine.begin() as conn:
        done = await holds.decide_item(
            conn,
            quality(jw),
            jw.world.exam_id,
            item=f"item:{await _bank_id(conn, strong)}",
            action="drop",
            options=[],
            reason="Сұрақ алынып тасталады",
            now=clock.now(),
        )
    assert done.changed == 20 and done.corrections == 20
    assert (await relay_now(services)).delivered == 20  # acknowledged: filed as corrections
    assert (await journal_scores(services))[str(strong)] == (92, 1)  # the closed journal did not change
    async with services.engine.connect() as conn:
        pending = await journal.result_corrections(conn, pending=True)
    assert len(pending) == 20 and {p["approver_role"] for p in pending} == {"deputy_head"}
    mine = next(p for p in pending if p["attempt_id"] == str(strong))
    assert (mine["old"]["score"], mine["new"]["score"]) == (92, 100)

    deputy = journal.Actor(str(jw.ids["deputy"]), frozenset({journal.Role.DEPUTY_HEAD}))
    teacher = journal.Actor(str(jw.ids["teacher1"]), frozenset({journal.Role.TEACHER}))
    keys = relay.bridge_keys(services.settings)
    # Who asked is named as the reviewer is (the user id): the person who filed the correction, were
    # they also a deputy head, may not approve it; the deputy head, a different person, may.
    assert mine["filed_by"] == quality(jw).journal_id == str(jw.ids["quality1"])
    filer_as_deputy = journal.Actor(quality(jw).journal_id, frozenset({journal.Role.DEPUTY_HEAD}))
    with pytest.raises(journal.CorrectionInvalid) as own:
        async with services.engine.begin() as conn:
            await journal.review_result_correction(
                conn, filer_as_deputy, mine["id"], keys.public, approve=True, note=None, now=clock.now()
            )
    assert own.value.code == "self_approval"
    with pytest.raises(journal.CorrectionInvalid):
        async with services.engine.begin() as conn:
            await journal.review_result_correction(
                conn, teacher, mine["id"], keys.public, approve=True, note=None, now=clock.now()
            )
    async with services.engine.begin() as conn:
        state = await journal.review_result_correction(
            conn, deputy, mine["id"], keys.public, approve=True, note="Расталды", now=clock.now()
        )
    assert state == "applied"
    assert (await journal_scores(services))[str(strong)] == (100, 2)
    async with services.engine.connect() as conn:
        history = await journal.result_history(conn, str(jw.ids[jw.world.students[0]]), "LAW-101")
    assert [(h["old"]["score"], h["new"]["score"], h["reason"], h["correction_id"]) for h in history] == [
        (92, 100, "correction", mine["id"])
    ]


async def test_a_decision_is_refused_while_an_attempt_is_open_and_never_creates_one(services):
    jw = await make_journal_world(services, students=2, question_count=QUESTIONS, bank_size=QUESTIONS)
    first = await sit(services, jw, "student1", {1: 0})
    actor = student(jw, "student2")
    async with services.engine.begin() as conn:
        await attempt_service.start(
            conn, actor, jw.world.exam_id, language=None, now=services.clock.now(), bank_cache=services.bank_cache
        )
        bank_id = await _bank_id(conn, first)
    with pytest.raises(Conflict) as refused:
        async with services.engine.begin() as conn:
            await holds.decide_item(
                conn,
                quality(jw),
                jw.world.exam_id,
                item=f"item:{bank_id}",
                action="drop",
                options=[],
                reason="x",
                now=services.clock.now(),
            )
    assert refused.value.code == "exam_not_final"
    async with services.engine.begin() as conn:
        await attempt_service.submit(
            conn,
            actor,
            (await conn.execute(select(attempts.c.id).where(attempts.c.student_id == jw.ids["student2"]))).scalar_one(),
            now=services.clock.now(),
            grace_s=1,
        )
    for bad in (
        {"action": "rekey", "options": [0, 1]},
        {"action": "accept", "options": [1]},
        {"action": "drop", "options": [2]},
        {"action": "rekey", "options": [7]},
    ):
        with pytest.raises(InvalidInput):
            async with services.engine.begin() as conn:
                await holds.decide_item(
                    conn,
                    quality(jw),
                    jw.world.exam_id,
                    item=f"item:{bank_id}",
                    reason="x",
                    now=services.clock.now(),
                    **bad,
                )
    async with services.engine.begin() as conn:
        await holds.decide_item(
            conn,
            quality(jw),
            jw.world.exam_id,
            item=f"item:{bank_id}",
            action="drop",
            options=[],
            reason="Сұрақ дұрыс емес",
            now=services.clock.now(),
        )
        count = (await conn.execute(select(func.count()).select_from(attempts))).scalar_one()
        statuses = set((await conn.execute(select(attempts.c.status))).scalars())
    assert count == 2 and statuses == {"submitted"}
    teacher = Actor(user_id=jw.ids["teacher1"], login="teacher1", role=Role.TEACHER)
    from exam_engine.errors import PermissionDenied as Forbidden

    with pytest.raises(Forbidden):
        async with services.engine.begin() as conn:
            await holds.decide_item(
                conn,
                teacher,
                jw.world.exam_id,
                item=f"item:{bank_id}",
                action="drop",
                options=[],
                reason="x",
                now=services.clock.now(),
            )


async def test_the_blueprint_refusal_reads_as_one_translated_sentence(services):
    from exam_engine.i18n import translate
    from exam_engine.services import catalog
    from tests.integration.test_bank_exam import _setup, _spec

    versions = await _setup(services, {})
    async with services.engine.begin() as conn:
        with pytest.raises(InvalidInput) as one:
            await catalog.add_exam(
                conn, ADMIN, _spec(services, versions, {("A", 2): 3, ("B", 1): 1}, 4), now=services.clock.now()
            )
        with pytest.raises(InvalidInput) as two:
            await catalog.add_exam(
                conn,
                ADMIN,
                _spec(services, versions, {("A", 2): 3, ("C", 1): 1, ("B", 1): 1}, 5),
                now=services.clock.now(),
            )
    version = next(iter(versions.values()))
    ru = translate("ru", one.value.msgid, **one.value.params)
    assert (
        ru == f"Версия банка {version} (kk) не может заполнить спецификацию: тема «A», сложность 2 — нужно "
        "вопросов: 3, в банке: 2."
    )
    kk = translate("kk", two.value.msgid, **two.value.params)
    assert kk.startswith(f"{version} банк нұсқасы (kk) спецификацияның 2 ұяшығын толтыра алмайды")
    for message in (ru, kk, translate("ru", two.value.msgid, **two.value.params)):
        assert not any(english in message for english in ("Topic", "difficulty", "required", "in the bank"))


async def test_the_json_api_decides_releases_and_a_deputy_head_approves_a_late_correction(services, clock):
    from tests.factories import new_api, open_client

    jw, ids = await miskeyed_world(services)
    await relay_now(services)
    client = await open_client(services)
    try:
        quality_api, deputy_api, teacher_api = [await new_api(client) for _ in range(3)]
        await quality_api.login("quality1")
        status, held = await quality_api.call("GET", "/api/v1/quality/holds")
        assert status == 200 and [h["exam_id"] for h in held["items"]] == [jw.world.exam_id]
        item = held["items"][0]["flagged"][0]["item"]
        path = f"/api/v1/quality/holds/{jw.world.exam_id}"
        status, bad = await quality_api.call(
            "POST", f"{path}/decisions", {"item": item, "action": "rekey", "options": [REAL]}
        )
        assert status == 422 and bad["error"]["code"] == "missing_field"
        status, bad = await quality_api.call(
            "POST", f"{path}/decisions", {"item": item, "action": "accept", "options": [REAL], "reason": "x"}
        )
        assert status == 422 and bad["error"]["code"] == "key_decision_invalid"
        status, done = await quality_api.call("POST", f"{path}/release", {"reason": "Тексерілді"})
        assert (status, done) == (200, {"ok": True})
        assert (await relay_now(services)).delivered == 20
        async with services.engine.begin() as conn:
            await journal.lock_period(
                conn, "2025-2026-2", by=ADMIN.label, now=clock.now(), audit=audit_sink(conn, clock.now(), ADMIN)
            )
        status, done = await quality_api.call(
            "POST", f"{path}/decisions", {"item": item, "action": "rekey", "options": [REAL], "reason": "Кілт қате"}
        )
        assert status == 200 and done == {"regraded": 20, "changed": 20, "corrections": 20}
        assert (await relay_now(services)).delivered == 20

        await teacher_api.login("teacher1")
        status, _ = await teacher_api.call("GET", "/api/v1/journal-result-corrections")
        assert status == 403
        await deputy_api.login("deputy")
        status, pending = await deputy_api.call("GET", "/api/v1/journal-result-corrections")
        assert status == 200 and len(pending["items"]) == 20
        strong = str(ids[jw.world.students[0]])
        mine = next(p for p in pending["items"] if p["attempt_id"] == strong)
        status, state = await deputy_api.call(
            "POST", f"/api/v1/journal-result-corrections/{mine['id']}/approve", {"note": "Расталды"}
        )
        assert (status, state) == (200, {"state": "applied"})
        status, again = await deputy_api.call("POST", f"/api/v1/journal-result-corrections/{mine['id']}/approve", {})
        assert status == 409 and again["error"]["code"] == "correction_not_pending"
        for api in (quality_api, deputy_api, teacher_api):
            await api.client.close()
    finally:
        await client.close()
    assert (await journal_scores(services))[strong] == (100, 2)
    approved = await rows(services, select(audit_log).where(audit_log.c.action == "journal.result_correction_approved"))
    assert [a.actor for a in approved] == ["user:deputy"]


async def test_a_process_asks_again_whether_a_running_exam_is_final_only_every_few_seconds(services, clock):
    jw = await make_journal_world(services, students=2, question_count=QUESTIONS, bank_size=QUESTIONS)
    await sit(services, jw, "student1", {1: 0})
    memo: dict = {}
    report = await holds.advance(services.engine, clock.now(), HoldPolicy(), memo)
    assert report.released == [] and jw.world.exam_id in memo
    await sit(services, jw, "student2", {1: 0})  # now final, but this process checks again in 2 s
    assert (await holds.advance(services.engine, clock.now(), HoldPolicy(), memo)).released == []
    clock.advance(holds.RECHECK_S)
    assert (await holds.advance(services.engine, clock.now(), HoldPolicy(), memo)).released == [jw.world.exam_id]
    assert memo == {}


async def test_forms_that_do_not_match_their_bank_hold_the_exam_and_the_page_says_so(services):
    from sqlalchemy import update

    from tests.factories import new_api, open_client

    jw = await make_journal_world(services, students=12, question_count=QUESTIONS, bank_size=QUESTIONS)
    sat = [await sit(services, jw, login, {q: 0 for q in range(1, 2 + n)}) for n, login in enumerate(jw.world.students)]
    async with services.engine.begin() as conn:  # a form whose options are not its bank item's
        await conn.execute(
            update(attempt_items).where(attempt_items.c.attempt_id == sat[-1]).values(options=["x", "y", "z", "w", "v"])
        )
    report = await relay_now(services)
    assert report.held == [jw.world.exam_id] and report.delivered == 0
    client = await open_client(services)
    try:
        quality_api = await new_api(client)
        await quality_api.login("quality1")
        status, html = await quality_api.call("GET", f"/quality/holds/{jw.world.exam_id}")
        await quality_api.client.close()
    finally:
        await client.close()
    assert status == 200 and "Тест талдауы бұл емтиханның нұсқаларын оқи алмады" in html
