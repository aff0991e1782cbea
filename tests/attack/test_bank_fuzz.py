"""Malformed bank files never crash an importer: every input gets a report.

Hypothesis feeds random bytes and damaged versions of valid files (flipped bytes,
cuts, splices, junk inserted) of every format to ``question_bank.parse.parse_bank``,
both with the format named and detected. The only allowed outcome is a ``ParseReport``;
when it is not accepted it must carry at least one problem saying why.
"""

from __future__ import annotations

import io
import time
import zipfile

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from question_bank.export import export_gift, export_platonus
from question_bank.formats.detect import BankFormat
from question_bank.formats.qti import export_qti
from question_bank.parse import ParseReport, parse_bank
from question_bank.text import _INVISIBLE, forbidden_characters
from tests.factories import make_items
from tests.unit.question_bank.builders import docx_bytes, template_row, xlsx_bytes

ITEMS = make_items(4, options=4)
MOODLE = (
    "<?xml version='1.0' encoding='UTF-8'?><quiz><question type='multichoice'><name><text>q</text></name>"
    "<questiontext format='html'><text>Сұрақ?</text></questiontext><single>true</single>"
    "<answer fraction='100'><text>A</text></answer><answer fraction='0'><text>B</text></answer>"
    "</question></quiz>"
).encode()
AIKEN = "Сұрақ бір?\nA. бір\nB. екі\nC. үш\nANSWER: A\n".encode()

SEEDS: dict[BankFormat, bytes] = {
    BankFormat.PLATONUS: export_platonus(ITEMS).encode(),
    BankFormat.GIFT: export_gift(ITEMS).encode(),
    BankFormat.AIKEN: AIKEN,
    BankFormat.MOODLE_XML: MOODLE,
    BankFormat.PLATONUS_DOCX: docx_bytes(export_platonus(ITEMS).splitlines()),
    BankFormat.XLSX: xlsx_bytes([template_row("Сұрақ?", 1, ["A", "B", "C", "D"])]),
    BankFormat.QTI: export_qti(ITEMS, language="kk"),
}
NAMES = {
    BankFormat.PLATONUS: "bank.txt",
    BankFormat.GIFT: "bank.gift",
    BankFormat.AIKEN: "bank.txt",
    BankFormat.MOODLE_XML: "bank.xml",
    BankFormat.PLATONUS_DOCX: "bank.docx",
    BankFormat.XLSX: "bank.xlsx",
    BankFormat.QTI: "bank.zip",
}


def test_every_seed_is_a_valid_bank_so_the_mutations_start_from_real_files():
    for fmt, data in SEEDS.items():
        report = parse_bank(data, format=fmt.value, language="kk")
        assert report.accepted and report.items, (fmt, report.to_dict())


@st.composite
def damaged(draw, seed: bytes) -> bytes:  # type: ignore[no-untyped-def]
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "splice", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "splice":
            data[at:at] = draw(
                st.sampled_from(
                    [
                        b"\x00",
                        b"\xff\xfe",
                        b"<![CDATA[",
                        b"{=",
                        b"ANSWER: Z",
                        b"&#0;",
                        b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]>",
                        b"PK\x03\x04",
                    ]
                )
            )
        elif kind == "truncate":
            del data[at:]
    return bytes(data)


def damaged_zip_member(seed: bytes, member_bytes: bytes) -> bytes:
    """The same zip (docx/xlsx) with its main XML part replaced: damage inside a valid container."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(seed)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename in ("word/document.xml", "xl/worksheets/sheet1.xml", "items/item-1.xml"):
                content = member_bytes
            dst.writestr(info, content)
    return out.getvalue()


def assert_reported(report: object) -> None:
    assert isinstance(report, ParseReport)
    if not report.accepted:
        assert report.problems, "a refused file must say why"
    report.to_dict()  # the report renders for the API and the CLI


FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("fmt", list(BankFormat), ids=lambda f: f.value)
@FUZZ
@given(data=st.data())
def test_a_damaged_file_of_each_format_gets_a_report_never_an_exception(fmt, data):
    blob = data.draw(damaged(SEEDS[fmt]))
    assert_reported(parse_bank(blob, format=fmt.value, language="kk"))
    assert_reported(parse_bank(blob, filename=NAMES[fmt], language="ru"))


@pytest.mark.parametrize("fmt", [BankFormat.PLATONUS_DOCX, BankFormat.XLSX, BankFormat.QTI], ids=lambda f: f.value)
@FUZZ
@given(data=st.data())
def test_damaged_xml_inside_an_office_file_gets_a_report(fmt, data):
    member = data.draw(
        st.one_of(
            st.binary(max_size=300),
            damaged(b"<w:document><w:body><w:p><w:r><w:t>x</w:t></w:r></w:p></w:body></w:document>"),
        )
    )
    assert_reported(parse_bank(damaged_zip_member(SEEDS[fmt], member), format=fmt.value, language="kk"))


@FUZZ
@given(blob=st.binary(max_size=2000), name=st.sampled_from([None, "x.txt", "x.docx", "x.xlsx", "x.xml", "x.gift"]))
def test_random_bytes_under_any_name_get_a_report(blob, name):
    assert_reported(parse_bank(blob, filename=name, language="kk"))


# Text that mixes the structure of every text format with what hostile files carry: controls,
# NUL, direction marks, invisible characters, look-alikes, long runs of spaces and punctuation.
HOSTILE_PIECES = [
    "<question>",
    "<question2>",
    "<variant>",
    "<variantright>",
    "<topic>",
    "<",
    ">",
    "{",
    "}",
    "=",
    "~",
    "::",
    "$CATEGORY:",
    "ANSWER:",
    "A.",
    "B)",
    "&lt;",
    "\n",
    "\n\n",
    "\r\n",
    "\x0b",
    "\x00",
    "\x07",
    "\x85",
    "\u202e",
    "\u2066",
    "\u200f",
    "\u200b",
    "\u2063",
    "\u034f",
    "\ufe0f",
    "\ufeff",
    "\u00ad",
    "Астана",
    "бiлiм",
    "x",
    " " * 50,
    ". " * 50,
    "\t",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=20)), max_size=200).map("".join)
BOUND_S = 5.0


@FUZZ
@given(
    text=hostile_text,
    name=st.sampled_from(["b.txt", "b.gift", "b.aiken", "b.xml", None]),
    encoding=st.sampled_from(["utf-8", "utf-16"]),
)
def test_hostile_text_gets_a_report_quickly_and_nothing_hidden_is_ever_accepted(text, name, encoding):
    data = text.encode(encoding, "surrogatepass")
    started = time.perf_counter()
    report = parse_bank(data, filename=name, language="kk")
    assert time.perf_counter() - started < BOUND_S
    assert_reported(report)
    for item in report.items:  # what could be stored shows exactly what a person sees
        for value in (item.text, *item.options, item.topic or ""):
            assert not forbidden_characters(value) and not _INVISIBLE.search(value), repr(value)
