"""Shared helpers for the exam-day tests (no tests here): staff clients, counts, a started attempt."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from exam_engine.bootstrap import Services
from exam_engine.domain.roles import Role
from exam_engine.tables import attempts, audit_log
from tests.factories import Api, assign_proctor, make_user, new_api

LIVE = "/api/v1/live"


async def signed_in(client: Any, login: str) -> Api:
    """A browser of its own (own cookie jar, own session) signed in as ``login``."""
    api = await new_api(client)
    await api.login(login)
    return api


async def staff(services: Services, client: Any, login: str, role: Role) -> Api:
    """A signed-in staff member; a proctor is assigned to the world's exam (issue 19: only there)."""
    await make_user(services, login, role)
    if role is Role.PROCTOR:
        await assign_proctor(services, login)
    return await signed_in(client, login)


async def close_all(*apis: Api) -> None:
    for api in apis:
        await api.client.close()


async def attempt_count(services: Services) -> int:
    async with services.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(attempts))).scalar_one()


async def audit_actions(services: Services, subject: str) -> list[str]:
    async with services.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(audit_log.c.action).where(audit_log.c.subject == subject).order_by(audit_log.c.id)
                )
            ).scalars()
        )


async def attempt_row(services: Services, attempt_id: str) -> Any:
    async with services.engine.connect() as conn:
        return (await conn.execute(select(attempts).where(attempts.c.id == uuid.UUID(attempt_id)))).one()


async def start(api: Api, exam_id: int) -> dict:
    status, body = await api.call("POST", f"/api/v1/exams/{exam_id}/start", {})
    assert status == 200, body
    return body
