"""Attempt use cases: start (in :mod:`.attempt_start`), read, autosave, submit, and the deadline sweep.

This is the hot path, so it uses SQLAlchemy Core statements built once at import,
and each use case is one transaction owned by the caller. Rules come from
:mod:`exam_engine.domain.attempts`; this module only loads, locks and stores.

Locking: a save takes a shared lock on its attempt row; finalisation takes an
exclusive one (``SKIP LOCKED`` in the sweeper). So an answer is either stored
before grading reads it, or refused because the attempt is finished: never
acknowledged and then ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, any_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import db_bulk as bulk
from ..domain import attempts as rules
from ..domain import exam_day
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus, TimeoutPolicy
from ..domain.roles import Permission
from ..errors import InvalidInput, NotFound
from ..exam_day_tables import attempt_live
from ..i18n import N_
from ..tables import answers, attempt_items, attempts, disciplines, outbox, users
from . import attempt_binding as binding
from . import key_overrides, receipts
from .attempt_page import attempt_summary, page  # noqa: F401 - attempt_service.page, as before
from .attempt_start import start, start_with_page  # noqa: F401 - part of this module's API: attempt_service.start
from .audit import audit_row, record_many
from .student_exams import student_exams  # noqa: F401 - attempt_service.student_exams
from .upsert import upsert

RESULT_TOPIC = "exam.result"
MAX_POSITION = 500  # the most questions an exam can have; also keeps a position in smallint


@dataclass(frozen=True, slots=True)
class Receipt:
    attempt_id: uuid.UUID
    position: int
    choice: int | None
    seq: int
    saved_at: datetime
    applied: bool
    digest: str


def answer_digest(attempt_id: uuid.UUID, position: int, choice: int | None, seq: int, saved_at: datetime) -> str:
    text = f"{attempt_id}|{position}|{'' if choice is None else choice}|{seq}|{saved_at.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


def applied_receipt(attempt_id: uuid.UUID, position: int, choice: int | None, seq: int, saved_at: datetime) -> Receipt:
    """The receipt of an answer just stored as sent."""
    return Receipt(
        attempt_id=attempt_id,
        position=position,
        choice=choice,
        seq=seq,
        saved_at=saved_at,
        applied=True,
        digest=answer_digest(attempt_id, position, choice, seq, saved_at),
    )


def _not_found() -> NotFound:
    return NotFound("attempt_not_found", N_("No such attempt."))


# ---------------------------------------------------------------------------------------------- read

_ATTEMPT = (
    select(attempts, *binding.LIVE_COLUMNS)
    .select_from(binding.live_join(attempts))
    .where(attempts.c.id == bindparam("attempt_id"))
)
_ITEMS = (
    select(attempt_items.c.position, attempt_items.c.text, attempt_items.c.options)
    .where(attempt_items.c.attempt_id == bindparam("attempt_id"))
    .order_by(attempt_items.c.position)
)
_ANSWERS = select(answers.c.position, answers.c.choice, answers.c.seq, answers.c.saved_at).where(
    answers.c.attempt_id == bindparam("attempt_id")
)


async def _load_own(conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, lock: str | None = None) -> Any:
    stmt = _ATTEMPT
    if lock == "update":
        stmt = stmt.with_for_update(of=attempts)
    elif lock == "share":
        stmt = stmt.with_for_update(read=True, of=attempts)
    row = (await conn.execute(stmt, {"attempt_id": attempt_id})).first()
    if row is None or row.student_id != actor.user_id:
        # Another student's attempt looks exactly like a missing one.
        raise _not_found()
    return row


async def _check_session(conn: AsyncConnection, actor: Actor, row: Any, session: str | None, now: datetime) -> None:
    """One active session per open attempt; a finished one's result may be read from anywhere."""
    if row.status in rules.OPEN_STATUSES:
        await binding.enforce(conn, actor, row.id, row, session, now=now)


async def _read_own(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, now: datetime, grace_s: float, session: str | None
) -> Any:
    """The student's attempt as it stands now: finalised first if it has expired; last-seen refreshed."""
    actor.require(Permission.SIT_EXAM)
    row = await _load_own(conn, actor, attempt_id)
    if row.status in _RUNNING_OR_CHECKS and rules.is_expired(row.deadline_at, now, grace_s):
        # Whoever reads it, an expired attempt is finalised (as the sweeper would) before anything else,
        # so this transaction locks the attempt before its live row, like every other path.
        await finalise(conn, [attempt_id], now=now, timed_out=True, actor="system:deadline")
        row = await _load_own(conn, actor, attempt_id)
    await _check_session(conn, actor, row, session, now)
    if row.status in rules.OPEN_STATUSES and exam_day.presence_due(row.last_seen_at, now):
        await binding.touch(conn, attempt_id, now=now)
    return row


