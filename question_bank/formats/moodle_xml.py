"""Moodle XML: ``multichoice`` questions with ``<single>true</single>``.

An answer with ``fraction="100"`` is the key, ``0`` or negative a distractor; partial
credit has no place in a single-answer bank. Category pseudo-questions set the
topic. DTDs are refused outright, so no entity tricks reach the parser.
"""

from __future__ import annotations

import html
import re

from lxml import etree

from question_bank.formats.draft import DraftOption, DraftQuestion, ImportResult
from question_bank.formats.gift import category_topic
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.problems import ProblemCode, problem
from question_bank.text import decode_bytes

# Linear on untrusted HTML: ``<[^>]*>`` re-scanned to the end of the text from every "<" when no
# ">" followed (quadratic on "&lt;" repeated), and ``\s*/?\s*`` tried every split of a run.
_BREAKS = re.compile(r"<\s*+(br|/p|/div|/li)\s*+/?\s*+>", re.I)
_TAGS = re.compile(r"<[^<>]*+>")
_IMAGE = re.compile(r"<\s*+(img|svg|math)\b", re.I)


def _html_to_text(value: str, is_html: bool) -> str:
    if not is_html:
        return value
    return html.unescape(_TAGS.sub("", _BREAKS.sub("\n", value)))


def _text_of(element: etree._Element | None) -> tuple[str, bool]:
    """Plain text of a Moodle text holder and whether it held a picture or formula."""
    if element is None:
        return "", False
    raw = element.findtext("text") or ""
    is_html = element.get("format", "html") in ("html", "moodle_auto_format", "markdown")
    return _html_to_text(raw, is_html), bool(_IMAGE.search(raw)) or element.find("file") is not None


def _multichoice(node: etree._Element, q: DraftQuestion, out: ImportResult) -> None:
    if (node.findtext("single") or "true").strip().lower() not in ("true", "1"):
        q.checkable = False
        out.problems.append(
            problem(
                ProblemCode.UNSUPPORTED_QUESTION_TYPE,
                line=q.line,
                question=q.number,
                kind="multichoice (several answers)",
            )
        )
        return
    q.text, rich = _text_of(node.find("questiontext"))
    if rich:
        out.problems.append(problem(ProblemCode.UNSUPPORTED_CONTENT, line=q.line, question=q.number))
    for answer in node.findall("answer"):
        text, rich = _text_of(answer)
        if rich:
            out.problems.append(problem(ProblemCode.UNSUPPORTED_CONTENT, line=answer.sourceline, question=q.number))
        raw_fraction = (answer.get("fraction") or "0").strip()
        try:
            fraction = float(raw_fraction)
        except ValueError:
            fraction = 0.0
            out.problems.append(
                problem(
                    ProblemCode.SYNTAX_ERROR,
                    line=answer.sourceline,
                    question=q.number,
                    detail=f'fraction="{raw_fraction}"',
                )
            )
        if 0 < fraction < 100:
            out.problems.append(
                problem(
                    ProblemCode.PARTIAL_CREDIT,
                    line=answer.sourceline,
                    question=q.number,
                    option=text.strip()[:60],
                    fraction=raw_fraction,
                )
            )
        q.options.append(DraftOption(text=text, correct=fraction >= 100, line=answer.sourceline))


def import_moodle_xml(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ImportResult:
    decoded = decode_bytes(data)
    out = ImportResult(encoding=decoded.encoding)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", decoded.text)  # already decoded: drop the declared encoding
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        out.problems.append(problem(ProblemCode.UNREADABLE_FILE, format="Moodle XML", reason="DTDs are not accepted"))
        return out
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        out.problems.append(
            problem(ProblemCode.UNREADABLE_FILE, line=exc.lineno, format="Moodle XML", reason=str(exc.msg)[:200])
        )
        return out
    topic: str | None = None
    for node in root.iter("question"):
        kind = node.get("type", "")
        if kind == "category":
            topic = category_topic(node.findtext("category/text") or "")
            continue
        q = DraftQuestion(number=len(out.questions) + 1, line=node.sourceline, topic=topic)
        out.questions.append(q)
        if kind == "multichoice":
            _multichoice(node, q, out)
        else:
            q.checkable = False
            q.text, _ = _text_of(node.find("questiontext"))
            out.problems.append(
                problem(ProblemCode.UNSUPPORTED_QUESTION_TYPE, line=q.line, question=q.number, kind=kind or "?")
            )
    return out
