"""The offline rules planner: a real parser for the question vocabulary of questions.md.

The question is lower-cased and scanned by ordered rules (time, comparisons, status codes, top-N, buckets,
groups, aggregations, measures, names). Each rule records what it understood and blanks out the words it
used. Whatever is left must be filler words; otherwise the planner reports `unparsed` and names the words it
did not understand, so heliqa never answers a different question than the one asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from heliqa.agent.grounding import FAMILIES, closest, match_score_key, providers_of
from heliqa.agent.planner import Context, Plan
from heliqa.agent.spec import Condition, QuerySpec
from heliqa.agent.timerange import TimeRange, tz_difference
from heliqa.tools.errors import Clarify
from heliqa.tools.results import Vocabulary

MONTHS = {
    m: i
    for i, ms in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in ms
}
WEEKDAYS = {
    d: i
    for i, ds in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for d in ds
}
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")"
_DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?)"
)
_CLOCK = r"(?:\d{1,2}:\d{2}(?:\s*[ap]m)?|\d{1,2}\s*[ap]m|noon|midnight)"
UNITS = {
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
    "w": "weeks",
    "wk": "weeks",
    "wks": "weeks",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
}
_UNIT = r"(?:" + "|".join(sorted(UNITS, key=len, reverse=True)) + r")"
_LAST = r"(?:(?:in|over|for|during|within|from)\s+)?(?:the\s+)?(?:last|past|previous|recent|trailing)"
BUCKETS = {
    "minute": "min",
    "min": "min",
    "hour": "hour",
    "day": "day",
    "week": "week",
    "month": "month",
    "year": "year",
    "hourly": "hour",
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "yearly": "year",
    "minutely": "min",
}
GROUP_WORDS = {
    "model": "model",
    "models": "model",
    "provider": "provider",
    "providers": "provider",
    "vendor": "provider",
    "user": "user",
    "users": "user",
    "user id": "user",
    "user_id": "user",
    "customer": "user",
    "customers": "user",
    "status": "status",
    "statuses": "status",
    "status code": "status",
    "status codes": "status",
    "http status": "status",
    "country": "country",
    "countries": "country",
    "country code": "country",
    "country_code": "country",
    "region": "country",
    "score key": "score_key",
    "score": "score_key",
    "key": "score_key",
}
ZONES = {
    "utc": "UTC",
    "gmt": "UTC",
    "los angeles": "America/Los_Angeles",
    "la": "America/Los_Angeles",
    "pacific": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles",
    "sf": "America/Los_Angeles",
    "new york": "America/New_York",
    "ny": "America/New_York",
    "nyc": "America/New_York",
    "eastern": "America/New_York",
    "et": "America/New_York",
    "est": "America/New_York",
    "edt": "America/New_York",
    "chicago": "America/Chicago",
    "central": "America/Chicago",
    "denver": "America/Denver",
    "mountain": "America/Denver",
    "london": "Europe/London",
    "uk": "Europe/London",
    "berlin": "Europe/Berlin",
    "cet": "Europe/Berlin",
    "paris": "Europe/Paris",
    "india": "Asia/Kolkata",
    "kolkata": "Asia/Kolkata",
    "ist": "Asia/Kolkata",
    "tokyo": "Asia/Tokyo",
    "jst": "Asia/Tokyo",
    "sydney": "Australia/Sydney",
    "singapore": "Asia/Singapore",
    "sao paulo": "America/Sao_Paulo",
}
COUNTRIES = {
    "us": "US",
    "usa": "US",
    "united states": "US",
    "america": "US",
    "uk": "GB",
    "united kingdom": "GB",
    "britain": "GB",
    "great britain": "GB",
    "germany": "DE",
    "france": "FR",
    "india": "IN",
    "japan": "JP",
    "brazil": "BR",
    "canada": "CA",
    "spain": "ES",
    "italy": "IT",
    "netherlands": "NL",
    "australia": "AU",
    "mexico": "MX",
    "china": "CN",
    "korea": "KR",
    "singapore": "SG",
}
SYNONYM_VALUES = {"prod": "production", "dev": "development", "stage": "staging", "stg": "staging"}
MODEL_LIKE = re.compile(
    r"^(gpt|claude|gemini|llama|mistral|mixtral|o\d|text-embedding|command|deepseek|qwen|grok|palm|chatgpt)[\w.:/-]*$"
)
FILLER = set(
    """
