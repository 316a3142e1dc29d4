"""A generated wording corpus: questions built from a small grammar of surface variants, each with the spec it means.

Each question is generated around one *slot family* (measure words and typos, aggregations, dates, zones, groupings,
filters, negations, rankings, remarks, number words, shares, two named periods) with the other slots in plain
forms, over the names of one organization's vocabulary (the demo generator's `sample` or `acme`). The expected
meaning is computed from the slots, never typed by hand. A planner must answer each question with exactly that
meaning or ask back: an answer with any other meaning is *wrong*. Seeded: the same seed gives the same questions.

`tests/test_corpus.py` runs a small sample in CI; `benchmarks/corpus.py` runs thousands and prints the figures.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from heliqa.agent.planner import Context
from heliqa.agent.timerange import DEFAULT_RANGE, TimeRange, resolve
from heliqa.tools.filters import parse_instant
from heliqa.tools.query import DEFAULT_AGGREGATION
from heliqa.tools.results import Vocabulary

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)  # a Tuesday
TZ = ZoneInfo("UTC")
VOCABULARIES = ("sample", "acme")
MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
WEEKDAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
COUNTRY_NAMES = {
    "US": "the US",
    "GB": "the UK",
    "DE": "Germany",
    "IN": "India",
    "FR": "France",
    "BR": "Brazil",
    "JP": "Japan",
    "CA": "Canada",
    "ES": "Spain",
    "NL": "the Netherlands",
    "AU": "Australia",
    "MX": "Mexico",
}


# --- the vocabularies ------------------------------------------------------------------------------------------
@cache
def vocabulary(name: str) -> Vocabulary:
    """What exists for the generator's organization `name`, counted from its generated rows."""
    from heliqa.tools.demo import generate

    models, providers, users, scores, countries = Counter(), Counter(), Counter(), Counter(), Counter()
    properties: dict[str, Counter] = {}
    for row in generate(6000, 3, NOW, vocabulary=name):
        models[row["model"]] += 1
        providers[row["provider"]] += 1
        if row["user_id"]:
            users[row["user_id"]] += 1
        for key, value in row["properties"].items():
            properties.setdefault(key, Counter())[value] += 1
        scores.update(row["scores"])
        if row["country_code"]:
            countries[row["country_code"]] += 1
    return Vocabulary(
        models=dict(models),
        providers=dict(providers),
        properties={k: dict(v) for k, v in properties.items()},
        score_keys=dict(scores),
        users=len(users),
        user_ids=dict(users),
        countries=dict(countries),
    )


@dataclass
class Names:
    """The names of one vocabulary a question may use, and its countries (from the generator)."""

    vocab: Vocabulary
    countries: list[str]

    @property
    def keys(self) -> list[str]:
        return sorted(self.vocab.properties)

    def values(self) -> list[tuple[str, str]]:
        """(key, value) of every property value that belongs to one key only and is not another kind of name."""
        seen = Counter(v for values in self.vocab.properties.values() for v in values)
        others = {m.lower() for m in self.vocab.models} | {u.lower() for u in self.vocab.user_ids}
        return sorted(
            (k, v)
            for k, values in self.vocab.properties.items()
            for v in values
            if seen[v] == 1 and v.lower() not in others
        )


@cache
def names(name: str) -> Names:
    """The names of the generator's vocabulary `name`."""
    from heliqa.tools import demo

    countries = demo.COUNTRIES if name == "sample" else demo.ACME_COUNTRIES
    return Names(vocabulary(name), sorted(countries))


# --- what a question means: a normal form both the expectation and the planner's answer reduce to -------------
@dataclass
class Want:
    """The meaning a generated question carries, slot by slot."""

    measure: str = "requests"
    aggregation: str | None = None
    score_key: str | None = None
    group: str | None = None
    top: int | None = None
    bottom: bool = False
    conditions: list[tuple[str, str, object]] = field(default_factory=list)
    range: TimeRange | None = None
    zone: str | None = None
    previous: TimeRange | None = None  # two named periods: the second one

    def normal(self) -> dict:
        """The normal form of this meaning (see `normal_form`)."""
        zone = ZoneInfo(self.zone) if self.zone else TZ
        return _normal(
            measure=self.measure,
            aggregation=self.aggregation,
            score_key=self.score_key,
            group=self.group,
            top=self.top,
            bottom=self.bottom,
            bucket=None,
            conditions=self.conditions,
            time=_span(self.range or DEFAULT_RANGE, zone),
            previous=_span(self.previous, zone)[:2] if self.previous else None,
        )


