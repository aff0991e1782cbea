"""Item analysis of one exam from its finished attempts (for the quality department).

Attempts freeze what they served: the text and the options *in the served, shuffled
order*. Statistics need the bank's order (option 1 of every student must be the same
option), so each served choice is mapped back by its text: the options of one bank
item are distinct (a duplicate option is an upload error), and a published version
never changes, so the served text always names exactly one bank option.

Twins (the kk and ru items sharing a ``twin_key``) are one item, provided they agree
on the number of options and the key's position; otherwise they are kept apart rather
than mixing unrelated option counts. Annulled attempts are left out: a violation's
answers say nothing about the item.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from question_bank import api as bank_api

from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus
from ..domain.roles import Permission
from ..errors import NotFound
from ..i18n import N_, gettext, translate
from ..tables import answers, attempt_items, attempts, exams

if TYPE_CHECKING:  # numpy and openpyxl load when an analysis is asked for, not at every server start
    from question_bank.analysis import FormAnalysis

ANALYSED = (AttemptStatus.SUBMITTED.value, AttemptStatus.TIMED_OUT.value)


@dataclass(frozen=True, slots=True)
class ExamItemAnalysis:
    exam_id: int
    title: str
    analysis: FormAnalysis
    labels: dict[str, str]  # item id -> question text (in the reader's language when a twin has it)
    members: dict[str, list[int]]  # item id -> bank item ids counted in it


def _item_ids(items: dict[int, bank_api.StoredItem]) -> dict[int, str]:
    """Bank item id -> analysis id; twins that agree on shape share ``twin:<key>``."""
    shapes: dict[str, set[tuple[int, int]]] = {}
    for it in items.values():
        if it.twin_key:
            shapes.setdefault(it.twin_key, set()).add((len(it.options), it.correct))
    return {
        item_id: f"twin:{it.twin_key}" if it.twin_key and len(shapes[it.twin_key]) == 1 else f"item:{item_id}"
        for item_id, it in items.items()
    }


async def analyse_exam(conn: AsyncConnection, actor: Actor, exam_id: int, *, language: str) -> ExamItemAnalysis:
    actor.require(Permission.READ_BANK_CONTENT)
    return await compute(conn, exam_id, language=language)


async def compute(conn: AsyncConnection, exam_id: int, *, language: str) -> ExamItemAnalysis:
    """The analysis itself, for whoever may ask: the quality department's pages (through
    :func:`analyse_exam`) and the gate before the journal (``services/holds.py``).

    ValueError when an attempt's served option is not in its bank item (a form that does not
    match the bank it names: the gate holds such an exam rather than guess).
    """
    title = (await conn.execute(select(exams.c.title).where(exams.c.id == exam_id))).scalar()
    if title is None:
        raise NotFound("exam_not_found", N_("No exam {id}."), id=exam_id)
    finished = select(attempts.c.id, attempts.c.language).where(
        attempts.c.exam_id == exam_id, attempts.c.status.in_(ANALYSED))
    langs = {r.id: r.language for r in await conn.execute(finished)}
    ids = list(langs)
    served: list[Any] = []
    chosen: dict[tuple[uuid.UUID, int], int | None] = {}
    if ids:
        served = (await conn.execute(select(
            attempt_items.c.attempt_id, attempt_items.c.position, attempt_items.c.bank_item_id,
            attempt_items.c.options).where(attempt_items.c.attempt_id.in_(ids)))).all()
        for a in await conn.execute(select(answers.c.attempt_id, answers.c.position, answers.c.choice)
                                    .where(answers.c.attempt_id.in_(ids))):
            chosen[(a.attempt_id, a.position)] = a.choice
    bank = await bank_api.load_items_by_id(conn, [s.bank_item_id for s in served])
    analysis_id = _item_ids(bank)
    responses: dict[uuid.UUID, dict[str, int | None]] = {i: {} for i in ids}
    labels: dict[str, str] = {}
    members: dict[str, list[int]] = {}
    for s in sorted(served, key=lambda r: (str(r.attempt_id), r.position)):
        item = bank.get(s.bank_item_id)
        if item is None:
            raise ValueError(f"attempt {s.attempt_id} position {s.position}: no bank item {s.bank_item_id}")
        key = analysis_id[s.bank_item_id]
        choice = chosen.get((s.attempt_id, s.position))
        # Served order -> bank order, by the option's text (see the module docstring).
        if choice is not None and (choice >= len(s.options) or s.options[choice] not in item.options):
            raise ValueError(f"attempt {s.attempt_id} position {s.position}: the served option is not in bank "
                             f"item {s.bank_item_id}")
        responses[s.attempt_id][key] = None if choice is None else item.options.index(s.options[choice])
        if key not in labels or langs[s.attempt_id] == language:
            labels[key] = item.text
        if s.bank_item_id not in members.setdefault(key, []):
            members[key].append(s.bank_item_id)
    ordered = sorted(members, key=lambda k: min(bank[i].number for i in members[k]))
    from question_bank.analysis import analyse_items

    analysis = analyse_items(
        list(responses.values()),
        {k: bank[members[k][0]].correct for k in ordered},
        option_counts={k: len(bank[members[k][0]].options) for k in ordered},
    )
    return ExamItemAnalysis(exam_id, title, analysis, labels, members)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def analysis_view(result: ExamItemAnalysis, language: str) -> dict[str, Any]:
    from question_bank.analysis import FLAG_MESSAGES

    a = result.analysis
    return {
        "exam_id": result.exam_id, "title": result.title, "attempts": a.attempts, "items_count": len(a.items),
        "mean_score": _round(a.mean_score), "score_sd": _round(a.score_sd), "kr20": _round(a.kr20),
        "items": [
            {
                "item": str(s.item_id), "text": result.labels[str(s.item_id)],
                "bank_item_ids": result.members[str(s.item_id)], "attempts": s.attempts, "correct": s.correct,
                "difficulty": _round(s.difficulty), "discrimination": _round(s.discrimination),
                "key": s.key, "option_counts": list(s.option_counts), "omitted": s.omitted,
                "upper_counts": list(s.upper_counts),
                "flags": [{"code": str(f), "message": translate(language, FLAG_MESSAGES[f])} for f in s.flags],
            }
            for s in a.items
        ],
    }


def analysis_workbook(result: ExamItemAnalysis, language: str) -> bytes:
    from question_bank.analysis_xlsx import analysis_xlsx

    return analysis_xlsx(result.analysis, labels=result.labels, translate=lambda m: gettext(language, m))
