"""The three question forms beside the aggregate: compare two periods, list requests, explain a change.

Each form is a symbolic spec (`agent/form_specs.py`, what the planners produce). `FormsPlanner` recognises a form
by its words (a rule table, highest priority first), strips them, and hands the rest of the question to the rules
planner, whose QuerySpec supplies the measure, filters, grouping and range; questions without form words go to the
rules planner untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from heliqa.agent.form_specs import CompareSpec, ExplainSpec, FormSpec, ListSpec
from heliqa.agent.planner import Context, Plan, Planner
from heliqa.agent.rules.dates import DATE, WEEKDAY, read_date
from heliqa.agent.rules.vocabulary import alternation, per_vocabulary, property_key_words
from heliqa.agent.rules.words import WEEKDAYS
from heliqa.agent.spec import Condition, QuerySpec
from heliqa.agent.timerange import DEFAULT_RANGE, MONTH_DAYS, YEAR_DAYS, TimeRange, Unit, wall_clock
from heliqa.prompts.lexicon import SHORTHAND
from heliqa.tools.errors import Clarify
from heliqa.tools.investigate import (
    ListOrder,
    ScoreBelow,
)
from heliqa.tools.results import Vocabulary

EXPLAINABLE = "latency, errors (or a status such as 429), cost, or a score key"


def base_query(spec: QuerySpec | FormSpec | None) -> QuerySpec | None:
    """The aggregate a form stands on, for follow-ups that edit the last question."""
    if spec is None or isinstance(spec, QuerySpec):
        return spec
    if isinstance(spec, CompareSpec):
        return spec.query
    if isinstance(spec, ListSpec):
        return QuerySpec(measure="requests", conditions=spec.conditions, range=spec.range, timeZone=spec.timeZone)
    measure = {"latency": "latency", "errors": "error_rate", "cost": "cost", "score": "score"}.get(spec.measure or "")
    conditions = list(spec.conditions)
    if spec.status is not None:
        conditions.append(Condition(field="status", op="equals", value=spec.status))
        measure = "requests"
    return QuerySpec(
        measure=measure or "requests",
        scoreKey=spec.scoreKey if measure == "score" else None,
        conditions=conditions,
        range=spec.range,
        timeZone=spec.timeZone,
    )


def _as_answered(spec: QuerySpec | None) -> QuerySpec | None:
    """The previous aggregate over the range its answer covered: no range there meant the default one, and a
    follow-up ('compare with last week') must compare that range, not read its own default as for a new question."""
    if spec is None or spec.range is not None:
        return spec
    return spec.model_copy(update={"range": DEFAULT_RANGE})


# --- recognising the forms ------------------------------------------------------------------------------------
_PREVIOUS_UNIT = r"(?P<unit>hour|day|week|month|year|hr|wk|mo|mth|yr)"
_LONG_UNIT = {"hr": "hour", "wk": "week", "mo": "month", "mth": "month", "yr": "year"}  # "vs last wk"
_SAME_TIME = r"(?:(?:the\s+)?same\s+(?:time|period|day|hour|hours)\s+(?:as\s+|of\s+)?)?"
_PREVIOUS = (
    rf"(?:{_SAME_TIME}(?:(?P<yesterday>yesterday|{'|'.join(w for w, long in SHORTHAND.items() if long == 'yesterday')})"
    rf"|(?:last|previous|prior|preceding)\s+{_PREVIOUS_UNIT}"
    rf"|(?:the\s+)?{_PREVIOUS_UNIT.replace('unit', 'unit2')}\s+before"
    r"|(?:the\s+)?(?P<n4>\d+)\s*(?P<unit4>minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|wks?|w)\s+before"
    r"|(?:the\s+)?(?:previous|prior|preceding|last)\s+(?P<n>\d+)\s*"
    r"(?P<unit3>minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|wks?|w)"
    r"|(?P<period>(?:the\s+)?(?:previous|prior|preceding|last)\s+period|the\s+period\s+before|before|previously)"
    # "this week vs last": the unit is the current range's own
    r"|(?P<bare>last|previous|prior)(?=\s*(?:[?.!,]|$|(?:for|by|on|in|per)\b))))"
)
# a comparative that names the measure itself: "is gpt-4 slower than last week" compares latency
_MEASURE_COMPARATIVES = {
    r"slower|faster|quicker": "latency",
    r"more\s+expensive|less\s+expensive|cheaper|pricier|costlier": "cost",
    r"busier|quieter": "requests",
}
_COMPARATIVE = "|".join(f"(?P<m{i}>{words})" for i, words in enumerate(_MEASURE_COMPARATIVES))
_CONNECTOR = (
    rf"(?:(?:{_COMPARATIVE}|higher|lower|more|less|bigger|smaller|better|worse|up|down)\s+)?"
    r"(?:vs\.?|versus|compared\s+(?:to|with)|(?:and\s+)?compare(?:\s+(?:it|that|this))?\s+(?:to|with|against)|"
    r"against|than|relative\s+to)"
)
COMPARE = re.compile(
    rf"(?<![\w-]){_CONNECTOR}\s+(?:the\s+)?{_PREVIOUS}(?:\s+(?:at\s+)?the\s+same\s+time)?(?![\w-])", re.I
)
# "compare cost today and yesterday": a leading "compare", then "and"/"with"/"to" before the earlier period
LEADING_COMPARE = re.compile(r"^\s*(?:(?:please|pls|can\s+you|could\s+you)\s+)?compare(?![\w-])", re.I)
COMPARE_AND = re.compile(
    rf"(?<![\w-])(?:and|with|to|against)\s+(?:the\s+)?{_PREVIOUS}(?:\s+(?:at\s+)?the\s+same\s+time)?(?![\w-])",
    re.I,
)
_SHORT_UNITS = {"min": "minutes", "h": "hours", "hr": "hours", "d": "days", "w": "weeks", "wk": "weeks"}
OVER = re.compile(
    r"(?<![\w-])(?P<unit>hour|day|week|month|year)[\s-]+over[\s-]+(?P=unit)(?![\w-])|\b(?P<abbr>dod|wow|mom)\b", re.I
)
CHANGE_WORD = re.compile(r"(?<![\w-])chang(?:e|ed|es|ing)(?![\w-])", re.I)
_UNITS = {"hour": (1, "hours"), "day": (1, "days"), "week": (7, "days")}
_UNITS |= {"month": (MONTH_DAYS, "days"), "year": (YEAR_DAYS, "days")}
PERIOD_SHIFT: dict[str, tuple[int, Unit]] = {
    "today": (1, "days"),
    "yesterday": (1, "days"),
    "this_week": (7, "days"),
    "this_month": (MONTH_DAYS, "days"),
    "this_year": (YEAR_DAYS, "days"),
}
_ABBR = {"dod": "day", "wow": "week", "mom": "month"}

ORDER_WORDS = {
    "newest": r"most\s+recent|latest|newest|recent|last",
    "latency": r"slowest|longest[\s-]running|(?:that\s+|which\s+)?(?:took|take|taking)\s+the\s+longest|longest",
    "cost": r"most\s+expensive|priciest|costliest|most\s+costly",
    "tokens": r"biggest|largest|heaviest",
}
_ORDER = "|".join(f"(?P<{k}>{v})" for k, v in ORDER_WORDS.items())
_TIME_UNIT = (
    r"(?:min(?:ute)?s?|h|hrs?|hours?|d|days?|w|wks?|weeks?|months?|years?|fortnight|24h|\d+h\b|night|time|period|"
    r"quarter|monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun)"
)
LIST_ORDER = re.compile(
    rf"(?<![\w-])(?:the\s+)?(?:top\s+)?(?:(?P<n>\d+)\s+)?(?:{_ORDER})(?:\s+(?P<n2>\d+))?(?!\s*(?:{_TIME_UNIT})\b)"
    r"(?![\w-])",
    re.I,
)
# "the 5 biggest requests by tokens", "top 10 calls by cost": the order of a list, not a grouping
REQUESTS_BY = re.compile(
    r"(?<![\w-])(?:(?:the\s+)?top\s+(?P<n>\d+)\s+)?(?:[\w.-]+\s+){0,3}?(?:requests?|reqs|calls?)"
    r"(?P<by>\s+by\s+(?:total\s+|highest\s+)?(?P<key>tokens|token\s+count|cost|spend|latency|duration))(?![\w-])",
    re.I,
)
BY_ORDER: dict[str, ListOrder] = {
    "tokens": "tokens",
    "token": "tokens",
    "cost": "cost",
    "spend": "cost",
    "latency": "latency",
    "duration": "latency",
}
# "show me 50 failed requests": a count right after the verb, before the requests
LIST_COUNT = re.compile(
    r"\s*(?:the\s+)?(?:top\s+|first\s+)?(?P<n>\d+)(?=\s+(?:[\w.-]+\s+){0,3}?"
    r"(?:requests?|reqs|calls?|errors?|failures?|generations?|completions?|[1-5]\d\ds|[45]xx)(?![\w-]))",
    re.I,
)
REQUEST_NOUN = re.compile(
    r"(?<![\w-])(?:requests?|reqs|calls?|generations?|completions?|errors?|failures?|[1-5]\d\ds|[45]xx)(?![\w-])", re.I
)
LIST_VERB = re.compile(
    r"^\s*(?:(?:hey|hi|ok|okay|so|please|pls|can\s+you|could\s+you|would\s+you)\s+)*"
    r"(?:show|list|give|get|find|pull\s+up|display|fetch|dump|print|see|which|what)(?:\s+me)?(?![\w-])",
    re.I,
)
NOT_A_LIST = re.compile(
    r"(?<![\w-])(?:how\s+many|number\s+of|count|total|rate|percent(?:age)?|share|average|avg|mean|median|p\d{1,2}|"
    r"sum|per|by|each|trend|over\s+time|chart|graph|plot|breakdown|distribution|daily|hourly|weekly|spend|cost)"
    r"(?![\w-])",
    re.I,
)
NOUN_NEXT = re.compile(
    r"\s+(?:[\w.-]+\s+){0,2}?(?:requests?|reqs|calls?|errors?|failures?|[1-5]\d\ds?|[45]xx)(?![\w-])", re.I
)
SINGLE = re.compile(r"(?<![\w-])(?:request|call|generation|completion|error|failure)(?![\w-])", re.I)
_GROUPS = r"models?|providers?|users?|customers?|countr(?:y|ies)|status(?:es)?"


def _group_after_order(vocab: Vocabulary) -> re.Pattern:
    """A grouping word (the organization's keys too) right after an order word: "the slowest models"."""
    return per_vocabulary(
        vocab,
        "forms: group after order",
        lambda v: re.compile(rf"^\s*(?:{_GROUPS}|days?|hours?{_key_alternation(v)})(?![\w-])", re.I),
    )


def _which_group(vocab: Vocabulary) -> re.Pattern:
    """ "which models had the slowest requests", "what app ...": asks for groups, not for requests."""
    return per_vocabulary(
        vocab,
        "forms: which group",
        lambda v: re.compile(rf"^\s*(?:which|what)\s+(?:{_GROUPS}{_key_alternation(v)})(?![\w-])", re.I),
    )


def _key_alternation(vocab: Vocabulary) -> str:
    keys = alternation(property_key_words(vocab))
    return "|" + keys if keys else ""


THOSE = re.compile(
    r"^\s*(?:(?:ok|okay|and|so|now|please|pls)\s+)*(?:show|list|give|get|see|which|what)(?:\s+me)?\s+"
    r"(?:(?:those|these|them|the|all|bad|slow|failed|expensive|low[\s-]scored)\s+)*(?:requests?|calls?|ones?)?"
    r"(?:\s+(?:were\s+they|are\s+they))?\s*[?.!]*\s*$|^\s*(?:show|list)\s+(?:me\s+)?them\s*[?.!]*\s*$",
    re.I,
)

_WHY = (
    r"why|what\s+(?:happened|changed|went\s+wrong|is\s+going\s+on|broke|caused|causes|drove|drives|is\s+causing|"
    r"is\s+driving|is\s+behind|made(?!\s+up)|makes(?!\s+up)|is\s+making|was\s+making)|"
    # "whats going on with response times", "what's with all the failures", "what's making everything slow"
    r"what(?:'s|’s|s|\s+is|\s+was)\s+(?:going\s+on|wrong|up|causing|driving|behind|with|making|happening)|"
    # "wtf happened to latency yday", "wth is going on", "how come cost doubled" ("wtf is our p90": a plain question)
    r"(?:wtf|wth)(?=\s+(?:happened|is\s+(?:going|up|wrong|happening|with)|'s\s+(?:going|up|wrong|with)|"
    r"with|going\s+on|happening))|how\s+come|"
    r"root\s+cause|explain|investigate|any\s+(?:spikes?|anomal(?:y|ies)|incidents?)|"
    # "where is the latency concentrated", "when did groq start failing": when and in what
    r"where\s+(?:is|are|was|were)(?=.*\bconcentrated\b)|concentrated|when\s+did(?=.*\b(?:start|begin|began)\b)|"
    # "which provider is causing the errors": a cause asked for ("who is driving cost" may mean the top spender)
    r"(?:who|which\s+\w+)(?:'s|\s+is|\s+are|\s+was|\s+were)\s+(?:causing|behind)|"
    # "who is driving the cost spike": a cause of a change asked for (plain "who is driving cost": the top spender)
    r"(?:who|which\s+\w+)(?:'s|\s+is|\s+are|\s+was|\s+were)\s+driving(?=.*\b(?:spike|jump|surge|increase)s?\b)"
)
WHY = re.compile(rf"(?<![\w-])(?:{_WHY})(?![\w-])", re.I)
_CHANGE = (
    r"spik\w*|jump\w*|surg\w*|ris(?:e|es|en|ing)|rose|increas\w*|decreas\w*|drop\w*|dip\w*|fell|fall\w*|tank\w*|"
    r"degrad\w*|go\s+up|went\s+up|gone\s+up|going\s+up|go\s+down|went\s+down|blow\s+up|blew\s+up|explod\w*|"
    r"(?:start|started|starting|begin|began)(?=\s+(?:to\s+)?(?:fail|error|slow|los))"
)
DID_CHANGE = re.compile(rf"(?<![\w-])did\s+.+?\s+(?:{_CHANGE})(?![\w-])", re.I)
# what carries the "explain" meaning; the rest (is, we, the, on...) is the rules planner's filler
EXPLAIN_NOISE = re.compile(
    rf"(?<![\w-])(?:{_WHY}|{_CHANGE}|happened|changed|wrong|going\s+on|getting|get|got|become|became|seeing|hitting|hit|"
    r"so|too|up|down|high|higher|low|lower|bad|worse|weird|off|broken|anomal\w*|suddenly|all\s+of\s+a\s+sudden|"
    r"everything|things|stuff|lots|lot|many|much|happening|keep|keeps|kept|r|"
    r"\d+(?:\.\d+)?x|doubled|tripled)(?![\w-])",  # "why is spending up 5x": the size of the change asked about
    re.I,
)
_EXPLAIN_WORDS = {
    r"(?:so\s+)?(?:expensive|costly|pricey|pricy)": " cost ",
    r"failing|fail|outages?": " errors ",  # "what caused the outage": the failed requests
    r"costing": " cost ",  # "why is gpt-4 costing so much"
    r"slower|slowed(?:\s+down)?|slowing(?:\s+down)?": " latency ",  # "why did gpt-4 get slower this week"
    r"pricier|costlier|more\s+expensive": " cost ",
    r"([1-5]\d\d)\s+(?:error\s+)?rate": r" \1s ",  # "why did the 429 rate go up": explained as the 429s' rate
}

# a part of a day in a why question: the explanation searches the whole day (or the last 24 hours) and its window
# says when ("why so many errors this morning": today; "what happened last night": the last 24 hours)
_DAYTIME = r"(?:early\s+|late\s+)?(?:morning|afternoon|evening)"  # within its day ("night" runs into the next)
_PART = r"(?:early\s+|late\s+)?(?:morning|afternoon|evening|night)"
_CLOCK = r"\d{1,2}(?::\d\d)?\s*(?:am|pm)(?:\s+(et|est|edt|pt|pst|pdt|ct|cst|cdt|utc|gmt|cet|bst))?"
PART_OF_DAY = {
    rf"this\s+{_PART}|tonight": " today ",
    rf"(?:yesterday|yday)\s+{_DAYTIME}|{_DAYTIME}\s+yesterday": " yesterday ",
    rf"last\s+night|overnight|(?:yesterday|yday)\s+night|(?:in\s+)?the\s+{_PART}": " ",  # the last 24 hours
    rf"((?:mon|tues|wednes|thurs|fri|satur|sun)day)\s+{_DAYTIME}": r" \1 ",  # "saturday morning": that day
    # "around 3pm": the day it is in; a zone named with the time names the day's zone ("4am UTC on friday")
    rf"(?:around|about|at|near|~)\s*{_CLOCK}(?:\s*(?:ish|or\s+so))?": lambda m: (
        f" {_ZONE_WORD.get((m.group(1) or '').lower(), m.group(1) or '')} "
    ),
}
_ZONE_WORD = {"et": "eastern time", "pt": "pst", "ct": "cst"}


@dataclass
class Detected:
    """A form recognised in a question: the rest of the question, and how to build the form from its QuerySpec."""

    rest: str
    build: Callable[[QuerySpec, Context], Plan]
    measure_optional: bool = False  # the rest may name no measure ("what happened on nov 19")


class FormsPlanner:
    """Recognises compare / list / explain questions; everything else (and each form's rest) goes to `rules`."""

    name = "rules"

    def __init__(self, rules: Planner):
        self.rules = rules

    def plan(self, question: str, ctx: Context) -> Plan:
        """Plan one question; follow-ups see the last question's aggregate."""
        inner = replace(ctx, previous=_as_answered(base_query(ctx.previous)))
        detected = None
        for rule in (self._those, self._compare, self._explain, self._list):  # priority order
            detected = rule(question, ctx)
            if detected is not None:
                break
        if detected is None:
            return self.rules.plan(question, inner)
        if isinstance(detected, Plan):
            return detected
        rest = detected.rest.strip()
        if not re.search(r"\w", rest) and detected.measure_optional:
            return detected.build(QuerySpec(measure="requests"), replace(ctx, previous=None))
        if not re.search(r"\w", rest):
            if inner.previous is None:
                return Plan("unparsed", message="Compared to what? Ask e.g. 'cost by model today vs yesterday'.")
            return detected.build(inner.previous, ctx)
        plan = self.rules.plan(rest, inner)
        if plan.status == "unparsed" and detected.measure_optional and plan.spec is None:
            plan = self.rules.plan(rest + " requests", replace(inner, previous=None))
            if plan.status == "ok":
                plan.spec = plan.spec.model_copy(update={"measure": "requests"})
                return detected.build(plan.spec, replace(ctx, previous=None))
        if plan.status != "ok":
            return plan
        return detected.build(plan.spec, ctx)

    # --- rules, highest priority first ------------------------------------------------------------------
    def _those(self, question: str, ctx: Context) -> Plan | None:
        """'show me those requests' after an explanation lists its window's bad requests."""
        if not THOSE.match(question) or ctx.previous is None:
            return None
        previous = ctx.previous
        if isinstance(previous, ExplainSpec) and previous.found is not None:
            return Plan("ok", spec=previous.found, planner=self.name)
        base = base_query(previous)
        conditions = list(base.conditions)
        if base.measure == "errors" and not any(c.field == "status" for c in conditions):
            conditions.append(Condition(field="status", op="gte", value=400))
        spec = ListSpec(conditions=conditions, range=base.range, timeZone=base.timeZone)
        return Plan("ok", spec=spec, planner=self.name)

    def _compare(self, question: str, ctx: Context) -> Detected | Plan | None:
        named = _two_named_days(question, ctx)
        if named is not None:
            return named
        match = COMPARE.search(question) or OVER.search(question)
        leading = LEADING_COMPARE.match(question)
        if match is None and leading is not None:
            match = COMPARE_AND.search(question, leading.end())
        if match is None:
            return None
        groups = match.groupdict()
        unit_word = groups.get("unit") or groups.get("unit2") or _ABBR.get((groups.get("abbr") or "").lower())
        unit_word = _LONG_UNIT.get((unit_word or "").lower(), unit_word)
        shift: tuple[int, str] | None = None
        named_range: TimeRange | None = None
        if groups.get("yesterday"):
            shift = (1, "days")
        elif unit_word:
            shift = _UNITS[unit_word.lower()]
            n, unit = shift
            named_range = TimeRange(
                kind="last",
                n=24 if unit_word.lower() == "day" else n,
                unit="hours" if unit_word.lower() == "day" else unit,
            )
        elif groups.get("n") or groups.get("n4"):
            word = (groups.get("unit3") or groups["unit4"]).lower().rstrip("s")
            unit = _SHORT_UNITS.get(word, word + "s")
            n = int(groups.get("n") or groups["n4"])
            shift = (n, unit)
            named_range = TimeRange(kind="last", n=n, unit=unit)
        rest = question[: match.start()] + " " + question[match.end() :]
        if re.match(r"than(?![\w-])", match.group(0), re.I):  # "did we spend more this week than last week"
            rest, groups = _comparative_before(rest, groups)
        named = next((m for i, m in enumerate(_MEASURE_COMPARATIVES.values()) if groups.get(f"m{i}")), None)
        if named is not None:
            rest += f" {named} "
        # "how did cost change vs last week": the comparison is the change asked about, not a series over time
        rest = CHANGE_WORD.sub(" ", rest)
        if leading is not None:
            rest = " " * leading.end() + rest[leading.end() :]

        def build(spec: QuerySpec, _ctx: Context) -> Plan:
            nonlocal shift
            if groups.get("bare"):
                if spec.range is None:
                    return Plan("clarify", message="Compared with the last what? Say e.g. 'this week vs last week'.")
                shift = PERIOD_SHIFT.get(spec.range.kind)  # this week vs last (week); last 3 days vs last: the range
            if spec.range is None:
                spec = spec.model_copy(update={"range": named_range})
            n, unit = shift or (None, None)
            compare = CompareSpec(query=spec, shiftN=n, shiftUnit=unit, endsAtStart=bool(shift) and _span_before(match))
            return Plan("ok", spec=compare, planner=self.name)

        return Detected(rest, build)

    def _explain(self, question: str, ctx: Context) -> Detected | None:
        head, _, tail = question.partition("?")
        if len(re.findall(r"\w+", tail)) > 1 and not WHY.fullmatch(tail.strip(" ?!.")):
            return None  # a leading remark followed by an explicit query: the query is what is asked
        if not (WHY.search(question) or DID_CHANGE.search(question)):
            return None
        rest = re.sub(r"([a-z])\1{2,}", r"\1", question, flags=re.I)  # "why is it so slooow": stretched letters
        for pattern, word in PART_OF_DAY.items():
            rest = re.sub(rf"(?<![\w-])(?:{pattern})(?![\w-])", word, rest, flags=re.I)
        for pattern, word in _EXPLAIN_WORDS.items():
            rest = re.sub(rf"(?<![\w-])(?:{pattern})(?![\w-])", word, rest, flags=re.I)
        rest = EXPLAIN_NOISE.sub(" ", rest)
        return Detected(rest, lambda spec, c: self._explain_spec(spec, c), measure_optional=True)

    def _explain_spec(self, spec: QuerySpec, ctx: Context) -> Plan:
        conditions = list(spec.conditions)
        status = next((c for c in conditions if c.field == "status"), None)
        measure: str | None
        if spec.measure in ("latency", "ttft"):
            measure = "latency"
        elif spec.measure in ("errors", "error_rate") or (spec.measure == "requests" and status is not None):
            measure = "errors"
        elif spec.measure in ("cost", "score"):
            measure = spec.measure
        elif spec.measure == "requests":
            measure = None
        else:
            return Plan(
                "clarify",
                message=f"I can explain changes in {EXPLAINABLE}; not in {spec.measure.replace('_', ' ')} yet.",
                planner=self.name,
            )
        code = None
        if measure == "errors" and status is not None:
            conditions.remove(status)
            if status.op == "equals":
                code = int(status.value)
        explain = ExplainSpec(
            measure=measure,
            scoreKey=spec.scoreKey if measure == "score" else None,
            status=code,
            conditions=conditions,
            range=spec.range,
            timeZone=spec.timeZone,
        )
        return Plan("ok", spec=explain, planner=self.name)

    def _list(self, question: str, ctx: Context) -> Detected | None:
        if not REQUEST_NOUN.search(question) or _which_group(ctx.vocabulary).match(question):
            return None
        by_order = REQUESTS_BY.search(question)
        text = question
        if by_order is not None:  # "the 5 requests by cost": the order, not a grouping; keep the noun for the rest
            text = _blank(question, by_order.span("by"))
            if by_order.group("n"):  # "the top 10"
                text = _blank(text, (by_order.start(), by_order.end("n")))
        order_match = LIST_ORDER.search(text)
        verb = LIST_VERB.match(text)
        if order_match is not None:
            is_recent = order_match.group("newest") is not None
            after = text[order_match.end() :]
            has_n = bool(order_match.group("n") or order_match.group("n2"))
            # "last"/"latest" alone is a list only right before the requests: "the latest failed request"
            loose = is_recent and not has_n and verb is None and not NOUN_NEXT.match(after)
            if _group_after_order(ctx.vocabulary).match(after) or loose:
                order_match = None
        if order_match is None and verb is None and by_order is None:
            return None
        if NOT_A_LIST.search(text) or "%" in text:  # "what % of requests went to gpt-4": a share, not the rows
            return None
        rest = text
        order: ListOrder = "newest"
        limit = 10
        counted = False
        if order_match is not None:
            order = next(k for k in ORDER_WORDS if order_match.group(k))
            counted = bool(order_match.group("n") or order_match.group("n2"))
            limit = int(order_match.group("n") or order_match.group("n2") or 10)
            if not counted and SINGLE.search(text):
                limit = 1  # "the slowest request yesterday": one
            rest = _blank(rest, order_match.span())
        if by_order is not None:
            order = BY_ORDER[by_order.group("key").split()[0].lower()]
            if by_order.group("n"):
                counted, limit = True, int(by_order.group("n"))
        if verb is not None:
            rest = _blank(rest, verb.span())
            count = LIST_COUNT.match(text, verb.end())
            # "show me 50 failed requests": a count; "show me 500 requests" may mean the status, so it is not read
            if count is not None and not counted and not 200 <= int(count.group("n")) < 600:
                counted, limit = True, int(count.group("n"))
                rest = _blank(rest, count.span("n"))
        if limit > 100:
            return Plan("clarify", message="I list at most 100 requests at a time; ask for 100 or fewer.")

        def build(spec: QuerySpec, _ctx: Context) -> Plan:
            if spec.measure not in ("requests", "errors", "threats") or spec.groupBy or spec.bucket or spec.top:
                return self.rules.plan(question, replace(_ctx, previous=base_query(_ctx.previous)))
            conditions = list(spec.conditions)
            if spec.measure == "errors" and not any(c.field == "status" for c in conditions):
                conditions.append(Condition(field="status", op="gte", value=400))
            if spec.measure == "threats":
                conditions.append(Condition(field="threat", op="equals", value=True))
            listing = ListSpec(
                conditions=conditions, range=spec.range, order=order, limit=limit, timeZone=spec.timeZone
            )
            return Plan("ok", spec=listing, planner=self.name)

        return Detected(rest, build, measure_optional=True)


_DAY = rf"(?:{WEEKDAY},?\s+)?(?:the\s+)?(?:{DATE}|(?:[12]?\d|3[01])(?:st|nd|rd|th)(?:\s+of\s+(?:this|the)\s+month)?)"
TWO_DAYS = re.compile(
    rf"(?<![\w-])(?:on\s+)?(?P<a>{_DAY})\s+(?:vs\.?|versus|compared\s+(?:to|with)|against)\s+(?:on\s+)?"
    rf"(?:(?P<b>{_DAY})|(?P<week>the\s+same\s+day\s+(?:a|one|1)\s+week\s+(?:earlier|before|prior)|"
    rf"the\s+same\s+day\s+(?:last|the\s+previous|the\s+week\s+before)\s*(?:week)?))(?![\w-])",
    re.I,
)


def _named_day(words: str, today: date) -> date:
    """One day as written ("nov 22", "11/22", "saturday the 21st", "the 21st of this month"): the most recent past
    one without a year or month; a weekday that is not the date's is asked back."""
    text = " ".join(words.lower().replace(",", " ").split())
    weekday = re.match(rf"({WEEKDAY})\s+", text)
    text = re.sub(r"^the\s+|\s+of\s+(?:this|the)\s+month$", "", text[weekday.end() :] if weekday else text)
    ordinal = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)", text)
    if ordinal is None:
        day = read_date(text, today)
    else:
        month = today.replace(day=1)
        if int(ordinal.group(1)) > today.day:
            month = (month - timedelta(days=1)).replace(day=1)
        try:
            day = month.replace(day=int(ordinal.group(1)))
        except ValueError:
            raise Clarify(f"There is no day {ordinal.group(1)} in {month:%B}.") from None
    if weekday and WEEKDAYS[weekday.group(1)] != day.weekday():
        raise Clarify(f"{day:%B} {day.day} is a {day:%A}, not a {weekday.group(1).title()}; which day did you mean?")
    return day


