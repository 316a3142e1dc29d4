"""The offline rules planner: a real parser for the question vocabulary (see the README).

The question is lower-cased and scanned by ordered rules (time, comparisons, status codes, top-N, buckets,
groups, aggregations, measures, names). Each rule records what it understood and blanks out the words it
used. Whatever is left must be filler words; otherwise the planner reports `unparsed` and names the words it
did not understand, so heliqa never answers a different question than the one asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from heliqa.agent.grounding import FAMILIES, closest, match_score_key, providers_of
from heliqa.agent.planner import Context, Plan
from heliqa.agent.spec import Condition, QuerySpec
from heliqa.agent.timerange import TimeRange, tz_difference, zone
from heliqa.agent.wording import classify, typo_fixes
from heliqa.prompts.lexicon import BLOCKING, CHANGE_WORDS, CONVERSATIONAL_VERBS, SUPERLATIVES
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
# verbs carrying no query meaning that may link a group to its superlative ("which user sent the most requests")
LINKING_VERBS = CONVERSATIONAL_VERBS | {"had", "has", "have", "having"}
LINKING_ALTERNATION = "|".join(re.escape(w) for w in sorted(LINKING_VERBS, key=len, reverse=True))
SHORT_COUNTRY_NAMES = frozenset({"us", "america"})  # also everyday words: a country only where a name stands
SYNONYM_VALUES = {"prod": "production", "dev": "development", "stage": "staging", "stg": "staging"}
MODEL_LIKE = re.compile(
    r"^(gpt|claude|gemini|llama|mistral|mixtral|o\d|text-embedding|command|deepseek|qwen|grok|palm|chatgpt)[\w.:/-]*$"
)
FILLER = set(
    """
a an the of for in on at over during from to with by per within across about and or
what what's whats is are was were be been being show shows me us give get tell list display plot chart
graph see view pull report fetch find check look looks how much many did do does doing we our my i you your it its
there their they please all overall used use using spent each every so far time times has have had as
right now currently current value values number numbers count total
group stats statistics metrics metric trend trends level levels our the this that these those calls call request
requests' made sent served handled come came been was volume just only any some out happening going like
can could would will should hi hey heliqa okay ok also detected flagged
observed seen recorded logged did were get got across period range window hours' data traffic llm api
same instead again too well
overview summary status-wise each breakdown break broken split grouped
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
    implied: str | None = None  # the measure a superlative word implied ("slowest": latency), not one named
    superlative: str | None = None  # the superlative word ("highest", "cheapest", "most"...)
    rank: str | None = None  # "top" or "bottom": which end a superlative or top/bottom N keeps
    extreme: str | None = None  # "max"/"min": a superlative with nothing to rank reads as that aggregation
    who: bool = False  # "who ...": the users are ranked
    plural: bool = False  # "which users ...": a superlative ranks several groups
    combined: bool = False  # "A and B combined": one number, not one group each
    alternatives: dict[str, list[int]] = field(default_factory=dict)  # dimension -> where each value was named
    quotes: list[str] = field(default_factory=list)  # quoted text, byte for byte, hidden from the rules
    fired: list[str] = field(default_factory=list)  # the rule behind every match, in order
    unresolved: list[str] = field(default_factory=list)  # words understood but not usable here ("slowest" what?)


class Scanner:
    """The question text with the words already understood blanked out."""

    def __init__(self, text: str):
        self.text = text
        self.original = text
        self.rule = ""  # the rule now scanning, recorded for every match it takes
        self.fired: list[str] = []
        self.negated: dict[int, str] = {}  # where each negated name begins -> the rule that read it

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
            self.fired.append(self.rule)
            self.blank(m.start(), m.end())
            pos = m.end()
        return found

    def blank(self, start: int, end: int) -> None:
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]

    def tokens(self) -> list[tuple[str, int, int]]:
        """The words not yet understood, as (word, start, end); a trailing '.' or ':' is not part of a word."""
        out = []
        for m in re.finditer(r"\S+", self.text):
            word, end = m.group(0), m.end()
            while word and word[-1] in ".:":
                word, end = word[:-1], end - 1
            if word:
                out.append((word, m.start(), end))
        return out

    def take_names(self, names: dict[str, Any], handle, longest: int) -> None:
        """Look every run of up to `longest` whole words up in `names` (lower-cased keys), longest runs first.

        One dictionary look-up per run, so the cost does not grow with the vocabulary, and a name matches only
        whole words whatever characters it holds (`team_` never matches inside `the`).
        `handle(value, start, end)` returns the span it consumed (it may widen it), or False to skip the match.
        """
        tokens = self.tokens()
        i = 0
        while i < len(tokens):
            for n in range(min(longest, len(tokens) - i), 0, -1):
                run = tokens[i : i + n]
                if any(run[k + 1][1] - run[k][2] > 1 for k in range(n - 1)):
                    continue  # words separated by blanked text are not one name
                key = " ".join(t[0] for t in run)
                if key in names:
                    span = handle(names[key], run[0][1], run[-1][2])
                    if span is not False:
                        self.fired.append(self.rule)
                        self.blank(*span)
                        i += n
                        break
            else:
                i += 1

    def leftover_spans(self) -> list[tuple[str, int]]:
        """Words nobody understood and that are not filler, with where they start."""
        out = []
        for m in re.finditer(r"[\w'.:/@$%-]+", self.text):
            w = m.group(0)
            stripped = w.strip(".'-:")
            if stripped and stripped not in FILLER and not re.fullmatch(r"[\W_]+", stripped):
                out.append((stripped, m.start() + w.index(stripped[0])))
        return out

    def leftovers(self) -> list[str]:
        """Words nobody understood and that are not filler."""
        return [w for w, _ in self.leftover_spans()]


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


@dataclass(frozen=True)
class _Env:
    """What rules may know besides the text: the organization's names and the asker's local clock."""

    vocab: Vocabulary
    today: date
    now: datetime


@dataclass(frozen=True)
class Rule:
    """One scanning rule: rules run in priority order (lower first) and each blanks the words it understood.

    `examples` are phrases the rule must understand when a whole question is scanned; a test checks every rule
    fires on them, so a rule shadowed by an earlier one cannot go unnoticed.
    """

    priority: int
    name: str
    run: Callable[[RulesPlanner, Scanner, Parse, _Env], None]
    examples: tuple[str, ...]


