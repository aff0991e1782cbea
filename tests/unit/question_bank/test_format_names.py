"""The upload report names a bank's format and a text file's encoding in words, never by their codes."""

from __future__ import annotations

import pytest

from exam_engine.services.bank_views import format_description
from question_bank.formats.detect import BankFormat


@pytest.mark.parametrize(
    ("fmt", "encoding", "kk", "ru"),
    [
        ("platonus-docx", "docx", ".docx құжатындағы Platonus белгілеуі", "Разметка Platonus в документе .docx"),
        ("xlsx", "xlsx", ".xlsx үлгісі", "шаблон .xlsx"),
        (
            "platonus",
            "utf-8 (BOM)",
            "Мәтіндік файлдағы Platonus белгілеуі (.txt), кодтауы UTF-8",
            "Разметка Platonus в текстовом файле (.txt), кодировка UTF-8",
        ),
        ("aiken", "utf-16-le", "Aiken, кодтауы UTF-16", "Aiken, кодировка UTF-16"),
        ("gift", "kz1048", "GIFT (Moodle), кодтауы KZ-1048", "GIFT (Moodle), кодировка KZ-1048"),
        ("moodle-xml", "utf-8+cp1251", "Moodle XML, кодтауы UTF-8 және CP1251", "Moodle XML, кодировка UTF-8 и CP1251"),
        (None, None, "—", "—"),
    ],
)
def test_format_and_encoding_are_named_in_the_readers_language(fmt, encoding, kk, ru):  # type: ignore[no-untyped-def]
    assert format_description(fmt, encoding, "kk") == kk
    assert format_description(fmt, encoding, "ru") == ru


def test_every_format_has_a_name():
    for fmt in BankFormat:
        for language in ("kk", "ru"):
            assert format_description(fmt, None, language) not in (str(fmt), "—")
