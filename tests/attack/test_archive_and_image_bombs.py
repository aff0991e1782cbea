"""Files built to blow up when unpacked or decoded are refused quickly, in bounded memory, in kk and ru.

Office files (zip archives of XML) and webcam pictures are the two things a client sends that a library
inflates: a few kilobytes can claim gigabytes. What a person checks: the refusal comes at once (not after
the parse's CPU limit), it names the part and the bound in their language, and the parser's memory stays
small (measured here with tracemalloc for Python's allocations and the process's peak RSS for the C
libraries'). Before: a DTD's "billion laughs" and a part nested 70,000 levels deep reached python-docx and
openpyxl (one took 1 s and 74 MiB before expat's own limit stopped it) and came back as the libraries'
English message; 100,000 empty parts took seconds of CPU to be counted (twice); a part lying about its size
was "Bad CRC-32" in English; and a JPEG whose frame header hid behind a fill byte was accepted as 64 × 48
while the decoder read 8,000 × 8,000 — the analysis would decode it in full.
"""

from __future__ import annotations

import asyncio
import io
import json
import resource
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable

import cv2
import numpy as np
import pytest

from exam_engine.errors import InvalidInput
from exam_engine.i18n import translate
from exam_engine.services.bank_views import report_view
from exam_engine.services.proctoring import MAX_IMAGE_SIDE, _check_jpeg
from question_bank.parse import parse_bank
from tests.unit.question_bank.hostile import replace_member, seed_docx, seed_xlsx

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
ENTITIES = '<!ENTITY a0 "ha">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
DEEP = 70_000


def _laughs_document() -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE w:document [{ENTITIES}]><w:document xmlns:w="{W}"><w:body>'
        "<w:p><w:r><w:t>&a9;</w:t></w:r></w:p></w:body></w:document>"
    ).encode()


def _external_entity_document() -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>&lt;question&gt;Q &x;</w:t></w:r></w:p>'
        "<w:p><w:r><w:t>&lt;variant&gt;a</w:t></w:r></w:p><w:p><w:r><w:t>&lt;variant&gt;b</w:t></w:r></w:p>"
        "</w:body></w:document>"
    ).encode()


def _laughs_sheet() -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [{ENTITIES}]><worksheet xmlns="{S}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&a9;</t></is></c></row></sheetData></worksheet>'
    ).encode()


def _deep_document() -> bytes:
    return (
        f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body><w:p>'
        + "<w:r>" * DEEP
        + "</w:r>" * DEEP
        + "</w:p></w:body></w:document>"
    ).encode()


def _deep_styles() -> bytes:
    return (f'<?xml version="1.0"?><styleSheet xmlns="{S}">' + "<a>" * DEEP + "</a>" * DEEP + "</styleSheet>").encode()


def _many_parts(count: int = 100_000) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(seed_docx())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for n in range(count):
            dst.writestr(f"x/{n}", b"")
    return out.getvalue()


