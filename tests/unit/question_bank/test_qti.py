"""QTI 3.0 content packages: export, structure, import with item-numbered errors, round trip."""

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from question_bank.formats.detect import BankFormat, detect_format
from question_bank.formats.qti import CP_NS, QTI_NS, export_qti
from question_bank.isolated import ParseJob, parse_isolated_sync
from question_bank.limits import ParseLimits
from question_bank.model import Item
from question_bank.parse import parse_bank
from question_bank.problems import ProblemCode

Q = f"{{{QTI_NS}}}"
CP = f"{{{CP_NS}}}"
ITEMS = [
    Item(
        text="Қазақстанның астанасы қай қала?",
        options=("Алматы", "Астана", "Шымкент <қала> & т.б."),
        correct=1,
        topic="География",
        difficulty=2,
        twin_key="#1",
    ),
    Item(
        text="Конституция қашан қабылданды?\nЖылын таңдаңыз.",
        options=("1993", "1995", "1998"),
        correct=1,
        topic="Құқық",
        difficulty=None,
    ),
    Item(text="Үшінші сұрақ?", options=("а", "б"), correct=0, topic=None, difficulty=5),
]


def _essentials(items):
    return [(i.text, i.options, i.correct, i.topic, i.difficulty, i.twin_key) for i in items]


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _repack(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return buf.getvalue()


def test_the_package_has_the_structure_qti_3_prescribes():
    parts = _parts(export_qti(ITEMS, language="kk"))
    manifest = etree.fromstring(parts["imsmanifest.xml"])
    assert manifest.tag == f"{CP}manifest"
    assert manifest.findtext(f"{CP}metadata/{CP}schema") == "QTI Package"
    assert manifest.findtext(f"{CP}metadata/{CP}schemaversion") == "3.0.0"
    resources = manifest.findall(f"{CP}resources/{CP}resource")
    assert [r.get("type") for r in resources] == ["imsqti_item_xmlv3p0"] * 3
    for resource, item in zip(resources, ITEMS, strict=True):
        assert resource.find(f"{CP}file").get("href") == resource.get("href")
        root = etree.fromstring(parts[resource.get("href")])
        assert root.tag == f"{Q}qti-assessment-item" and root.get("identifier") == resource.get("identifier")
        assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "kk"
        assert {"adaptive", "time-dependent", "title"} <= set(root.attrib)
        # Element order of the specification: declarations, item body, response processing.
        assert [etree.QName(c).localname for c in root] == [
            "qti-response-declaration",
            "qti-outcome-declaration",
            "qti-item-body",
            "qti-response-processing",
        ]
        declaration = root.find(f"{Q}qti-response-declaration")
        assert (declaration.get("cardinality"), declaration.get("base-type")) == ("single", "identifier")
        interaction = root.find(f"{Q}qti-item-body/{Q}qti-choice-interaction")
        assert interaction.get("response-identifier") == declaration.get("identifier")
        assert interaction.get("max-choices") == "1"
        choices = interaction.findall(f"{Q}qti-simple-choice")
        assert [c.text for c in choices] == list(item.options)
        assert len({c.get("identifier") for c in choices}) == len(choices)
        key = declaration.findtext(f"{Q}qti-correct-response/{Q}qti-value")
        assert [c.get("identifier") for c in choices].index(key) == item.correct
        assert interaction.findtext(f"{Q}qti-prompt") == item.text


def test_a_package_is_detected_and_reads_back_to_the_same_items_topics_keys_and_language():
    data = export_qti(ITEMS, language="ru")
    assert detect_format(data, "bank.zip") is BankFormat.QTI
    report = parse_bank(data, language="ru")
    assert report.format is BankFormat.QTI and report.accepted, report.problems
    assert _essentials(report.items) == _essentials(ITEMS)
    wrong = parse_bank(data, language="kk")
    assert [p.code for p in wrong.errors] == [ProblemCode.LANGUAGE_MISMATCH]


def test_the_isolated_parser_reads_a_package_within_limits():
    job = ParseJob(filename="bank.zip", format=None, language="kk")
    report = parse_isolated_sync(export_qti(ITEMS, language="kk"), job, ParseLimits())
    assert report.format is BankFormat.QTI and _essentials(report.items) == _essentials(ITEMS)


def test_a_multiple_cardinality_item_is_refused_with_its_number_and_nothing_is_stored():
    parts = _parts(export_qti(ITEMS, language="kk"))
    parts["items/item-2.xml"] = (
        parts["items/item-2.xml"]
        .replace(b'cardinality="single" base-type="identifier"', b'cardinality="multiple" base-type="identifier"')
        .replace(b'max-choices="1"', b'max-choices="0"')
    )
    parts["items/item-3.xml"] = parts["items/item-3.xml"].replace(b"<qti-value>choice-1", b"<qti-value>choice-9")
    report = parse_bank(_repack(parts), language="kk", format="qti")
    assert not report.accepted
    assert [(p.code, p.question) for p in report.errors] == [
        (ProblemCode.UNSUPPORTED_QUESTION_TYPE, 2),
        (ProblemCode.INVALID_KEY, 3),
    ]


def test_entities_and_dtds_are_refused_and_the_zip_limits_hold():
    parts = _parts(export_qti(ITEMS[:1], language="kk"))
    parts["items/item-1.xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><qti-assessment-item>&lol2;'
        b"</qti-assessment-item>"
    )
    report = parse_bank(_repack(parts), language="kk", format="qti")
    [error] = report.errors
    assert error.code is ProblemCode.UNREADABLE_FILE and error.question == 1 and "DTD" in error.params["reason"]
    bomb = _repack({"imsmanifest.xml": b"<manifest/>", "pad.bin": b"\0" * (3 << 20)})
    report = parse_bank(bomb, language="kk", format="qti", limits=ParseLimits(max_expanded_bytes=1 << 20))
    assert [p.code for p in report.errors] == [ProblemCode.ARCHIVE_TOO_LARGE]


def test_a_package_without_manifest_or_with_a_test_resource_is_not_silently_read():
    parts = _parts(export_qti(ITEMS[:1], language="kk"))
    manifest = parts.pop("imsmanifest.xml")
    report = parse_bank(_repack(parts), language="kk", format="qti")
    assert [p.code for p in report.errors] == [ProblemCode.UNREADABLE_FILE]
    parts["imsmanifest.xml"] = manifest.replace(
        b"</resources>", b'<resource identifier="t" type="imsqti_test_xmlv3p0" href="test.xml"/></resources>'
    )
    report = parse_bank(_repack(parts), language="kk", format="qti")
    assert [p.code for p in report.errors] == [ProblemCode.UNSUPPORTED_QUESTION_TYPE]


TEXT = st.text(alphabet="абвгдеәғқңөұүһі жзклмнопрс<>&\"'ABC?.", min_size=1, max_size=30).map(str.strip).filter(bool)


@settings(max_examples=40, deadline=2000, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(
    st.lists(
        st.tuples(
            TEXT,
            st.lists(TEXT, min_size=2, max_size=6, unique=True),
            st.integers(0, 5),
            st.sampled_from([None, "Тарих", "Құқық"]),
            st.sampled_from([None, 1, 3]),
        ),
        min_size=1,
        max_size=5,
        unique_by=lambda t: t[0],
    ),
    st.sampled_from(["kk", "ru"]),
)
def test_any_bank_round_trips_through_qti(rows, language):
    items = [
        Item(text=f"{n}. {t}", options=tuple(o), correct=k % len(o), topic=topic, difficulty=level)
        for n, (t, o, k, topic, level) in enumerate(rows, start=1)
    ]
    first = parse_bank(export_qti(items, language=language), language=language, format="qti")
    if not first.accepted:
        return  # the generated bank itself has a problem (e.g. options equal after cleaning): not QTI's business
    again = parse_bank(export_qti(first.items, language=language), language=language, format="qti")
    assert again.accepted and _essentials(again.items) == _essentials(first.items)


def _lines(parts: dict[str, bytes], name: str) -> list[str]:
    return parts[name].decode().split("\n")


def test_an_item_the_manifest_no_longer_lists_is_named_not_silently_dropped():
    parts = _parts(export_qti(ITEMS, language="kk"))
    manifest = _lines(parts, "imsmanifest.xml")
    parts["imsmanifest.xml"] = "\n".join(line for line in manifest if 'href="items/item-2.xml"' not in line).encode()
    report = parse_bank(_repack(parts), language="kk", format="qti")
    assert len(report.items) == 2
    [warning] = [p for p in report.warnings if p.code is ProblemCode.UNLISTED_FILE]
    assert warning.params["file"] == "items/item-2.xml"
    from exam_engine.services.bank_views import problem_message

    assert problem_message("ru", warning, report.format) == (
        "В пакете есть файл items/item-2.xml, которого нет в imsmanifest.xml; он не прочитан"
    )


def test_choices_pushed_out_of_the_interaction_are_named_at_their_file_and_line():
    parts = _parts(export_qti(ITEMS, language="kk"))
    lines = _lines(parts, "items/item-1.xml")
    close = lines.index("    </qti-choice-interaction>")
    moved = (
        lines[: close - 2] + [lines[close]] + lines[close - 2 : close] + lines[close + 1 :]
    )  # two choices now outside
    parts["items/item-1.xml"] = "\n".join(moved).encode()
    report = parse_bank(_repack(parts), language="kk", format="qti")
    assert not report.accepted
    misplaced = [
        (p.line, p.question, p.params["file"]) for p in report.errors if p.code is ProblemCode.MISPLACED_ELEMENT
    ]
    assert misplaced == [(close, 1, "items/item-1.xml"), (close + 1, 1, "items/item-1.xml")]
    from exam_engine.services.bank_views import problem_message

    first = next(p for p in report.errors if p.code is ProblemCode.MISPLACED_ELEMENT)
    assert problem_message("kk", first, report.format) == (
        f"items/item-1.xml файлы, {close}-жол, 1-сұрақ: <qti-simple-choice> элементі бұл жерде тұрмауы керек; "
        "оның мазмұны оқылмады"
    )


def test_a_broken_line_and_stray_text_are_located_in_their_file():
    parts = _parts(export_qti(ITEMS, language="kk"))
    lines = _lines(parts, "items/item-3.xml")
    at = next(n for n, line in enumerate(lines) if "</qti-correct-response>" in line)
    parts["items/item-3.xml"] = "\n".join(lines[:at] + lines[at + 1 :]).encode()  # a closing tag lost
    lines = _lines(parts, "items/item-2.xml")
    at = next(n for n, line in enumerate(lines) if "xsi:schemaLocation" in line)
    stray = lines[at]
    rest = lines[:at] + lines[at + 1 :]
    into = rest.index("    </qti-choice-interaction>")
    parts["items/item-2.xml"] = "\n".join(rest[:into] + [stray] + rest[into:]).encode()  # an attribute line moved
    report = parse_bank(_repack(parts), language="kk", format="qti")
    found = {(p.code, p.question, p.line, p.params.get("file")) for p in report.errors}
    assert (ProblemCode.SYNTAX_ERROR, 2, into + 1, "items/item-2.xml") in found
    broken = next(p for p in report.errors if p.question == 3)
    assert broken.code is ProblemCode.UNREADABLE_FILE and broken.params["file"] == "items/item-3.xml"
    assert broken.line is not None


def test_a_stem_in_the_item_body_is_part_of_the_question_with_the_prompt():
    parts = _parts(export_qti(ITEMS[2:], language="kk"))
    parts["items/item-1.xml"] = parts["items/item-1.xml"].replace(
        b"<qti-item-body>",
        b"<qti-item-body>\n    <p>\xd0\x9c\xd3\x99\xd1\x82\xd1\x96\xd0\xbd\xd0\xb4\xd1\x96 "
        b"\xd0\xbe\xd2\x9b\xd1\x8b\xd2\xa3\xd1\x8b\xd0\xb7.</p>",
    )
    report = parse_bank(_repack(parts), language="kk", format="qti")
    assert report.accepted and report.items[0].text == "Мәтінді оқыңыз.\nҮшінші сұрақ?"
