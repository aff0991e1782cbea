"""Statement exports: XLSX and CSV for people, JSON of final results for an AIS (J9, S5).

CSV is UTF-8 with a byte-order mark, because Excel opens BOM-less UTF-8 as the local
code page and turns Kazakh letters into mojibake. The JSON export is language-neutral
(status codes, not labels; GPA as a decimal string so no float rounding creeps in) and
versioned by ``format`` so the receiving system can tell what it is reading.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from exam_engine.export_cells import append_row, csv_row, sheet_title
from journal_bridge.statement import Statement, Translate, format_value, label, statement_table

JSON_FORMAT = "journal_bridge.final_results/1"


def statement_csv(statement: Statement, language: str, translate: Translate) -> bytes:
    titles, body = statement_table(statement, language, translate)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_row(titles))
    writer.writerows(csv_row(row) for row in body)
    return buffer.getvalue().encode("utf-8-sig")


def statement_xlsx(statement: Statement, language: str, translate: Translate) -> bytes:
    """One sheet: the header block, the student table (numbers stay numbers), the counts."""
    from openpyxl import Workbook  # here, not at import: a server start does not need it
    from openpyxl.styles import Font

    h = statement.header
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title(h.group, "statement")
    bold = Font(bold=True)
    append_row(sheet, [label(translate, language, "statement_title")])
    sheet["A1"].font = bold
    for code, value in (
        ("header_institution", h.institution),
        ("header_faculty", h.faculty),
        ("header_group", h.group),
        ("header_discipline", h.discipline),
        ("header_credits", h.credits),
        ("header_date", h.exam_date.isoformat()),
        ("header_examiner", h.examiner),
    ):
        append_row(sheet, [label(translate, language, code), value])
    sheet.append([])
    titles, body = statement_table(statement, language, translate)
    append_row(sheet, titles)
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for row in body:
        append_row(sheet, row)
    sheet.append([])
    stats = statement.statistics
    append_row(sheet, [label(translate, language, "stats_students"), stats.students])
    for status, count in stats.status_counts:
        append_row(sheet, [label(translate, language, f"status_{status}"), count])
    append_row(sheet, [label(translate, language, "stats_pass_rate"), stats.pass_rate])
    append_row(sheet, [label(translate, language, "stats_average_total"), stats.average_total])
    append_row(sheet, [label(translate, language, "stats_distribution")])
    for letter, count in stats.distribution:
        append_row(sheet, [letter, count])
    sheet.column_dimensions["B"].width = 36
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def final_results_json(statement: Statement) -> bytes:
    """Final results of one statement for an external AIS, as UTF-8 JSON."""
    h = statement.header
    results: list[dict[str, Any]] = [
        {
            "student_id": r.student_id,
            "full_name": r.full_name,
            "admission": r.outcome.admission,
            "exam": r.outcome.exam,
            "total": r.outcome.total,
            "letter": r.outcome.letter,
            "gpa": format_value(r.outcome.band.gpa) if r.outcome.band else None,
            "traditional": {lang: r.outcome.traditional(lang) for lang in ("kk", "ru")},
            "status": str(r.outcome.status),
        }
        for r in statement.rows
    ]
    document = {
        "format": JSON_FORMAT,
        "institution": h.institution,
        "faculty": h.faculty,
        "group": h.group,
        "discipline": {"code": h.discipline_code, "name": h.discipline, "credits": h.credits},
        "exam_date": h.exam_date.isoformat(),
        "examiner": h.examiner,
        "results": results,
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