a an the of for in on at over during from to with by per within across about and or
what what's whats which who whose is are was were be been being show shows me us give get tell list display plot chart
graph see view pull report fetch find check look looks how much many did do does doing we our my i you your it its
there their they please all overall used use using spent each every so far time times than has have had as since
right now currently current recently recent value values number numbers count total break broken down split grouped
group stats statistics metrics metric trend trends level levels our the this that these those calls call request
requests' made sent served handled come came been was volume just only any some out happening going like compare
compared versus vs against between up can could would will should hi hey heliqa okay ok also detected flagged
observed seen recorded logged did were get got across period range window hours' data traffic llm api
most least higher lower best worst same instead again too well
breakdown overview summary status-wise each
""".split()
)
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-eight": 48,
    "sixty": 60,
    "ninety": 90,
}
FOLLOW_UP = re.compile(r"^\s*(what about|how about|and|now|same|instead|also|only|just|what if|ok|okay|then)\b")


@dataclass
class Parse:
    """What the rules understood so far."""

    measure: str | None = None
    aggregation: str | None = None
    score_key: str | None = None
    group: str | None = None
    top: int | None = None
    bucket: str | None = None
    over_time: bool = False
    range: TimeRange | None = None
    zone: str | None = None
    conditions: list[Condition] = field(default_factory=list)
    per_request: bool = False
    superlative: str | None = None  # "highest"/"lowest": max/min of a value when nothing is ranked


class Scanner:
    """The question text with the words already understood blanked out."""

    def __init__(self, text: str):
        self.text = text
        self.original = text

    def take(self, pattern: str, handle=None) -> list[re.Match]:
        """Find every match of `pattern` (word-bounded), call `handle(match)`; blank it unless handle returns False."""
        found = []
        regex = re.compile(rf"(?<![\w.-])(?:{pattern})(?![\w-]|\.\w)", re.I)
        pos = 0
        while True:
            m = regex.search(self.text, pos)
            if not m:
                break
            keep = handle(m) if handle else True
            if keep is False:
                pos = m.end()
                continue
            found.append(m)
            self.text = self.text[: m.start()] + " " * (m.end() - m.start()) + self.text[m.end() :]
            pos = m.end()
        return found

    def leftovers(self) -> list[str]:
        """Words nobody understood and that are not filler."""
        words = re.findall(r"[\w'.:/@$%-]+", self.text)
        out = []
        for w in words:
            w = w.strip(".'-:")
            if w and w not in FILLER and not re.fullmatch(r"[\W_]+", w):
                out.append(w)
        return out


def _clock(text: str) -> tuple[int, int]:
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


def _date(text: str, today: date) -> date:
    """A calendar date; without a year, the most recent one not after today."""
    text = text.lower().replace(",", " ").replace(".", " ")
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", text)
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
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


class RulesPlanner:
    """Parses the question vocabulary of questions.md into a QuerySpec, or says what it did not understand."""

    name = "rules"

    def plan(self, question: str, ctx: Context) -> Plan:
        """Plan one question (a follow-up edits `ctx.previous`)."""
        try:
            parse, leftovers = self.parse(question, ctx)
        except Clarify as ask:
            return Plan("clarify", message=ask.message, planner=self.name)
        if leftovers:
            words = ", ".join(f"'{w}'" for w in dict.fromkeys(leftovers))
            return Plan("unparsed", message=f"I didn't understand {words} in that question.", planner=self.name)
        try:
            spec = self.build(parse, question, ctx)
        except Clarify as ask:
            return Plan("clarify", message=ask.message, planner=self.name)
        if spec is None:
            return Plan(
                "unparsed",
                message="I couldn't tell what to measure (latency, cost, tokens, requests, errors, users, scores...).",
                planner=self.name,
            )
        return Plan("ok", spec=spec, planner=self.name)

    # --- parsing --------------------------------------------------------------------------------------
    def parse(self, question: str, ctx: Context) -> tuple[Parse, list[str]]:
        """Run every rule over the question; return what was understood and the leftover words."""
        text = " " + question.strip().rstrip("?!.").replace("’", "'") + " "
        text = re.sub(r"[?!;,()\[\]{}]", " ", text)
        text = re.sub(r"'s\b", "", text)
        text = re.sub(
            rf"\b({'|'.join(NUMBER_WORDS)})\b", lambda m: str(NUMBER_WORDS[m.group(1).lower()]), text, flags=re.I
        )
        s = Scanner(text.lower())
        p = Parse()
        local_now = ctx.now.astimezone(timezone(timedelta(minutes=-tz_difference(ctx.now, ctx.tz))))
        self._zone(s, p)
        self._quoted_and_body(s, p, text)
        self._time(s, p, local_now.date(), local_now)
        self._comparisons(s, p)
        self._status(s, p)
        self._top(s, p, ctx.vocabulary)
        self._buckets(s, p)
        self._aggregation(s, p)
        self._measures(s, p, ctx.vocabulary)
        self._models(s, p, ctx.vocabulary)
        self._providers(s, p, ctx.vocabulary)
        self._properties(s, p, ctx.vocabulary)
        self._groups(s, p, ctx.vocabulary)
        self._users(s, p)
        self._countries(s, p)
        # a bare "users" is the measure only when nothing more specific claimed the word
        s.take(r"(?<!by )(?<!per )(?<!each )(?<!every )(?<!across )users", lambda m: _set_measure(p, "users"))
        return p, s.leftovers()

    def _zone(self, s: Scanner, p: Parse) -> None:
        names = "|".join(sorted((re.escape(z) for z in ZONES), key=len, reverse=True))

        def zone(m):
            p.zone = ZONES[m.group(1)]

        s.take(rf"(?:in|using)\s+({names})(?:\s+time(?:\s*zone)?|\s+tz)?", zone)
        s.take(r"(?:in|using)\s+([a-z]+/[a-z_]+)(?:\s+time)?", lambda m: setattr(p, "zone", _iana(m.group(1))))

    def _quoted_and_body(self, s: Scanner, p: Parse, original: str) -> None:
        def body(m):
            value = m.group("q1") or m.group("q2") or m.group("w")
            where = m.group("where") or ""
            column = (
                "response_body" if "response" in where or "output" in where or "answer" in where else "request_body"
            )
            negate = bool(m.group("neg"))
            p.conditions.append(Condition(field=column, op="not-contains" if negate else "contains", value=value))

        quoted = r"(?:\"(?P<q1>[^\"]+)\"|'(?P<q2>[^']+)'|(?P<w>[\w@#$%.-]+))"
        places = (
            r"prompts?|requests?|request\s+bod(?:y|ies)|inputs?|responses?|outputs?|answers?|response\s+bod(?:y|ies)|"
            r"completions?"
        )
        named_place = rf"\s+in\s+(?:the\s+)?(?P<where>{places})"
        where = rf"(?:{named_place})?"
        s.take(
            rf"(?:that\s+|which\s+)?(?P<neg>not\s+|without\s+|don't\s+|do\s+not\s+)?"
            rf"(?:mentioning|mentioned|mention|mentions|referencing|containing|contained|contain|contains|"
            rf"with\s+the\s+(?:word|text|phrase)|about\s+the\s+(?:word|topic)|matching|including\s+the\s+text)"
            rf"\s+{quoted}{where}",
            body,
        )
        # "with refund in the prompt": a bare "with" only counts when the place searched is named
        s.take(
            rf"(?P<neg>without\s+|with\s+)(?:the\s+(?:word|text)\s+)?{quoted}{named_place}",
            lambda m: body(
                _Fake(
                    q1=m.group("q1"),
                    q2=m.group("q2"),
                    w=m.group("w"),
                    where=m.group("where"),
                    neg=m.group("neg").startswith("without") or None,
                )
            ),
        )

    def _time(self, s: Scanner, p: Parse, today: date, now: datetime) -> None:
        def set_range(rng: TimeRange):
            if p.range is not None and p.range != rng:
                raise Clarify("That question names two time ranges; ask about one range at a time.")
            p.range = rng

        def between_clock(m):
            day = _date(m.group("d"), today) if m.group("d") else today
            h1, m1 = _clock(m.group("a"))
            h2, m2 = _clock(m.group("b"))
            start = datetime(day.year, day.month, day.day) + timedelta(hours=h1, minutes=m1)
            end = datetime(day.year, day.month, day.day) + timedelta(hours=h2, minutes=m2)
            if end < start:
                raise Clarify("The time range ends before it starts; did you mean the other way round?")
            set_range(TimeRange(kind="between", start=start, end=end))

        on = rf"(?:on\s+|for\s+)?(?:{_WEEKDAY}\s+)?(?P<d>{_DATE})"
        clocks = rf"(?:between|from)\s+(?P<a>{_CLOCK})\s+(?:and|to|until|till|-)\s+(?P<b>{_CLOCK})"
        rel = r"(?P<rel>today|yesterday)"

        def between_relative(m):
            day = today - timedelta(days=1 if m.group("rel") == "yesterday" else 0)
            between_clock(_Fake(d=day.isoformat(), a=m.group("a"), b=m.group("b")))

        s.take(rf"{rel}\s+{clocks}", between_relative)
        s.take(rf"{clocks}\s+{rel}", between_relative)
        s.take(rf"{on}\s+{clocks}", between_clock)
        s.take(rf"{clocks}(?:\s+on)?(?:\s+{_WEEKDAY})?\s+(?P<d>{_DATE})", between_clock)
        s.take(rf"{clocks}(?P<d>)", between_clock)

        def between_dates(m):
            a, b = _date(m.group("a"), today), _date(m.group("b"), today)
            if b < a:
                raise Clarify("The date range ends before it starts.")
            set_range(
                TimeRange(
                    kind="between",
                    start=datetime(a.year, a.month, a.day),
                    end=datetime(b.year, b.month, b.day) + timedelta(days=1),
                )
            )

        s.take(rf"(?:between|from)\s+(?P<a>{_DATE})\s+(?:and|to|until|through|-)\s+(?P<b>{_DATE})", between_dates)

        def since(m):
            if m.group("d"):
                d = _date(m.group("d"), today)
                set_range(TimeRange(kind="since", start=datetime(d.year, d.month, d.day)))
            elif m.group("y"):
                d = today - timedelta(days=1)
                set_range(TimeRange(kind="since", start=datetime(d.year, d.month, d.day)))
            else:
                h, mi = _clock(m.group("c"))
                set_range(TimeRange(kind="since", start=datetime(today.year, today.month, today.day, h % 24, mi)))

        s.take(rf"since\s+(?:(?P<d>{_DATE})|(?P<y>yesterday)|(?P<c>{_CLOCK}))", since)

        def since_weekday(m):
            back = (today.weekday() - WEEKDAYS[m.group("w").lower()]) % 7
            d = today - timedelta(days=back)
            set_range(TimeRange(kind="since", start=datetime(d.year, d.month, d.day)))

        s.take(rf"since\s+(?:last\s+)?(?P<w>{_WEEKDAY})", since_weekday)

        def in_month(m):
            month = MONTHS[m.group("m").lower().rstrip(".")]
            year = int(m.group("y")) if m.group("y") else (today.year if month <= today.month else today.year - 1)
            start = datetime(year, month, 1)
            end = datetime(year + month // 12, month % 12 + 1, 1)
            set_range(TimeRange(kind="between", start=start, end=end))

        s.take(rf"(?:in|during|for)\s+(?:the\s+month\s+of\s+)?(?P<m>{_MONTH})(?:\s+(?P<y>\d{{4}}))?", in_month)

        def nth(m):
            n = int(m.group("n"))
            d = today.replace(day=1)
            if n > today.day:  # the most recent past one: last month's
                d = (d - timedelta(days=1)).replace(day=1)
            try:
                set_range(TimeRange(kind="day", day=d.replace(day=n)))
            except ValueError:
                raise Clarify(f"There is no day {n} in {d:%B}.") from None

        s.take(r"(?:on\s+)?the\s+(?P<n>[12]?\d|3[01])(?:st|nd|rd|th)(?![\s-]+percentile)", nth)

        def last_n(m):
            set_range(TimeRange(kind="last", n=int(m.group("n")), unit=UNITS[m.group("u").lower()]))

        s.take(rf"{_LAST}\s+(?P<n>\d+)\s*(?P<u>{_UNIT})", last_n)
        s.take(rf"(?:in|over|for|during|within)\s+(?:the\s+)?(?P<n>\d+)\s*(?P<u>{_UNIT})", last_n)

        singles = {
            "hour": (1, "hours"),
            "day": (24, "hours"),
            "24h": (24, "hours"),
            "week": (7, "days"),
            "fortnight": (14, "days"),
            "month": (30, "days"),
            "year": (365, "days"),
            "quarter": (90, "days"),
        }

        def last_one(m):
            n, unit = singles[m.group("u").lower()]
            set_range(TimeRange(kind="last", n=n, unit=unit))

        s.take(rf"{_LAST}\s+(?P<u>hour|day|24h|week|fortnight|month|year|quarter)", last_one)
        named = {
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
        }
        for phrase in sorted(named, key=len, reverse=True):
            s.take(
                rf"(?:(?:for|during|over|from|in)\s+)?{phrase}", lambda m, k=named[phrase]: set_range(TimeRange(kind=k))
            )

        def weekday(m):
            target = WEEKDAYS[m.group("w").lower()]
            back = (today.weekday() - target) % 7
            if m.group("last") and back == 0:
                back = 7
            set_range(TimeRange(kind="day", day=today - timedelta(days=back)))

        s.take(
            rf"(?:on|for|during)?\s*(?:{_WEEKDAY}\s+)?(?P<d>{_DATE})",
            lambda m: set_range(TimeRange(kind="day", day=_date(m.group("d"), today))),
        )
        s.take(rf"(?:on\s+)?(?P<last>last\s+)?(?P<w>{_WEEKDAY})", weekday)

    def _comparisons(self, s: Scanner, p: Parse) -> None:
        scale = {
            "ms": 1,
            "millisecond": 1,
            "milliseconds": 1,
            "s": 1000,
            "sec": 1000,
            "secs": 1000,
            "second": 1000,
            "seconds": 1000,
            "min": 60000,
            "mins": 60000,
            "minute": 60000,
            "minutes": 60000,
        }
        unit = r"(?P<u>ms|milliseconds?|s|secs?|seconds?|mins?|minutes?)"

        def latency(m):
            op = "gt" if m.group("dir") in ("longer", "slower", "more", "over", "above", "greater", ">") else "lt"
            if m.group("eq"):
                op += "e"
            value = float(m.group("n")) * scale[m.group("u").lower()]
            p.conditions.append(
                Condition(
                    field=m.group("f") and _latency_field(m.group("f")) or "latency",
                    op=op,
                    value=int(value) if value.is_integer() else value,
                )
            )

        s.take(
            rf"(?:that\s+took\s+|taking\s+|which\s+took\s+|with\s+)?(?:(?P<f>latency|duration|ttft|time\s+to\s+first\s+token)\s+)?"
            rf"(?P<dir>longer|slower|shorter|faster|quicker|more|less|over|above|under|below|greater|>|<)"
            rf"(?:\s+than)?(?P<eq>\s+or\s+equal\s+to)?\s+(?P<n>\d+(?:\.\d+)?)\s*{unit}",
            latency,
        )

        def tokens(m):
            op = "gt" if m.group("dir") in ("more", "over", "above", "greater", ">") else "lt"
            kind = (m.group("k") or "total").lower()
            field_name = {
                "prompt": "prompt_tokens",
                "input": "prompt_tokens",
                "completion": "completion_tokens",
                "output": "completion_tokens",
            }.get(kind, "total_tokens")
            p.conditions.append(Condition(field=field_name, op=op, value=int(m.group("n"))))

        s.take(
            r"(?:with\s+)?(?P<dir>more|over|above|greater|fewer|less|under|below|>|<)(?:\s+than)?\s+(?P<n>\d+)\s+"
            r"(?:(?P<k>prompt|input|completion|output|total)\s+)?tokens",
            tokens,
        )

        def cost(m):
            op = "gt" if m.group("dir") in ("more", "over", "above", "greater", ">") else "lt"
            p.conditions.append(Condition(field="cost", op=op, value=float(m.group("n"))))

        s.take(
            r"(?:costing|that\s+cost|cost|with\s+cost)\s+(?P<dir>more|over|above|greater|less|under|below|>|<)"
            r"(?:\s+than)?\s+\$?(?P<n>\d+(?:\.\d+)?)(?:\s*(?:usd|dollars?))?",
            cost,
        )

    def _status(self, s: Scanner, p: Parse) -> None:
        def code(m):
            p.conditions.append(Condition(field="status", op="equals", value=int(m.group("c"))))
            if p.measure is None:
                p.measure = "requests"

        s.take(r"(?:with\s+)?(?:http\s+)?(?:status|code|status\s+code)\s+(?:=\s*)?(?P<c>[1-5]\d\d)", code)
        s.take(r"(?P<c>[1-5]\d\d)s", code)
        s.take(r"(?:http\s+)?(?P<c>[1-5]\d\d)(?:\s+(?:errors?|responses?|status(?:es)?|codes?))", code)

        def klass(m):
            low = int(m.group("k")) * 100
            p.conditions.append(Condition(field="status", op="gte", value=low))
            p.conditions.append(Condition(field="status", op="lt", value=low + 100))
            if p.measure is None:
                p.measure = "requests"

        s.take(
            r"(?:that\s+|which\s+)?(?:returned|returning|return|got|gave|answered|with)\s+(?:an?\s+)?(?:http\s+)?"
            r"(?:status\s+)?(?P<c>[1-5]\d\d)"
            r"(?!\s*(?:prompt|completion|total|input|output)?\s*(?:tokens?|ms|s|secs?|seconds?|minutes?|users?|requests?|%))",
            code,
        )
        s.take(r"(?P<k>[45])xx(?:\s+(?:errors?|responses?))?", klass)
        s.take(r"server\s+errors?", lambda m: klass(_Fake(k="5")))
        s.take(r"client\s+errors?", lambda m: klass(_Fake(k="4")))

        def rate_limited(m):
            p.conditions.append(Condition(field="status", op="equals", value=429))
            if p.measure is None:
                p.measure = "requests"

        s.take(
            r"rate[\s-]?limit(?:ed|s|ing)?(?:\s+(?:errors?|responses?|hits?))?|throttled(?:\s+requests)?", rate_limited
        )

        def success(m):
            p.conditions.append(Condition(field="status", op="equals", value=200))
            if p.measure is None:
                p.measure = "requests"

        s.take(r"successful(?:\s+requests?)?|succeeded|success(?:es)?", success)

    def _top(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        words = {w: g for w, g in group_words(vocab).items() if g != "score_key"}
        groups = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))

        def top(m):
            p.top = int(m.group("n") or 10)
            p.group = words[m.group("g").lower()]
            if m.group("m"):
                _set_measure(p, m.group("m"))

        measures = r"cost|spend|spending|latency|tokens|requests|traffic|volume|errors|error\s+rate|usage"
        s.take(
            rf"(?:the\s+)?(?:top|biggest|largest|heaviest)\s+(?P<n>\d+)?\s*(?P<g>{groups})"
            rf"(?:\s+(?:by|in|for)\s+(?P<m>{measures}))?",
            top,
        )

        def most(m):
            p.top = int(m.group("n") or 10)
            p.group = words[m.group("g").lower()]
            word = m.group("w").lower()
            _set_measure(
                p,
                {
                    "expensive": "cost",
                    "costly": "cost",
                    "active": "requests",
                    "slowest": "latency",
                    "busiest": "requests",
                }.get(word, "cost"),
            )

        s.take(
            rf"(?:the\s+)?(?P<n>\d+)?\s*(?:most\s+(?P<w>expensive|costly|active)|(?P<w2>slowest|busiest))\s+(?P<g>{groups})",
            lambda m: most(_Fake(n=m.group("n"), g=m.group("g"), w=m.group("w") or m.group("w2"))),
        )

    def _buckets(self, s: Scanner, p: Parse) -> None:
        def bucket(m):
            word = m.group("b").lower().rstrip("s") if m.group("b").lower() not in BUCKETS else m.group("b").lower()
            new = BUCKETS[word]
            if p.bucket and p.bucket != new:
                raise Clarify("That question asks for two time buckets; pick one (hourly, daily, weekly...).")
            p.bucket = new

        s.take(r"(?P<b>minutely|hourly|daily|weekly|monthly|yearly)", bucket)
        s.take(
            r"(?:by|per|each|every|for\s+each|broken\s+down\s+by|grouped\s+by|split\s+by|bucketed\s+by|in)\s+(?:the\s+)?(?P<b>minute|min|hour|day|week|month|year)s?",
            bucket,
        )
        s.take(
            r"(?P<b>day)\s+by\s+day|(?P<b2>hour)\s+by\s+hour", lambda m: bucket(_Fake(b=m.group("b") or m.group("b2")))
        )
        s.take(
            r"over\s+time|as\s+a\s+(?:time\s+)?series|trend(?:ing|s)?|chang(?:e|ed|ing)|evolv(?:e|ed|ing)|develop(?:ed)?",
            lambda m: setattr(p, "over_time", True),
        )
        # "across all models": everything, neither a filter nor a grouping
        s.take(
            r"(?:across|for|over|of|from)?\s*(?:all|every)\s+(?:the\s+)?(?:models?|providers?|users?|requests?|features?)",
            lambda m: None,
        )

    def _aggregation(self, s: Scanner, p: Parse) -> None:
        def agg(value: str):
            if p.aggregation and p.aggregation != value:
                raise Clarify("That question names two aggregations; ask for one (e.g. p90 or average).")
            p.aggregation = value

        s.take(r"p(?P<n>\d{1,2}(?:\.\d+)?)", lambda m: agg(f"p{m.group('n')}"))
        s.take(
            r"(?:the\s+)?(?P<n>\d{1,2}(?:\.\d+)?)(?:st|nd|rd|th)?[\s-]+percentile(?:\s+of)?",
            lambda m: agg(f"p{m.group('n')}"),
        )
        s.take(r"percentile\s+(?P<n>\d{1,2})", lambda m: agg(f"p{m.group('n')}"))
        s.take(r"median", lambda m: agg("p50"))
        s.take(r"avg|average|mean|typical", lambda m: agg("avg"))
        s.take(r"max(?:imum)?|peak|worst[\s-]case", lambda m: agg("max"))
        s.take(r"min(?:imum)?|best[\s-]case", lambda m: agg("min"))
        s.take(r"per\s+(?:request|call)", lambda m: setattr(p, "per_request", True))
        s.take(r"highest|largest|biggest", lambda m: setattr(p, "superlative", "max"))
        s.take(r"lowest|smallest", lambda m: setattr(p, "superlative", "min"))
        s.take(r"(?:the\s+)?(?:sum|summed)(?:\s+of)?", lambda m: agg("sum"))

    def _measures(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        def setm(name: str):
            return lambda m: _set_measure(p, name)

        s.take(
            r"(?:error|failure|fail|failed)[\s-]+(?:rates?|ratios?|percentages?|share|%)|(?:share|percentage|percent|%|fraction)"
            r"\s+(?:of\s+)?(?:requests\s+)?(?:that\s+)?(?:failed|failing|errors?|erroring|failures)",
            setm("error_rate"),
        )
        s.take(r"time[\s_]+to[\s_]+first[\s_]+tokens?|ttft|first[\s-]token\s+(?:latency|time)", setm("ttft"))
        s.take(r"(?:prompt|input)[\s_]+tokens?", setm("prompt_tokens"))
        s.take(r"(?:completion|output|generated)[\s_]+tokens?", setm("completion_tokens"))
        s.take(r"(?:total[\s_]+)?tokens?(?:\s+usage|\s+used|\s+count)?|token\s+usage|usage", setm("total_tokens"))
        s.take(
            r"latency|latencies|duration|durations|response\s+times?|how\s+slow|slowness|slow|fast|speed|"
            r"how\s+long",
            setm("latency"),
        )
        s.take(
            r"costs?|spend|spending|spent|how\s+much\s+(?:money|did\s+we\s+spend)|expensive|dollars|usd|\$",
            setm("cost"),
        )
        s.take(
            r"(?:number|count|how\s+many)\s+(?:of\s+)?(?:active\s+|unique\s+|distinct\s+)?users|(?:active|unique|distinct)\s+users|dau|mau",
            setm("users"),
        )
        s.take(r"threats?|prompt\s+injections?|injection\s+attempts?|attacks?", setm("threats"))
        s.take(
            r"(?:error|failure)\s+counts?|(?:number|count|how\s+many)\s+(?:of\s+)?(?:errors|failures|failed\s+requests)|"
            r"errors|failures|failed(?:\s+requests?)?|failing(?:\s+requests?)?|erroring(?:\s+requests?)?|errored|error",
            setm("errors"),
        )
        self._scores(s, p, vocab)
        s.take(
            r"(?:how\s+many|number\s+of|count\s+of)(?:\s+(?:requests|calls|llm\s+calls|api\s+calls))?|requests|"
            r"request\s+count|request\s+volume|traffic|volume|throughput|calls|usage\s+count",
            setm("requests"),
        )

    def _scores(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        def key(name: str):
            def handle(m):
                found = match_score_key(name, vocab)
                if found is None:
                    raise Clarify(
                        f"No score '{name}' is recorded. Known score keys: {', '.join(vocab.score_keys) or 'none'}."
                    )
                _set_measure(p, "score")
                if p.score_key and p.score_key != found:
                    raise Clarify("That question names two score keys; ask about one at a time (or 'scores' for all).")
                p.score_key = found

            return handle

        feedback = (
            r"(?:user\s+|end[\s-]user\s+|customer\s+)?(?:feedback|thumbs[\s-]?up|thumbs|positive\s+feedback|"
            r"share\s+of\s+positive\s+feedback|ratings?)(?:\s+(?:scores?|rates?|ratios?|share))?"
        )
        s.take(feedback, key("helicone-score-feedback"))
        for stored in sorted(vocab.score_keys, key=len, reverse=True):
            base = stored.removesuffix("-hcone-bool")
            adjective = base.removeprefix("is_").removeprefix("is-")  # is_correct -> "correct", "correctness"
            extra = {re.escape(adjective), re.escape(adjective + "ness")} if adjective != base else set()
            words = extra | {
                re.escape(stored),
                re.escape(base),
                re.escape(base.replace("_", " ")),
                re.escape(base.replace("-", " ")),
            }
            alternatives = "|".join(sorted(words, key=len, reverse=True))
            s.take(rf"(?:{alternatives})(?:\s+(?:scores?|rates?|ratios?|share|values?|evals?))?", key(stored))

        def any_score(m):
            _set_measure(p, "score")

        s.take(r"(?:eval(?:uation)?\s+)?scores?|evals?(?:uations?)?|quality", any_score)

    def _models(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        models = sorted(vocab.models, key=len, reverse=True)
        picked: list[str] = []
        for model in models:
            s.take(rf"(?:model\s+)?{re.escape(model.lower())}(?:\s+model)?", lambda m, x=model: picked.append(x))
        families: list[str] = []

        def family(m):
            families.extend(w for w in m.group(0).lower().split() if w in FAMILIES)

        fam = "|".join(FAMILIES)
        s.take(rf"(?:all\s+)?(?:the\s+)?(?:{fam})(?:\s+(?:{fam}))*(?:\s+(?:models?|family|series))?", family)

        def unknown(m):
            word = m.group(0)
            if not MODEL_LIKE.match(word.lower()):
                return False
            near = closest(word, list(vocab.models))
            raise Clarify(
                f"I don't see a model called '{word}' in your logs. Closest known models: "
                f"{', '.join(near) or ', '.join(list(vocab.models)[:6])}."
            )

        s.take(r"[a-z][\w.:/-]*\d[\w.:/-]*", unknown)
        if len(picked) == 1:
            p.conditions.append(Condition(field="model", op="equals", value=picked[0]))
        elif picked:
            p.conditions.append(Condition(field="model", op="in", value=sorted(set(picked))))
            if p.group is None and p.bucket is None:
                p.group = "model"
        for word in dict.fromkeys(families):
            p.conditions.append(Condition(field="model", op="contains", value=word))

    def _providers(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        known = providers_of(vocab)
        names = {pv.lower(): pv for pv in known}
        names.update(
            {
                "open ai": names.get("openai", "OPENAI"),
                "gcp": names.get("google", "GOOGLE"),
                "vertex": names.get("google", "GOOGLE"),
                "together ai": names.get("together", "TOGETHER"),
                "togetherai": names.get("together", "TOGETHER"),
            }
        )
        names = {k: v for k, v in names.items() if v in known}
        picked: list[str] = []
        for name in sorted(names, key=len, reverse=True):
            s.take(
                rf"(?:provider\s+)?{re.escape(name)}(?:\s+(?:provider|api|models?|requests|calls))?",
                lambda m, v=names[name]: picked.append(v),
            )
        if len(set(picked)) == 1:
            p.conditions.append(Condition(field="provider", op="equals", value=picked[0]))
        elif picked:
            p.conditions.append(Condition(field="provider", op="in", value=sorted(set(picked))))
            if p.group is None and p.bucket is None:
                p.group = "provider"

    def _properties(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        keys = {k.lower(): k for k in vocab.properties}
        key_words = {}
        for k in vocab.properties:
            for form in {k.lower(), k.lower().replace("_", " "), k.lower().replace("-", " "), k.lower().split("_")[-1]}:
                key_words.setdefault(form, k)
        key_words.update(
            {"env": keys.get("environment"), "tier": keys.get("customer_tier"), "plan": keys.get("customer_tier")}
        )
        key_words = {w: k for w, k in key_words.items() if k}
        key_alt = "|".join(re.escape(w) for w in sorted(key_words, key=len, reverse=True))

        def explicit(m):
            key = key_words[m.group("k").lower()]
            value = m.group("v")
            p.conditions.append(
                Condition(
                    field=f"property:{key}",
                    op="not-equals" if m.group("neg") else "equals",
                    value=_property_value(key, value, vocab),
                )
            )

        if key_alt:
            s.take(
                rf"(?:where\s+|with\s+)?(?P<k>{key_alt})\s*(?:(?P<neg>!=|is\s+not|isn't)|=|:|is|equals|of)\s*(?P<v>[\w.-]+)",
                explicit,
            )

            def bare(m):  # "prompt_version v13": a key word directly followed by a value word
                word = m.group("v").lower()
                if word in FILLER or word in GROUP_WORDS or word in BUCKETS:
                    return False
                explicit(m)

            s.take(rf"(?<!by )(?<!per )(?<!each )(?P<k>{key_alt})\s+(?P<neg>)(?P<v>[\w.-]+)", bare)

        values: list[tuple[str, str, str]] = []
        for key, vals in vocab.properties.items():
            for value in vals:
                values.append((value.lower(), key, value))
        for short, long in SYNONYM_VALUES.items():
            for key, vals in vocab.properties.items():
                if long in vals:
                    values.append((short, key, long))
        for word, key, value in sorted(values, key=lambda t: -len(t[0])):
            suffix = (
                r"(?:\s+(?:" + key_alt + r"|customers?|users?|tier|environment|env|feature|traffic|requests)){0,2}"
                if key_alt
                else ""
            )
            pattern = (
                rf"(?:(?:the|in|on|for|from)\s+)?(?:{key_alt}\s+)?{re.escape(word)}(?:s)?{suffix}"
                if key_alt
                else re.escape(word)
            )

            def hit(m, key=key, value=value):
                asked_requests = re.search(r"\b(requests|calls|traffic)\b", s.original)
                if (
                    m.group(0).strip().endswith(("users", "user"))
                    and p.measure in (None, "requests")
                    and not asked_requests
                ):
                    p.measure = "users"  # "how many enterprise users": people, not requests
                p.conditions.append(Condition(field=f"property:{key}", op="equals", value=value))

            s.take(pattern, hit)

        def unknown_value(m):
            key = key_words[m.group("k").lower()]
            word = m.group("v")
            if word in FILLER or word in GROUP_WORDS or word in BUCKETS:
                return False
            known = ", ".join(vocab.properties[key])
            raise Clarify(f"'{word}' is not a recorded value of {key}. Known values: {known}.")

        if key_alt:
            s.take(r"(?:the\s+)?(?P<v>[\w.-]+)\s+(?P<k>feature|environment|env|tier)(?!\s+(?:is|=))", unknown_value)
        by_key: dict[str, list[Condition]] = {}
        for c in p.conditions:
            if c.field.startswith("property:") and c.op == "equals":
                by_key.setdefault(c.field, []).append(c)
        for key, same in by_key.items():
            values = sorted({str(c.value) for c in same})
            if len(values) > 1:  # "production vs staging": compare them side by side
                p.conditions = [c for c in p.conditions if c not in same]
                p.conditions.append(Condition(field=key, op="in", value=values))
                if p.group is None:
                    p.group = key

    def _groups(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        words = group_words(vocab)
        alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))

        def group(m):
            new = words[m.group("g").lower()]
            if p.group and p.group != new:
                raise Clarify("That question groups by two things; ask for one grouping at a time.")
            p.group = new

        s.take(
            rf"(?:(?:broken\s+down|grouped|split|bucketed|segmented|sliced)\s+)?(?:by|per|for\s+each|for\s+every|each|every|across|among)\s+"
            rf"(?:the\s+|each\s+|every\s+)?(?P<g>{alt})",
            group,
        )
        s.take(rf"(?:which|what)\s+(?P<g>{alt})", group)

    def _users(self, s: Scanner, p: Parse) -> None:
        def user(m):
            p.conditions.append(Condition(field="user", op="equals", value=m.group("u")))

        s.take(r"(?:for\s+|by\s+|from\s+|of\s+)?(?:the\s+)?(?P<u>user[_-][\w.@-]+)", user)
        s.take(
            r"(?:for\s+|by\s+|from\s+|of\s+)?(?:the\s+)?user(?:\s+id|_id)?\s*(?:=|:|is)?\s*(?P<u>[\w.@+-]*\d[\w.@+-]*|[\w.+-]+@[\w.-]+)",
            user,
        )

    def _countries(self, s: Scanner, p: Parse) -> None:
        names = "|".join(re.escape(c) for c in sorted(COUNTRIES, key=len, reverse=True))

        def country(m):
            code = COUNTRIES.get((m.group("c") or "").lower()) or (m.group("cc") or "").upper()
            p.conditions.append(Condition(field="country", op="equals", value=code))

        s.take(rf"(?:from|in)\s+(?:the\s+)?(?P<c>{names})(?!\s+time)", country)
        s.take(r"country(?:\s+code)?\s*(?:=|:|is)?\s*(?P<cc>[a-z]{2})(?P<c>)", country)

    # --- building ----------------------------------------------------------------------------------------
    def build(self, p: Parse, question: str, ctx: Context) -> QuerySpec | None:
        """Turn a Parse into a QuerySpec, editing the previous query for follow-ups."""
        previous = ctx.previous
        is_follow_up = previous is not None and (p.measure is None or bool(FOLLOW_UP.match(question.lower())))
        if p.measure is None and not is_follow_up:
            return None
        if is_follow_up:
            return self._edit(previous, p)
        return self._spec(p, p.measure, p.conditions)

    def _spec(self, p: Parse, measure: str, conditions: list[Condition]) -> QuerySpec:
        aggregation = p.aggregation
        if (
            p.per_request
            and aggregation is None
            and measure in ("cost", "prompt_tokens", "completion_tokens", "total_tokens", "latency", "ttft")
        ):
            aggregation = "avg"
        if measure in ("requests", "errors", "error_rate", "users", "threats") and aggregation not in (None, "sum"):
            raise Clarify(
                f"{measure.replace('_', ' ')} is a count; I can't take its {aggregation}. "
                f"Try '{measure.replace('_', ' ')} per day' to see it over time."
            )
        if measure in ("requests", "errors", "error_rate", "users", "threats"):
            aggregation = None
        elif aggregation is None and p.superlative and p.group is None and measure != "score":
            aggregation = p.superlative  # "highest latency for gpt-4": the largest single value
        bucket = p.bucket
        if bucket is None and p.over_time:
            bucket = _auto_bucket(p.range)
        group = p.group
        if group == "score_key" and measure != "score":
            group = None
        if group == "user" and measure == "users":
            group = None
        return QuerySpec(
            measure=measure,
            aggregation=aggregation,
            scoreKey=p.score_key if measure == "score" else None,
            groupBy=group,
            top=p.top if group else None,
            bucket=bucket,
            range=p.range,
            conditions=conditions,
            timeZone=p.zone,
        )

    def _edit(self, previous: QuerySpec, p: Parse) -> QuerySpec:
        """A follow-up: keep the previous query and change only what the new words say."""
        fields_new = {c.field for c in p.conditions}
        kept = [c for c in previous.conditions if c.field not in fields_new]
        base = Parse(
            measure=p.measure or previous.measure,
            aggregation=p.aggregation or (previous.aggregation if p.measure in (None, previous.measure) else None),
            score_key=p.score_key or (previous.scoreKey if p.measure in (None, "score") else None),
            group=p.group or previous.groupBy,
            top=p.top or previous.top,
            bucket=p.bucket or previous.bucket,
            over_time=p.over_time,
            range=p.range or previous.range,
            zone=p.zone or previous.timeZone,
            per_request=p.per_request,
        )
        if p.bucket is None and p.group is not None and previous.bucket and p.group != previous.groupBy:
            base.bucket = previous.bucket
        return self._spec(base, base.measure, kept + p.conditions)


class _Fake:
    """A stand-in match object for rules that reuse another rule's handler."""

    def __init__(self, **groups: Any):
        self._groups = groups

    def group(self, name: str | int = 0) -> Any:
        return self._groups.get(name)


