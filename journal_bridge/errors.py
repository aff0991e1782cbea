"""The journal's domain errors.

Every error carries a stable snake_case ``code``, the English ``msgid`` (registered in
:mod:`journal_bridge.messages`, translated in the package's ``.po`` files) and the
parameters for its ``{placeholders}``; the edges translate, the core never does.

    JournalError
    ├── ScaleInvalid        a grading-scale configuration is unusable
    ├── GradeInvalid        a score, admission rating or target letter is not acceptable
    ├── CellInvalid         what a teacher typed into a journal cell is not a score or a mark
    ├── MarkSetInvalid      an attendance-mark configuration is unusable
    ├── CorrectionInvalid   a correction was filed or moved in a way the rules forbid
    ├── ResultInvalid       an exam result breaks the contract (fields, types, ranges)
    ├── ResultForged        an exam result's signature does not verify
    ├── FontMissing         no font that can print Kazakh letters was found
    ├── JournalNotFound     no such journal, lesson, correction or period (or not yours to see)
    ├── JournalDenied       the rules say this person may not do this (R4, J5–J7)
    └── JournalConflict     the journal's state refuses the request (exists, already locked)
"""

from __future__ import annotations

from typing import Any

from journal_bridge.messages import MESSAGES


class JournalError(Exception):
    """Base of the journal's errors: a code, an English message and its parameters."""

    def __init__(self, code: str, /, **params: Any) -> None:
        self.code = code
        self.msgid = MESSAGES[code]
        self.params = params
        super().__init__(self.msgid.format(**params))


class ScaleInvalid(JournalError):
    pass


class GradeInvalid(JournalError):
    pass


class CellInvalid(JournalError):
    pass


class MarkSetInvalid(JournalError):
    pass


class CorrectionInvalid(JournalError):
    pass


class ResultInvalid(JournalError):
    pass


class ResultForged(JournalError):
    pass


class FontMissing(JournalError):
    pass


class JournalNotFound(JournalError):
    pass


class JournalDenied(JournalError):
    pass


class JournalConflict(JournalError):
    pass
