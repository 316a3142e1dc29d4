"""The organization's own words: how a question may spell its property keys, values, users and time zones.

Every organization names its own keys (`team`, `app`, `region` ...), values and users, so nothing here knows any
organization's names: the words come from its `Vocabulary`. Keys and values match whatever their spelling
(singular or plural, `_`/`-`/space interchangeable, any case); a built-in meaning of a word (`region` is the
country, `customer` the user) applies only where the organization has no key of that name. Zones are named by
the zone database's own city names (`Tokyo time`, `in Lisbon time`) or a common abbreviation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from text_to_num import alpha2digit

from heliqa.tools.results import Vocabulary

# Short forms of words that organizations use as property keys and values; each applies only when the
# organization has the long form (a key `environment`, a value `production`) and no name spelled like the short one.
ABBREVIATIONS = {
    "env": "environment",
    "envs": "environment",
    "prod": "production",
    "dev": "development",
    "stage": "staging",
    "stg": "staging",
}
# Zone abbreviations and region words people use for a zone (a fixed list: the zone database has no such names).
ZONE_WORDS = {
    "utc": "UTC",
    "gmt": "UTC",
    "la": "America/Los_Angeles",
    "pacific": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles",
    "sf": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "ny": "America/New_York",
    "nyc": "America/New_York",
    "eastern": "America/New_York",
    "et": "America/New_York",
    "est": "America/New_York",
    "edt": "America/New_York",
    "boston": "America/New_York",
    "central": "America/Chicago",
    "ct": "America/Chicago",
    "cst": "America/Chicago",
    "mountain": "America/Denver",
    "mt": "America/Denver",
    "mst": "America/Denver",
    "uk": "Europe/London",
    "bst": "Europe/London",
    "cet": "Europe/Berlin",
    "cest": "Europe/Berlin",
    "india": "Asia/Kolkata",
    "ist": "Asia/Kolkata",
    "jst": "Asia/Tokyo",
    "japan": "Asia/Tokyo",
    "bangalore": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "beijing": "Asia/Shanghai",
}
_AREAS = ("America", "Europe", "Asia", "Africa", "Australia", "Pacific", "Atlantic", "Indian", "Antarctica")


def forms(name: str) -> set[str]:
    """The ways a name is typed: lower case, its parts joined by space, `-` or `_`, and the plural of each."""
    low = " ".join(name.lower().split())
    parts = [p for p in re.split(r"[\s_-]+", low) if p]
    out = {low}
    if len(parts) > 1:
        out |= {" ".join(parts), "-".join(parts), "_".join(parts)}
    return out | {plural(f) for f in out}


def plural(word: str) -> str:
    """`team` -> `teams`, `policy` -> `policies`, `status` -> `statuses` (words people pluralise keys with)."""
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def key_words(vocab: Vocabulary, reserved: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """Word (lower case) -> property key: every spelling of each key; then, where no key is spelled so, the last
    part of a longer key that only it ends with (`region` for `home_region`) and a short form (`env`).

    `reserved` words (grammar words) never name a key by a part or a short form."""
    words: dict[str, str] = {}
    for key in vocab.properties:
        for form in forms(key):
            if form.strip():
                words.setdefault(form, key)
    lasts: dict[str, set[str]] = {}
    for key in vocab.properties:
        parts = [p for p in re.split(r"[\s_-]+", key.lower()) if p]
        if len(parts) > 1 and len(parts[-1]) > 2:
            lasts.setdefault(parts[-1], set()).add(key)
    for last, keys in lasts.items():
        if len(keys) == 1 and last not in reserved:
            for form in (last, plural(last)):
                words.setdefault(form, next(iter(keys)))
    for short, long in ABBREVIATIONS.items():
        if long in words and short not in reserved:
            words.setdefault(short, words[long])
    return words


def group_words(vocab: Vocabulary, builtin: dict[str, str], reserved: set[str] | frozenset[str]) -> dict[str, str]:
    """Word -> grouping: the organization's keys first (`region` is its `region` key where it has one), then the
    built-in words for what no key is called."""
    words = {w: f"property:{k}" for w, k in key_words(vocab, reserved).items()}
    for word, group in builtin.items():
        words.setdefault(word, group)
    return words


def value_words(vocab: Vocabulary, skip: set[str] | frozenset[str] = frozenset()) -> dict[str, list[tuple[str, str]]]:
    """Word run (lower case) -> [(key, value)]: each value in each of its spellings, and the short forms
    (`prod`) of values the organization has in full; a spelling exactly the value's wins over another's plural."""
    words: dict[str, list[tuple[str, str]]] = {}
    exact: set[str] = set()
    longs = {long: short for short, long in ABBREVIATIONS.items()}
    for key, values in vocab.properties.items():
        for value in values:
            low = " ".join(value.lower().split())
            if not low or low in skip:  # a value spelled "the" is only read with its key ("team_ the")
                continue
            exact.add(low)
            hit = (key, value)
            for form in _spellings(low):
                words.setdefault(form, []).append(hit)
            if low in longs:
                for short, long in ABBREVIATIONS.items():
                    if long == low:
                        words.setdefault(short, []).append(hit)
    for form, hits in words.items():
        if len(hits) > 1:
            chosen = [h for h in hits if " ".join(h[1].lower().split()) == form] if form in exact else hits
            words[form] = list(dict.fromkeys(chosen or hits))
    return words


_SEPARATORS = re.compile(r"[\s_-]+")


def _spellings(low: str) -> set[str]:
    """A lower-cased value, its parts joined by space, `-` and `_`, and its plural (cheaper than `forms`)."""
    out = {low, plural(low)}
    if _SEPARATORS.search(low):
        parts = [p for p in _SEPARATORS.split(low) if p]
        out |= {" ".join(parts), "-".join(parts), "_".join(parts)}
    return out


def user_words(vocab: Vocabulary) -> dict[str, str]:
    """Lower-cased user id -> user id, for every user the organization has listed, whatever the id's shape."""
    return {u.lower(): u for u in vocab.user_ids if u.strip() and " " not in u.strip()}


@cache
def zone_words() -> dict[str, str]:
    """Words naming a zone: each city of the zone database named by one zone only (`tokyo`, `new york`,
    `sao paulo`), and the common abbreviations and region words."""
    cities: dict[str, set[str]] = {}
    for name in available_timezones():
        parts = name.split("/")
        if len(parts) >= 2 and parts[0] in _AREAS:
            cities.setdefault(parts[-1].replace("_", " ").lower(), set()).add(name)
    words = {city: min(zones) for city, zones in cities.items() if len(zones) == 1 or _same_clock(zones)}
    words.update(ZONE_WORDS)
    return words


def _same_clock(zones: set[str]) -> bool:
    """Whether the zones of one city name keep one clock (America/Buenos_Aires links to America/Argentina/...)."""
    instants = [datetime(2020 + y, m, 1, tzinfo=UTC) for y in range(8) for m in (1, 7)]
    return len({tuple(i.astimezone(ZoneInfo(z)).utcoffset() for i in instants) for z in zones}) == 1


def spell_out_numbers(text: str) -> str:
    """Number words as digits (`twenty-four hours` -> `24 hours`, `top five` -> `top 5`), with text2num.

    Lone `one` and `two` stay words ("quick one", "the two of them"); the rules read them where they mean a count.
    Text text2num cannot encode (a lone surrogate) is left as it is: its words are asked back like any others."""
    if not _NUMBER_WORD.search(text):
        return text
    try:
        return alpha2digit(text, "en")
    except UnicodeError:
        return text


_NUMBER_WORD = re.compile(
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|teen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|thousand)",
    re.I,
)
