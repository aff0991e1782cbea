"""How much of anything one bank upload may make the parser do.

The upload itself is capped at 10 MiB, but a 30 KB Word file can unpack to gigabytes, a
spreadsheet can name cell XFD1048576, and a text file can hold one 60,000-character line.
Every one of these is checked *before* the library that would choke on it is called, and
each refusal is a located problem in the report like any other (nothing is stored). The
last three fields bound the separate process the server parses in
(:mod:`question_bank.isolated`): whatever slips past the structural checks is stopped by
the operating system. Defaults are several times what a real bank of 2,000 questions
needs; ``docs/banks.md`` lists them with their environment variables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ParseLimits:
    # Office files (.docx, .xlsx are zip archives)
    max_expanded_bytes: int = 64 * MiB  # all members together, as declared and as really read
    max_members: int = 500
    max_ratio: int = 200  # uncompressed / compressed size, for a member over ratio_floor_bytes
    ratio_floor_bytes: int = 1 * MiB
    max_paragraphs: int = 50_000  # .docx, body and table cells
    max_rows: int = 20_000  # .xlsx, the highest row number of any sheet
    max_columns: int = 64  # .xlsx, the highest column holding a value
    max_xml_depth: int = 100  # every XML part of an Office file (Word's nested tables reach ~30)
    # Every format
    max_line_chars: int = 10_000  # a text line, a Word paragraph, a spreadsheet cell
    max_questions: int = 5_000
    max_options: int = 50  # of one question
    # The parsing process
    cpu_seconds: int = 30
    memory_bytes: int = 1024 * MiB  # address space (RLIMIT_AS) of the parsing process
    wall_seconds: float = 60.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ParseLimits:
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


DEFAULT_LIMITS = ParseLimits()
