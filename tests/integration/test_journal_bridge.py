"""The bridge: graded attempts reach the journal signed, exactly once, and nothing else gets in."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, func, select, update

from exam_engine import sweeper
from exam_engine.errors import ConfigError
from exam_engine.security import signing
from exam_engine.services import relay
from exam_engine.services.attempts import RESULT_TOPIC
from exam_engine.tables import audit_log, outbox
from journal_bridge import api as journal
from journal_bridge.tables import journal_exam_results, journal_refused_results
from tests.factories import open_client
from tests.integration.test_journal_world import make_journal_world, relay_now, release_exam, rows, sit_exam


async def _results(services):  # type: ignore[no-untyped-def]
    return await rows(services, select(journal_exam_results).order_by(journal_exam_results.c.attempt_id))


async def _actions(services, action: str) -> int:  # type: ignore[no-untyped-def]
    (count,) = (await rows(services, select(func.count()).where(audit_log.c.action == action)))[0]
    return count


async def test_a_graded_attempt_reaches_the_journal_once_even_when_the_relay_runs_again(services):
    jw = await make_journal_world(services, students=1)
    attempt_id = await sit_exam(services, jw, "student1", correct=3)
    first = await relay_now(services)
    second = await relay_now(services)
    # A crash after the journal committed but before the row was marked: the row is delivered again.
    async with services.engine.begin() as conn:
        await conn.execute(update(outbox).values(delivered_at=None))
    services.clock.advance(1)  # a row that has been tried waits its backoff
    third = await relay_now(services)
    assert (first.delivered, second.delivered, third.delivered) == (1, 0, 1)
    stored = await _results(services)
    assert [(r.attempt_id, r.student_id, r.discipline_code, r.score, r.status, r.version) for r in stored] == [
        (str(attempt_id), str(jw.ids["student1"]), "LAW-101", 60, "passed", 1)
    ]
    assert await _actions(services, "journal.result_insert") == 1
    (row,) = await rows(services, select(outbox.c.delivered_at, outbox.c.tries, outbox.c.last_error))
    assert row.delivered_at is not None and row.tries == 2 and row.last_error is None


async def test_concurrent_relays_deliver_every_result_exactly_once(services):
    jw = await make_journal_world(services, students=6)
    for login in jw.world.students:
        await sit_exam(services, jw, login, correct=4)
    reports = await asyncio.gather(*(relay_now(services) for _ in range(3)))
    assert sum(r.delivered for r in reports) == 6
    assert len(await _results(services)) == 6
    assert await _actions(services, "journal.result_insert") == 6
    tries = [r.tries for r in await rows(services, select(outbox.c.tries))]
    assert tries == [1] * 6  # SKIP LOCKED: no row was carried by two relays


async def test_a_later_annulment_updates_the_journal_result(services):
    jw = await make_journal_world(services, students=1)
    attempt_id = await sit_exam(services, jw, "student1", correct=5)
    await relay_now(services)
    (event,) = await rows(services, select(outbox.c.payload))
    annulled = {**event.payload, "status": "annulled", "version": 2, "graded_at": services.clock.now().isoformat()}
    async with services.engine.begin() as conn:
        await conn.execute(
            outbox.insert().values(
                topic=RESULT_TOPIC, key=str(attempt_id), version=2, payload=annulled, created_at=services.clock.now()
            )
        )
    assert (await relay_now(services)).delivered == 1
    (stored,) = await _results(services)
    assert (stored.version, stored.status, stored.score) == (2, "annulled", 100)
    # The first version arriving again (a late redelivery) does not undo the annulment.
    async with services.engine.begin() as conn:
        await conn.execute(update(outbox).where(outbox.c.version == 1).values(delivered_at=None))
    services.clock.advance(1)
    assert (await relay_now(services)).delivered == 1
    (stored,) = await _results(services)
    assert (stored.version, stored.status) == (2, "annulled")
    assert await _actions(services, "journal.result_update") == 1


async def test_a_forged_or_altered_result_is_refused_and_recorded(services):
    jw = await make_journal_world(services, students=1)
    await sit_exam(services, jw, "student1", correct=1)
    keys = relay.bridge_keys(services.settings)
    (event,) = await rows(services, select(outbox.c.payload))
    signed = journal.sign_result(relay.exam_result(event.payload), keys.private)
    envelope = json.loads(signed.to_bytes())
    envelope["result"]["score"] = 100  # altered after signing
    async with services.engine.begin() as conn:
        answer = await journal.accept(conn, json.dumps(envelope).encode(), keys.public, now=services.clock.now())
    assert (answer.accepted, answer.reason) == (False, "result_signature_invalid")
    # Signed with some other key: refused too.
    stranger = journal.sign_result(relay.exam_result(event.payload), Ed25519PrivateKey.generate())
    async with services.engine.begin() as conn:
        answer = await journal.accept(conn, stranger.to_bytes(), keys.public, now=services.clock.now())
    assert not answer.accepted
    assert await _results(services) == []
    refused = await rows(services, select(journal_refused_results.c.code, journal_refused_results.c.attempt_id))
    assert [r.code for r in refused] == ["result_signature_invalid"] * 2
    assert refused[0].attempt_id == event.payload["attempt_id"]


async def test_a_result_the_journal_refuses_stays_in_the_outbox_and_is_retried_after_a_backoff(services):
    jw = await make_journal_world(services, students=1)
    await sit_exam(services, jw, "student1", correct=2)
    real = relay.bridge_keys(services.settings)
    wrong = relay.BridgeKeys(Ed25519PrivateKey.generate(), real.public)  # an engine with the wrong key
    report = await relay.relay_once(services.engine, wrong, services.clock)
    assert (report.delivered, report.refused) == (0, 1)
    (row,) = await rows(services, select(outbox.c.delivered_at, outbox.c.tries, outbox.c.last_error))
    assert (row.delivered_at, row.tries, row.last_error) == (None, 1, "result_signature_invalid")
    assert (await relay.relay_once(services.engine, real, services.clock)).handled == 0  # backing off
    services.clock.advance(1.5)
    assert (await relay.relay_once(services.engine, real, services.clock)).delivered == 1
    assert len(await _results(services)) == 1


async def test_the_server_delivers_pending_results_at_start_up(services):
    jw = await make_journal_world(services, students=1)
    await sit_exam(services, jw, "student1", correct=3)
    client = await open_client(services, run_sweeper=True)
    try:
        for _ in range(100):  # the relay runs beside the rest of the start-up: give it up to 5 s
            if await _results(services):
                break
            await asyncio.sleep(0.05)
    finally:
        await client.close()
    assert len(await _results(services)) == 1


def test_the_backoff_doubles_and_is_capped():
    assert [relay.backoff_s(n) for n in range(4)] == [0, 1, 3, 7]
    assert relay.backoff_s(20) - relay.backoff_s(19) == relay.MAX_BACKOFF_S


def test_the_signing_key_is_kept_private_and_reused(tmp_path):
    from exam_engine.config import load_settings
    from tests.conftest import settings_env

    settings = load_settings(settings_env(f"sqlite:///{tmp_path / 'x.db'}", str(tmp_path), None))
    keys = relay.bridge_keys(settings, env={})
    path = tmp_path / "keys" / relay.KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    signing._keys_at.cache_clear()
    again = relay.bridge_keys(settings, env={})
    message = b"same key"
    again.public.verify(keys.private.sign(message), message)
    with pytest.raises(ConfigError):
        relay.bridge_keys(settings, env={"EXAM_SIGNING_KEY_FILE": str(tmp_path / "missing.pem")})


# ------------------------------------------------------------------------------------ the bulk path


async def _signed_envelopes(services, keys: relay.BridgeKeys) -> list[bytes]:  # type: ignore[no-untyped-def]
    payloads = [r.payload for r in await rows(services, select(outbox.c.payload).order_by(outbox.c.id))]
    return [journal.sign_result(relay.exam_result(p), keys.private).to_bytes() for p in payloads]


async def _accept_many(services, envelopes: list[bytes], keys: relay.BridgeKeys):  # type: ignore[no-untyped-def]
    async with services.engine.begin() as conn:
        return await journal.accept_many(
            conn, envelopes, keys.public, now=services.clock.now(), audit=relay._audit_batch(conn, services.clock.now())
        )


async def test_a_batch_with_one_forged_result_still_applies_the_others(services):
    jw = await make_journal_world(services, students=3)
    for login in jw.world.students:
        await sit_exam(services, jw, login, correct=2)
    keys = relay.bridge_keys(services.settings)
    envelopes = await _signed_envelopes(services, keys)
    forged = json.loads(envelopes[1])
    forged["result"]["score"] = 100  # altered after signing
    envelopes[1] = json.dumps(forged).encode()
    answers = await _accept_many(services, envelopes, keys)
    assert [(a.accepted, a.reason) for a in answers] == [
        (True, "new_attempt"),
        (False, "result_signature_invalid"),
        (True, "new_attempt"),
    ]
    stored = {r.attempt_id for r in await _results(services)}
    assert stored == {answers[0].attempt_id, answers[2].attempt_id}
    refused = await rows(services, select(journal_refused_results.c.attempt_id, journal_refused_results.c.code))
    assert [(r.attempt_id, r.code) for r in refused] == [(forged["result"]["attempt_id"], "result_signature_invalid")]
    audited = await rows(
        services,
        select(audit_log.c.action, audit_log.c.subject)
        .where(audit_log.c.action.like("journal.result_%"))
        .order_by(audit_log.c.id),
    )
    assert [(r.action, r.subject) for r in audited] == [
        ("journal.result_insert", f"attempt:{answers[0].attempt_id}"),
        ("journal.result_refused", f"attempt:{forged['result']['attempt_id']}"),
        ("journal.result_insert", f"attempt:{answers[2].attempt_id}"),
    ]


async def test_an_unusable_outbox_row_is_held_back_while_the_rest_of_its_batch_is_delivered(services):
    jw = await make_journal_world(services, students=3)
    for login in jw.world.students:
        await sit_exam(services, jw, login, correct=3)
    (bad, *_) = await rows(services, select(outbox.c.id, outbox.c.payload).order_by(outbox.c.id))
    async with services.engine.begin() as conn:
        await conn.execute(update(outbox).where(outbox.c.id == bad.id).values(payload={**bad.payload, "score": 150}))
    report = await relay_now(services)
    assert (report.delivered, report.refused, report.failed) == (2, 1, 0)
    assert len(await _results(services)) == 2
    held = await rows(services, select(outbox.c.tries, outbox.c.last_error).where(outbox.c.delivered_at.is_(None)))
    assert [(r.tries, r.last_error.startswith("unusable outbox payload")) for r in held] == [(1, True)]


async def test_a_row_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_delivered(services):
    jw = await make_journal_world(services, students=3)
    for login in jw.world.students:
        await sit_exam(services, jw, login, correct=3)
    (_, bad, _) = await rows(services, select(outbox.c.id, outbox.c.payload).order_by(outbox.c.id))
    async with services.engine.begin() as conn:  # a version no integer column holds: the bulk insert fails
        await conn.execute(
            update(outbox).where(outbox.c.id == bad.id).values(payload={**bad.payload, "version": 2**63})
        )
    report = await relay_now(services)
    assert (report.delivered, report.failed) == (2, 1)
    assert {r.attempt_id for r in await _results(services)} == {
        p.payload["attempt_id"] for p in await rows(services, select(outbox.c.payload).where(outbox.c.id != bad.id))
    }
    (held,) = await rows(
        services, select(outbox.c.id, outbox.c.tries, outbox.c.last_error).where(outbox.c.delivered_at.is_(None))
    )
    assert (held.id, held.tries, held.last_error is not None) == (bad.id, 1, True)
    assert (await relay_now(services)).handled == 0  # it backs off like a refused row


async def test_redelivering_a_whole_batch_changes_nothing(services):
    jw = await make_journal_world(services, students=4)
    for n, login in enumerate(jw.world.students):
        await sit_exam(services, jw, login, correct=n)
    assert (await relay_now(services)).delivered == 4
    before = await _results(services)
    async with services.engine.begin() as conn:  # a crash after the journal committed: all re-queued
        await conn.execute(update(outbox).values(delivered_at=None))
    services.clock.advance(5)
    report = await relay_now(services)
    assert (report.delivered, report.refused) == (4, 0)
    assert await _results(services) == before  # not even updated_at moved
    assert await _actions(services, "journal.result_insert") == 4
    assert await _actions(services, "journal.result_update") == 0
    assert await rows(services, select(journal_refused_results.c.id)) == []


async def test_a_batch_mixing_new_results_and_annulments_ends_at_the_latest_version_of_each(services):
    jw = await make_journal_world(services, students=3)
    first, second, third = [await sit_exam(services, jw, login, correct=4) for login in jw.world.students]
    keys = relay.bridge_keys(services.settings)
    by_attempt = {r.payload["attempt_id"]: r.payload for r in await rows(services, select(outbox.c.payload))}
    # The first attempt reaches the journal alone; then its annulment arrives in one batch with the
    # second attempt's first result and the third attempt's result together with its own annulment.
    await _accept_many(
        services, [journal.sign_result(relay.exam_result(by_attempt[str(first)]), keys.private).to_bytes()], keys
    )
    services.clock.advance(60)

    def envelope(attempt: object, **change: object) -> bytes:
        payload = {**by_attempt[str(attempt)], **change}
        return journal.sign_result(relay.exam_result(payload), keys.private).to_bytes()

    annul = {"status": "annulled", "version": 2, "graded_at": services.clock.now().isoformat()}
    answers = await _accept_many(
        services, [envelope(first, **annul), envelope(second), envelope(third), envelope(third, **annul)], keys
    )
    assert [(a.action, a.reason) for a in answers] == [
        ("update", "newer_version"),
        ("insert", "new_attempt"),
        ("insert", "new_attempt"),
        ("update", "newer_version"),
    ]
    stored = {r.attempt_id: (r.version, r.status, r.score) for r in await _results(services)}
    assert stored == {str(first): (2, "annulled", 80), str(second): (1, "passed", 80), str(third): (2, "annulled", 80)}
    audited = await rows(
        services,
        select(audit_log.c.action, audit_log.c.subject, audit_log.c.before)
        .where(audit_log.c.action.like("journal.result_%"))
        .order_by(audit_log.c.id),
    )
    assert [(r.action, r.subject, (r.before or {}).get("version")) for r in audited] == [
        ("journal.result_insert", f"attempt:{first}", None),
        ("journal.result_update", f"attempt:{first}", 1),
        ("journal.result_insert", f"attempt:{second}", None),
        ("journal.result_insert", f"attempt:{third}", None),
        ("journal.result_update", f"attempt:{third}", 1),
    ]


async def test_a_batch_that_loses_an_insert_race_decides_again_against_the_winner(services):
    jw = await make_journal_world(services, students=2)
    for login in jw.world.students:
        await sit_exam(services, jw, login, correct=1)
    keys = relay.bridge_keys(services.settings)
    envelopes = await _signed_envelopes(services, keys)
    async with services.engine.connect() as other:
        await other.begin()
        assert (await journal.accept(other, envelopes[0], keys.public, now=services.clock.now())).action == "insert"
        batch = asyncio.create_task(_accept_many(services, envelopes, keys))
        await asyncio.sleep(0.3)
        assert not batch.done()  # waiting for the other delivery's insert (or, on SQLite, its connection)
        await other.commit()
    answers = await batch
    assert [(a.accepted, a.action) for a in answers] == [(True, "ignore"), (True, "insert")]
    assert len(await _results(services)) == 2
    assert await _actions(services, "journal.result_insert") == 1  # the winner's was not audited by the sink


async def test_delivering_a_batch_costs_the_same_statements_for_two_results_as_for_six(services):
    jw = await make_journal_world(services, students=8)
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0])

    await release_exam(services, jw)  # an exam already released: its later results go at once (issue 25)
    counts = []
    for group in (jw.world.students[:2], jw.world.students[2:]):
        for login in group:
            await sit_exam(services, jw, login, correct=2)
        statements.clear()
        event.listen(services.engine.sync_engine, "before_cursor_execute", count)
        try:
            assert (await relay_now(services)).delivered == len(group)
        finally:
            event.remove(services.engine.sync_engine, "before_cursor_execute", count)
        counts.append(len(statements))
    assert counts[0] == counts[1]


async def test_the_sweeper_nudges_the_relay_as_soon_as_it_finalises_attempts(services):
    jw = await make_journal_world(services, students=1)
    await sit_exam(services, jw, "student1", correct=2, submit=False)
    services.clock.advance(24 * 3600)  # long past the deadline
    wake = asyncio.Event()
    unsubscribe = sweeper.on_finalised(services, wake.set)
    keys = relay.bridge_keys(services.settings)
    task = asyncio.create_task(relay.run_forever(services.engine, keys, services.clock, 3600, wake=wake))
    try:
        await asyncio.sleep(0.2)  # its first round finds nothing; then it waits an hour, or a nudge
        assert await _results(services) == []
        assert await sweeper.sweep_once(services) == 1
        for _ in range(50):
            if await _results(services):
                break
            await asyncio.sleep(0.1)
        assert [r.status for r in await _results(services)] == ["timed_out"]
    finally:
        unsubscribe()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_relay_waits_while_the_sweeper_grades_then_delivers_every_result(services):
    """Grades first: after a mass deadline the sweeper commits every batch before the relay of the
    same process spends the event loop on signing and delivering them."""
    jw = await make_journal_world(services, students=5)
    for n in range(1, 6):
        await sit_exam(services, jw, f"student{n}", correct=n % 3, submit=False)
    services.clock.advance(24 * 3600)
    keys = relay.bridge_keys(services.settings)
    quiet = sweeper.idle(services)
    sweep_done_at_relay_batch: list[bool] = []

    async def gate() -> None:
        await quiet.wait()
        sweep_done_at_relay_batch.append(sweep.done())

    sweep = asyncio.create_task(sweeper.sweep_once(services, batch=2))  # three batches: 2 + 2 + 1
    delivery = asyncio.create_task(relay.relay_once(services.engine, keys, services.clock, before_batch=gate))
    assert await sweep == 5
    report = await delivery
    assert sweep_done_at_relay_batch and all(sweep_done_at_relay_batch), sweep_done_at_relay_batch
    assert report.delivered == 5
    assert sorted(r.status for r in await _results(services)).count("timed_out") == 5


def test_a_planned_batch_decides_each_result_against_the_one_applied_before_it():
    from datetime import datetime

    from journal_bridge.results import plan_batch

    at = datetime(2026, 6, 1, 9, tzinfo=UTC)

    def result(attempt: str, version: int, status: str = "passed") -> journal.ExamResult:
        return journal.ExamResult(
            attempt_id=attempt,
            student_id="7",
            discipline_code="LAW-101",
            exam_id="1",
            score=80,
            status=status,
            graded_at=at,
            version=version,
        )

    stored = {"a": result("a", 1), "b": result("b", 2, "annulled")}
    incoming = [
        result("c", 1),
        result("a", 2, "annulled"),
        result("c", 2, "annulled"),
        result("b", 1),
        result("c", 1),
        result("a", 2, "annulled"),
    ]
    plan = plan_batch(stored, incoming)
    assert [(str(d.action), str(d.reason)) for _, d in plan.decisions] == [
        ("insert", "new_attempt"),
        ("update", "newer_version"),
        ("update", "newer_version"),
        ("ignore", "older_version"),
        ("ignore", "older_version"),
        ("ignore", "duplicate"),
    ]
    assert [None if before is None else before.version for before, _ in plan.decisions] == [None, 1, 1, 2, 2, 2]
    assert (plan.inserts, plan.updates) == ({"c": 2}, {"a": 1})
