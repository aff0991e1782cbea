"""Decompression-bomb checks for .docx and .xlsx, before python-docx or openpyxl opens them.

An Office file is a zip archive: the 10 MiB upload cap says nothing about what it unpacks
to (a 36 KB .docx of four million empty paragraphs, a 31 KB .xlsx with a cell in column
XFD of every row). Here the archive is checked from its directory (number of parts,
declared sizes, compression ratio), then every part is really inflated in chunks with a
running count — a part that lies about its size is stopped at the limit, not trusted —
and the parts the importers will read are walked as an XML stream with constant memory:
paragraphs of ``word/document.xml``, row and column numbers of every worksheet. Only a
file that passes is handed to the libraries, whose memory then follows from these bounds.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import IO

from lxml import etree

from question_bank.limits import MiB, ParseLimits
from question_bank.problems import Problem, ProblemCode, problem

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_SHEET = re.compile(r"xl/worksheets/[^/]+\.xml")
_CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d{1,7})")
_CHUNK = 256 * 1024


class _Stop(Exception):
    """A limit was reached while streaming: the problem is recorded, reading stops."""

    def __init__(self, found: Problem) -> None:
        super().__init__(found.code)
        self.problem = found


class _Counted(io.RawIOBase):
    """A zip member as a stream that stops once the whole archive has inflated past the limit."""

    def __init__(self, member: IO[bytes], budget: list[int], limits: ParseLimits) -> None:
        self.member, self.budget, self.limits = member, budget, limits

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.member.read(_CHUNK if size is None or size < 0 else min(size, _CHUNK))
        self.budget[0] -= len(chunk)
        if self.budget[0] < 0:
            raise _Stop(_too_large(self.limits))
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _too_large(limits: ParseLimits) -> Problem:
    return problem(ProblemCode.ARCHIVE_TOO_LARGE, limit=limits.max_expanded_bytes // MiB)


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - 64
    return number


def _events(stream: io.RawIOBase, tags: tuple[str, ...]) -> Iterator[tuple[str, etree._Element]]:
    yield from etree.iterparse(
        stream,
        events=("start", "end"),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )


def _check_document(stream: io.RawIOBase, limits: ParseLimits) -> None:
    paragraphs = 0
    for event, element in etree.iterparse(
        stream, events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    ):
        if event == "start":
            if element.tag == f"{_W}p":
                paragraphs += 1
                if paragraphs > limits.max_paragraphs:
                    raise _Stop(problem(ProblemCode.TOO_MANY_PARAGRAPHS, line=paragraphs, limit=limits.max_paragraphs))
        else:
            _forget(element)


def _forget(element: etree._Element) -> None:
    """Drop what has been walked, so the stream's memory stays constant."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


def _check_sheet(stream: io.RawIOBase, limits: ParseLimits) -> None:
    row = 0
    column = 0
    for event, element in _events(stream, (f"{_S}row", f"{_S}c")):
        if element.tag == f"{_S}row":
            if event == "start":
                number = element.get("r")
                row = int(number) if number and number.isdigit() else row + 1
                column = 0
                if row > limits.max_rows:
                    raise _Stop(problem(ProblemCode.TOO_MANY_ROWS, line=row, limit=limits.max_rows))
            else:
                _forget(element)
            continue
        if event == "start":
            ref = _CELL_REF.fullmatch(element.get("r") or "")
            column = _column_number(ref.group(1)) if ref else column + 1
            continue
        has_value = any((child.text or "").strip() or len(child) for child in element)
        if column > limits.max_columns and has_value:
            letters = ref.group(1).upper() if (ref := _CELL_REF.fullmatch(element.get("r") or "")) else str(column)
            raise _Stop(problem(ProblemCode.TOO_MANY_COLUMNS, line=row, column=letters, limit=limits.max_columns))


def check_archive(data: bytes, limits: ParseLimits, *, main_parts: str) -> list[Problem]:
    """Problems that make the archive unsafe to open; empty when the importer may go ahead.

    ``main_parts`` is ``"docx"`` or ``"xlsx"``: which parts are walked as XML. An archive
    zipfile cannot read at all is left to the importer, which reports it as unreadable.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        return []
    if len(members) > limits.max_members:
        return [problem(ProblemCode.ARCHIVE_TOO_MANY_PARTS, count=len(members), limit=limits.max_members)]
    if sum(m.file_size for m in members) > limits.max_expanded_bytes:
        return [_too_large(limits)]
    for m in members:
        if m.file_size > limits.ratio_floor_bytes and m.file_size > limits.max_ratio * max(1, m.compress_size):
            return [
                problem(
                    ProblemCode.ARCHIVE_RATIO,
                    part=m.filename[:80],
                    ratio=m.file_size // max(1, m.compress_size),
                    limit=limits.max_ratio,
                )
            ]
    budget = [limits.max_expanded_bytes]
    try:
        for m in members:
            with archive.open(m) as member:
                stream = _Counted(member, budget, limits)
                if main_parts == "docx" and m.filename == "word/document.xml":
                    _check_document(stream, limits)
                elif main_parts == "xlsx" and _SHEET.fullmatch(m.filename):
                    _check_sheet(stream, limits)
                while stream.read(_CHUNK):
                    pass
    except _Stop as stop:
        return [stop.problem]
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - damaged XML, bad CRC, unsupported compression: the importer reports it
        return []
    return []
