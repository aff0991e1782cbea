"""Platonus markup inside a Word file: paragraphs become numbered lines.

Reports count paragraphs (body and table cells, in reading order) because that is
what the author can find in Word. A paragraph holding a picture, an embedded object,
an equation or a text box is flagged: its content would silently vanish from the question.

A paragraph's text is every run Word shows in it, wherever Word nested the run: inside a
hyperlink, a content control (``w:sdt``), a smart tag, a simple field (``w:fldSimple``),
custom XML — python-docx's ``Paragraph.text`` reads only direct runs and hyperlinks, and a
wrapped option or a whole question vanished with it. What the person may not see as the file
holds it is refused with its paragraph: tracked changes (``w:ins``/``w:del``/moves, also of the
paragraph mark — Word shows them, the file's final text is undecided) and hidden text
(``w:vanish``). A key marked by formatting (bold, highlight, shading) that is not the key the
markup gives is refused too (see :func:`_formatting_disagreements`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import docx
from docx.document import Document
from docx.oxml.text.run import CT_R
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from lxml import etree

from question_bank.checks import line_problems
from question_bank.formats.draft import ImportResult
from question_bank.formats.platonus import STRUCTURAL, TAG, parse_platonus_lines, tag_name
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.problems import Problem, ProblemCode, problem

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_M = "http://schemas.openxmlformats.org/officeDocument/2006/math"
_RICH = (f"{{{_W}}}drawing", f"{{{_W}}}pict", f"{{{_W}}}object", f"{{{_M}}}oMath", f"{{{_W}}}txbxContent")
_RUN = f"{{{_W}}}r"
_RPR = f"{{{_W}}}rPr"
_VAL = f"{{{_W}}}val"
_FILL = f"{{{_W}}}fill"
# Kept out of the paragraph's text: a text box or drawing (flagged as rich content instead) and
# the parts of a structured element that are its properties, not its content.
_NOT_TEXT = frozenset(
    {f"{{{_W}}}{name}" for name in ("txbxContent", "drawing", "pict", "object", "pPr", "rPr", "sdtPr", "sdtEndPr")}
)
_REVISIONS = tuple(f"{{{_W}}}{name}" for name in ("ins", "del", "moveFrom", "moveTo"))
_OFF = frozenset({"0", "false", "off"})


@dataclass(frozen=True, slots=True)
class _Read:
    """What Word shows of one paragraph, and what it marks in it."""

    text: str
    tracked: bool
    hidden: bool
    marked: bool  # all its own text (tags aside) is bold, highlighted or shaded


def _runs(element: etree._Element) -> Iterator[CT_R]:
    """The paragraph's runs in reading order, through every wrapper Word puts around them."""
    for child in element:
        if child.tag == _RUN:
            yield child
        elif child.tag not in _NOT_TEXT:
            yield from _runs(child)


def _on(rpr: etree._Element | None, name: str) -> bool:
    found = None if rpr is None else rpr.find(f"{{{_W}}}{name}")
    return found is not None and found.get(_VAL, "true").lower() not in _OFF


def _emphasised(rpr: etree._Element | None) -> bool:
    if rpr is None:
        return False
    highlight = rpr.find(f"{{{_W}}}highlight")
    shading = rpr.find(f"{{{_W}}}shd")
    return (
        _on(rpr, "b")
        or (highlight is not None and highlight.get(_VAL, "none").lower() != "none")
        or (shading is not None and shading.get(_FILL, "auto").lower() not in ("auto", "ffffff", ""))
    )


def _read(paragraph: Paragraph) -> _Read:
    pieces: list[str] = []
    plain: list[str] = []
    emphasised = False
    hidden = False
    for run in _runs(paragraph._p):
        text = run.text
        rpr = run.find(_RPR)
        hidden = hidden or (_on(rpr, "vanish") and bool(text.strip()))
        if _emphasised(rpr):
            emphasised = emphasised or bool(TAG.sub("", text).strip())
        else:
            plain.append(text)
        pieces.append(text)
    tracked = next(paragraph._p.iter(*_REVISIONS), None) is not None
    marked = emphasised and not TAG.sub("", "".join(plain)).strip()
    return _Read("".join(pieces), tracked, hidden, marked)


def _numbering(properties: etree._Element | None) -> tuple[str, str] | None:
    found = None if properties is None else properties.find(f"{{{_W}}}numPr")
    if found is None:
        return None
    num = found.find(f"{{{_W}}}numId")
    level = found.find(f"{{{_W}}}ilvl")
    num_id = num.get(_VAL, "") if num is not None else ""
    if not num_id or num_id == "0":  # numId 0: numbering switched off
        return None
    return num_id, level.get(_VAL, "0") if level is not None else "0"


class _Numbering:
    """Which Word list numbers a paragraph: its own ``w:numPr``, or its paragraph style's."""

    def __init__(self, document: Document) -> None:
        self.styles: dict[str, tuple[str, str] | None] = {}
        for style in document.styles.element.iter(f"{{{_W}}}style"):
            style_id = style.get(f"{{{_W}}}styleId")
            if style_id:
                self.styles[style_id] = _numbering(style.find(f"{{{_W}}}pPr"))

    def of(self, paragraph: Paragraph) -> tuple[str, str] | None:
        properties = paragraph._p.pPr
        own = _numbering(properties)
        if own is not None or properties is None or properties.pStyle is None:
            return own
        return self.styles.get(properties.pStyle.val)


