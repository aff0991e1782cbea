"""The item analysis as a spreadsheet for the quality department.

The caller passes ``translate`` (e.g. ``lambda m: i18n.gettext(lang, m)``), so this
module stays free of the i18n machinery while the file comes out in kk or ru.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Hashable, Mapping

import openpyxl
from openpyxl.styles import Font, PatternFill

from exam_engine.export_cells import append_row, sheet_title
from question_bank.analysis import (
    FLAG_MESSAGES,
    FLAG_SEPARATOR,
    ITEM_TOO_FEW,
    KR20_NOT_AVAILABLE,
    MIN_ATTEMPTS_FOR_FLAGS,
    MIN_ATTEMPTS_FOR_RELIABILITY,
    SMALL_SAMPLE_CAUTION,
    FormAnalysis,
)

ITEM_HEADERS: tuple[str, ...] = (
    "Item",
    "Question",
    "Attempts",
    "Difficulty (share correct)",
    "Discrimination (item–rest)",
    "Key",
    "Omitted",
    "Flags",
)
OPTION_HEADER = "Option {number}"
SUMMARY_LABELS: tuple[str, ...] = ("Attempts", "Items", "Mean score", "Standard deviation", "KR-20")
SHEET_NAMES: tuple[str, ...] = ("Items", "Summary")
CAUTION_LABEL = "Caution"
_FLAGGED = PatternFill("solid", fgColor="FFF2CC")


def _sheet_title(text: str) -> str:
    """Excel refuses some characters and long names in sheet titles; a translation may have them."""
    return sheet_title(text, "Sheet")


def analysis_xlsx(
    analysis: FormAnalysis,
    *,
    labels: Mapping[Hashable, str] | None = None,
    translate: Callable[[str], str] = lambda msgid: msgid,
) -> bytes:
    """One row per item (option counts in columns, the key's count in bold) and a summary sheet."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = _sheet_title(translate(SHEET_NAMES[0]))
    width = max((len(s.option_counts) for s in analysis.items), default=0)
    append_row(
        sheet,
        [translate(h) for h in ITEM_HEADERS] + [translate(OPTION_HEADER).format(number=n) for n in range(1, width + 1)],
    )
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "C2"
    for stats in analysis.items:
        if stats.too_few and stats.attempts:
            flags = translate(ITEM_TOO_FEW).format(attempts=stats.attempts, minimum=MIN_ATTEMPTS_FOR_FLAGS)
        else:
            flags = FLAG_SEPARATOR.join(translate(FLAG_MESSAGES[f]) for f in stats.reported_flags())
        row = [
            str(stats.item_id),
            (labels or {}).get(stats.item_id, ""),
            stats.attempts,
            None if stats.difficulty is None else round(stats.difficulty, 3),
            None if stats.discrimination is None else round(stats.discrimination, 3),
            stats.key + 1,
            stats.omitted,
            flags,
            *stats.option_counts,
        ]
        append_row(sheet, row)  # the question's text is the bank author's: never a formula
        key_cell = sheet.cell(row=sheet.max_row, column=len(ITEM_HEADERS) + stats.key + 1)
        key_cell.font = Font(bold=True)
        if stats.reported_flags():
            for cell in sheet[sheet.max_row][: len(ITEM_HEADERS)]:
                cell.fill = _FLAGGED
    summary = book.create_sheet(_sheet_title(translate(SHEET_NAMES[1])))
    values = (analysis.attempts, len(analysis.items), analysis.mean_score, analysis.score_sd, analysis.kr20)
    for label, value in zip(SUMMARY_LABELS, values, strict=True):
        append_row(summary, [translate(label), None if value is None else round(float(value), 3)])
    if analysis.kr20 is None and analysis.attempts < MIN_ATTEMPTS_FOR_RELIABILITY:
        summary.cell(row=summary.max_row, column=2, value=translate(KR20_NOT_AVAILABLE))
    if analysis.small_sample:
        minimum = max(MIN_ATTEMPTS_FOR_FLAGS, MIN_ATTEMPTS_FOR_RELIABILITY)
        append_row(summary, [translate(CAUTION_LABEL), translate(SMALL_SAMPLE_CAUTION).format(minimum=minimum)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
