"""The XLSX bank template: one row per question (documented in ``XLSX_TEMPLATE.md``).

Headers are recognised in Kazakh, Russian or English (a header cell may hold all
three, separated by ``/``, as the blank template does), so a department can relabel
the sheet in its own language without breaking the import. Rows are reported by
their spreadsheet row number.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any

from question_bank.checks import line_problems
from question_bank.formats.draft import DraftOption, DraftQuestion, ImportResult
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.problems import ProblemCode, problem

MAX_OPTIONS = 12
_ALIASES: dict[str, tuple[str, ...]] = {
    "number": ("№", "no", "no.", "number", "нөмір", "номер", "#"),
    "topic": ("topic", "тақырып", "тема"),
    "difficulty": ("difficulty", "level", "қиындық", "қиындық деңгейі", "деңгей", "сложность", "уровень сложности"),
    "question": ("question", "сұрақ", "вопрос", "тапсырма", "задание"),
    "key": ("key", "correct", "answer", "дұрыс жауап", "жауап", "кілт", "правильный ответ", "ответ", "ключ"),
    "twin_key": ("twin key", "twin_key", "twin", "егіз кілті", "егіз", "ключ пары"),
}
_BY_ALIAS = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}
_OPTION_HEADER = re.compile(r"^(?:option|variant|нұсқа|жауап нұсқасы|вариант|вариант ответа)\s*+_?\s*+(\d+)$")
_KEY_LETTERS = "ABCDEFGHIJKL"
_CYRILLIC_KEY = str.maketrans("АВСЕНК", "ABCEHK")

TEMPLATE_HEADERS: tuple[str, ...] = (
    "№",
    "Тақырып / Тема / Topic",
    "Қиындық / Сложность / Difficulty",
    "Сұрақ / Вопрос / Question",
    "Дұрыс жауап / Правильный ответ / Key",
    *(f"Нұсқа {n} / Вариант {n} / Option {n}" for n in range(1, MAX_OPTIONS + 1)),
    "Егіз кілті / Ключ пары / Twin key",
)
TEMPLATE_INSTRUCTIONS: tuple[str, ...] = (
    "Fill in one row per question, starting at row 2. Do not change the header row.",
    "Question: the text of the question. Option 1 to Option 12: the answer options, at least two, without gaps.",
    "Key: the number (1–12) or the letter (A–L) of the only correct option.",
    "Topic and Difficulty (a whole number from 1) may stay empty: the values chosen at upload are used.",
    "Twin key: optional; give the Kazakh and the Russian version of one question the same twin key.",
)


def _field(header: str) -> str | None:
    for part in header.split("/"):
        name = " ".join(part.replace("*", "").split()).casefold()
        if not name:
            continue
        if name in _BY_ALIAS:
            return _BY_ALIAS[name]
        option = _OPTION_HEADER.match(name)
        if option and 1 <= int(option.group(1)) <= 50:
            return f"option:{int(option.group(1))}"
    return None


# OOXML writes characters XML cannot hold as ``_xHHHH_`` (Word's line break pasted into Excel is
# ``_x000B_``); openpyxl hands them over as written. ``_x005F_`` is an escaped underscore.
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def cell_text(value: Any) -> str:
    """A cell as the author sees it: ``5`` not ``5.0``, dates in ISO form, ``_x000B_`` a line break."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value) if "_x" in value else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def _header_row(rows: list[tuple[Any, ...]]) -> int | None:
    for index, row in enumerate(rows[:10]):
        if any(_field(cell_text(v)) == "question" for v in row):
            return index
    return None


def _parse_key(raw: str, count: int) -> list[int] | None:
    keys: list[int] = []
    for part in re.split(r"[,;\s]+", raw.strip()):
        if not part:
            continue
        letter = part.upper().translate(_CYRILLIC_KEY)
        if part.isdigit() and 1 <= int(part) <= count:
            keys.append(int(part) - 1)
        elif len(letter) == 1 and letter in _KEY_LETTERS[:count]:
            keys.append(_KEY_LETTERS.index(letter))
        else:
            return None
    return keys


def _row_question(cells: dict[str, str], options: list[str], row: int, number: int, out: ImportResult) -> DraftQuestion:
    q = DraftQuestion(number=number, line=row, text=cells.get("question", ""), topic=cells.get("topic") or None)
    q.twin_key = cells.get("twin_key", "").strip() or None
    level = cells.get("difficulty", "").strip()
    if level:
        if level.isdigit() and int(level) >= 1:
            q.difficulty = int(level)
        else:
            out.problems.append(problem(ProblemCode.INVALID_DIFFICULTY, line=row, question=number, value=level))
    while options and not options[-1].strip():
        options.pop()
    keys = _parse_key(cells.get("key", ""), len(options))
    if keys is None:
        q.checkable = False
        out.problems.append(problem(ProblemCode.INVALID_KEY, line=row, question=number, key=cells.get("key", "")))
        keys = []
    q.options = [DraftOption(text=t, correct=i in keys, line=row) for i, t in enumerate(options)]
    return q


