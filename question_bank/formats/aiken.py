"""Aiken: a question line, lettered options ``A.`` / ``A)``, then ``ANSWER: A``.

Cyrillic option letters are accepted too (``А) Б) В)``), and a Cyrillic ``А`` and a
Latin ``A`` are the same letter, because authors mix keyboards.
"""

from __future__ import annotations

import re

from question_bank.formats.draft import DraftOption, DraftQuestion, ImportResult
from question_bank.limits import DEFAULT_LIMITS, ParseLimits
from question_bank.problems import ProblemCode, problem
from question_bank.text import decode_bytes

# Linear on any line: possessive runs of spaces, and the answer's spaces stripped in Python
# (``:\s*(.*?)\s*$`` retried the trailing run from every position of the answer).
_OPTION = re.compile(r"^\s*+([A-ZА-ЯЁӘҒҚҢӨҰҮҺІ])\s*+[.)]\s++(.*)$")
_ANSWER = re.compile(r"^\s*+ANSWER\s*+:(.*)$", re.I)
_LATIN = str.maketrans("АВСЕНКМОРТХ", "ABCEHKMOPTX")


def _letter(value: str) -> str:
    return value.strip().upper().translate(_LATIN)


def import_aiken(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ImportResult:
    decoded = decode_bytes(data)
    out = ImportResult(encoding=decoded.encoding)
    q: DraftQuestion | None = None
    letters: list[str] = []
    # Continuation lines are collected in lists and joined once: ``text += "\n" + line`` on an
    # attribute copies the whole text each time (quadratic in the number of lines).
    stem: list[str] = []
    option_lines: list[list[str]] = []

    def close(question: DraftQuestion) -> None:
        question.text = "\n".join(stem)
        for option, lines in zip(question.options, option_lines, strict=True):
            option.text = "\n".join(lines)
        out.questions.append(question)
    for number, line in enumerate(decoded.text.split("\n"), start=1):
        if not line.strip():
            continue
        answer = _ANSWER.match(line)
        option = _OPTION.match(line)
        if q is None:
            if answer:
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
            letters.append(_letter(option.group(1)))
            q.options.append(DraftOption(text="", correct=False, line=number))
            option_lines.append([option.group(2)])
        elif q.options:
            option_lines[-1].append(line)
        else:
            stem.append(line)
    if q is not None:
        close(q)  # no ANSWER line: the checks report the missing key
    return out
