"""The evidence chain catches altered, removed and reordered items; retention and key
rotation keep what they must."""

from __future__ import annotations

import json
from uuid import UUID

from sqlalchemy import delete, select, update

from exam_engine.services import proctor_admin
from exam_engine.services.proctoring import runtime_of
from exam_engine.tables import audit_log
from proctor.tables import evidence_items, proctor_flags
from tests.integration.proctor_world import BASE, frame_person, proctored_attempt, verify_cli


async def _recorded(services, frames: int = 4):
    world = await proctored_attempt(services)
    for i in range(frames):
        await world.frame(frame_person(i))
    return world, UUID(world.attempt_id)


async def _verify(services, attempt_id):
    async with services.engine.begin() as conn:
        return await proctor_admin.verify(conn, runtime_of(services), attempt_id, "tests", now=services.clock.now())


async def _swap_order(services, attempt_id, a: int, b: int) -> None:
    async with services.engine.begin() as conn:
        ids = {
            r.seq: r.id
            for r in await conn.execute(
                select(evidence_items.c.seq, evidence_items.c.id).where(evidence_items.c.attempt_id == attempt_id)
            )
        }
        table = evidence_items
        await conn.execute(update(table).where(table.c.id == ids[a]).values(id=10_000_000))
        await conn.execute(update(table).where(table.c.id == ids[b]).values(id=ids[a]))
        await conn.execute(update(table).where(table.c.id == 10_000_000).values(id=ids[b]))


async def test_an_intact_chain_verifies_and_an_altered_blob_is_named(services):
    world, attempt_id = await _recorded(services)
    try:
        verdict = await _verify(services, attempt_id)
        assert verdict.ok and verdict.checked == 4
        path = runtime_of(services).store.path(attempt_id, 2)
        blob = bytearray(path.read_bytes())
        blob[40] ^= 0x01
        path.write_bytes(bytes(blob))
        verdict = await _verify(services, attempt_id)
        assert (verdict.ok, verdict.code, verdict.seq) == (False, "evidence_altered", 2)
    finally:
        await world.close()


async def test_a_removed_last_item_a_removed_file_and_a_removed_row_are_named(services):
    world, attempt_id = await _recorded(services)
    try:
        async with services.engine.begin() as conn:
            await conn.execute(
                delete(evidence_items).where(evidence_items.c.attempt_id == attempt_id, evidence_items.c.seq == 4)
            )
        verdict = await _verify(services, attempt_id)
        assert (verdict.code, verdict.seq) == ("evidence_removed", 4)  # the sealed head knew of four
        runtime_of(services).store.path(attempt_id, 2).unlink()
        verdict = await _verify(services, attempt_id)
        assert (verdict.code, verdict.seq) == ("evidence_removed", 2)
        async with services.engine.begin() as conn:
            await conn.execute(
                delete(evidence_items).where(evidence_items.c.attempt_id == attempt_id, evidence_items.c.seq == 2)
            )
        verdict = await _verify(services, attempt_id)
        assert (verdict.code, verdict.seq) == ("evidence_removed", 2)
    finally:
        await world.close()


async def test_two_items_swapped_in_storage_order_are_reported_as_reordered(services):
    world, attempt_id = await _recorded(services)
    try:
        await _swap_order(services, attempt_id, 2, 3)
        verdict = await _verify(services, attempt_id)
        assert (verdict.ok, verdict.code, verdict.seq) == (False, "evidence_reordered", 3)
    finally:
        await world.close()


async def test_the_verify_command_exits_1_naming_the_first_broken_item(services, tmp_path):
    world, attempt_id = await _recorded(services, frames=3)
    try:
        ok = verify_cli(services, attempt_id)
        assert ok.returncode == 0, ok.stderr
        path = runtime_of(services).store.path(attempt_id, 3)
        blob = path.read_bytes()
        path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))  # changed whatever the last byte was
        broken = verify_cli(services, attempt_id)
        assert broken.returncode == 1 and "3" in broken.stderr and "изменён" in broken.stderr.lower(), broken.stderr
    finally:
        await world.close()


async def test_purge_keeps_evidence_under_review_and_deletes_it_after_the_decision(services):
    world, attempt_id = await _recorded(services, frames=2)
    try:
        await world.student.call(
            "POST", f"{BASE}/attempts/{world.attempt_id}/events", json={"events": [{"seq": 1, "type": "paste"}]}
        )
        await world.student.call("POST", f"/api/v1/attempts/{world.attempt_id}/submit")
        services.clock.advance(400 * 86400)
        runtime = runtime_of(services)
        async with services.engine.begin() as conn:
            assert await proctor_admin.purge_expired(conn, runtime, "tests", now=services.clock.now()) == []
        await world.proctor.login("proctor1")  # a year later: a new session
        status, _ = await world.proctor.call(
            "POST",
            f"{BASE}/attempts/{world.attempt_id}/decisions",
            json={"decision": "clean", "reason": "a paste of own notes allowed"},
        )
        assert status == 200
        async with services.engine.begin() as conn:
            purged = await proctor_admin.purge_expired(conn, runtime, "tests", now=services.clock.now())
        assert [(p.attempt_id, p.items) for p in purged] == [(attempt_id, 3)]
        assert not (runtime.store.root / world.attempt_id).exists()
        async with services.engine.connect() as conn:
            assert (
                await conn.execute(select(evidence_items).where(evidence_items.c.attempt_id == attempt_id))
            ).all() == []
            assert [r.kind for r in await conn.execute(select(proctor_flags))] == ["paste"]
            actions = [r.action for r in await conn.execute(select(audit_log.c.action))]
        assert "evidence.purged" in actions
        timeline = await world.timeline()
        assert timeline["purged_at"] and timeline["items"] == [] and timeline["decisions"][0]["decision"] == "clean"
    finally:
        await world.close()


async def test_rotating_the_master_key_keeps_every_item_readable_and_retires_the_old_key(services):
    world, attempt_id = await _recorded(services, frames=2)
    try:
        runtime = runtime_of(services)
        old = json.loads(runtime.config.key_file.read_text())["current"]
        services.clock.advance(1)
        current, changed = await proctor_admin.rotate_master_key(
            services.engine, runtime, "tests", now=services.clock.now(), retire=True
        )
        assert current != old and changed == 1
        assert list(json.loads(runtime.config.key_file.read_text())["keys"]) == [current]
        assert (await _verify(services, attempt_id)).ok
        resp = await world.proctor.client.request("GET", f"{BASE}/attempts/{world.attempt_id}/evidence/1")
        assert resp.status == 200 and (await resp.read())[:2] == b"\xff\xd8"
    finally:
        await world.close()