def _span(rng: TimeRange, zone: ZoneInfo) -> tuple[datetime, datetime, int]:
    time_filter, tzd = resolve(rng, NOW, zone)
    return parse_instant(time_filter.start), parse_instant(time_filter.end), tzd


def _condition(field_: str, op: str, value) -> str:
    if field_ == "provider" and isinstance(value, str):
        value = value.upper()
    if op == "in" and isinstance(value, list):
        value = sorted(value) if len(value) > 1 else value[0]
        op = "in" if isinstance(value, list) else "equals"
    return json.dumps([field_, op, value])


def _normal(*, measure, aggregation, score_key, group, top, bottom, bucket, conditions, time, previous) -> dict:
    conditions = [_condition(*c) for c in conditions]
    if measure == "errors":  # errors are the requests that failed
        measure, conditions = "requests", [*conditions, _condition("status", "gte", 400)]
    return {
        "measure": measure,
        "aggregation": aggregation or DEFAULT_AGGREGATION.get(measure),
        "scoreKey": score_key,
        "groupBy": group,
        "top": top,
        "bottom": bool(bottom and top),
        "bucket": bucket,
        "conditions": sorted(set(conditions)),
        "time": [t.isoformat() if isinstance(t, datetime) else t for t in time],
        "previous": [t.isoformat() for t in previous] if previous else None,
    }


def normal_form(spec) -> dict | None:
    """The planner's answer in the same normal form (None for a list or an explanation)."""
    from heliqa.agent.forms import CompareSpec
    from heliqa.agent.spec import QuerySpec

    previous = None
    if isinstance(spec, CompareSpec):
        compared = spec.to_query(NOW, TZ)
        previous = (parse_instant(compared.previous.timeFilter.start), parse_instant(compared.previous.timeFilter.end))
        spec = spec.query
    if not isinstance(spec, QuerySpec):
        return None
    return _normal(
        measure=spec.measure,
        aggregation=spec.aggregation,
        score_key=spec.scoreKey,
        group=spec.groupBy,
        top=spec.top,
        bottom=spec.bottom,
        bucket=spec.bucket,
        conditions=[(c.field, c.op, c.value) for c in spec.conditions],
        time=_span(spec.range or DEFAULT_RANGE, spec.zone(TZ)),
        previous=previous,
    )


# --- surface variants -----------------------------------------------------------------------------------------
def number_words(n: int, rng: random.Random) -> str:
    """`n` (1-99) spelled in words, with or without the hyphen."""
    ones = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    ones += "seventeen eighteen nineteen"
    tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    if n < 20:
        return ones.split()[n]
    word = tens[n // 10]
    return word if n % 10 == 0 else word + rng.choice(["-", " "]) + ones.split()[n % 10]


def typo(word: str, rng: random.Random) -> str:
    """One slip inside a long word: two neighbours swapped or a letter dropped (never the first letter)."""
    if len(word) < 6:
        return word
    i = rng.randrange(1, len(word) - 2)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :]


def spellings(name: str, rng: random.Random, plural: bool = False) -> str:
    """A name as people type it: `_`/`-`/space interchanged, any case, sometimes plural."""
    parts = re.split(r"[_\-\s]+", name)
    if len(parts) > 1:
        name = rng.choice([" ", "_", "-"]).join(parts)
    name = rng.choice([name, name.lower(), name.title(), name.upper() if len(name) <= 8 else name])
    return name + "s" if plural and not name.lower().endswith("s") else name