def _unnumbered_questions(
    result: ImportResult, numbering: dict[int, tuple[str, str]], texts: dict[int, str]
) -> list[Problem]:
    """Paragraphs Word numbers like the questions that carry no tag: a lost ``<question>``.

    A clerk who numbers the questions with Word's list sees "5." before the paragraph, but without
    its ``<question>`` tag its text runs on into the option before and its variants join that
    question (two questions read as one, only a warning). The questions' list is a (list, level)
    numbering at least two question paragraphs share; a paragraph of it with no structural tag is
    reported at its paragraph, within the question it was glued to.
    """
    starts = {q.line: q for q in result.questions if q.line is not None}
    counts: dict[tuple[str, str], int] = {}
    for line in starts:
        if line in numbering:
            counts[numbering[line]] = counts.get(numbering[line], 0) + 1
    lists = {key for key, count in counts.items() if count >= 2}
    found: list[Problem] = []
    for line, key in sorted(numbering.items()):
        if key not in lists or line in starts or not texts.get(line, "").strip():
            continue
        if any(tag_name(m) in STRUCTURAL for m in TAG.finditer(texts[line])):
            continue
        before = [q for start, q in starts.items() if start < line]
        number = max(before, key=lambda q: q.line or 0).number if before else None
        found.append(problem(ProblemCode.NUMBERED_LIKE_A_QUESTION, line=line, question=number))
    return found


def _formatting_disagreements(result: ImportResult, marked: set[int]) -> list[Problem]:
    """Options marked by formatting that the markup does not make the key.

    A clerk marks the right answer in bold or with a highlight; Platonus reads the first
    ``<variant>`` (or the ``<variantright>``) instead, and formatting is not kept — so a marked
    option that is not the key read is a wrong key about to be stored. A marked key agrees.
    """
    found: list[Problem] = []
    for q in result.questions:
        flagged = [i for i, option in enumerate(q.options) if option.line in marked]
        key = next((i for i, option in enumerate(q.options) if option.correct), None)
        if flagged and len(flagged) < len(q.options) and key is not None and key not in flagged:
            first = q.options[flagged[0]]
            found.append(
                problem(
                    ProblemCode.KEY_MARKED_BY_FORMATTING,
                    line=first.line,
                    question=q.number,
                    option=flagged[0] + 1,
                    key=key + 1,
                )
            )
    return found


def _paragraphs(container: Document | _Cell) -> Iterator[Paragraph]:
    for block in container.iter_inner_content():
        if isinstance(block, Paragraph):
            yield block
        elif isinstance(block, Table):
            # The cells' XML directly, once each: python-docx's ``row.cells`` follows a vertical
            # merge up row by row (quadratic, and a RecursionError past 1,000 merged rows). A
            # continued cell (``vMerge="continue"``) holds no text of its own; its first row does.
            for tr in block._tbl.tr_lst:
                for tc in tr.tc_lst:
                    if tc.vMerge != "continue":
                        yield from _paragraphs(_Cell(tc, block))


def _has_rich_content(paragraph: Paragraph) -> bool:
    return any(next(paragraph._p.iter(tag), None) is not None for tag in _RICH)


def import_platonus_docx(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ImportResult:
    try:
        document = docx.Document(io.BytesIO(data))
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip, XML and python-docx layers each raise their own types
        result = ImportResult()
        result.problems.append(problem(ProblemCode.UNREADABLE_FILE, format="docx", reason=str(exc)[:200]))
        return result
    lines: list[tuple[int, str]] = []
    flagged: set[int] = set()
    marked: set[int] = set()
    refused: list[Problem] = []
    unseen: list[Problem] = []
    lists = _Numbering(document)
    numbered: dict[int, tuple[str, str]] = {}
    texts: dict[int, str] = {}
    for number, paragraph in enumerate(_paragraphs(document), start=1):
        if _has_rich_content(paragraph):
            flagged.add(number)
        read = _read(paragraph)
        key = lists.of(paragraph)
        if key is not None:
            numbered[number] = key
            texts[number] = read.text
        if read.tracked and not any(p.code is ProblemCode.TRACKED_CHANGES for p in unseen):
            unseen.append(problem(ProblemCode.TRACKED_CHANGES, line=number))
        if read.hidden and not any(p.code is ProblemCode.HIDDEN_TEXT for p in unseen):
            unseen.append(problem(ProblemCode.HIDDEN_TEXT, line=number))
        if read.marked:
            marked.add(number)
        bad = line_problems(read.text, number, limits)
        if bad:
            refused.extend(bad)
            continue
        lines.extend((number, part) for part in read.text.split("\n"))
    if refused or unseen:
        # What Word shows is not what the file holds: no question count would be honest.
        return ImportResult(problems=unseen + refused, encoding="docx")
    result = parse_platonus_lines(lines, frozenset(flagged))
    result.problems.extend(_formatting_disagreements(result, marked))
    result.problems.extend(_unnumbered_questions(result, numbered, texts))
    result.encoding = "docx"
    return result
