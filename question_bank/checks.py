"""The upload-time quality checks: drafts in, items and problems out.

Every question is checked on its own (key, options, empty text), then against the
rest of the bank and against items the upload is being added to. A question with an
error never becomes an :class:`Item`, and the caller stores nothing while any error
stands (all-or-nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

from question_bank.formats.draft import DraftQuestion, ImportResult
from question_bank.limits import ParseLimits
from question_bank.model import Item
from question_bank.problems import Problem, ProblemCode, Severity, problem
from question_bank.text import (
    ForbiddenCharacter,
    clean_label,
    clean_option,
    clean_text,
    comparison_key,
    exact_key,
    forbidden_characters,
)

# Below this many questions "the key is always in one place" is chance, not a pattern.
MIN_ITEMS_FOR_POSITION_WARNING = 5
# More options than expected by over this many: a warning that two questions may have merged.
MERGE_MARGIN = 2


_MINUS_SIGNS = ("-", "\u2212", "\u2013")


def _key_mark(option: str, options: list[str]) -> str | None:
    """The key mark a clerk typed before an option (``+Астана``, ``* 1997``), if it is one.

    ``*`` is always a mark. ``+`` is one unless a number follows and another option of the
    question starts with a minus: then it is a sign (``+5 °C`` / ``−5 °C``).
    """
    mark = option[:1]
    if mark == "*":
        return mark
    if mark != "+":
        return None
    rest = option[1:].lstrip()
    if rest[:1].isdigit() and any(other.startswith(_MINUS_SIGNS) for other in options):
        return None
    return mark


def _option_problems(q: DraftQuestion, options: list[str], expected: int) -> list[Problem]:
    found: list[Problem] = []
    for index, (draft, text) in enumerate(zip(q.options, options, strict=True), start=1):
        mark = _key_mark(text, options)
        if mark:
            found.append(
                problem(
                    ProblemCode.KEY_MARK_IN_OPTION,
                    line=draft.line or q.line,
                    question=q.number,
                    option=index,
                    mark=mark,
                )
            )
    for index, (draft, text) in enumerate(zip(q.options, options, strict=True), start=1):
        if not text:
            found.append(problem(ProblemCode.EMPTY_OPTION, line=draft.line or q.line, question=q.number, option=index))
    count = len(options)
    if count < 2:
        found.append(problem(ProblemCode.TOO_FEW_OPTIONS, line=q.line, question=q.number, count=count))
    elif count < expected:
        found.append(
            problem(
                ProblemCode.FEWER_OPTIONS_THAN_EXPECTED, line=q.line, question=q.number, count=count, expected=expected
            )
        )
    elif count > expected + MERGE_MARGIN:
        # Two questions run together (a lost <question> line, a lost ANSWER line …) look like this.
        found.append(
            problem(
                ProblemCode.MORE_OPTIONS_THAN_EXPECTED, line=q.line, question=q.number, count=count, expected=expected
            )
        )
    keys = sum(o.correct for o in q.options)
    if count and keys == 0:
        found.append(problem(ProblemCode.NO_CORRECT_OPTION, line=q.line, question=q.number))
    elif keys > 1:
        found.append(problem(ProblemCode.SEVERAL_CORRECT_OPTIONS, line=q.line, question=q.number, count=keys))
    exact: dict[str, int] = {}
    folded: dict[str, int] = {}
    for index, text in enumerate(options, start=1):
        if not text:
            continue
        line = q.options[index - 1].line or q.line
        key = exact_key(text)
        if key in exact:
            found.append(
                problem(ProblemCode.DUPLICATE_OPTION, line=line, question=q.number, first=exact[key], second=index)
            )
        elif key.casefold() in folded:
            found.append(
                problem(
                    ProblemCode.OPTIONS_DIFFER_ONLY_IN_CASE,
                    line=line,
                    question=q.number,
                    first=folded[key.casefold()],
                    second=index,
                )
            )
        exact.setdefault(key, index)
        folded.setdefault(key.casefold(), index)
    return found


def _character_problem(bad: ForbiddenCharacter, line: int | None, question: int | None) -> Problem:
    code = ProblemCode.DIRECTION_CHARACTER if bad.bidi else ProblemCode.CONTROL_CHARACTER
    return problem(code, line=line, question=question, char=bad.codepoint)


def line_problems(text: str, line: int | None, limits: ParseLimits, question: int | None = None) -> list[Problem]:
    """The text hygiene of one line, paragraph or cell: its length, then its characters.

    The same check for every format, each with its own unit (a text file's line, a Word
    paragraph, a spreadsheet row), so the author is sent to the exact spot.
    """
    if len(text) > limits.max_line_chars:
        return [
            problem(
                ProblemCode.LINE_TOO_LONG, line=line, question=question, length=len(text), limit=limits.max_line_chars
            )
        ]
    return [_character_problem(bad, line, question) for bad in forbidden_characters(text)]


def _character_problems(q: DraftQuestion) -> list[Problem]:
    """The safety net: characters that reached a question's stored text another way.

    Text files, Word paragraphs and spreadsheet cells are screened where they are read, with
    their exact line (:func:`line_problems`); what an importer produced from an escape, such
    as ``&amp;#x202E;`` in Moodle HTML, is caught here, located at the question's or option's line.
    """
    found: list[Problem] = []
    pieces = [(q.text, q.line), (q.topic, q.line), (q.twin_key, q.line)]
    pieces.extend((o.text, o.line or q.line) for o in q.options)
    for text, line in pieces:
        for bad in forbidden_characters(text):
            found.append(_character_problem(bad, None if line is None else line + bad.line_offset, q.number))
    return found


def check_drafts(
    result: ImportResult,
    *,
    default_topic: str | None,
    default_difficulty: int | None,
    expected_options: int,
    existing: Sequence[Item] = (),
) -> tuple[list[Item], list[Problem]]:
    """Turn an importer's drafts into valid items plus every problem found."""
    problems = list(result.problems)
    # A question the importer already found an error in is refused like one the checks refuse,
    # so "questions without errors" on the report counts only what could really be imported.
    refused_by_importer = {p.question for p in problems if p.severity is Severity.ERROR and p.question is not None}
    items: list[Item] = []
    seen: dict[str, DraftQuestion] = {}
    existing_keys = {comparison_key(item.text) for item in existing}
    topic_default = clean_label(default_topic)
    problems.extend(_character_problem(bad, None, None) for bad in forbidden_characters(default_topic))
    for q in result.questions:
        if not q.checkable:
            continue
        text = clean_text(q.text)
        options = [clean_option(o.text) for o in q.options]
        found = _character_problems(q) + _option_problems(q, options, expected_options)
        if not text:
            found.append(problem(ProblemCode.EMPTY_QUESTION, line=q.line, question=q.number))
        else:
            key = comparison_key(text)
            if key in seen:
                other = seen[key]
                found.append(
                    problem(
                        ProblemCode.DUPLICATE_QUESTION,
                        line=q.line,
                        question=q.number,
                        other=other.number,
                        other_line=other.line,
                    )
                )
            elif key in existing_keys:
                found.append(problem(ProblemCode.DUPLICATE_OF_EXISTING, line=q.line, question=q.number))
            seen.setdefault(key, q)
        problems.extend(found)
        if q.number in refused_by_importer or any(p.severity is Severity.ERROR for p in found):
            continue
        items.append(
            Item(
                text=text,
                options=tuple(options),
                correct=next(i for i, o in enumerate(q.options) if o.correct),
                topic=clean_label(q.topic) or topic_default,
                difficulty=q.difficulty if q.difficulty is not None else default_difficulty,
                source_line=q.line,
                number=q.number,
                twin_key=clean_label(q.twin_key),
            )
        )
    positions = {item.correct for item in items}
    if not result.key_position_by_convention and len(items) >= MIN_ITEMS_FOR_POSITION_WARNING and len(positions) == 1:
        problems.append(problem(ProblemCode.KEY_ALWAYS_SAME_POSITION, position=positions.pop() + 1))
    if not result.questions and not any(p.severity is Severity.ERROR for p in problems):
        problems.append(problem(ProblemCode.NO_QUESTIONS))
    return items, problems
