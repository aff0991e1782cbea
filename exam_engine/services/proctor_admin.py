"""Administering proctoring: reference photos, per-exam capture settings, chain
verification, retention and master-key rotation (the last three also from the CLI)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from proctor.evidence import ChainVerdict
from proctor.keys import add_current_key, read_keyring, retire_other_keys, write_keyring
from proctor.runtime import ProctorRuntime
from proctor.tables import proctor_attempts, proctor_exam_settings

from .. import bounds
from ..domain.actors import Actor
from ..domain.roles import Permission, Role
from ..errors import InvalidInput, NotFound
from ..i18n import N_
from ..tables import attempts, exams, users
from .audit import record
from .authority import attempt as attempt_resource
from .authority import authorize
from .authority import exam as exam_resource
from .proctoring import SCREEN_POLICIES
from .upsert import upsert


async def put_reference_photo(
    conn: AsyncConnection, runtime: ProctorRuntime, actor: Actor, student_id: int, photo: bytes, *, now: datetime
) -> dict[str, Any]:
    """The photo a student's face is compared with when they do not take one at the exam."""
    actor.require(Permission.MANAGE_ACCOUNTS)
    role = (await conn.execute(select(users.c.role).where(users.c.id == student_id))).scalar()
    if role != Role.STUDENT:
        raise NotFound("student_not_found", N_("No such student."))
    await runtime.store.put_reference(conn, student_id, photo, by=actor.label, now=now)
    await record(conn, now, actor, "proctor.reference_photo", f"user:{student_id}", None, {"bytes": len(photo)})
    return {"student_id": student_id, "uploaded_at": now.isoformat()}


async def exam_settings(conn: AsyncConnection, runtime: ProctorRuntime, actor: Actor, exam_id: int) -> dict:
    await authorize(conn, actor, Permission.VIEW_EXAMS, exam_resource(exam_id))
    required = (await conn.execute(select(exams.c.requires_proctoring).where(exams.c.id == exam_id))).first()
    if required is None:
        raise NotFound("exam_not_found", N_("No such exam."))
    row = (await conn.execute(select(proctor_exam_settings).where(proctor_exam_settings.c.exam_id == exam_id))).first()
    config = runtime.config
    return {
        "exam_id": exam_id,
        "requires_proctoring": bool(required[0]),
        "custom": row is not None,
        "frame_interval_s": row.frame_interval_s if row else config.frame_interval_s,
        "screen_interval_s": row.screen_interval_s if row else config.screen_interval_s,
        "room_scan_at_start": bool(row.room_scan_at_start) if row else bool(required[0]),
        "screen_policy": row.screen_policy if row else ("require" if required[0] else "off"),
    }


async def set_exam_settings(
    conn: AsyncConnection, runtime: ProctorRuntime, actor: Actor, exam_id: int, body: dict[str, Any], *, now: datetime
) -> dict:
    actor.require(Permission.MANAGE_EXAMS)
    before = await exam_settings(conn, runtime, actor, exam_id)
    policy = body.get("screen_policy", before["screen_policy"])
    if policy not in SCREEN_POLICIES:
        raise InvalidInput("screen_policy_invalid", N_("The screen policy must be require, flag or off."))
    values = {
        "frame_interval_s": float(
            bounds.FRAME_INTERVAL_S.check({**before, **body}["frame_interval_s"], "frame_interval_s")
        ),
        "screen_interval_s": float(
            bounds.SCREEN_INTERVAL_S.check({**before, **body}["screen_interval_s"], "screen_interval_s")
        ),
        "room_scan_at_start": bool(body.get("room_scan_at_start", before["room_scan_at_start"])),
        "screen_policy": policy,
        "updated_by": actor.label,
        "updated_at": now,
    }
    row = {"exam_id": exam_id, **values}
    await conn.execute(upsert(conn, proctor_exam_settings, list(row), ["exam_id"], list(values)), row)
    await record(conn, now, actor, "proctor.exam_settings", f"exam:{exam_id}", before, values)
    return await exam_settings(conn, runtime, actor, exam_id)


# ------------------------------------------------------------------------------ operator commands


async def verify(
    conn: AsyncConnection, runtime: ProctorRuntime, attempt_id: uuid.UUID, actor: Actor | str, *, now: datetime
) -> ChainVerdict:
    if not isinstance(actor, str) and actor.user_id is not None:  # a person, not the command line's operator
        await authorize(conn, actor, Permission.PROCTOR_REVIEW, attempt_resource(attempt_id))
    row = (
        await conn.execute(select(proctor_attempts.c.purged_at).where(proctor_attempts.c.attempt_id == attempt_id))
    ).first()
    if row is None:
        raise NotFound("proctoring_not_found", N_("This attempt has no proctoring record."))
    verdict = await runtime.store.verify(conn, attempt_id)
    await record(
        conn,
        now,
        actor,
        "evidence.verified",
        f"attempt:{attempt_id}",
        None,
        {"ok": verdict.ok, "code": verdict.code, "seq": verdict.seq, "checked": verdict.checked},
    )
    return verdict


@dataclass(frozen=True)
class Purged:
    attempt_id: uuid.UUID
    items: int


async def purge_expired(
    conn: AsyncConnection,
    runtime: ProctorRuntime,
    actor: Actor | str,
    *,
    now: datetime,
    retention_days: int | None = None,
) -> list[Purged]:
    """Delete evidence older than the retention period, except attempts under review or
    appeal and attempts still running. Flags and decisions stay as the record."""
    days = retention_days if retention_days is not None else runtime.config.retention_days
    cutoff = now - timedelta(days=days)
    rows = (
        await conn.execute(
            select(proctor_attempts.c.attempt_id)
            .select_from(proctor_attempts.join(attempts, attempts.c.id == proctor_attempts.c.attempt_id))
            .where(
                proctor_attempts.c.purged_at.is_(None),
                proctor_attempts.c.last_item_at < cutoff,
                proctor_attempts.c.review_state.not_in(("pending", "appeal")),
                attempts.c.status != "in_progress",
            )
            .with_for_update(of=proctor_attempts)
        )
    ).all()
    done = []
    for row in rows:
        count = await runtime.store.purge(conn, row.attempt_id, now)
        await record(
            conn,
            now,
            actor,
            "evidence.purged",
            f"attempt:{row.attempt_id}",
            None,
            {"items": count, "retention_days": days},
        )
        done.append(Purged(row.attempt_id, count))
    return done


async def rotate_master_key(
    engine: Any, runtime: ProctorRuntime, actor: Actor | str, *, now: datetime, retire: bool
) -> tuple[str, int]:
    """Add a new current master key, re-wrap every data key under it, optionally drop the old keys.

    Order matters for a crash at any step: the key file (with old and new keys) is
    written before the database changes, and old keys go only after the commit.
    """
    path = runtime.config.key_file
    keyring = add_current_key(read_keyring(path), now)
    write_keyring(path, keyring)
    runtime.store.keyring = keyring
    async with engine.begin() as conn:
        changed = await runtime.store.rewrap_all(conn)
        await record(
            conn,
            now,
            actor,
            "evidence.key_rotated",
            "evidence:keys",
            None,
            {"current": keyring.current, "rewrapped": changed, "retired": retire},
        )
    if retire:
        keyring = retire_other_keys(keyring)
        write_keyring(path, keyring)
        runtime.store.keyring = keyring
    return keyring.current, changed
