"""The bridge: graded attempts reach the journal signed, exactly once, and nothing else gets in."""

from __future__ import annotations

import asyncio
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from exam_engine.errors import ConfigError
from exam_engine.services import relay
from exam_engine.services.attempts import RESULT_TOPIC
from exam_engine.tables import audit_log, outbox
from journal_bridge import api as journal
from journal_bridge.tables import journal_exam_results, journal_refused_results
from tests.factories import open_client
from tests.integration.test_journal_world import make_journal_world, relay_now, rows, sit_exam


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
        (str(attempt_id), str(jw.ids["student1"]), "LAW-101", 60, "passed", 1)]
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
        await conn.execute(outbox.insert().values(topic=RESULT_TOPIC, key=str(attempt_id), version=2,
                                                  payload=annulled, created_at=services.clock.now()))
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
    relay._keys_at.cache_clear()
    again = relay.bridge_keys(settings, env={})
    message = b"same key"
    again.public.verify(keys.private.sign(message), message)
    with pytest.raises(ConfigError):
        relay.bridge_keys(settings, env={"EXAM_SIGNING_KEY_FILE": str(tmp_path / "missing.pem")})
