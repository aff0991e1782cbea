"""Accounts are created by the administering unit, never by the person (R1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.actors import Actor
from ..domain.attempts import OPEN_STATUSES  # an attempt the person may still be sitting
from ..domain.roles import Permission, Role
from ..errors import Conflict, InvalidInput, NotFound
from ..i18n import LANGUAGES, N_
from ..security import passwords
from ..tables import auth_sessions, users
from .audit import record

LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")


@dataclass(frozen=True, slots=True)
class NewUser:
    id: int
    login: str
    role: Role
    one_time_password: str | None


def validate_user_fields(login: str, full_name: str, role: str, language: str) -> Role:
    if not LOGIN_RE.match(login or ""):
        raise InvalidInput(
            "invalid_login",
            N_("Login «{login}» is invalid: use 2–64 Latin letters, digits, dot, dash, @ or underscore."),
            login=login,
        )
    if not (full_name or "").strip():
        raise InvalidInput("invalid_full_name", N_("The full name is empty."))
    try:
        parsed = Role(role)
    except ValueError:
        raise InvalidInput(
            "invalid_role",
            N_("Unknown role «{role}»; expected one of: {roles}."),
            role=role,
            roles=", ".join(r.value for r in Role),
        ) from None
    if language not in LANGUAGES:
        raise InvalidInput("unsupported_language", N_("Language must be kk or ru."))
    return parsed


async def add_user(
    conn: AsyncConnection,
    actor: Actor,
    *,
    login: str,
    full_name: str,
    role: str,
    language: str = "kk",
    password: str | None = None,
    now: datetime,
) -> NewUser:
    """Create an account; without a password, a one-time password is generated and returned once."""
    actor.require(Permission.MANAGE_ACCOUNTS)
    parsed = validate_user_fields(login, full_name, role, language)
    if (await conn.execute(select(users.c.id).where(users.c.login == login))).first():
        raise Conflict("login_taken", N_("The login {login} is already taken."), login=login)
    otp = None
    if password is None:
        otp = passwords.one_time_password()
        secret = otp
    else:
        passwords.check_acceptable(password, login=login)
        secret = password
    password_hash = await passwords.hash_password_async(secret)
    user_id = (
        await conn.execute(
            users.insert()
            .values(
                login=login,
                full_name=full_name.strip(),
                role=parsed.value,
                password_hash=password_hash,
                language=language,
                is_active=True,
                must_change_password=password is None,
                created_at=now,
                created_by=actor.label,
            )
            .returning(users.c.id)
        )
    ).scalar_one()
    await record(
        conn,
        now,
        actor,
        "user.created",
        f"user:{user_id}",
        None,
        {"login": login, "full_name": full_name, "role": parsed.value, "language": language},
    )
    return NewUser(id=int(user_id), login=login, role=parsed, one_time_password=otp)


async def reset_password(conn: AsyncConnection, actor: Actor, login: str, *, now: datetime) -> str:
    """A new one-time password; every session of that person ends."""
    actor.require(Permission.MANAGE_ACCOUNTS)
    row = (await conn.execute(select(users.c.id).where(users.c.login == login))).first()
    if row is None:
        raise NotFound("user_not_found", N_("No user with login {login}."), login=login)
    otp = passwords.one_time_password()
    await conn.execute(
        update(users)
        .where(users.c.id == row.id)
        .values(
            password_hash=await passwords.hash_password_async(otp), must_change_password=True, password_changed_at=now
        )
    )
    await conn.execute(
        update(auth_sessions)
        .where(auth_sessions.c.user_id == row.id, auth_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await record(conn, now, actor, "user.password_reset", f"user:{row.id}")
    return otp


async def list_users(conn: AsyncConnection, actor: Actor, role: str | None = None) -> list[dict]:
    actor.require(Permission.MANAGE_ACCOUNTS)
    stmt = select(users.c.id, users.c.login, users.c.full_name, users.c.role, users.c.language, users.c.is_active)
    if role:
        stmt = stmt.where(users.c.role == role)
    return [dict(r._mapping) for r in await conn.execute(stmt.order_by(users.c.login))]


# ------------------------------------------------------------------------------ disabling a sign-in

REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class AccessChange:
    """What disabling or enabling did: the person, their state now, the sessions it ended, and
    the attempts they still have open (kept as they are; closed by the exam's own deadline rules)."""

    user_id: int
    login: str
    full_name: str
    active: bool
    sessions_ended: int
    open_attempts: list[dict]


async def set_active(
    conn: AsyncConnection, actor: Actor, login: str, *, active: bool, reason: str, now: datetime
) -> AccessChange:
    """Disable (``active=False``) or enable a person's sign-in, with a reason; audited with the previous value.

    Disabling ends every session of the person in this transaction; the caller then evicts them from
    the session caches (``SessionCache.evict_user``), so their next request anywhere is refused.
    Nothing academic changes: an exam they are sitting keeps its answers and is closed by its own
    deadline rules (the sweeper), exactly as if they had walked out; enabled again before the deadline,
    they sign in and continue in the same browser. One cannot disable oneself, nor the last active
    system administrator (nobody would be left to run the servers).
    """
    actor.require(Permission.DISABLE_ACCOUNTS)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "reason_required", N_("Write the reason: it is kept in the audit log with your name."), field="reason"
        )
    if len(reason) > REASON_MAX:
        raise InvalidInput(
            "reason_too_long",
            N_("The reason is {length} characters long; at most {limit} are kept."),
            field="reason",
            length=len(reason),
            limit=REASON_MAX,
        )
    row = (
        await conn.execute(
            select(users.c.id, users.c.login, users.c.full_name, users.c.role, users.c.is_active)
            .where(users.c.login == login)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("user_not_found", N_("No user with login {login}."), login=login)
    if bool(row.is_active) == active:
        if active:
            raise Conflict("account_already_enabled", N_("The account {login} is already enabled."), login=login)
        raise Conflict("account_already_disabled", N_("The account {login} is already disabled."), login=login)
    if not active:
        if row.id == actor.user_id:
            raise InvalidInput(
                "cannot_disable_self",
                N_("You cannot disable your own account; another administrator must do it."),
                field="login",
            )
        if row.role == Role.SYSADMIN.value:
            # Locked, so two administrators disabling the last two system administrators at once take turns.
            others = (
                await conn.execute(
                    select(users.c.id)
                    .where(users.c.role == Role.SYSADMIN.value, users.c.is_active.is_(True), users.c.id != row.id)
                    .with_for_update()
                )
            ).all()
            if not others:
                raise Conflict(
                    "last_sysadmin",
                    N_(
                        "{login} is the last active system administrator; enable or create another one first, "
                        "so that someone can still run the servers."
                    ),
                    field="login",
                    login=login,
                )
    await conn.execute(update(users).where(users.c.id == row.id).values(is_active=active))
    ended = 0
    if not active:
        ended = (
            await conn.execute(
                update(auth_sessions)
                .where(auth_sessions.c.user_id == row.id, auth_sessions.c.revoked_at.is_(None))
                .where(auth_sessions.c.expires_at > now)
                .values(revoked_at=now)
            )
        ).rowcount or 0
    still_open = await open_attempts(conn, row.id)
    after: dict = {"is_active": active, "reason": reason}
    if not active:
        after |= {"sessions_ended": ended, "open_attempts": [str(a["id"]) for a in still_open]}
    await record(
        conn,
        now,
        actor,
        "user.enabled" if active else "user.disabled",
        f"user:{row.id}",
        {"is_active": bool(row.is_active)},
        after,
    )
    return AccessChange(
        user_id=int(row.id),
        login=row.login,
        full_name=row.full_name,
        active=active,
        sessions_ended=ended,
        open_attempts=still_open,
    )


async def open_attempts(conn: AsyncConnection, user_id: int) -> list[dict]:
    from ..tables import attempts, exams

    rows = await conn.execute(
        select(attempts.c.id, attempts.c.status, attempts.c.deadline_at, exams.c.title)
        .select_from(attempts.join(exams, exams.c.id == attempts.c.exam_id))
        .where(attempts.c.student_id == user_id, attempts.c.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(attempts.c.deadline_at)
    )
    return [dict(r._mapping) for r in rows]


async def access_history(conn: AsyncConnection, actor: Actor, user_ids: list[int]) -> dict[int, dict]:
    """The latest disable/enable of each person: who, when, the reason (for the access page)."""
    actor.require(Permission.DISABLE_ACCOUNTS)
    from ..tables import audit_log

    if not user_ids:
        return {}
    subjects = {f"user:{uid}": uid for uid in user_ids}
    rows = await conn.execute(
        select(audit_log.c.subject, audit_log.c.actor, audit_log.c.at, audit_log.c.action, audit_log.c.after)
        .where(audit_log.c.subject.in_(list(subjects)), audit_log.c.action.in_(("user.disabled", "user.enabled")))
        .order_by(audit_log.c.id)
    )
    latest: dict[int, dict] = {}
    for r in rows:
        after = r.after or {}
        latest[subjects[r.subject]] = {"by": r.actor, "at": r.at, "action": r.action, "reason": after.get("reason")}
    return latest
