"""Aiken: a question line, lettered options ``A.`` / ``A)``, then ``ANSWER: A``.

Cyrillic option letters are accepted too (``А) Б) В)``), and a Cyrillic ``А`` and a
Latin ``A`` are the same letter, because authors mix keyboards.
"""

from __future__ import annotations

import re

from question_bank.formats.draft import DraftOption, DraftQuestion, ImportResult
from question_bank.problems import ProblemCode, problem
from question_bank.text import decode_bytes

_OPTION = re.compile(r"^\s*([A-ZА-ЯЁӘҒҚҢӨҰҮҺІ])\s*[.)]\s+(.*)$")
_ANSWER = re.compile(r"^\s*ANSWER\s*:\s*(.*?)\s*$", re.I)
_LATIN = str.maketrans("АВСЕНКМОРТХ", "ABCEHKMOPTX")


def _letter(value: str) -> str:
    return value.strip().upper().translate(_LATIN)


def import_aiken(data: bytes) -> ImportResult:
    decoded = decode_bytes(data)
    out = ImportResult(encoding=decoded.encoding)
    q: DraftQuestion | None = None
    letters: list[str] = []
    for number, line in enumerate(decoded.text.split("\n"), start=1):
        if not line.strip():
            continue
        answer = _ANSWER.match(line)
        option = _OPTION.match(line)
        if q is None:
            if answer:
                out.problems.append(problem(ProblemCode.TEXT_OUTSIDE_QUESTION, line=number, text=line.strip()[:60]))
                continue
            q = DraftQuestion(number=len(out.questions) + 1, line=number, text=line)
            letters = []
        elif answer:
            key = _letter(answer.group(1))
            if key in letters:
                q.options[letters.index(key)].correct = True
            else:
                out.problems.append(
                    problem(ProblemCode.INVALID_KEY, line=number, question=q.number, key=answer.group(1))
                )
                q.checkable = False
            out.questions.append(q)
            q = None
        elif option:
            letters.append(_letter(option.group(1)))
            q.options.append(DraftOption(text=option.group(2), correct=False, line=number))
        elif q.options:
            q.options[-1].text += "\n" + line
        else:
            q.text += "\n" + line
    if q is not None:
        out.questions.append(q)  # no ANSWER line: the checks report the missing key
    return out
