"""IMS QTI 3.0 content packages: single-answer choice items, exported and imported.

A package is a zip with ``imsmanifest.xml`` (QTI 3.0 content packaging) and one
``qti-assessment-item`` per question: a ``qti-response-declaration`` with single cardinality
and its ``qti-correct-response``, and a ``qti-choice-interaction`` (``max-choices="1"``) whose
``qti-prompt`` is the question and whose ``qti-simple-choice`` elements are the options. The
bank's language travels as ``xml:lang`` on every item; topic, difficulty and twin key in the
manifest's LOM metadata of each resource (keyword; difficulty and identifier under the source
``exam-engine``).

Import reads the manifest's item resources in order; each item's problems carry its number.
Multiple-cardinality items are refused, as several-answer Moodle XML questions are. XML is
parsed as the Moodle XML importer parses it: DTDs and entities refused, no network, no huge
trees. Zip limits are checked before (``office.check_archive``), in the isolated child.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from question_bank.formats.draft import DraftOption, DraftQuestion, ImportResult
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.model import Item
from question_bank.problems import ProblemCode, problem

QTI_NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
CP_NS = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
LOM_NS = "http://ltsc.ieee.org/xsd/LOM"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ITEM_TYPE = "imsqti_item_xmlv3p0"
ITEM_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
CP_XSD = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqtiv3p0_imscpv1p2_v1p0.xsd"
MATCH_CORRECT = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"
SOURCE = "exam-engine"
_Q = f"{{{QTI_NS}}}"
_CP = f"{{{CP_NS}}}"
_MD = f"{{{LOM_NS}}}"
_RICH = {"img", "math", "svg", "object", "picture", "video", "audio"}


def _item_xml(number: int, item: Item, language: str) -> str:
    choices = "\n".join(
        f'      <qti-simple-choice identifier="choice-{i}">{escape(text)}</qti-simple-choice>'
        for i, text in enumerate(item.options, start=1)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="{QTI_NS} {ITEM_XSD}"
    identifier="item-{number}" title={quoteattr(f"{number}")} adaptive="false" time-dependent="false" xml:lang="{language}">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response>
      <qti-value>choice-{item.correct + 1}</qti-value>
    </qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <qti-choice-interaction response-identifier="RESPONSE" shuffle="true" max-choices="1" min-choices="1">
      <qti-prompt>{escape(item.text)}</qti-prompt>
{choices}
    </qti-choice-interaction>
  </qti-item-body>
  <qti-response-processing template="{MATCH_CORRECT}"/>
</qti-assessment-item>
"""


def _resource_metadata(item: Item, language: str) -> str:
    parts: list[str] = []
    if item.twin_key:
        parts.append(
            f"<imsmd:identifier><imsmd:catalog>{SOURCE}-twin</imsmd:catalog>"
            f"<imsmd:entry>{escape(item.twin_key)}</imsmd:entry></imsmd:identifier>"
        )
    if item.topic:
        parts.append(
            f'<imsmd:keyword><imsmd:string language="{language}">{escape(item.topic)}</imsmd:string></imsmd:keyword>'
        )
    general = f"<imsmd:general>{''.join(parts)}</imsmd:general>" if parts else ""
    educational = (
        ""
        if item.difficulty is None
        else f"<imsmd:educational><imsmd:difficulty><imsmd:source>{SOURCE}</imsmd:source>"
        f"<imsmd:value>{item.difficulty}</imsmd:value></imsmd:difficulty></imsmd:educational>"
    )
    if not (general or educational):
        return ""
    return f"<metadata><imsmd:lom>{general}{educational}</imsmd:lom></metadata>"


