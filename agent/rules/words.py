"""Fixed word tables of the rules planner: calendar words, units, buckets, grouping words, zones, countries, filler.

Words that depend on the organization (its models, property keys and values) are derived in `vocabulary.py`;
wording shared with the LLM planner's prompt lives in `heliqa.prompts.lexicon`.
"""

from __future__ import annotations

import re

from heliqa.agent import orgwords
from heliqa.prompts.lexicon import CONVERSATIONAL_VERBS

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
BUCKETS = {
    "minute": "min",
    "min": "min",
    "hour": "hour",
    "day": "day",
    "date": "day",  # "by date": one bucket a day
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
# zone words read after "in" without "time" (abbreviations, region words, big cities); not countries, which filter
ZONES = {w: z for w, z in orgwords.ZONE_WORDS.items() if w not in ("india", "uk", "japan", "singapore")}
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
_MEASURE_WORDS = """latency latencies cost costs spend spending tokens token requests request errors error rate rates
users user score scores status time duration usage traffic count volume failures threats""".split()
# words that never name a property key by a part or a short form ("latency" of a key request_latency)
RESERVED = frozenset(FILLER | set(GROUP_WORDS) | set(BUCKETS) | set(_MEASURE_WORDS))
FOLLOW_UP = re.compile(
    r"^\s*(what about|how about|and|now|same|instead|also|only|just|what if|ok|okay|then)\b|\binstead\W*$"
)