_VERSUS = r"\s+(?:vs\.?|versus|compared\s+(?:to|with)|against)\s+(?:on\s+)?"
# "this monday vs last monday", "errors on tuesday vs the tuesday before": a weekday and the same one a week earlier
TWO_WEEKDAYS = re.compile(
    rf"(?<![\w-])(?:on\s+)?(?:(?P<this>this)\s+|(?:last|past)\s+)?(?P<a>{WEEKDAY}){_VERSUS}"
    rf"(?:(?:the\s+)?(?:last|previous|prior|preceding)\s+(?P<b>{WEEKDAY})|the\s+(?P<c>{WEEKDAY})\s+before|"
    rf"(?P<d>{WEEKDAY})\s+(?:a|one|1)\s+week\s+(?:earlier|before|prior))(?![\w-])",
    re.I,
)


def _weekday_pair(m: re.Match, today: date) -> tuple[date, date] | None:
    """The weekday named first (this week's for 'this', else the most recent past one) and the same weekday a week
    before it; None when the two weekdays differ."""
    first, second = (WEEKDAYS[w.lower()] for w in (m.group("a"), m.group("b") or m.group("c") or m.group("d")))
    if first != second:
        return None
    if m.group("this"):
        day = today - timedelta(days=today.weekday() - first)
        if day > today:
            raise Clarify(f"This {m.group('a').title()} is still to come; which {m.group('a').title()} did you mean?")
    else:
        day = today - timedelta(days=(today.weekday() - first) % 7 or 7)
    return day, day - timedelta(days=7)


