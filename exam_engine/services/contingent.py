"""The semester's contingent as faculties hand it over (001 §14): CSV or XLSX.

Columns (header row, any order, case-insensitive): ``role``, ``login``,
``full_name``, ``group``, ``faculty``, optional ``faculty_name`` and ``language``.
One row per person; teachers list the group they teach (one row per group).
All or nothing: every row is checked first, each problem reported with its row
and column, and nothing is written when any row is wrong.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.actors import Actor
from ..domain.roles import Permission, Role
from ..errors import DomainError, InvalidInput
from ..i18n import N_
from ..tables import users
from . import catalog
from .users import add_user, validate_user_fields

REQUIRED = ("role", "login", "full_name", "group", "faculty")
OPTIONAL = ("faculty_name", "language")


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    role: Role
    login: str
    full_name: str
    group: str
    faculty: str
    faculty_name: str
    language: str


def _problem(row: int, column: str, msgid: str, **params: Any) -> dict[str, Any]:
    """One problem of one cell; the edge prefixes the row and column in the reader's language."""
    return {"row": row, "column": column, "msgid": msgid, "params": params}


def _rows_from_csv(data: bytes) -> Iterator[list[str]]:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1251 decodes any byte string
        raise InvalidInput("unreadable_file", N_("The file is not text in UTF-8 or CP1251."))
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    yield from csv.reader(io.StringIO(text), delimiter=delimiter)


def _rows_from_xlsx(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any parse failure is the same message to the person
        raise InvalidInput("unreadable_file", N_("The file is not a readable XLSX workbook.")) from None
    for values in wb.worksheets[0].iter_rows(values_only=True):
        yield ["" if v is None else str(v).strip() for v in values]


def parse(data: bytes, filename: str | None) -> list[Row]:
    """Check every row; raise one error listing all problems, or return the rows."""
    is_xlsx = (filename or "").lower().endswith(".xlsx") or data[:2] == b"PK"
    raw = list(_rows_from_xlsx(data) if is_xlsx else _rows_from_csv(data))
    raw = [r for r in raw if any(cell.strip() for cell in r)]
    if not raw:
        raise InvalidInput("empty_file", N_("The file has no rows."))
    header = [h.strip().lower() for h in raw[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput("missing_columns", N_("Row 1: missing columns: {columns}."), columns=", ".join(missing))
    index = {name: header.index(name) for name in REQUIRED + OPTIONAL if name in header}
    problems: list[dict[str, Any]] = []
    rows: list[Row] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in enumerate(raw[1:], start=2):

        def cell(name: str, cells: list[str] = cells) -> str:
            i = index.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        values = {name: cell(name) for name in REQUIRED + OPTIONAL}
        values["language"] = values["language"] or "kk"
        for name in REQUIRED:
            if not values[name]:
                problems.append(_problem(number, name, N_("The value is empty.")))
        if any(not values[n] for n in REQUIRED):
            continue
        try:
            role = validate_user_fields(values["login"], values["full_name"], values["role"], values["language"])
        except DomainError as e:
            column = {"invalid_login": "login", "invalid_role": "role", "unsupported_language": "language"}.get(
                e.code, "full_name"
            )
            problems.append(_problem(number, column, e.msgid, **e.params))
            continue
        if role not in (Role.STUDENT, Role.TEACHER):
            problems.append(_problem(number, "role", N_("Only student or teacher accounts can be imported.")))
            continue
        key = (values["login"], values["group"])
        if key in seen or (role is Role.STUDENT and any(k[0] == values["login"] for k in seen)):
            problems.append(
                _problem(
                    number,
                    "login",
                    N_("This person is already listed in row {first}."),
                    first=seen.get(key) or next(v for k, v in seen.items() if k[0] == values["login"]),
                )
            )
            continue
        seen[key] = number
        rows.append(
            Row(
                number,
                role,
                values["login"],
                values["full_name"],
                values["group"],
                values["faculty"],
                values["faculty_name"] or values["faculty"],
                values["language"],
            )
        )
    if problems:
        raise InvalidInput(
            "contingent_invalid", N_("The file has {count} problems; nothing was imported."), count=len(problems)
        ).with_details(problems)
    return rows


@dataclass(frozen=True, slots=True)
class ImportReport:
    created_users: list[dict[str, Any]]
    existing_users: int
    groups: int
    faculties: int


async def apply(conn: AsyncConnection, actor: Actor, rows: list[Row], *, now: datetime) -> ImportReport:
    """Create what is new; existing logins keep their accounts and get their group updated."""
    actor.require(Permission.MANAGE_CATALOG)
    actor.require(Permission.MANAGE_ACCOUNTS)
    created: list[dict[str, Any]] = []
    existing = 0
    faculty_ids: dict[str, int] = {}
    group_ids: dict[str, int] = {}
    for row in rows:
        if row.faculty not in faculty_ids:
            faculty_ids[row.faculty] = await catalog.ensure_faculty(
                conn, actor, code=row.faculty, name=row.faculty_name, now=now
            )
        if row.group not in group_ids:
            group_ids[row.group] = await catalog.ensure_group(
                conn, actor, code=row.group, faculty_id=faculty_ids[row.faculty], now=now
            )
        found = (await conn.execute(select(users.c.id, users.c.role).where(users.c.login == row.login))).first()
        if found is None:
            new = await add_user(
                conn,
                actor,
                login=row.login,
                full_name=row.full_name,
                role=row.role.value,
                language=row.language,
                now=now,
            )
            user_id = new.id
            created.append(
                {
                    "login": row.login,
                    "full_name": row.full_name,
                    "role": row.role.value,
                    "one_time_password": new.one_time_password,
                }
            )
        else:
            if found.role != row.role.value:
                raise InvalidInput(
                    "role_mismatch",
                    N_("Row {row}: {login} already exists with role {role}."),
                    row=row.number,
                    login=row.login,
                    role=found.role,
                )
            user_id = int(found.id)
            existing += 1
        await catalog.add_member(conn, actor, group_id=group_ids[row.group], user_id=user_id, role=row.role, now=now)
    return ImportReport(
        created_users=created, existing_users=existing, groups=len(group_ids), faculties=len(faculty_ids)
    )
