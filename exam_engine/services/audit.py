"""Append-only audit records of academic changes: who, when, what before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..db_bulk import insert_many
from ..domain.actors import Actor
from ..tables import audit_log


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def audit_row(
    now: datetime,
    actor: Actor | str,
    action: str,
    subject: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    label = actor if isinstance(actor, str) else actor.label
    ip = None if isinstance(actor, str) else actor.ip
    return {
        "at": now,
        "actor": label,
        "action": action,
        "subject": subject,
        "before": _jsonable(before),
        "after": _jsonable(after),
        "ip": ip,
    }


async def record(
    conn: AsyncConnection,
    now: datetime,
    actor: Actor | str,
    action: str,
    subject: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await conn.execute(audit_log.insert().values(**audit_row(now, actor, action, subject, before, after)))


async def record_many(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await insert_many(conn, audit_log, rows)
