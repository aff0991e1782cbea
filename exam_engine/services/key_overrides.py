"""An exam's key overrides in force, turned into each attempt's served positions.

Decisions are taken on bank items in the bank's option order (``hold_tables.exam_key_overrides``;
the newest per bank item is in force). An attempt froze its items with the options *in the
served, shuffled order*; a bank option is found among them by its text (the options of a bank
item are distinct and a published version never changes — as the item analysis does).

Used by the regrade and by finalisation: an attempt finished after a decision (a student with a
personal window) is graded with it from the start. With no decision for the exam this is one
indexed query that returns nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from question_bank import api as bank_api

from ..domain.attempts import Accepted
from ..hold_tables import exam_key_overrides
from ..tables import attempt_items

BankOverrides = dict[int, frozenset[int] | None]
"""bank item id -> the bank option indices that score (None: dropped)."""


async def in_force(conn: AsyncConnection, exam_ids: Iterable[int]) -> dict[int, BankOverrides]:
    """Per exam, the newest decision on each bank item (exams without one are absent)."""
    ids = sorted(set(exam_ids))
    if not ids:
        return {}
    stmt = (
        select(
            exam_key_overrides.c.exam_id,
            exam_key_overrides.c.bank_item_id,
            exam_key_overrides.c.action,
            exam_key_overrides.c.options,
        )
        .where(exam_key_overrides.c.exam_id.in_(ids))
        .order_by(exam_key_overrides.c.id)
    )
    out: dict[int, BankOverrides] = {}
    for r in await conn.execute(stmt):
        out.setdefault(r.exam_id, {})[r.bank_item_id] = None if r.action == "drop" else frozenset(r.options)
    return out


async def served_overrides(
    conn: AsyncConnection, attempts: Sequence[tuple[uuid.UUID, int]], overrides: dict[int, BankOverrides]
) -> dict[uuid.UUID, dict[int, Accepted]]:
    """Per attempt (id, exam id), its positions whose bank item has a decision -> accepted served indices."""
    wanted = {a: overrides[e] for a, e in attempts if overrides.get(e)}
    if not wanted:
        return {}
    items: list[Any] = (
        await conn.execute(
            select(
                attempt_items.c.attempt_id,
                attempt_items.c.position,
                attempt_items.c.bank_item_id,
                attempt_items.c.options,
            ).where(attempt_items.c.attempt_id.in_(list(wanted)))
        )
    ).all()
    bank_ids = {i.bank_item_id for i in items if i.bank_item_id in wanted[i.attempt_id]}
    bank = await bank_api.load_items_by_id(conn, sorted(bank_ids))
    out: dict[uuid.UUID, dict[int, Accepted]] = {a: {} for a in wanted}
    for i in items:
        decision = wanted[i.attempt_id]
        if i.bank_item_id not in decision:
            continue
        chosen = decision[i.bank_item_id]
        if chosen is None:
            out[i.attempt_id][i.position] = None
            continue
        served = list(i.options)
        out[i.attempt_id][i.position] = frozenset(served.index(bank[i.bank_item_id].options[o]) for o in chosen)
    return out