_RUNNING_OR_CHECKS = (AttemptStatus.IN_PROGRESS, AttemptStatus.CHECKS)  # a checks attempt expires at its window close


async def summary(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    *,
    now: datetime,
    grace_s: float,
    session: str | None = None,
) -> dict:
    """The attempt's state, deadline and remaining time, without its questions (the page's presence ping)."""
    return attempt_summary(await _read_own(conn, actor, attempt_id, now=now, grace_s=grace_s, session=session), now)


async def view(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    *,
    now: datetime,
    grace_s: float,
    session: str | None = None,
) -> dict:
    """What the student's page shows. Never includes the key."""
    row = await _read_own(conn, actor, attempt_id, now=now, grace_s=grace_s, session=session)
    items = (await conn.execute(_ITEMS, {"attempt_id": attempt_id})).all()
    saved = {a.position: a for a in await conn.execute(_ANSWERS, {"attempt_id": attempt_id})}
    return page(row, items, saved, now)


# ---------------------------------------------------------------------------------------------- save

# One round trip finds the attempt (share-locked against finalisation) and the question's options.
# The live row (session binding, last-seen) comes in the same statement.
_ATTEMPT_FOR_SAVE = (
    select(
        attempts.c.student_id, attempts.c.status, attempts.c.deadline_at, attempt_items.c.options, *binding.LIVE_COLUMNS
    )
    .select_from(
        binding.live_join(attempts).outerjoin(
            attempt_items,
            and_(attempt_items.c.attempt_id == attempts.c.id, attempt_items.c.position == bindparam("position")),
        )
    )
    .where(attempts.c.id == bindparam("attempt_id"))
    .with_for_update(read=True, of=attempts)
)
_STORED_ANSWER = select(answers.c.choice, answers.c.seq, answers.c.saved_at).where(
    answers.c.attempt_id == bindparam("attempt_id"), answers.c.position == bindparam("position")
)
_ANSWER_COLUMNS = ("attempt_id", "position", "choice", "seq", "saved_at")


async def save_answer(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    position: int,
    choice: int | None,
    seq: int,
    *,
    now: datetime,
    grace_s: float,
    session: str | None = None,
) -> Receipt:
    """Store one answer; the highest client sequence number wins (replays are harmless).

    Refused from a session other than the attempt's (recorded) and while paused. Last-seen
    is refreshed at most every 15 s, so most saves stay at two statements.
    """
    if seq < 1:
        raise InvalidInput("invalid_seq", N_("The sequence number must be a positive whole number."))
    if not 0 < position <= MAX_POSITION:
        raise InvalidInput(
            "invalid_position", N_("Question {position} is not part of this attempt."), position=position
        )
    key = {"attempt_id": attempt_id, "position": position}
    row = (await conn.execute(_ATTEMPT_FOR_SAVE, key)).first()
    if row is None or row.student_id != actor.user_id:
        raise _not_found()
    if session is not None and row.bound_session != session:
        await binding.enforce(conn, actor, attempt_id, row, session, now=now)
    rules.check_accepts_answers(AttemptStatus(row.status), row.deadline_at, now, grace_s)
    if row.options is None:
        raise InvalidInput(
            "invalid_position", N_("Question {position} is not part of this attempt."), position=position
        )
    rules.check_choice(choice, len(row.options))
    stmt = upsert(
        conn,
        answers,
        _ANSWER_COLUMNS,
        ["attempt_id", "position"],
        ["choice", "seq", "saved_at"],
        only_if_greater="seq",
        returning=("choice", "seq", "saved_at"),
    )
    stored = (await conn.execute(stmt, {**key, "choice": choice, "seq": seq, "saved_at": now})).first()
    applied = stored is not None
    if stored is None:
        stored = (await conn.execute(_STORED_ANSWER, key)).first()
    if exam_day.presence_due(row.last_seen_at, now):
        await binding.touch(conn, attempt_id, now=now)
    return Receipt(
        attempt_id=attempt_id,
        position=position,
        choice=stored.choice,
        seq=stored.seq,
        saved_at=stored.saved_at,
        applied=applied,
        digest=answer_digest(attempt_id, position, stored.choice, stored.seq, stored.saved_at),
    )


