"""Aiken: a question line, lettered options ``A.`` / ``A)``, then ``ANSWER: A``.

Cyrillic option letters are accepted too (``А) Б) В)``), and a Cyrillic ``А`` and a
Latin ``A`` are the same letter, because authors mix keyboards.

Every non-blank line is accounted for: it belongs to a question (stem, option, the answer
line), or it is an error at its line. A question whose options are followed by a blank line
and new text — the ``ANSWER:`` line was lost — is ``question_not_finished`` naming its
lines, and the new text starts the next question (it is not glued to the last option).
An option letter met a second time in one question is ``option_letter_repeated``.
"""

from __future__ import annotations

import re

from question_bank.formats.draft import DraftOption, DraftQuestion, ImportResult
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.problems import ProblemCode, problem
from question_bank.text import decode_bytes

# Linear on any line: possessive runs of spaces, and the answer's spaces stripped in Python.
# ``A)text`` without a space is an option (Moodle reads it so); ``A.text`` is not (initials).
_OPTION = re.compile(r"^\s*+([A-ZА-ЯЁӘҒҚҢӨҰҮҺІ])\s*+(?:\.\s++|\)\s*+)(.*)$")
_ANSWER = re.compile(r"^\s*+ANSWER\s*+:(.*)$", re.I)
_LATIN = str.maketrans("АВСЕНКМОРТХ", "ABCEHKMOPTX")


def _letter(value: str) -> str:
    return value.strip().rstrip(".)").strip().upper().translate(_LATIN)  # "ANSWER: B." / "b)" as typed


def import_aiken(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ImportResult:
    decoded = decode_bytes(data)
    out = ImportResult(encoding=decoded.encoding)
    q: DraftQuestion | None = None
    letters: list[str] = []
    # Continuation lines are collected in lists and joined once: ``text += "\n" + line`` on an
    # attribute copies the whole text each time (quadratic in the number of lines).
    stem: list[str] = []
    option_lines: list[list[str]] = []
    last_line = 0
    blank_since_last = False

    def close(question: DraftQuestion) -> None:
        question.text = "\n".join(stem)
        for option, lines in zip(question.options, option_lines, strict=True):
            option.text = "\n".join(lines)
        out.questions.append(question)

    def unfinished(question: DraftQuestion) -> None:
        out.problems.append(
            problem(
                ProblemCode.QUESTION_NOT_FINISHED,
                line=question.line,
                question=question.number,
                first=question.line,
                last=last_line,
            )
        )
        question.checkable = False
        close(question)

    for number, line in enumerate(decoded.text.split("\n"), start=1):
        if not line.strip():
            blank_since_last = True
            continue
        answer = _ANSWER.match(line)
        option = _OPTION.match(line)
        if q is not None and q.options and blank_since_last and not answer and not option:
            unfinished(q)  # options, a blank line, then new text: the answer line is missing
            q = None
        blank_since_last = False
        if q is None:
            if answer or option:
                out.problems.append(problem(ProblemCode.TEXT_OUTSIDE_QUESTION, line=number, text=line.strip()[:60]))
                continue
            q = DraftQuestion(number=len(out.questions) + 1, line=number)
            letters, stem, option_lines = [], [line], []
        elif answer:
            key = _letter(answer.group(1).strip())
            if key in letters:
                q.options[letters.index(key)].correct = True
            else:
                out.problems.append(
                    problem(ProblemCode.INVALID_KEY, line=number, question=q.number, key=answer.group(1).strip())
                )
                q.checkable = False
            close(q)
            q = None
        elif option:
            letter = _letter(option.group(1))
            if letter in letters and q.checkable:
                out.problems.append(
                    problem(ProblemCode.OPTION_LETTER_REPEATED, line=number, question=q.number, letter=option.group(1))
                )
                q.checkable = False
            letters.append(letter)
            q.options.append(DraftOption(text="", correct=False, line=number))
            option_lines.append([option.group(2)])
        elif q.options:
            option_lines[-1].append(line)
        else:
            stem.append(line)
        last_line = number
    if q is not None:
        if q.options:
            unfinished(q)
        else:
            close(q)  # a stem alone: the checks report it has no options
    return out
