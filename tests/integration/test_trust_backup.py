"""A backup of a populated installation restores into an empty one with every row and evidence item.

Both backends: SQLite through the online backup API into a new file, PostgreSQL
through pg_dump/pg_restore into a scratch database created for the test.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text

from exam_engine.backup import RestoreRefused, create_backup, restore_backup
from exam_engine.config import load_settings
from exam_engine.db import create_engine
from exam_engine.schema import ALL_METADATA
from exam_engine.security.backup_crypto import BackupKeyMissing, BackupUnreadable
from exam_engine.security.signing import signer_for, verifier_for
from exam_engine.services.audit_seal import seal_pending, verify_database
from proctor.config import load_config
from proctor.keys import load_or_create, read_keyring
from proctor.store import EvidenceStore, ItemKind
from tests.conftest import PG_ADMIN_URL, SECRET, _swap_db
from tests.factories import Api, make_world, open_client

BACKUP_KEY = "7f" * 32


async def populate(services) -> dict[tuple[str, int], bytes]:
    """A sat exam, a few audit seals, and encrypted evidence; returns the evidence plaintexts."""
    world = await make_world(services, students=2, question_count=4)
    client = await open_client(services)
    try:
        for login in world.students:
            api = Api(client)
            await api.login(login)
            _, started = await api.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
            for seq, q in enumerate(started["questions"], start=1):
                await api.call(
                    "PUT",
                    f"/api/v1/attempts/{started['attempt']['id']}/answers/{q['position']}",
                    {"choice": 0, "seq": seq},
                )
            await api.call("POST", f"/api/v1/attempts/{started['attempt']['id']}/submit")
    finally:
        await client.close()
    await seal_pending(services.engine, signer_for(services.settings), services.clock)
    config = load_config({}, services.settings.data_dir, None)
    keyring, _ = load_or_create(config.key_file, configured=False, now=services.clock.now())
    store = EvidenceStore(config.evidence_dir, keyring)
    evidence: dict[tuple[str, int], bytes] = {}
    async with services.engine.begin() as conn:
        attempt_ids = list((await conn.execute(text("SELECT id FROM attempts"))).scalars())
        for attempt_id in attempt_ids:
            attempt_id = uuid.UUID(str(attempt_id))
            await store.open_attempt(
                conn,
                attempt_id,
                student_id=1,
                exam_id=world.exam_id,
                started_at=services.clock.now(),
                consent={"camera": True},
                now=services.clock.now(),
            )
            for n in range(1, 4):
                data = os.urandom(2000 + n)
                item = await store.append(
                    conn, attempt_id, ItemKind.FRAME if n % 2 else ItemKind.EVENT, n, data, now=services.clock.now()
                )
                evidence[(str(attempt_id), item.seq)] = data
    return evidence


async def table_contents(engine) -> dict[str, list[tuple]]:
    tables = [t for md in ALL_METADATA for t in md.sorted_tables]
    out: dict[str, list[tuple]] = {}
    async with engine.connect() as conn:
        for table in tables:
            rows = (await conn.execute(select(table))).all()
            out[table.name] = sorted(tuple(str(v) for v in r) for r in rows)
        out["alembic_version"] = [tuple((await conn.execute(text("SELECT version_num FROM alembic_version"))).all())]
    return out


def env_for(url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {"EXAM_DATABASE_URL": url, "EXAM_DATA_DIR": str(data_dir), "EXAM_SECRET_KEY": SECRET, **extra}


def empty_target(backend: str, tmp_path: Path) -> tuple[str, str | None]:
    """A URL of an empty database, and the scratch PostgreSQL database's name to drop."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'restored' / 'exam.db'}", None
    import psycopg

    name = f"exam_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return _swap_db(PG_ADMIN_URL, name), name


def drop_database(name: str | None) -> None:
    if name:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_backup_restores_into_an_empty_database_with_every_row_and_evidence_item(services, backend, tmp_path):
    evidence = await populate(services)
    source_env = env_for(services.settings.database_url, services.settings.data_dir, EXAM_BACKUP_KEY=BACKUP_KEY)
    archive = tmp_path / "weekly.bin"
    report = await asyncio.to_thread(create_backup, services.settings, source_env, archive, services.clock.now())
    assert report.evidence_files == len(evidence)
    assert {"evidence-keyring", "signing-private", "signing-public"} <= set(report.key_files)
    assert b"KEY 1" not in archive.read_bytes() and b"CREATE TABLE" not in archive.read_bytes()

    url, scratch = empty_target(backend, tmp_path)
    target_dir = tmp_path / "restored"
    target_env = env_for(url, target_dir, EXAM_BACKUP_KEY=BACKUP_KEY)
    target = load_settings(target_env)
    engine = create_engine(target.database_url)
    try:
        await asyncio.to_thread(restore_backup, target, target_env, archive)
        assert await table_contents(engine) == await table_contents(services.engine)
        config = load_config({}, target_dir, None)
        store = EvidenceStore(config.evidence_dir, read_keyring(config.key_file))
        async with engine.connect() as conn:
            for (attempt_id, seq), plaintext in evidence.items():
                row, content = await store.read(conn, uuid.UUID(attempt_id), seq)
                assert content == plaintext
            for attempt_id in {a for a, _ in evidence}:
                assert (await store.verify(conn, uuid.UUID(attempt_id))).ok
        # The restored signing key still vouches for the restored audit chain.
        assert (await verify_database(engine, verifier_for(target, env={}))).ok
        with pytest.raises(RestoreRefused, match="not empty"):
            await asyncio.to_thread(restore_backup, target, target_env, archive)
    finally:
        await engine.dispose()
        drop_database(scratch)


async def test_backup_refuses_without_a_key_and_restore_refuses_a_damaged_archive(services, tmp_path):
    env = env_for(services.settings.database_url, services.settings.data_dir)
    with pytest.raises(BackupKeyMissing, match="EXAM_BACKUP_KEY"):
        await asyncio.to_thread(create_backup, services.settings, env, tmp_path / "b.bin", services.clock.now())
    with pytest.raises(BackupKeyMissing, match="64 hex digits"):
        await asyncio.to_thread(
            create_backup,
            services.settings,
            {**env, "EXAM_BACKUP_KEY": "short"},
            tmp_path / "b.bin",
            services.clock.now(),
        )
    archive = tmp_path / "b.bin"
    await asyncio.to_thread(
        create_backup, services.settings, {**env, "EXAM_BACKUP_KEY": BACKUP_KEY}, archive, services.clock.now()
    )
    target_env = env_for(f"sqlite:///{tmp_path / 'r' / 'exam.db'}", tmp_path / "r")
    target = load_settings(target_env)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 1
    damaged = tmp_path / "damaged.bin"
    damaged.write_bytes(bytes(data))
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(archive.read_bytes()[:-100])
    for bad, key in ((damaged, BACKUP_KEY), (truncated, BACKUP_KEY), (archive, "11" * 32)):
        with pytest.raises(BackupUnreadable):
            await asyncio.to_thread(restore_backup, target, {**target_env, "EXAM_BACKUP_KEY": key}, bad)
    assert not (tmp_path / "r" / "exam.db").exists()
