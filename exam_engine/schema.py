"""Every package's tables, for migrations: the one place that knows them all."""

from __future__ import annotations

from sqlalchemy import MetaData

from question_bank.tables import metadata as bank_metadata

from .tables import metadata as engine_metadata

ALL_METADATA: list[MetaData] = [engine_metadata, bank_metadata]
