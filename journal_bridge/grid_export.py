"""The journal grid as CSV or XLSX (J9): one row per student, one column per lesson.

Reads the plain grid that :func:`journal_bridge.views.grid` returns, so the export shows
exactly what the page shows (marks as their symbols, a total not computed as such).
CSV is UTF-8 with a byte-order mark for Excel, like the statement's.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from exam_engine.export_cells import append_row, csv_row, sheet_title
from journal_bridge.messages import MESSAGES
from journal_bridge.statement import Translate

Value = int | str | None


def grid_table(grid: dict[str, Any], language: str, translate: Translate) -> tuple[list[str], list[list[Value]]]:
    def t(code: str) -> str:
        return translate(language, MESSAGES[code])

    lessons = grid["lessons"]
    titles = [t("col_number"), t("col_student")]
    titles += [
        ls["held_on"] + ("" if ls["kind"] == "lesson" else f" ({t('lesson_kind_' + ls['kind'])})") for ls in lessons
    ]
    titles += [t(c) for c in ("col_admission", "col_exam", "col_total", "col_letter", "col_status")]
    body: list[list[Value]] = []
    for number, s in enumerate(grid["students"], start=1):
        cells = [s["cells"].get(str(ls["id"]), {}).get("value") for ls in lessons]
        total: Value = (
            s["total"]
            if s["total_computed"] or s["status"] in ("awaiting_exam", "admission_pending")
            else t("total_not_computed")
        )
        exam = s["exam"]["score"] if s["exam"] and s["total_computed"] else None
        body.append([number, s["full_name"], *cells, s["admission"], exam, total, s["letter"], s["status_label"]])
    return titles, body


def grid_csv(grid: dict[str, Any], language: str, translate: Translate) -> bytes:
    titles, body = grid_table(grid, language, translate)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(csv_row(titles))
    writer.writerows(csv_row(row) for row in body)
    return out.getvalue().encode("utf-8-sig")


def grid_xlsx(grid: dict[str, Any], language: str, translate: Translate) -> bytes:
    from openpyxl import Workbook  # here, not at import: a server start does not need it

    titles, body = grid_table(grid, language, translate)
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title(str(grid["journal"]["group"]), "journal")
    append_row(sheet, titles)
    for row in body:
        append_row(sheet, row)
    sheet.column_dimensions["B"].width = 36
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
