"""Drawing a student's form, now (at start) or in advance (prepared before the opening).

A form is drawn from the exam's pinned, published bank version of the student's language,
questions and options shuffled with a system RNG, and frozen: on the attempt
(``attempt_items``) or, prepared in advance, in ``prepared_items``. Starting with a
prepared form is one set-based ``INSERT … SELECT`` that moves it onto the attempt.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from sqlalchemy import Uuid, bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from question_bank.api import PublishedItems

from ..domain import attempts as rules
from ..errors import Conflict, InvalidInput
from ..exam_day_tables import prepared_forms, prepared_items
from ..i18n import N_
from ..tables import attempt_items, attempts, exam_banks

ITEM_COLUMNS = ("position", "bank_item_id", "text", "options", "key_index")

_BANK_FOR_LANGUAGE = select(exam_banks.c.language, exam_banks.c.bank_version_id).where(
    exam_banks.c.exam_id == bindparam("exam_id")
)
_MOVE_PREPARED = (
    attempt_items.insert()
    .from_select(
        ["attempt_id", *ITEM_COLUMNS],
        select(bindparam("b_attempt_id", type_=Uuid()), *(prepared_items.c[c] for c in ITEM_COLUMNS)).where(
            prepared_items.c.exam_id == bindparam("exam_id"), prepared_items.c.student_id == bindparam("student_id")
        ),
    )
    .returning(attempt_items.c.position, attempt_items.c.text, attempt_items.c.options)
)  # the new attempt's page
_SPENT_ITEMS = delete(prepared_items).where(
    exists().where(attempts.c.exam_id == prepared_items.c.exam_id, attempts.c.student_id == prepared_items.c.student_id)
)
_SPENT_FORMS = delete(prepared_forms).where(
    exists().where(attempts.c.exam_id == prepared_forms.c.exam_id, attempts.c.student_id == prepared_forms.c.student_id)
)
_DROP_PREPARED_ITEMS = delete(prepared_items).where(
    prepared_items.c.exam_id == bindparam("exam_id"), prepared_items.c.student_id == bindparam("student_id")
)
_DROP_PREPARED_FORM = delete(prepared_forms).where(
    prepared_forms.c.exam_id == bindparam("exam_id"), prepared_forms.c.student_id == bindparam("student_id")
)


async def exam_banks_by_language(conn: AsyncConnection, exam_id: int) -> dict[str, int]:
    return {r.language: r.bank_version_id for r in await conn.execute(_BANK_FOR_LANGUAGE, {"exam_id": exam_id})}


def choose_language(banks: dict[str, int], requested: str | None, preferred: str) -> str:
    """The requested language, else the student's own, else the first the exam has."""
    lang = requested or preferred
    if lang not in banks:
        if requested:
            raise InvalidInput(
                "language_unavailable", N_("This exam has no questions in {language}."), language=requested
            )
        lang = sorted(banks)[0] if banks else lang
    if lang not in banks:
        raise Conflict("exam_has_no_bank", N_("This exam has no question bank yet."))
    return lang


async def draw(
    conn: AsyncConnection,
    exam_id: int,
    bank_version_id: int,
    question_count: int,
    bank_cache: PublishedItems,
    rng: random.Random | None = None,
) -> list[rules.ServedItem]:
    rng = rng or random.SystemRandom()
    # The whole bank, or one blueprint draw so every form has the same composition (Q3).
    pool = await bank_cache.form_pool(conn, exam_id, bank_version_id, rng)
    source = [rules.SourceItem(id=i.id, text=i.text, options=i.options, correct=i.correct) for i in pool]
    return rules.build_form(source, question_count, rng)


def item_rows(form: list[rules.ServedItem], **key: Any) -> list[dict[str, Any]]:
    return [
        {
            **key,
            "position": s.position,
            "bank_item_id": s.bank_item_id,
            "text": s.text,
            "options": list(s.options),
            "key_index": s.key_index,
        }
        for s in form
    ]


async def move_prepared(conn: AsyncConnection, attempt_id: uuid.UUID, exam_id: int, student_id: int) -> list[Any]:
    """Copy a prepared form onto the attempt; the items moved (position, text, options), none if none was prepared.

    The prepared rows are left for :func:`clear_spent` (the background task), so the start
    stays at one statement for the whole form.
    """
    key = {"exam_id": exam_id, "student_id": student_id}
    return list((await conn.execute(_MOVE_PREPARED, {"b_attempt_id": attempt_id, **key})).all())


async def clear_spent(conn: AsyncConnection) -> int:
    """Delete prepared forms whose student has started (their items live on the attempt now)."""
    await conn.execute(_SPENT_ITEMS)
    return (await conn.execute(_SPENT_FORMS)).rowcount


async def drop_prepared(conn: AsyncConnection, exam_id: int, student_id: int) -> None:
    key = {"exam_id": exam_id, "student_id": student_id}
    await conn.execute(_DROP_PREPARED_ITEMS, key)
    await conn.execute(_DROP_PREPARED_FORM, key)