def import_xlsx(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ImportResult:
    import openpyxl  # here, not at import: a server start does not need it

    out = ImportResult(encoding="xlsx")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        # read_only sheets parse lazily, so a damaged sheet fails here, not at load time. Rows and
        # columns are bounded (question_bank.formats.office checked that no value lies beyond), or
        # a sheet whose dimension says XFD1048576 is padded to 17 billion empty cells.
        sheets = [
            list(sheet.iter_rows(values_only=True, max_row=limits.max_rows, max_col=limits.max_columns))
            for sheet in book.worksheets
        ]
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip, XML and openpyxl layers each raise their own types
        out.problems.append(problem(ProblemCode.UNREADABLE_FILE, format="xlsx", reason=str(exc)[:200]))
        return out
    book.close()
    found = next(((rows, h) for rows in sheets if (h := _header_row(rows)) is not None), None)
    if found is None:
        out.problems.append(problem(ProblemCode.MISSING_COLUMN, line=1, column=TEMPLATE_HEADERS[3]))
        return out
    rows, header_index = found
    for above, values in enumerate(rows[:header_index], start=1):
        filled = [cell_text(v).strip() for v in values if cell_text(v).strip()]
        if len(filled) > 1:  # one cell above the header is a title; more is a row the header hides
            out.problems.append(problem(ProblemCode.TEXT_OUTSIDE_QUESTION, line=above, text=" | ".join(filled)[:60]))
    columns: dict[int, str] = {}
    unknown: set[int] = set()
    for col, value in enumerate(rows[header_index]):
        header = cell_text(value).strip()
        if not header:
            continue
        field = _field(header)
        if field is None:
            unknown.add(col)
            out.problems.append(problem(ProblemCode.UNKNOWN_COLUMN, line=header_index + 1, column=header))
        else:
            columns[col] = field
    option_numbers = sorted(int(f.split(":")[1]) for f in columns.values() if f.startswith("option:"))
    if "key" not in columns.values():
        out.problems.append(problem(ProblemCode.MISSING_COLUMN, line=header_index + 1, column=TEMPLATE_HEADERS[4]))
    if not option_numbers:
        out.problems.append(problem(ProblemCode.MISSING_COLUMN, line=header_index + 1, column=TEMPLATE_HEADERS[5]))
    if any(p.code is ProblemCode.MISSING_COLUMN for p in out.problems):
        return out
    previous_number = 0  # numbering starts at 1
    for index, values in enumerate(rows[header_index + 1 :], start=header_index + 2):
        cells: dict[str, str] = {}
        stray = ""
        refused = False
        for col, value in enumerate(values):
            text = cell_text(value)
            bad = line_problems(text, index, limits)
            if bad:
                out.problems.extend(bad)
                refused = True
            if col in columns:
                cells[columns[col]] = text
            elif text.strip() and col not in unknown:
                stray = stray or text
        options = [cells.get(f"option:{n}", "") for n in range(1, option_numbers[-1] + 1)]
        meaningful = {k: v for k, v in cells.items() if k != "number" and v.strip()}
        if stray:
            out.problems.append(problem(ProblemCode.TEXT_OUTSIDE_QUESTION, line=index, text=stray.strip()[:60]))
        if not meaningful:
            continue
        number = len(out.questions) + 1
        written = cells.get("number", "").strip()
        if written.isdigit():
            # The № column accounts for rows: a gap, a repeat or a step back means a row was lost,
            # copied or moved, which the rest of the row cannot show.
            if int(written) != previous_number + 1:
                out.problems.append(
                    problem(
                        ProblemCode.NUMBERING_BROKEN,
                        line=index,
                        question=number,
                        number=int(written),
                        previous=previous_number,
                    )
                )
            previous_number = int(written)
        question = _row_question(cells, options, index, number, out)
        question.checkable = question.checkable and not refused  # the row's error is already reported
        out.questions.append(question)
    return out


def xlsx_template(translate: Callable[[str], str] = lambda msgid: msgid) -> bytes:
    """The blank template to download: the header row, and instructions in the caller's language."""
    import openpyxl
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = openpyxl.Workbook()
    sheet = book.worksheets[0]  # a new workbook has one sheet (book.active may be a chart sheet, or None)
    sheet.title = "Questions"
    sheet.append(list(TEMPLATE_HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    widths = {"A": 6, "B": 22, "C": 12, "D": 60, "E": 14}
    for column, width in widths.items():
        sheet.column_dimensions[column].width = width
    level = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="1", allow_blank=True)
    sheet.add_data_validation(level)
    level.add("C2:C10000")
    notes = book.create_sheet("Instructions")
    notes.column_dimensions["A"].width = 110
    for line in TEMPLATE_INSTRUCTIONS:
        notes.append([translate(line)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