# ---------------------------------------------------------------------------------------------- finish


async def submit(
    conn: AsyncConnection,
    actor: Actor,
    attempt_id: uuid.UUID,
    *,
    now: datetime,
    grace_s: float,
    session: str | None = None,
) -> dict:
    """Hand the attempt in. Repeating it returns the same result. A paused attempt cannot be handed in."""
    actor.require(Permission.SIT_EXAM)
    row = await _load_own(conn, actor, attempt_id, lock="update")
    await _check_session(conn, actor, row, session, now)
    if row.status in (AttemptStatus.PAUSED, AttemptStatus.CHECKS):
        rules.check_accepts_answers(AttemptStatus(row.status), row.deadline_at, now, grace_s)
    if row.status == AttemptStatus.IN_PROGRESS:
        timed_out = rules.is_expired(row.deadline_at, now, grace_s)
        await finalise(conn, [attempt_id], now=now, timed_out=timed_out, actor=actor, locked=True)
        row = await _load_own(conn, actor, attempt_id)
    # The signed receipt of the stored answers (issue 7); deterministic, so a repeat returns the same one.
    return {**attempt_summary(row, now), "receipt": await receipts.issue(conn, attempt_id)}


_KEYS = select(attempt_items.c.attempt_id, attempt_items.c.position, attempt_items.c.key_index).where(
    attempt_items.c.attempt_id.in_(bindparam("ids", expanding=True))
)
_CHOICES = select(answers.c.attempt_id, answers.c.position, answers.c.choice).where(
    answers.c.attempt_id.in_(bindparam("ids", expanding=True))
)
# PostgreSQL: one row per attempt rather than one per question and one per answer (a batch of
# 500 attempts of 20 questions was 15,000 rows). The aggregates of a group read its rows in one
# pass, in one order, so the three arrays line up.
_GRADING_PG = (
    select(
        attempt_items.c.attempt_id,
        func.array_agg(attempt_items.c.position).label("positions"),
        func.array_agg(attempt_items.c.key_index).label("keys"),
        func.array_agg(answers.c.choice).label("choices"),
    )
    .select_from(
        attempt_items.outerjoin(
            answers,
            and_(answers.c.attempt_id == attempt_items.c.attempt_id, answers.c.position == attempt_items.c.position),
        )
    )
    .where(attempt_items.c.attempt_id == any_(bindparam("ids", type_=ARRAY(attempt_items.c.attempt_id.type))))
    .group_by(attempt_items.c.attempt_id)
)
# Literal ORs, not IN: an IN list is an expanding parameter, which executemany (the batch update) refuses.
_OPEN = or_(*(attempts.c.status == s.value for s in sorted(rules.OPEN_STATUSES)))
_TO_FINALISE = (
    select(
        attempts.c.id,
        attempts.c.status,
        attempts.c.deadline_at,
        attempts.c.pass_score,
        attempts.c.timeout_policy,
        attempts.c.exam_id,
        attempts.c.student_id,
        users.c.login,
        disciplines.c.code.label("discipline_code"),
        attempt_live.c.paused_at,
    )
    .select_from(
        binding.live_join(attempts)
        .join(users, users.c.id == attempts.c.student_id)
        .join(disciplines, disciplines.c.id == attempts.c.discipline_id)
    )
    .where(attempts.c.id.in_(bindparam("ids", expanding=True)))
    .where(_OPEN)
)
_UNPAUSE = (
    update(attempt_live)
    .where(attempt_live.c.attempt_id == bindparam("b_id"))
    .values(paused_at=None, paused_total_s=attempt_live.c.paused_total_s + bindparam("b_paused_s"))
)


async def _grading_inputs(
    conn: AsyncConnection,
    ids: list[uuid.UUID],
) -> tuple[dict[uuid.UUID, dict[int, int]], dict[uuid.UUID, dict[int, int | None]]]:
    """Each attempt's keys and choices by position."""
    keys: dict[uuid.UUID, dict[int, int]] = {i: {} for i in ids}
    choices: dict[uuid.UUID, dict[int, int | None]] = {i: {} for i in ids}
    if conn.dialect.name == "postgresql":
        for g in await conn.execute(_GRADING_PG, {"ids": ids}):
            keys[g.attempt_id] = dict(zip(g.positions, g.keys, strict=True))
            choices[g.attempt_id] = {p: c for p, c in zip(g.positions, g.choices, strict=True) if c is not None}
        return keys, choices
    for k in await conn.execute(_KEYS, {"ids": ids}):
        keys[k.attempt_id][k.position] = k.key_index
    for c in await conn.execute(_CHOICES, {"ids": ids}):
        choices[c.attempt_id][c.position] = c.choice
    return keys, choices


