"""Attempt use cases: start, read, autosave, submit, and the deadline sweep.

This is the hot path, so it uses SQLAlchemy Core statements built once at import,
and each use case is one transaction owned by the caller. Rules come from
:mod:`exam_engine.domain.attempts`; this module only loads, locks and stores.

Locking: a save takes a shared lock on its attempt row; finalisation takes an
exclusive one (``SKIP LOCKED`` in the sweeper). So an answer is either stored
before grading reads it, or refused because the attempt is finished: never
acknowledged and then ignored.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import and_, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from question_bank.api import PublishedItems

from ..domain import attempts as rules
from ..domain.actors import Actor
from ..domain.attempts import AttemptStatus, TimeoutPolicy
from ..domain.roles import Permission
from ..errors import Conflict, InvalidInput, NotFound
from ..i18n import N_
from ..tables import (
    accommodations,
    answers,
    attempt_items,
    attempts,
    disciplines,
    exam_banks,
    exam_groups,
    exams,
    group_members,
    outbox,
    users,
)
from . import receipts
from .audit import audit_row, record_many
from .upsert import insert_ignore, upsert

RESULT_TOPIC = "exam.result"


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


def _not_found() -> NotFound:
    return NotFound("attempt_not_found", N_("No such attempt."))


# ---------------------------------------------------------------------------------------------- start

_EXAM_FOR_STUDENT = (
    select(
        exams.c.id, exams.c.title, exams.c.discipline_id, exams.c.exam_session_id, exams.c.question_count,
        exams.c.duration_s, exams.c.opens_at, exams.c.closes_at, exams.c.timeout_policy, exams.c.pass_score,
    )
    .where(exams.c.id == bindparam("exam_id"))
    .where(
        exists()
        .where(exam_groups.c.exam_id == exams.c.id)
        .where(group_members.c.group_id == exam_groups.c.group_id)
        .where(group_members.c.student_id == bindparam("student_id"))
        .where(group_members.c.left_at.is_(None))
    )
)

_EXISTING_ATTEMPT = select(attempts.c.id, attempts.c.status).where(
    attempts.c.student_id == bindparam("student_id"),
    attempts.c.discipline_id == bindparam("discipline_id"),
    attempts.c.exam_session_id == bindparam("exam_session_id"),
)

_EXTRA = select(accommodations.c.extra_s).where(
    accommodations.c.exam_id == bindparam("exam_id"), accommodations.c.student_id == bindparam("student_id")
)

_BANK_FOR_LANGUAGE = select(exam_banks.c.language, exam_banks.c.bank_version_id).where(
    exam_banks.c.exam_id == bindparam("exam_id")
)


def _retake_forbidden() -> Conflict:
    return Conflict(
        "retake_forbidden",
        N_("You have already sat this exam in this session; a retake is not allowed."),
    )


async def start(
    conn: AsyncConnection, actor: Actor, exam_id: int, *, language: str | None, now: datetime,
    bank_cache: PublishedItems, rng: random.Random | None = None,
) -> uuid.UUID:
    """Start the exam, or resume the attempt already in progress (E2: never a second one)."""
    actor.require(Permission.SIT_EXAM)
    exam = (await conn.execute(_EXAM_FOR_STUDENT, {"exam_id": exam_id, "student_id": actor.user_id})).first()
    if exam is None:
        raise NotFound("exam_not_found", N_("No such exam is assigned to you."))
    key = {"student_id": actor.user_id, "discipline_id": exam.discipline_id, "exam_session_id": exam.exam_session_id}
    existing = (await conn.execute(_EXISTING_ATTEMPT, key)).first()
    if existing is not None:
        return _resume_or_refuse(existing)
    rules.check_can_start(now, exam.opens_at, exam.closes_at)

    banks = {r.language: r.bank_version_id for r in await conn.execute(_BANK_FOR_LANGUAGE, {"exam_id": exam_id})}
    lang = language or actor.language
    if lang not in banks:
        if language:
            raise InvalidInput(
                "language_unavailable", N_("This exam has no questions in {language}."), language=language)
        lang = sorted(banks)[0] if banks else lang
    if lang not in banks:
        raise Conflict("exam_has_no_bank", N_("This exam has no question bank yet."))
    rng = rng or random.SystemRandom()
    # The whole bank, or one blueprint draw so every form has the same composition (Q3).
    pool = await bank_cache.form_pool(conn, exam_id, banks[lang], rng)
    source = [rules.SourceItem(id=i.id, text=i.text, options=i.options, correct=i.correct) for i in pool]
    form = rules.build_form(source, exam.question_count, rng)

    extra = (await conn.execute(_EXTRA, {"exam_id": exam_id, "student_id": actor.user_id})).scalar() or 0
    attempt_id = uuid.uuid4()
    deadline = rules.compute_deadline(now, exam.duration_s, extra, exam.closes_at)
    inserted = await conn.execute(
        insert_ignore(
            conn,
            attempts,
            {
                "id": attempt_id, "exam_id": exam_id, "language": lang, "status": AttemptStatus.IN_PROGRESS.value,
                "started_at": now, "deadline_at": deadline, "question_count": len(form),
                "timeout_policy": exam.timeout_policy, "pass_score": exam.pass_score, **key,
            },
            ["student_id", "discipline_id", "exam_session_id"],
        ).returning(attempts.c.id)
    )
    if inserted.first() is None:
        # A concurrent request created it between our check and our insert.
        existing = (await conn.execute(_EXISTING_ATTEMPT, key)).first()
        return _resume_or_refuse(existing)
    await conn.execute(
        attempt_items.insert(),
        [
            {"attempt_id": attempt_id, "position": s.position, "bank_item_id": s.bank_item_id, "text": s.text,
             "options": list(s.options), "key_index": s.key_index}
            for s in form
        ],
    )
    await record_many(conn, [audit_row(now, actor, "attempt.started", f"attempt:{attempt_id}", None,
                                       {"exam_id": exam_id, "deadline_at": deadline, "language": lang})])
    return attempt_id


def _resume_or_refuse(existing: Any) -> uuid.UUID:
    if existing is not None and existing.status == AttemptStatus.IN_PROGRESS:
        return existing.id
    raise _retake_forbidden()


# ---------------------------------------------------------------------------------------------- read

_ATTEMPT = select(attempts).where(attempts.c.id == bindparam("attempt_id"))
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
        stmt = stmt.with_for_update()
    elif lock == "share":
        stmt = stmt.with_for_update(read=True)
    row = (await conn.execute(stmt, {"attempt_id": attempt_id})).first()
    if row is None or row.student_id != actor.user_id:
        # Another student's attempt looks exactly like a missing one.
        raise _not_found()
    return row


async def view(conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, now: datetime, grace_s: float) -> dict:
    """What the student's page shows. Never includes the key."""
    actor.require(Permission.SIT_EXAM)
    row = await _load_own(conn, actor, attempt_id)
    if row.status == AttemptStatus.IN_PROGRESS and rules.is_expired(row.deadline_at, now, grace_s):
        await finalise(conn, [attempt_id], now=now, timed_out=True, actor="system:deadline")
        row = await _load_own(conn, actor, attempt_id)
    items = (await conn.execute(_ITEMS, {"attempt_id": attempt_id})).all()
    saved = {a.position: a for a in await conn.execute(_ANSWERS, {"attempt_id": attempt_id})}
    return {
        "attempt": attempt_summary(row, now),
        "questions": [
            {
                "position": it.position,
                "text": it.text,
                "options": list(it.options),
                "choice": saved[it.position].choice if it.position in saved else None,
                "seq": saved[it.position].seq if it.position in saved else None,
            }
            for it in items
        ],
    }


