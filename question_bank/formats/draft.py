"""What an importer hands to the checks: questions as the file wrote them.

An :class:`~question_bank.model.Item` can only hold a valid single-answer question,
so importers produce drafts, which may have no correct option, several, or none at
all; :mod:`question_bank.checks` turns drafts into items and problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from question_bank.problems import Problem


@dataclass(slots=True)
class DraftOption:
    text: str
    correct: bool
    line: int | None = None


@dataclass(slots=True)
class DraftQuestion:
    number: int
    line: int | None
    text: str = ""
    options: list[DraftOption] = field(default_factory=list)
    topic: str | None = None
    difficulty: int | None = None
    twin_key: str | None = None
    # False when the importer already refused the question (unsupported type …):
    # the checks then skip it instead of piling up follow-up errors.
    checkable: bool = True


@dataclass(slots=True)
class ImportResult:
    questions: list[DraftQuestion] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    encoding: str | None = None
    # True when the format itself fixes where the key stands (Platonus: first
    # variant), so "the key is always option 1" is no finding.
    key_position_by_convention: bool = False
    # Languages the file declares for its questions (QTI ``xml:lang``), checked against the bank's.
    languages: set[str] = field(default_factory=set)
    # Packages (QTI): question number -> the part of the package it was read from, so that every
    # problem of that question names its file (lines then count within that file).
    parts: dict[int, str] = field(default_factory=dict)