class RulesPlanner:
    """Parses the question vocabulary into a QuerySpec, or says what it did not understand."""

    name = "rules"

    def plan(self, question: str, ctx: Context) -> Plan:
        """Plan one question (a follow-up edits `ctx.previous`); a remark before an explicit query is ignored."""
        whole = self._plan_text(question, ctx)
        if whole.status == "ok":
            return whole
        for remark, query in _remark_splits(question):
            if not self._is_remark(remark, ctx):
                continue
            result = self._plan_text(query, ctx)
            if result.status == "ok":
                result.notes.insert(0, f"ignored the remark '{remark.strip()}'")
                return result
        return whole

    def _is_remark(self, text: str, ctx: Context) -> bool:
        """A remark names nothing that filters, groups or times the rows (a measure word at most); of the words
        that are otherwise asked back it may hold only why-and-what-changed words ("why is spend spiking")."""
        try:
            p, s = self.scan(text, ctx)
        except Clarify:
            return False
        if p.conditions or p.range or p.group or p.top or p.bucket or p.zone or p.quotes or p.alternatives:
            return False
        verdict = classify(s.leftover_spans(), s.original, text, ctx.vocabulary, FILLER)
        return all(w.lower() in CHANGE_WORDS for w in verdict.blocking + p.unresolved)

    def _plan_text(self, question: str, ctx: Context) -> Plan:
        notes: list[str] = []
        try:
            parse, s = self.scan(question, ctx)
            leftovers = s.leftover_spans()
            fixes = typo_fixes([w for w, _ in leftovers]) if leftovers else {}
            if fixes:
                question = _apply_fixes(question, fixes)
                notes.append("read " + ", ".join(f"'{a}' as '{b}'" for a, b in fixes.items()))
                parse, s = self.scan(question, ctx)
                leftovers = s.leftover_spans()
        except Clarify as ask:
            return Plan("clarify", message=ask.message, planner=self.name)
        verdict = classify(leftovers, s.original, question, ctx.vocabulary, FILLER)
        # a grouping word nobody placed ("worst model by error rate"): the answer would drop the grouping
        stray_groups = [w for w in verdict.ignored if w.lower() in GROUP_WORDS]
        verdict.ignored = [w for w in verdict.ignored if w not in stray_groups]
        blocking = verdict.blocking + parse.unresolved + stray_groups
        if blocking:
            words = ", ".join(f"'{_unhide(w, parse.quotes)}'" for w in dict.fromkeys(blocking))
            near = f" Closest known names: {', '.join(verdict.near[:6])}." if verdict.near else ""
            return Plan("unparsed", message=f"I didn't understand {words} in that question.{near}", planner=self.name)
        if verdict.ignored:
            notes.append("ignored: " + ", ".join(dict.fromkeys(verdict.ignored)))
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
        if _asks_for_rows(question, spec):
            return Plan(
                "unparsed",
                message="That asks for individual requests, not a number; I can count them ('how many ...').",
                planner=self.name,
            )
        return Plan("ok", spec=spec, planner=self.name, notes=notes)

    # --- parsing --------------------------------------------------------------------------------------
    def parse(self, question: str, ctx: Context) -> tuple[Parse, list[str]]:
        """Run every rule over the question; return what was understood and the leftover words."""
        parse, scanner = self.scan(question, ctx)
        return parse, scanner.leftovers()

    def scan(self, question: str, ctx: Context) -> tuple[Parse, Scanner]:
        """Run the rule table over the question, in priority order; the scanner keeps what is left over."""
        text, quotes = _hide_quotes(question)
        # a number word counts only before another word ("top five users"), not in "quick one: ..."
        text = re.sub(
            rf"\b({'|'.join(NUMBER_WORDS)})\b(?=\s+\w)",
            lambda m: str(NUMBER_WORDS[m.group(1).lower()]),
            text,
            flags=re.I,
        )
        text = " " + text.strip().rstrip("?!.").replace("’", "'") + " "
        text = re.sub(r"(?<![\w/])w/o(?![\w/])", " without ", text)  # chat shorthand: "w/o staging", "w/ errors"
        text = re.sub(r"(?<![\w/])w/(?![\w/])", " with ", text)
        text = re.sub(r"[?!;,()\[\]{}]", " ", text)
        text = re.sub(r"'s\b", "", text)
        s = Scanner(text.lower())
        p = Parse(quotes=quotes)
        local_now = ctx.now.astimezone(timezone(timedelta(minutes=-tz_difference(ctx.now, ctx.tz))))
        env = _Env(vocab=ctx.vocabulary, today=local_now.date(), now=local_now)
        for rule in RULES:
            s.rule = rule.name
            rule.run(self, s, p, env)
        s.rule = "resolve"
        self._resolve(s, p)
        p.fired = s.fired
        return p, s

    def _zone(self, s: Scanner, p: Parse) -> None:
        names = "|".join(sorted((re.escape(z) for z in ZONES), key=len, reverse=True))

        def zone(m):
            p.zone = ZONES[m.group(1)]

        s.take(rf"(?:in|using)\s+({names})(?:\s+time(?:\s*zone)?|\s+tz)?", zone)
        s.take(r"(?:in|using)\s+([a-z]+/[a-z_]+)(?:\s+time)?", lambda m: setattr(p, "zone", _iana(m.group(1))))

    def _quoted_and_body(self, s: Scanner, p: Parse, original: str) -> None:
        def body(m):
            value = _unhide(m.group("q1") or m.group("q2") or m.group("w"), p.quotes)
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
        if p.zone:  # a zone named in the question replaces the asker's, with its own date and clock
            now = now.astimezone(timezone(timedelta(minutes=-tz_difference(now, zone(p.zone)))))
            today = now.date()

        def set_range(rng: TimeRange):
            if p.range is not None and p.range != rng:
                raise Clarify("That question names two time ranges; ask about one range at a time.")
            p.range = rng

        def days_ago(m):  # "3 days ago", "the day before yesterday": that whole local day
            if re.search(r"since\s+$", s.text[: m.start()]):
                return False  # "since 3 days ago" is a start, not a day: asked back
            back = int(m.group("n")) if m.group("n") else 2
            set_range(TimeRange(kind="day", day=today - timedelta(days=back)))

        s.take(r"(?:on\s+)?(?P<n>\d{1,3})\s+days?\s+ago|(?:on\s+)?(?:the\s+)?day\s+before\s+yesterday", days_ago)

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
                start = datetime(today.year, today.month, today.day, h % 24, mi)
                if start > now.replace(tzinfo=None):
                    start -= timedelta(days=1)  # "since 9am" before 9am: the most recent 9am, yesterday's
                set_range(TimeRange(kind="since", start=start))

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
                day = d.replace(day=n)
            except ValueError:
                raise Clarify(f"There is no day {n} in {d:%B}.") from None
            if m.group("since"):  # "since the 20th": that day's midnight until now
                set_range(TimeRange(kind="since", start=datetime(day.year, day.month, day.day)))
            else:
                set_range(TimeRange(kind="day", day=day))

        s.take(r"(?P<since>since\s+)?(?:on\s+)?the\s+(?P<n>[12]?\d|3[01])(?:st|nd|rd|th)(?![\s-]+percentile)", nth)

        def last_n(m):
            set_range(TimeRange(kind="last", n=int(m.group("n")), unit=UNITS[m.group("u").lower()]))

        s.take(rf"{_LAST}\s+(?P<n>\d+)\s*(?P<u>{_UNIT})", last_n)
        # "the last couple of days": two of the unit ("a few" stays unknown and is asked back)
        s.take(
            rf"{_LAST}\s+(?:a\s+)?couple\s+(?:of\s+)?(?P<u>{_UNIT})",
            lambda m: set_range(TimeRange(kind="last", n=2, unit=UNITS[m.group("u").lower()])),
        )
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
            "minute": (1, "minutes"),
            "min": (1, "minutes"),
            "hr": (1, "hours"),
            "wk": (7, "days"),
        }

        def last_one(m):
            n, unit = singles[m.group("u").lower()]
            set_range(TimeRange(kind="last", n=n, unit=unit))

        singular = r"minute|hour|day|24h|week|fortnight|month|year|quarter|(?:min|hr|wk)(?![a-z])"
        s.take(rf"{_LAST}\s+(?P<u>{singular})", last_one)
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

        s.take(r"(?:up\s+)?(?:to|until|till)\s+now|to\s+date", lambda m: None)  # the end is now by default

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
            op = _direction(m.group("dir"), ("longer", "slower", "more", "over", "above", "greater", ">"))
            if m.group("eq") and op in ("gt", "lt"):
                op += "e"
            value = float(m.group("n")) * scale[m.group("u").lower()]
            p.conditions.append(
                Condition(
                    field=_latency_field(m.group("f") or m.group("f2") or "latency"),
                    op=op,
                    value=int(value) if value.is_integer() else value,
                )
            )

        s.take(
            rf"(?:that\s+took\s+|taking\s+|which\s+took\s+|with\s+)?(?:(?P<f>latency|duration|ttft|time\s+to\s+first\s+token)\s+)?"
            rf"(?P<dir>{_AT})"
            rf"(?:\s+than)?(?P<eq>\s+or\s+equal\s+to)?\s+(?P<n>\d+(?:\.\d+)?)\s*{unit}"
            rf"(?:\s+(?:of\s+)?(?P<f2>latency|duration|ttft|time\s+to\s+first\s+token))?",  # "above 5 s latency"
            latency,
        )

        def tokens(m):
            op = _direction(m.group("dir"), ("more", "over", "above", "greater", ">"))
            kind = (m.group("k") or "total").lower()
            field_name = {
                "prompt": "prompt_tokens",
                "input": "prompt_tokens",
                "completion": "completion_tokens",
                "output": "completion_tokens",
            }.get(kind, "total_tokens")
            p.conditions.append(Condition(field=field_name, op=op, value=int(m.group("n"))))

        s.take(
            rf"(?:with\s+)?(?P<dir>{_AT})(?:\s+than)?\s+(?P<n>\d+)\s+"
            r"(?:(?P<k>prompt|input|completion|output|total)\s+)?tokens",
            tokens,
        )

        def cost(m):
            op = _direction(m.group("dir"), ("more", "over", "above", "greater", ">"))
            p.conditions.append(Condition(field="cost", op=op, value=float(m.group("n"))))

        s.take(
            rf"(?:costing|that\s+cost|cost|with\s+cost)\s+(?P<dir>{_AT})"
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
        words = rank_words(vocab)
        groups = _per_vocabulary(vocab, "rank alternation", lambda v: alternation(words))

        def ranked(m, n: str | None, group_word: str, rank: str) -> None:
            # "top model" is one, "top users" ten, "top 3 users" three
            p.top = int(n) if n else (10 if group_word.lower().endswith("s") and group_word.lower() != "status" else 1)
            p.group = words[group_word.lower()]
            p.rank = rank

        def top(m):
            ranked(m, m.group("n"), m.group("g"), "bottom" if m.group("d").lower() == "bottom" else "top")
            measure = m.group("m") or m.group("m2")
            if measure:
                _set_measure(p, measure)
            elif m.group("d").lower() not in ("top", "bottom"):
                p.unresolved.append(m.group("d"))  # "our biggest customer": biggest by what?

        measures = r"cost|spend|spending|latency|tokens|requests|traffic|volume|errors|error\s+rate|usage"
        s.take(
            rf"(?:the\s+)?(?P<d>top|bottom|biggest|largest|heaviest)\s+(?P<n>\d+)?\s*"
            rf"(?:(?P<m2>tokens?|cost|spend|request|requests|error|errors)\s+)?(?P<g>{groups})"
            rf"(?:\s+(?:by|in|for)\s+(?P<m>{measures}))?",
            top,
        )

        def most(m):
            word = (m.group("w") or m.group("w2")).lower()
            rank, implied = SUPERLATIVES.get(word, ("top", None))
            ranked(m, m.group("n"), m.group("g"), rank)
            p.superlative = word
            _set_measure(p, {"expensive": "cost", "costly": "cost", "active": "requests"}.get(word, implied or "cost"))
            p.implied = p.measure if implied else None

        sup = "|".join(w for w, (_, implied) in SUPERLATIVES.items() if implied)
        s.take(
            rf"(?:the\s+)?(?:top\s+)?(?P<n>\d+)?\s*(?:most\s+(?P<w>expensive|costly|active)|(?P<w2>{sup}))\s+(?P<g>{groups})",
            most,
        )

        def anywhere(m):  # "..., top 2": the grouping is named elsewhere
            p.top = int(m.group("n"))
            p.rank = m.group("d").lower()

        s.take(r"(?:the\s+)?(?P<d>top|bottom)\s+(?P<n>\d+)", anywhere)

    def _repeated_buckets(self, s: Scanner, p: Parse) -> None:
        s.take(r"(?P<b>day|hour|week|month)\s+by\s+(?P=b)", lambda m: _set_bucket(p, m.group("b")))

    def _buckets(self, s: Scanner, p: Parse) -> None:
        # "average daily cost", "avg tokens per day": the mean of daily totals, or a per-request mean by day?
        if ambiguous := next(filter(None, (re.search(form, s.text) for form in _AVERAGE_OF_TOTALS)), None):
            what = " ".join(ambiguous.group("m").split())
            unit = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}.get(*[ambiguous["u"]] * 2)
            raise Clarify(
                f"Do you mean the total {what} per {unit}, or the average {what} per request, {unit} by {unit}? "
                f"Ask '{what} per {unit}' or 'average {what} per request by {unit}'."
            )

        def bucket(m):
            _set_bucket(p, m.group("b"))

        s.take(r"(?P<b>minutely|hourly|daily|weekly|monthly|yearly)", bucket)
        s.take(
            r"(?:by|per|each|every|for\s+each|broken\s+down\s+by|grouped\s+by|split\s+by|bucketed\s+by|in)\s+(?:the\s+)?(?P<b>minute|min|hour|day|week|month|year)s?",
            bucket,
        )
        s.take(
            r"over\s+time|as\s+a\s+(?:time\s+)?series|trend(?:ing|s)?|chang(?:e|ed|ing)|evolv(?:e|ed|ing)|develop(?:ed)?",
            lambda m: _over_time(s, p, m),
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
        s.take(
            r"per\s+(?:single\s+|individual\s+)?(?:request|call)|(?:of\s+)?(?:a|one|any|an)\s+(?:single|individual)\s+(?:request|call)",
            lambda m: setattr(p, "per_request", True),
        )
        s.take(r"(?:the\s+)?(?:sum|summed)(?:\s+of)?", lambda m: agg("sum"))

    def _measures(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        def setm(name: str):
            return lambda m: _set_measure(p, name)

        s.take(
            r"(?:error|failure|fail|failed)[\s-]+(?:rates?|ratios?|percentages?|share|%)|(?:share|percentage|percent|%|fraction)"
            r"\s+(?:of\s+)?(?:requests\s+)?(?:that\s+)?(?:failed|failing|errors?|erroring|failures)",
            setm("error_rate"),
        )

        def users_failing(m):  # "users who hit errors": the users among the failed requests, not two measures
            _set_measure(p, "users")
            p.conditions.append(Condition(field="status", op="gte", value=400))

        s.take(
            r"(?:(?:number|count|how\s+many)\s+(?:of\s+)?)?(?:active\s+|unique\s+|distinct\s+)?users\s+"
            r"(?:(?:who|that)\s+)?(?:(?:were|have|had|got)\s+)?(?:with|hit|hitting|got|getting|saw|seeing|had|having|"
            r"experienced|experiencing|affected\s+by|impacted\s+by|encountered|facing)\s+(?:an?\s+|any\s+)?"
            r"(?:errors?|failures?|(?:failed|failing)\s+requests?)",
            users_failing,
        )
        s.take(r"time[\s_]+to[\s_]+first[\s_]+tokens?|ttft|first[\s-]token\s+(?:latency|time)", setm("ttft"))
        s.take(r"(?:prompt|input)[\s_]+tokens?", setm("prompt_tokens"))
        s.take(r"(?:completion|output|generated)[\s_]+tokens?", setm("completion_tokens"))
        s.take(r"(?:total[\s_]+)?tokens?(?:\s+usage|\s+used|\s+count)?|token\s+usage|usage", setm("total_tokens"))
        # "slow requests", "expensive calls": requests past a threshold nobody named, not a latency or a cost
        s.take(
            r"(?:slow|slower|fast|faster|expensive|cheap|long|big|large|heavy|costly)\s+(?:requests?|calls?)",
            lambda m: p.unresolved.append(m.group(0)),
        )
        s.take(
            r"latency|latencies|duration|durations|response\s+times?|how\s+slow|slowness|slow|fast|speed|"
            r"how\s+long",
            setm("latency"),
        )
        s.take(
            r"costs?|spends?|spending|spent|how\s+much\s+(?:money|did\s+we\s+spend)|money|expensive|dollars|usd|\$",
            setm("cost"),
        )
        s.take(
            r"(?:number|count|how\s+many)\s+(?:of\s+)?(?:active\s+|unique\s+|distinct\s+)?users|(?:active|unique|distinct)\s+users|dau|mau",
            setm("users"),
        )
        s.take(r"threats?|prompt\s+injections?|injection\s+attempts?|attacks?", setm("threats"))

        def failed_rows(m):  # "cost of failed requests": a measure over the failed rows, not a second measure
            if p.measure not in ("latency", "ttft", "cost", "prompt_tokens", "completion_tokens", "total_tokens"):
                return False
            p.conditions.append(Condition(field="status", op="gte", value=400))

        s.take(
            r"(?:of|for|on|from|across)\s+(?:the\s+|all\s+|our\s+)?(?:failed|failing|errored|erroring|unsuccessful)"
            r"\s+(?:requests?|calls?)|(?:of|for|on)\s+(?:the\s+)?(?:requests?|calls?)\s+(?:that|which)\s+(?:failed|errored)",
            failed_rows,
        )
        s.take(
            r"(?:error|failure)\s+counts?|(?:number|count|how\s+many)\s+(?:of\s+)?(?:errors|failures|failed\s+requests)|"
            r"errors|failures|failed(?:\s+requests?)?|failing(?:\s+requests?)?|erroring(?:\s+requests?)?|errored|error",
            setm("errors"),
        )
        self._scores(s, p, vocab)
        s.take(
            r"(?:how\s+many|number\s+of|count\s+of)(?:\s+(?:requests|reqs|calls|llm\s+calls|api\s+calls))?|requests|reqs|"
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
        index = names_index(vocab)
        exact: list[tuple[str, bool, int]] = []  # (model, negated, where)

        def model(value, start, end):
            start, end = _widen(s, start, end, before=r"model\s+", after=r"\s+models?")
            negated, start = _negation_before(s, start)
            exact.append((value, negated, start))
            return start, end

        s.take_names(index.models, model, index.model_words)
        phrases: list[tuple[list[str], bool, int]] = []  # family words read together, e.g. "claude sonnet"

        def family(m):
            negated, start = _negation_before(s, m.start())
            words = [w for w in m.group(0).lower().split() if w in FAMILIES]
            # "gemini pro", "o3 mini": a word that names part of that family's models belongs to the model
            follow = re.match(
                r"\s+([a-z][a-z\d]*)(?![\w.-])(?!\s+(?:tier|plan|customers?|users?|env|environment))", s.text[m.end() :]
            )
            if follow and not m.group(0).lower().rstrip().endswith(("model", "models", "family", "series")):
                part = follow.group(1)
                if any(
                    all(w in name.lower() for w in words) and part in re.split(r"[-_.:/]", name.lower())
                    for name in vocab.models
                ):
                    words.append(part)
                    s.blank(m.end(), m.end() + follow.end())
            phrases.append((words, negated, start))
            if start < m.start():
                s.blank(start, m.start())

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
        for value, negated, _ in exact:
            if negated:
                p.conditions.append(Condition(field="model", op="not-equals", value=value))
        for words, negated, _ in phrases:
            if negated:
                p.conditions.extend(Condition(field="model", op="not-contains", value=w) for w in words)
        wanted = [(v, at) for v, negated, at in exact if not negated]
        wanted_families = [(words, at) for words, negated, at in phrases if not negated]
        if len(wanted) + len(wanted_families) == 1:
            if wanted:
                p.conditions.append(Condition(field="model", op="equals", value=wanted[0][0]))
            for word in dict.fromkeys(wanted_families[0][0] if wanted_families else []):
                p.conditions.append(Condition(field="model", op="contains", value=word))
            return
        if not wanted and not wanted_families:
            return
        # two or more models named: "sonnet vs haiku" is either model, one group each
        values = [v for v, _ in wanted]
        for words, _ in wanted_families:
            matches = [m for m in vocab.models if all(w in m.lower() for w in words)]
            if len(matches) != 1:
                raise Clarify(
                    f"'{' '.join(words)}' matches {len(matches)} models"
                    + (f" ({', '.join(matches[:8])})" if matches else "")
                    + "; name the models to compare exactly."
                )
            values.append(matches[0])
        values = sorted(set(values))
        if len(values) == 1:
            p.conditions.append(Condition(field="model", op="equals", value=values[0]))
            return
        p.conditions.append(Condition(field="model", op="in", value=values))
        p.alternatives["model"] = [at for _, at in wanted] + [at for _, at in wanted_families]

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
        picked: list[tuple[str, bool, int]] = []

        def provider(value, start, end):
            start, end = _widen(
                s, start, end, before=r"provider\s+", after=r"\s+(?:provider|api|models?|requests|calls)"
            )
            negated, start = _negation_before(s, start)
            picked.append((value, negated, start))
            return start, end

        s.take_names(names, provider, 2)
        _add_picked(p, "provider", picked)

    def _properties(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        key_words = property_key_words(vocab)
        key_alt = _per_vocabulary(vocab, "key alternation", lambda v: alternation(key_words))
        named: list[tuple[str, str, int]] = []  # (key, value, where) of every positive value named

        def explicit(m):
            key = key_words[m.group("k").lower()]
            value = _property_value(key, m.group("v"), vocab)
            negated = bool(m.group("neg"))
            p.conditions.append(
                Condition(field=f"property:{key}", op="not-equals" if negated else "equals", value=value)
            )
            if not negated:
                named.append((key, value, m.start()))

        if key_alt:
            s.take(
                rf"(?:where\s+|with\s+)?(?P<k>{key_alt})\s*(?:(?P<neg>!=|is\s+not|isn't)|=|:|is|equals|of)\s*(?P<v>[\w.-]+)",
                explicit,
            )

            def bare(m):  # "prompt_version v13": a key word directly followed by a value word
                word = m.group("v").lower()
                if word in FILLER or word in BLOCKING or word in GROUP_WORDS or word in BUCKETS:
                    return False
                key = key_words[m.group("k").lower()]
                known = {v.lower() for v in vocab.properties.get(key, {})} | set(SYNONYM_VALUES)
                if word not in known and word.isalpha():
                    return False  # "the support-bot feature hit": an ordinary word, not a value
                explicit(m)

            s.take(rf"(?<!by )(?<!per )(?<!each )(?P<k>{key_alt})\s+(?P<neg>)(?P<v>[\w.-]+)", bare)

        index = names_index(vocab)
        suffix = _per_vocabulary(
            vocab,
            "value suffix alternation",
            lambda v: alternation(
                set(key_words)
                | {f"{k}s" for k in key_words}  # "the codegen and search features"
                | {"customers", "customer", "users", "user", "tier", "env", "traffic", "requests"}
            ),
        )

        def value_named(hits, start, end):
            if len({key for key, _ in hits}) > 1:
                keys = ", ".join(sorted({key for key, _ in hits}))
                raise Clarify(f"'{s.original[start:end]}' is a value of several properties ({keys}); which one?")
            key, value = hits[0]
            start, end = _widen(s, start, end, before=rf"(?:{key_alt})\s+" if key_alt else None)
            end = _widen(s, start, end, after=rf"(?:\s+(?:{suffix})){{1,2}}")[1]
            negated, start = _negation_before(s, start)
            consumed = s.original[start:end]
            asked_requests = re.search(r"\b(requests|calls|traffic)\b", s.original)
            if consumed.endswith(("users", "user")) and p.measure in (None, "requests") and not asked_requests:
                p.measure = "users"  # "how many enterprise users": people, not requests
            p.conditions.append(
                Condition(field=f"property:{key}", op="not-equals" if negated else "equals", value=value)
            )
            if not negated:
                named.append((key, value, start))
            return start, end

        s.take_names(index.values, value_named, index.value_words)

        def unknown_value(m):
            key = key_words[m.group("k").lower()]
            word = m.group("v")
            if word in FILLER or word in BLOCKING or word in GROUP_WORDS or word in BUCKETS:
                return False
            known = ", ".join(list(vocab.properties[key])[:20])
            raise Clarify(f"'{word}' is not a recorded value of {key}. Known values: {known}.")

        if key_alt:
            s.take(r"(?:the\s+)?(?P<v>[\w.-]+)\s+(?P<k>feature|environment|env|tier)(?!\s+(?:is|=))", unknown_value)
        by_key: dict[str, list[tuple[str, int]]] = {}
        for key, value, at in named:
            by_key.setdefault(key, []).append((value, at))
        for key, hits in by_key.items():
            values = sorted({v for v, _ in hits})
            if len(values) > 1:  # "production vs staging": compare them side by side
                field_name = f"property:{key}"
                p.conditions = [c for c in p.conditions if not (c.field == field_name and c.op == "equals")]
                p.conditions.append(Condition(field=field_name, op="in", value=values))
                p.alternatives[field_name] = [at for _, at in hits]

    def _groups(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        words = group_words(vocab)
        alt = _per_vocabulary(vocab, "group alternation", lambda v: alternation(words))

        def group(m):
            new = words[m.group("g").lower()]
            if m.groupdict().get("g2") and words[m.group("g2").lower()] != new:  # "by model and provider"
                raise Clarify("That question groups by two things; ask for one grouping at a time.")
            if p.group and p.group != new:
                raise Clarify("That question groups by two things; ask for one grouping at a time.")
            p.group = new

        s.take(
            rf"(?:(?:broken\s+down|break\s+(?:it\s+|that\s+|this\s+)?down|grouped|split|bucketed|segmented|sliced)\s+)?(?:by|per|for\s+each|for\s+every|each|every|across|among)\s+"
            rf"(?:the\s+|each\s+|every\s+)?(?P<g>{alt})(?:(?:\s*(?:,|&|\+|/|and|or)\s*|\s+)(?P<g2>{alt}))?",
            group,
        )

        def which(m):
            group(m)
            p.plural = m.group("g").lower().endswith("s") and m.group("g").lower() != "status"

        s.take(rf"(?:which|what)\s+(?P<g>{alt})", which)

    def _combined(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        together_provider = any(pv.lower() == "together" for pv in providers_of(vocab))

        def combined(m):
            if together_provider and m.group(0).lower() == "together" and _names_together(s.text, m.start(), m.end()):
                return False  # the provider Together, left for the provider rule
            p.combined = True

        s.take(r"combined|together|in\s+total|altogether|summed\s+up|added\s+up|put\s+together", combined)

    def _superlatives(self, s: Scanner, p: Parse, vocab: Vocabulary) -> None:
        words = rank_words(vocab)
        groups = _per_vocabulary(vocab, "rank alternation", lambda v: alternation(words))
        sup = "|".join(sorted(SUPERLATIVES, key=len, reverse=True))

        def superlative(m):
            word = m.group("w").lower()
            if p.superlative and p.superlative != word:
                raise Clarify(f"That question has two superlatives ('{p.superlative}', '{word}'); ask for one.")
            p.superlative = word
            rank, implied = SUPERLATIVES[word]
            p.rank = p.rank or rank
            if m.group("u"):
                implied = "requests"  # "the most used model"
            if implied and not (implied == "latency" and p.measure == "ttft"):  # "which provider was slowest by ttft"
                _set_measure(p, implied)
            if m.group("g"):
                new = words[m.group("g").lower()]
                if p.group and p.group != new:
                    raise Clarify("That question groups by two things; ask for one grouping at a time.")
                p.group = new

        used = r"(?:\s+(?P<u>used|popular|common|called|requested|active))?"
        s.take(
            r"(?P<u>used|called|requested)\s+(?:the\s+)?(?P<w>most|least)(?P<g>)",
            superlative,
        )
        # "model with the highest p95", "which user sent the most requests": a verb without meaning may link them
        s.take(
            rf"(?P<g>{groups})\s+(?:(?:with|that|which|who)\s+(?:(?:{LINKING_ALTERNATION})\s+)?(?:the\s+)?|"
            rf"(?:{LINKING_ALTERNATION})\s+(?:the\s+)?|the\s+)(?P<w>{sup}){used}",
            superlative,
        )
        s.take(rf"(?:the\s+)?(?P<w>{sup}){used}(?:\s+(?P<g>{groups}))?", superlative)
        s.take(r"who(?:se)?", lambda m: setattr(p, "who", True))

    def _sort_order(self, s: Scanner, p: Parse) -> None:
        # grouped rows are always listed largest first, so asking for that order changes nothing
        s.take(
            r"(?:sorted|ordered|ranked)(?:\s+(?:descending|desc|from\s+(?:highest|largest|most)\s+to\s+"
            r"(?:lowest|smallest|least)))?|(?:highest|largest|biggest|most|slowest|busiest|costliest|priciest)\s+first|"
            r"descending",
            lambda m: p.unresolved.append(m.group(0)) if p.group is None else None,
        )

    def _users_measure(self, s: Scanner, p: Parse) -> None:
        # a bare "users" is the measure only when nothing more specific claimed the word
        def users(m):
            first = re.search(r"\b(?:requests|calls|traffic|users)\b", s.original)
            if p.measure == "requests" and first and first.group(0) != "users":
                return  # "requests for users other than user_0042": the requests are counted
            _set_measure(p, "users")

        s.take(r"(?<!by )(?<!per )(?<!each )(?<!every )(?<!across )users", users)

    def _resolve(self, s: Scanner, p: Parse) -> None:
        """Settle what depends on the whole question: who is ranked, A-vs-B groups, superlatives, top N."""
        if p.who:
            if p.group not in (None, "user"):
                raise Clarify("'who' ranks users, but that question also groups by something else; ask one at a time.")
            p.group = "user"
        for dim, where in p.alternatives.items():
            lo, hi = min(where), max(where)
            # the words joining the values ("sonnet vs haiku", "between gpt-4 and gpt-4o") are understood
            s.take(
                r"vs\.?|versus|compared\s+(?:to|with)|against|or|and",
                lambda m, lo=lo, hi=hi: None if lo < m.start() < hi else False,
            )
            s.take(
                r"compare|comparing|between",
                lambda m, lo=lo: None if m.end() <= lo and not s.text[m.end() : lo].strip() else False,
            )
            if p.combined:
                continue
            if p.group is None:
                p.group = dim
            elif p.group != dim:
                raise Clarify(
                    f"That question names several values of {dim.removeprefix('property:')} and groups by "
                    f"{p.group.removeprefix('property:')}; ask for one grouping at a time."
                )
        if p.superlative and p.group is not None and p.top is None:
            # "which model had the highest p95": the one group; "which users spent the most": a ranking, as "top users"
            p.top = 10 if p.plural else 1
        elif p.superlative and p.group is None:
            extreme = {"highest": "max", "largest": "max", "biggest": "max", "lowest": "min", "smallest": "min"}
            if p.superlative in extreme and p.measure not in (None, "requests", "errors", "users", "threats"):
                p.extreme = extreme[p.superlative]  # "highest latency for gpt-4": the largest single value
            else:
                p.unresolved.append(p.superlative)  # "the slowest request": a list, not a group
            p.rank = None

    def _users(self, s: Scanner, p: Parse) -> None:
        picked: list[tuple[str, bool, int]] = []  # (user, negated, where)

        def user(m):
            negated, start = _negation_before(s, m.start())
            if start < m.start():
                s.blank(start, m.start())
            picked.append((m.group("u"), negated, start))

        s.take(r"(?:for\s+|by\s+|from\s+|of\s+)?(?:the\s+)?(?P<u>user[_-][\w.@-]+)", user)
        s.take(
            r"(?:for\s+|by\s+|from\s+|of\s+)?(?:the\s+)?user(?:\s+id|_id)?\s*(?:=|:|is)?\s*(?P<u>[\w.@+-]*\d[\w.@+-]*|[\w.+-]+@[\w.-]+)",
            user,
        )
        _add_picked(p, "user", picked)

    def _countries(self, s: Scanner, p: Parse) -> None:
        picked: list[tuple[str, bool, int]] = []  # (code, negated, where)

        def country(code, start, end):
            if re.match(r"\s+time(?![\w-])", s.text[end:]):
                return False  # "in India time" is a time zone
            lead = re.search(r"(?<![\w.-])(?:from|in)\s+(?:the\s+)?$", s.text[:start])
            if lead:
                start = lead.start()
            elif s.text[start:end].lower() in SHORT_COUNTRY_NAMES and not _BEFORE_A_NAME.search(s.text[:start]):
                return False  # "us" names a country only where a name stands ("from the US", "UK vs US")
            negated, start = _negation_before(s, start)
            picked.append((code, negated, start))
            return start, end

        s.take_names(COUNTRIES, country, 3)

        def code(m):
            negated, _ = _negation_before(s, m.start())
            picked.append((m.group("cc").upper(), negated, m.start()))

        s.take(r"country(?:\s+code)?\s*(?:=|:|is)?\s*(?P<cc>[a-z]{2})", code)
        _add_picked(p, "country", picked)

    # --- building ----------------------------------------------------------------------------------------
    def build(self, p: Parse, question: str, ctx: Context) -> QuerySpec | None:
        """Turn a Parse into a QuerySpec, editing the previous query for follow-ups."""
        previous = ctx.previous
        is_follow_up = previous is not None and (p.measure is None or bool(FOLLOW_UP.match(question.lower())))
        if p.measure is None and not is_follow_up:
            return None
        if p.measure == "score" and re.search(r"\bhow\s+many\b|\bnumber\s+of\b|\bcount\b", question, re.I):
            raise Clarify(
                "Scores are averaged, not counted: ask for the score (e.g. 'thumbs-up rate', 'average accuracy'), "
                "or for the number of requests."
            )
        if is_follow_up:
            return self._edit(previous, p)
        return self._spec(p, p.measure, p.conditions)

    def _spec(self, p: Parse, measure: str, conditions: list[Condition]) -> QuerySpec:
        aggregation = p.aggregation
        if (
            p.per_request
            and aggregation is None
            and not (p.extreme and p.group is None)  # "highest cost per request": the largest single value
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
        elif aggregation is None and p.extreme and p.group is None and measure != "score":
            aggregation = p.extreme  # "highest latency for gpt-4": the largest single value
        bucket = p.bucket
        if bucket is None and p.over_time:
            bucket = _auto_bucket(p.range)
        group = p.group
        if group == "score_key" and measure != "score":
            raise Clarify(
                "Only scores can be grouped by score key; group by model, provider, user, status, country "
                "or a property instead."
            )
        if group == "user" and measure == "users":
            group = None
        if p.top is not None and group is None:
            raise Clarify(f"Top {p.top} of what? Say which groups to rank, e.g. 'top {p.top} models by cost'.")
        conditions = list({c.model_dump_json(): c for c in conditions}.values())  # "rate limited? 429s": one filter
        bottom = p.rank == "bottom" and group is not None and p.top is not None
        if bottom and bucket is not None:
            raise Clarify("I can rank the lowest groups over the whole range, not per time bucket; drop the bucket.")
        return QuerySpec(
            measure=measure,
            aggregation=aggregation,
            scoreKey=p.score_key if measure == "score" else None,
            groupBy=group,
            top=p.top if group else None,
            bottom=bottom,
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
            rank=p.rank or ("bottom" if previous.bottom else None),
            bucket=p.bucket or previous.bucket,
            over_time=p.over_time,
            range=p.range or previous.range,
            zone=p.zone or previous.timeZone,
            per_request=p.per_request,
        )
        if p.bucket is None and p.group is not None and previous.bucket and p.group != previous.groupBy:
            base.bucket = previous.bucket
        return self._spec(base, base.measure, kept + p.conditions)


RULES: tuple[Rule, ...] = tuple(
    sorted(
        (
            Rule(10, "zone", lambda r, s, p, e: r._zone(s, p), ("latency today in Berlin time",)),
            Rule(20, "quoted text", lambda r, s, p, e: r._quoted_and_body(s, p, s.text), ('requests mentioning "x"',)),
            Rule(
                25, "combined", lambda r, s, p, e: r._combined(s, p, e.vocab), ("cost for gpt-4 and gpt-4o combined",)
            ),
            Rule(30, "time", lambda r, s, p, e: r._time(s, p, e.today, e.now), ("requests on Nov 19",)),
            Rule(40, "comparisons", lambda r, s, p, e: r._comparisons(s, p), ("requests longer than 10 seconds",)),
            Rule(50, "status", lambda r, s, p, e: r._status(s, p), ("how many 429s today",)),
            Rule(60, "top", lambda r, s, p, e: r._top(s, p, e.vocab), ("top 5 users by cost", "cost by model, top 2")),
            Rule(65, "repeated bucket", lambda r, s, p, e: r._repeated_buckets(s, p), ("cost day by day this week",)),
            Rule(70, "buckets", lambda r, s, p, e: r._buckets(s, p), ("cost by day", "hourly requests")),
            Rule(80, "aggregation", lambda r, s, p, e: r._aggregation(s, p), ("p90 latency", "average cost")),
            Rule(90, "measures", lambda r, s, p, e: r._measures(s, p, e.vocab), ("error rate today",)),
            Rule(100, "models", lambda r, s, p, e: r._models(s, p, e.vocab), ("latency for gpt-4", "claude cost")),
            Rule(110, "providers", lambda r, s, p, e: r._providers(s, p, e.vocab), ("requests from anthropic",)),
            Rule(120, "properties", lambda r, s, p, e: r._properties(s, p, e.vocab), ("cost for staging",)),
            Rule(130, "groups", lambda r, s, p, e: r._groups(s, p, e.vocab), ("cost by model",)),
            Rule(135, "sort order", lambda r, s, p, e: r._sort_order(s, p), ("cost by model, highest first",)),
            Rule(
                140,
                "superlatives",
                lambda r, s, p, e: r._superlatives(s, p, e.vocab),
                ("who spent the most", "model with the highest cost"),
            ),
            Rule(150, "users", lambda r, s, p, e: r._users(s, p), ("cost for user_0042",)),
            Rule(160, "countries", lambda r, s, p, e: r._countries(s, p), ("requests from Brazil",)),
            Rule(170, "users measure", lambda r, s, p, e: r._users_measure(s, p), ("users yesterday",)),
        ),
        key=lambda rule: rule.priority,
    )
)


def _hide_quotes(question: str) -> tuple[str, list[str]]:
    """Quoted text is kept byte for byte: each quote becomes a placeholder the rules cannot alter."""
    quotes: list[str] = []

    def hide(m: re.Match) -> str:
        quotes.append(next(g for g in m.groups() if g is not None))
        return f' "zq{len(quotes) - 1}zq" '

    text = re.sub(r'"([^"]+)"|“([^”]+)”|‘([^’]+)’|(?<!\w)\'([^\']+)\'(?!\w)', hide, question)
    return text, quotes


_SEPARATOR = re.compile(r"[.?!;:]\s+|,\s+(?=(?:so|but|anyway|and\s+so)\b)", re.I)
_LIST_VERB = re.compile(
    r"^\W*(?:(?:can|could|would)\s+you\s+)?(?:please\s+|pls\s+)?(?:show|list|display|give|pull|fetch|get|find|print|dump)\b",
    re.I,
)
_COUNT_CUE = re.compile(
    r"\b(?:how\s+many|number|count|counts|total|volume|traffic|rate|per|by|over\s+time|trend|daily|hourly|weekly|"
    r"monthly|breakdown|chart|graph|plot|sum|much)\b",
    re.I,
)


def _remark_splits(question: str) -> list[tuple[str, str]]:
    """(remark, query) pairs at each sentence break, shortest remark first."""
    return [
        (question[: m.start()], question[m.end() :])
        for m in _SEPARATOR.finditer(question)
        if question[m.end() :].strip()
    ]


def _asks_for_rows(question: str, spec: QuerySpec) -> bool:
    """`show me the failed requests`: a list of requests, which this planner does not answer with a count."""
    return (
        spec.measure in ("requests", "errors")
        and spec.groupBy is None
        and spec.bucket is None
        and bool(_LIST_VERB.search(question))
        and not _COUNT_CUE.search(question)
    )


def _apply_fixes(question: str, fixes: dict[str, str]) -> str:
    for wrong, right in fixes.items():
        question = re.sub(rf"(?<![\w.-]){re.escape(wrong)}(?![\w-])", right, question, flags=re.I)
    return question


def _unhide(text: str, quotes: list[str]) -> str:
    return re.sub(r"zq(\d+)zq", lambda m: quotes[int(m.group(1))], text)


class _Fake:
    """A stand-in match object for rules that reuse another rule's handler."""

    def __init__(self, **groups: Any):
        self._groups = groups

    def group(self, name: str | int = 0) -> Any:
        return self._groups.get(name)


@dataclass
class NamesIndex:
    """The organization's names keyed by their lower-cased words, for one dictionary look-up per word run."""

    models: dict[str, str]
    model_words: int
    values: dict[str, list[tuple[str, str]]]  # word run -> [(property key, recorded value)]
    value_words: int


_CACHE: dict[int, tuple[Vocabulary, dict[str, Any]]] = {}


def _per_vocabulary(vocab: Vocabulary, name: str, build: Callable[[Vocabulary], Any]) -> Any:
    """`build(vocab)`, computed once per vocabulary object (a process sees few) so questions don't pay for it."""
    entry = _CACHE.get(id(vocab))
    if entry is None or entry[0] is not vocab:
        if len(_CACHE) > 16:
            _CACHE.clear()
        entry = _CACHE[id(vocab)] = (vocab, {})
    if name not in entry[1]:
        entry[1][name] = build(vocab)
    return entry[1][name]


def alternation(words: dict[str, Any] | set[str]) -> str:
    """A regex alternation of words, longest first (cached with the vocabulary by its callers)."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def names_index(vocab: Vocabulary) -> NamesIndex:
    """The index of `vocab`'s names, built once per vocabulary object."""
    return _per_vocabulary(vocab, "index", _build_index)


def _build_index(vocab: Vocabulary) -> NamesIndex:
    models = {m.lower(): m for m in sorted(vocab.models, key=lambda m: -vocab.models[m])}
    values: dict[str, list[tuple[str, str]]] = {}
    for key, vals in vocab.properties.items():
        for value in vals:
            word = " ".join(value.lower().split())
            if word and word not in FILLER:  # a value spelled "the" is only read with its key ("team_ the")
                for form in (word, word + "s"):
                    values.setdefault(form, []).append((key, value))
        for short, long in SYNONYM_VALUES.items():
            if long in vals:
                values.setdefault(short, []).append((key, long))
    for form, hits in values.items():  # a value spelled exactly wins over another value's plural
        exact = [h for h in hits if h[1].lower() == form or SYNONYM_VALUES.get(form) == h[1]]
        values[form] = list(dict.fromkeys(exact or hits))
    return NamesIndex(
        models=models,
        model_words=max((len(m.split()) for m in models), default=1),
        values=values,
        value_words=min(4, max((len(v.split()) for v in values), default=1)),
    )


def property_key_words(vocab: Vocabulary) -> dict[str, str]:
    """Words naming a property key: the key, its spaced form, its last part (`tier` for customer_tier)."""
    return _per_vocabulary(vocab, "key words", _property_key_words)


def _property_key_words(vocab: Vocabulary) -> dict[str, str]:
    keys = {k.lower(): k for k in vocab.properties}
    key_words: dict[str, str] = {}
    for k in vocab.properties:
        low = k.lower()
        for form in (low, low.replace("_", " "), low.replace("-", " "), low.split("_")[-1]):
            form = " ".join(form.split())
            if form and form not in FILLER:
                key_words.setdefault(form, k)
    for word, key in (("env", "environment"), ("tier", "customer_tier"), ("plan", "customer_tier")):
        if key in keys:
            key_words.setdefault(word, keys[key])
    return key_words


_NEGATION = re.compile(
    r"(?<![\w.-])(?:not|except|excluding|exclude|excluded|without|other\s+than|besides|but\s+not|minus|"
    r"apart\s+from|aside\s+from|ignoring|excl)\s+(?:(?:for|from|on|in|the|any|of|to|by)\s+)*$"
)


_BEFORE_A_NAME = re.compile(
    r"(?:(?<![\w.-])(?:from|for|on|via|by|using|with|through|at|to|of|the|and|or|vs\.?|versus|than|not|except|"
    r"excluding|without)|[,&+])\s*$",
    re.I,
)
_AFTER_A_PROVIDER = re.compile(r"\s*(?:ai|provider|api|models?|requests?|calls|traffic|'s)(?![\w-])", re.I)
_LIST_JOINER = re.compile(r"(?<![\w.-])(?:and|or|vs\.?|versus|plus)(?![\w-])|[,&+]", re.I)


def _names_together(text: str, start: int, end: int) -> bool:
    """Whether `together` names the provider: it stands where a name does (after a preposition or a list joiner,
    before `ai`/`provider`/`requests`), or no list precedes it for it to combine ("requests from together")."""
    before = text[:start]
    return bool(_BEFORE_A_NAME.search(before) or _AFTER_A_PROVIDER.match(text[end:]) or not _LIST_JOINER.search(before))


_SUMMED = r"(?P<m>costs?|spend|spending|(?:prompt\s+|completion\s+|total\s+)?tokens?|token\s+usage|usage)"
_MEAN = r"(?:avg|average|mean|typical)"
_EVERY, _PER_UNIT = r"(?P<u>hourly|daily|weekly|monthly)", r"(?P<u>hour|day|week|month)"
# an average of a summed measure per time unit: the mean of the totals, which is not the per-request mean
_AVERAGE_OF_TOTALS = tuple(
    re.compile(rf"(?<![\w-]){form}(?![\w-])")
    for form in (
        rf"{_MEAN}\s+{_EVERY}\s+{_SUMMED}",
        rf"{_EVERY}\s+{_MEAN}\s+{_SUMMED}",
        rf"{_MEAN}\s+{_SUMMED}\s+(?:per|a|each)\s+{_PER_UNIT}",
        rf"{_MEAN}\s+{_SUMMED}\s+(?:per|a|each)\s+(?P<u>user|customer)",  # the mean spend per user
    )
)
_JOINERS_ONLY = re.compile(r"(?:\s|,|(?<![\w.-])(?:and|or|nor)(?![\w-]))*", re.I)


def _negation_before(s: Scanner, start: int) -> tuple[bool, int]:
    """Whether a negation (`not`, `excluding`, `other than`...) directly precedes `start`, and where it begins.

    A name joined to a negated name of the same rule is negated too: `excluding staging and development` keeps
    neither, never `environment = development`."""
    m = _NEGATION.search(s.text, 0, start)
    if m and m.end() == start:
        s.fired.append(s.rule)
        s.negated[m.start()] = s.rule
        return True, m.start()
    before = [at for at, rule in s.negated.items() if rule == s.rule and at < start]
    if before:
        between = max(before), start  # the last negated name, then only list joiners (or nothing) up to this one
        if _JOINERS_ONLY.fullmatch(s.text[slice(*between)]):
            s.fired.append(s.rule)
            s.negated[start] = s.rule
            return True, start
    return False, start


def _widen(s: Scanner, start: int, end: int, before: str | None = None, after: str | None = None) -> tuple[int, int]:
    """Widen a span over an optional word pattern directly before and/or after it (still unconsumed text)."""
    if before:
        m = re.search(rf"(?<![\w.-])(?:{before})$", s.text[:start])
        if m:
            start = m.start()
    if after:
        m = re.match(rf"(?:{after})(?![\w-])", s.text[end:])
        if m:
            end += m.end()
    return start, end


def _iana(name: str) -> str:
    parts = name.split("/")
    candidate = "/".join(part.title() if part.lower() != "utc" else "UTC" for part in parts)
    zone(candidate)
    return candidate


def _latency_field(word: str) -> str:
    return "ttft" if word.lower() in ("ttft",) or "first" in word.lower() else "latency"


def rank_words(vocab: Vocabulary) -> dict[str, str]:
    """The grouping words that can be ranked (top N, superlatives): all but score keys."""
    return _per_vocabulary(vocab, "rank words", lambda v: {w: g for w, g in group_words(v).items() if g != "score_key"})


def group_words(vocab: Vocabulary) -> dict[str, str]:
    """Every word that names a grouping: the fixed ones and each recorded property key (with its plural)."""
    return _per_vocabulary(vocab, "group words", _group_words)


def _group_words(vocab: Vocabulary) -> dict[str, str]:
    words = dict(GROUP_WORDS)
    for form, key in property_key_words(vocab).items():
        if form not in ("plan", "tier") or key == "customer_tier":
            words.setdefault(form, f"property:{key}")
    for k in vocab.properties:
        if k.strip():
            words.setdefault(k.lower() + "s", f"property:{k}")
    return words


def _property_value(key: str, word: str, vocab: Vocabulary) -> str:
    values = vocab.properties.get(key, {})
    for value in values:
        if value.lower() == word.lower() or value == SYNONYM_VALUES.get(word.lower()):
            return value
    raise Clarify(f"'{word}' is not a recorded value of {key}. Known values: {', '.join(values)}.")


_AT = (
    r"at\s+least|at\s+most|>=|<=|longer|slower|shorter|faster|quicker|more|fewer|less|over|above|under|below|"
    r"greater|>|<"
)


def _direction(word: str, upward: tuple[str, ...]) -> str:
    """gt/lt for `longer than`, `under`...; gte/lte for `at least`, `at most`, `>=`, `<=`."""
    word = " ".join(word.lower().split())
    if word in ("at least", ">="):
        return "gte"
    if word in ("at most", "<="):
        return "lte"
    return "gt" if word in upward else "lt"


def _over_time(s: Scanner, p: Parse, m: re.Match) -> bool | None:
    """`how did X change` is a series; `what changed` asks for an explanation, which this planner leaves alone."""
    if m.group(0).lower().startswith("chang") and re.search(r"\bwhat(?:\s+has|\s+have)?\s*$", s.text[: m.start()]):
        return False
    p.over_time = True
    return None


def _set_bucket(p: Parse, word: str) -> None:
    word = word.lower()
    new = BUCKETS[word if word in BUCKETS else word.rstrip("s")]
    if p.bucket and p.bucket != new:
        raise Clarify("That question asks for two time buckets; pick one (hourly, daily, weekly...).")
    p.bucket = new


def _add_picked(p: Parse, field: str, picked: list[tuple[str, bool, int]]) -> None:
    """Names picked as (value, negated, where): each negated one excludes; one wanted value filters; two or more
    ("user_0042 and user_0013", "anthropic vs openai") mean either value, one group each."""
    for value, negated, _ in picked:
        if negated:
            p.conditions.append(Condition(field=field, op="not-equals", value=value))
    wanted = [(v, at) for v, negated, at in picked if not negated]
    values = sorted({v for v, _ in wanted})
    if len(values) == 1:
        p.conditions.append(Condition(field=field, op="equals", value=values[0]))
    elif values:
        p.conditions.append(Condition(field=field, op="in", value=values))
        p.alternatives[field] = [at for _, at in wanted]


def _set_measure(p: Parse, name: str) -> None:
    name = {
        "spend": "cost",
        "spending": "cost",
        "traffic": "requests",
        "volume": "requests",
        "usage": "total_tokens",
        "tokens": "total_tokens",
        "token": "total_tokens",
        "request": "requests",
        "error": "errors",
        "error rate": "error_rate",
    }.get(" ".join(name.lower().split()), " ".join(name.lower().split()))
    if p.measure and p.measure != name:
        if p.implied == "latency" and name == "ttft":  # "slowest provider by ttft": time to first token is a latency
            p.measure, p.implied = name, None
            return
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
