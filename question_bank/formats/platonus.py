"""Platonus markup, the de-facto Kazakh test format, from text lines.

``<question>`` starts a question, each ``<variant>`` an option, and the first variant
is the key — unless the question marks its key with ``<variantright>`` anywhere.
``<question2>`` (any number) carries the difficulty level. Tags may be in any case,
options may run over several lines, and a blank line closes an option, so a stray
signature after the last question is reported rather than glued to its last option.
``<topic>NAME`` is this product's extension: it sets the topic of the questions that
follow (an empty ``<topic>`` clears it), so a bank round-trips with its topics.
Inline formatting tags (``<sub>``, ``<b>`` …) are kept as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from question_bank.formats.draft import DraftOption, DraftQuestion, ImportResult
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.problems import ProblemCode, problem
from question_bank.text import decode_bytes

# Possessive quantifiers: each part of a tag can match in one way only, so a "<" followed by
# 20,000 spaces costs 20,000 steps, not 200 million (``\s*(/?)\s*`` and ``\s*(\d*)\s*`` used to
# try every split of the run).
TAG = re.compile(r"<\s*+(/?)\s*+([^\W\d_]++(?:[ _-][^\W\d_]++)?)\s*+(\d*+)\s*+>")
INLINE_TAGS = frozenset({"b", "i", "u", "s", "sub", "sup", "br", "p", "strong", "em", "span", "div"})
STRUCTURAL = frozenset({"question", "variant", "variantright", "topic"})


def tag_name(match: re.Match[str]) -> str:
    return re.sub(r"[ _-]", "", match.group(2)).lower()


class _State(StrEnum):
    OUTSIDE = "outside"  # before the first question
    STEM = "stem"  # reading a question's text
    OPTION = "option"  # reading an option's text
    CLOSED = "closed"  # an option ended by a blank line: only a tag may follow
    TOPIC = "topic"  # right after <topic>: the rest of the line names the topic


class _Parser:
    """A small line-driven state machine; see the module docstring for the rules."""

    def __init__(self, flagged_lines: frozenset[int]) -> None:
        self.result = ImportResult()
        self.flagged = set(flagged_lines)
        self.question: DraftQuestion | None = None
        self.rights: list[bool] = []
        self.stem: list[str] = []
        self.option_lines: list[str] = []
        self.state = _State.OUTSIDE
        self.topic: str | None = None
        self.outside_reported = False
        self.used_right = False

    # -- building ---------------------------------------------------------
    def _flush_option(self) -> None:
        if self.question is not None and self.state == _State.OPTION:
            self.question.options[-1].text = "\n".join(self.option_lines)
        self.option_lines = []

    def _flush_question(self) -> None:
        self._flush_option()
        q = self.question
        if q is None:
            return
        if not q.options:
            q.text = "\n".join(self.stem)
        if any(self.rights):
            for option, right in zip(q.options, self.rights, strict=True):
                option.correct = right
        elif q.options:
            q.options[0].correct = True
        self.result.questions.append(q)
        self.question, self.rights, self.stem = None, [], []

    def _append_text(self, text: str, line: int) -> None:
        if self.state == _State.STEM:
            self.stem.append(text)
        elif self.state == _State.OPTION:
            self.option_lines.append(text)
        elif text.strip():
            if not self.outside_reported:
                number = self.question.number if self.question else None
                self.result.problems.append(
                    problem(ProblemCode.TEXT_OUTSIDE_QUESTION, line=line, question=number, text=text.strip()[:60])
                )
            self.outside_reported = True

    def _start_question(self, level: str, line: int) -> None:
        self._flush_question()
        number = len(self.result.questions) + 1
        difficulty = int(level) if level else None
        if difficulty == 0:
            self.result.problems.append(
                problem(ProblemCode.INVALID_DIFFICULTY, line=line, question=number, value=level)
            )
            difficulty = None
        self.question = DraftQuestion(number=number, line=line, topic=self.topic, difficulty=difficulty)
        self.state = _State.STEM

    def _start_option(self, right: bool, line: int, raw: str) -> None:
        if self.question is None:
            self.state = _State.CLOSED
            self._append_text(raw, line)
            return
        if self.state == _State.STEM:
            self.question.text = "\n".join(self.stem)
        self._flush_option()
        self.question.options.append(DraftOption(text="", correct=False, line=line))
        self.rights.append(right)
        self.used_right = self.used_right or right
        self.state = _State.OPTION

    # -- reading ----------------------------------------------------------
    def _tag(self, match: re.Match[str], line: int) -> None:
        closing, name, level = match.group(1), tag_name(match), match.group(3)
        if closing and name in STRUCTURAL:
            return  # some generators close their tags; harmless
        if name == "question":
            self._start_question(level, line)
        elif name in ("variant", "variantright") and not level:
            self._start_option(name == "variantright", line, match.group(0))
        elif name == "topic" and not level:
            self._flush_question()
            self.state = _State.TOPIC
        else:
            number = self.question.number if self.question else None
            self.result.problems.append(
                problem(ProblemCode.UNKNOWN_TAG, line=line, question=number, tag=match.group(0))
            )
            return
        self.outside_reported = False

    def feed(self, line_no: int, line: str) -> None:
        self._read(line_no, line)
        if line_no in self.flagged:
            self.flagged.discard(line_no)  # a paragraph may span several lines
            number = self.question.number if self.question else None
            self.result.problems.append(problem(ProblemCode.UNSUPPORTED_CONTENT, line=line_no, question=number))

    def _read(self, line_no: int, line: str) -> None:
        if not line.strip():
            if self.state == _State.STEM:
                self.stem.append("")
            elif self.state == _State.OPTION:
                self._flush_option()
                self.state = _State.CLOSED
            return
        pos = 0
        for match in TAG.finditer(line):
            if tag_name(match) in INLINE_TAGS:
                continue
            self._append_piece(line[pos : match.start()], line_no)
            self._tag(match, line_no)
            pos = match.end()
        self._append_piece(line[pos:], line_no, end_of_line=True)

    def _append_piece(self, text: str, line_no: int, *, end_of_line: bool = False) -> None:
        if self.state == _State.TOPIC:
            if end_of_line or text.strip():
                self.topic = text.strip() or None
                self.state = _State.CLOSED
            return
        if text.strip():
            self._append_text(text, line_no)

    def finish(self) -> ImportResult:
        self._flush_question()
        self.result.key_position_by_convention = not self.used_right
        return self.result


def parse_platonus_lines(lines: Iterable[tuple[int, str]], flagged_lines: frozenset[int] = frozenset()) -> ImportResult:
    """Parse numbered lines (text lines, or docx paragraphs split at soft breaks)."""
    parser = _Parser(flagged_lines)
    for number, line in lines:
        parser.feed(number, line)
    return parser.finish()


def import_platonus_text(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ImportResult:
    decoded = decode_bytes(data)
    result = parse_platonus_lines(enumerate(decoded.text.split("\n"), start=1))
    result.encoding = decoded.encoding
    if decoded.foreign_lines:
        result.problems.insert(
            0,
            problem(
                ProblemCode.MIXED_ENCODING,
                line=decoded.foreign_lines[0],
                count=len(decoded.foreign_lines),
                encoding=decoded.encoding.split("+")[-1],
            ),
        )
    return result
