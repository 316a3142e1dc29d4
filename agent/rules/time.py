"""Time family, relative words: the zone a question names, "the last 7 days", "3 days ago", "this week", "ytd".

The rules only read the words into a symbolic `TimeRange`; `heliqa.agent.timerange` resolves it into instants.
Calendar dates, clock times and weekdays are read in `dates.py`.
"""

from __future__ import annotations

import re
from datetime import timedelta

from heliqa.agent import orgwords
from heliqa.agent.rules.scanner import Scanner
from heliqa.agent.rules.table import Env, Parse, rule
from heliqa.agent.rules.words import UNITS, ZONES
from heliqa.agent.timerange import MONTH_DAYS, YEAR_DAYS, TimeRange, zone
from heliqa.tools.errors import Clarify
from heliqa.tools.zones import display_zone

UNIT = r"(?:" + "|".join(sorted(UNITS, key=len, reverse=True)) + r")"
LAST = r"(?:(?:in|over|for|during|within|from)\s+)?(?:the\s+)?(?:last|past|previous|recent|trailing)"
# "the last day", "past month": one unit, read as a rolling range (a month is MONTH_DAYS days)
SINGLE_UNITS = {
    "hour": (1, "hours"),
    "day": (24, "hours"),
    "24h": (24, "hours"),
    "week": (7, "days"),
    "fortnight": (14, "days"),
    "month": (MONTH_DAYS, "days"),
    "year": (YEAR_DAYS, "days"),
    "quarter": (3 * MONTH_DAYS, "days"),
    "minute": (1, "minutes"),
    "min": (1, "minutes"),
    "hr": (1, "hours"),
    "wk": (7, "days"),
}
NAMED_RANGES = {
    "today": "today",
    "yesterday": "yesterday",
    "this week": "this_week",
    "this month": "this_month",
    "this year": "this_year",
    "so far today": "today",
    "so far this week": "this_week",
    "so far this month": "this_month",
    "week to date": "this_week",
    "month to date": "this_month",
    "wtd": "this_week",
    "mtd": "this_month",
    "ytd": "this_year",
    # "since the start of the month", "from the beginning of this week" (regular expressions)
    r"(?:since|from)\s+the\s+(?:start|beginning)\s+of\s+(?:the\s+|this\s+)?week": "this_week",
    r"(?:since|from)\s+the\s+(?:start|beginning)\s+of\s+(?:the\s+|this\s+)?month": "this_month",
    r"(?:since|from)\s+the\s+(?:start|beginning)\s+of\s+(?:the\s+|this\s+)?year": "this_year",
}


def set_range(p: Parse, rng: TimeRange) -> None:
    """Record the question's range; a second, different one is asked back."""
    if p.range is not None and p.range != rng:
        raise Clarify("That question names two time ranges; ask about one range at a time.")
    p.range = rng


def _iana(name: str) -> str:
    parts = name.split("/")
    candidate = "/".join(part.title() if part.lower() != "utc" else "UTC" for part in parts)
    zone(candidate)
    return display_zone(candidate)


@rule(100, "zone name", {"latency today in Berlin time": {"timeZone": "Europe/Berlin", "range": {"kind": "today"}}})
def zone_name(s: Scanner, p: Parse, env: Env) -> None:
    """A zone by abbreviation or region word ("in PST", "(UTC)", "in pacific time"), or by any city of the zone
    database before "time" ("Tokyo time", "in Lisbon time")."""

    def named(m):
        p.zone = _zone_of(m.group("z"))

    s.take(rf"(?<!/)(?:(?:in|using)\s+)?(?P<z>{_ZONE_ALTERNATION})\s+(?:time(?:\s*zone)?|tz)", named)
    s.take(rf"(?:in|using)\s+(?P<z>{_ZONE_ALTERNATION})", named)
    s.take(rf"(?<!/)(?P<z>{_BARE_ZONES})(?!/)", named)  # an abbreviation by itself: "cost yesterday (PST)"
    for m in re.finditer(r"(?<![\w-])(?:time(?:\s*zone)?|tz|timezone)(?![\w-])", s.text):
        _city_before(s, p, m)


def _city_before(s: Scanner, p: Parse, time_word: re.Match) -> None:
    """The zone database's city named right before "time" ("Tokyo time", "in sao paulo time"): a look-up of the
    one to three words before it, so no question pays for an alternation of every city."""
    words = list(re.finditer(r"[^\s/]+", s.text[: time_word.start()]))[-3:]
    cities = orgwords.zone_words()
    for n in (3, 2, 1):
        run = words[-n:] if len(words) >= n else []
        if not run or s.text[run[-1].end() : time_word.start()].strip() or s.text[run[0].start() - 1] == "/":
            continue
        if any(s.text[a.end() : b.start()].strip() for a, b in zip(run, run[1:], strict=False)):
            continue
        city = " ".join(w.group(0) for w in run)
        if city in cities:
            start = run[0].start()
            lead = re.search(r"(?<![\w-])(?:in|using)\s+(?:the\s+)?$", s.text[:start])
            p.zone = cities[city]
            s.fired.append(s.rule)
            s.blank(lead.start() if lead else start, time_word.end())
            return


