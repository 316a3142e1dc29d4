"""Symbolic time ranges ("last 7 days", "yesterday", "on Nov 19") resolved in code, in the asker's zone.

A planner (rules or LLM) only ever produces a `TimeRange`; this module turns it into Helicone's
`timeFilter` and `timeZoneDifference`: rolling ranges end at now, named days and weeks are local calendar days
(weeks start on Monday), and one fixed offset taken at `now` shifts every bucket. No model does date arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from heliqa.tools.errors import Clarify, ConfigError
from heliqa.tools.filters import parse_instant
from heliqa.tools.query import TimeFilter
from heliqa.tools.results import iso_z
from heliqa.tools.zones import display_zone

Unit = Literal["minutes", "hours", "days", "weeks", "months", "years"]
# The one definition of a month and a year wherever the calendar does not say (rolling ranges, period shifts)
MONTH_DAYS, YEAR_DAYS = 30, 365
UNIT_DAYS = {"minutes": 1 / 1440, "hours": 1 / 24, "days": 1, "weeks": 7, "months": MONTH_DAYS, "years": YEAR_DAYS}


class TimeRange(BaseModel):
    """A time range as words mean it; `resolve` gives the instants.

    kind: last (n units back from now), today, yesterday, this_week, this_month, this_year,
    day (one local calendar day), between (two local wall-clock times), since (a local time until now).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["last", "today", "yesterday", "this_week", "this_month", "this_year", "day", "between", "since"]
    n: int | None = Field(None, ge=1, le=100_000, description="for kind=last: how many units")
    unit: Unit | None = Field(None, description="for kind=last")
    day: date | None = Field(None, description="for kind=day: the local calendar date")
    start: datetime | None = Field(None, description="for kind=between/since: local wall-clock start (no zone)")
    end: datetime | None = Field(None, description="for kind=between: local wall-clock end (no zone)")

    @model_validator(mode="after")
    def _complete(self) -> TimeRange:
        need = {"last": ("n", "unit"), "day": ("day",), "between": ("start", "end"), "since": ("start",)}
        for name in need.get(self.kind, ()):
            if getattr(self, name) is None:
                raise ValueError(f"a '{self.kind}' time range needs {name}")
        if self.kind == "between" and self.start > self.end:
            raise ValueError(f"the range starts ({self.start}) after it ends ({self.end})")
        return self

    def describe(self) -> str:
        """Words for the interpreted-query line."""
        if self.kind == "last":
            return f"last {self.n} {self.unit if self.n != 1 else self.unit[:-1]}"
        if self.kind == "day":
            return f"on {self.day.isoformat()}"
        if self.kind == "between":
            return f"{self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M}"
        if self.kind == "since":
            return f"since {self.start:%Y-%m-%d %H:%M}"
        return self.kind.replace("_", " ")


DEFAULT_RANGE = TimeRange(kind="last", n=24, unit="hours")


def zone(name: str | None) -> ZoneInfo:
    """An IANA zone (None = the machine's zone, UTC when it has none)."""
    if not name:
        return local_zone()
    try:
        return ZoneInfo(display_zone(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}", "use an IANA name such as America/New_York or UTC") from None


def instant(text: str | None, option: str = "--now") -> datetime | None:
    """An instant given as an option (ISO 8601, no zone = UTC); None when not given."""
    if not text:
        return None
    try:
        return parse_instant(text)
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not an ISO 8601 instant", f"e.g. {option} 2026-11-24T12:00:00Z"
        ) from None


def local_zone() -> ZoneInfo:
    """The machine's zone from TZ or /etc/localtime, else UTC."""
    import os

    from heliqa.tools.settings import settings

    name = (settings().tz or "").lstrip(":")
    if name:
        try:
            return ZoneInfo(display_zone(name))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        link = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in link:
            return ZoneInfo(display_zone(link.split("zoneinfo/", 1)[1]))
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    return ZoneInfo("UTC")


def tz_difference(now: datetime, tz: ZoneInfo) -> int:
    """Helicone's timeZoneDifference: minutes to subtract from UTC to get local time, taken at `now`."""
    offset = now.astimezone(tz).utcoffset() or timedelta(0)
    return -int(offset.total_seconds() // 60)


def _local_midnight(day: date, tz: timezone) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _wall(moment: datetime, tz: timezone) -> datetime:
    return moment.replace(tzinfo=tz).astimezone(UTC)


def resolve(rng: TimeRange, now: datetime, tz: ZoneInfo) -> tuple[TimeFilter, int]:
    """(timeFilter, timeZoneDifference) for a range, relative to `now` in zone `tz`."""
    now = now.astimezone(UTC)
    # One fixed offset, taken at `now`, for the whole range (as Helicone's timeZoneDifference): no DST switch.
    difference = tz_difference(now, tz)
    tz = timezone(timedelta(minutes=-difference))
    today = now.astimezone(tz).date()
    end = now
    if rng.kind == "last":
        calendar_free = rng.unit in ("months", "years")
        delta = timedelta(days=UNIT_DAYS[rng.unit] * rng.n) if calendar_free else timedelta(**{rng.unit: rng.n})
        start = now - delta
    elif rng.kind == "today":
        start = _local_midnight(today, tz)
    elif rng.kind == "yesterday":
        start, end = _local_midnight(today - timedelta(days=1), tz), _local_midnight(today, tz)
    elif rng.kind == "this_week":
        start = _local_midnight(today - timedelta(days=today.weekday()), tz)
    elif rng.kind == "this_month":
        start = _local_midnight(today.replace(day=1), tz)
    elif rng.kind == "this_year":
        start = _local_midnight(today.replace(month=1, day=1), tz)
    elif rng.kind == "day":
        start, end = _local_midnight(rng.day, tz), _local_midnight(rng.day + timedelta(days=1), tz)
    elif rng.kind == "between":
        start, end = _wall(rng.start, tz), _wall(rng.end, tz)
    else:  # since
        start = _wall(rng.start, tz)
    if start > end or start > now:
        raise Clarify(
            f"The time range {rng.describe()} starts after now ({iso_z(now)}), so there is nothing to count yet. "
            "Did you mean an earlier date?"
        )
    return TimeFilter(start=iso_z(start, millis=True), end=iso_z(end, millis=True)), difference


def wall_clock(start: datetime, end: datetime, difference: int) -> TimeRange:
    """The UTC instants [start, end) as a `between` range of wall-clock times at a fixed offset (Helicone's
    timeZoneDifference, the one a range is resolved with), so it resolves back to the same instants."""
    shift = timedelta(minutes=-difference)
    start, end = ((m.astimezone(UTC) + shift).replace(tzinfo=None) for m in (start, end))
    return TimeRange(kind="between", start=start, end=end)
