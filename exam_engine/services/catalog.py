"""Faculties, groups, disciplines, exam sessions and exams: the academic calendar (S6).

Every change is academic data: it needs an academic permission (never the
sysadmin's, R3) and leaves an audit row with the values before and after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from question_bank import api as bank_api

from .. import bounds
from ..domain.actors import Actor
from ..domain.attempts import TimeoutPolicy
from ..domain.roles import Permission, Role
from ..errors import Conflict, InvalidInput, NotFound
from ..i18n import LANGUAGES, N_
from ..tables import (
    accommodations,
    disciplines,
    exam_banks,
    exam_groups,
    exam_sessions,
    exams,
    faculties,
    group_members,
    group_teachers,
    groups,
    users,
)
from . import authority
from .audit import record


async def _id_by_code(conn: AsyncConnection, table, code: str, what: str) -> int:  # type: ignore[no-untyped-def]
    row = (await conn.execute(select(table.c.id).where(table.c.code == code))).first()
    if row is None:
        raise NotFound(f"{what}_not_found", N_("No {what} with code {code}."), what=what, code=code)
    return int(row.id)


def _require_code(code: str) -> str:
    code = (code or "").strip()
    if not code or len(code) > 64:
        raise InvalidInput("invalid_code", N_("A code must have 1 to 64 characters."))
    return code


async def add_discipline(
    conn: AsyncConnection,
    actor: Actor,
    *,
    code: str,
    name: str,
    credits: int | None = None,
    now: datetime,
) -> int:
    actor.require(Permission.MANAGE_CATALOG)
    code = _require_code(code)
    if not (name or "").strip():
        raise InvalidInput("invalid_name", N_("The name is empty."))
    if credits is not None and not 0 < credits <= 60:
        raise InvalidInput("invalid_credits", N_("Credits must be between 1 and 60."))
    if (await conn.execute(select(disciplines.c.id).where(disciplines.c.code == code))).first():
        raise Conflict("discipline_exists", N_("A discipline with code {code} already exists."), code=code)
    new_id = (
        await conn.execute(
            disciplines.insert().values(code=code, name=name.strip(), credits=credits).returning(disciplines.c.id)
        )
    ).scalar_one()
    await record(
        conn,
        now,
        actor,
        "discipline.created",
        f"discipline:{new_id}",
        None,
        {"code": code, "name": name, "credits": credits},
    )
    return int(new_id)


async def ensure_faculty(conn: AsyncConnection, actor: Actor, *, code: str, name: str, now: datetime) -> int:
    actor.require(Permission.MANAGE_CATALOG)
    code = _require_code(code)
    row = (await conn.execute(select(faculties.c.id).where(faculties.c.code == code))).first()
    if row:
        return int(row.id)
    new_id = (
        await conn.execute(faculties.insert().values(code=code, name=(name or code).strip()).returning(faculties.c.id))
    ).scalar_one()
    await record(conn, now, actor, "faculty.created", f"faculty:{new_id}", None, {"code": code, "name": name})
    return int(new_id)


async def ensure_group(conn: AsyncConnection, actor: Actor, *, code: str, faculty_id: int | None, now: datetime) -> int:
    actor.require(Permission.MANAGE_CATALOG)
    code = _require_code(code)
    row = (await conn.execute(select(groups.c.id).where(groups.c.code == code))).first()
    if row:
        return int(row.id)
    new_id = (
        await conn.execute(groups.insert().values(code=code, faculty_id=faculty_id).returning(groups.c.id))
    ).scalar_one()
    await record(conn, now, actor, "group.created", f"group:{new_id}", None, {"code": code, "faculty_id": faculty_id})
    return int(new_id)


async def add_member(
    conn: AsyncConnection, actor: Actor, *, group_id: int, user_id: int, role: Role, now: datetime
) -> None:
    """Put a student into a group (closing any other current membership) or a teacher onto it."""
    actor.require(Permission.MANAGE_CATALOG)
    if role is Role.TEACHER:
        exists = (
            await conn.execute(
                select(group_teachers).where(
                    group_teachers.c.group_id == group_id, group_teachers.c.teacher_id == user_id
                )
            )
        ).first()
        if not exists:
            await conn.execute(group_teachers.insert().values(group_id=group_id, teacher_id=user_id))
            await record(conn, now, actor, "group.teacher_added", f"group:{group_id}", None, {"teacher_id": user_id})
        return
    if role is not Role.STUDENT:
        raise InvalidInput("invalid_member_role", N_("Only students and teachers belong to groups."))
    current = (
        await conn.execute(
            select(group_members.c.group_id).where(
                group_members.c.student_id == user_id, group_members.c.left_at.is_(None)
            )
        )
    ).all()
    if any(r.group_id == group_id for r in current):
        return
    # A transfer keeps the old membership with its end date (J11).
    await conn.execute(
        update(group_members)
        .where(group_members.c.student_id == user_id, group_members.c.left_at.is_(None))
        .values(left_at=now)
    )
    await conn.execute(group_members.insert().values(group_id=group_id, student_id=user_id, joined_at=now))
    await record(
        conn,
        now,
        actor,
        "group.student_added",
        f"group:{group_id}",
        {"groups": [r.group_id for r in current]},
        {"student_id": user_id},
    )


async def add_exam_session(
    conn: AsyncConnection,
    actor: Actor,
    *,
    code: str,
    name: str,
    starts_on: date,
    ends_on: date,
    now: datetime,
) -> int:
    actor.require(Permission.MANAGE_CATALOG)
    code = _require_code(code)
    if ends_on < starts_on:
        raise InvalidInput("invalid_dates", N_("The session ends before it starts."))
    if (await conn.execute(select(exam_sessions.c.id).where(exam_sessions.c.code == code))).first():
        raise Conflict("session_exists", N_("An exam session with code {code} already exists."), code=code)
    new_id = (
        await conn.execute(
            exam_sessions.insert()
            .values(code=code, name=name or code, starts_on=starts_on, ends_on=ends_on)
            .returning(exam_sessions.c.id)
        )
    ).scalar_one()
    await record(
        conn,
        now,
        actor,
        "exam_session.created",
        f"exam_session:{new_id}",
        None,
        {"code": code, "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()},
    )
    return int(new_id)


@dataclass(frozen=True, slots=True)
class ExamSpec:
    title: str
    discipline_code: str
    session_code: str
    group_codes: Sequence[str]
    bank_versions: dict[str, int]  # language -> published bank version id
    question_count: int
    duration_s: int
    opens_at: datetime
    closes_at: datetime
    timeout_policy: str = TimeoutPolicy.UNSATISFACTORY.value
    pass_score: int = 50
    requires_proctoring: bool = False
    # (topic, difficulty) -> how many items of that cell every form holds; empty: draw from the whole bank.
    blueprint: dict[tuple[str | None, int | None], int] | None = None


SHORTFALL_ONE = N_(
    "Bank version {id} ({language}) cannot fill the blueprint: topic {topic}, difficulty "
    "{difficulty} needs {required} questions, the bank has {available}."
)
SHORTFALL_MANY = N_(
    "Bank version {id} ({language}) cannot fill {count} cells of the blueprint; the first: topic "
    "{topic}, difficulty {difficulty} needs {required} questions, the bank has {available}."
)


async def _check_blueprint(conn: AsyncConnection, spec: ExamSpec) -> None:
    """Every pinned bank must fill every cell, or the exam is refused now rather than at the first start."""
    cells = spec.blueprint or {}
    if any(n < 1 for n in cells.values()) or sum(cells.values()) != spec.question_count:
        raise InvalidInput(
            "blueprint_mismatch",
            N_("The blueprint's counts must be positive and add up to the number of questions ({count})."),
            count=spec.question_count,
        )
    for language, version_id in spec.bank_versions.items():
        short = bank_api.blueprint_shortfalls(await bank_api.load_items(conn, version_id), cells)
        if short:
            # The message is one sentence of the catalog, translated as a whole (no English cell text
            # inside a translated one); the details name every short cell, each translated too.
            params = bank_api.BlueprintShortfall(short).params()
            msgid = SHORTFALL_ONE if len(params) == 1 else SHORTFALL_MANY
            raise InvalidInput(
                "blueprint_shortfall", msgid, id=version_id, language=language, count=len(params), **params[0]
            ).with_details(
                [{"msgid": bank_api.BlueprintShortfall.msgid, "params": p, "language": language} for p in params]
            )


async def add_exam(conn: AsyncConnection, actor: Actor, spec: ExamSpec, *, now: datetime) -> int:
    actor.require(Permission.MANAGE_EXAMS)
    if not spec.title.strip():
        raise InvalidInput("invalid_title", N_("The exam title is empty."))
    if spec.opens_at.tzinfo is None or spec.closes_at.tzinfo is None:
        raise InvalidInput("invalid_window", N_("Give the exam window with a time zone."))
    bounds.moment(spec.opens_at, "opens_at")  # pages and the CLI too, not only the API
    bounds.moment(spec.closes_at, "closes_at")
    if spec.closes_at <= spec.opens_at:
        raise InvalidInput("invalid_window", N_("The exam window closes before it opens."))
    if not 1 <= spec.question_count <= 500:
        raise InvalidInput("invalid_question_count", N_("The number of questions must be between 1 and 500."))
    if not 0 < spec.duration_s <= 24 * 3600:
        raise InvalidInput("invalid_duration", N_("The duration must be more than zero and at most 24 hours."))
    if not 0 <= spec.pass_score <= 100:
        raise InvalidInput("invalid_pass_score", N_("The pass score must be between 0 and 100."))
    try:
        policy = TimeoutPolicy(spec.timeout_policy)
    except ValueError:
        raise InvalidInput(
            "invalid_timeout_policy",
            N_("Choose what happens when time runs out: unsatisfactory, or grade the saved answers."),
        ) from None
    if not spec.group_codes:
        raise InvalidInput("no_groups", N_("Assign the exam to at least one group."))
    if not spec.bank_versions:
        raise InvalidInput("no_bank", N_("Pin at least one published bank version."))
    discipline_id = await _id_by_code(conn, disciplines, spec.discipline_code, "discipline")
    session_id = await _id_by_code(conn, exam_sessions, spec.session_code, "exam_session")
    group_ids = [await _id_by_code(conn, groups, code, "group") for code in spec.group_codes]
    for language, version_id in spec.bank_versions.items():
        if language not in LANGUAGES:
            raise InvalidInput("unsupported_language", N_("Language must be kk or ru."))
        try:
            info = await bank_api.get_version(conn, version_id)
        except bank_api.BankVersionNotFound:
            raise NotFound("bank_not_found", N_("No bank version {id}."), id=version_id) from None
        if info.status != "published":
            raise Conflict("bank_not_published", N_("Bank version {id} is not published."), id=version_id)
        if info.discipline_code != spec.discipline_code or info.language != language:
            raise InvalidInput(
                "bank_mismatch",
                N_("Bank version {id} belongs to {code} ({language})."),
                id=version_id,
                code=info.discipline_code,
                language=info.language,
            )
        if info.item_count < spec.question_count:
            raise InvalidInput(
                "bank_too_small",
                N_("The bank has {available} questions but the exam needs {needed}."),
                available=info.item_count,
                needed=spec.question_count,
            )
    if spec.blueprint:
        await _check_blueprint(conn, spec)
    exam_id = (
        await conn.execute(
            exams.insert()
            .values(
                title=spec.title.strip(),
                discipline_id=discipline_id,
                exam_session_id=session_id,
                question_count=spec.question_count,
                duration_s=spec.duration_s,
                opens_at=spec.opens_at,
                closes_at=spec.closes_at,
                timeout_policy=policy.value,
                pass_score=spec.pass_score,
                requires_proctoring=spec.requires_proctoring,
                created_at=now,
                created_by=actor.user_id,
            )
            .returning(exams.c.id)
        )
    ).scalar_one()
    await conn.execute(exam_groups.insert(), [{"exam_id": exam_id, "group_id": g} for g in group_ids])
    await conn.execute(
        exam_banks.insert(),
        [{"exam_id": exam_id, "language": lang, "bank_version_id": v} for lang, v in spec.bank_versions.items()],
    )
    if spec.blueprint:
        await bank_api.save_blueprint(conn, exam_id, spec.blueprint, now=now)
    await record(
        conn,
        now,
        actor,
        "exam.created",
        f"exam:{exam_id}",
        None,
        {
            "title": spec.title,
            "discipline": spec.discipline_code,
            "session": spec.session_code,
            "groups": list(spec.group_codes),
            "banks": spec.bank_versions,
            "question_count": spec.question_count,
            "duration_s": spec.duration_s,
            "opens_at": spec.opens_at,
            "closes_at": spec.closes_at,
            "timeout_policy": policy.value,
            "pass_score": spec.pass_score,
            "blueprint": [[t, d, n] for (t, d), n in (spec.blueprint or {}).items()] or None,
        },
    )
    return int(exam_id)


async def set_extra_time(
    conn: AsyncConnection,
    actor: Actor,
    *,
    exam_id: int,
    student_id: int,
    extra_s: int,
    reason: str,
    now: datetime,
) -> None:
    """Per-student extra time decided before the exam (applies at start)."""
    actor.require(Permission.MANAGE_EXAMS)
    if not 0 <= extra_s <= bounds.EXTRA_MINUTES.high * 60:  # every caller: API, pages, accommodations
        raise bounds.EXTRA_MINUTES.refusal("extra_minutes")
    if not reason.strip():
        raise InvalidInput("reason_required", N_("Give the reason."))
    old = (
        await conn.execute(
            select(accommodations.c.extra_s).where(
                accommodations.c.exam_id == exam_id, accommodations.c.student_id == student_id
            )
        )
    ).scalar()
    if old is None:
        await conn.execute(
            accommodations.insert().values(
                exam_id=exam_id,
                student_id=student_id,
                extra_s=extra_s,
                reason=reason,
                created_by=actor.user_id or 0,
                created_at=now,
            )
        )
    else:
        await conn.execute(
            update(accommodations)
            .where(accommodations.c.exam_id == exam_id, accommodations.c.student_id == student_id)
            .values(extra_s=extra_s, reason=reason, created_by=actor.user_id or 0, created_at=now)
        )
    await record(
        conn,
        now,
        actor,
        "exam.extra_time",
        f"exam:{exam_id}",
        {"student_id": student_id, "extra_s": old},
        {"student_id": student_id, "extra_s": extra_s, "reason": reason},
    )


async def list_exams(conn: AsyncConnection, actor: Actor) -> list[dict]:
    actor.require(Permission.VIEW_EXAMS)
    stmt = (
        select(
            exams.c.id,
            exams.c.title,
            disciplines.c.code.label("discipline"),
            exam_sessions.c.code.label("session"),
            exams.c.question_count,
            exams.c.duration_s,
            exams.c.opens_at,
            exams.c.closes_at,
            exams.c.timeout_policy,
            exams.c.pass_score,
        )
        .select_from(exams.join(disciplines).join(exam_sessions))
        .order_by(exams.c.opens_at)
    )
    watched = await authority.exam_ids_in_reach(conn, actor)
    if watched is not None:  # a proctor's assigned exams, a head's or a teacher's (their journals' exams)
        stmt = stmt.where(exams.c.id.in_(watched))
    out = []
    for r in await conn.execute(stmt):
        d = dict(r._mapping)
        d["opens_at"], d["closes_at"] = r.opens_at.isoformat(), r.closes_at.isoformat()
        out.append(d)
    return out


async def user_id_by_login(conn: AsyncConnection, login: str) -> int:
    row = (await conn.execute(select(users.c.id).where(users.c.login == login))).first()
    if row is None:
        raise NotFound("user_not_found", N_("No user with login {login}."), login=login)
    return int(row.id)
