"""The XLSX bank template: one row per question (documented in ``XLSX_TEMPLATE.md``).

Headers are recognised in Kazakh, Russian or English (a header cell may hold all
three, separated by ``/``, as the blank template does), so a department can relabel
the sheet in its own language without breaking the import. Rows are reported by
their spreadsheet row number.

What Excel does not show as the file holds it is refused with its place, never read
silently: a second sheet with a question table (only one sheet is read), a hidden row or
column holding data, and a date or a number whose cell format makes Excel show something
other than the stored value (``50%`` stored as ``0.5``, a date stored as a serial number).
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


def get_column_letter(number: int) -> str:
    """Excel's letters of a 1-based column number (1 → A, 27 → AA)."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


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
# Cyrillic letters typed for the Latin ones they look like. А, С and Н can mean only that letter
# (А is first in both orders; С and Н stand beyond the twelfth place in the Kazakh and Russian
# alphabets). В, Е and К are look-alikes whose place differs: a clerk lettering options А, Б, В, Г
# means option 3 (Kazakh А, Ә, Б, В: option 4) by В, and the Latin B is option 2 — such a key is
# refused (ambiguous_key_letter) rather than guessed.
_CYRILLIC_KEY = str.maketrans("АСН", "ACH")
_AMBIGUOUS_CYRILLIC = {"В": 2, "Е": 5, "К": 11}

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


# Cell formats under which Excel shows a number as Python writes it (an integer also under "0").
_PLAIN_FORMATS = frozenset({"General", "@"})
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_HIDDEN = frozenset({"1", "true"})


def shown_otherwise(value: Any, number_format: str | None) -> bool:
    """True when Excel shows ``value`` differently from :func:`cell_text` (a date, ``50%``, ``2.50``)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        return True
    if isinstance(value, (int, float)):
        fmt = number_format or "General"
        return fmt not in _PLAIN_FORMATS and not (fmt == "0" and float(value).is_integer())
    return False


def _hidden_rows_and_columns(sheet: Any, max_columns: int) -> tuple[set[int], set[int]]:
    """Row and column numbers the sheet's XML marks hidden (read as a stream, like office.py)."""
    from lxml import etree

    rows: set[int] = set()
    columns: set[int] = set()
    source = sheet._get_source()  # the worksheet part of the read-only workbook
    try:
        for _, element in etree.iterparse(
            source,
            events=("end",),
            tag=(f"{_SHEET_NS}row", f"{_SHEET_NS}col"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        ):
            if element.get("hidden", "").lower() in _HIDDEN:
                if element.tag == f"{_SHEET_NS}row":
                    number = element.get("r", "")
                    if number.isdecimal():
                        rows.add(int(number))
                else:
                    low, high = element.get("min", ""), element.get("max", "")
                    if low.isdecimal() and high.isdecimal():
                        columns.update(range(int(low), min(int(high), max_columns) + 1))
            element.clear()
    finally:
        source.close()
    return rows, columns


def _header_row(rows: list[tuple[Any, ...]]) -> int | None:
    for index, row in enumerate(rows[:10]):
        if any(_field(cell_text(v)) == "question" for v in row):
            return index
    return None


def _parse_key(raw: str, count: int) -> list[int] | str | None:
    """The 0-based keys; None if a part names no option; a Cyrillic letter whose place differs (see below)."""
    keys: list[int] = []
    for part in re.split(r"[,;\s]+", raw.strip()):
        part = part.rstrip(".)")  # "B." / "2)" as typed after a list's habit
        if not part:
            continue
        if part.upper() in _AMBIGUOUS_CYRILLIC:
            return part
        letter = part.upper().translate(_CYRILLIC_KEY)
        if part.isdecimal() and 1 <= int(part) <= count:
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
        if level.isdecimal() and int(level) >= 1:
            q.difficulty = int(level)
        else:
            out.problems.append(problem(ProblemCode.INVALID_DIFFICULTY, line=row, question=number, value=level))
    while options and not options[-1].strip():
        options.pop()
    keys = _parse_key(cells.get("key", ""), len(options))
    if isinstance(keys, str):
        q.checkable = False
        out.problems.append(
            problem(
                ProblemCode.AMBIGUOUS_KEY_LETTER,
                line=row,
                question=number,
                key=keys,
                latin=_AMBIGUOUS_CYRILLIC[keys.upper()],
            )
        )
        keys = []
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
        sheets: list[list[tuple[Any, ...]]] = []
        unshown: list[set[tuple[int, int]]] = []  # (row, column) numbers, 1-based
        for sheet in book.worksheets:
            rows_read: list[tuple[Any, ...]] = []
            differs: set[tuple[int, int]] = set()
            for row_number, row_cells in enumerate(
                sheet.iter_rows(max_row=limits.max_rows, max_col=limits.max_columns), start=1
            ):
                rows_read.append(tuple(cell.value for cell in row_cells))
                differs.update(
                    (row_number, column)
                    for column, cell in enumerate(row_cells, start=1)
                    if shown_otherwise(cell.value, getattr(cell, "number_format", None))
                )
            sheets.append(rows_read)
            unshown.append(differs)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip, XML and openpyxl layers each raise their own types
        out.problems.append(problem(ProblemCode.UNREADABLE_FILE, format="xlsx", reason=str(exc)[:200]))
        return out
    tables = [(at, h) for at, rows in enumerate(sheets) if (h := _header_row(rows)) is not None]
    if not tables:
        book.close()
        out.problems.append(problem(ProblemCode.MISSING_COLUMN, line=1, column=TEMPLATE_HEADERS[3]))
        return out
    at, header_index = tables[0]
    rows, differs = sheets[at], unshown[at]
    read_sheet = book.worksheets[at]
    for other, other_header in tables[1:]:
        out.problems.append(
            problem(
                ProblemCode.ANOTHER_QUESTION_SHEET,
                line=other_header + 1,
                sheet=book.worksheets[other].title,
                first=read_sheet.title,
            )
        )
    try:
        hidden_rows, hidden_columns = _hidden_rows_and_columns(read_sheet, limits.max_columns)
    except Exception as exc:  # noqa: BLE001 - the same XML openpyxl just read; a failure here is a damaged part
        book.close()
        out.problems.append(problem(ProblemCode.UNREADABLE_FILE, format="xlsx", reason=str(exc)[:200]))
        return out
    book.close()
    for column in sorted(hidden_columns):
        if any(column <= len(values) and cell_text(values[column - 1]).strip() for values in rows[header_index:]):
            out.problems.append(
                problem(ProblemCode.HIDDEN_COLUMN, line=header_index + 1, column=get_column_letter(column))
            )
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
            if (index, col + 1) in differs and col in columns and columns[col] != "number":
                bad.append(problem(ProblemCode.FORMATTED_NUMBER, line=index, column=get_column_letter(col + 1)))
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
        if index in hidden_rows:
            out.problems.append(problem(ProblemCode.HIDDEN_ROW, line=index, question=number))
            refused = True
        written = cells.get("number", "").strip()
        if written.isdecimal():
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
