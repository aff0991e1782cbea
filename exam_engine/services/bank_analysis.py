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

from sqlalchemy import Integer, String, and_, cast, func, literal, select
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


async def _served(conn: AsyncConnection, mine: Any) -> dict[uuid.UUID, list[tuple[int, int, str | None]]]:
    """Per analysed attempt of the exam: each served item's position, bank item and the chosen option's
    text (None: not answered).

    Joined to the exam's attempts rather than an IN list of every attempt id, and the chosen text is
    taken out of the served options in SQL, so no row's options are parsed here: the gate before the
    journal runs this at a mass deadline (2,000 attempts of 20 questions). On PostgreSQL one row per
    attempt (arrays aggregated in one pass, so they line up), not one per question.
    """
    joined = attempt_items.join(attempts, attempts.c.id == attempt_items.c.attempt_id).outerjoin(
        answers,
        and_(answers.c.attempt_id == attempt_items.c.attempt_id, answers.c.position == attempt_items.c.position),
    )
    if conn.dialect.name == "postgresql":
        stmt = (
            select(
                attempt_items.c.attempt_id,
                func.array_agg(attempt_items.c.position),
                func.array_agg(attempt_items.c.bank_item_id),
                func.array_agg(_chosen_text(conn)),
            )
            .select_from(joined)
            .where(mine)
            .group_by(attempt_items.c.attempt_id)
        )
        return {
            attempt_id: list(zip(positions, bank_ids, texts, strict=True))
            for attempt_id, positions, bank_ids, texts in await conn.execute(stmt)
        }
    stmt = (
        select(attempt_items.c.attempt_id, attempt_items.c.position, attempt_items.c.bank_item_id, _chosen_text(conn))
        .select_from(joined)
        .where(mine)
    )
    out: dict[uuid.UUID, list[tuple[int, int, str | None]]] = {}
    for attempt_id, position, bank_id, text in await conn.execute(stmt):
        out.setdefault(attempt_id, []).append((position, bank_id, text))
    return out


def _chosen_text(conn: AsyncConnection) -> Any:
    """The text of the chosen option among the served ones (NULL when the index is outside them)."""
    if conn.dialect.name == "postgresql":
        return attempt_items.c.options.op("->>", return_type=String)(cast(answers.c.choice, Integer))
    return func.json_extract(
        attempt_items.c.options, literal("$[") + cast(answers.c.choice, String) + literal("]"), type_=String
    )


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
    mine = and_(attempts.c.exam_id == exam_id, attempts.c.status.in_(ANALYSED))
    langs = {
        r.id: r.language
        for r in await conn.execute(select(attempts.c.id, attempts.c.language).where(mine).order_by(attempts.c.id))
    }
    # Per attempt: (position, bank item, chosen option's text or None when not answered) of each served item.
    served = await _served(conn, mine) if langs else {}
    bank = await bank_api.load_items_by_id(conn, sorted({b for items in served.values() for _, b, _ in items}))
    analysis_id = _item_ids(bank)
    index_of = {bank_id: {text: n for n, text in enumerate(item.options)} for bank_id, item in bank.items()}
    responses: dict[uuid.UUID, dict[str, int | None]] = {i: {} for i in langs}
    members_of: dict[str, set[int]] = {}
    language_of: dict[int, str] = {}
    for attempt_id, items in served.items():
        answered, attempt_language = responses[attempt_id], langs[attempt_id]
        for position, bank_id, text in items:
            if bank_id not in bank:
                raise ValueError(f"attempt {attempt_id} position {position}: no bank item {bank_id}")
            key = analysis_id[bank_id]
            if text is None:
                answered[key] = None
            else:
                # Served order -> bank order, by the option's text (see the module docstring).
                option = index_of[bank_id].get(text)
                if option is None:
                    raise ValueError(
                        f"attempt {attempt_id} position {position}: the served option is not in bank item {bank_id}"
                    )
                answered[key] = option
            if key not in members_of or bank_id not in members_of[key]:
                members_of.setdefault(key, set()).add(bank_id)
                language_of.setdefault(bank_id, attempt_language)
    members = {key: sorted(found) for key, found in members_of.items()}
    labels = {
        key: bank[next((i for i in found if language_of[i] == language), found[0])].text
        for key, found in members.items()
    }
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
    from question_bank import analysis as qa

    a = result.analysis
    minimum = max(qa.MIN_ATTEMPTS_FOR_FLAGS, qa.MIN_ATTEMPTS_FOR_RELIABILITY)
    return {
        "exam_id": result.exam_id,
        "title": result.title,
        "attempts": a.attempts,
        "items_count": len(a.items),
        "mean_score": _round(a.mean_score),
        "score_sd": _round(a.score_sd),
        "kr20": _round(a.kr20),
        "kr20_items": a.kr20_items,
        "kr20_note": translate(language, qa.KR20_NOT_AVAILABLE)
        if a.kr20 is None and a.attempts < qa.MIN_ATTEMPTS_FOR_RELIABILITY
        else None,
        "caution": translate(language, qa.SMALL_SAMPLE_CAUTION, minimum=minimum) if a.small_sample else None,
        "items": [
            {
                "item": str(s.item_id),
                "text": result.labels[str(s.item_id)],
                "bank_item_ids": result.members[str(s.item_id)],
                "attempts": s.attempts,
                "correct": s.correct,
                "difficulty": _round(s.difficulty),
                "discrimination": _round(s.discrimination),
                "key": s.key,
                "option_counts": list(s.option_counts),
                "omitted": s.omitted,
                "upper_counts": list(s.upper_counts),
                "flags": [
                    {"code": str(f), "message": translate(language, qa.FLAG_MESSAGES[f])} for f in s.reported_flags()
                ],
                # the raw signals, whatever the sample: the gate's hold page shows what held the item
                "signals": [{"code": str(f), "message": translate(language, qa.FLAG_MESSAGES[f])} for f in s.flags],
                "flags_note": translate(
                    language, qa.ITEM_TOO_FEW, attempts=s.attempts, minimum=qa.MIN_ATTEMPTS_FOR_FLAGS
                )
                if s.too_few and s.attempts
                else None,
            }
            for s in a.items
        ],
    }


def analysis_workbook(result: ExamItemAnalysis, language: str) -> bytes:
    from question_bank.analysis_xlsx import analysis_xlsx

    return analysis_xlsx(result.analysis, labels=result.labels, translate=lambda m: gettext(language, m))
