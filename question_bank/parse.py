"""The one entry point for uploads: bytes in, a report with items and problems out."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from question_bank.checks import check_drafts, line_problems
from question_bank.formats.detect import ALIASES, IMPORTERS, OLE_MAGIC, BankFormat, detect_format, resolve_format
from question_bank.formats.office import check_archive, too_many_parts
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.model import Bank, Item
from question_bank.problems import Problem, ProblemCode, Severity, problem
from question_bank.text import decode_bytes

# A report lists at most this many problems (a 10 MiB file of unknown tags would otherwise
# make a report of millions of lines); the first ones, in file order, are the useful ones.
MAX_REPORTED_PROBLEMS = 1000
ZIP_MAGIC = b"PK\x03\x04"
_ARCHIVES = {BankFormat.PLATONUS_DOCX: "docx", BankFormat.XLSX: "xlsx", BankFormat.QTI: "qti"}

DEFAULT_EXPECTED_OPTIONS = 5


class UnknownFormatError(ValueError):
    """An explicitly named format this product does not read (a usage error, CLI exit 2)."""

    code = "unknown_format"
    msgid = "Unknown format {format}; use one of: {known}"

    def __init__(self, name: str) -> None:
        self.params = {"format": name, "known": ", ".join(f.value for f in BankFormat)}
        super().__init__(self.msgid.format(**self.params))


@dataclass(frozen=True, slots=True)
class ParseReport:
    """Everything an upload produced. Store ``items`` only when ``accepted``."""

    format: BankFormat | None
    encoding: str | None
    language: str
    items: tuple[Item, ...]
    problems: tuple[Problem, ...]
    questions_found: int

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    @property
    def accepted(self) -> bool:
        return not self.errors

    def bank(self) -> Bank:
        return Bank(language=self.language, items=self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format.value if self.format else None,
            "encoding": self.encoding,
            "language": self.language,
            "accepted": self.accepted,
            "counts": {
                "questions": self.questions_found,
                "valid": len(self.items),
                "errors": len(self.errors),
                "warnings": len(self.warnings),
            },
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
        }


def _sort_key(p: Problem) -> tuple[int, int, int]:
    return (p.line is not None, p.line or 0, p.question or 0)


def parse_bank(
    data: bytes,
    *,
    filename: str | None = None,
    format: str | None = None,
    language: str,
    default_topic: str | None = None,
    default_difficulty: int | None = None,
    expected_options: int = DEFAULT_EXPECTED_OPTIONS,
    existing: Sequence[Item] = (),
    limits: ParseLimits = DEFAULT_LIMITS,
) -> ParseReport:
    """Read a bank file and check it, within ``limits`` (each breach is a located error).

    ``format`` names the format (any alias in ``ALIASES``); ``None`` detects it.
    ``existing`` holds items this upload is *added to*: a question already among them
    is an error. For a re-upload that replaces a version, pass nothing and show
    :func:`question_bank.diff.diff_items` instead.
    Raises :class:`UnknownFormatError` for an unknown explicit format name.
    """
    if data.startswith(ZIP_MAGIC) and (crowded := too_many_parts(data, limits)):
        return ParseReport(None, None, language, (), tuple(crowded), 0)  # before the directory is read
    fmt: BankFormat | None = None
    if format is not None:
        fmt = resolve_format(format, data)
        if fmt is None:
            raise UnknownFormatError(format)
    if data.startswith(OLE_MAGIC):
        # An OLE compound file: Word/Excel 97-2003, or a .docx/.xlsx saved with a password
        # (Office encrypts the whole package into an OLE file's "EncryptedPackage" stream).
        encrypted = _ENCRYPTED_STREAM in data[:1_000_000]
        return _refused(ProblemCode.PASSWORD_PROTECTED if encrypted else ProblemCode.LEGACY_OFFICE_FILE, language)
    office = _office_extension(filename, fmt)
    if office and data[:5] in (b"{\\rtf", b"%PDF-"):  # Word's "Save as RTF/PDF" renamed: no text to guess at
        return _refused(ProblemCode.NOT_AN_OFFICE_FILE, language, ext=office)
    if format is None:
        fmt = detect_format(data, filename)
        if fmt is None:
            if office:  # a PDF, RTF or web page renamed (or saved) as .docx/.doc: choosing a format will not help
                return _refused(ProblemCode.NOT_AN_OFFICE_FILE, language, ext=office)
            return _refused(ProblemCode.FORMAT_NOT_RECOGNISED, language)
    if fmt is None:  # not reached: named (or UnknownFormatError) or detected (or refused) above
        return _refused(ProblemCode.FORMAT_NOT_RECOGNISED, language)
    if fmt in _OFFICE_PARTS and not zipfile.is_zipfile(io.BytesIO(data)):
        return _refused(ProblemCode.NOT_AN_OFFICE_FILE, language, ext=office or _OFFICE_PARTS[fmt][0])
    before = _limit_problems(data, fmt, limits)
    if before:
        return ParseReport(fmt, None, language, (), tuple(before), 0)
    if fmt in _OFFICE_PARTS and not _has_part(data, _OFFICE_PARTS[fmt][1]):
        return _refused(ProblemCode.NOT_AN_OFFICE_FILE, language, ext=office or _OFFICE_PARTS[fmt][0])
    result = IMPORTERS[fmt](data, limits)
    if len(result.questions) > limits.max_questions:
        first_over = result.questions[limits.max_questions]
        over = problem(
            ProblemCode.TOO_MANY_QUESTIONS, line=first_over.line, question=first_over.number, limit=limits.max_questions
        )
        return ParseReport(fmt, result.encoding, language, (), (over,), len(result.questions))
    crowded = [
        problem(
            ProblemCode.TOO_MANY_OPTIONS, line=q.line, question=q.number, count=len(q.options), limit=limits.max_options
        )
        for q in result.questions
        if len(q.options) > limits.max_options
    ]
    if crowded:
        return ParseReport(
            fmt, result.encoding, language, (), tuple(crowded[:MAX_REPORTED_PROBLEMS]), len(result.questions)
        )
    foreign = sorted(result.languages - {language})
    if foreign:
        result.problems.append(problem(ProblemCode.LANGUAGE_MISMATCH, found=", ".join(foreign), language=language))
    items, problems = check_drafts(
        result,
        default_topic=default_topic,
        default_difficulty=default_difficulty,
        expected_options=expected_options,
        existing=existing,
    )
    if result.parts:  # a package: each question's problems name the part it was read from
        problems = [_in_part(p, result.parts) for p in problems]
    return ParseReport(
        format=fmt,
        encoding=result.encoding,
        language=language,
        items=tuple(items),
        problems=tuple(sorted(problems, key=_sort_key)[:MAX_REPORTED_PROBLEMS]),
        questions_found=len(result.questions),
    )


def _in_part(found: Problem, parts: dict[int, str]) -> Problem:
    if found.question not in parts or "file" in found.params:
        return found
    return replace(found, params={**found.params, "file": parts[found.question]})


def _limit_problems(data: bytes, fmt: BankFormat, limits: ParseLimits) -> list[Problem]:
    """What must be refused before an importer (or the library under it) sees the file."""
    if fmt in _ARCHIVES:
        return check_archive(data, limits, main_parts=_ARCHIVES[fmt])
    found: list[Problem] = []
    for number, line in enumerate(decode_bytes(data).text.split("\n"), start=1):
        found.extend(line_problems(line, number, limits))
        if len(found) >= MAX_REPORTED_PROBLEMS:
            break
    return found


def _refused(code: ProblemCode, language: str, ext: str | None = None) -> ParseReport:
    found = problem(code) if ext is None else problem(code, ext=ext)
    return ParseReport(None, None, language, (), (found,), 0)


_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
# The Office formats: the extension to name, and the part a real package of that kind holds.
_OFFICE_PARTS = {BankFormat.PLATONUS_DOCX: ("docx", "word/document.xml"), BankFormat.XLSX: ("xlsx", "xl/workbook.xml")}


def _office_extension(filename: str | None, named: BankFormat | None) -> str | None:
    """The Office extension the file's name (or the explicitly chosen format) promises, if any."""
    ext = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if ext in ("doc", "docx", "xls", "xlsx", "docm", "xlsm"):
        return ext
    return _OFFICE_PARTS[named][0] if named in _OFFICE_PARTS else None


def _has_part(data: bytes, name: str) -> bool:
    """Whether the zip holds ``name`` (its directory only; check_archive has bounded it already)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return name in names or any(n.lower() == name for n in names)


__all__ = ["ALIASES", "BankFormat", "ParseLimits", "ParseReport", "UnknownFormatError", "parse_bank"]
