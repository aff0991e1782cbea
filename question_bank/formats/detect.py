"""Which importer reads a file: from its content first, the file name breaking ties."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from enum import StrEnum

from question_bank.formats.aiken import import_aiken
from question_bank.formats.draft import ImportResult
from question_bank.formats.gift import import_gift
from question_bank.formats.moodle_xml import import_moodle_xml
from question_bank.formats.platonus import import_platonus_text
from question_bank.formats.qti import import_qti
from question_bank.formats.xlsx import import_xlsx
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.text import decode_bytes


class BankFormat(StrEnum):
    PLATONUS = "platonus"
    PLATONUS_DOCX = "platonus-docx"
    GIFT = "gift"
    AIKEN = "aiken"
    MOODLE_XML = "moodle-xml"
    XLSX = "xlsx"
    QTI = "qti"


def import_platonus_docx(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ImportResult:
    """:func:`question_bank.formats.platonus_docx.import_platonus_docx`; python-docx loads on first use."""
    from question_bank.formats.platonus_docx import import_platonus_docx as run

    return run(data, limits)


IMPORTERS: dict[BankFormat, Callable[[bytes, ParseLimits], ImportResult]] = {
    BankFormat.PLATONUS: import_platonus_text,
    BankFormat.PLATONUS_DOCX: import_platonus_docx,
    BankFormat.GIFT: import_gift,
    BankFormat.AIKEN: import_aiken,
    BankFormat.MOODLE_XML: import_moodle_xml,
    BankFormat.XLSX: import_xlsx,
    BankFormat.QTI: import_qti,
}

ALIASES: dict[str, BankFormat] = {
    **{f.value: f for f in BankFormat},
    "txt": BankFormat.PLATONUS,
    "docx": BankFormat.PLATONUS_DOCX,
    "platonus_docx": BankFormat.PLATONUS_DOCX,
    "moodle": BankFormat.MOODLE_XML,
    "moodle_xml": BankFormat.MOODLE_XML,
    "xml": BankFormat.MOODLE_XML,
    "qti3": BankFormat.QTI,
    "qti-3": BankFormat.QTI,
}

_EXTENSIONS: dict[str, BankFormat] = {
    ".txt": BankFormat.PLATONUS,
    ".docx": BankFormat.PLATONUS_DOCX,
    ".gift": BankFormat.GIFT,
    ".xml": BankFormat.MOODLE_XML,
    ".xlsx": BankFormat.XLSX,
    ".aiken": BankFormat.AIKEN,
}

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Every pattern here runs on untrusted text, so each is linear: a literal first character, and
# no two adjacent quantifiers that can match the same characters (the old ``\s*\d*\s*>`` took
# seconds on one "<question" followed by 20,000 spaces; ``^\s*`` with MULTILINE re-scanned every
# run of blank lines from each of its lines).
_PLATONUS = re.compile(r"<\s*+(?:question\s*+\d*+|variant\s*+(?:right)?)\s*+>", re.I)
_MOODLE = re.compile(r"<\s*+quiz[\s>]", re.I)
_GIFT_LINE = re.compile(r"^[ \t]*+(?:\$CATEGORY:|::[^\n]*?::)", re.M)
_GIFT_OPEN = re.compile(r"\{\s*+[=~]")
_GIFT_BLOCK = re.compile(r"\{([^{}]*+)\}")
_GIFT_MARK = re.compile(r"(?:^|\s)[=~]", re.M)
_AIKEN = re.compile(r"^[ \t]*+ANSWER[ \t]*+:[ \t]*+\S", re.M | re.I)


class _Gift:
    """GIFT's signs: a category or ``::name::`` line, or an answer block with ``=``/``~``."""

    @staticmethod
    def search(text: str) -> bool:
        if _GIFT_LINE.search(text) or _GIFT_OPEN.search(text):
            return True
        return any(_GIFT_MARK.search(block.group(1)) for block in _GIFT_BLOCK.finditer(text))


def _zip_kind(data: bytes) -> BankFormat | None:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except zipfile.BadZipFile:
        return None
    if "word/document.xml" in names:
        return BankFormat.PLATONUS_DOCX
    if "xl/workbook.xml" in names:
        return BankFormat.XLSX
    if "imsmanifest.xml" in names:
        return BankFormat.QTI
    return None


def _hint(filename: str | None) -> BankFormat | None:
    if not filename:
        return None
    lower = filename.lower()
    return next((f for ext, f in _EXTENSIONS.items() if lower.endswith(ext)), None)


def detect_format(data: bytes, filename: str | None = None) -> BankFormat | None:
    """Guess the format; ``None`` when neither content nor name tells."""
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    text = decode_bytes(data[:200_000]).text
    candidates = [
        fmt
        for fmt, pattern in (
            (BankFormat.MOODLE_XML, _MOODLE),
            (BankFormat.PLATONUS, _PLATONUS),
            (BankFormat.GIFT, _Gift),
            (BankFormat.AIKEN, _AIKEN),
        )
        if pattern.search(text)
    ]
    hint = _hint(filename)
    if hint in candidates or (
        not candidates and hint in (BankFormat.PLATONUS, BankFormat.GIFT, BankFormat.MOODLE_XML, BankFormat.AIKEN)
    ):
        return hint
    return candidates[0] if candidates else None


def resolve_format(name: str, data: bytes) -> BankFormat | None:
    """An explicit format name (any alias); Platonus in a Word file is still Platonus."""
    fmt = ALIASES.get(name.strip().lower())
    if fmt is BankFormat.PLATONUS and data.startswith(b"PK\x03\x04"):
        return BankFormat.PLATONUS_DOCX
    return fmt
