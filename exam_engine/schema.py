"""Every package's tables, for migrations: the one place that knows them all."""

from __future__ import annotations

from sqlalchemy import MetaData

from journal_bridge.tables import metadata as journal_metadata
from proctor.tables import metadata as proctor_metadata
from question_bank.tables import metadata as bank_metadata

from .exam_day_tables import metadata as exam_day_metadata
from .hold_tables import metadata as hold_metadata
from .security.tables import metadata as trust_metadata
from .tables import metadata as engine_metadata  # with the assignments (issue 19, 0008_assignments): exam_proctors,

# departments, discipline_departments, faculty_heads, department_heads (foreign keys to users, exams, faculties)

ALL_METADATA: list[MetaData] = [
    engine_metadata,
    bank_metadata,
    journal_metadata,
    proctor_metadata,
    trust_metadata,
    exam_day_metadata,
    hold_metadata,
]
