"""Shape family, ranking: "top 5 users", "bottom 3 models", superlatives ("the slowest provider", "who spent the
most"), sort-order words, and settling what depends on the whole question (who is ranked, A-vs-B groups, top N)."""

from __future__ import annotations

import re

from heliqa.agent.rules.measures import set_measure
from heliqa.agent.rules.scanner import Scanner
from heliqa.agent.rules.table import UNPARSED, Env, Parse, rule
from heliqa.agent.rules.vocabulary import phrases, rank_alternation
from heliqa.agent.rules.words import FILLER, LINKING_ALTERNATION
from heliqa.prompts.lexicon import ALTERNATIVE_JOINERS, SUPERLATIVES
from heliqa.tools.errors import Clarify

_RANKED_MEASURES = r"cost|spend|spending|latency|tokens|requests|traffic|volume|errors|error\s+rate|usage"
_AGGREGATE = r"p\d{1,2}|avg|average|mean|median|total|max|maximum|min|minimum"
_MEASURE_NEXT = rf"(?=\s+(?:(?:{_AGGREGATE})\s+)?(?:{_RANKED_MEASURES})(?![\w-]))"  # "by p95 latency"
_MOST_WORDS = {"expensive": "cost", "costly": "cost", "active": "requests"}  # "the most expensive model"
_JOINERS = phrases(ALTERNATIVE_JOINERS)  # "sonnet vs haiku", "gpt-4 and gpt-4o"
_EXTREMES = {"highest": "max", "largest": "max", "biggest": "max", "lowest": "min", "smallest": "min"}


def _ranked(p: Parse, words: dict[str, str], n: str | None, group_word: str, rank: str) -> None:
    # "top model" is one, "top users" ten, "top 3 users" three
    p.top = int(n) if n else (10 if group_word.lower().endswith("s") and group_word.lower() != "status" else 1)
    p.group = words[group_word.lower()]
    p.rank = rank


