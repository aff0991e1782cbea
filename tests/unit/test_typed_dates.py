"""The one reader of the dates staff type (admin_ui.dates): Kazakhstan's DD.MM.YYYY, and ISO for scripts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from admin_ui import dates
from exam_engine import api

ALMATY = ZoneInfo("Asia/Almaty")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("07.12.2026", date(2026, 12, 7)),
        ("7.12.2026", date(2026, 12, 7)),
        ("7.1.2027", date(2027, 1, 7)),
        ("  07.12.2026 ", date(2026, 12, 7)),
        ("29.02.2028", date(2028, 2, 29)),
        ("2026-12-07", date(2026, 12, 7)),
    ],
)
def test_a_date_is_read_in_the_kazakh_order_or_iso(typed: str, expected: date) -> None:
    assert dates.read_day(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "31.02.2026",  # no such day
        "29.02.2027",
        "00.12.2026",
        "07.13.2026",
        "12/07/2026",  # the US order is refused, never guessed
        "07-12-2026",
        "07.12.26",
        "07 12 2026",
        "07.12.2026 16:15",  # a date field takes no time
        "2026-12-07T16:15",
        "20261207",
        "сегодня",
    ],
)
def test_anything_else_is_refused_naming_the_expected_form(typed: str) -> None:
    with pytest.raises(dates.DateUnreadable) as refused:
        dates.read_day(typed)
    bad = refused.value
    assert api.translate("ru", bad.msgid, **bad.params) == "Введите дату в виде ДД.ММ.ГГГГ, например 07.12.2026."
    assert api.translate("kk", bad.msgid, **bad.params) == "Күнді КК.АА.ЖЖЖЖ түрінде жазыңыз, мысалы 07.12.2026."


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("07.12.2026 16:15", datetime(2026, 12, 7, 16, 15, tzinfo=ALMATY)),
        ("7.12.2026 9:05", datetime(2026, 12, 7, 9, 5, tzinfo=ALMATY)),
        (" 07.12.2026   16:15 ", datetime(2026, 12, 7, 16, 15, tzinfo=ALMATY)),
        ("07.12.2026, 16:15", datetime(2026, 12, 7, 16, 15, tzinfo=ALMATY)),
        ("07.12.2026 00:00", datetime(2026, 12, 7, 0, 0, tzinfo=ALMATY)),
        ("2026-12-07T16:15", datetime(2026, 12, 7, 16, 15, tzinfo=ALMATY)),
        ("2026-12-07T16:15:30", datetime(2026, 12, 7, 16, 15, 30, tzinfo=ALMATY)),
        ("2026-06-02T09:00:00+05:00", datetime(2026, 6, 2, 9, 0, tzinfo=timezone(timedelta(hours=5)))),
        ("2026-06-02T04:00:00Z", datetime(2026, 6, 2, 9, 0, tzinfo=ALMATY)),
    ],
)
def test_a_date_and_time_is_a_moment_in_almaty_unless_an_offset_says_otherwise(typed: str, expected: datetime) -> None:
    read = dates.read_moment(typed)
    assert read == expected
    assert read.tzinfo is not None


def test_a_typed_moment_means_almaty_wall_clock() -> None:
    assert dates.read_moment("07.12.2026 16:15").astimezone(UTC) == datetime(2026, 12, 7, 11, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "07.12.2026",  # the time is required
        "31.02.2026 16:15",
        "07.12.2026 24:00",
        "07.12.2026 16:60",
        "07.12.2026 4:15 PM",  # 24 h only
        "07.12.2026 1615",
        "12/07/2026, 04:15 PM",
        "2026-12-07",
        "2026-12-07T25:00",
        "07.12.2026 16:15 17:00",
    ],
)
def test_an_unreadable_moment_is_refused_naming_the_expected_form(typed: str) -> None:
    with pytest.raises(dates.DateUnreadable) as refused:
        dates.read_moment(typed)
    bad = refused.value
    assert (
        api.translate("ru", bad.msgid, **bad.params)
        == "Введите дату и время в виде ДД.ММ.ГГГГ ЧЧ:ММ, например 07.12.2026 16:15."
    )
    assert (
        api.translate("kk", bad.msgid, **bad.params)
        == "Күн мен уақытты КК.АА.ЖЖЖЖ СС:ММ түрінде жазыңыз, мысалы 07.12.2026 16:15."
    )


def test_values_are_shown_back_the_way_the_fields_write_them() -> None:
    assert dates.day_text(date(2026, 1, 7)) == "07.01.2026"
    assert dates.moment_text(datetime(2026, 12, 7, 11, 15, tzinfo=UTC)) == "07.12.2026 16:15"
    assert dates.shown_day("2026-12-07") == "07.12.2026"
    assert dates.shown_day("7.12.2026") == "07.12.2026"
    assert dates.shown_day("31.02.2026") == "31.02.2026"  # unreadable: as typed, next to its error
    assert dates.shown_moment("2026-06-02T09:00") == "02.06.2026 09:00"
    assert dates.shown_moment("7.12.2026 9:05") == "07.12.2026 09:05"
    assert dates.shown_moment("завтра") == "завтра"


def test_the_field_shapes_are_in_the_readers_letters() -> None:
    assert api.translate("ru", dates.DAY_FORMAT) == "ДД.ММ.ГГГГ"
    assert api.translate("kk", dates.DAY_FORMAT) == "КК.АА.ЖЖЖЖ"
    assert api.translate("ru", dates.MOMENT_FORMAT) == "ДД.ММ.ГГГГ ЧЧ:ММ"
    assert api.translate("kk", dates.MOMENT_FORMAT) == "КК.АА.ЖЖЖЖ СС:ММ"
