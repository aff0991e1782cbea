"""Bank reports, diffs and items as plain JSON-ready dicts, messages in the reader's language.

The API and the CLI show the same thing; the CLI's ``--json`` is exactly the API's body.
Each problem says where it is the way the author can find it: a line of a text file,
a paragraph of a Word file, a row of a spreadsheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from question_bank import api as bank_api
from question_bank.diff import BankDiff
from question_bank.formats.detect import BankFormat
from question_bank.model import Item
from question_bank.parse import ParseReport
from question_bank.problems import Problem

from ..i18n import N_, translate
from .banks import UploadOutcome

# (unit of the format) -> (message with line and question, message with line only)
_LOCATIONS: dict[str, tuple[str, str]] = {
    "line": (N_("Line {line}, question {question}: {message}"), N_("Line {line}: {message}")),
    "paragraph": (N_("Paragraph {line}, question {question}: {message}"), N_("Paragraph {line}: {message}")),
    "row": (N_("Row {line}, question {question}: {message}"), N_("Row {line}: {message}")),
}
_QUESTION_ONLY = N_("Question {question}: {message}")
# A package (QTI): the part of the package first, lines count within it.
_IN_FILE = (
    (("line", "question"), N_("File {file}, line {line}, question {question}: {message}")),
    (("line",), N_("File {file}, line {line}: {message}")),
    (("question",), N_("File {file}, question {question}: {message}")),
    ((), N_("File {file}: {message}")),
)
_UNITS = {BankFormat.PLATONUS_DOCX: "paragraph", BankFormat.XLSX: "row"}

# A format as the quality department knows it (the report showed the code, e.g. "platonus-docx").
FORMAT_NAMES: dict[str, str] = {
    BankFormat.PLATONUS: N_("Platonus markup in a text file (.txt)"),
    BankFormat.PLATONUS_DOCX: N_("Platonus markup in a .docx document"),
    BankFormat.GIFT: N_("GIFT (Moodle)"),
    BankFormat.AIKEN: N_("Aiken"),
    BankFormat.MOODLE_XML: N_("Moodle XML"),
    BankFormat.XLSX: N_("the .xlsx template"),
    BankFormat.QTI: N_("QTI 3.0 package (.zip)"),
}
_ENCODING_NAMES = {"utf": "UTF-", "cp1251": "CP1251", "kz1048": "KZ-1048"}
_WITH_ENCODING = N_("{format}, encoding {encoding}")
_TWO_ENCODINGS = N_("{first} and {second}")


def encoding_name(encoding: str | None, language: str) -> str | None:
    """How a text file was decoded, by the encodings' standard names ("utf-16-le (BOM)" -> "UTF-16");
    None for a Word or Excel file (the zip holds XML in its own declared encoding: nothing to say)."""
    if not encoding or encoding in ("docx", "xlsx"):
        return None

    def one(codec: str) -> str:
        codec = codec.split(" ")[0].lower()
        if codec.startswith("utf-"):
            return "UTF-" + codec[4:].split("-")[0]
        return _ENCODING_NAMES.get(codec, codec.upper())

    parts = encoding.split("+")
    if len(parts) == 2:
        return translate(language, _TWO_ENCODINGS, first=one(parts[0]), second=one(parts[1]))
    return one(encoding)


def format_name(fmt: str | None, language: str) -> str | None:
    return translate(language, FORMAT_NAMES[fmt]) if fmt in FORMAT_NAMES else None


def format_description(fmt: str | None, encoding: str | None, language: str) -> str:
    """The report's «Format» row: the format's name, and a text file's encoding ("—" if neither is known)."""
    name = format_name(fmt, language)
    enc = encoding_name(encoding, language)
    if name and enc:
        return translate(language, _WITH_ENCODING, format=name, encoding=enc)
    return name or enc or "—"


def problem_message(language: str, problem: Problem, fmt: BankFormat | None) -> str:
    """The problem in ``language``, prefixed with its line/paragraph/row and question number."""
    message = translate(language, problem.msgid, **problem.params)
    if problem.params.get("file"):
        where = {"line": problem.line, "question": problem.question}
        for keys, msgid in _IN_FILE:
            if all(where[k] is not None for k in keys) and (keys or problem.params["file"] not in message):
                return translate(
                    language, msgid, file=problem.params["file"], message=message, **{k: where[k] for k in keys}
                )
    both, line_only = _LOCATIONS[_UNITS.get(fmt, "line") if fmt else "line"]
    if problem.line is not None and problem.question is not None:
        return translate(language, both, line=problem.line, question=problem.question, message=message)
    if problem.line is not None:
        return translate(language, line_only, line=problem.line, message=message)
    if problem.question is not None:
        return translate(language, _QUESTION_ONLY, question=problem.question, message=message)
    return message


def _problem(language: str, problem: Problem, fmt: BankFormat | None) -> dict[str, Any]:
    return {
        "code": str(problem.code),
        "severity": str(problem.severity),
        "line": problem.line,
        "question": problem.question,
        "params": dict(problem.params),
        "message": problem_message(language, problem, fmt),
    }


def report_view(report: ParseReport, language: str) -> dict[str, Any]:
    """Counts, errors and warnings, each with line and question number and a translated message."""
    plain = report.to_dict()
    return {
        "format": plain["format"],
        "encoding": plain["encoding"],
        "language": plain["language"],
        "accepted": plain["accepted"],
        "counts": plain["counts"],
        "errors": [_problem(language, p, report.format) for p in report.errors],
        "warnings": [_problem(language, p, report.format) for p in report.warnings],
    }


def _short(item: Item) -> dict[str, Any]:
    return {"number": item.number, "text": item.text}


def diff_view(diff: BankDiff) -> dict[str, Any]:
    return {
        "counts": {
            "added": len(diff.added),
            "removed": len(diff.removed),
            "changed": len(diff.changed),
            "unchanged": diff.unchanged,
        },
        "added": [_short(it) for it in diff.added],
        "removed": [_short(it) for it in diff.removed],
        "changed": [
            {"old_number": c.old.number, "new_number": c.new.number, "text": c.new.text, "fields": list(c.fields)}
            for c in diff.changed
        ],
    }


def outcome_view(outcome: UploadOutcome, language: str, *, dry_run: bool) -> dict[str, Any]:
    return {
        "accepted": outcome.accepted,
        "stored": outcome.stored is not None,
        "dry_run": dry_run,
        "report": report_view(outcome.report, language),
        "version": outcome.stored.as_dict() if outcome.stored else None,
        "previous_version": outcome.previous.as_dict() if outcome.previous else None,
        "diff": diff_view(outcome.diff) if outcome.diff is not None else None,
        "losses": losses_view(outcome.losses, language),
    }


def losses_view(losses: Sequence[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    """Removed questions and broken twins of a replace, each with its item ids and a message."""
    return [
        {
            **{k: v for k, v in d.items() if k not in ("msgid", "params")},
            "message": translate(language, d["msgid"], **d["params"]),
        }
        for d in losses
    ]


def item_view(item: bank_api.StoredItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "number": item.number,
        "text": item.text,
        "options": list(item.options),
        "correct": item.correct,
        "topic": item.topic,
        "difficulty": item.difficulty,
        "twin_key": item.twin_key,
    }