@rule(
    600,
    "top n",
    {
        "top 5 users by cost": {"groupBy": "user", "top": 5, "measure": "cost"},
        "bottom 3 models by cost": {"bottom": True},
    },
)
def top_n(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "top 5 users by cost", "bottom 3 models", "our biggest customers" (biggest by what? asked back)."""
    words, groups = rank_alternation(env.vocab)

    def handle(m):
        _ranked(p, words, m.group("n"), m.group("g"), "bottom" if m.group("d").lower() == "bottom" else "top")
        measure = m.group("m") or m.group("m2")
        if measure:
            set_measure(p, measure)
        elif m.group("d").lower() not in ("top", "bottom"):
            p.unresolved.append(m.group("d"))  # "our biggest customer": biggest by what?

    s.take(
        rf"(?:the\s+)?(?P<d>top|bottom|biggest|largest|heaviest)\s+(?P<n>\d+)?\s*"
        rf"(?:(?P<m2>tokens?|cost|spend|request|requests|error|errors)\s+)?(?P<g>{groups})"
        rf"(?:\s+(?:by|in|for)\s+(?P<m>{_RANKED_MEASURES}))?",
        handle,
    )


@rule(610, "most expensive", {"the 3 most expensive models": {"groupBy": "model", "top": 3, "measure": "cost"}})
def most_expensive(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "the most expensive models", "slowest 3 providers": a superlative implying its measure, then a group."""
    words, groups = rank_alternation(env.vocab)

    def handle(m):
        word = (m.group("w") or m.group("w2")).lower()
        rank, implied = SUPERLATIVES.get(word, ("top", None))
        _ranked(p, words, m.group("n"), m.group("g"), rank)
        p.superlative = word
        set_measure(p, _MOST_WORDS.get(word, implied or "cost"))
        p.implied = p.measure if implied else None

    sup = "|".join(w for w, (_, implied) in SUPERLATIVES.items() if implied)
    s.take(
        rf"(?:the\s+)?(?:top\s+)?(?P<n>\d+)?\s*(?:most\s+(?P<w>expensive|costly|active)|(?P<w2>{sup}))\s+(?P<g>{groups})",
        handle,
    )


@rule(620, "top anywhere", {"cost by model, top 2": {"groupBy": "model", "top": 2}})
def top_anywhere(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "..., top 2": the grouping is named elsewhere."""

    def handle(m):
        p.top = int(m.group("n"))
        p.rank = m.group("d").lower()

    s.take(r"(?:the\s+)?(?P<d>top|bottom)\s+(?P<n>\d+)", handle)


@rule(
    595,
    "groups sorted by",
    {
        "models sorted by cost last week": {"groupBy": "model", "measure": "cost", "top": None},
        "users ordered by spend": {"groupBy": "user", "measure": "cost"},
    },
)
def groups_sorted_by(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "models sorted by cost", "users ordered by spend", "rank providers by latency": every group, by the
    measure named after it (grouped rows are listed largest first)."""
    words, groups = rank_alternation(env.vocab)

    def handle(m):
        new = words[m.group("g").lower()]
        if p.group and p.group != new:
            raise Clarify("That question groups by two things; ask for one grouping at a time.")
        p.group = new

    s.take(rf"(?:all\s+|the\s+|our\s+)?(?P<g>{groups})\s+(?:sorted|ordered|ranked|listed|arranged)\s+by", handle)
    s.take(rf"(?:sort|order|rank|list)\s+(?:all\s+|the\s+|our\s+|all\s+the\s+)?(?P<g>{groups})\s+by", handle)


_SORT_WORDS = r"sort|sorted|order|ordered|rank|ranked|list|listed|arrange|arranged"


@rule(1440, "groups by a measure", {"models by p95 latency": {"groupBy": "model", "aggregation": "p95"}})
def groups_by_measure(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "models by cost", "users by spend": the groups, by the measure named after them (never "users by
    model", "users by day"); after the ranking rules, so "top 5 users by cost" and "worst model by error rate" are
    theirs."""
    words, groups = rank_alternation(env.vocab)
    pattern = rf"(?<![\w.-])(?P<g>{groups})\s+by{_MEASURE_NEXT}"
    for m in re.finditer(pattern, s.original, re.I):
        if s.text[m.start() : m.end()] != s.original[m.start() : m.end()]:
            continue  # another rule read these words
        if re.search(r"(?<![\w-])(?:top|bottom)\s+(?:\d+\s+)?$", s.original[: m.start()]):
            continue  # "top 5 users by cost": the top N rule's
        new = words[m.group("g").lower()]
        if p.group and p.group != new:
            raise Clarify("That question groups by two things; ask for one grouping at a time.")
        p.group = new
        s.fired.append(s.rule)
        s.blank(m.start(), m.end())


@rule(1690, "unknown groups by", {"products by cost": UNPARSED})
def unknown_groups_by(s: Scanner, p: Parse, env: Env) -> None:
    """An unknown word before "by cost" ("products by cost" where there is no product key) names the groups
    the asker wants: it is asked back, never dropped for one total."""
    pattern = rf"(?<![\w.-])(?P<w>[a-z][\w.-]*)\s+(?:(?:{_SORT_WORDS})\s+)?by{_MEASURE_NEXT}"
    for m in re.finditer(pattern, s.original):
        word = m.group("w")
        understood = not s.text[m.start("w") : m.end("w")].strip()
        if not understood and word not in FILLER and not re.fullmatch(_SORT_WORDS, word):
            s.fired.append(s.rule)
            p.unresolved.append(word)


_ASCENDING = (
    r"(?:sorted|ordered|ranked\s+)?(?:ascending|asc|from\s+(?:lowest|smallest|least)\s+to\s+(?:highest|largest|most))|"
    r"(?:lowest|smallest|least|fastest|cheapest|quietest)\s+first"
)


@rule(1350, "sort order", {"cost by model, highest first": {"groupBy": "model", "measure": "cost"}})
def sort_order(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "sorted descending", "highest first": grouped rows are always listed largest first, so nothing changes;
    "ascending", "lowest first" are asked back (a bottom N lists the smallest first)."""
    s.take(
        r"(?:sorted|ordered|ranked)(?:\s+(?:descending|desc|from\s+(?:highest|largest|most)\s+to\s+"
        r"(?:lowest|smallest|least)))?|(?:highest|largest|biggest|most|slowest|busiest|costliest|priciest)\s+first|"
        r"descending",
        lambda m: p.unresolved.append(m.group(0)) if p.group is None else None,
    )

    def ascending(m):
        if p.group is None:
            p.unresolved.append(m.group(0))  # no groups to sort: "ascending" of what is asked back as such
        elif p.rank != "bottom":
            raise Clarify(
                f"Grouped answers list the largest first; I can't sort them '{m.group(0)}'. For the smallest "
                "groups, ask for a bottom N, e.g. 'bottom 5 models by cost'."
            )

    s.take(_ASCENDING, ascending)


def _superlative(p: Parse, words: dict[str, str], m) -> None:
    word = m.group("w").lower()
    if p.superlative and p.superlative != word:
        raise Clarify(f"That question has two superlatives ('{p.superlative}', '{word}'); ask for one.")
    p.superlative = word
    rank, implied = SUPERLATIVES.get(word, (None, None))  # "worst"/"best": the end is the measure's (settle)
    p.rank = p.rank or rank
    if m.group("u"):
        implied = "requests"  # "the most used model"
    if implied and not (implied == "latency" and p.measure == "ttft"):  # "which provider was slowest by ttft"
        set_measure(p, implied)
    if m.group("g"):
        new = words[m.group("g").lower()]
        if p.group and p.group != new:
            raise Clarify("That question groups by two things; ask for one grouping at a time.")
        p.group = new


_SUPERLATIVE_WORDS = "|".join(sorted(SUPERLATIVES, key=len, reverse=True))
_USED = r"(?:\s+(?P<u>used|popular|common|called|requested|active))?"


@rule(1400, "used most", {"which model was used the most": {"groupBy": "model", "top": 1, "measure": "requests"}})
def used_most(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "used the most", "called the least": ranked by requests."""
    words, _ = rank_alternation(env.vocab)
    s.take(r"(?P<u>used|called|requested)\s+(?:the\s+)?(?P<w>most|least)(?P<g>)", lambda m: _superlative(p, words, m))


@rule(
    1410,
    "group superlative",
    {"model with the highest p95 latency": {"groupBy": "model", "top": 1, "aggregation": "p95"}},
)
def group_superlative(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "model with the highest p95", "which user sent the most requests", "which app has the worst error
    rate": a verb without meaning may link them."""
    words, groups = rank_alternation(env.vocab)
    s.take(
        rf"(?P<g>{groups})\s+(?:(?:with|that|which|who)\s+(?:(?:{LINKING_ALTERNATION})\s+)?(?:the\s+)?|"
        rf"(?:{LINKING_ALTERNATION})\s+(?:the\s+)?|the\s+)(?P<w>{_SUPERLATIVE_WORDS}|worst|best){_USED}",
        lambda m: _superlative(p, words, m),
    )


@rule(1420, "superlative", {"highest latency for gpt-4": {"measure": "latency", "aggregation": "max"}})
def superlative(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "the slowest provider", "cheapest model", "highest latency" (the largest single value without a group)."""
    words, groups = rank_alternation(env.vocab)
    s.take(
        rf"(?:the\s+)?(?P<w>{_SUPERLATIVE_WORDS}|worst|best){_USED}(?:\s+(?P<g>{groups}))?",
        lambda m: _superlative(p, words, m),
    )


# which end is worse depends on the measure: the highest latency, cost or error rate, the lowest score
_WORSE_IS_HIGHER = ("latency", "ttft", "cost", "errors", "error_rate", "threats")


@rule(
    1415,
    "worst best",
    {"worst-performing model by error rate": {"groupBy": "model", "top": 1, "measure": "error_rate"}},
)
def worst_best(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "worst model by error rate", "best app by groundedness": the end depends on the measure (settle)."""
    words, groups = rank_alternation(env.vocab)

    def handle(m):
        p.superlative = m.group("w").lower()
        p.group = words[m.group("g").lower()]

    s.take(rf"(?:the\s+)?(?P<w>worst|best)(?:[\s-]+performing)?\s+(?P<g>{groups})", handle)


@rule(590, "top spender", {"top 3 spenders this week": {"groupBy": "user", "top": 3, "measure": "cost"}})
def top_spender(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "top spender", "biggest 3 spenders": the users by cost."""

    def handle(m):
        spenders = m.group("s").lower() == "spenders"
        p.group, p.rank = "user", "top"
        p.top = int(m.group("n")) if m.group("n") else (10 if spenders else 1)
        set_measure(p, "cost")

    s.take(r"(?:the\s+)?(?:top|biggest|largest|heaviest)\s+(?:(?P<n>\d+)\s+)?(?P<s>spenders?)", handle)


def _named_twice(p: Parse) -> None:
    """One value filtered and its dimension grouped ("cost for growth by team") would answer one group
    as if it were all of them: asked back."""
    if p.group is None or p.group in p.alternatives:
        return
    for c in p.conditions:
        if c.field == p.group and c.op == "equals":
            name = p.group.removeprefix("property:")
            raise Clarify(
                f"That question filters {name} = {c.value} and groups by {name}; "
                f"ask for {c.value} alone, or by {name} without it."
            )


def _settle_worst(p: Parse) -> None:
    """ "worst"/"best" rank by the measure's bad end; a measure with no bad end (requests, tokens) is asked back."""
    if p.measure in _WORSE_IS_HIGHER:
        worse = "top"
    elif p.measure == "score":
        worse = "bottom"
    else:
        p.unresolved.append(p.superlative)
        return
    best = {"top": "bottom", "bottom": "top"}
    p.rank = worse if p.superlative == "worst" else best[worse]


@rule(1430, "who", {"who spent the most": {"groupBy": "user", "top": 1, "measure": "cost"}})
def who(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "who", "whose": the users are ranked; "requests whose status is 429" is a filter's lead (see "where")."""

    def handle(m):
        if m.group(0).lower() == "whose" and re.search(r"(?:requests?|reqs|calls?)\s+$", s.original[: m.start()]):
            return False
        p.who = True
        return None

    s.take(r"who(?:se)?", handle)


def settle(s: Scanner, p: Parse) -> None:
    """Settle what depends on the whole question: who is ranked, A-vs-B groups, superlatives, top N."""
    if p.who:
        if p.group not in (None, "user"):
            raise Clarify("'who' ranks users, but that question also groups by something else; ask one at a time.")
        p.group = "user"
    if p.combined and p.top and p.group and not p.alternatives:  # "cost of the top 5 users combined": one sum
        raise Clarify("I can rank the top groups, but not add them up into one number; ask e.g. 'top 5 users by cost'.")
    for dim, where in p.alternatives.items():
        _settle_alternatives(s, p, dim, where)
    _named_twice(p)
    if p.superlative in ("worst", "best"):
        _settle_worst(p)
    if p.superlative and p.group is not None and p.top is None:
        # "which model had the highest p95": the one group; "which users spent the most": a ranking, as "top users"
        p.top = 10 if p.plural else 1
    elif p.superlative and p.group is None:
        if p.superlative in _EXTREMES and p.measure not in (None, "requests", "errors", "users", "threats"):
            p.extreme = _EXTREMES[p.superlative]  # "highest latency for gpt-4": the largest single value
        else:
            p.unresolved.append(p.superlative)  # "the slowest request": a list, not a group
        p.rank = None


def _settle_alternatives(s: Scanner, p: Parse, dim: str, where: list[int]) -> None:
    """Values of one dimension named side by side ("sonnet vs haiku"): one group each, unless combined."""
    lo, hi = min(where), max(where)
    # the words joining the values ("sonnet vs haiku", "between gpt-4 and gpt-4o") are understood
    s.take(_JOINERS, lambda m: None if lo < m.start() < hi else False)
    s.take(
        r"compare|comparing|between",
        lambda m: None if m.end() <= lo and not s.text[m.end() : lo].strip() else False,
    )
    if p.combined:
        return
    if p.group is None:
        p.group = dim
    elif p.group != dim:
        raise Clarify(
            f"That question names several values of {dim.removeprefix('property:')} and groups by "
            f"{p.group.removeprefix('property:')}; ask for one grouping at a time."
        )
