"""Kazakh letters from a clerk's Word file reach the student byte for byte (import, storage, export, the exam).

The bank is a .docx built here with every Kazakh-specific letter (lower and upper case) in the
questions and options; the exam is drawn from exactly what the importer read.
"""

from __future__ import annotations

import io
import unicodedata

import docx
import pytest

from question_bank.parse import parse_bank
from tests import factories
from tests.factories import make_user, make_world, new_api, open_client

LETTERS = "әіңғүұқөһ ӘІҢҒҮҰҚӨҺ"


def _bank() -> bytes:
    document = docx.Document()
    for n in range(1, 6):
        document.add_paragraph(f"<question>{n}. Әріптер «{LETTERS}» қай тілде?")
        for option in (f"Қазақ тілінде {n} ({LETTERS})", f"Орыс тілінде {n}", f"Ағылшын тілінде {n}"):
            document.add_paragraph(f"<variant>{option}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def test_kazakh_letters_are_byte_exact_from_the_word_file_to_the_student_and_the_export(services, monkeypatch):
    report = parse_bank(_bank(), filename="bank.docx", language="kk")
    assert report.accepted, report.problems
    monkeypatch.setattr(factories, "make_items", lambda count, **_: report.items)
    world = await make_world(services, students=1, question_count=5, bank_size=5)
    await make_user(services, "quality1", factories.Role.QUALITY)
    client = await open_client(services)
    try:
        student = await new_api(client)
        await student.login("student1")
        status, started = await student.call("POST", f"/api/v1/exams/{world.exam_id}/start", {})
        assert status in (200, 201), started
        attempt_id = started["attempt"]["id"] if "attempt" in started else started["id"]
        _, view = await student.call("GET", f"/api/v1/attempts/{attempt_id}")
        quality = await new_api(client)
        await quality.login("quality1")
        response = await quality.client.request(
            "GET", f"/api/v1/bank/versions/{world.bank_versions['kk']}/export?format=platonus"
        )
        exported = await response.read()
        await student.client.close()
        await quality.client.close()
    finally:
        await client.close()
    shown = [q["text"] for q in view["questions"]] + [o for q in view["questions"] for o in q["options"]]
    with_letters = [t for t in shown if LETTERS in t]
    assert len(with_letters) == 10  # each question and its first option
    for text in with_letters:
        assert LETTERS.encode() in text.encode() and unicodedata.is_normalized("NFC", text)
    assert response.status == 200 and exported.decode("utf-8-sig").count(LETTERS) == 10
    again = parse_bank(exported, filename="bank.txt", language="kk")
    assert [i.text for i in again.items] == [i.text for i in report.items]
    assert [i.options for i in again.items] == [i.options for i in report.items]


pytestmark = pytest.mark.parametrize("backend", ["postgres"])
