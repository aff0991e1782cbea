"""The Alembic history builds exactly the schema the code describes, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from exam_engine.schema import ALL_METADATA


async def test_migrations_leave_no_difference_from_the_table_definitions(services):
    def diff(sync_conn):  # type: ignore[no-untyped-def]
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(ctx, ALL_METADATA)

    async with services.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == [], f"write a migration for: {changes}"


async def test_the_server_knows_the_newest_revision_and_reads_the_database_at_it(services):
    """The server checks the schema against ``migrate.HEAD`` without loading Alembic; it must be
    the head Alembic itself finds (a new migration without a new HEAD fails here)."""
    from alembic.script import ScriptDirectory

    from exam_engine.migrate import HEAD, alembic_config, current_revision

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD
    assert await current_revision(services.engine) == HEAD