def _two_named_days(question: str, ctx: Context) -> Detected | Plan | None:
    """'cost on nov 22 vs nov 21', 'errors on Nov 21st compared with Nov 14th', 'nov 21 vs the same day a week
    earlier', 'this monday vs last monday': the first day named is the current period, the second the previous one."""
    today = ctx.now.astimezone(ctx.tz).date()
    m = TWO_DAYS.search(question)
    try:
        if m is None:
            m = TWO_WEEKDAYS.search(question)
            pair = _weekday_pair(m, today) if m else None
            if pair is None:
                return None
            first, second = pair
        else:
            first = _named_day(m.group("a"), today)
            second = first - timedelta(days=7) if m.group("week") else _named_day(m.group("b"), today)
    except Clarify as ask:
        return Plan("clarify", message=ask.message, planner="rules")
    if second >= first:
        return Plan(
            "clarify",
            message=f"Compare {first:%b %d} with an earlier day, or name the later day first "
            f"('... on {max(first, second):%b %d} vs {min(first, second):%b %d}').",
            planner="rules",
        )
    rest = f"{question[: m.start()]} on {first.isoformat()} {question[m.end() :]}"
    shift = (first - second).days

    def build(spec: QuerySpec, _ctx: Context) -> Plan:
        return Plan("ok", spec=CompareSpec(query=spec, shiftN=shift, shiftUnit="days"), planner="rules")

    return Detected(rest, build)


