"""What an upload report says: every problem as a stable code, an English msgid and params.

The pure core never translates. The edges render a problem with
``exam_engine.i18n.translate(lang, problem.msgid, **problem.params)``; the kk and ru
text lives in ``question_bank/locale``. Errors refuse the whole upload (all-or-nothing),
warnings never do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ProblemCode(StrEnum):
    # The file as a whole
    UNREADABLE_FILE = "unreadable_file"
    LEGACY_OFFICE_FILE = "legacy_office_file"
    PASSWORD_PROTECTED = "password_protected"
    NOT_AN_OFFICE_FILE = "not_an_office_file"
    FORMAT_NOT_RECOGNISED = "format_not_recognised"
    NO_QUESTIONS = "no_questions"
    MIXED_ENCODING = "mixed_encoding"
    # Structure
    UNKNOWN_TAG = "unknown_tag"
    TEXT_OUTSIDE_QUESTION = "text_outside_question"
    SYNTAX_ERROR = "syntax_error"
    UNCLOSED_ANSWERS = "unclosed_answers"
    QUESTION_NOT_FINISHED = "question_not_finished"
    OPTION_LETTER_REPEATED = "option_letter_repeated"
    NUMBERING_BROKEN = "numbering_broken"
    LANGUAGE_MISMATCH = "language_mismatch"
    MISSING_BLANK_LINE = "missing_blank_line"
    UNSUPPORTED_QUESTION_TYPE = "unsupported_question_type"
    PARTIAL_CREDIT = "partial_credit"
    UNSUPPORTED_CONTENT = "unsupported_content"
    TRACKED_CHANGES = "tracked_changes"
    HIDDEN_TEXT = "hidden_text"
    KEY_MARKED_BY_FORMATTING = "key_marked_by_formatting"
    KEY_MARK_IN_OPTION = "key_mark_in_option"
    ANOTHER_QUESTION_SHEET = "another_question_sheet"
    HIDDEN_ROW = "hidden_row"
    HIDDEN_COLUMN = "hidden_column"
    FORMATTED_NUMBER = "formatted_number"
    NUMBERED_LIKE_A_QUESTION = "numbered_like_a_question"
    UNKNOWN_COLUMN = "unknown_column"
    MISSING_COLUMN = "missing_column"
    INVALID_KEY = "invalid_key"
    AMBIGUOUS_KEY_LETTER = "ambiguous_key_letter"
    INVALID_DIFFICULTY = "invalid_difficulty"
    # One question
    EMPTY_QUESTION = "empty_question"
    EMPTY_OPTION = "empty_option"
    NO_CORRECT_OPTION = "no_correct_option"
    SEVERAL_CORRECT_OPTIONS = "several_correct_options"
    TOO_FEW_OPTIONS = "too_few_options"
    FEWER_OPTIONS_THAN_EXPECTED = "fewer_options_than_expected"
    MORE_OPTIONS_THAN_EXPECTED = "more_options_than_expected"
    DUPLICATE_OPTION = "duplicate_option"
    OPTIONS_DIFFER_ONLY_IN_CASE = "options_differ_only_in_case"
    # The bank
    DUPLICATE_QUESTION = "duplicate_question"
    DUPLICATE_OF_EXISTING = "duplicate_of_existing"
    KEY_ALWAYS_SAME_POSITION = "key_always_same_position"
    # Characters (question_bank.text.forbidden_characters)
    CONTROL_CHARACTER = "control_character"
    DIRECTION_CHARACTER = "direction_character"
    # Limits (question_bank.limits.ParseLimits): a file built to exhaust the server
    ARCHIVE_TOO_LARGE = "archive_too_large"
    ARCHIVE_TOO_MANY_PARTS = "archive_too_many_parts"
    ARCHIVE_RATIO = "archive_ratio"
    ARCHIVE_DTD = "archive_dtd"
    ARCHIVE_XML_DEPTH = "archive_xml_depth"
    ARCHIVE_DAMAGED = "archive_damaged"
    TOO_MANY_PARAGRAPHS = "too_many_paragraphs"
    TOO_MANY_ROWS = "too_many_rows"
    TOO_MANY_COLUMNS = "too_many_columns"
    LINE_TOO_LONG = "line_too_long"
    TOO_MANY_QUESTIONS = "too_many_questions"
    TOO_MANY_OPTIONS = "too_many_options"
    PARSE_TIME_EXCEEDED = "parse_time_exceeded"
    PARSE_MEMORY_EXCEEDED = "parse_memory_exceeded"
    PARSE_FAILED = "parse_failed"
    # Packages (QTI 3.0): what the manifest and the parts of the package do not account for
    MISPLACED_ELEMENT = "misplaced_element"
    UNLISTED_FILE = "unlisted_file"


E, W = Severity.ERROR, Severity.WARNING

# code -> (severity, English msgid). The msgid is also the gettext key.
MESSAGES: dict[ProblemCode, tuple[Severity, str]] = {
    # The reader's own reason (an XML parser's or a zip library's, in English) stays in ``params`` for the
    # API and the logs; the person reads where (line, file) and what to do.
    ProblemCode.UNREADABLE_FILE: (
        E,
        "The file cannot be read as {format}: it is damaged or not written in this format; open it in the "
        "program that made it, save it again and upload the new file",
    ),
    ProblemCode.LEGACY_OFFICE_FILE: (E, "This is an old .doc/.xls file; save it as .docx or .xlsx and upload again"),
    ProblemCode.PASSWORD_PROTECTED: (
        E,
        "The file is protected with a password and cannot be read; open it in Word or Excel, remove the "
        "password (File → Info → Protect, Encrypt with password: clear it) and save it as .docx or .xlsx",
    ),
    ProblemCode.NOT_AN_OFFICE_FILE: (
        E,
        "The file is named .{ext}, but inside it is not a Word or Excel file (it is damaged, renamed, or saved as "
        "PDF, RTF or a web page); open it in Word or Excel and use Save As to save it as .docx or .xlsx",
    ),
    ProblemCode.FORMAT_NOT_RECOGNISED: (
        E,
        "The file format was not recognised; choose it explicitly (Platonus, GIFT, Aiken, Moodle XML, XLSX, QTI)",
    ),
    ProblemCode.NO_QUESTIONS: (E, "The file contains no questions"),
    ProblemCode.MIXED_ENCODING: (
        W,
        "{count} lines are not in UTF-8 and were read as {encoding}; check their letters",
    ),
    ProblemCode.UNKNOWN_TAG: (E, "Unknown tag {tag}"),
    ProblemCode.TEXT_OUTSIDE_QUESTION: (E, "Text outside any question: “{text}”"),
    ProblemCode.SYNTAX_ERROR: (E, "Unexpected text “{detail}”"),
    ProblemCode.UNCLOSED_ANSWERS: (E, "The list of answers is never closed"),
    ProblemCode.QUESTION_NOT_FINISHED: (
        E,
        "The question on lines {first}–{last} is never finished: the line “ANSWER: …” is missing",
    ),
    ProblemCode.OPTION_LETTER_REPEATED: (
        E,
        "Option letter {letter} appears a second time in the question; is the line “ANSWER: …” missing before it?",
    ),
    ProblemCode.NUMBERING_BROKEN: (
        W,
        "Number {number} follows number {previous}; check whether a question is missing, repeated or moved",
    ),
    ProblemCode.LANGUAGE_MISMATCH: (
        E,
        "The file declares its questions in {found}, but the bank is in {language}",
    ),
    ProblemCode.MISSING_BLANK_LINE: (E, "Questions must be separated by a blank line"),
    ProblemCode.UNSUPPORTED_QUESTION_TYPE: (
        E,
        "Question type {kind} is not supported; only single-answer multiple choice is",
    ),
    ProblemCode.PARTIAL_CREDIT: (
        E,
        "Option “{option}” gives partial credit ({fraction}%); an option is either right or wrong",
    ),
    ProblemCode.UNSUPPORTED_CONTENT: (E, "An image or formula cannot be imported; write it as text"),
    ProblemCode.TRACKED_CHANGES: (
        E,
        "The paragraph has tracked changes; accept or reject them in Word (Review → Accept / Reject) and upload again",
    ),
    ProblemCode.HIDDEN_TEXT: (
        E,
        "The paragraph has hidden text that Word does not show; show it or delete it and upload again",
    ),
    ProblemCode.KEY_MARKED_BY_FORMATTING: (
        E,
        "Option {option} is marked in bold or colour, but the correct answer read from the file is option {key}; "
        "mark the correct answer with <variantright> or remove the marking",
    ),
    ProblemCode.KEY_MARK_IN_OPTION: (
        E,
        "Option {option} begins with “{mark}”, which looks like a mark of the correct answer and would be shown "
        "to students; remove it and mark the correct answer as the format requires",
    ),
    ProblemCode.ANOTHER_QUESTION_SHEET: (
        E,
        "Sheet “{sheet}” also has a table of questions; questions are read from one sheet only (“{first}”): "
        "move them there or upload that sheet as a separate file",
    ),
    ProblemCode.HIDDEN_ROW: (E, "The row is hidden in Excel but holds a question; show it or delete it"),
    ProblemCode.HIDDEN_COLUMN: (E, "Column {column} is hidden in Excel but holds data; show it or delete it"),
    ProblemCode.FORMATTED_NUMBER: (
        E,
        "The cell in column {column} holds a date or a number that Excel shows in another form than it is "
        "stored; type it as text (start it with an apostrophe: '50%)",
    ),
    ProblemCode.NUMBERED_LIKE_A_QUESTION: (
        E,
        "Word numbers this paragraph like the questions, but it has no <question> tag; "
        "it was read as part of the question before it — add the tag",
    ),
    ProblemCode.UNKNOWN_COLUMN: (E, "Unknown column “{column}”"),
    ProblemCode.MISSING_COLUMN: (E, "Required column “{column}” is missing"),
    ProblemCode.INVALID_KEY: (E, "The correct answer “{key}” does not name one of the options"),
    ProblemCode.AMBIGUOUS_KEY_LETTER: (
        E,
        "The correct answer “{key}” is a Cyrillic letter: as the Latin letter it looks like it is option {latin}, "
        "in the alphabet's order another option; write the option's number instead",
    ),
    ProblemCode.INVALID_DIFFICULTY: (E, "Difficulty “{value}” is not a whole number from 1 up"),
    ProblemCode.EMPTY_QUESTION: (E, "The question has no text"),
    ProblemCode.EMPTY_OPTION: (E, "Option {option} has no text"),
    ProblemCode.NO_CORRECT_OPTION: (E, "The question has no correct option"),
    ProblemCode.SEVERAL_CORRECT_OPTIONS: (E, "The question has {count} correct options; exactly one is allowed"),
    ProblemCode.TOO_FEW_OPTIONS: (E, "The question has {count} options; at least 2 are needed"),
    ProblemCode.FEWER_OPTIONS_THAN_EXPECTED: (W, "The question has {count} options; {expected} are expected"),
    ProblemCode.MORE_OPTIONS_THAN_EXPECTED: (
        W,
        "The question has {count} options; {expected} are expected — has the start of the next question been lost?",
    ),
    ProblemCode.DUPLICATE_OPTION: (E, "Options {first} and {second} are the same"),
    ProblemCode.OPTIONS_DIFFER_ONLY_IN_CASE: (W, "Options {first} and {second} differ only in letter case"),
    ProblemCode.DUPLICATE_QUESTION: (E, "The same question as question {other} (line {other_line})"),
    ProblemCode.DUPLICATE_OF_EXISTING: (E, "The same question is already in the bank"),
    ProblemCode.KEY_ALWAYS_SAME_POSITION: (
        W,
        "The correct option is always option {position}; students may guess the pattern",
    ),
    ProblemCode.CONTROL_CHARACTER: (E, "The text contains the control character {char}; delete it"),
    ProblemCode.DIRECTION_CHARACTER: (
        E,
        "The text contains the invisible direction mark {char}, which changes how the text is displayed; delete it",
    ),
    ProblemCode.ARCHIVE_TOO_LARGE: (
        E,
        "The file unpacks to more than {limit} MB; at most {limit} MB are accepted",
    ),
    ProblemCode.ARCHIVE_TOO_MANY_PARTS: (E, "The file consists of {count} parts; at most {limit} are accepted"),
    ProblemCode.ARCHIVE_RATIO: (
        E,
        "Part {part} of the file is compressed {ratio} times; at most {limit} times is accepted",
    ),
    ProblemCode.ARCHIVE_DTD: (
        E,
        "Part {part} of the file declares a document type (DTD); Word and Excel never write one: save the file "
        "again from Word or Excel",
    ),
    ProblemCode.ARCHIVE_XML_DEPTH: (
        E,
        "Part {part} of the file nests its elements more than {limit} levels deep: save the file again from Word "
        "or Excel",
    ),
    ProblemCode.ARCHIVE_DAMAGED: (
        E,
        "Part {part} of the file is damaged (its size or checksum does not match): save the file again from Word "
        "or Excel",
    ),
    ProblemCode.TOO_MANY_PARAGRAPHS: (
        E,
        "The document has more than {limit} paragraphs; split it into several files",
    ),
    ProblemCode.TOO_MANY_ROWS: (E, "The sheet goes beyond row {limit}; split it into several files"),
    ProblemCode.TOO_MANY_COLUMNS: (
        E,
        "A value stands in column {column}; only the first {limit} columns are read",
    ),
    ProblemCode.LINE_TOO_LONG: (E, "The text is {length} characters long without a line break; at most {limit}"),
    ProblemCode.TOO_MANY_QUESTIONS: (
        E,
        "The file has more than {limit} questions; split it into several files",
    ),
    ProblemCode.TOO_MANY_OPTIONS: (E, "The question has {count} options; at most {limit} are accepted"),
    ProblemCode.PARSE_TIME_EXCEEDED: (
        E,
        "Reading the file took longer than {seconds} seconds; split it into smaller files",
    ),
    ProblemCode.PARSE_MEMORY_EXCEEDED: (
        E,
        "Reading the file needed more than {limit} MB of memory; split it into smaller files",
    ),
    ProblemCode.PARSE_FAILED: (E, "The file could not be read: the reading stopped unexpectedly"),
    ProblemCode.MISPLACED_ELEMENT: (E, "The element <{tag}> does not belong here; its content was not read"),
    ProblemCode.UNLISTED_FILE: (
        W,
        "The package holds {file}, which imsmanifest.xml does not list; it was not read",
    ),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of an upload check, located by line (or paragraph/row) and question number."""

    code: ProblemCode
    severity: Severity
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int | None = None
    question: int | None = None

    def english(self) -> str:
        """The untranslated message, for logs."""
        return self.msgid.format(**self.params)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": str(self.code),
            "severity": str(self.severity),
            "msgid": self.msgid,
            "params": dict(self.params),
            "line": self.line,
            "question": self.question,
        }


def problem(code: ProblemCode, *, line: int | None = None, question: int | None = None, **params: Any) -> Problem:
    """Build a problem with its fixed severity and msgid."""
    severity, msgid = MESSAGES[code]
    return Problem(code, severity, msgid, params, line, question)
