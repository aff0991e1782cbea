"""INSERT … ON CONFLICT for PostgreSQL and SQLite, which spell it the same but live apart in SQLAlchemy."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def _insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def insert_ignore(conn: AsyncConnection, table: Table, values: dict[str, Any], conflict: Sequence[str]) -> Any:
    return _insert(conn, table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))


def upsert(
    conn: AsyncConnection, table: Table, values: dict[str, Any], conflict: Sequence[str], update: Sequence[str],
    *, only_if_greater: str | None = None,
) -> Any:
    """Insert, or update ``update`` columns; with ``only_if_greater`` only when that column grows."""
    stmt = _insert(conn, table).values(**values)
    where = None
    if only_if_greater is not None:
        where = table.c[only_if_greater] < stmt.excluded[only_if_greater]
    return stmt.on_conflict_do_update(
        index_elements=list(conflict),
        set_={name: stmt.excluded[name] for name in update},
        where=where,
    )