def journal_status(status: str, result: str) -> str:
    """The status the journal receives: passed / unsatisfactory / timed_out / annulled."""
    if status == AttemptStatus.ANNULLED:
        return "annulled"
    if status == AttemptStatus.TIMED_OUT and result != rules.Result.PASSED:
        return "timed_out"
    return result


async def finalise(
    conn: AsyncConnection,
    attempt_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
    timed_out: bool,
    actor: Actor | str,
    locked: bool = False,
    finished_by: rules.FinishedBy | None = None,
) -> int:
    """Grade attempts still open: the single path for submit, auto-submit, reads and a proctor's terminate.

    Writes the grade, the outbox event for the journal and the audit row in the
    caller's transaction. Returns how many attempts it finalised. A paused attempt is
    finished as if resumed now (its deadline moved by the pause), so it never times out.
    """
    if not attempt_ids:
        return 0
    stmt = _TO_FINALISE if locked else _TO_FINALISE.with_for_update(of=attempts)
    rows = (await conn.execute(stmt, {"ids": list(attempt_ids)})).all()
    if not rows:
        return 0
    keys, choices = await _grading_inputs(conn, [r.id for r in rows])
    # The quality department's key decisions for these exams (normally none: one indexed query).
    decisions = await key_overrides.in_force(conn, {r.exam_id for r in rows})
    accepted = await key_overrides.served_overrides(conn, [(r.id, r.exam_id) for r in rows], decisions)

    updates, events, audits, unpaused = [], [], [], []
    for r in rows:
        deadline, row_timed_out = r.deadline_at, timed_out
        if r.status == AttemptStatus.PAUSED:
            deadline, row_timed_out = rules.resumed_deadline(r.deadline_at, r.paused_at or now, now), False
            unpaused.append({"b_id": r.id, "b_paused_s": (now - (r.paused_at or now)).total_seconds()})
        g = rules.grade(
            timed_out=row_timed_out,
            deadline_at=deadline,
            now=now,
            keys=keys[r.id],
            choices=choices[r.id],
            pass_score=r.pass_score,
            policy=TimeoutPolicy(r.timeout_policy),
            accepted=accepted.get(r.id),
        )
        if finished_by is not None:
            g = dataclasses.replace(g, finished_by=finished_by)
        updates.append(
            {
                "id": r.id,
                "status": g.status.value,
                "submitted_at": g.submitted_at,
                "deadline_at": deadline,
                "finished_by": g.finished_by.value,
                "correct_count": g.correct_count,
                "score": g.score,
                "result": g.result.value,
            }
        )
        payload = {
            "attempt_id": str(r.id),
            "exam_id": r.exam_id,
            "student_id": r.student_id,
            "student_login": r.login,
            "discipline_code": r.discipline_code,
            "score": g.score,
            "status": journal_status(g.status.value, g.result.value),
            "graded_at": now.isoformat(),
            "submitted_at": g.submitted_at.isoformat(),
            "version": 1,
        }
        events.append(
            {
                "topic": RESULT_TOPIC,
                "key": str(r.id),
                "version": 1,
                "payload": payload,
                "created_at": now,
                "exam_id": r.exam_id,
            }
        )
        audits.append(
            audit_row(
                now,
                actor,
                f"attempt.{g.status.value}",
                f"attempt:{r.id}",
                {"status": r.status},
                {"status": g.status.value, "score": g.score, "result": g.result.value, "submitted_at": g.submitted_at},
            )
        )
    await bulk.update_many(conn, attempts, "id", updates, where=_OPEN)
    if unpaused:
        await conn.execute(_UNPAUSE, unpaused)
    await bulk.insert_many(conn, outbox, events)
    await record_many(conn, audits)
    return len(rows)


_LAST_EVENT_VERSION = (
    select(outbox.c.version)
    .where(outbox.c.topic == RESULT_TOPIC, outbox.c.key == bindparam("key"))
    .order_by(outbox.c.version.desc())
    .limit(1)
)

_ANNUL_ROW = (
    select(attempts, users.c.login, disciplines.c.code.label("discipline_code"))
    .select_from(
        attempts.join(users, users.c.id == attempts.c.student_id).join(
            disciplines, disciplines.c.id == attempts.c.discipline_id
        )
    )
    .where(attempts.c.id == bindparam("attempt_id"))
    .with_for_update(of=attempts)
)


