"""The gate before the journal: hold an exam's results when its item analysis flags an item;
re-key and regrade; release.

Life of an exam's results (``hold_tables.exam_release``)::

    (no row: not final) ──final, nothing flagged──► released ──► the relay delivers them
            │
            └──final, an item flagged──► held ──quality department releases──► released
                                           └──hold expires (end of the exam day)──► released

* Final: no attempt is open, and the window has closed (the latest personal window included) or
  every assigned student has finished (:func:`exam_engine.domain.holds.results_final`).
* The gate runs in the relay's round (:func:`advance`): one query finds the exams that have
  undelivered results and no release state; each is checked, analysed and decided in its own
  transaction. Two processes deciding the same exam both insert the same row; the second
  insert does nothing.
* A decision on an item (:func:`decide_item`: a new key, accepted options, or the item dropped
  from scoring) is kept with its reason in ``exam_key_overrides`` and regrades every finished
  attempt of the exam from its stored answers with the pure ``domain.attempts.grade``. A changed
  grade becomes a newer result version in the outbox (older undelivered versions of the attempt
  are superseded: a held wrong grade never leaves), with the old and the new score in the audit
  log. Regrading never opens, reopens or creates an attempt: it updates the score columns of
  finished ones only.
* After the journal's period has closed a newer version is not applied by the journal at once:
  the outbox row names the journal and the reason, and the journal files it as a correction a
  deputy head approves (``journal_bridge.keeping.file_result_corrections``, J5/J6).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, distinct, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from journal_bridge import api as journal

from ..config import Settings
from ..db_bulk import insert_many
from ..domain import attempts as rules
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus, TimeoutPolicy
from ..domain.holds import HoldPolicy, accepted_options, hold_expires_at, results_final
from ..domain.roles import Permission
from ..errors import Conflict, InvalidInput, NotFound
from ..exam_day_tables import student_terms
from ..hold_tables import exam_key_overrides, exam_release
from ..i18n import N_
from ..tables import (
    answers,
    attempt_items,
    attempts,
    disciplines,
    exam_groups,
    exams,
    group_members,
    groups,
    outbox,
    users,
)
from . import bank_analysis, key_overrides
from .attempts import RESULT_TOPIC, journal_status
from .audit import audit_row, record_many

log = logging.getLogger(__name__)

HOLD_ACTOR = "system:hold"
RELEASED, HELD = "released", "held"
ANALYSIS_FAILED = "analysis_failed"
FINISHED = (AttemptStatus.SUBMITTED.value, AttemptStatus.TIMED_OUT.value, AttemptStatus.ANNULLED.value)
REGRADED = (AttemptStatus.SUBMITTED.value, AttemptStatus.TIMED_OUT.value)  # an annulment stands as it is
OPEN = (AttemptStatus.IN_PROGRESS.value, AttemptStatus.PAUSED.value)


def policy_of(settings: Settings) -> HoldPolicy:
    return HoldPolicy(
        min_attempts=settings.hold_min_attempts,
        discrimination_below=settings.hold_discrimination,
        release_at=settings.hold_release_at,
    )


# ------------------------------------------------------------------------------------------ the gate


@dataclass
class GateReport:
    released: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)


# Exams with results waiting and no release state yet: the only query of a round with nothing to do.
_UNDECIDED = (
    select(outbox.c.exam_id)
    .distinct()
    .where(outbox.c.delivered_at.is_(None), outbox.c.topic == RESULT_TOPIC, outbox.c.exam_id.is_not(None))
    .where(~exists().where(exam_release.c.exam_id == outbox.c.exam_id))
)


RECHECK_S = 2.0
"""How often one process asks again whether a running exam's results are final: an exam day with
many exams under way should not cost a handful of queries per exam every relay round."""


async def advance(
    engine: AsyncEngine, now: datetime, policy: HoldPolicy, not_final: dict[int, datetime] | None = None
) -> GateReport:
    """Release expired holds, then decide every exam whose results wait without a release state.

    ``not_final`` (the server's relay keeps one per process): exam id -> when to check it again,
    for exams found not final; without it every exam is checked every time.
    """
    report = GateReport()
    async with engine.begin() as conn:
        report.expired = await expire(conn, now)
    async with engine.connect() as conn:
        undecided = (await conn.execute(_UNDECIDED)).scalars().all()
    for exam_id in undecided:
        if not_final is not None and not_final.get(int(exam_id), now) > now:
            continue
        async with engine.begin() as conn:
            state = await decide_exam(conn, int(exam_id), now, policy)
        if not_final is not None:
            if state is None:
                not_final[int(exam_id)] = now + timedelta(seconds=RECHECK_S)
            else:
                not_final.pop(int(exam_id), None)
        if state == RELEASED:
            report.released.append(int(exam_id))
        elif state == HELD:
            report.held.append(int(exam_id))
    return report


async def expire(conn: AsyncConnection, now: datetime) -> list[int]:
    """Release every hold whose time is up, each with an audit entry."""
    rows = (
        await conn.execute(
            select(exam_release.c.exam_id, exam_release.c.release_after)
            .where(exam_release.c.state == HELD, exam_release.c.release_after <= now)
            .with_for_update()
        )
    ).all()
    if not rows:
        return []
    ids = [r.exam_id for r in rows]
    await conn.execute(
        update(exam_release)
        .where(exam_release.c.exam_id.in_(ids), exam_release.c.state == HELD)
        .values(state=RELEASED, released_at=now, released_by=HOLD_ACTOR, release_reason="expired")
    )
    await record_many(
        conn,
        [
            audit_row(
                now,
                HOLD_ACTOR,
                "exam.hold_expired",
                f"exam:{r.exam_id}",
                {"state": HELD, "release_after": r.release_after},
                {"state": RELEASED},
            )
            for r in rows
        ],
    )
    log.warning("exam results released unresolved (hold expired): exams %s", ids)
    return ids


async def _final(conn: AsyncConnection, exam_id: int, now: datetime) -> tuple[bool, int]:
    """Whether the exam's results are final, and how many attempts finished."""
    closes = (await conn.execute(select(exams.c.closes_at).where(exams.c.id == exam_id))).scalar()
    if closes is None:
        return False, 0
    personal = (
        await conn.execute(select(func.max(student_terms.c.closes_at)).where(student_terms.c.exam_id == exam_id))
    ).scalar()
    counts = dict(
        (
            await conn.execute(
                select(attempts.c.status, func.count()).where(attempts.c.exam_id == exam_id).group_by(attempts.c.status)
            )
        ).all()
    )
    assigned_ids = (
        select(group_members.c.student_id)
        .select_from(group_members.join(exam_groups, exam_groups.c.group_id == group_members.c.group_id))
        .where(exam_groups.c.exam_id == exam_id, group_members.c.left_at.is_(None))
    )
    roster = assigned_ids.subquery()
    assigned = (await conn.execute(select(func.count(distinct(roster.c.student_id))))).scalar_one()
    finished_assigned = (
        await conn.execute(
            select(func.count(distinct(attempts.c.student_id))).where(
                attempts.c.exam_id == exam_id, attempts.c.status.in_(FINISHED), attempts.c.student_id.in_(assigned_ids)
            )
        )
    ).scalar_one()
    window = max(closes, personal) if personal is not None else closes
    final = results_final(
        now=now,
        window_closes_at=window,
        open_attempts=sum(counts.get(s, 0) for s in OPEN),
        assigned=assigned,
        finished_assigned=finished_assigned,
    )
    return final, sum(counts.get(s, 0) for s in FINISHED)


async def _analysed_count(conn: AsyncConnection, exam_id: int) -> int:
    return (
        await conn.execute(
            select(func.count()).where(attempts.c.exam_id == exam_id, attempts.c.status.in_(bank_analysis.ANALYSED))
        )
    ).scalar_one()


async def _flagged(conn: AsyncConnection, exam_id: int, policy: HoldPolicy) -> list[dict[str, Any]]:
    """The items that hold the exam, as stored in ``exam_release.flagged``."""
    try:
        result = await bank_analysis.compute(conn, exam_id, language="kk")
    except ValueError as error:  # a form that does not match its bank: hold rather than guess
        log.error("exam %s: item analysis failed, results held: %s", exam_id, error)
        return [{"item": None, "bank_item_ids": [], "flags": [ANALYSIS_FAILED]}]
    from question_bank.analysis import GatePolicy, held_items

    gate = GatePolicy(policy.min_attempts, policy.discrimination_below)
    return [
        {"item": str(item), "bank_item_ids": result.members[str(item)], "flags": [str(f) for f in flags]}
        for item, flags in held_items(result.analysis, gate).items()
    ]


async def decide_exam(conn: AsyncConnection, exam_id: int, now: datetime, policy: HoldPolicy) -> str | None:
    """If the exam's results are final: analyse them and store ``released`` or ``held``; else None."""
    began = time.perf_counter()
    final, finished = await _final(conn, exam_id, now)
    if not final:
        return None
    # Fewer analysed attempts than the minimum: no item can reach it (an item is presented at most
    # once per attempt), so there is nothing to analyse.
    enough = await _analysed_count(conn, exam_id) >= policy.min_attempts
    flagged = await _flagged(conn, exam_id, policy) if enough else []
    state = HELD if flagged else RELEASED
    values = {
        "exam_id": exam_id,
        "state": state,
        "decided_at": now,
        "attempts": finished,
        "flagged": flagged,
        "release_after": hold_expires_at(now, policy) if flagged else None,
        "released_at": None if flagged else now,
        "released_by": None if flagged else HOLD_ACTOR,
    }
    inserted = await insert_many(conn, exam_release, [values], skip_conflicts_on=["exam_id"], returning="exam_id")
    if not inserted:
        return None  # another process decided it first
    await record_many(
        conn,
        [
            audit_row(
                now,
                HOLD_ACTOR,
                f"exam.results_{state}",
                f"exam:{exam_id}",
                None,
                {"attempts": finished, "flagged": flagged, "release_after": values["release_after"]},
            )
        ],
    )
    if flagged:
        log.warning("exam %s: results held for the quality department: %s", exam_id, flagged)
    log.info(
        "exam %s: results final, %s (%d attempts, decided in %.2f s)",
        exam_id,
        state,
        finished,
        time.perf_counter() - began,
    )
    return state


# ------------------------------------------------------------------------------ reading the state


async def release_state(conn: AsyncConnection, exam_ids: list[int]) -> dict[int, Any]:
    """exam id -> its ``exam_release`` row (absent: not final yet)."""
    if not exam_ids:
        return {}
    rows = await conn.execute(select(exam_release).where(exam_release.c.exam_id.in_(sorted(set(exam_ids)))))
    return {r.exam_id: r for r in rows}


async def result_notes(conn: AsyncConnection, attempt_rows: list[Any]) -> dict[str, dict[str, Any]]:
    """For finished attempts (rows with ``id``, ``exam_id``): whether the result is provisional
    (the exam is not final yet, or held), and its regrades (old and new score, newest last)."""
    if not attempt_rows:
        return {}
    states = await release_state(conn, [r.exam_id for r in attempt_rows])
    subjects = [f"attempt:{r.id}" for r in attempt_rows]
    from ..tables import audit_log

    regrades: dict[str, list[dict[str, Any]]] = {}
    stmt = (
        select(audit_log.c.subject, audit_log.c.at, audit_log.c.before, audit_log.c.after)
        .where(audit_log.c.action == "attempt.regraded", audit_log.c.subject.in_(subjects))
        .order_by(audit_log.c.id)
    )
    for r in await conn.execute(stmt):
        regrades.setdefault(r.subject.split(":", 1)[1], []).append(
            {"at": r.at, "old_score": (r.before or {}).get("score"), "new_score": (r.after or {}).get("score")}
        )
    out = {}
    for r in attempt_rows:
        state = states.get(r.exam_id)
        out[str(r.id)] = {
            "provisional": state is None or state.state == HELD,
            "held": state is not None and state.state == HELD,
            "regrades": regrades.get(str(r.id), []),
        }
    return out


async def held_exams(conn: AsyncConnection, actor: Actor, *, include_released: bool = False) -> list[dict[str, Any]]:
    """The quality department's list: held exams (newest first) with their flagged items."""
    actor.require(Permission.READ_BANK_CONTENT)
    stmt = (
        select(exam_release, exams.c.title, disciplines.c.code.label("discipline"))
        .select_from(
            exam_release.join(exams, exams.c.id == exam_release.c.exam_id).join(
                disciplines, disciplines.c.id == exams.c.discipline_id
            )
        )
        .order_by(exam_release.c.decided_at.desc(), exam_release.c.exam_id.desc())
    )
    if not include_released:
        stmt = stmt.where(exam_release.c.state == HELD)
    return [
        {
            "exam_id": r.exam_id,
            "title": r.title,
            "discipline": r.discipline,
            "state": r.state,
            "decided_at": r.decided_at,
            "attempts": r.attempts,
            "flagged": r.flagged,
            "release_after": r.release_after,
            "released_at": r.released_at,
            "released_by": r.released_by,
            "release_reason": r.release_reason,
        }
        for r in await conn.execute(stmt)
    ]


async def exam_title(conn: AsyncConnection, exam_id: int) -> str:
    return (await conn.execute(select(exams.c.title).where(exams.c.id == exam_id))).scalar() or ""


async def decisions(conn: AsyncConnection, exam_id: int) -> list[dict[str, Any]]:
    """Every key decision on the exam, oldest first (the newest per bank item is in force)."""
    rows = await conn.execute(
        select(exam_key_overrides).where(exam_key_overrides.c.exam_id == exam_id).order_by(exam_key_overrides.c.id)
    )
    return [
        {
            "id": r.id,
            "bank_item_id": r.bank_item_id,
            "action": r.action,
            "options": list(r.options),
            "reason": r.reason,
            "decided_by": r.decided_by,
            "decided_at": r.decided_at,
            "regraded": r.regraded,
        }
        for r in rows
    ]


# ------------------------------------------------------------------------------ the department's acts


def _reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise InvalidInput("reason_required", N_("Give the reason."))
    if len(reason) > 2000:
        raise InvalidInput("reason_too_long", N_("The reason is longer than {limit} characters."), limit=2000)
    return reason.strip()


async def release(conn: AsyncConnection, actor: Actor, exam_id: int, *, reason: str, now: datetime) -> None:
    """The quality department lets a held exam's results go to the journal (as they now stand)."""
    actor.require(Permission.MANAGE_BANKS)
    why = _reason(reason)
    row = (await conn.execute(select(exam_release).where(exam_release.c.exam_id == exam_id).with_for_update())).first()
    if row is None or row.state != HELD:
        raise Conflict("exam_not_held", N_("The results of exam {exam} are not held."), exam=exam_id)
    await conn.execute(
        update(exam_release)
        .where(exam_release.c.exam_id == exam_id)
        .values(state=RELEASED, released_at=now, released_by=actor.label, release_reason=why)
    )
    await record_many(
        conn,
        [
            audit_row(
                now,
                actor,
                "exam.results_released",
                f"exam:{exam_id}",
                {"state": HELD},
                {"state": RELEASED, "reason": why},
            )
        ],
    )


@dataclass(frozen=True)
class RegradeReport:
    regraded: int  # finished attempts graded again
    changed: int  # of them, those whose grade changed (a newer result version each)
    corrections: int  # of those, results the journal takes as a correction (its period closed)


async def decide_item(
    conn: AsyncConnection,
    actor: Actor,
    exam_id: int,
    *,
    item: str,
    action: str,
    options: list[int],
    reason: str,
    now: datetime,
) -> RegradeReport:
    """Change an item's key, accept several options, or drop it from scoring — for this exam — and regrade.

    ``item`` is the item analysis's id (``item:<bank id>``, or ``twin:<key>`` for kk/ru twins, decided
    together); ``options`` are bank option indices (0-based, the bank's order).
    """
    actor.require(Permission.MANAGE_BANKS)
    why = _reason(reason)
    exam = (await conn.execute(select(exams.c.id).where(exams.c.id == exam_id).with_for_update())).first()
    if exam is None:
        raise NotFound("exam_not_found", N_("No exam {id}."), id=exam_id)
    open_count = (
        await conn.execute(select(func.count()).where(attempts.c.exam_id == exam_id, attempts.c.status.in_(OPEN)))
    ).scalar_one()
    if open_count:
        raise Conflict(
            "exam_not_final",
            N_("{count} attempts of this exam are still open: decide once every attempt is finished."),
            count=open_count,
        )
    analysed = await bank_analysis.compute(conn, exam_id, language=actor.language)
    members = analysed.members.get(item)
    if not members:
        raise NotFound("item_not_in_exam", N_("Question {item} was not part of this exam."), item=item)
    stats = next(s for s in analysed.analysis.items if str(s.item_id) == item)
    n_options = len(stats.option_counts)
    try:
        chosen = accepted_options(action, options, n_options)
    except ValueError:
        raise InvalidInput(
            "key_decision_invalid",
            N_(
                "This decision needs: a new key — exactly one option; accept — two or more options; drop — no "
                "option (options 1 to {last})."
            ),
            last=n_options,
        ) from None
    before = await key_overrides.in_force(conn, [exam_id])
    rows = [
        {
            "exam_id": exam_id,
            "bank_item_id": bank_id,
            "action": action,
            "options": sorted(chosen or ()),
            "reason": why,
            "decided_by": actor.label,
            "decided_at": now,
            "regraded": 0,
        }
        for bank_id in members
    ]
    await insert_many(conn, exam_key_overrides, rows)
    report = await regrade(conn, exam_id, actor=actor, now=now, reason=why)
    await conn.execute(
        update(exam_key_overrides)
        .where(
            exam_key_overrides.c.exam_id == exam_id,
            exam_key_overrides.c.decided_at == now,
            exam_key_overrides.c.bank_item_id.in_(members),
        )
        .values(regraded=report.changed)
    )
    previous = before.get(exam_id, {}).get(members[0])
    await record_many(
        conn,
        [
            audit_row(
                now,
                actor,
                "exam.key_decision",
                f"exam:{exam_id}",
                {
                    "item": item,
                    "bank_item_ids": members,
                    "key": stats.key,
                    "in_force": None
                    if members[0] not in before.get(exam_id, {})
                    else ("drop" if previous is None else sorted(previous)),
                },
                {
                    "item": item,
                    "action": action,
                    "options": sorted(chosen or ()),
                    "reason": why,
                    "regraded": report.regraded,
                    "changed": report.changed,
                },
            )
        ],
    )
    return report


_REGRADE_ROWS = select(
    attempts.c.id,
    attempts.c.exam_id,
    attempts.c.status,
    attempts.c.deadline_at,
    attempts.c.submitted_at,
    attempts.c.pass_score,
    attempts.c.timeout_policy,
    attempts.c.score,
    attempts.c.correct_count,
    attempts.c.result,
    attempts.c.student_id,
    users.c.login,
    disciplines.c.code.label("discipline_code"),
).select_from(
    attempts.join(users, users.c.id == attempts.c.student_id).join(
        disciplines, disciplines.c.id == attempts.c.discipline_id
    )
)


async def _journals_closed(
    conn: AsyncConnection, exam_id: int, discipline_code: str, student_ids: list[int], now: datetime
) -> dict[int, int]:
    """student id -> the journal (their group × the discipline) whose period has closed at ``now``."""
    member = (
        await conn.execute(
            select(group_members.c.student_id, groups.c.code)
            .select_from(
                group_members.join(groups, groups.c.id == group_members.c.group_id).join(
                    exam_groups, and_(exam_groups.c.group_id == groups.c.id, exam_groups.c.exam_id == exam_id)
                )
            )
            .where(group_members.c.student_id.in_(student_ids))
        )
    ).all()
    found = await journal.load_journals(conn, group_codes=sorted({m.code for m in member}))
    closed = {j.group_code: j.id for j in found if j.discipline_code == discipline_code and j.closed(now)}
    return {m.student_id: closed[m.code] for m in member if m.code in closed}


async def regrade(
    conn: AsyncConnection, exam_id: int, *, actor: Actor | str, now: datetime, reason: str
) -> RegradeReport:
    """Grade every finished attempt of the exam again, from its stored answers, with the decisions in force.

    Deterministic: the same answers and decisions give the same grades (``domain.attempts.grade`` is
    pure; the attempt's own submit time and status stand in for ``now`` and ``timed_out``). Only the
    grade columns of finished attempts change; status, times and answers never do.
    """
    rows = (
        await conn.execute(
            _REGRADE_ROWS.where(attempts.c.exam_id == exam_id, attempts.c.status.in_(REGRADED))
            .order_by(attempts.c.id)
            .with_for_update(of=attempts)
        )
    ).all()
    if not rows:
        return RegradeReport(0, 0, 0)
    ids = [r.id for r in rows]
    keys: dict[uuid.UUID, dict[int, int]] = {i: {} for i in ids}
    choices: dict[uuid.UUID, dict[int, int | None]] = {i: {} for i in ids}
    for k in await conn.execute(
        select(attempt_items.c.attempt_id, attempt_items.c.position, attempt_items.c.key_index).where(
            attempt_items.c.attempt_id.in_(ids)
        )
    ):
        keys[k.attempt_id][k.position] = k.key_index
    for c in await conn.execute(
        select(answers.c.attempt_id, answers.c.position, answers.c.choice).where(answers.c.attempt_id.in_(ids))
    ):
        choices[c.attempt_id][c.position] = c.choice
    decisions_now = await key_overrides.in_force(conn, [exam_id])
    accepted = await key_overrides.served_overrides(conn, [(i, exam_id) for i in ids], decisions_now)
    last = dict(
        (
            await conn.execute(
                select(outbox.c.key, func.max(outbox.c.version))
                .where(outbox.c.topic == RESULT_TOPIC, outbox.c.key.in_([str(i) for i in ids]))
                .group_by(outbox.c.key)
            )
        ).all()
    )
    changed_rows = []
    for r in rows:
        g = rules.grade(
            timed_out=r.status == AttemptStatus.TIMED_OUT.value,
            deadline_at=r.deadline_at,
            now=r.submitted_at or r.deadline_at,
            keys=keys[r.id],
            choices=choices[r.id],
            pass_score=r.pass_score,
            policy=TimeoutPolicy(r.timeout_policy),
            accepted=accepted.get(r.id),
        )
        if (g.score, g.correct_count, g.result.value) != (r.score, r.correct_count, r.result):
            changed_rows.append((r, g))
    closed = (
        await _journals_closed(conn, exam_id, rows[0].discipline_code, [r.student_id for r, _ in changed_rows], now)
        if changed_rows
        else {}
    )
    events, audits = [], []
    for r, g in changed_rows:
        await conn.execute(
            update(attempts)
            .where(attempts.c.id == r.id, attempts.c.status == r.status)
            .values(score=g.score, correct_count=g.correct_count, result=g.result.value)
        )
        version = int(last.get(str(r.id)) or 0) + 1
        payload: dict[str, Any] = {
            "attempt_id": str(r.id),
            "exam_id": r.exam_id,
            "student_id": r.student_id,
            "student_login": r.login,
            "discipline_code": r.discipline_code,
            "score": g.score,
            "status": journal_status(r.status, g.result.value),
            "graded_at": now.isoformat(),
            "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
            "version": version,
            "regrade": reason,
        }
        if r.student_id in closed:
            payload["journal_correction"] = {
                "journal_id": closed[r.student_id],
                "reason": reason,
                # The journal's identity (the user id), as the reviewer's: nobody approves their own.
                "filed_by": actor if isinstance(actor, str) else actor.journal_id,
            }
        events.append(
            {
                "topic": RESULT_TOPIC,
                "key": str(r.id),
                "version": version,
                "payload": payload,
                "created_at": now,
                "exam_id": r.exam_id,
            }
        )
        audits.append(
            audit_row(
                now,
                actor,
                "attempt.regraded",
                f"attempt:{r.id}",
                {"score": r.score, "correct_count": r.correct_count, "result": r.result},
                {
                    "score": g.score,
                    "correct_count": g.correct_count,
                    "result": g.result.value,
                    "version": version,
                    "reason": reason,
                },
            )
        )
    if events:
        # An older result not yet delivered (a held exam's) is never sent: the newer one replaces it.
        await conn.execute(
            update(outbox)
            .where(
                outbox.c.topic == RESULT_TOPIC,
                outbox.c.key.in_([e["key"] for e in events]),
                outbox.c.delivered_at.is_(None),
            )
            .values(delivered_at=now, last_error="superseded by a regrade")
        )
        await insert_many(conn, outbox, events)
        await record_many(conn, audits)
    return RegradeReport(len(rows), len(changed_rows), sum(1 for r, _ in changed_rows if r.student_id in closed))


PROVISIONAL_NOTE = N_(
    "Provisional result: it becomes final once every attempt of this exam is finished and its questions are checked."
)
HELD_NOTE = N_("Provisional result: the quality department is checking this exam's questions; your score may change.")
REGRADED_NOTE = N_("Regraded after a correction of the exam's key: {old} → {new} / 100.")


async def result_note(conn: AsyncConnection, attempt_id: uuid.UUID, exam_id: int, *, language: str) -> str | None:
    """The sentence a student's (or teacher's) result shows: provisional, held, or regraded (old → new)."""
    from types import SimpleNamespace

    from ..i18n import translate

    note = (await result_notes(conn, [SimpleNamespace(id=attempt_id, exam_id=exam_id)]))[str(attempt_id)]
    parts = []
    if note["regrades"]:
        first, last = note["regrades"][0], note["regrades"][-1]
        parts.append(translate(language, REGRADED_NOTE, old=first["old_score"], new=last["new_score"]))
    if note["held"]:
        parts.append(translate(language, HELD_NOTE))
    elif note["provisional"]:
        parts.append(translate(language, PROVISIONAL_NOTE))
    return " ".join(parts) or None