_COMPARATIVE_WORD = re.compile(
    rf"(?<![\w-])(?:{_COMPARATIVE}|higher|lower|more|less|bigger|smaller|better|worse)(?![\w-])", re.I
)


def _comparative_before(rest: str, groups: dict) -> tuple[str, dict]:
    """The one comparative word of a "... more this week than last week" split from its "than": read (a measure
    it names, "slower", is kept), then dropped; none or several are left to be asked back."""
    found = list(_COMPARATIVE_WORD.finditer(rest))
    if len(found) != 1:
        return rest, groups
    m = found[0]
    named = {k: v for k, v in m.groupdict().items() if v and k.startswith("m")}
    return rest[: m.start()] + " " * (m.end() - m.start()) + rest[m.end() :], {**groups, **named}


def _span_before(match: re.Match) -> bool:
    """Whether comparison words name the span just before the range ("vs the hour before", "the previous 2 hours"),
    not the same time a unit earlier ("vs last week", "the same time the day before")."""
    words, found = match.group(0).lower(), match.groupdict()
    named = found.get("unit2") or found.get("n4") or found.get("n")
    named = named or (found.get("unit") and re.search(r"previous|prior|preceding", words))
    return bool(named) and "same" not in words and not re.search(r"(?<![\w-])last(?![\w-])", words)


def _blank(text: str, span: tuple[int, int]) -> str:
    """`text` with a span replaced by spaces, so the other matches' offsets stay valid."""
    return text[: span[0]] + " " * (span[1] - span[0]) + text[span[1] :]


def found_list(
    spec: ExplainSpec,
    measure: str,
    window: tuple[datetime, datetime],
    bad: list[Condition],
    below: ScoreBelow | None,
    difference: int,
) -> ListSpec:
    """The list behind an explanation: the window's bad requests, worst first. Its range is the window as wall-clock
    times at the explanation's offset, so a follow-up that edits it ("by hour", "what about X?") keeps the window."""
    order: ListOrder = {"latency": "latency", "cost": "cost"}.get(measure, "newest")
    return ListSpec(
        conditions=list(spec.conditions) + bad,
        range=wall_clock(window[0], window[1], difference),
        window=window,
        scoreBelow=below,
        order=order,
        limit=20,
        timeZone=spec.timeZone,
    )
