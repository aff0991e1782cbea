"""Hostile bank files built in the tests: catastrophic-regex texts and decompression bombs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import IO

from tests.unit.question_bank.builders import docx_bytes, template_row, xlsx_bytes

# Each took seconds to minutes through the old regular expressions (docs/banks.md has the figures).
CATASTROPHIC: dict[str, tuple[str, bytes]] = {
    # one line of ". " * 30,000 + "x": the trailing-punctuation pattern retried the run from every position
    "dots": ("bank.txt", ("<question>Сұрақ " + ". " * 30000 + "x\n<variant>а\n<variant>б\n").encode()),
    # "<question" + 20,000 spaces: \s*(\d*)\s*> tried every split of the run
    "tag_spaces": ("bank.txt", ("<question>Q\n<variant>a\n<variant>b\n<question" + " " * 20000 + "x\n").encode()),
    # ANSWER: a + 20,000 spaces + b: (.*?)\s*$ retried the spaces from every position
    "answer_spaces": ("bank.aiken", ("Q?\nA. a\nB. b\nANSWER: a" + " " * 20000 + "b\n").encode()),
    # "&lt;" * 20,000 in Moodle HTML: <[^>]*> scanned to the end from every "<"
    "moodle_lt": (
        "bank.xml",
        (
            "<?xml version='1.0'?><quiz><question type='multichoice'><questiontext format='html'>"
            "<text>" + "&lt;" * 20000 + "</text></questiontext><answer fraction='100'><text>a</text>"
            "</answer><answer fraction='0'><text>b</text></answer></question></quiz>"
        ).encode(),
    ),
    # 100,000 blank lines: ^\s* with MULTILINE re-scanned the run from each of its lines
    "blank_lines": ("bank.gift", ("\n" * 100000 + "::q:: a {=b ~c}\n").encode()),
    # 50,000 options: the line of each was counted from the start of the block (quadratic)
    "gift_options": ("bank.gift", ("::q:: Q {" + "~a\n" * 50000 + "=b}\n").encode()),
}

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def replace_member(seed: bytes, name: str, write: Callable[[IO[bytes]], None], *, add: int = 0) -> bytes:
    """The same zip with member ``name`` streamed by ``write`` (deflated), and ``add`` empty extra parts."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(seed)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == name:
                member = zipfile.ZipInfo(name)
                member.compress_type = zipfile.ZIP_DEFLATED
                with dst.open(member, "w", force_zip64=True) as fh:
                    write(fh)
            else:
                dst.writestr(info, src.read(info))
        for n in range(add):
            dst.writestr(f"extra/part{n}.xml", b"<a/>")
    return out.getvalue()


def seed_docx() -> bytes:
    return docx_bytes(["<question>Сұрақ?", "<variant>а", "<variant>б"])


def seed_xlsx() -> bytes:
    return xlsx_bytes([template_row("Сұрақ?", 1, ["а", "б"])])


def empty_paragraphs_docx(count: int = 4_000_000) -> bytes:
    """The reported 36 KB .docx of four million empty paragraphs (here ~70 KB, deflated)."""

    def write(fh: IO[bytes]) -> None:
        fh.write(f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W_NS}"><w:body>'.encode())
        chunk = b"<w:p/>" * 100_000
        for _ in range(count // 100_000):
            fh.write(chunk)
        fh.write(b"</w:body></w:document>")

    return replace_member(seed_docx(), "word/document.xml", write)


def sheet_xml(rows: bytes) -> Callable[[IO[bytes]], None]:
    def write(fh: IO[bytes]) -> None:
        fh.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{S_NS}"><sheetData>'.encode())
        fh.write(rows)
        fh.write(b"</sheetData></worksheet>")

    return write


def header_row() -> bytes:
    cells = "".join(
        f'<c r="{col}1" t="inlineStr"><is><t>{text}</t></is></c>'
        for col, text in zip("ABCD", ("Question", "Key", "Option 1", "Option 2"), strict=True)
    )
    return f'<row r="1">{cells}</row>'.encode()


def xfd_xlsx(rows: int = 20_000) -> bytes:
    """The reported .xlsx with one cell in column XFD per row."""
    body = b"".join(
        b'<row r="%d"><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c></row>' % (r, r) for r in range(1, rows + 1)
    )
    return replace_member(seed_xlsx(), "xl/worksheets/sheet1.xml", sheet_xml(body))


def far_row_xlsx(row: int = 1_048_576) -> bytes:
    """A header and one question at the last row Excel has: openpyxl would pad every row between."""
    far = f'<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>Q?</t></is></c><c r="B{row}"><v>1</v></c></row>'
    return replace_member(seed_xlsx(), "xl/worksheets/sheet1.xml", sheet_xml(header_row() + far.encode()))


def cells_xlsx(rows: list[list[str]]) -> bytes:
    """A sheet written as raw XML, so cells may hold what openpyxl refuses to write (``_x0000_``)."""
    body = header_row()
    for r, values in enumerate(rows, start=2):
        cells = "".join(
            f'<c r="{col}{r}" t="inlineStr"><is><t>{text}</t></is></c>'
            for col, text in zip("ABCD", values, strict=True)
        )
        body += f'<row r="{r}">{cells}</row>'.encode()
    return replace_member(seed_xlsx(), "xl/worksheets/sheet1.xml", sheet_xml(body))


def zeros_docx(megabytes: int) -> bytes:
    """A .docx with a part of ``megabytes`` MiB of zeros (about a thousandth of that on disk)."""

    def write(fh: IO[bytes]) -> None:
        block = b"\0" * (1024 * 1024)
        for _ in range(megabytes):
            fh.write(block)

    seed = seed_docx()
    out = io.BytesIO(seed)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as z:
        member = zipfile.ZipInfo("word/media/zeros.bin")
        member.compress_type = zipfile.ZIP_DEFLATED
        with z.open(member, "w", force_zip64=True) as fh:
            write(fh)
    return out.getvalue()
