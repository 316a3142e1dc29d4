"""The wording lexicon: how people type on-call questions, written once for both planners.

The rules planner reads these tables to decide what a word means or whether it may be ignored, and the LLM
planner's prompt renders them (`prompt_section`), so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeasureWording:
    """How one measure is worded: in an answer, and in a question."""

    answer: str  # how an answer names the measure ("time to first token")
    words: tuple[str, ...] = ()  # words naming it; a misspelling within one or two edits is read as one of them
    also: tuple[str, ...] = ()  # further words the rules read as it (never typo targets)


# The one table of measure words: the rules read a measure word through it, the LLM prompt and the typo reader
# take its words, and answers name each measure by its `answer`.
MEASURE_LEXICON = {
    "latency": MeasureWording("latency", ("latency", "latencies", "duration")),
    "ttft": MeasureWording("time to first token", ("ttft",)),
    "prompt_tokens": MeasureWording("prompt tokens", ("prompt",)),
    "completion_tokens": MeasureWording("completion tokens", ("completion",)),
    "total_tokens": MeasureWording("total tokens", ("tokens",), also=("token", "usage")),
    "cost": MeasureWording("cost", ("cost", "costs", "spend", "spending")),
    "requests": MeasureWording("requests", ("requests", "traffic", "volume", "throughput"), also=("request",)),
    "errors": MeasureWording("errors", ("errors", "error", "failures", "failed")),
    "error_rate": MeasureWording("error rate", also=("error rate",)),
    "users": MeasureWording("active users", ("users",)),
    "threats": MeasureWording("threats", ("threats",)),
    "score": MeasureWording("score", ("scores", "score")),
}
MEASURE_ANSWER_WORDS = {measure: wording.answer for measure, wording in MEASURE_LEXICON.items()}
MEASURE_OF_WORD = {w: m for m, wording in MEASURE_LEXICON.items() for w in wording.words + wording.also}
# Words read as a measure or an aggregation; a misspelling within one or two edits of one of these is read as it.
MEASURE_TYPO_WORDS = tuple(w for wording in MEASURE_LEXICON.values() for w in wording.words)
AGGREGATION_WORDS = {
    "average": "average",
    "median": "median",
    "percentile": "percentile",
    "maximum": "maximum",
    "minimum": "minimum",
}

# On-call shorthand, read as the word it stands for wherever no rule read it first (an organization's own name spelled
# like one stays that name): "p95 lat yday", "errs in the last hr", "cost this wk".
SHORTHAND = {
    "yday": "yesterday",
    "ydy": "yesterday",
    "yest": "yesterday",
    "ystd": "yesterday",
    "ystdy": "yesterday",
    "lat": "latency",
    "errs": "errors",
    "err": "error",
    "toks": "tokens",
    "hr": "hour",
    "hrs": "hours",
    "wk": "week",
    "wks": "weeks",
    "mo": "month",
    "mos": "months",
    "mth": "month",
    "mths": "months",
    "yr": "year",
    "yrs": "years",
}

# Words with no query meaning: greetings and politeness, framing, chat shorthand, conversational verbs and
# intensifiers. They are ignored wherever they stand (the answer says which were ignored).
CONVERSATIONAL = frozenset(
    """
hey hi hello yo hiya thanks thank thx ty tysm please pls plz cheers appreciate appreciated sorry
quick quickly one question q help need needed want wanted wondering wonder curious know knowing tell
can could would you mind let lets let's me see check show give pull grab fetch look looking
everything rn atm asap btw fyi tbh imo lol ugh hmm ok okay so um uh like actually basically literally real really very
super crazy insanely pretty quite kinda sorta totally seriously honestly just exactly roughly approximately
feel feels feeling felt seem seems seemed think thought guess noticed notice noticing wondering
""".split()
)
# Conversational verbs ("did bob make", "which user sent the most requests"): ignored like the words above,
# and they may link a group to its superlative.
CONVERSATIONAL_VERBS = frozenset(
    """
make made making serve served serving take took taking throw threw thrown throwing hit hits hitting
burn burned burnt burning rack racked racking rack-up eat ate eating chew chewing generate generated run ran
running do does did doing happen happened happening go went going get got getting send sends sent sending
""".split()
)
CONVERSATIONAL = CONVERSATIONAL | CONVERSATIONAL_VERBS

# Words that change which rows count, how they are aggregated or over which time. When one of them is left over
# after parsing, the question is asked back naming it; it is never ignored.
NEGATIONS = frozenset(
    "not no non never except excluding exclude excluded without other besides but minus nor neither unless".split()
    # contractions typed without the apostrophe ("didnt fail"): the scanner reads them as "did not"
    + "didnt dont doesnt wasnt werent isnt arent havent hasnt hadnt".split()
)
COMPARISONS = frozenset(
    """
vs versus compared compare comparing against than more less fewer greater above below under between
higher lower slower faster cheaper pricier bigger smaller
""".split()
)
TIME_WORDS = frozenset(
    """
before after until till since within ago earlier later previous prior next recent recently lately
morning afternoon evening night tonight overnight noon midnight weekend weekends weekday weekdays
second seconds sec secs hour hours day days date dates week weeks month months year years quarter am pm when
hr hrs wk wks mo mos mth mths yr yrs
""".split()
)
RANKING = frozenset(
    """