def attempt_summary(row: Any, now: datetime) -> dict:
    finished = row.status != AttemptStatus.IN_PROGRESS
    remaining = max(0.0, (row.deadline_at - now).total_seconds()) if not finished else 0.0
    summary = {
        "id": str(row.id),
        "exam_id": row.exam_id,
        "status": row.status,
        "language": row.language,
        "started_at": row.started_at.isoformat(),
        "deadline_at": row.deadline_at.isoformat(),
        "server_now": now.isoformat(),
        "remaining_s": round(remaining, 3),
        "question_count": row.question_count,
    }
    if finished:
        summary.update(
            submitted_at=row.submitted_at.isoformat() if row.submitted_at else None,
            finished_by=row.finished_by,
            score=row.score,
            correct_count=row.correct_count,
            result=row.result,
        )
    return summary


# ---------------------------------------------------------------------------------------------- save

# One round trip finds the attempt (share-locked against finalisation) and the question's options.
_ATTEMPT_FOR_SAVE = (
    select(attempts.c.student_id, attempts.c.status, attempts.c.deadline_at, attempt_items.c.options)
    .select_from(attempts.outerjoin(attempt_items, and_(attempt_items.c.attempt_id == attempts.c.id,
                                                         attempt_items.c.position == bindparam("position"))))
    .where(attempts.c.id == bindparam("attempt_id"))
    .with_for_update(read=True, of=attempts)
)
_STORED_ANSWER = select(answers.c.choice, answers.c.seq, answers.c.saved_at).where(
    answers.c.attempt_id == bindparam("attempt_id"), answers.c.position == bindparam("position")
)
_ANSWER_COLUMNS = ("attempt_id", "position", "choice", "seq", "saved_at")