def ordinal(n: int) -> str:
    """21 -> 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def day_words(day: date, rng: random.Random) -> str:
    """One local day in one of the ways people write it (a day before NOW's date)."""
    month = MONTH_NAMES[day.month - 1]
    mon = rng.choice([month, month[:3], month[:3].title(), month.title(), month[:3] + "."])
    weekday = WEEKDAY_NAMES[day.weekday()]
    forms = [
        f"{mon} {day.day}",
        f"{mon} {ordinal(day.day)}",
        f"{day.month}/{day.day}",
        day.isoformat(),
        f"the {ordinal(day.day)} of {month}",
        f"{mon} {day.day}, {day.year}",
    ]
    if day.month == NOW.month:
        forms += [
            f"the {ordinal(day.day)}",
            f"the {ordinal(day.day)} of this month",
            f"{weekday} the {ordinal(day.day)}",
        ]
    return rng.choice(forms)


def _past_day(rng: random.Random) -> date:
    return NOW.date() - timedelta(days=rng.randint(1, 28))


@cache
def zone_cities() -> dict[str, str]:
    """City words -> IANA zone, for each two-part zone name whose city is named by one zone only."""
    cities: dict[str, list[str]] = {}
    for name in available_timezones():
        parts = name.split("/")
        if len(parts) == 2 and parts[0] in ("America", "Europe", "Asia", "Africa", "Australia", "Pacific", "Atlantic"):
            cities.setdefault(parts[1].replace("_", " "), []).append(name)
    return {city: zones[0] for city, zones in sorted(cities.items()) if len(zones) == 1}


ZONE_ABBREVIATIONS = {
    "UTC": "UTC",
    "PST": "America/Los_Angeles",
    "EST": "America/New_York",
    "CET": "Europe/Berlin",
    "JST": "Asia/Tokyo",
    "pacific time": "America/Los_Angeles",
    "eastern time": "America/New_York",
}


# --- plain slots the families are set in -------------------------------------------------------------------------
PLAIN_MEASURES = [
    ("cost", "cost", None),
    ("total cost", "cost", "sum"),
    ("p90 latency", "latency", "p90"),
    ("average latency", "latency", "avg"),
    ("how many requests", "requests", None),
    ("error rate", "error_rate", None),
    ("total tokens", "total_tokens", None),
]
PLAIN_TIMES = [
    ("today", TimeRange(kind="today")),
    ("yesterday", TimeRange(kind="yesterday")),
    ("in the last 7 days", TimeRange(kind="last", n=7, unit="days")),
    ("this week", TimeRange(kind="this_week")),
    ("", None),
]
PLAIN_GROUPS = [("by model", "model"), ("by provider", "provider"), ("", None)]


def _plain(rng: random.Random, want: Want, group: bool = True) -> tuple[str, str, str]:
    """Plain measure, grouping and time words, recorded in `want`."""
    words, want.measure, want.aggregation = rng.choice(PLAIN_MEASURES)
    group_words, want.group = rng.choice(PLAIN_GROUPS) if group else ("", None)
    time_words, want.range = rng.choice(PLAIN_TIMES)
    return words, group_words, time_words


def _join(*parts: str) -> str:
    return re.sub(r"\s+", " ", " ".join(parts)).strip()


# --- the families: each returns the question and records its meaning ------------------------------------------
MEASURE_WORDS = [
    ("latency", "latency", None),
    ("avg latency", "latency", "avg"),
    ("average latency", "latency", "avg"),
    ("mean latency", "latency", "avg"),
    ("median latency", "latency", "p50"),
    ("p95 latency", "latency", "p95"),
    ("p99 latency", "latency", "p99"),
    ("90th percentile latency", "latency", "p90"),
    ("max latency", "latency", "max"),
    ("time to first token", "ttft", None),
    ("ttft", "ttft", None),
    ("p90 ttft", "ttft", "p90"),
    ("cost", "cost", None),
    ("spend", "cost", None),
    ("total cost", "cost", "sum"),
    ("prompt tokens", "prompt_tokens", None),
    ("completion tokens", "completion_tokens", None),
    ("total tokens", "total_tokens", None),
    ("tokens", "total_tokens", None),
    ("requests", "requests", None),
    ("number of requests", "requests", None),
    ("how many requests", "requests", None),
    ("request count", "requests", None),
    ("reqs", "requests", None),
    ("errors", "errors", None),
    ("failed requests", "errors", None),
    ("how many errors", "errors", None),
    ("error rate", "error_rate", None),
    ("failure rate", "error_rate", None),
    ("active users", "users", None),
    ("unique users", "users", None),
    ("threats", "threats", None),
]


def measure_family(rng: random.Random, n: Names, want: Want) -> str:
    """Measure words (sometimes with a typo in a long word), or a score key by name."""
    if rng.random() < 0.2:
        key = rng.choice(sorted(n.vocab.score_keys))
        want.measure, want.score_key = "score", key
        bare = key.removesuffix("-hcone-bool")
        words = f"{spellings(bare, rng)} rate" if key.endswith("-hcone-bool") else f"{spellings(key, rng)} score"
    else:
        words, want.measure, want.aggregation = rng.choice(MEASURE_WORDS)
        if rng.random() < 0.4:
            words = " ".join(
                typo(w, rng) if w in ("latency", "average", "requests", "median") else w for w in words.split()
            )
    group, when = rng.choice(PLAIN_GROUPS), rng.choice(PLAIN_TIMES)
    want.group, want.range = group[1], when[1]
    return _join(words, group[0], when[0])


AGGREGATIONS = [
    ("average", "avg"),
    ("avg", "avg"),
    ("mean", "avg"),
    ("median", "p50"),
    ("p50", "p50"),
    ("p75", "p75"),
    ("p90", "p90"),
    ("p95", "p95"),
    ("p99", "p99"),
    ("95th percentile", "p95"),
    ("99th percentile", "p99"),
    ("max", "max"),
    ("maximum", "max"),
    ("min", "min"),
    ("minimum", "min"),
]


def aggregation_family(rng: random.Random, n: Names, want: Want) -> str:
    """An aggregation word on a measure that has values."""
    words, want.aggregation = rng.choice(AGGREGATIONS)
    measure, want.measure = rng.choice(
        [
            ("latency", "latency"),
            ("ttft", "ttft"),
            ("time to first token", "ttft"),
            ("cost", "cost"),
            ("total tokens", "total_tokens"),
        ]
    )
    group, when = rng.choice(PLAIN_GROUPS), rng.choice(PLAIN_TIMES)
    want.group, want.range = group[1], when[1]
    return _join(words, measure, group[0], when[0])


def _range_words(rng: random.Random) -> tuple[str, TimeRange]:
    """A time range in one of its many wordings."""
    unit = rng.choice(["hours", "days", "minutes", "weeks"])
    count = rng.randint(2, 12)
    weekday = rng.randrange(7)
    back = (NOW.weekday() - weekday) % 7 or 7  # the most recent past one, never today
    named = NOW.date() - timedelta(days=back)
    since = NOW.date() - timedelta(days=(NOW.weekday() - weekday) % 7)
    ago = rng.randint(2, 6)
    day = _past_day(rng)
    choices = [
        ("today", TimeRange(kind="today")),
        ("so far today", TimeRange(kind="today")),
        ("yesterday", TimeRange(kind="yesterday")),
        (
            f"{rng.choice(['in the last', 'over the past', 'last', 'past'])} {count} {unit}",
            TimeRange(kind="last", n=count, unit=unit),
        ),
        ("last week", TimeRange(kind="last", n=7, unit="days")),
        ("past month", TimeRange(kind="last", n=30, unit="days")),
        ("this week", TimeRange(kind="this_week")),
        ("this month", TimeRange(kind="this_month")),
        ("last 24h", TimeRange(kind="last", n=24, unit="hours")),
        (f"{rng.choice(['on', 'last'])} {WEEKDAY_NAMES[weekday]}", TimeRange(kind="day", day=named)),
        (f"{ago} days ago", TimeRange(kind="day", day=NOW.date() - timedelta(days=ago))),
        (
            f"since {WEEKDAY_NAMES[weekday]}",
            TimeRange(kind="since", start=datetime.combine(since, datetime.min.time())),
        ),
        (f"on {day_words(day, rng)}", TimeRange(kind="day", day=day)),
        (f"on {day_words(day, rng)}", TimeRange(kind="day", day=day)),
    ]
    return rng.choice(choices)


def date_family(rng: random.Random, n: Names, want: Want) -> str:
    """A time range, most often one day written in any of its forms."""
    measure, group, _ = _plain(rng, want)
    words, want.range = _range_words(rng)
    return _join(measure, group, words) if rng.random() < 0.7 else _join(measure, words, group)


def zone_family(rng: random.Random, n: Names, want: Want) -> str:
    """A zone named by city (any in the zone database) or abbreviation, with a day-bound range."""
    measure, group, _ = _plain(rng, want)
    words, want.range = rng.choice(
        PLAIN_TIMES[:2] + [(f"on {day_words(d, rng)}", TimeRange(kind="day", day=d)) for d in [_past_day(rng)]]
    )
    if rng.random() < 0.6:
        city, want.zone = rng.choice(sorted(zone_cities().items()))
        zone_words = rng.choice([f"in {city} time", f"{city} time", f"in {city.lower()} time"])
    else:
        abbreviation, want.zone = rng.choice(sorted(ZONE_ABBREVIATIONS.items()))
        zone_words = rng.choice([f"in {abbreviation}", f"({abbreviation})"])
    return _join(measure, group, words, zone_words)


def _key_group(rng: random.Random, n: Names, plural: bool = True) -> tuple[str, str]:
    """A grouping word and what it groups by: the organization's keys first, built-in words where it has none."""
    key = rng.choice(n.keys)
    builtin = {"region": "country", "customer": "user"}
    choices = [(spellings(key, rng, plural=plural and rng.random() < 0.3), f"property:{key}")] * 3
    choices += [("model", "model"), ("provider", "provider"), ("user", "user"), ("country", "country")]
    choices += [(word, f"property:{word}" if word in n.keys else meaning) for word, meaning in builtin.items()]
    return rng.choice(choices)


def group_family(rng: random.Random, n: Names, want: Want) -> str:
    """A grouping by a property key in any spelling, or a built-in dimension."""
    measure, _, when = _plain(rng, want, group=False)
    word, want.group = _key_group(rng, n)
    lead = rng.choice(["by", "per", "broken down by", "grouped by", "split by"])
    return _join(measure, lead, word, when) if rng.random() < 0.6 else _join(measure, when, lead, word)


def _value_words(rng: random.Random, n: Names) -> tuple[str, tuple[str, str, object]]:
    """One filter value as people name it: a property value (with or without its key), model, provider, user..."""
    kind = rng.choice(["property", "property", "model", "provider", "user", "country"])
    if kind == "property":
        key, value = rng.choice(n.values())
        key_word, value_word = spellings(key, rng), spellings(value, rng)
        words = rng.choice(
            [
                f"{value_word} {key_word}",
                f"the {value_word} {key_word}",
                f"{key_word} {value_word}",
                f"{key_word} = {value}",
                value_word,
            ]
        )
        return words, (f"property:{key}", "equals", value)
    if kind == "model":
        model = rng.choice(sorted(n.vocab.models))
        return rng.choice([model, model.upper() if len(model) < 8 else model]), ("model", "equals", model)
    if kind == "provider":
        provider = rng.choice(sorted(n.vocab.providers))
        return f"{rng.choice([provider.lower(), provider.title(), provider])} provider", (
            "provider",
            "equals",
            provider,
        )
    if kind == "user":
        user = rng.choice(sorted(n.vocab.user_ids))
        return rng.choice([f"user {user}", user]), ("user", "equals", user)
    code = rng.choice(n.countries)
    return COUNTRY_NAMES[code], ("country", "equals", code)


def filter_family(rng: random.Random, n: Names, want: Want) -> str:
    """A filter: a value named in place, with the words around it that people use."""
    measure, group, when = _plain(rng, want)
    words, condition = _value_words(rng, n)
    want.conditions.append(condition)
    if condition[0] == want.group:  # a value filtered and its dimension grouped is asked back: not this family's
        group, want.group = "", None
    lead = rng.choice(["for", "from", "on", "in"]) if condition[0] != "user" else rng.choice(["for", "from"])
    return _join(measure, lead, words, group, when)


def negation_family(rng: random.Random, n: Names, want: Want) -> str:
    """A negated value (or a negated list of two values of one dimension)."""
    measure, group, when = _plain(rng, want)
    first_words, first = _value_words(rng, n)
    negated = [(first_words, first)]
    if rng.random() < 0.3:
        second_words, second = _value_words(rng, n)
        if second[0] == first[0] and second[2] != first[2]:
            negated.append((second_words, second))
    want.conditions += [(f, "not-equals", v) for _, (f, _, v) in negated]
    listed = " and ".join(w for w, _ in negated)
    lead = rng.choice(["excluding", "except", "other than", "not", "without", "everything except"])
    if len(negated) == 1 and first[0].startswith("property:") and rng.random() < 0.3:
        return _join(measure, f"for non-{spellings(first[2], rng)}", group, when)
    return _join(measure, lead, listed, group, when)


RANKINGS = [
    # (words with {g} for the group, measure, top-or-bottom, aggregation)
    ("which {g} had the highest {m}", None, False),
    ("which {g} had the lowest {m}", None, True),
    ("{g} with the highest {m}", None, False),
    ("slowest {g}", "latency", False),
    ("fastest {g}", "latency", True),
    ("cheapest {g}", "cost", True),
    ("most expensive {g}", "cost", False),
    ("which {g} cost the most", "cost", False),
    ("{g} with the most errors", "errors", False),
    ("{g} with the fewest requests", "requests", True),
    ("which {g} sent the most requests", "requests", False),
    ("worst {g} by error rate", "error_rate", False),
    ("worst {g} by latency", "latency", False),
    ("best {g} by latency", "latency", True),
    ("top {k} {gs} by {m}", None, False),
    ("bottom {k} {gs} by {m}", None, True),
    ("{k} most expensive {gs}", "cost", False),
]
RANKED_MEASURES = [
    ("cost", "cost"),
    ("p95 latency", "latency"),
    ("error rate", "error_rate"),
    ("requests", "requests"),
    ("total tokens", "total_tokens"),
]


def ranking_family(rng: random.Random, n: Names, want: Want) -> str:
    """A superlative or top-N, its direction set by the measure it ranks."""
    pattern, measure, want.bottom = rng.choice(RANKINGS)
    word, want.group = _key_group(rng, n, plural=False)  # "the cheapest apps" may mean several
    k = rng.randint(2, 9)
    measure_words = ""
    if measure is None:
        measure_words, measure = rng.choice(RANKED_MEASURES)
        want.aggregation = "p95" if measure_words == "p95 latency" else None
    want.measure, want.top = measure, k if "{k}" in pattern else 1
    plural = word if word.lower().endswith("s") else word + "s"
    words = pattern.format(g=word, gs=plural, m=measure_words, k=k)
    when, want.range = rng.choice(PLAIN_TIMES)
    return _join(words, when)


REMARKS = [
    "customer says it's slow",
    "things look off",
    "the boss is asking",
    "sorry to bug you",
    "on call and confused",
    "quick one",
    "hey team",
    "why is spend spiking?",
    "something feels weird",
]


def remark_family(rng: random.Random, n: Names, want: Want) -> str:
    """A remark before the explicit question."""
    measure, group, _ = _plain(rng, want)
    when, want.range = rng.choice(PLAIN_TIMES[:4])  # an explicit query: a remark and one word may be a why-question
    remark = rng.choice(REMARKS)
    separator = "" if remark.endswith("?") else rng.choice([",", ".", ":", " -"])
    return _join(remark + separator, measure, group, when)


def number_family(rng: random.Random, n: Names, want: Want) -> str:
    """Counts written as words: ranges and top-N."""
    count = rng.randint(2, 99)
    spelled = number_words(count, rng)
    if rng.random() < 0.5:
        measure, group, _ = _plain(rng, want)
        unit = rng.choice(["hours", "days", "minutes"])
        want.range = TimeRange(kind="last", n=count, unit=unit)
        return _join(measure, group, rng.choice(["over the last", "in the past", "last"]), spelled, unit)
    count = rng.randint(2, 12)
    want.measure, want.group, want.top = "cost", "model", count
    when, want.range = rng.choice(PLAIN_TIMES)
    return _join("top", number_words(count, rng), "models by cost", when)


def share_family(rng: random.Random, n: Names, want: Want) -> str:
    """The share of some requests that failed: an error rate over them."""
    want.measure = "error_rate"
    when, want.range = rng.choice(PLAIN_TIMES)
    scope = ""
    if rng.random() < 0.6:
        kind = rng.choice(["model", "provider"])
        if kind == "model":
            scope = rng.choice(sorted(n.vocab.models))
            want.conditions.append(("model", "equals", scope))
        else:
            provider = rng.choice(sorted(n.vocab.providers))
            scope = f"{provider.lower()} provider"
            want.conditions.append(("provider", "equals", provider))
    pattern = rng.choice(
        [
            "what % of {s} requests failed",
            "what share of {s} requests failed",
            "what percentage of {s} calls errored",
            "percentage of {s} requests that failed",
            "what fraction of {s} requests failed",
        ]
    )
    return _join(pattern.format(s=scope), when)


def compare_family(rng: random.Random, n: Names, want: Want) -> str:
    """Two named days compared: the first named is the current period, the second the previous."""
    words, want.measure, want.aggregation = rng.choice(PLAIN_MEASURES)
    first = NOW.date() - timedelta(days=rng.randint(1, 14))
    want.range = TimeRange(kind="day", day=first)
    if rng.random() < 0.3:
        want.previous = TimeRange(kind="day", day=first - timedelta(days=7))
        return _join(words, "on", day_words(first, rng), "vs the same day a week earlier")
    second = first - timedelta(days=rng.randint(1, 10))
    want.previous = TimeRange(kind="day", day=second)
    joiner = rng.choice(["vs", "versus", "compared with", "compared to"])
    return _join(words, "on", day_words(first, rng), joiner, day_words(second, rng))


FAMILIES: dict[str, Callable[[random.Random, Names, Want], str]] = {
    "measure": measure_family,
    "aggregation": aggregation_family,
    "date": date_family,
    "zone": zone_family,
    "group": group_family,
    "filter": filter_family,
    "negation": negation_family,
    "ranking": ranking_family,
    "remark": remark_family,
    "number": number_family,
    "share": share_family,
    "compare": compare_family,
}


@dataclass(frozen=True)
class Case:
    """One generated question and the meaning it must be answered with."""

    family: str
    question: str
    expected: dict


def cases(vocabulary_name: str, count: int, seed: int) -> Iterator[Case]:
    """`count` questions over the vocabulary, cycling through the families, seeded."""
    rng = random.Random(f"{vocabulary_name}:{seed}")
    n = names(vocabulary_name)
    families = list(FAMILIES)
    for i in range(count):
        family = families[i % len(families)]
        want = Want()
        question = FAMILIES[family](rng, n, want)
        yield Case(family, question, want.normal())


# --- running a planner over the corpus ------------------------------------------------------------------------
@dataclass
class Tally:
    """Per family: how many were answered exactly, asked back, or answered wrongly (with examples)."""

    answered: Counter = field(default_factory=Counter)
    asked: Counter = field(default_factory=Counter)
    wrong: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def total(self, family: str) -> int:
        return self.answered[family] + self.asked[family] + self.wrong[family]

    def share(self, family: str | None = None) -> float:
        """The answered share of one family, or of all."""
        if family is None:
            total = sum(self.total(f) for f in FAMILIES)
            return sum(self.answered.values()) / total if total else 0.0
        return self.answered[family] / self.total(family) if self.total(family) else 0.0


def verdict(planner, case: Case, vocab: Vocabulary) -> tuple[str, str]:
    """('answered' | 'asked' | 'wrong', detail) for one case."""
    try:
        plan = planner.plan(case.question, Context(now=NOW, tz=TZ, vocabulary=vocab))
    except Exception as error:  # a traceback is the worst wrong answer: record it, never stop the run
        return "wrong", f"raised {type(error).__name__}: {error}"
    if plan.status in ("clarify", "unparsed"):
        return "asked", plan.message
    if plan.status != "ok":
        return "wrong", f"status {plan.status}: {plan.message}"
    try:
        got = normal_form(plan.spec)
    except Exception as error:
        return "wrong", f"its spec does not resolve: {error}"
    if got == case.expected:
        return "answered", ""
    diff = {k: (got.get(k) if got else None, v) for k, v in case.expected.items() if not got or got.get(k) != v}
    return "wrong", f"got vs expected: {diff}"


def run(planner, vocabulary_name: str, count: int, seed: int) -> Tally:
    """Plan every generated question; tally the outcomes per family."""
    tally, vocab = Tally(), vocabulary(vocabulary_name)
    for case in cases(vocabulary_name, count, seed):
        outcome, detail = verdict(planner, case, vocab)
        getattr(tally, outcome)[case.family] += 1
        if outcome == "wrong":
            tally.examples.setdefault(case.family, []).append(f"{case.question!r}: {detail}")
    return tally
