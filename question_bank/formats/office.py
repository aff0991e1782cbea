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
from collections.abc import Callable
from typing import IO

from lxml import etree

from question_bank.limits import MiB, ParseLimits
from question_bank.problems import Problem, ProblemCode, problem

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_SHEET = re.compile(r"xl/worksheets/[^/]+\.xml")
_CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d{1,7})")
_CHUNK = 256 * 1024
_DOCTYPE = tuple("<!DOCTYPE".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))
_DOCTYPE_TAIL = 2 * len("<!DOCTYPE")


class _Stop(Exception):
    """A limit was reached while streaming: the problem is recorded, reading stops."""

    def __init__(self, found: Problem) -> None:
        super().__init__(found.code)
        self.problem = found


class _Counted(io.RawIOBase):
    """A zip member as a stream that stops once the whole archive has inflated past the limit."""

    def __init__(self, member: IO[bytes], budget: list[int], limits: ParseLimits) -> None:
        self.member, self.budget, self.limits = member, budget, limits
        self.doctype = False  # "<!DOCTYPE" passed by (libxml2 may fail on its entities before any event)
        self._tail = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.member.read(_CHUNK if size is None or size < 0 else min(size, _CHUNK))
        self.budget[0] -= len(chunk)
        if self.budget[0] < 0:
            raise _Stop(_too_large(self.limits))
        if not self.doctype and chunk:
            seen = self._tail + chunk
            self.doctype = any(mark in seen for mark in _DOCTYPE)
            self._tail = seen[-_DOCTYPE_TAIL:]
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


def _walk(
    stream: io.RawIOBase,
    part: str,
    limits: ParseLimits,
    *,
    on_start: Callable[[etree._Element], None] | None = None,
    on_end: Callable[[etree._Element], bool] | None = None,
) -> None:
    """Walk one XML part as a stream: refused if it declares a document type (a DTD is where entity bombs
    and external entities live; Word and Excel never write one) or nests deeper than ``max_xml_depth``
    (libxml2 stops at 256 with an English message; python-docx and openpyxl build the whole tree). Every
    element is forgotten at its end (``on_end`` returning False keeps it for its parent's check)."""
    depth = 0
    for event, element in etree.iterparse(
        stream, events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    ):
        if event == "start":
            if depth == 0 and element.getroottree().docinfo.doctype:
                raise _Stop(problem(ProblemCode.ARCHIVE_DTD, part=part[:80]))
            depth += 1
            if depth > limits.max_xml_depth:
                raise _Stop(problem(ProblemCode.ARCHIVE_XML_DEPTH, part=part[:80], limit=limits.max_xml_depth))
            if on_start is not None:
                on_start(element)
        else:
            depth -= 1
            if on_end is None or on_end(element):
                _forget(element)


def _check_document(stream: io.RawIOBase, part: str, limits: ParseLimits) -> None:
    paragraphs = 0

    def start(element: etree._Element) -> None:
        nonlocal paragraphs
        if element.tag == f"{_W}p":
            paragraphs += 1
            if paragraphs > limits.max_paragraphs:
                raise _Stop(problem(ProblemCode.TOO_MANY_PARAGRAPHS, line=paragraphs, limit=limits.max_paragraphs))

    _walk(stream, part, limits, on_start=start)


def _forget(element: etree._Element) -> None:
    """Drop what has been walked, so the stream's memory stays constant."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


def _check_sheet(stream: io.RawIOBase, part: str, limits: ParseLimits) -> None:
    row = 0
    column = 0

    def start(element: etree._Element) -> None:
        nonlocal row, column
        if element.tag == f"{_S}row":
            number = element.get("r")
            row = int(number) if number and number.isdecimal() else row + 1
            column = 0
            if row > limits.max_rows:
                raise _Stop(problem(ProblemCode.TOO_MANY_ROWS, line=row, limit=limits.max_rows))
        elif element.tag == f"{_S}c":
            ref = _CELL_REF.fullmatch(element.get("r") or "")
            column = _column_number(ref.group(1)) if ref else column + 1

    def end(element: etree._Element) -> bool:
        if element.tag == f"{_S}c":
            has_value = any((child.text or "").strip() or len(child) for child in element)
            if column > limits.max_columns and has_value:
                ref = _CELL_REF.fullmatch(element.get("r") or "")
                letters = ref.group(1).upper() if ref else str(column)
                raise _Stop(problem(ProblemCode.TOO_MANY_COLUMNS, line=row, column=letters, limit=limits.max_columns))
            return False  # forgotten with its row
        return element.tag == f"{_S}row" or element.getparent() is None or element.getparent().tag != f"{_S}c"

    _walk(stream, part, limits, on_start=start, on_end=end)


def _xml_part(name: str) -> bool:
    return name.endswith((".xml", ".rels"))


def too_many_parts(data: bytes, limits: ParseLimits) -> list[Problem]:
    """An archive with more parts than ``max_members``, told before ``zipfile`` reads its directory.

    ``zipfile`` builds an object for every entry of the directory — 100,000 empty parts in a 9 MB upload
    took seconds of CPU, twice (the format's detection, then :func:`check_archive`). Every entry it reads
    begins with the directory signature, so the signatures in the file are at least its entries: counted
    in C, in milliseconds."""
    count = data.count(b"PK\x01\x02")
    if count > limits.max_members:
        return [problem(ProblemCode.ARCHIVE_TOO_MANY_PARTS, count=count, limit=limits.max_members)]
    return []


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
                try:
                    if main_parts == "docx" and m.filename == "word/document.xml":
                        _check_document(stream, m.filename, limits)
                    elif main_parts == "xlsx" and _SHEET.fullmatch(m.filename):
                        _check_sheet(stream, m.filename, limits)
                    elif main_parts != "qti" and _xml_part(m.filename):  # a QTI item's own reader refuses DTDs
                        _walk(stream, m.filename, limits)  # styles, shared strings, relations: no DTD, no depth
                except etree.XMLSyntaxError as exc:
                    # libxml2 reads ahead, so its own bounds may strike before the walk sees an element: an
                    # entity expanded too much (a "billion laughs" DTD), elements deeper than 256.
                    if stream.doctype:
                        raise _Stop(problem(ProblemCode.ARCHIVE_DTD, part=m.filename[:80])) from None
                    if "depth" in str(exc).lower():
                        raise _Stop(
                            problem(ProblemCode.ARCHIVE_XML_DEPTH, part=m.filename[:80], limit=limits.max_xml_depth)
                        ) from None
                    # any other damage: the importer reports it; the rest of the part is still counted
                while stream.read(_CHUNK):
                    pass
    except _Stop as stop:
        return [stop.problem]
    except MemoryError:
        raise
    except zipfile.BadZipFile:
        # A part whose bytes do not match its directory entry (its checksum, or a size it lies about: zipfile
        # stops at the declared size): the libraries' own message would be English ("Bad CRC-32 for file …").
        return [problem(ProblemCode.ARCHIVE_DAMAGED, part=m.filename[:80])]
    except Exception:  # noqa: BLE001 - unsupported compression and the like: the importer reports it
        return []
    return []