async def save_answer(
    conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, position: int, choice: int | None, seq: int, *,
    now: datetime, grace_s: float,
) -> Receipt:
    """Store one answer; the highest client sequence number wins (replays are harmless)."""
    if seq < 1:
        raise InvalidInput("invalid_seq", N_("The sequence number must be a positive whole number."))
    if not 0 < position <= 500:  # the most questions an exam can have; also keeps it in smallint
        raise InvalidInput("invalid_position", N_("Question {position} is not part of this attempt."),
                           position=position)
    key = {"attempt_id": attempt_id, "position": position}
    row = (await conn.execute(_ATTEMPT_FOR_SAVE, key)).first()
    if row is None or row.student_id != actor.user_id:
        raise _not_found()
    rules.check_accepts_answers(AttemptStatus(row.status), row.deadline_at, now, grace_s)
    if row.options is None:
        raise InvalidInput("invalid_position", N_("Question {position} is not part of this attempt."),
                           position=position)
    rules.check_choice(choice, len(row.options))
    stmt = upsert(conn, answers, _ANSWER_COLUMNS, ["attempt_id", "position"], ["choice", "seq", "saved_at"],
                  only_if_greater="seq", returning=("choice", "seq", "saved_at"))
    stored = (await conn.execute(stmt, {**key, "choice": choice, "seq": seq, "saved_at": now})).first()
    applied = stored is not None
    if stored is None:
        stored = (await conn.execute(_STORED_ANSWER, key)).first()
    return Receipt(
        attempt_id=attempt_id, position=position, choice=stored.choice, seq=stored.seq, saved_at=stored.saved_at,
        applied=applied, digest=answer_digest(attempt_id, position, stored.choice, stored.seq, stored.saved_at),
    )


# ---------------------------------------------------------------------------------------------- finish


async def submit(conn: AsyncConnection, actor: Actor, attempt_id: uuid.UUID, *, now: datetime, grace_s: float) -> dict:
    """Hand the attempt in. Repeating it returns the same result."""
    actor.require(Permission.SIT_EXAM)
    row = await _load_own(conn, actor, attempt_id, lock="update")
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
_TO_FINALISE = (
    select(
        attempts.c.id, attempts.c.status, attempts.c.deadline_at, attempts.c.pass_score, attempts.c.timeout_policy,
        attempts.c.exam_id, attempts.c.student_id, users.c.login, disciplines.c.code.label("discipline_code"),
    )
    .select_from(attempts.join(users, users.c.id == attempts.c.student_id)
                 .join(disciplines, disciplines.c.id == attempts.c.discipline_id))
    .where(attempts.c.id.in_(bindparam("ids", expanding=True)))
    .where(attempts.c.status == AttemptStatus.IN_PROGRESS.value)
)
_FINALISE_UPDATE = (
    update(attempts)
    .where(attempts.c.id == bindparam("b_id"))
    .where(attempts.c.status == AttemptStatus.IN_PROGRESS.value)
    .values(
        status=bindparam("b_status"), submitted_at=bindparam("b_submitted_at"),
        finished_by=bindparam("b_finished_by"), correct_count=bindparam("b_correct"),
        score=bindparam("b_score"), result=bindparam("b_result"),
    )
)


