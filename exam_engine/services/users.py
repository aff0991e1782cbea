"""Accounts are created by the administering unit, never by the person (R1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.actors import Actor
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
