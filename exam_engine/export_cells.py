"""Text bound for a spreadsheet, a CSV or a PDF: one rule for every export.

Two dangers come with names and titles typed by people (or pasted from Word):

* **Formula injection** (OWASP "CSV Injection"): a cell that starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return is read by Excel and LibreOffice as a formula;
  a student named ``=HYPERLINK("http://…"&A1,"Open")`` becomes a live link that sends the
  sheet's contents away. In CSV such a text gets a leading apostrophe (the spreadsheet
  then shows it as text); in XLSX the cell is stored as a *string* (never a formula) with
  Excel's quote-prefix flag, so the reader sees exactly what was typed.
* **Characters XML cannot hold**: Word's soft line break (``\\x0b``), a form feed, the
  separators ``\\x1c``–``\\x1f`` and the other C0 controls, lone surrogates. openpyxl
  refuses them (an export that fails is a 500) and a PDF shows boxes. Line breaks become
  a space; the rest are dropped, since they were never visible.

Every exporter (``journal_bridge``'s statement and grid, ``question_bank``'s item
analysis) writes its text through these functions. This module imports nothing of ours
(like ``exam_engine.db``), so the packages that may only import that far can use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

# openpyxl's ILLEGAL_CHARACTERS_RE (C0 controls except tab, LF and CR), plus what UTF-8 or
# XML 1.0 cannot carry either: lone surrogates and the non-characters U+FFFE, U+FFFF.
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = {"\x0b": " ", "\x0c": " "}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SHEET_TITLE_BAD = re.compile(r"[\\/*?:\[\]]")


def clean_text(text: str) -> str:
    """``text`` without characters XML (hence XLSX and PDF) cannot hold; soft line breaks become spaces."""
    return ILLEGAL.sub(lambda m: _LINE_BREAKS.get(m.group(0), ""), text)


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_START)


def csv_text(value: Any) -> str:
    """One CSV cell: numbers as they are, text cleaned and, if it could start a formula, prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    text = clean_text(str(value))
    return "'" + text if is_formula_like(text) else text


def csv_row(values: Iterable[Any]) -> list[str]:
    return [csv_text(v) for v in values]


def pdf_text(value: Any) -> str:
    """Text for a PDF paragraph (no formula risk there; only the characters a PDF cannot show)."""
    return "" if value is None else clean_text(str(value))


def xlsx_value(value: Any) -> Any:
    """A value for a worksheet cell: text cleaned, everything else unchanged."""
    return clean_text(value) if isinstance(value, str) else value


def append_row(sheet: Any, values: Iterable[Any]) -> None:
    """``sheet.append`` with every text cell stored as text: never a formula, whatever it starts with."""
    sheet.append([xlsx_value(v) for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str) and is_formula_like(cell.value):
            cell.data_type = "s"  # openpyxl made it a formula ("f") because of the leading "="
            cell.quotePrefix = True  # and Excel keeps it text when someone edits the cell


def sheet_title(text: str, fallback: str) -> str:
    """A worksheet title Excel accepts: no ``\\ / * ? : [ ]`` or control characters, at most 31 characters."""
    title = _SHEET_TITLE_BAD.sub(" ", clean_text(text)).replace("\t", " ").replace("\n", " ").replace("\r", " ")
    title = title.strip().strip("'")[:31].strip()
    return title or fallback
