"""Journal cells: an integer score 0–100 or an attendance mark (J3).

The Academy's marks (001 §6) are ж (жұмыс, on duty), а (ауру, ill), дс (дәлелсіз себеп,
unexcused), д (демалыс, leave) and қ (қатыспады, did not attend). They are stored as
language-neutral codes (``duty``, ``ill``…) so a renamed label never rewrites history;
the regulation's symbols are shown in both languages, and what a teacher types is
matched against each mark's aliases (the symbol, the code, the usual Russian
abbreviations б/о/н). The set is configuration: an institution can
add, drop or relabel marks with :meth:`MarkSet.from_dict`.

A mark never counts as a score unless its ``score_equivalent`` says so (e.g. an
institution that counts an unexcused absence as 0 in the current-control average).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from journal_bridge.errors import CellInvalid, MarkSetInvalid

# Latin letters a teacher's keyboard layout may slip in for the Cyrillic ones of a mark.
_HOMOGLYPHS = str.maketrans({"a": "а", "A": "а"})


@dataclass(frozen=True, slots=True)
class MarkDefinition:
    """One attendance mark: its stable code, display symbols and labels."""

    code: str
    symbol_kk: str
    symbol_ru: str
    label_kk: str
    label_ru: str
    aliases: tuple[str, ...] = ()
    score_equivalent: int | None = None

    def symbol(self, language: str) -> str:
        return self.symbol_ru if language == "ru" else self.symbol_kk

    def label(self, language: str) -> str:
        return self.label_ru if language == "ru" else self.label_kk


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().casefold().translate(_HOMOGLYPHS)


@dataclass(frozen=True, slots=True)
class MarkSet:
    """The marks an institution uses; every typed alias maps to exactly one mark."""

    marks: tuple[MarkDefinition, ...]

    def __post_init__(self) -> None:
        if not self.marks:
            raise MarkSetInvalid("marks_empty")
        owners: dict[str, str] = {}
        for mark in self.marks:
            if not mark.code or not mark.code.isidentifier():
                raise MarkSetInvalid("mark_code_invalid", code=mark.code)
            ev = mark.score_equivalent
            if ev is not None and (isinstance(ev, bool) or not isinstance(ev, int) or not 0 <= ev <= 100):
                raise MarkSetInvalid("mark_equivalent_invalid", code=mark.code, value=ev)
            for alias in self._aliases_of(mark):
                if not alias or alias.isdigit():
                    raise MarkSetInvalid("mark_alias_invalid", code=mark.code, alias=alias)
                if owners.setdefault(alias, mark.code) != mark.code:
                    raise MarkSetInvalid("mark_alias_clash", alias=alias, first=owners[alias], second=mark.code)

    @staticmethod
    def _aliases_of(mark: MarkDefinition) -> set[str]:
        return {_normalise(a) for a in (mark.code, mark.symbol_kk, mark.symbol_ru, *mark.aliases)}

    def get(self, code: str) -> MarkDefinition:
        for mark in self.marks:
            if mark.code == code:
                return mark
        raise CellInvalid("mark_unknown", value=code, allowed=self.allowed_symbols())

    def lookup(self, typed: str) -> MarkDefinition | None:
        key = _normalise(typed)
        for mark in self.marks:
            if key in self._aliases_of(mark):
                return mark
        return None

    def allowed_symbols(self) -> str:
        return ", ".join(m.symbol_kk for m in self.marks)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MarkSet:
        """``{"marks": [{"code", "symbol_kk", "symbol_ru", "label_kk", "label_ru", "aliases"?,
        "score_equivalent"?}, …]}``."""
        raw = data.get("marks") if isinstance(data, Mapping) else None
        if not isinstance(raw, list):
            raise MarkSetInvalid("marks_empty")
        required = ("code", "symbol_kk", "symbol_ru", "label_kk", "label_ru")
        marks = []
        for entry in raw:
            if not isinstance(entry, Mapping) or any(not isinstance(entry.get(k), str) for k in required):
                code = entry.get("code") if isinstance(entry, Mapping) else entry
                raise MarkSetInvalid("mark_code_invalid", code=code)
            marks.append(
                MarkDefinition(
                    code=entry["code"],
                    symbol_kk=entry["symbol_kk"],
                    symbol_ru=entry["symbol_ru"],
                    label_kk=entry["label_kk"],
                    label_ru=entry["label_ru"],
                    aliases=tuple(entry.get("aliases", ())),
                    score_equivalent=entry.get("score_equivalent"),
                )
            )
        return cls(tuple(marks))


DEFAULT_MARKS = MarkSet(
    (
        MarkDefinition("duty", "ж", "ж", "жұмыс", "служебная занятость"),
        MarkDefinition("ill", "а", "а", "ауру", "болезнь", ("б",)),
        MarkDefinition("unexcused", "дс", "дс", "дәлелсіз себеп", "неуважительная причина"),
        MarkDefinition("leave", "д", "д", "демалыс", "отпуск", ("о",)),
        MarkDefinition("absent", "қ", "қ", "қатыспады", "не присутствовал(а)", ("н", "нб")),
    )
)


@dataclass(frozen=True, slots=True)
class Cell:
    """A journal cell: exactly one of ``score`` (0–100) and ``mark`` (a mark code)."""

    score: int | None = None
    mark: str | None = None

    def __post_init__(self) -> None:
        if (self.score is None) == (self.mark is None):
            raise CellInvalid("cell_empty")
        if self.score is not None and (isinstance(self.score, bool) or not isinstance(self.score, int)):
            raise CellInvalid("cell_not_integer", value=self.score)
        if self.score is not None and not 0 <= self.score <= 100:
            raise CellInvalid("cell_out_of_range", value=self.score)

    def display(self, language: str, marks: MarkSet = DEFAULT_MARKS) -> str:
        return str(self.score) if self.mark is None else marks.get(self.mark).symbol(language)


def parse_cell(text: str, marks: MarkSet = DEFAULT_MARKS) -> Cell:
    """What a teacher typed, as a cell; a precise :class:`CellInvalid` otherwise."""
    typed = unicodedata.normalize("NFC", text).strip()
    if not typed:
        raise CellInvalid("cell_empty")
    digits = typed.lstrip("+-")
    if digits.isdecimal() and digits.isascii():
        value = int(typed)
        if not 0 <= value <= 100:
            raise CellInvalid("cell_out_of_range", value=typed)
        return Cell(score=value)
    if any(c.isdigit() for c in typed):
        raise CellInvalid("cell_not_integer", value=typed)
    mark = marks.lookup(typed)
    if mark is None:
        raise CellInvalid("mark_unknown", value=typed, allowed=marks.allowed_symbols())
    return Cell(mark=mark.code)


def current_control(cells: Iterable[Cell], marks: MarkSet = DEFAULT_MARKS) -> int | None:
    """Average of a student's lesson scores, half up; None when nothing counts yet.

    Marks count only through their ``score_equivalent``; the others are attendance.
    """
    counted = [c.score if c.mark is None else marks.get(c.mark).score_equivalent for c in cells]
    values = [v for v in counted if v is not None]
    if not values:
        return None
    return (2 * sum(values) + len(values)) // (2 * len(values))
