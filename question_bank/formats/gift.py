"""GIFT (Moodle's text format), single-answer multiple choice only.

``=`` marks the right answer, ``~`` a wrong one, ``::name::`` names a question,
``$CATEGORY:`` sets the topic of what follows, and ``\\~ \\= \\# \\{ \\} \\: \\\\ \\n`` are
escapes. GIFT has no difficulty, so this product writes a comment line
``// difficulty: 2`` before a question; Moodle ignores comments, we read it back.
Every other GIFT question type is refused by name rather than guessed at.
"""

from __future__ import annotations

import re

from question_bank.formats.draft import DraftOption, DraftQuestion, ImportResult
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.problems import ProblemCode, problem
from question_bank.text import decode_bytes

# Escaped characters become private-use placeholders while the structure is parsed.
_ESCAPES = {
    "\\": "\ue000",
    "~": "\ue001",
    "=": "\ue002",
    "#": "\ue003",
    "{": "\ue004",
    "}": "\ue005",
    ":": "\ue006",
    "n": "\ue007",
}
_UNESCAPE = str.maketrans({v: ("\n" if k == "n" else k) for k, v in _ESCAPES.items()})
_ESCAPE_RE = re.compile(r"\\(.)", re.S)
_DIFFICULTY = re.compile(r"^//\s*difficulty\s*[:=]\s*(\d+)\s*$", re.I)
_CATEGORY = re.compile(r"^\$CATEGORY:\s*(.*)$", re.I)
_MARKER = re.compile(r"^\s*\[(html|moodle|plain|markdown)\]", re.I)
WEIGHT = re.compile(r"^\s*%(-?\d+(?:[.,]\d+)?)%")
_TRUE_FALSE = re.compile(r"^\s*(T|F|TRUE|FALSE)\s*(#.*)?$", re.I | re.S)
FORMAT_MARKERS = ("[html]", "[moodle]", "[plain]", "[markdown]")


def _protect(text: str) -> str:
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def _plain(text: str) -> str:
    return text.translate(_UNESCAPE).strip()


def category_topic(path: str) -> str | None:
    path = re.sub(r"^\$\w+\$/?", "", path.strip())
    path = re.sub(r"^top(/|$)", "", path)
    return path.strip() or None


class _Block:
    def __init__(self, number: int, line: int, topic: str | None, difficulty: int | None) -> None:
        self.lines: list[str] = []
        self.question = DraftQuestion(number=number, line=line, topic=topic, difficulty=difficulty)


def _parse_answers(body: str, body_line: int, q: DraftQuestion, out: ImportResult) -> None:
    stripped = body.strip()
    kind = None
    if not stripped:
        kind = "essay"
    elif stripped.startswith("#"):
        kind = "numerical"
    elif _TRUE_FALSE.match(stripped):
        kind = "true/false"
    elif "~" not in stripped:
        kind = "matching" if "->" in stripped else "short answer"
    if kind is not None:
        q.checkable = False
        out.problems.append(problem(ProblemCode.UNSUPPORTED_QUESTION_TYPE, line=q.line, question=q.number, kind=kind))
        return
    parts = re.split(r"([=~])", body)
    if parts[0].strip():
        out.problems.append(
            problem(ProblemCode.SYNTAX_ERROR, line=body_line, question=q.number, detail=_plain(parts[0])[:60])
        )
    # Line numbers are counted on from the previous option: ``body[:offset].count("\n")`` per
    # option was quadratic (19 s for 150,000 options).
    line = body_line + parts[0].count("\n")
    for marker, full in zip(parts[1::2], parts[2::2], strict=True):
        content = full.split("#", 1)[0]
        correct = marker == "="
        weight = WEIGHT.match(content)
        if weight:
            content = content[weight.end() :]
            fraction = float(weight.group(1).replace(",", "."))
            correct = fraction >= 100
            if 0 < fraction < 100:
                out.problems.append(
                    problem(
                        ProblemCode.PARTIAL_CREDIT,
                        line=line,
                        question=q.number,
                        option=_plain(content)[:60],
                        fraction=weight.group(1),
                    )
                )
        q.options.append(DraftOption(text=_plain(content), correct=correct, line=line))
        line += full.count("\n")


def _finish(block: _Block, out: ImportResult) -> None:
    text = "\n".join(block.lines)
    q = block.question
    if text.startswith("::"):
        end = text.find("::", 2)
        text = text[end + 2 :] if end >= 0 else text
    marker = _MARKER.match(text)
    if marker:
        text = text[marker.end() :]
    opening = text.find("{")
    if opening < 0:
        if text.strip():
            out.problems.append(problem(ProblemCode.TEXT_OUTSIDE_QUESTION, line=q.line, text=_plain(text)[:60]))
        return
    closing = text.find("}", opening)
    out.questions.append(q)
    if closing < 0:
        q.checkable = False
        out.problems.append(problem(ProblemCode.UNCLOSED_ANSWERS, line=q.line, question=q.number))
        return
    raw = "\n".join(block.lines)
    if "{" in text[opening + 1 : closing]:
        # A second "{" inside an answer list: a question line moved into it (or a "}" lost).
        first = raw.find("{")
        second = raw.find("{", first + 1)
        line_no = (q.line or 1) + raw.count("\n", 0, second)
        bad = raw[raw.rfind("\n", 0, second) + 1 : raw.find("\n", second) if "\n" in raw[second:] else None]
        q.checkable = False
        out.problems.append(problem(ProblemCode.SYNTAX_ERROR, line=line_no, question=q.number, detail=_plain(bad)[:60]))
    after = text[closing + 1 :]
    if "{" in after:
        out.problems.append(problem(ProblemCode.MISSING_BLANK_LINE, line=q.line, question=q.number))
    q.text = _plain(text[:opening] + (" _____ " + after if after.strip() else ""))
    body_line = (q.line or 1) + raw.count("\n", 0, raw.find("{"))
    _parse_answers(text[opening + 1 : closing], body_line, q, out)


def import_gift(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ImportResult:
    decoded = decode_bytes(data)
    out = ImportResult(encoding=decoded.encoding)
    topic: str | None = None
    difficulty: int | None = None
    block: _Block | None = None
    depth = 0
    for number, raw in enumerate(decoded.text.split("\n"), start=1):
        line = _protect(raw)
        bare = line.strip()
        if bare.startswith("//"):
            meta = _DIFFICULTY.match(bare)
            if meta and block is None:
                difficulty = int(meta.group(1)) or None
            continue
        if block is not None and depth > 0 and _CATEGORY.match(bare):
            # A category line inside an open answer list is no option: the list lost its "}".
            out.problems.append(
                problem(ProblemCode.SYNTAX_ERROR, line=number, question=block.question.number, detail=bare[:60])
            )
            continue
        if block is not None and depth == 0 and (not bare or _CATEGORY.match(bare)):
            _finish(block, out)  # a blank line or a new category ends a question
            block = None
        if block is None:
            if not bare:
                continue
            category = _CATEGORY.match(bare)
            if category:
                topic = category_topic(_plain(category.group(1)))
                continue
            block = _Block(len(out.questions) + 1, number, topic, difficulty)
            difficulty = None
        block.lines.append(line)
        depth = max(0, depth + line.count("{") - line.count("}"))
    if block is not None:
        _finish(block, out)
    return out
