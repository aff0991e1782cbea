"""The audit log is sealed into a signed hash chain; tampering in SQL is found and named.

Every test runs on SQLite and on PostgreSQL. The append-only triggers refuse UPDATE
and DELETE; to prove detection does not depend on them, the tampering tests bypass
them as a database administrator could (PostgreSQL: ``session_replication_role =
replica``; SQLite: dropping the trigger).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from exam_engine.cli import main
from exam_engine.security.audit_chain import BreakKind
from exam_engine.security.signing import Signer, key_id, signer_for
from exam_engine.security.tables import audit_seals
from exam_engine.services.audit import record
from exam_engine.services.audit_seal import seal_pending, verify_database
from exam_engine.tables import audit_log
from tests.conftest import settings_env

PAYLOADS = [
    None,
    {"score": 87, "result": "passed"},
    {"name": "Әлия Қасымқызы", "weights": [0.6, 0.4]},
    {"nested": {"deep": [1, None, True, "ы"]}, "at": "2026-06-01T09:00:00+00:00"},
]


async def add_rows(services, count: int, *, start: int = 0) -> None:
    async with services.engine.begin() as conn:
        for n in range(start, start + count):
            services.clock.advance(1)
            await record(
                conn,
                services.clock.now(),
                f"user:teacher{n % 3}",
                "grade.changed",
                f"grade:{n}",
                PAYLOADS[n % len(PAYLOADS)],
                PAYLOADS[(n + 1) % len(PAYLOADS)],
            )


async def tamper(services, statement: str, **params) -> None:
    """Run ``statement`` past the append-only triggers, as a DBA with full rights could."""
    async with services.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text(statement), params)
        else:
            for trigger in (
                "audit_log_no_update",
                "audit_log_no_delete",
                "audit_seals_no_update",
                "audit_seals_no_delete",
            ):
                await conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
            await conn.execute(text(statement), params)


async def verify(services):
    return await verify_database(services.engine, signer_for(services.settings).verifier())


async def test_sealed_rows_verify_and_later_rows_wait_for_the_next_seal(services):
    signer = signer_for(services.settings)
    await add_rows(services, 25)
    assert await seal_pending(services.engine, signer, services.clock, batch=10) == 25
    await add_rows(services, 3, start=25)
    report = await verify(services)
    assert report.ok, report.first_break
    assert (report.seals, report.sealed_rows, report.unsealed_rows) == (3, 25, 3)
    assert await seal_pending(services.engine, signer, services.clock) == 3
    report = await verify(services)
    assert report.ok and (report.seals, report.sealed_rows, report.unsealed_rows) == (4, 28, 0)


async def test_the_database_refuses_to_update_or_delete_audit_rows(services):
    await add_rows(services, 2)
    for statement in ("UPDATE audit_log SET actor = 'user:nobody' WHERE id = 1", "DELETE FROM audit_log WHERE id = 2"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with services.engine.begin() as conn:
                await conn.execute(text(statement))
    async with services.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(audit_log))).scalar() == 2


async def test_a_row_altered_in_sql_is_named_as_the_first_broken_link(services):
    await add_rows(services, 30)
    await seal_pending(services.engine, signer_for(services.settings), services.clock, batch=10)
    await tamper(services, "UPDATE audit_log SET after = :after WHERE id = 17", after=json.dumps({"score": 100}))
    await tamper(services, "UPDATE audit_log SET actor = 'user:x' WHERE id = 23")
    brk = (await verify(services)).first_break
    assert (brk.kind, brk.row_id, brk.seal_id) == (BreakKind.ROW_ALTERED, 17, 2)


async def test_a_row_deleted_in_sql_is_named(services):
    await add_rows(services, 12)
    await seal_pending(services.engine, signer_for(services.settings), services.clock)
    await tamper(services, "DELETE FROM audit_log WHERE id = 5")
    brk = (await verify(services)).first_break
    assert (brk.kind, brk.row_id, brk.seal_id) == (BreakKind.ROW_DELETED, 5, 1)


async def test_a_row_slipped_into_a_sealed_range_is_named(services):
    await add_rows(services, 6)
    await seal_pending(services.engine, signer_for(services.settings), services.clock)
    await tamper(services, "DELETE FROM audit_log WHERE id = 3")
    await tamper(
        services,
        "INSERT INTO audit_log (id, at, actor, action, subject) "
        "VALUES (3, '2026-01-01 00:00:00+00', 'user:x', 'grade.changed', 'grade:3')",
    )
    brk = (await verify(services)).first_break
    assert (brk.kind, brk.row_id) == (BreakKind.ROW_ALTERED, 3)


async def test_rewriting_a_seal_to_hide_a_change_breaks_its_signature(services):
    """An insider who recomputes the seal hash over altered rows still cannot sign it."""
    from exam_engine.security import audit_chain as chain

    await add_rows(services, 8)
    await seal_pending(services.engine, signer_for(services.settings), services.clock)
    await tamper(services, "UPDATE audit_log SET actor = 'user:insider' WHERE id = 4")
    async with services.engine.connect() as conn:
        rows = (await conn.execute(select(audit_log).order_by(audit_log.c.id))).all()
        seal = (await conn.execute(select(audit_seals))).one()
    forged = chain.make_seal(
        1,
        chain.GENESIS,
        [chain.AuditRow(r.id, r.at, r.actor, r.action, r.subject, r.before, r.after, r.ip) for r in rows],
        seal.sealed_at,
        seal.key_id,
        lambda message: seal.signature,
    )
    await tamper(
        services, "UPDATE audit_seals SET row_digests = :d, hash = :h WHERE id = 1", d=forged.row_digests, h=forged.hash
    )
    brk = (await verify(services)).first_break
    assert (brk.kind, brk.seal_id) == (BreakKind.SEAL_SIGNATURE, 1)


async def test_a_deleted_seal_in_the_middle_of_the_chain_is_named(services):
    await add_rows(services, 9)
    await seal_pending(services.engine, signer_for(services.settings), services.clock, batch=3)
    await tamper(services, "DELETE FROM audit_seals WHERE id = 2")
    brk = (await verify(services)).first_break
    assert (brk.kind, brk.seal_id) == (BreakKind.SEAL_MISSING, 2)


async def test_a_chain_signed_by_an_unknown_key_is_refused(services):
    stranger = Ed25519PrivateKey.generate()
    await add_rows(services, 4)
    await seal_pending(services.engine, Signer(stranger, key_id(stranger.public_key())), services.clock)
    brk = (await verify(services)).first_break
    assert (brk.kind, brk.seal_id) == (BreakKind.SEAL_UNKNOWN_KEY, 1)


async def test_concurrent_sealers_and_writers_leave_one_unbroken_chain(services):
    signer = signer_for(services.settings)

    async def writer(n: int) -> None:
        for k in range(15):
            await add_rows(services, 1, start=n * 100 + k)

    async def sealer() -> None:
        for _ in range(12):
            await seal_pending(services.engine, signer, services.clock, batch=7)
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(n) for n in range(4)), sealer(), sealer())
    await seal_pending(services.engine, signer, services.clock)
    report = await verify(services)
    assert report.ok, report.first_break
    assert (report.sealed_rows, report.unsealed_rows) == (60, 0)


async def test_audit_verify_command_exits_1_naming_the_row_after_tampering(services, monkeypatch, capsys):
    for name, value in settings_env(
        services.settings.database_url.replace("+aiosqlite", "").replace("+psycopg", ""),
        str(services.settings.data_dir),
        None,
    ).items():
        monkeypatch.setenv(name, value)
    await add_rows(services, 5)
    await seal_pending(services.engine, signer_for(services.settings), services.clock)
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 0
    assert "audit chain intact: 1 seals over 5 rows" in capsys.readouterr().out
    await tamper(services, "UPDATE audit_log SET subject = 'grade:999' WHERE id = 2")
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 1
    assert "row_altered at seal 1, audit row 2" in capsys.readouterr().err
