"""INSERT … ON CONFLICT for PostgreSQL and SQLite, which spell it the same but live apart in SQLAlchemy.

Statements are built once per dialect and shape and cached: building an ``ON CONFLICT``
statement costs more than executing it, and the autosave runs one per request.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db_bulk import dialect_insert as _insert


def insert_ignore(conn: AsyncConnection, table: Table, values: dict[str, Any], conflict: Sequence[str]) -> Any:
    return _insert(conn.dialect.name, table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))


@functools.lru_cache(maxsize=64)
def _prepared_insert_ignore(
    dialect: str, table: Table, columns: tuple[str, ...], conflict: tuple[str, ...], returning: tuple[str, ...]
) -> Any:
    stmt = _insert(dialect, table).values({name: bindparam(name) for name in columns})
    stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    return stmt.returning(*(table.c[name] for name in returning)) if returning else stmt


def insert_ignore_prepared(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    conflict: Sequence[str],
    *,
    returning: Sequence[str] = (),
) -> Any:
    """:func:`insert_ignore` built once per shape, for a hot path: execute it with the values as parameters."""
    return _prepared_insert_ignore(conn.dialect.name, table, tuple(columns), tuple(conflict), tuple(returning))


@functools.lru_cache(maxsize=64)
def _prepared_upsert(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    only_if_greater: str | None,
    returning: tuple[str, ...],
) -> Any:
    stmt = _insert(dialect, table).values({name: bindparam(name) for name in columns})
    where = table.c[only_if_greater] < stmt.excluded[only_if_greater] if only_if_greater else None
    stmt = stmt.on_conflict_do_update(
        index_elements=list(conflict), set_={name: stmt.excluded[name] for name in update}, where=where
    )
    if returning:
        stmt = stmt.returning(*(table.c[name] for name in returning))
    return stmt


def upsert(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    conflict: Sequence[str],
    update: Sequence[str],
    *,
    only_if_greater: str | None = None,
    returning: Sequence[str] = (),
) -> Any:
    """Insert, or update ``update`` columns; with ``only_if_greater`` only when that column grows.

    Execute the result with the values as parameters: ``conn.execute(stmt, values)``.
    """
    return _prepared_upsert(
        conn.dialect.name, table, tuple(columns), tuple(conflict), tuple(update), only_if_greater, tuple(returning)
    )