def _lying_size() -> bytes:
    """word/document.xml declares 2,000 bytes and inflates to 40 MB (its directory entries patched)."""
    name = b"word/document.xml"
    real = (f'<w:document xmlns:w="{W}"><w:body>'.encode() + b"<w:p/>" * 7_000_000) + b"</w:body></w:document>"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(seed_docx())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, real if info.filename == name.decode() else src.read(info))
    data = bytearray(out.getvalue())
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = 0
        while (at := data.find(signature, at)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                data[at + size_at : at + size_at + 4] = struct.pack("<I", 2000)
            at += 4
    return bytes(data)


CASES: dict[str, tuple[Callable[[], bytes], str, str, dict[str, object]]] = {
    "billion laughs in a Word document": (
        lambda: replace_member(seed_docx(), "word/document.xml", lambda fh: fh.write(_laughs_document())),
        "b.docx",
        "archive_dtd",
        {"part": "word/document.xml"},
    ),
    "an external entity naming /etc/passwd": (
        lambda: replace_member(seed_docx(), "word/document.xml", lambda fh: fh.write(_external_entity_document())),
        "b.docx",
        "archive_dtd",
        {"part": "word/document.xml"},
    ),
    "billion laughs in a worksheet": (
        lambda: replace_member(seed_xlsx(), "xl/worksheets/sheet1.xml", lambda fh: fh.write(_laughs_sheet())),
        "b.xlsx",
        "archive_dtd",
        {"part": "xl/worksheets/sheet1.xml"},
    ),
    "a Word document nested 70,000 levels deep": (
        lambda: replace_member(seed_docx(), "word/document.xml", lambda fh: fh.write(_deep_document())),
        "b.docx",
        "archive_xml_depth",
        {"part": "word/document.xml", "limit": 100},
    ),
    "a workbook's styles nested 70,000 levels deep": (
        lambda: replace_member(seed_xlsx(), "xl/styles.xml", lambda fh: fh.write(_deep_styles())),
        "b.xlsx",
        "archive_xml_depth",
        {"part": "xl/styles.xml", "limit": 100},
    ),
    "100,000 empty parts": (_many_parts, "b.docx", "archive_too_many_parts", {"count": 100_017, "limit": 500}),
    "a part that lies about its size": (_lying_size, "b.docx", "archive_damaged", {"part": "word/document.xml"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_office_bomb_is_refused_at_once_in_bounded_memory_naming_the_part_in_kk_and_ru(case):
    build, filename, code, params = CASES[case]
    data = build()
    assert len(data) < 10 * 1024 * 1024  # within the upload's bound: it reaches the parser
    tracemalloc.start()
    started = time.perf_counter()
    try:
        report = parse_bank(data, filename=filename, language="kk")
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(p.code.value, p.params) for p in report.errors] == [(code, params)], report.errors
    assert not report.items
    assert seconds < 1.0, seconds
    assert peak < 24 * 1024 * 1024, peak  # the 100,000 parts: their bytes (9 MB) and a count
    english = report.errors[0].msgid
    for language, word in (("kk", "Word немесе Excel"), ("ru", "Word или Excel")):
        message = report_view(report, language)["errors"][0]["message"]
        assert message != english.format(**params), message
        if code == "archive_too_many_parts":
            assert "100017" in message and "500" in message, message
        else:
            assert word in message and str(params["part"]) in message, message
    if "passwd" in case:
        assert "root:" not in str(report.to_dict())


def _jpeg(width: int, height: int) -> bytes:
    rng = np.random.default_rng(7)
    return cv2.imencode(".jpg", rng.integers(0, 255, (height, width, 3), dtype=np.uint8))[1].tobytes()


def _with_size(data: bytes, width: int, height: int) -> bytes:
    at = data.index(b"\xff\xc0")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def _hidden_frame_header(width: int, height: int) -> bytes:
    """A JPEG whose frame header (``width`` × ``height``) follows a fill byte, and whose padding segment holds
    a 64 × 48 frame header just where a parse that reads the fill byte as a marker lands."""
    good = _jpeg(64, 48)
    at = good.index(b"\xff\xc0")
    (length,) = struct.unpack(">H", good[at + 2 : at + 4])
    real = _with_size(good[at : at + 2 + length], width, height)
    head = good[:at] + b"\xff" + real
    lands = at + 2 + struct.unpack(">H", head[at + 2 : at + 4])[0]
    payload = b"\x00" * (lands - (len(head) + 4)) + good[at : at + 2 + length]
    return head + b"\xff\xef" + struct.pack(">H", len(payload) + 2) + payload + good[at + 2 + length :]


def _refusal(data: bytes) -> tuple[InvalidInput, float, int]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as refused:
        _check_jpeg(data)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return refused.value, time.perf_counter() - started, grown_kib


def test_a_picture_whose_header_claims_60000_by_60000_pixels_is_refused_before_it_is_decoded():
    bomb = _with_size(_jpeg(64, 48), 60_000, 60_000)
    assert len(bomb) < 10_000
    error, seconds, grown_kib = _refusal(bomb)
    assert error.code == "image_invalid" and seconds < 0.05 and grown_kib < 16 * 1024
    assert translate("ru", error.msgid, **error.params) == (
        f"Размер изображения 60000 × 60000 пикселей; принимается не более {MAX_IMAGE_SIDE} × {MAX_IMAGE_SIDE}."
    )
    assert translate("kk", error.msgid, **error.params).startswith("Сурет өлшемі 60000 × 60000 пиксель")


def test_a_frame_header_hidden_from_the_size_check_is_refused_not_stored_for_a_full_decode_later():
    bomb = _hidden_frame_header(8000, 8000)
    # What the decoder makes of it: 8,000 × 8,000 (1,000 × 1,000 at an eighth) — 192 MB in colour.
    reduced = cv2.imdecode(np.frombuffer(bomb, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    assert reduced is not None and reduced.shape == (1000, 1000)
    error, seconds, grown_kib = _refusal(bomb)
    assert error.code == "image_invalid" and seconds < 0.5 and grown_kib < 64 * 1024
    assert "8000 × 8000" in translate("kk", error.msgid, **error.params)
    assert _check_jpeg(_jpeg(64, 48)) == (64, 48)  # an honest picture still passes
    assert _check_jpeg(_jpeg(64, 48)[:2] + b"\xff" + _jpeg(64, 48)[2:]) == (64, 48)  # a fill byte alone is no lie


async def _send_and_read(port: int, head: bytes, body_pieces: list[bytes]) -> tuple[int, dict, float]:
    """Send a request's head and then its body pieces (as long as the server reads them); the answer."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        for piece in body_pieces:
            try:
                writer.write(piece)
                await writer.drain()
            except ConnectionError:
                break  # the server has answered and closed: the rest is never read
        status_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout=10)
        answered = time.perf_counter() - started  # then aiohttp lingers up to 2 s over the unread body
        rest = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body), answered


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_recording_chunk_that_lies_about_its_length_is_refused_at_its_bound_and_nothing_is_stored(services):
    """The server keeps a chunk as bytes (it never parses the WebM inside, so an element claiming 2^56 bytes
    costs nothing); the length that can lie is the request's. A terabyte announced is refused before a byte
    of it is read, a chunked body without a length at the bound — each at once, in the student's language."""
    from sqlalchemy import func, select

    from exam_engine.services.proctoring import runtime_of
    from proctor.tables import evidence_items
    from tests.integration.proctor_world import BASE, proctored_attempt

    world = await proctored_attempt(services)
    try:
        status, seg = await world.student.call(
            "POST",
            f"{BASE}/attempts/{world.attempt_id}/recording",
            json={"started_at": services.clock.now().isoformat(), "media_type": "video/webm"},
        )
        assert status == 200, seg
        limit = runtime_of(services).config.max_chunk_bytes
        jar = world.client.session.cookie_jar.filter_cookies(world.client.make_url("/"))
        cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())
        head = (
            f"POST {BASE}/attempts/{world.attempt_id}/recording/1?seq=1&offset_ms=0&duration_ms=5000 HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF-Token: {world.student.csrf}\r\n"
            "Content-Type: video/webm\r\n"
        )
        webm = b"\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x1f"  # an EBML header claiming 2^56 - 1 bytes
        # A terabyte announced: refused before the body, without waiting for it.
        status, body, seconds = await _send_and_read(
            world.client.port, (head + "Content-Length: 1000000000000\r\n\r\n").encode(), [webm]
        )
        assert (status, body["error"]["code"]) == (413, "upload_too_large") and seconds < 2, (status, body, seconds)
        assert body["error"]["message"].startswith("Жүктелетін файл тым үлкен"), body  # kk
        # No length, chunked: read until the bound, then refused; the rest is never read.
        piece = webm + b"\0" * (64 * 1024 - len(webm))
        chunks = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n"] * (limit // len(piece) + 8)
        status, body, seconds = await _send_and_read(
            world.client.port, (head + "Transfer-Encoding: chunked\r\n\r\n").encode(), chunks
        )
        assert (status, body["error"]["code"]) == (413, "upload_too_large") and seconds < 5, (status, body, seconds)
        async with services.engine.connect() as conn:
            stored = select(func.count()).select_from(evidence_items).where(evidence_items.c.kind == "recording")
            assert (await conn.execute(stored)).scalar_one() == 0
        # The same chunk, honest and within the bound: stored (the EBML element's claim is the player's business).
        status, body = await world.student.call(
            "POST",
            f"{BASE}/attempts/{world.attempt_id}/recording/1?seq=1&offset_ms=0&duration_ms=5000",
            data=piece,
        )
        assert status == 200 and body["items"][0]["stored"] is True, body
    finally:
        await world.close()