_ZONE_ALTERNATION = "|".join(re.escape(z) for z in sorted(ZONES, key=len, reverse=True))
# abbreviations that are no English word, read as a zone wherever they stand
_BARE_ZONES = "utc|gmt|pst|pdt|est|edt|cst|cet|cest|jst|bst|mst"


def _zone_of(word: str) -> str:
    """The IANA zone a word names (`tokyo`, `pst`, `new york`)."""
    word = " ".join(word.lower().split())
    return display_zone(ZONES.get(word) or orgwords.zone_words()[word])


@rule(110, "zone iana", {"cost today in asia/tokyo time": {"timeZone": "Asia/Tokyo", "measure": "cost"}})
def zone_iana(s: Scanner, p: Parse, env: Env) -> None:
    """A zone by its IANA name: "in America/Chicago"."""
    s.take(r"(?:in|using)\s+([a-z]+/[a-z_]+)(?:\s+time)?", lambda m: setattr(p, "zone", _iana(m.group(1))))


@rule(300, "days ago", {"requests 3 days ago": {"range": {"kind": "day", "day": "2026-11-21"}}})
def days_ago(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "3 days ago", "the day before yesterday": that whole local day."""
    today, _ = env.local(p)

    def handle(m):
        if re.search(r"since\s+$", s.text[: m.start()]):
            return False  # "since 3 days ago" is a start, not a day: asked back
        back = int(m.group("n")) if m.group("n") else 2
        set_range(p, TimeRange(kind="day", day=today - timedelta(days=back)))

    s.take(r"(?:on\s+)?(?P<n>\d{1,3})\s+days?\s+ago|(?:on\s+)?(?:the\s+)?day\s+before\s+yesterday", handle)


def _last_n(p: Parse, m: re.Match) -> None:
    set_range(p, TimeRange(kind="last", n=int(m.group("n")), unit=UNITS[m.group("u").lower()]))


@rule(350, "last n units", {"cost over the last 3 hours": {"range": {"kind": "last", "n": 3, "unit": "hours"}}})
def last_n_units(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "the last 7 days", "past 90 min"."""
    s.take(rf"{LAST}\s+(?P<n>\d+)\s*(?P<u>{UNIT})", lambda m: _last_n(p, m))


@rule(355, "last couple", {"cost over the last couple of days": {"range": {"kind": "last", "n": 2, "unit": "days"}}})
def last_couple(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "the last couple of days": two of the unit ("a few" stays unknown and is asked back)."""
    s.take(
        rf"{LAST}\s+(?:a\s+)?couple\s+(?:of\s+)?(?P<u>{UNIT})",
        lambda m: set_range(p, TimeRange(kind="last", n=2, unit=UNITS[m.group("u").lower()])),
    )


@rule(360, "in n units", {"errors in 48h": {"range": {"kind": "last", "n": 48, "unit": "hours"}}})
def in_n_units(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "in 48h", "over 2 weeks": the last n units."""
    s.take(rf"(?:in|over|for|during|within)\s+(?:the\s+)?(?P<n>\d+)\s*(?P<u>{UNIT})", lambda m: _last_n(p, m))


@rule(365, "last unit", {"cost in the past month": {"range": {"kind": "last", "n": 30, "unit": "days"}}})
def last_unit(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "the last hour", "past week", "last quarter": one unit, rolling back from now."""

    def handle(m):
        n, unit = SINGLE_UNITS[m.group("u").lower()]
        set_range(p, TimeRange(kind="last", n=n, unit=unit))

    singular = r"minute|hour|day|24h|week|fortnight|month|year|quarter|(?:min|hr|wk)(?![a-z])"
    s.take(rf"{LAST}\s+(?P<u>{singular})", handle)


@rule(370, "named range", {"cost so far this month": {"range": {"kind": "this_month"}}})
def named_range(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "today", "yesterday", "this week", "month to date", "ytd"."""
    for phrase in sorted(NAMED_RANGES, key=len, reverse=True):
        kind = NAMED_RANGES[phrase]
        s.take(rf"(?:(?:for|during|over|from|in)\s+)?{phrase}", lambda m, k=kind: set_range(p, TimeRange(kind=k)))


@rule(375, "until now", {"requests this week up to now": {"range": {"kind": "this_week"}}})
def until_now(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "until now", "to date": the end is now by default, so the words change nothing."""
    s.take(r"(?:up\s+)?(?:to|until|till)\s+now|to\s+date", lambda m: None)