def journal_status(status: str, result: str) -> str:
    """The status the journal receives: passed / unsatisfactory / timed_out / annulled."""
    if status == AttemptStatus.ANNULLED:
        return "annulled"
    if status == AttemptStatus.TIMED_OUT and result != rules.Result.PASSED:
        return "timed_out"
    return result


async def finalise(
    conn: AsyncConnection, attempt_ids: Sequence[uuid.UUID], *, now: datetime, timed_out: bool,
    actor: Actor | str, locked: bool = False,
) -> int:
    """Grade attempts still in progress: the single path for submit, auto-submit and reads.

    Writes the grade, the outbox event for the journal and the audit row in the
    caller's transaction. Returns how many attempts it finalised.
    """
    if not attempt_ids:
        return 0
    stmt = _TO_FINALISE if locked else _TO_FINALISE.with_for_update(of=attempts)
    rows = (await conn.execute(stmt, {"ids": list(attempt_ids)})).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    keys: dict[uuid.UUID, dict[int, int]] = {i: {} for i in ids}
    for k in await conn.execute(_KEYS, {"ids": ids}):
        keys[k.attempt_id][k.position] = k.key_index
    choices: dict[uuid.UUID, dict[int, int | None]] = {i: {} for i in ids}
    for c in await conn.execute(_CHOICES, {"ids": ids}):
        choices[c.attempt_id][c.position] = c.choice

    updates, events, audits = [], [], []
    for r in rows:
        g = rules.grade(
            timed_out=timed_out, deadline_at=r.deadline_at, now=now, keys=keys[r.id], choices=choices[r.id],
            pass_score=r.pass_score, policy=TimeoutPolicy(r.timeout_policy),
        )
        updates.append({
            "b_id": r.id, "b_status": g.status.value, "b_submitted_at": g.submitted_at,
            "b_finished_by": g.finished_by.value, "b_correct": g.correct_count, "b_score": g.score,
            "b_result": g.result.value,
        })
        payload = {
            "attempt_id": str(r.id), "exam_id": r.exam_id, "student_id": r.student_id, "student_login": r.login,
            "discipline_code": r.discipline_code, "score": g.score,
            "status": journal_status(g.status.value, g.result.value), "graded_at": now.isoformat(),
            "submitted_at": g.submitted_at.isoformat(), "version": 1,
        }
        events.append({"topic": RESULT_TOPIC, "key": str(r.id), "version": 1, "payload": payload, "created_at": now})
        audits.append(audit_row(now, actor, f"attempt.{g.status.value}", f"attempt:{r.id}",
                                {"status": AttemptStatus.IN_PROGRESS.value},
                                {"status": g.status.value, "score": g.score, "result": g.result.value,
                                 "submitted_at": g.submitted_at}))
    await conn.execute(_FINALISE_UPDATE, updates)
    await conn.execute(outbox.insert(), events)
    await record_many(conn, audits)
    return len(rows)


_LAST_EVENT_VERSION = select(outbox.c.version).where(
    outbox.c.topic == RESULT_TOPIC, outbox.c.key == bindparam("key")
).order_by(outbox.c.version.desc()).limit(1)