async def annul(
    conn: AsyncConnection,
    attempt_id: uuid.UUID,
    *,
    actor: Actor | str,
    reason: str,
    now: datetime,
) -> bool:
    """A proctor's "violation" decision: the attempt becomes unsatisfactory (annulled).

    Idempotent: annulling an annulled attempt changes nothing and returns False. The
    journal learns of it through a new, higher version of the attempt's result event.
    """
    if not reason.strip():
        raise InvalidInput("reason_required", N_("Give the reason."))
    row = (await conn.execute(_ANNUL_ROW, {"attempt_id": attempt_id})).first()
    if row is None:
        raise _not_found()
    if row.status == AttemptStatus.ANNULLED:
        return False
    if row.status == AttemptStatus.PAUSED:
        # A paused attempt is frozen, not finished: the decision finishes it now, then annuls it.
        await finalise(
            conn, [attempt_id], now=now, timed_out=False, actor=actor, locked=True, finished_by=rules.FinishedBy.PROCTOR
        )
        row = (await conn.execute(_ANNUL_ROW, {"attempt_id": attempt_id})).first()
    rules.check_transition(AttemptStatus(row.status), AttemptStatus.ANNULLED)
    await conn.execute(
        update(attempts)
        .where(attempts.c.id == attempt_id)
        .values(status=AttemptStatus.ANNULLED.value, result=rules.Result.UNSATISFACTORY.value)
    )
    last = (await conn.execute(_LAST_EVENT_VERSION, {"key": str(attempt_id)})).scalar() or 0
    payload = {
        "attempt_id": str(attempt_id),
        "exam_id": row.exam_id,
        "student_id": row.student_id,
        "student_login": row.login,
        "discipline_code": row.discipline_code,
        "score": row.score,
        "status": "annulled",
        "graded_at": now.isoformat(),
        "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None,
        "version": last + 1,
    }
    await conn.execute(
        outbox.insert().values(
            topic=RESULT_TOPIC,
            key=str(attempt_id),
            version=last + 1,
            payload=payload,
            created_at=now,
            exam_id=row.exam_id,
        )
    )
    await record_many(
        conn,
        [
            audit_row(
                now,
                actor,
                "attempt.annulled",
                f"attempt:{attempt_id}",
                {"status": row.status, "result": row.result},
                {"status": AttemptStatus.ANNULLED.value, "result": "unsatisfactory", "reason": reason},
            )
        ],
    )
    return True


_EXPIRED = (
    select(attempts.c.id, attempts.c.deadline_at)
    .where(attempts.c.status == AttemptStatus.IN_PROGRESS.value)
    .where(attempts.c.deadline_at < bindparam("cutoff"))
    .order_by(attempts.c.deadline_at)
    .limit(bindparam("limit"))
)
# Attempts still in their device checks when their window closed (their deadline_at is the close):
# a second statement on its own small partial index, so the common one keeps its plan.
_EXPIRED_IN_CHECKS = (
    select(attempts.c.id, attempts.c.deadline_at)
    .where(attempts.c.status == AttemptStatus.CHECKS.value)
    .where(attempts.c.deadline_at < bindparam("cutoff"))
    .order_by(attempts.c.deadline_at)
    .limit(bindparam("limit"))
)


async def sweep_expired(conn: AsyncConnection, *, now: datetime, grace_s: float, limit: int = 500) -> list[datetime]:
    """Finalise one batch of attempts whose deadline (plus grace) has passed; their deadlines.

    ``FOR UPDATE SKIP LOCKED`` lets every server process sweep at once without
    two of them grading the same attempt; SQLite runs one process and ignores it.
    The rows come locked and in progress, so every one of them is finalised here.
    """
    cutoff = now - timedelta(seconds=grace_s)
    stmt = _EXPIRED.with_for_update(skip_locked=True)
    rows = (await conn.execute(stmt, {"cutoff": cutoff, "limit": limit})).all()
    if len(rows) < limit:  # then those whose window closed during their device checks (never before)
        rows += (
            await conn.execute(
                _EXPIRED_IN_CHECKS.with_for_update(skip_locked=True), {"cutoff": cutoff, "limit": limit - len(rows)}
            )
        ).all()
    if not rows:
        return []
    await finalise(conn, [r.id for r in rows], now=now, timed_out=True, actor="system:deadline", locked=True)
    return [r.deadline_at for r in rows]