which whose where if each every first last latest newest oldest
slowest fastest cheapest priciest biggest smallest highest lowest most least top bottom rank ranked sorted order
best worst
""".split()
)
# Why and what changed: the explanation form, asked back alone but harmless in a remark before an explicit query
# ("why is spend spiking? cost by model in the last 4 hours").
CHANGE_WORDS = frozenset(
    """
why spike spiked spikes spiking jump jumped jumps drop dropped drops dip dipped increase increased decrease decreased
rise rose risen fall fell surge surged climb climbed grow grew worse better degraded regressed changed up down
incident outage anomaly anomalies wrong problem problems issue issues weird odd strange unusual abnormal off
""".split()
)
# Request attributes Helicone records that heliqa cannot filter on.
UNFILTERABLE = frozenset(
    """
cache cached caching stream streamed streaming tool tools function functions image images vision audio batch batched
retry retries retried timeout timeouts timed timing fallback fallbacks session sessions thread threads agent agents
endpoint endpoints region regions new returning key keys
""".split()
)
# Whether a request failed: a leftover one changes which rows count ("requests that fail")
OUTCOMES = frozenset(
    "fail fails failing failed failure failures errored erroring succeed succeeds succeeded unsuccessful".split()
)
# A rate or share of something other than the error rate ("5xx rate", "429 ratio") is not a count of those rows.
RATIOS = frozenset(
    "rate rates ratio ratios percentage percentages percent proportion proportions share shares fraction".split()
)
BLOCKING = NEGATIONS | COMPARISONS | TIME_WORDS | RANKING | CHANGE_WORDS | UNFILTERABLE | RATIOS | OUTCOMES

# Prepositions after which an unknown word names something the rows are filtered or grouped by.
FILTER_PREPOSITIONS = frozenset(
    "for from on in with via by at about to of among across during since before after until around".split()
)
# Nouns an unknown word in front of would qualify ("refund requests", "mobile users").
QUALIFIED_NOUNS = frozenset(
    """
request requests call calls traffic user users customer customers cost costs spend latency errors error
tokens model models calls provider providers
""".split()
)

# Superlatives about one group: the top (largest first) or the bottom (smallest first) group, and the measure
# the word implies when the question names none.
SUPERLATIVES = {
    "most": ("top", None),
    "highest": ("top", None),
    "largest": ("top", None),
    "biggest": ("top", None),
    "greatest": ("top", None),
    "heaviest": ("top", None),
    "least": ("bottom", None),
    "fewest": ("bottom", None),
    "lowest": ("bottom", None),
    "smallest": ("bottom", None),
    "slowest": ("top", "latency"),
    "fastest": ("bottom", "latency"),
    "quickest": ("bottom", "latency"),
    "busiest": ("top", "requests"),
    "quietest": ("bottom", "requests"),
    "cheapest": ("bottom", "cost"),
    "priciest": ("top", "cost"),
    "costliest": ("top", "cost"),
}
# "A vs B" joins two values of one dimension; "combined" keeps them as one number.
ALTERNATIVE_JOINERS = ("vs", "vs.", "versus", "and", "or", "compared to", "compared with", "against")
COMBINED_WORDS = ("combined", "together", "in total", "altogether", "summed up", "added up", "put together")


_EXAMPLES_IGNORED = ("hey", "pls", "thanks", "quick one", "can you tell me", "I need", "rn", "feels", "burning", "hit")
_EXAMPLES_BLOCKING = ("not", "except", "excluding", "other than", "vs", "compared", "before", "since", "why", "spiked")


def prompt_section() -> str:
    """The lexicon as the LLM planner's 'How people type' section."""
    top = sorted(w for w, (d, _) in SUPERLATIVES.items() if d == "top")
    bottom = sorted(w for w, (d, _) in SUPERLATIVES.items() if d == "bottom")
    implied = ", ".join(f"{w} = {m}" for w, (_, m) in sorted(SUPERLATIVES.items()) if m)
    return "\n".join(
        [
            "- Ignore words with no query meaning (greetings, politeness, framing, chat shorthand, conversational "
            "verbs, intensifiers), e.g.: " + ", ".join(_EXAMPLES_IGNORED) + ".",
            "- A leading remark followed by an explicit query answers the explicit query.",
            "- Never ignore words that change which rows count, the aggregation or the time; ask back instead: "
            + ", ".join(_EXAMPLES_BLOCKING)
            + ", numbers, dates, names and quoted text (quoted text is searched byte for byte). Comparisons "
            "with another period ('vs last week'), lists of requests and 'why' questions are asked back.",
            "- A misspelled measure or aggregation word within two edits is that word ("
            + ", ".join(sorted(MEASURE_TYPO_WORDS)[:12])
            + ", ...); a misspelled name is a question back listing the closest known names.",
            "- A superlative about one group ('which model had the highest p95', 'who spent the most') is groupBy "
            f"that group with top 1 ({', '.join(top)}); with {', '.join(bottom)} it is the bottom 1 "
            f"(bottom true). Implied measures: {implied}. 'who' = user.",
            "- 'A vs B', 'A and B', 'A or B' over two values of one dimension: op in with both values and groupBy "
            f"that dimension; with {', '.join(COMBINED_WORDS)}: the same filter, no grouping.",
        ]
    )
