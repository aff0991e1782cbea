"""The grading scale: one configuration per institution (J1, J10).

A scale is thresholds (admission ≥ 50 to sit, exam ≥ 50 to pass), the admission share
of the total (60 %), the admission-rating weights, and letter bands that cover every
integer 0–100 exactly once, each with its GPA and its traditional grade in kk and ru.

It is built from a plain dict (or JSON text) so an institution can ship its own;
missing fields take the defaults below and unknown fields are refused (a typo must not
silently fall back to a default). A constructed :class:`GradingScale` is always
valid: the checks run in ``__post_init__`` and fail with a precise :class:`ScaleInvalid`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from journal_bridge.errors import GradeInvalid, ScaleInvalid

LANGUAGES = ("kk", "ru")


@dataclass(frozen=True, slots=True)
class LetterBand:
    """Totals ``low``–``high`` (inclusive) earn ``letter`` with ``gpa`` points."""

    letter: str
    low: int
    high: int
    gpa: Decimal
    traditional_kk: str
    traditional_ru: str

    def traditional(self, language: str) -> str:
        return self.traditional_ru if language == "ru" else self.traditional_kk


@dataclass(frozen=True, slots=True)
class AdmissionWeights:
    """Integer weights of current control and the two midterms in the admission rating."""

    current: int = 2
    midterm1: int = 1
    midterm2: int = 1


_GOOD = ("өте жақсы", "отлично")
_FINE = ("жақсы", "хорошо")
_FAIR = ("қанағаттанарлық", "удовлетворительно")
_POOR = ("қанағаттанарлықсыз", "неудовлетворительно")
_DEFAULT_BANDS = tuple(
    LetterBand(letter, low, high, Decimal(gpa), *words)
    for letter, low, high, gpa, words in (
        ("A", 95, 100, "4.00", _GOOD),
        ("A-", 90, 94, "3.67", _GOOD),
        ("B+", 85, 89, "3.33", _FINE),
        ("B", 80, 84, "3.00", _FINE),
        ("B-", 75, 79, "2.67", _FINE),
        ("C+", 70, 74, "2.33", _FINE),
        ("C", 65, 69, "2.00", _FAIR),
        ("C-", 60, 64, "1.67", _FAIR),
        ("D+", 55, 59, "1.33", _FAIR),
        ("D", 50, 54, "1.00", _FAIR),
        ("FX", 25, 49, "0.50", _POOR),
        ("F", 0, 24, "0.00", _POOR),
    )
)


def _in_range(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ScaleInvalid("scale_value_invalid", field=name, expected=f"an integer {low}–{high}", value=value)


@dataclass(frozen=True, slots=True)
class GradingScale:
    """An institution's thresholds, total formula and letter bands (best band first)."""

    bands: tuple[LetterBand, ...] = _DEFAULT_BANDS
    admission_threshold: int = 50
    exam_threshold: int = 50
    admission_share: int = 60
    admission_weights: AdmissionWeights = field(default_factory=AdmissionWeights)

    def __post_init__(self) -> None:
        _in_range("admission_threshold", self.admission_threshold, 0, 100)
        _in_range("exam_threshold", self.exam_threshold, 0, 100)
        _in_range("admission_share", self.admission_share, 1, 99)
        w = self.admission_weights
        for name in ("current", "midterm1", "midterm2"):
            _in_range(f"admission_weights.{name}", getattr(w, name), 0, 1000)
        if w.current + w.midterm1 + w.midterm2 == 0:
            raise ScaleInvalid("scale_value_invalid", field="admission_weights", expected="a positive sum", value=0)
        object.__setattr__(self, "bands", _checked_bands(self.bands))
        edge = self.minimum_passing_total
        if not any(b.low == edge for b in self.bands):
            raise ScaleInvalid("scale_pass_edge_misaligned", total=edge)

    @property
    def minimum_passing_total(self) -> int:
        """The lowest total a passing student can have (50 by default): bands from it up pass."""
        p = self.admission_share
        return (p * self.admission_threshold + (100 - p) * self.exam_threshold + 50) // 100

    def band_for(self, total: int) -> LetterBand:
        """The band holding ``total`` (always one: the bands cover 0–100)."""
        for band in self.bands:
            if band.low <= total <= band.high:
                return band
        raise GradeInvalid("score_out_of_range", field="total", value=total)

    def band(self, letter: str) -> LetterBand:
        wanted = letter.strip().upper()
        for band in self.bands:
            if band.letter.upper() == wanted:
                return band
        raise GradeInvalid("grade_unknown_letter", letter=letter, letters=", ".join(b.letter for b in self.bands))

    def passing_bands(self) -> tuple[LetterBand, ...]:
        return tuple(b for b in self.bands if b.low >= self.minimum_passing_total)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradingScale:
        """A scale from plain data; see the module doc for the shape and the defaults."""
        if not isinstance(data, Mapping):
            raise ScaleInvalid("scale_not_object")
        known = {"bands", "admission_threshold", "exam_threshold", "admission_share", "admission_weights"}
        for key in data:
            if key not in known:
                raise ScaleInvalid("scale_unknown_field", field=key)
        kwargs: dict[str, Any] = {k: data[k] for k in known - {"bands", "admission_weights"} if k in data}
        if "admission_weights" in data:
            weights = data["admission_weights"]
            if not isinstance(weights, Mapping) or set(weights) - {"current", "midterm1", "midterm2"}:
                raise ScaleInvalid(
                    "scale_value_invalid",
                    field="admission_weights",
                    expected="an object with current, midterm1, midterm2",
                    value=weights,
                )
            kwargs["admission_weights"] = AdmissionWeights(**weights)
        if "bands" in data:
            raw = data["bands"]
            if not isinstance(raw, list):
                raise ScaleInvalid("scale_value_invalid", field="bands", expected="a list", value=raw)
            kwargs["bands"] = tuple(_band_from_dict(i, b) for i, b in enumerate(raw, start=1))
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str | bytes) -> GradingScale:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ScaleInvalid("scale_json_invalid", detail=str(exc)) from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal scale."""
        w = self.admission_weights
        return {
            "admission_threshold": self.admission_threshold,
            "exam_threshold": self.exam_threshold,
            "admission_share": self.admission_share,
            "admission_weights": {"current": w.current, "midterm1": w.midterm1, "midterm2": w.midterm2},
            "bands": [
                {
                    "letter": b.letter,
                    "low": b.low,
                    "high": b.high,
                    "gpa": str(b.gpa),
                    "traditional": {"kk": b.traditional_kk, "ru": b.traditional_ru},
                }
                for b in self.bands
            ],
        }


def _band_from_dict(index: int, raw: object) -> LetterBand:
    if not isinstance(raw, Mapping):
        raise ScaleInvalid("scale_value_invalid", field=f"bands[{index}]", expected="an object", value=raw)
    for name in ("letter", "low", "high", "gpa", "traditional"):
        if name not in raw:
            raise ScaleInvalid("scale_field_missing", index=index, field=name)
    letter = raw["letter"]
    if not isinstance(letter, str) or not letter.strip():
        raise ScaleInvalid("scale_value_invalid", field=f"bands[{index}].letter", expected="a letter", value=letter)
    gpa = raw["gpa"]
    try:
        points = Decimal(str(gpa)) if not isinstance(gpa, bool) else Decimal("NaN")
    except InvalidOperation:
        points = Decimal("NaN")
    if not points.is_finite() or points < 0:
        raise ScaleInvalid("scale_value_invalid", field=f"bands[{index}].gpa", expected="a number ≥ 0", value=gpa)
    words = raw["traditional"]
    if not isinstance(words, Mapping):
        words = {}
    for language in LANGUAGES:
        if not isinstance(words.get(language), str) or not words[language].strip():
            raise ScaleInvalid("scale_traditional_missing", letter=letter, language=language)
    return LetterBand(letter.strip(), raw["low"], raw["high"], points, words["kk"], words["ru"])


def _checked_bands(bands: tuple[LetterBand, ...]) -> tuple[LetterBand, ...]:
    """Bands sorted best first, after proving they tile 0–100 with no gap or overlap."""
    if not bands:
        raise ScaleInvalid("scale_empty")
    seen: set[str] = set()
    for b in bands:
        _in_range(f"{b.letter}.low", b.low, 0, 100)
        _in_range(f"{b.letter}.high", b.high, 0, 100)
        if b.low > b.high:
            raise ScaleInvalid("scale_band_inverted", letter=b.letter, low=b.low, high=b.high)
        if b.letter.upper() in seen:
            raise ScaleInvalid("scale_duplicate_letter", letter=b.letter)
        seen.add(b.letter.upper())
    ascending = sorted(bands, key=lambda b: (b.low, b.high))
    if ascending[0].low > 0:
        raise ScaleInvalid("scale_gap", low=0, high=ascending[0].low - 1)
    for lower, upper in pairwise(ascending):
        if upper.low <= lower.high:
            raise ScaleInvalid(
                "scale_overlap",
                first=lower.letter,
                second=upper.letter,
                low=upper.low,
                high=min(lower.high, upper.high),
            )
        if upper.low > lower.high + 1:
            raise ScaleInvalid("scale_gap", low=lower.high + 1, high=upper.low - 1)
        if upper.gpa < lower.gpa:
            raise ScaleInvalid("scale_gpa_not_monotonic", letter=lower.letter, better=upper.letter)
    if ascending[-1].high < 100:
        raise ScaleInvalid("scale_gap", low=ascending[-1].high + 1, high=100)
    return tuple(reversed(ascending))


DEFAULT_SCALE = GradingScale()
