"""No silent loss: one deleted, duplicated or moved line never changes the bank without a word.

Each format gets a generated bank (single-line texts, five options, one topic). One line of
the file (a row of a sheet) is deleted, duplicated or moved; the parse must then either give
the same items (same count, option sets and key texts — option order is free, and a stem
may gain or lose a continuation line, which is text like any other) or
report at least one problem. A different bank with an empty report is the bug the quality
department found in Aiken (a lost ``ANSWER:`` line merged two questions).
"""

import zipfile
from collections import Counter
from io import BytesIO
from xml.sax.saxutils import escape

import docx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from question_bank.export import export_gift, export_platonus
from question_bank.formats.qti import export_qti
from question_bank.formats.xlsx import TEMPLATE_HEADERS
from question_bank.model import Item
from question_bank.parse import parse_bank

WORDS = st.text(alphabet="бвгдеәғқңөұүһіжзклмнпрст", min_size=3, max_size=8)


@st.composite
def banks(draw):
    stems = draw(st.lists(WORDS, min_size=2, max_size=5, unique=True))
    items = []
    for n, stem in enumerate(stems, start=1):
        options = [f"{stem} жауап {k}" for k in range(1, 6)]
        items.append(
            Item(
                text=f"Сұрақ {n} {stem}?",
                options=tuple(options),
                correct=draw(st.integers(0, 4)),
                topic="Тарих",
                difficulty=2,
            )
        )
    return items


def _aiken(items):
    out = []
    for item in items:
        out += [
            item.text,
            *(f"{'ABCDE'[i]}. {o}" for i, o in enumerate(item.options)),
            f"ANSWER: {'ABCDE'[item.correct]}",
            "",
        ]
    return "\n".join(out)


def _moodle(items):
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<quiz>",
        '<question type="category"><category><text>$course$/Тарих</text></category></question>',
    ]
    for item in items:
        out += [
            '<question type="multichoice">',
            f'<questiontext format="plain_text"><text>{escape(item.text)}</text></questiontext>',
            "<single>true</single>",
        ]
        out += [
            f'<answer fraction="{100 if i == item.correct else 0}" format="plain_text"><text>{escape(o)}'
            "</text></answer>"
            for i, o in enumerate(item.options)
        ]
        out.append("</question>")
    out.append("</quiz>")
    return "\n".join(out)


TEXT_FORMATS = {
    "platonus": lambda items: export_platonus(items),
    "gift": export_gift,
    "aiken": _aiken,
    "moodle-xml": _moodle,
}


def _rows(items):
    return [list(TEMPLATE_HEADERS[: 5 + 5])] + [
        [n, item.topic, item.difficulty, item.text, item.correct + 1, *item.options]
        for n, item in enumerate(items, start=1)
    ]


def _xlsx(rows):
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buf = BytesIO()
    book.save(buf)
    return buf.getvalue()


def _essentials(items):
    # A stem may gain or lose a continuation line (text is text); options, key and count may not change.
    return Counter((frozenset(i.options), i.options[i.correct]) for i in items)


def _mutate(lines, kind, at, to):
    lines = list(lines)
    if kind == "delete":
        del lines[at]
    elif kind == "duplicate":
        lines.insert(at, lines[at])
    else:
        line = lines.pop(at)
        lines.insert(min(to, len(lines)), line)
    return lines


MUTATIONS = st.tuples(st.sampled_from(["delete", "duplicate", "move"]), st.integers(0, 10_000), st.integers(0, 10_000))
FAST = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow], database=None)


def _options_only(items):
    return Counter(frozenset(i.options) for i in items)


def _check(original, report, detail, *, key_by_position=False):
    if key_by_position and report.accepted and not report.problems:
        # Platonus: the first <variant> is the key. A variant line moved to the top of its question
        # (or the key moved down) changes the key and nothing in the file can tell; the options
        # stay, and a replace shows the question as changed ("key"). Everything else must hold.
        assert _options_only(report.items) == _options_only(original), detail
        return
    if _essentials(report.items) != _essentials(original) or not report.accepted:
        assert report.problems, f"a different bank and no message: {detail} {report.items} {original}"


@FAST
@given(banks(), st.sampled_from(sorted(TEXT_FORMATS)), MUTATIONS)
def test_one_line_changed_in_a_text_format_is_reported_or_harmless(items, fmt, mutation):
    kind, at, to = mutation
    lines = TEXT_FORMATS[fmt](items).split("\n")
    at = at % len(lines)
    if not lines[at].strip():
        return  # blank lines carry nothing
    mutated = _mutate(lines, kind, at, to % len(lines))
    report = parse_bank("\n".join(mutated).encode(), format=fmt, language="kk")
    _check(
        items,
        report,
        (fmt, kind, at + 1, lines[at], [(p.code, p.line) for p in report.problems]),
        key_by_position=fmt == "platonus" and kind == "move" and lines[at].startswith("<variant"),
    )


