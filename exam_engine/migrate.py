"""Schema migrations with Alembic, on SQLite and PostgreSQL alike (``exam-engine migrate``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

HEAD = "0012_recordings"
"""The newest revision under ``migrations/versions`` (a test checks it against Alembic's own
reading). The server compares the database with it at start, without importing Alembic:
a restart after a crash must reach the overdue attempts as soon as it can."""


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision`` over the engine's own connection."""

    from alembic import command

    def _run(sync_conn) -> None:  # type: ignore[no-untyped-def]
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The server's connections bound lock waits (EXAM_DB_WAIT_S); a migration waits for its locks.
            await conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
        await conn.run_sync(_run)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (Alembic's ``alembic_version`` row); None before the first migration."""
    async with engine.connect() as conn:
        try:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except DBAPIError:  # no such table: nothing was ever migrated
            return None
