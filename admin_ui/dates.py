"""Dates and times typed on staff pages, written the way Kazakhstan writes them.

Chromium draws ``<input type="date">`` in the browser's own language and order ("mm/dd/yyyy",
"AM/PM" on an English computer), whatever the page's language: the pages use plain text fields
instead, ``ДД.ММ.ГГГГ`` / ``КК.АА.ЖЖЖЖ`` and ``ДД.ММ.ГГГГ ЧЧ:ММ`` / ``КК.АА.ЖЖЖЖ СС:ММ`` (24 h),
and this module is the one reader of them. It also takes ISO (``2026-12-07``,
``2026-12-07T16:15``, with seconds or an offset), so scripts keep working. A date-time without an
offset is a moment in Almaty. A value it cannot read raises ``DateUnreadable`` with the message
naming the expected form; never a guess (``12/07/2026`` is refused, not read as either day).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from exam_engine.i18n import N_, translate

from .routes import DISPLAY_TZ

DAY_FORMAT = N_("DD.MM.YYYY")
MOMENT_FORMAT = N_("DD.MM.YYYY HH:MM")
DAY_EXAMPLE = "07.12.2026"
MOMENT_EXAMPLE = "07.12.2026 16:15"
DAY_EXPECTED = N_("Enter the date as DD.MM.YYYY, for example {example}.")
MOMENT_EXPECTED = N_("Enter the date and time as DD.MM.YYYY HH:MM, for example {example}.")

_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?")


class DateUnreadable(ValueError):
    """The text is not a date (or a date and time) in a form the page accepts."""

    def __init__(self, msgid: str, example: str) -> None:
        super().__init__(msgid)
        self.msgid, self.params = msgid, {"example": example}

    def text(self, language: str) -> str:
        return translate(language, self.msgid, **self.params)


def _dotted_day(text: str) -> date | None:
    found = _DOTTED.fullmatch(text)
    if found is None:
        return None
    day, month, year = (int(g) for g in found.groups())
    try:
        return date(year, month, day)
    except ValueError:  # 31.02.2026, 00.12.2026, 07.13.2026
        return None


def read_day(raw: str) -> date:
    """``07.12.2026``, ``7.12.2026`` or ``2026-12-07``; surrounding spaces are ignored."""
    text = raw.strip()
    value = _dotted_day(text)
    if value is None and _ISO_DAY.fullmatch(text):
        try:
            value = date.fromisoformat(text)
        except ValueError:
            value = None
    if value is None:
        raise DateUnreadable(DAY_EXPECTED, DAY_EXAMPLE)
    return value


def read_moment(raw: str) -> datetime:
    """``07.12.2026 16:15`` or ISO ``2026-12-07T16:15``: an aware moment, Almaty unless an offset is given."""
    text = raw.strip()
    value: datetime | None = None
    parts = text.replace(",", " ").split()
    if len(parts) == 2 and (day := _dotted_day(parts[0])) is not None and (clock := _CLOCK.fullmatch(parts[1])):
        hour, minute = int(clock.group(1)), int(clock.group(2))
        if hour < 24 and minute < 60:
            value = datetime(day.year, day.month, day.day, hour, minute)
    elif _ISO_MOMENT.fullmatch(text):
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            value = None
    if value is None:
        raise DateUnreadable(MOMENT_EXPECTED, MOMENT_EXAMPLE)
    return value.replace(tzinfo=ZoneInfo(DISPLAY_TZ)) if value.tzinfo is None else value


def day_text(value: date) -> str:
    """A date as the fields show it: ``07.12.2026``."""
    return value.strftime("%d.%m.%Y")


def moment_text(value: datetime) -> str:
    """A moment as the fields show it, on Almaty's clock: ``07.12.2026 16:15``."""
    local = value.astimezone(ZoneInfo(DISPLAY_TZ)) if value.tzinfo else value
    return local.strftime("%d.%m.%Y %H:%M")


def shown_day(raw: str) -> str:
    """A typed date re-displayed after a refusal: in the page's form when readable, else as typed."""
    try:
        return day_text(read_day(raw))
    except DateUnreadable:
        return raw


def shown_moment(raw: str) -> str:
    """A typed date-time re-displayed after a refusal: in the page's form when readable, else as typed."""
    try:
        return moment_text(read_moment(raw))
    except DateUnreadable:
        return raw