@settings(max_examples=80, deadline=3000, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(banks(), MUTATIONS)
def test_one_row_changed_in_a_sheet_is_reported_or_harmless(items, mutation):
    kind, at, to = mutation
    rows = _rows(items)
    at = at % len(rows)
    mutated = _mutate(rows, kind, at, to % len(rows))
    report = parse_bank(_xlsx(mutated), format="xlsx", language="kk")
    if kind == "delete" and at == len(rows) - 1:
        # One row is one whole question: losing the last leaves nothing in the file to notice.
        # It is exactly that question that goes, and a replace lists it as removed (test_bank_replace).
        assert report.accepted and _essentials(report.items) == _essentials(items[:-1])
        return
    _check(items, report, ("xlsx", kind, at + 1, [(p.code, p.line) for p in report.problems]))


@settings(max_examples=40, deadline=3000, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(banks(), MUTATIONS)
def test_one_paragraph_changed_in_a_word_file_is_reported_or_harmless(items, mutation):
    kind, at, to = mutation
    paragraphs = [p for p in export_platonus(items).split("\n") if p.strip()]
    at = at % len(paragraphs)
    mutated = _mutate(paragraphs, kind, at, to % len(paragraphs))
    document = docx.Document()
    for text in mutated:
        document.add_paragraph(text)
    buf = BytesIO()
    document.save(buf)
    report = parse_bank(buf.getvalue(), format="platonus-docx", language="kk")
    _check(
        items,
        report,
        ("platonus-docx", kind, at + 1, paragraphs[at], [(p.code, p.line) for p in report.problems]),
        key_by_position=kind == "move" and paragraphs[at].startswith("<variant"),
    )


def test_the_reported_aiken_case_is_caught_by_the_property_check():
    items = [
        Item(text=f"Сұрақ {n}?", options=tuple(f"жауап {n}.{k}" for k in range(5)), correct=1, topic=None)
        for n in range(1, 7)
    ]
    lines = _aiken(items).split("\n")
    del lines[lines.index("Сұрақ 3?") + 6]
    report = parse_bank("\n".join(lines).encode(), format="aiken", language="kk")
    assert not report.accepted and report.errors[0].line == lines.index("Сұрақ 3?") + 1


def _codes_lines(report):
    return [(p.code, p.line) for p in report.problems]


def test_what_the_property_found_is_reported_at_its_line():
    from question_bank.problems import ProblemCode as C

    gift_category = "::1::Q1? {\n=a\n$CATEGORY: Тарих\n~b\n}\n"
    assert (C.SYNTAX_ERROR, 3) in _codes_lines(parse_bank(gift_category.encode(), format="gift", language="kk"))
    gift_moved = "::1::Q1? {\n=a\n::2::Q2? {\n~b\n}\n\n=d\n~e\n}\n"
    assert (C.SYNTAX_ERROR, 3) in _codes_lines(parse_bank(gift_moved.encode(), format="gift", language="kk"))
    merged = (
        "<question>Q1?\n"
        + "".join(f"<variant>a{k}\n" for k in range(5))
        + "".join(f"<variant>b{k}\n" for k in range(5))
    )  # the second <question> line is lost
    report = parse_bank(merged.encode(), format="platonus", language="kk")
    assert _codes_lines(report) == [(C.MORE_OPTIONS_THAN_EXPECTED, 1)]
    items = [
        Item(text=f"Сұрақ {n}?", options=tuple(f"ж{n}.{k}" for k in range(5)), correct=0, topic="Т", difficulty=1)
        for n in (1, 2, 3)
    ]
    rows = _rows(items)
    report = parse_bank(_xlsx([rows[3], *rows[:3]]), format="xlsx", language="kk")  # row 3 moved above the header
    assert (C.TEXT_OUTSIDE_QUESTION, 1) in _codes_lines(report)
    report = parse_bank(_xlsx([rows[0], rows[1], rows[3]]), format="xlsx", language="kk")  # question 2 lost
    assert _codes_lines(report) == [(C.NUMBERING_BROKEN, 3)]


def _qti_parts(items) -> dict[str, bytes]:
    with zipfile.ZipFile(BytesIO(export_qti(items, language="kk"))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _qti_zip(parts: dict[str, bytes]) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return buf.getvalue()


def _names(problem_, part: str, number: int | None) -> bool:
    return problem_.params.get("file") == part or (number is not None and problem_.question == number)


@settings(max_examples=300, deadline=3000, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(
    banks(),
    st.integers(0, 10_000),
    st.sampled_from(["delete", "duplicate", "move", "delete-file", "copy-file"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
)
def test_one_line_or_file_changed_in_a_qti_package_is_reported_or_harmless(items, target, kind, at, to):
    """QTI 3.0: a line of the manifest or of one item's XML, or a whole item file, deleted/duplicated/moved.

    The import then gives the same items, or a problem that names the changed file (its name, or
    for an item file its question number) — never another bank without a word.
    """
    parts = _qti_parts(items)
    names = ["imsmanifest.xml", *(f"items/item-{n}.xml" for n in range(1, len(items) + 1))]
    part = names[target % len(names)]
    number = None if part == "imsmanifest.xml" else names.index(part)
    if kind in ("delete-file", "copy-file"):
        if number is None:
            return  # a package without its manifest is refused as a whole (test_qti)
        if kind == "delete-file":
            del parts[part]
        else:
            parts[part.replace(".xml", "-copy.xml")] = parts[part]
        detail = (kind, part)
    else:
        lines = parts[part].decode().split("\n")
        at = at % len(lines)
        if not lines[at].strip():
            return
        parts[part] = "\n".join(_mutate(lines, kind, at, to % len(lines))).encode()
        detail = (kind, part, at + 1, lines[at])
    report = parse_bank(_qti_zip(parts), format="qti", language="kk")
    found = [(p.code, p.line, p.question, p.params.get("file")) for p in report.problems]
    if _essentials(report.items) != _essentials(items) or not report.accepted:
        assert report.problems, f"a different bank and no message: {detail} {report.items}"
        if kind != "delete-file" and number is not None:
            assert any(_names(p, part, number) for p in report.problems), (detail, found)
        if kind == "copy-file":
            assert any(_names(p, part.replace(".xml", "-copy.xml"), None) for p in report.problems), (detail, found)