def export_qti(items: Sequence[Item], *, language: str, identifier: str = "bank") -> bytes:
    """A QTI 3.0 content package (zip bytes) of ``items`` in ``language`` (kk/ru, as ``xml:lang``)."""
    resources = []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, item in enumerate(items, start=1):
            href = f"items/item-{number}.xml"
            archive.writestr(href, _item_xml(number, item, language))
            resources.append(
                f'    <resource identifier="item-{number}" type="{ITEM_TYPE}" href="{href}">'
                f'{_resource_metadata(item, language)}<file href="{href}"/></resource>'
            )
        manifest = f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="{CP_NS}" xmlns:imsmd="{LOM_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="{CP_NS} {CP_XSD}" identifier={quoteattr(identifier)}>
  <metadata>
    <schema>QTI Package</schema>
    <schemaversion>3.0.0</schemaversion>
  </metadata>
  <organizations/>
  <resources>
{chr(10).join(resources)}
  </resources>
</manifest>
"""
        archive.writestr("imsmanifest.xml", manifest)
    return buf.getvalue()


class _Unreadable(Exception):
    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.line = line


def _parse_xml(raw: bytes) -> etree._Element:
    head = raw[:4096].upper()
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in head:
        raise _Unreadable("DTDs are not accepted")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise _Unreadable(str(exc.msg)[:160], exc.lineno) from None


def _plain(element: etree._Element | None) -> tuple[str, bool]:
    """Text of an element (block children on their own lines) and whether it held a picture or formula."""
    if element is None:
        return "", False
    rich = any(etree.QName(e).localname in _RICH for e in element.iter() if isinstance(e.tag, str))
    text = "".join(element.itertext())
    return re.sub(r"[ \t]*\n[ \t\n]*", "\n", text).strip(), rich


def _lom(resource: etree._Element) -> tuple[str | None, int | None, str | None, bool]:
    topic = resource.findtext(f"{_CP}metadata/{_MD}lom/{_MD}general/{_MD}keyword/{_MD}string")
    twin = None
    for ident in resource.iterfind(f"{_CP}metadata/{_MD}lom/{_MD}general/{_MD}identifier"):
        if (ident.findtext(f"{_MD}catalog") or "") == f"{SOURCE}-twin":
            twin = (ident.findtext(f"{_MD}entry") or "").strip() or None
    level = (resource.findtext(f"{_CP}metadata/{_MD}lom/{_MD}educational/{_MD}difficulty/{_MD}value") or "").strip()
    bad_level = bool(level) and not (level.isdecimal() and int(level) >= 1)
    return (topic.strip() if topic else None), (int(level) if level and not bad_level else None), twin, bad_level


# Elements whose own text (or the text between their children) is no content of ours: text found
# there came from somewhere else (a moved or broken line) and is reported, not dropped.
_STRUCTURE = {
    "qti-assessment-item",
    "qti-response-declaration",
    "qti-correct-response",
    "qti-outcome-declaration",
    "qti-choice-interaction",
    "qti-response-processing",
}
# Where the parts of a single-choice item may stand; anywhere else their content would go unread.
_PLACES = {
    "qti-simple-choice": {"qti-choice-interaction"},
    "qti-value": {"qti-correct-response", "qti-default-value"},
    "qti-prompt": {"qti-choice-interaction"},
    "qti-correct-response": {"qti-response-declaration"},
}


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def _text_line(parent: etree._Element, child: etree._Element | None, text: str) -> int | None:
    """The line where stray ``text`` stands: inside ``parent`` before its first child, or after ``child``."""
    lead = len(text) - len(text.lstrip())
    if child is None:
        return None if parent.sourceline is None else parent.sourceline + text[:lead].count("\n")
    following = child.getnext()
    if following is not None and following.sourceline is not None:
        return int(following.sourceline) - text[len(text.rstrip()) :].count("\n")
    return None if child.sourceline is None else child.sourceline + text[:lead].count("\n")


def _unaccounted(root: etree._Element, interaction: etree._Element, q: DraftQuestion, out: ImportResult) -> None:
    """Every element and piece of text of the item is read, or named with its line."""
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag.split("}")[0] != "{" + QTI_NS:
            continue
        name, parent = _local(element), element.getparent()
        misplaced = name in _PLACES and (parent is None or _local(parent) not in _PLACES[name])
        if name == "qti-prompt" and not misplaced:
            misplaced = parent is not interaction or interaction.find(f"{_Q}qti-prompt") is not element
        if name == "qti-value" and not misplaced and _local(parent) == "qti-correct-response":
            misplaced = parent.find(f"{_Q}qti-value") is not element  # single cardinality: one value
        if misplaced:
            out.problems.append(
                problem(ProblemCode.MISPLACED_ELEMENT, line=element.sourceline, question=q.number, tag=name[:40])
            )
        if name not in _STRUCTURE:
            continue
        pieces = [(element.text, None)] + [(child.tail, child) for child in element]
        for text, child in pieces:
            if text and text.strip():
                out.problems.append(
                    problem(
                        ProblemCode.SYNTAX_ERROR,
                        line=_text_line(element, child, text),
                        question=q.number,
                        detail=text.strip()[:60],
                    )
                )


def _stem(interaction: etree._Element) -> tuple[str, bool, int | None]:
    """The question: what the item body says before the interaction, its prompt, what the body says after.

    An item may state its stem in the body (a paragraph, a stimulus) and ask in the prompt; none
    of it is dropped. Also its first line, for the problems of the question.
    """
    prompt = interaction.find(f"{_Q}qti-prompt")
    text, rich = _plain(prompt)
    line = None if prompt is None or not text else prompt.sourceline
    container = interaction.getparent()
    if container is None:
        return text, rich, line
    before: list[str] = [container.text or ""]
    after: list[str] = []
    current = before
    for child in container:
        if child is interaction:
            current = after
        elif isinstance(child.tag, str):
            child_text, child_rich = _plain(child)
            rich = rich or child_rich
            current.append(f"\n{child_text}\n")
            if line is None and child_text:
                line = child.sourceline
        current.append(child.tail or "")
    around = [re.sub(r"[ \t]*\n[ \t\n]*", "\n", "".join(parts)).strip() for parts in (before, after)]
    return "\n".join(t for t in (around[0], text, around[1]) if t), rich, line


def _item(root: etree._Element, q: DraftQuestion, out: ImportResult) -> None:
    if root.tag != f"{_Q}qti-assessment-item":
        q.checkable = False
        out.problems.append(
            problem(ProblemCode.UNSUPPORTED_QUESTION_TYPE, question=q.number, kind=etree.QName(root).localname[:60])
        )
        return
    language = root.get(XML_LANG)
    if language:
        out.languages.add(language.split("-")[0].lower())
    interactions = [e for e in root.iter() if isinstance(e.tag, str) and e.tag.endswith("-interaction")]
    declarations = {d.get("identifier"): d for d in root.iterfind(f"{_Q}qti-response-declaration")}
    if len(interactions) != 1 or interactions[0].tag != f"{_Q}qti-choice-interaction":
        q.checkable = False
        kind = ", ".join(etree.QName(e).localname for e in interactions) or "—"
        out.problems.append(problem(ProblemCode.UNSUPPORTED_QUESTION_TYPE, question=q.number, kind=kind[:60]))
        return
    interaction = interactions[0]
    declaration = declarations.get(interaction.get("response-identifier"))
    if declaration is None:
        q.checkable = False
        out.problems.append(
            problem(
                ProblemCode.SYNTAX_ERROR,
                line=interaction.sourceline,
                question=q.number,
                detail=f'response-identifier="{interaction.get("response-identifier")}"'[:60],
            )
        )
        return
    if declaration.get("cardinality") != "single" or interaction.get("max-choices", "1") != "1":
        q.checkable = False
        out.problems.append(
            problem(ProblemCode.UNSUPPORTED_QUESTION_TYPE, question=q.number, kind="choice (several answers)")
        )
        return
    _unaccounted(root, interaction, q, out)
    q.text, rich, q.line = _stem(interaction)
    q.line = q.line or interaction.sourceline
    identifiers: list[str | None] = []
    for choice in interaction.iterfind(f"{_Q}qti-simple-choice"):
        text, choice_rich = _plain(choice)
        rich = rich or choice_rich
        identifiers.append(choice.get("identifier"))
        q.options.append(DraftOption(text=text, correct=False, line=choice.sourceline))
    if rich:
        out.problems.append(problem(ProblemCode.UNSUPPORTED_CONTENT, line=q.line, question=q.number))
    values = [v for v in declaration.iterfind(f"{_Q}qti-correct-response/{_Q}qti-value")]
    for value in values[:1]:
        key = (value.text or "").strip()
        if key in identifiers:
            q.options[identifiers.index(key)].correct = True
        else:
            q.checkable = False
            out.problems.append(
                problem(ProblemCode.INVALID_KEY, line=value.sourceline, question=q.number, key=key[:60])
            )


def import_qti(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ImportResult:
    """Read the package's item resources in manifest order; every problem names its part and line.

    Nothing in the package goes unread without a word: an XML part the manifest does not list,
    a test or section resource, an element out of its place are all reported.
    """
    out = ImportResult(encoding="utf-8")
    manifest_name = "imsmanifest.xml"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        if manifest_name not in names:
            raise _Unreadable(f"{manifest_name} is missing")
        try:
            manifest = _parse_xml(archive.read(manifest_name))
        except _Unreadable as exc:
            out.problems.append(
                problem(
                    ProblemCode.UNREADABLE_FILE, line=exc.line, format="QTI 3.0", reason=str(exc), file=manifest_name
                )
            )
            return out
        resources = [r for r in manifest.iter(f"{_CP}resource") if r.get("type", "").startswith("imsqti_item_xml")]
        others = [
            r for r in manifest.iter(f"{_CP}resource") if r not in resources and r.get("type", "").startswith("imsqti_")
        ]
        for number, resource in enumerate(resources, start=1):
            topic, level, twin, bad_level = _lom(resource)
            href = resource.get("href") or ""
            q = DraftQuestion(number=number, line=None, topic=topic, difficulty=level, twin_key=twin)
            out.questions.append(q)
            out.parts[number] = href[:80]
            if bad_level:
                out.problems.append(
                    problem(
                        ProblemCode.INVALID_DIFFICULTY,
                        line=resource.sourceline,
                        question=number,
                        file=manifest_name,
                        value=str(
                            resource.findtext(f"{_CP}metadata/{_MD}lom/{_MD}educational/{_MD}difficulty/{_MD}value")
                        )[:20],
                    )
                )
            if href not in names:
                q.checkable = False
                out.problems.append(
                    problem(
                        ProblemCode.UNREADABLE_FILE,
                        line=resource.sourceline,
                        question=number,
                        format="QTI 3.0",
                        reason=f"{href[:80]} is missing",
                        file=manifest_name,
                    )
                )
                continue
            try:
                _item(_parse_xml(archive.read(href)), q, out)
            except _Unreadable as exc:
                q.checkable = False
                out.problems.append(
                    problem(
                        ProblemCode.UNREADABLE_FILE, line=exc.line, question=number, format="QTI 3.0", reason=str(exc)
                    )
                )
        for resource in others:  # tests, sections, stimuli: named, not silently skipped
            out.problems.append(
                problem(
                    ProblemCode.UNSUPPORTED_QUESTION_TYPE,
                    line=resource.sourceline,
                    file=manifest_name,
                    kind=f"{resource.get('type', '')[:40]} ({resource.get('href', '')[:40]})",
                )
            )
        listed = {manifest_name} | {
            _clean_href(e.get("href")) for e in manifest.iter() if isinstance(e.tag, str) and e.get("href")
        }
        for name in sorted(names):
            if name.lower().endswith(".xml") and _clean_href(name) not in listed:
                out.problems.append(problem(ProblemCode.UNLISTED_FILE, file=name[:80]))
    except _Unreadable as exc:
        out.problems.append(problem(ProblemCode.UNREADABLE_FILE, format="QTI 3.0", reason=str(exc)))
    except (
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        EOFError,
        OSError,
        zlib.error,
        RuntimeError,
        NotImplementedError,
    ) as exc:  # damaged deflate data, bad CRC, encryption, unknown compression
        out.problems.append(problem(ProblemCode.UNREADABLE_FILE, format="QTI 3.0", reason=str(exc)[:200]))
    return out


def _clean_href(href: str | None) -> str:
    return (href or "").removeprefix("./")
