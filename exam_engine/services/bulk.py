"""Many rows in one statement: arrays and ``unnest`` on PostgreSQL, ``executemany`` elsewhere.

psycopg runs an ``executemany`` as one statement per row in a pipeline; for the deadline
sweep's 500 grades, 500 outbox events and 500 audit rows per transaction that was most of
the sweep's time. On PostgreSQL the rows travel instead as one array per column and one
statement writes them all::

    INSERT INTO t (a, b) SELECT anon.a, anon.b FROM unnest(:a, :b) AS anon(a, b)
    UPDATE t SET b = anon.b FROM unnest(:id, :b) AS anon(id, b) WHERE t.id = anon.id

Each value is bound through its column's type (time zones, JSON) as an ``executemany``
would bind it; JSON travels as text and is cast back, so nothing is written differently.
SQLite keeps ``executemany``: it is in-process, a row costs it microseconds.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, Text, bindparam, cast, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine


def _is_json(type_: TypeEngine[Any]) -> bool:
    return isinstance(type_.impl if isinstance(type_, TypeDecorator) else type_, JSON)


def _array_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    return ARRAY(Text) if _is_json(type_) else ARRAY(type_)


def _unnest(table: Table, names: tuple[str, ...], prefix: str) -> Any:
    """``unnest(:p_a, :p_b) AS anon(a, b)``, each parameter an array of its column's type."""
    arrays = [bindparam(prefix + name, type_=_array_type(table.c[name].type)) for name in names]
    return func.unnest(*arrays).table_valued(*names).render_derived()


def _value(u: Any, table: Table, name: str) -> ColumnElement[Any]:
    column = u.c[name]
    return cast(column, table.c[name].type) if _is_json(table.c[name].type) else column


@functools.lru_cache(maxsize=64)
def _insert_stmt(table: Table, names: tuple[str, ...]) -> Any:
    u = _unnest(table, names, "i_")
    return insert(table).from_select(list(names), select(*(_value(u, table, n) for n in names)))


def _update_stmt(table: Table, key: str, names: tuple[str, ...], where: ColumnElement[bool] | None) -> Any:
    u = _unnest(table, (key, *names), "u_")
    stmt = update(table).where(table.c[key] == u.c[key]).values({n: _value(u, table, n) for n in names})
    return stmt if where is None else stmt.where(where)


def _json_text(conn: AsyncConnection, type_: Any, value: Any) -> str | None:
    if value is None and getattr(type_, "none_as_null", False):
        return None
    serialise = getattr(conn.dialect, "_json_serializer", None) or json.dumps
    return serialise(value)


def _columns(conn: AsyncConnection, table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]],
             prefix: str) -> dict[str, list[Any]]:
    params: dict[str, list[Any]] = {}
    for name in names:
        type_ = table.c[name].type
        values = [row[name] for row in rows]
        if _is_json(type_):
            values = [_json_text(conn, type_, v) for v in values]
        params[prefix + name] = values
    return params


def _names(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    names = tuple(rows[0])
    if any(tuple(row) != names for row in rows):
        raise ValueError("every row must give the same columns in the same order")
    return names


async def insert_many(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts of column name → value, all with the same keys)."""
    if not rows:
        return
    names = _names(rows)
    if conn.dialect.name != "postgresql" or len(rows) == 1:
        await conn.execute(insert(table), list(rows))
        return
    await conn.execute(_insert_stmt(table, names), _columns(conn, table, names, rows, "i_"))


async def update_many(conn: AsyncConnection, table: Table, key: str, rows: Sequence[dict[str, Any]],
                      where: ColumnElement[bool] | None = None) -> None:
    """Set each row's other columns on the row of ``table`` whose ``key`` column equals its ``key``.

    ``where`` (a condition on ``table``, built once by the caller) further limits which rows change.
    """
    if not rows:
        return
    names = _names(rows)
    values = tuple(n for n in names if n != key)
    if conn.dialect.name != "postgresql":
        stmt = update(table).where(table.c[key] == bindparam("u_" + key))
        stmt = (stmt if where is None else stmt.where(where)).values({n: bindparam("u_" + n) for n in values})
        await conn.execute(stmt, [{"u_" + n: row[n] for n in names} for row in rows])
        return
    await conn.execute(_update_stmt(table, key, values, where), _columns(conn, table, (key, *values), rows, "u_"))
