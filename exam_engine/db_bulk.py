"""Many rows in one statement: ``json_to_recordset`` on PostgreSQL, ``executemany`` elsewhere.

psycopg runs an ``executemany`` as one statement per row in a pipeline; for the deadline
sweep's 500 grades, 500 outbox events and 500 audit rows per transaction that was most of
the sweep's time. On PostgreSQL the rows travel instead as one JSON document (one
parameter, encoded by the standard library's C encoder, decoded by PostgreSQL) and one
statement writes them all::

    INSERT INTO t (a, b) SELECT r.a, r.b FROM json_to_recordset(:rows) AS r(a int, b text)
    UPDATE t SET b = r.b FROM json_to_recordset(:rows) AS r(id uuid, b text) WHERE t.id = r.id

(Arrays, one per column, were tried first: psycopg quotes every element of a text array
in Python, which cost more than the round trips it saved.) Each value is first bound
through its column's type as an ``executemany`` would bind it; a JSON column's value
travels as its own serialised text and is cast back, so JSON ``null`` stays JSON ``null``
and the stored text is the text an ``executemany`` stores. Types JSON cannot carry
exactly (bytes, floats, arrays) keep ``executemany``, as does SQLite: it is in-process, a row costs it
microseconds.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Float, LargeBinary, Table, Text, any_, bindparam, cast, column, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine


def _base(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    return type_.impl if isinstance(type_, TypeDecorator) else type_  # type: ignore[return-value]


def _is_json(type_: TypeEngine[Any]) -> bool:
    return isinstance(_base(type_), JSON)


# Bytes have no JSON form, nor have a float's NaN and infinities; arrays are left to executemany too.
_NOT_CARRIED = (LargeBinary, Float, ARRAY)


def _carried(table: Table, names: Sequence[str]) -> bool:
    """Whether JSON carries every one of these columns exactly."""
    return not any(isinstance(_base(table.c[n].type), _NOT_CARRIED) for n in names)


def _recordset(table: Table, names: tuple[str, ...]) -> Any:
    """``json_to_recordset(CAST(:rows AS JSON)) AS r(a <type>, b <type>)``; JSON columns as text."""
    columns = [column(n, Text if _is_json(table.c[n].type) else table.c[n].type) for n in names]
    return (
        func.json_to_recordset(cast(bindparam("rows", type_=Text), JSON))
        .table_valued(*columns)
        .render_derived(with_types=True)
    )


def _value(r: Any, table: Table, name: str) -> ColumnElement[Any]:
    return cast(r.c[name], table.c[name].type) if _is_json(table.c[name].type) else r.c[name]


def dialect_insert(dialect: str, table: Table) -> Any:
    """``INSERT`` of PostgreSQL or SQLite: both spell ``ON CONFLICT`` alike, but SQLAlchemy keeps it per dialect."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _finish_insert(stmt: Any, table: Table, skip_conflicts_on: tuple[str, ...], returning: str | None) -> Any:
    if skip_conflicts_on:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    return stmt if returning is None else stmt.returning(table.c[returning])


@functools.lru_cache(maxsize=64)
def _insert_stmt(
    table: Table, names: tuple[str, ...], skip_conflicts_on: tuple[str, ...], returning: str | None
) -> Any:
    r = _recordset(table, names)
    stmt = postgresql.insert(table).from_select(list(names), select(*(_value(r, table, n) for n in names)))
    return _finish_insert(stmt, table, skip_conflicts_on, returning)


def _insert_rows_stmt(dialect: str, table: Table, skip_conflicts_on: tuple[str, ...], returning: str | None) -> Any:
    """The statement ``executemany`` runs, one row at a time."""
    return _finish_insert(dialect_insert(dialect, table), table, skip_conflicts_on, returning)


def _update_stmt(table: Table, key: str, names: tuple[str, ...], where: ColumnElement[bool] | None) -> Any:
    r = _recordset(table, (key, *names))
    stmt = update(table).where(table.c[key] == r.c[key]).values({n: _value(r, table, n) for n in names})
    return stmt if where is None else stmt.where(where)


def _plain(value: Any) -> Any:
    """A bound value as PostgreSQL reads it back from JSON text."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    return value


def _encoders(conn: AsyncConnection, table: Table, names: Sequence[str]) -> list[Callable[[Any], Any]]:
    dialect = conn.dialect
    serialise = getattr(dialect, "_json_serializer", None) or json.dumps
    encoders: list[Callable[[Any], Any]] = []
    for name in names:
        type_ = table.c[name].type
        if _is_json(type_):
            none_as_null = getattr(_base(type_), "none_as_null", False)
            encoders.append(lambda v, s=serialise, n=none_as_null: None if v is None and n else s(v))
        elif isinstance(type_, TypeDecorator):
            encoders.append(lambda v, t=type_, d=dialect: _plain(t.process_bind_param(v, d)))
        else:
            encoders.append(_plain)
    return encoders


def _rows_json(conn: AsyncConnection, table: Table, names: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> str:
    encoders = _encoders(conn, table, names)
    return json.dumps(
        [{n: enc(row[n]) for n, enc in zip(names, encoders, strict=True)} for row in rows],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _names(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    names = tuple(rows[0])
    if any(tuple(row) != names for row in rows):
        raise ValueError("every row must give the same columns in the same order")
    return names


async def insert_many(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts_on: Sequence[str] = (),
    returning: str | None = None,
) -> list[Any]:
    """Insert ``rows`` (dicts of column name → value, all with the same keys).

    ``skip_conflicts_on``: the columns of a unique index; a row that would duplicate one is
    left out (``ON CONFLICT DO NOTHING``). ``returning``: a column whose values of the rows
    actually inserted are returned (in no particular order); otherwise nothing is.
    """
    if not rows:
        return []
    names = _names(rows)
    conflict = tuple(skip_conflicts_on)
    if conn.dialect.name != "postgresql" or len(rows) == 1 or not _carried(table, names):
        result = await conn.execute(_insert_rows_stmt(conn.dialect.name, table, conflict, returning), list(rows))
    else:
        result = await conn.execute(
            _insert_stmt(table, names, conflict, returning), {"rows": _rows_json(conn, table, names, rows)}
        )
    return list(result.scalars().all()) if returning is not None else []


def one_of(conn: AsyncConnection, column_: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one parameter however many values
    (an ``IN`` list of 500 placeholders is rendered, sent and parsed again for every batch)."""
    if conn.dialect.name == "postgresql":
        return column_ == any_(bindparam(None, list(values), type_=ARRAY(column_.type)))
    return column_.in_(list(values))


async def update_many(
    conn: AsyncConnection,
    table: Table,
    key: str,
    rows: Sequence[dict[str, Any]],
    where: ColumnElement[bool] | None = None,
) -> None:
    """Set each row's other columns on the row of ``table`` whose ``key`` column equals its ``key``.

    ``where`` (a condition on ``table``) further limits which rows change.
    """
    if not rows:
        return
    names = _names(rows)
    values = tuple(n for n in names if n != key)
    if conn.dialect.name != "postgresql" or not _carried(table, names):
        stmt = update(table).where(table.c[key] == bindparam("u_" + key))
        stmt = (stmt if where is None else stmt.where(where)).values({n: bindparam("u_" + n) for n in values})
        await conn.execute(stmt, [{"u_" + n: row[n] for n in names} for row in rows])
        return
    await conn.execute(_update_stmt(table, key, values, where), {"rows": _rows_json(conn, table, (key, *values), rows)})
