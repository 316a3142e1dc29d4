"""Time family, calendar words: dates ("Nov 19", "2026-11-19"), clock times ("between 9am and 5pm"), "since ...",
months, "the 20th" and weekdays. Without a year, a date is the most recent one not after today.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from heliqa.agent.rules.scanner import Fake, Scanner
from heliqa.agent.rules.table import CLARIFY, Env, Parse, rule
from heliqa.agent.rules.time import set_range
from heliqa.agent.rules.words import MONTHS, WEEKDAYS
from heliqa.agent.timerange import TimeRange
from heliqa.tools.errors import Clarify

MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
WEEKDAY = r"(?:" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")"
DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])(?:/(?:\d{{4}}|\d{{2}}))?(?![\d/])"
    rf"|{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}(?:,?\s+\d{{4}})?)"
)
CLOCK = r"(?:\d{1,2}:\d{2}(?:\s*[ap]m)?|\d{1,2}\s*[ap]m|noon|midnight)"
CLOCKS = rf"(?:between|from)\s+(?P<a>{CLOCK})\s+(?:and|to|until|till|-)\s+(?P<b>{CLOCK})"
RELATIVE_DAY = r"(?P<rel>today|yesterday)"


def read_clock(text: str) -> tuple[int, int]:
    """(hour, minute) of "9am", "14:30", "noon"; anything else is asked back."""
    text = text.strip().lower()
    if text == "noon":
        return 12, 0
    if text == "midnight":
        return 0, 0
    m = re.match(r"(\d{1,2})(?::(\d{2}))?\s*([ap]m)?", text)
    hour, minute, half = int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if half == "pm" and hour < 12:
        hour += 12
    if half == "am" and hour == 12:
        hour = 0
    if not (0 <= hour <= 24 and 0 <= minute < 60):
        raise Clarify(f"'{text}' is not a time of day.")
    return hour, minute


def read_date(text: str, today: date) -> date:
    """A calendar date; without a year, the most recent one not after today."""
    text = text.lower().replace(",", " ").replace(".", " ")
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", text)
    slashed = re.fullmatch(r"(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?", text.strip())
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if slashed:  # month/day, as the US writes it
            month, day = int(slashed.group(1)), int(slashed.group(2))
            if slashed.group(3):
                year = int(slashed.group(3))
                return date(year + 2000 if year < 100 else year, month, day)
            candidate = date(today.year, month, day)
            return candidate if candidate <= today else date(today.year - 1, month, day)
        words = text.split()
        month = next(MONTHS[w] for w in words if w in MONTHS)
        numbers = [int(re.sub(r"\D", "", w)) for w in words if re.search(r"\d", w)]
        day = numbers[0]
        if len(numbers) > 1:
            return date(numbers[1], month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate <= today else date(today.year - 1, month, day)
    except (ValueError, StopIteration, IndexError):
        raise Clarify(f"'{text.strip()}' is not a calendar date I can read; try 2026-11-19 or Nov 19.") from None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _between_clocks(p: Parse, m, today: date) -> None:
    day = read_date(m.group("d"), today) if m.group("d") else today
    h1, m1 = read_clock(m.group("a"))
    h2, m2 = read_clock(m.group("b"))
    start = _midnight(day) + timedelta(hours=h1, minutes=m1)
    end = _midnight(day) + timedelta(hours=h2, minutes=m2)
    if end < start:
        raise Clarify("The time range ends before it starts; did you mean the other way round?")
    set_range(p, TimeRange(kind="between", start=start, end=end))


@rule(
    305,
    "clock range on a named day",
    {"errors yesterday between 9am and 5pm": {"range": {"kind": "between", "start": "2026-11-23T09:00:00"}}},
)
def clock_range_named_day(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "yesterday between 9am and 5pm", "from 2pm to 4pm today"."""
    today, _ = env.local(p)

    def handle(m):
        day = today - timedelta(days=1 if m.group("rel") == "yesterday" else 0)
        _between_clocks(p, Fake(d=day.isoformat(), a=m.group("a"), b=m.group("b")), today)

    s.take(rf"{RELATIVE_DAY}\s+{CLOCKS}", handle)
    s.take(rf"{CLOCKS}\s+{RELATIVE_DAY}", handle)


