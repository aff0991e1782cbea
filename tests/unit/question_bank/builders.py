"""Files built in the tests: Word and Excel banks as bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

import docx
import openpyxl

from question_bank.formats.xlsx import TEMPLATE_HEADERS


def docx_bytes(
    paragraphs: Sequence[str], table_rows: Sequence[Sequence[str]] = (), picture_after: int | None = None
) -> bytes:
    """A .docx whose body paragraphs are ``paragraphs``, then an optional table.

    ``picture_after`` puts a drawing element into that (1-based) paragraph.
    """
    document = docx.Document()
    for number, text in enumerate(paragraphs, start=1):
        paragraph = document.add_paragraph(text)
        if picture_after == number:
            from docx.oxml import parse_xml

            run = paragraph.add_run()
            run._r.append(
                parse_xml('<w:drawing xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>')
            )
    if table_rows:
        table = document.add_table(rows=len(table_rows), cols=len(table_rows[0]))
        for r, row in enumerate(table_rows):
            for c, text in enumerate(row):
                table.cell(r, c).text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(rows: Sequence[Sequence[object]], headers: Sequence[str] = TEMPLATE_HEADERS) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def template_row(
    question: str, key: object, options: Sequence[str], topic: str = "", difficulty: object = "", twin: str = ""
) -> list[object]:
    padded = list(options) + [""] * (12 - len(options))
    return ["", topic, difficulty, question, key, *padded, twin]