async def annul(
    conn: AsyncConnection, attempt_id: uuid.UUID, *, actor: Actor | str, reason: str, now: datetime,
) -> bool:
    """A proctor's "violation" decision: the attempt becomes unsatisfactory (annulled).

    Idempotent: annulling an annulled attempt changes nothing and returns False. The
    journal learns of it through a new, higher version of the attempt's result event.
    """
    if not reason.strip():
        raise InvalidInput("reason_required", N_("Give the reason."))
    row = (await conn.execute(
        select(attempts, users.c.login, disciplines.c.code.label("discipline_code"))
        .select_from(attempts.join(users, users.c.id == attempts.c.student_id)
                     .join(disciplines, disciplines.c.id == attempts.c.discipline_id))
        .where(attempts.c.id == attempt_id).with_for_update(of=attempts)
    )).first()
    if row is None:
        raise _not_found()
    if row.status == AttemptStatus.ANNULLED:
        return False
    rules.check_transition(AttemptStatus(row.status), AttemptStatus.ANNULLED)
    await conn.execute(update(attempts).where(attempts.c.id == attempt_id).values(
        status=AttemptStatus.ANNULLED.value, result=rules.Result.UNSATISFACTORY.value))
    last = (await conn.execute(_LAST_EVENT_VERSION, {"key": str(attempt_id)})).scalar() or 0
    payload = {
        "attempt_id": str(attempt_id), "exam_id": row.exam_id, "student_id": row.student_id,
        "student_login": row.login, "discipline_code": row.discipline_code, "score": row.score,
        "status": "annulled", "graded_at": now.isoformat(),
        "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None, "version": last + 1,
    }
    await conn.execute(outbox.insert().values(topic=RESULT_TOPIC, key=str(attempt_id), version=last + 1,
                                              payload=payload, created_at=now))
    await record_many(conn, [audit_row(now, actor, "attempt.annulled", f"attempt:{attempt_id}",
                                       {"status": row.status, "result": row.result},
                                       {"status": AttemptStatus.ANNULLED.value, "result": "unsatisfactory",
                                        "reason": reason})])
    return True


_EXPIRED = (
    select(attempts.c.id)
    .where(attempts.c.status == AttemptStatus.IN_PROGRESS.value)
    .where(attempts.c.deadline_at < bindparam("cutoff"))
    .order_by(attempts.c.deadline_at)
    .limit(bindparam("limit"))
)


async def sweep_expired(conn: AsyncConnection, *, now: datetime, grace_s: float, limit: int = 500) -> int:
    """Finalise one batch of attempts whose deadline (plus grace) has passed.

    ``FOR UPDATE SKIP LOCKED`` lets every server process sweep at once without
    two of them grading the same attempt; SQLite runs one process and ignores it.
    """
    cutoff = now - timedelta(seconds=grace_s)
    stmt = _EXPIRED.with_for_update(skip_locked=True)
    ids = list((await conn.execute(stmt, {"cutoff": cutoff, "limit": limit})).scalars())
    if not ids:
        return 0
    return await finalise(conn, ids, now=now, timed_out=True, actor="system:deadline", locked=True)


# ---------------------------------------------------------------------------------------------- lists


async def student_exams(conn: AsyncConnection, actor: Actor, *, now: datetime) -> list[dict]:
    """The student's assigned exams with the state of their attempt, if any."""
    actor.require(Permission.SIT_EXAM)
    stmt = (
        select(
            exams.c.id, exams.c.title, exams.c.opens_at, exams.c.closes_at, exams.c.duration_s,
            exams.c.question_count, exams.c.requires_proctoring, disciplines.c.code, disciplines.c.name,
            attempts.c.id.label("attempt_id"),
            attempts.c.status, attempts.c.score, attempts.c.result, attempts.c.deadline_at,
        )
        .select_from(
            exams.join(disciplines, disciplines.c.id == exams.c.discipline_id)
            .join(exam_groups, exam_groups.c.exam_id == exams.c.id)
            .join(group_members, and_(group_members.c.group_id == exam_groups.c.group_id,
                                      group_members.c.student_id == actor.user_id,
                                      group_members.c.left_at.is_(None)))
            .outerjoin(attempts, and_(attempts.c.student_id == actor.user_id,
                                      attempts.c.discipline_id == exams.c.discipline_id,
                                      attempts.c.exam_session_id == exams.c.exam_session_id))
        )
        .order_by(exams.c.opens_at)
        .distinct()
    )
    out = []
    for r in await conn.execute(stmt):
        out.append({
            "id": r.id, "title": r.title, "discipline": {"code": r.code, "name": r.name},
            "opens_at": r.opens_at.isoformat(), "closes_at": r.closes_at.isoformat(), "duration_s": r.duration_s,
            "question_count": r.question_count, "requires_proctoring": r.requires_proctoring,
            "open_now": r.opens_at <= now < r.closes_at,
            "attempt": None if r.attempt_id is None else {
                "id": str(r.attempt_id), "status": r.status, "deadline_at": r.deadline_at.isoformat(),
                "score": r.score, "result": r.result,
            },
        })
    return out

