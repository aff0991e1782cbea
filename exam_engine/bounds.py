"""Bounds of every number a person types, in one place.

A number a person types (extra minutes, a duration, a score, a batch size, an interval)
is checked against its :class:`Bound` where it enters — the API's ``field()`` helper and
the services that pages and the CLI call — and the same bound is written into the
OpenAPI document (``minimum``/``maximum``), so a client sees the range before it asks.

Why every number needs one: an unbounded integer is stored, and later arithmetic with it
fails — ``2**53 - 1`` extra minutes were accepted and then every start of that student was an
``OverflowError`` (500) on SQLite, while PostgreSQL refused the ``INTEGER`` column at once (500).
An out-of-range number is a 422 naming the field and the range, in the reader's language,
and nothing is stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .domain.exam_day import MAX_GRANT_MINUTES, MAX_MULTIPLIER_PCT
from .errors import InvalidInput
from .i18n import N_, Word

OUT_OF_RANGE = "out_of_range"


@dataclass(frozen=True)
class Bound:
    """An inclusive range; ``integer=False`` accepts any finite JSON number (ints too)."""

    low: float
    high: float
    integer: bool = True
    description: str = ""

    def check(self, value: Any, field: str) -> Any:
        """``value`` if it is of the kind and within the range, else a 422 naming ``field``."""
        if isinstance(value, bool) or not isinstance(value, (int, float) if not self.integer else int):
            expected = Word(N_("integer")) if self.integer else Word(N_("number"))
            raise InvalidInput(
                "invalid_field", N_("Field «{field}» must be a {expected}."), field=field, expected=expected
            )
        if isinstance(value, float) and not math.isfinite(value) or not self.low <= value <= self.high:
            raise self.refusal(field)
        return value

    def refusal(self, field: str) -> InvalidInput:
        if self.integer:
            return InvalidInput(
                OUT_OF_RANGE,
                N_("Field «{field}» must be a whole number from {low} to {high}."),
                field=field,
                low=_plain(self.low),
                high=_plain(self.high),
            )
        return InvalidInput(
            OUT_OF_RANGE,
            N_("Field «{field}» must be a number from {low} to {high}."),
            field=field,
            low=_plain(self.low),
            high=_plain(self.high),
        )

    def schema(self, *, nullable: bool = False) -> dict[str, Any]:
        """The JSON Schema of a body field with this bound (OpenAPI 3.1)."""
        kind = "integer" if self.integer else "number"
        out: dict[str, Any] = {
            "type": [kind, "null"] if nullable else kind,
            "minimum": _plain(self.low),
            "maximum": _plain(self.high),
        }
        if self.description:
            out["description"] = self.description
        return out


FIRST_YEAR, LAST_YEAR = 2000, 2100
"""Dates and times a person types (exam windows, reschedules) lie in these years: year 1 or 9999 with
a time zone cannot even be converted to UTC (``OverflowError``, a 500 when it was stored)."""


def moment(value: datetime, field: str) -> datetime:
    """``value`` if its year is within FIRST_YEAR..LAST_YEAR, else a 422 naming ``field``."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InvalidInput(
            OUT_OF_RANGE,
            N_("Field «{field}» must be a date and time between the years {low} and {high}."),
            field=field,
            low=FIRST_YEAR,
            high=LAST_YEAR,
        )
    return value


def _plain(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


# The largest integer a browser's JSON keeps exactly; anything bigger is not a real id or count.
MAX_SAFE_INT = 2**53 - 1

# ---- time given to a student ----------------------------------------------------------------
# The exam-day grant's bound (600 minutes): ten hours on top of an exam is already more than any
# accommodation in the regulations; extra time decided before the start has the same.
EXTRA_MINUTES = Bound(0, MAX_GRANT_MINUTES, description="extra minutes decided before the start (0 removes them)")
GRANT_MINUTES = Bound(1, MAX_GRANT_MINUTES, description="minutes added to a running attempt")
DURATION_MINUTES = Bound(1, 24 * 60, description="the exam's duration in minutes")
MULTIPLIER = Bound(
    1,
    MAX_MULTIPLIER_PCT / 100,
    integer=False,
    description="time multiplier of an accommodation (more than 1, at most 4)",
)
# ---- an exam's contents ---------------------------------------------------------------------
QUESTION_COUNT = Bound(1, 500)
PASS_SCORE = Bound(0, 100, description="the minimum exam score (0-100) that passes")
BLUEPRINT_COUNT = Bound(1, 500)
DIFFICULTY = Bound(0, 100)
CREDITS = Bound(1, 60)
BANK_VERSION_ID = Bound(1, MAX_SAFE_INT)
ID = Bound(1, MAX_SAFE_INT, description="an identifier")
SEEN_DECISION = Bound(0, MAX_SAFE_INT, description="the id of the newest decision the reviewer saw (0: none)")
# ---- the student's page (the autosave checks these in its own rules; here for the document) -----
ANSWER_CHOICE = Bound(0, 2**15 - 1, description="index of the chosen option as served (null clears)")
BANK_OPTION = Bound(0, 11, description="a bank option's index, 0-based")
SEQUENCE = Bound(1, MAX_SAFE_INT, description="the page's sequence number of this answer, increasing")
# ---- operations -----------------------------------------------------------------------------
PREPARE_LIMIT = Bound(1, 2000, description="forms prepared in one batch")
SILENT_AFTER_S = Bound(5, 3600, integer=False)
FRAME_INTERVAL_S = Bound(1, 120, integer=False, description="seconds between webcam frames")
SCREEN_INTERVAL_S = Bound(2, 600, integer=False, description="seconds between screenshots")
