"""Platonus markup inside a Word file: paragraphs become numbered lines.

Reports count paragraphs (body and table cells, in reading order) because that is
what the author can find in Word. A paragraph holding a picture, an embedded object or
an equation is flagged: its content would silently vanish from the question.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import docx
from docx.document import Document
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from question_bank.checks import line_problems
from question_bank.formats.draft import ImportResult
from question_bank.formats.platonus import parse_platonus_lines
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.problems import ProblemCode, problem

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_M = "http://schemas.openxmlformats.org/officeDocument/2006/math"
_RICH = (f"{{{_W}}}drawing", f"{{{_W}}}pict", f"{{{_W}}}object", f"{{{_M}}}oMath")


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
    refused = []
    for number, paragraph in enumerate(_paragraphs(document), start=1):
        if _has_rich_content(paragraph):
            flagged.add(number)
        text = paragraph.text
        bad = line_problems(text, number, limits)
        if bad:
            refused.extend(bad)
            continue
        lines.extend((number, part) for part in text.split("\n"))
    if refused:
        return ImportResult(problems=refused, encoding="docx")
    result = parse_platonus_lines(lines, frozenset(flagged))
    result.encoding = "docx"
    return result