@rule(
    310,
    "clock range on a date",
    {
        "requests on Nov 19 between 9am and 5pm": {
            "range": {"kind": "between", "start": "2026-11-19T09:00:00", "end": "2026-11-19T17:00:00"}
        },
        "requests between 9am and 5pm on Nov 19": {"range": {"kind": "between", "start": "2026-11-19T09:00:00"}},
    },
)
def clock_range_date(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "on Nov 19 between 9am and 5pm", "between 9am and 5pm on Monday Nov 23"."""
    today, _ = env.local(p)
    on = rf"(?:on\s+|for\s+)?(?:{WEEKDAY}\s+)?(?P<d>{DATE})"
    s.take(rf"{on}\s+{CLOCKS}", lambda m: _between_clocks(p, m, today))
    s.take(rf"{CLOCKS}(?:\s+on)?(?:\s+{WEEKDAY})?\s+(?P<d>{DATE})", lambda m: _between_clocks(p, m, today))


@rule(
    320,
    "clock range today",
    {"latency between 9:00 and 11:30": {"range": {"kind": "between", "end": "2026-11-24T11:30:00"}}},
)
def clock_range_today(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "between 9am and 11am": today."""
    today, _ = env.local(p)
    s.take(rf"{CLOCKS}(?P<d>)", lambda m: _between_clocks(p, m, today))


@rule(
    325,
    "date range",
    {
        "cost between Nov 1 and Nov 15": {
            "range": {"kind": "between", "start": "2026-11-01T00:00:00", "end": "2026-11-16T00:00:00"}
        }
    },
)
def date_range(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "between Nov 1 and Nov 15", "from 2026-11-01 to 2026-11-03": whole days, the last one included."""
    today, _ = env.local(p)

    def handle(m):
        a, b = read_date(m.group("a"), today), read_date(m.group("b"), today)
        if b < a:
            raise Clarify("The date range ends before it starts.")
        set_range(p, TimeRange(kind="between", start=_midnight(a), end=_midnight(b) + timedelta(days=1)))

    s.take(rf"(?:between|from)\s+(?P<a>{DATE})\s+(?:and|to|until|through|-)\s+(?P<b>{DATE})", handle)


_BOUND = r"(?P<dir>after|before|later\s+than|earlier\s+than)"


@rule(302, "clock bound", {"errors after 5pm yesterday": {"range": {"kind": "between", "end": "2026-11-24T00:00:00"}}})
def clock_bound(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "after 5pm", "before 09:30": a bound on the time of day, applied to the one day the question names
    ("clock bound on a day")."""

    def handle(m):
        if p.clock is not None:
            raise Clarify("That question bounds the time of day twice; say e.g. 'between 9am and 5pm yesterday'.")
        p.clock = ("after" if m.group("dir").lower().startswith(("after", "later")) else "before", m.group("c"))

    s.take(rf"{_BOUND}\s+(?P<c>{CLOCK})", handle)

    def open_ended(m):
        raise Clarify(
            f"From {m.group('c')} until when? Ask 'since {m.group('c')} ...' (until now) or 'after {m.group('c')} "
            "...' (the rest of that day)."
        )

    s.take(rf"from\s+(?P<c>{CLOCK})(?!\s*(?:and|to|until|till|through|-)(?![\w-]))", open_ended)


_ONE_DAY = ("today", "yesterday", "day")


@rule(
    390,
    "clock bound on a day",
    {
        "errors after 5pm yesterday": {
            "range": {"kind": "between", "start": "2026-11-23T17:00:00", "end": "2026-11-24T00:00:00"}
        },
        "cost before 9am today": {
            "range": {"kind": "between", "start": "2026-11-24T00:00:00", "end": "2026-11-24T09:00:00"}
        },
        "errors after 5pm": CLARIFY,
        "errors after 5pm last week": CLARIFY,
    },
)
def clock_bound_day(s: Scanner, p: Parse, env: Env) -> None:
    """Applies "after 5pm" / "before 9am" to the one local day named: after runs to that day's end (or now, today),
    before starts at its midnight. Without a day, or over several days, it is asked back."""
    if p.clock is None:
        return
    s.fired.append(s.rule)
    side, clock = p.clock
    words = f"{side} {clock}"
    if p.range is None:
        raise Clarify(
            f"'{words}' on which day? Ask e.g. '{words} yesterday', or 'since {clock}' for the most recent "
            f"{clock} until now."
        )
    if p.range.kind not in _ONE_DAY:
        raise Clarify(
            f"'{words}' bounds the time of one day; over {p.range.describe()} I can't keep only those hours of "
            f"each day. Ask about one day, e.g. '{words} yesterday'."
        )
    today, now = env.local(p)
    day = {"today": today, "yesterday": today - timedelta(days=1)}.get(p.range.kind, p.range.day)
    hour, minute = read_clock(clock)
    if side == "before" and (hour, minute) == (0, 0):
        hour = 24  # "before midnight": the day's end
    at = _midnight(day) + timedelta(hours=hour, minutes=minute)
    start, end = (at, _midnight(day) + timedelta(days=1)) if side == "after" else (_midnight(day), at)
    now = now.replace(tzinfo=None)
    if start >= now:
        raise Clarify(f"{clock} on {day:%b %d} has not come yet; did you mean another day?")
    p.range = TimeRange(kind="since", start=start) if end > now else TimeRange(kind="between", start=start, end=end)


@rule(
    330,
    "since",
    {
        "errors since 9am": {"range": {"kind": "since", "start": "2026-11-24T09:00:00"}},
        "errors since 9am yesterday": {"range": {"kind": "since", "start": "2026-11-23T09:00:00"}},
    },
)
def since(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "since Nov 20", "since yesterday", "since 9am" (before 9am: yesterday's), "since 5pm yesterday"."""
    today, now = env.local(p)

    def handle(m):
        if m.group("d"):
            start = _midnight(read_date(m.group("d"), today))
        elif m.group("y"):
            start = _midnight(today - timedelta(days=1))
        elif m.group("on"):  # "since 5pm yesterday": that day's 5pm
            h, mi = read_clock(m.group("c"))
            day = today - timedelta(days=1) if m.group("on") == "yesterday" else today
            start = _midnight(day) + timedelta(hours=h, minutes=mi)
        else:
            h, mi = read_clock(m.group("c"))
            start = datetime(today.year, today.month, today.day, h % 24, mi)
            if start > now.replace(tzinfo=None):
                start -= timedelta(days=1)  # "since 9am" before 9am: the most recent 9am, yesterday's
        set_range(p, TimeRange(kind="since", start=start))

    s.take(
        rf"since\s+(?:(?P<d>{DATE})|(?P<y>yesterday)|(?P<c>{CLOCK})(?:\s+(?:on\s+)?(?P<on>yesterday|today))?)",
        handle,
    )


@rule(335, "since a weekday", {"cost since monday": {"range": {"kind": "since", "start": "2026-11-23T00:00:00"}}})
def since_weekday(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "since Monday", "since last friday": that day's midnight until now."""
    today, _ = env.local(p)

    def handle(m):
        back = (today.weekday() - WEEKDAYS[m.group("w").lower()]) % 7
        set_range(p, TimeRange(kind="since", start=_midnight(today - timedelta(days=back))))

    s.take(rf"since\s+(?:last\s+)?(?P<w>{WEEKDAY})", handle)


@rule(
    340,
    "month",
    {"cost in october": {"range": {"kind": "between", "start": "2026-10-01T00:00:00", "end": "2026-11-01T00:00:00"}}},
)
def in_month(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "in October", "during the month of March 2025": that calendar month (without a year, the latest one)."""
    today, _ = env.local(p)

    def handle(m):
        month = MONTHS[m.group("m").lower().rstrip(".")]
        year = int(m.group("y")) if m.group("y") else (today.year if month <= today.month else today.year - 1)
        start = datetime(year, month, 1)
        end = datetime(year + month // 12, month % 12 + 1, 1)
        set_range(p, TimeRange(kind="between", start=start, end=end))

    s.take(rf"(?:in|during|for)\s+(?:the\s+month\s+of\s+)?(?P<m>{MONTH})(?:\s+(?P<y>\d{{4}}))?", handle)


@rule(
    345,
    "day of the month",
    {
        "requests on the 20th": {"range": {"kind": "day", "day": "2026-11-20"}},
        "cost on the 21st of this month": {"range": {"kind": "day", "day": "2026-11-21"}},
        "cost on saturday the 21st": {"range": {"kind": "day", "day": "2026-11-21"}},
    },
)
def day_of_month(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "on the 20th" (the most recent past one), "the 21st of this month", "saturday the 21st", "since the
    3rd"; a weekday that is not that date's is asked back."""
    today, _ = env.local(p)

    def handle(m):
        n = int(m.group("n"))
        d = today.replace(day=1)
        if m.group("this") and n > today.day:
            raise Clarify(f"The {m.group('n')}th of this month has not come yet.")
        if n > today.day:  # the most recent past one: last month's
            d = (d - timedelta(days=1)).replace(day=1)
        try:
            day = d.replace(day=n)
        except ValueError:
            raise Clarify(f"There is no day {n} in {d:%B}.") from None
        named = m.group("w")
        if named and WEEKDAYS[named.lower()] != day.weekday():
            raise Clarify(f"{day:%B} {n} is a {day:%A}, not a {named.title()}; which day did you mean?")
        if m.group("since"):  # "since the 20th": that day's midnight until now
            set_range(p, TimeRange(kind="since", start=_midnight(day)))
        else:
            set_range(p, TimeRange(kind="day", day=day))

    s.take(
        rf"(?P<since>since\s+)?(?:on\s+)?(?:(?P<w>{WEEKDAY}),?\s+)?the\s+(?P<n>[12]?\d|3[01])(?:st|nd|rd|th)"
        rf"(?P<this>\s+of\s+(?:this|the)\s+month)?(?![\s-]+percentile)(?!\s+(?:of\s+)?{MONTH})",
        handle,
    )


@rule(380, "date", {"requests on Nov 19": {"range": {"kind": "day", "day": "2026-11-19"}}})
def on_date(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "on Nov 19", "2026-11-19", "19th of November": that local calendar day."""
    today, _ = env.local(p)
    s.take(
        rf"(?:on|for|during)?\s*(?:{WEEKDAY}\s+)?(?P<d>{DATE})",
        lambda m: set_range(p, TimeRange(kind="day", day=read_date(m.group("d"), today))),
    )


@rule(385, "weekday", {"cost on monday": {"range": {"kind": "day", "day": "2026-11-23"}}})
def weekday(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "on Monday", "last tuesday": the most recent past one, never today (a week back on that weekday)."""
    today, _ = env.local(p)

    def handle(m):
        back = (today.weekday() - WEEKDAYS[m.group("w").lower()]) % 7 or 7
        set_range(p, TimeRange(kind="day", day=today - timedelta(days=back)))

    s.take(rf"(?:on\s+)?(?:last\s+)?(?P<w>{WEEKDAY})", handle)
