"""The gate before the journal under /api/v1 (issue 25): held exams, key decisions, release;
and the deputy head's review of exam-result corrections that arrived after a journal closed.

The pages (``admin_ui/quality.py``) use the same services; see ``docs/banks.md``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from journal_bridge import api as journal

from .. import bounds as b
from ..domain.actors import Actor
from ..domain.roles import Kind, Permission
from ..errors import InvalidInput
from ..i18n import N_
from ..services import holds, relay
from . import schemas as s
from .api_journal import audit_sink, journal_actor, journal_errors
from .http import endpoint, field, path_int, read_json, services_of

DECISION = s.obj(
    ["item", "action", "reason"],
    item={"type": "string", "description": "item:<bank id> or twin:<key>"},
    action={"type": "string", "enum": ["rekey", "accept", "drop"]},
    options={
        "type": "array",
        "items": b.BANK_OPTION.schema(),
        "maxItems": 12,
        "description": "bank option indices, 0-based",
    },
    reason=s.STR,
)
REGRADE = s.obj(["regraded", "changed", "corrections"], regraded=s.INT, changed=s.INT, corrections=s.INT)
RELEASE = s.obj(["reason"], reason=s.STR)
REVIEW = s.obj(note=s.STR)
STATE = s.obj(["state"], state={"type": "string", "enum": ["rejected", "applied"]})


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


@endpoint(
    "GET",
    "/api/v1/quality/holds",
    summary="Exams whose results the item-analysis gate holds (and released ones with ?all=1)",
    response_schema=s.LIST,
    permission=Permission.READ_BANK_CONTENT,
)
async def list_holds(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    every = request.query.get("all") == "1"
    return {"items": [_jsonable(e) for e in await holds.held_exams(conn, actor, include_released=every)]}


@endpoint(
    "POST",
    "/api/v1/quality/holds/{exam_id}/decisions",
    summary="Change an item's key, accept several options or drop it, for this exam; regrade every attempt",
    request_schema=DECISION,
    response_schema=REGRADE,
    errors=("exam_not_final", "item_not_in_exam", "key_decision_invalid", "reason_required"),
    permission=Permission.MANAGE_BANKS,
    resource=Kind.EXAM,
)
async def decide(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    options = field(body, "options", list, required=False, default=[])
    if len(options) > 12 or any(
        isinstance(o, bool) or not isinstance(o, int) or not b.BANK_OPTION.low <= o <= b.BANK_OPTION.high
        for o in options
    ):
        # The whole sentence is a msgid: an English type name would reach a kk/ru reader inside it.
        raise InvalidInput(
            "invalid_field",
            N_("Field «{field}» must be a list of at most {limit} option numbers, each from {low} to {high}."),
            field="options",
            limit=12,
            low=b.BANK_OPTION.low,
            high=b.BANK_OPTION.high,
        )
    done = await holds.decide_item(
        conn,
        actor,
        path_int(request, "exam_id"),
        item=field(body, "item", str),
        action=field(body, "action", str),
        options=options,
        reason=field(body, "reason", str),
        now=services_of(request).clock.now(),
    )
    return {"regraded": done.regraded, "changed": done.changed, "corrections": done.corrections}


@endpoint(
    "POST",
    "/api/v1/quality/holds/{exam_id}/release",
    summary="Release a held exam's results to the journal",
    request_schema=RELEASE,
    response_schema=s.OK,
    errors=("exam_not_held", "reason_required"),
    permission=Permission.MANAGE_BANKS,
    resource=Kind.EXAM,
)
async def release(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    body = await read_json(request)
    await holds.release(
        conn,
        actor,
        path_int(request, "exam_id"),
        reason=field(body, "reason", str),
        now=services_of(request).clock.now(),
    )
    return {"ok": True}


@endpoint(
    "GET",
    "/api/v1/journal-result-corrections",
    summary="Exam results regraded after their journal's period closed, waiting for a deputy head (J5, J6)",
    response_schema=s.LIST,
    permission=Permission.REVIEW_CORRECTIONS,
)
@journal_errors
async def pending_result_corrections(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    # A regrade that reached a closed journal is the deputy head's to approve (academy-wide, J6): other
    # reviewers (a faculty head) see none of them, not another faculty's results.
    found = await journal.result_corrections(conn, pending=True)
    return {"items": [_jsonable(c) for c in found if c["approver_role"] == str(actor.role)]}


async def _review(request: web.Request, conn: AsyncConnection, actor: Actor, approve: bool) -> dict:
    body = await read_json(request)
    services = services_of(request)
    now = services.clock.now()
    sink = audit_sink(conn, now, actor)

    async def batch(entries: list[journal.AuditEntry]) -> None:
        for entry in entries:
            await sink(*entry)

    state = await journal.review_result_correction(
        conn,
        journal_actor(actor),
        path_int(request, "result_correction_id"),
        relay.bridge_keys(services.settings).public,
        approve=approve,
        note=field(body, "note", str, required=False),
        now=now,
        audit=batch,
    )
    return {"state": state}


@endpoint(
    "POST",
    "/api/v1/journal-result-corrections/{result_correction_id}/approve",
    summary="Approve a regraded exam result: the journal applies it at once, though the period closed",
    request_schema=REVIEW,
    response_schema=STATE,
    errors=("correction_not_pending", "self_approval"),
    permission=Permission.REVIEW_CORRECTIONS,
    resource=Kind.RESULT_CORRECTION,
)
@journal_errors
async def approve_result_correction(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    return await _review(request, conn, actor, True)


@endpoint(
    "POST",
    "/api/v1/journal-result-corrections/{result_correction_id}/reject",
    summary="Reject a regraded exam result (the journal keeps the old one)",
    request_schema=REVIEW,
    response_schema=STATE,
    errors=("correction_not_pending",),
    permission=Permission.REVIEW_CORRECTIONS,
    resource=Kind.RESULT_CORRECTION,
)
@journal_errors
async def reject_result_correction(request: web.Request, conn: AsyncConnection, actor: Actor) -> dict:
    return await _review(request, conn, actor, False)