def _iana(name: str) -> str:
    from heliqa.agent.timerange import zone

    parts = name.split("/")
    candidate = "/".join(part.title() if part.lower() != "utc" else "UTC" for part in parts)
    zone(candidate)
    return candidate


def _latency_field(word: str) -> str:
    return "ttft" if word.lower() in ("ttft",) or "first" in word.lower() else "latency"


def group_words(vocab: Vocabulary) -> dict[str, str]:
    """Every word that names a grouping: the fixed ones and each recorded property key (with its plural)."""
    words = dict(GROUP_WORDS)
    for k in vocab.properties:
        for form in {k.lower(), k.lower().replace("_", " "), k.lower().split("_")[-1]}:
            words.setdefault(form, f"property:{k}")
        words.setdefault(k.lower() + "s", f"property:{k}")
    if "environment" in vocab.properties:
        words.setdefault("env", "property:environment")
    return words


def _property_value(key: str, word: str, vocab: Vocabulary) -> str:
    values = vocab.properties.get(key, {})
    for value in values:
        if value.lower() == word.lower() or value == SYNONYM_VALUES.get(word.lower()):
            return value
    raise Clarify(f"'{word}' is not a recorded value of {key}. Known values: {', '.join(values)}.")


def _set_measure(p: Parse, name: str) -> None:
    name = {
        "spend": "cost",
        "spending": "cost",
        "traffic": "requests",
        "volume": "requests",
        "usage": "total_tokens",
        "tokens": "total_tokens",
        "error rate": "error_rate",
    }.get(name.lower(), name.lower())
    if p.measure and p.measure != name:
        # "failed requests", "error count" and status words set requests first; the specific measure wins.
        if {p.measure, name} <= {"requests", "errors"}:
            p.measure = "errors"
            return
        if p.measure == "requests" and name in (
            "error_rate",
            "users",
            "threats",
            "latency",
            "cost",
            "ttft",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "score",
        ):
            p.measure = name
            return
        if name == "requests":
            return
        raise Clarify(
            f"That question asks about both {p.measure.replace('_', ' ')} and {name.replace('_', ' ')}; "
            "ask about one measure at a time."
        )
    p.measure = name


def _auto_bucket(rng: TimeRange | None) -> str:
    if rng is None or (rng.kind == "last" and rng.unit in ("minutes", "hours") and (rng.n or 0) <= 48):
        return "hour"
    if rng.kind in ("today", "yesterday", "day", "between"):
        return "hour"
    if (
        rng.kind == "last"
        and rng.unit in ("months", "years")
        and (rng.n or 0) * (30 if rng.unit == "months" else 365) > 90
    ):
        return "week"
    return "day"
