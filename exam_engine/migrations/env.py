"""Alembic environment: runs on a connection handed over by exam_engine.migrate."""

from __future__ import annotations

from alembic import context

from exam_engine.schema import ALL_METADATA

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through exam_engine.migrate
    raise RuntimeError("run migrations with `exam-engine migrate`")

context.configure(
    connection=connection,
    target_metadata=ALL_METADATA,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
