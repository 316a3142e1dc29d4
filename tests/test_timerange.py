"""Symbolic time ranges resolved in the asker's zone, following the question conventions (Clock and time zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from heliqa.agent.timerange import DEFAULT_RANGE, TimeRange, resolve, tz_difference, zone
from heliqa.tools.errors import ConfigError, HeliqaError

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday
NY, BERLIN, KOLKATA, Z_UTC = (ZoneInfo(z) for z in ("America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC"))


def window(rng: TimeRange, tz: ZoneInfo, now: datetime = NOW) -> tuple[str, str, int]:
    time_filter, difference = resolve(rng, now, tz)
    return time_filter.start, time_filter.end, difference


@pytest.mark.parametrize(
    ("tz", "now", "minutes"),
    [
        (NY, NOW, 300),
        (BERLIN, NOW, -60),
        (KOLKATA, NOW, -330),
        (Z_UTC, NOW, 0),
        (NY, datetime(2026, 7, 15, 12, tzinfo=UTC), 240),
        (BERLIN, datetime(2026, 7, 15, 12, tzinfo=UTC), -120),
        (ZoneInfo("Asia/Kathmandu"), NOW, -345),
        (ZoneInfo("America/St_Johns"), NOW, 210),
    ],
)
def test_time_zone_difference_is_utc_minus_local_at_now(tz, now, minutes):
    assert tz_difference(now, tz) == minutes


@pytest.mark.parametrize(
    ("rng", "start"),
    [
        (TimeRange(kind="last", n=15, unit="minutes"), "2026-11-24T11:45:00.000Z"),
        (TimeRange(kind="last", n=1, unit="hours"), "2026-11-24T11:00:00.000Z"),
        (TimeRange(kind="last", n=24, unit="hours"), "2026-11-23T12:00:00.000Z"),
        (TimeRange(kind="last", n=7, unit="days"), "2026-11-17T12:00:00.000Z"),
        (TimeRange(kind="last", n=2, unit="weeks"), "2026-11-10T12:00:00.000Z"),
        (TimeRange(kind="last", n=1, unit="months"), "2026-10-25T12:00:00.000Z"),  # a month is 30 days
        (TimeRange(kind="last", n=1, unit="years"), "2025-11-24T12:00:00.000Z"),
        (DEFAULT_RANGE, "2026-11-23T12:00:00.000Z"),
    ],
)
def test_rolling_ranges_end_now_in_any_zone(rng, start):
    for tz in (NY, KOLKATA):
        assert window(rng, tz)[:2] == (start, "2026-11-24T12:00:00.000Z")


@pytest.mark.parametrize(
    ("kind", "tz", "start", "end"),
    [
        ("today", NY, "2026-11-24T05:00:00.000Z", "2026-11-24T12:00:00.000Z"),
        ("today", BERLIN, "2026-11-23T23:00:00.000Z", "2026-11-24T12:00:00.000Z"),
        ("today", KOLKATA, "2026-11-23T18:30:00.000Z", "2026-11-24T12:00:00.000Z"),
        ("yesterday", NY, "2026-11-23T05:00:00.000Z", "2026-11-24T05:00:00.000Z"),
        ("yesterday", KOLKATA, "2026-11-22T18:30:00.000Z", "2026-11-23T18:30:00.000Z"),
        ("this_week", NY, "2026-11-23T05:00:00.000Z", "2026-11-24T12:00:00.000Z"),  # Monday
        ("this_week", BERLIN, "2026-11-22T23:00:00.000Z", "2026-11-24T12:00:00.000Z"),
        # One offset for the whole range, taken at now (New York was still on EDT at 2026-11-01 00:00).
        ("this_month", NY, "2026-11-01T05:00:00.000Z", "2026-11-24T12:00:00.000Z"),
        ("this_month", KOLKATA, "2026-10-31T18:30:00.000Z", "2026-11-24T12:00:00.000Z"),
        ("this_year", BERLIN, "2025-12-31T23:00:00.000Z", "2026-11-24T12:00:00.000Z"),
    ],
)
def test_calendar_ranges_start_at_local_midnight(kind, tz, start, end):
    assert window(TimeRange(kind=kind), tz) == (start, end, tz_difference(NOW, tz))


def test_a_late_evening_in_new_york_is_still_the_same_local_day():
    late = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)  # 22:30 on Nov 24 in New York
    assert window(TimeRange(kind="today"), NY, late)[0] == "2026-11-24T05:00:00.000Z"
    assert window(TimeRange(kind="today"), Z_UTC, late)[0] == "2026-11-25T00:00:00.000Z"


def test_this_week_on_a_monday_morning_and_a_sunday_night():
    monday = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday 01:00 in New York
    assert window(TimeRange(kind="this_week"), NY, monday)[0] == "2026-11-23T05:00:00.000Z"
    sunday = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # still Sunday 23:00 in New York
    assert window(TimeRange(kind="this_week"), NY, sunday)[0] == "2026-11-16T05:00:00.000Z"


@pytest.mark.parametrize(
    ("tz", "start", "end"),
    [
        (NY, "2026-11-19T05:00:00.000Z", "2026-11-20T05:00:00.000Z"),
        (BERLIN, "2026-11-18T23:00:00.000Z", "2026-11-19T23:00:00.000Z"),
        (KOLKATA, "2026-11-18T18:30:00.000Z", "2026-11-19T18:30:00.000Z"),
    ],
)
def test_a_named_day_is_the_whole_local_day(tz, start, end):
    assert window(TimeRange(kind="day", day=date(2026, 11, 19)), tz)[:2] == (start, end)


def test_between_and_since_are_local_wall_clock_times():
    rng = TimeRange(kind="between", start=datetime(2026, 11, 18, 9), end=datetime(2026, 11, 18, 17))
    assert window(rng, NY)[:2] == ("2026-11-18T14:00:00.000Z", "2026-11-18T22:00:00.000Z")
    assert window(rng, KOLKATA)[:2] == ("2026-11-18T03:30:00.000Z", "2026-11-18T11:30:00.000Z")
    since = TimeRange(kind="since", start=datetime(2026, 11, 24, 6, 30))
    assert window(since, NY)[:2] == ("2026-11-24T11:30:00.000Z", "2026-11-24T12:00:00.000Z")


def test_now_in_another_zone_is_the_same_instant():
    elsewhere = NOW.astimezone(timezone(timedelta(hours=9)))
    assert window(TimeRange(kind="today"), NY, elsewhere) == window(TimeRange(kind="today"), NY)


def test_a_range_that_starts_after_now_is_an_error():
    with pytest.raises(HeliqaError) as info:
        resolve(TimeRange(kind="since", start=datetime(2026, 11, 25, 9)), NOW, NY)
    assert "starts after now" in str(info.value).lower() and "2026-11-24T12:00:00Z" in str(info.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "last"},
        {"kind": "last", "n": 3},
        {"kind": "last", "unit": "days"},
        {"kind": "day"},
        {"kind": "between", "start": "2026-11-18T09:00:00"},
        {"kind": "since"},
        {"kind": "between", "start": "2026-11-18T17:00:00", "end": "2026-11-18T09:00:00"},
        {"kind": "last", "n": 0, "unit": "days"},
        {"kind": "last", "n": 3, "unit": "fortnights"},
        {"kind": "tomorrow"},
        {"kind": "today", "extra": 1},
    ],
)
def test_incomplete_or_wrong_ranges_are_rejected(fields):
    with pytest.raises(ValidationError):
        TimeRange.model_validate(fields)


def test_descriptions():
    assert TimeRange(kind="last", n=1, unit="hours").describe() == "last 1 hour"
    assert TimeRange(kind="last", n=7, unit="days").describe() == "last 7 days"
    assert TimeRange(kind="this_week").describe() == "this week"
    assert TimeRange(kind="day", day=date(2026, 11, 19)).describe() == "on 2026-11-19"


def test_zone_names(monkeypatch):
    assert zone("America/New_York") == NY
    with pytest.raises(ConfigError) as info:
        zone("Mars/Olympus_Mons")
    assert "unknown time zone 'Mars/Olympus_Mons'" in str(info.value)
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    assert zone(None) == KOLKATA
