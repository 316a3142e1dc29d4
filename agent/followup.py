"""Follow-ups that keep their scope: 'why?', 'show me those requests', 'just <name>', 'by hour' after any answer.

The planners edit the previous question's aggregate; what they cannot see is the form around it (a comparison, an
explanation, a request list). This module carries the previous range, filters, measure and form over:

- `why?` / `why the spike?` explains the previous answer's measure over its range and filters;
- `show me those requests` lists the previous answer's requests, worst first by its measure;
- `how many?` / `count them` counts the previous answer's requests (its filters, range, grouping and form);
- after a list, `top 20`, `the most expensive instead`, `sort by cost` give the same list longer or reordered;
- a short edit (`just anthropic`, `by hour`, `what about gpt-4o`, or with no edit word: `gpt-4o only`, `with
  gpt-4o`, `but for gpt-4o`, whatever the rules planner read as only refiltering, regrouping or rebucketing the
  previous question) keeps a comparison a comparison, an explanation an explanation and a list a list (a new
  bucket turns an explanation or a list into its series);
- `the hour before`, `what about the previous hour?`, `same for the 2 hours before`, `and the day before?` ask
  the previous question again over the N units that end where its range starts: [start - N units, start);
- `the same time the day before`, `a day earlier`, `a week earlier` ask it over its own range moved back by the unit
  (the same length);
- a move with a short edit, either way round ("the hour before by model", "just gpt-4, a day earlier", "same for
  the previous hour by provider", "the hour before, gpt-4 only") is the two follow-ups in turn: the move, then
  the edit of the moved question (its form kept); an edit that does not plan as one (a new range, an unknown
  word) asks back;
- any of them with nothing before asks back instead of answering something else.

A moved range is written as exact wall-clock times (a `between` range) at the offset the previous range was
resolved with, so it resolves to exactly those instants, whatever range the previous question named.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from heliqa.agent.forms import (
    BY_ORDER,
    COMPARE,
    LEADING_COMPARE,
    ORDER_WORDS,
    PERIOD_SHIFT,
    CompareSpec,
    ExplainSpec,
    FormSpec,
    ListSpec,
    base_query,
)
from heliqa.agent.planner import Context, Plan, Planner
from heliqa.agent.rules.filters import class_conditions
from heliqa.agent.spec import Condition, QuerySpec
from heliqa.agent.timerange import DEFAULT_RANGE, UNIT_DAYS, TimeRange, resolve, wall_clock
from heliqa.agent.timerange import zone as named_zone
from heliqa.tools.filters import parse_instant

_CHANGE = r"spike|drop|jump|dip|change|increase|decrease|rise|surge|peak|fall|bump"
WHY_AGAIN = re.compile(
    rf"^\s*(?:(?:but|and|so|ok|okay|hmm+)[,\s]+)?(?:why|how\s+come|what\s+caused\s+(?:it|that|this))"
    rf"(?:\s+(?:is\s+that|was\s+that|did\s+(?:that|it|this)\s+happen|(?:the|that|this)\s+(?:{_CHANGE})s?))?"
    r"\s*[?.!]*\s*$",
    re.I,
)
THOSE_AGAIN = re.compile(
    r"^\s*(?:(?:ok|okay|and|so|now|please)\s+)*(?:show|list|give|get)(?:\s+me)?\s+(?:those|these|them|the\s+bad)"
    r"(?:\s+(?:requests?|calls?|ones?))?\s*[?.!]*\s*$",
    re.I,
)
# "how many?", "count them": the previous answer's requests counted (its filters, range, grouping and form)
COUNT_AGAIN = re.compile(
    r"^\s*(?:(?:and|so|ok|okay|but|then)[,\s]+)?(?:how\s+many(?:\s+(?:requests?|calls?))?(?:\s+of\s+(?:them|those|these))?"
    r"(?:\s+(?:are|were)\s+there|\s+is\s+that|\s+in\s+total)?|count\s+(?:them|those|these)(?:\s+requests)?|"
    r"(?:what(?:'s|\s+is|\s+was)\s+)?the\s+(?:count|number)(?:\s+of\s+(?:them|those|these))?)"
    r"(?:\s+(?:please|pls|too))?\s*[?.!]*\s*$",
    re.I,
)
# after a list, a new length or order: "top 10", "show me 20", "the most expensive instead", "sort by cost"
_ORDERS = "|".join(f"(?P<{k}>{v})" for k, v in ORDER_WORDS.items())
LIST_EDIT = re.compile(
    r"^\s*(?:(?:and|ok|okay|now|then|but|just|only|instead)[,\s]+)*(?:(?:show|list|give|get)(?:\s+me)?\s+)?"
    r"(?:(?:the|only|just)\s+)?(?:(?:top|first)\s+)?(?:(?P<n>\d{1,4})(?!\s*more\b)\s*)?"
    rf"(?:{_ORDERS}|(?:sort(?:ed)?|order(?:ed)?|rank(?:ed)?)\s+(?:them\s+|it\s+)?by\s+(?P<key>{'|'.join(BY_ORDER)}))?"
    r"(?:\s+(?:ones|requests?|calls?))?(?:\s+first)?(?:\s+instead)?(?:\s+please)?\s*[?.!]*\s*$",
    re.I,
)
# a short edit of the last question: it names a filter, a bucket or a grouping, not a new question
EDIT = re.compile(
    r"^\s*(?:just|only|what\s+about|how\s+about|and|now|instead|same|but|then|for|by|per|hourly|daily|weekly)\b"
    r"|\binstead\W*$",
    re.I,
)
# "but" opening a follow-up ("but for gpt-4o", "same, but by provider"): no meaning of its own
_BUT = re.compile(
    r"^\s*(?:(?:and|ok|okay|so)[,\s]+)?(?:(?:the\s+)?same(?:\s+(?:thing|question|query))?\s*,?\s*)?but\s+"
    r"(?!not\b|except\b|excluding\b|without\b)",
    re.I,
)
_EXPLAINED = {"latency": "latency", "ttft": "latency", "errors": "errors", "error_rate": "errors", "cost": "cost"}
_ORDER = {"latency": "latency", "ttft": "latency", "cost": "cost", "total_tokens": "tokens"}
_FAILED = Condition(field="status", op="gte", value=400)
# a reply that is only a status code or class ("404", "500s?", "what about 5xx", "just the 429s"): the previous
# answer's requests with that status instead of the status it had
STATUS_ONLY = re.compile(
    r"^\s*(?:(?:and|what about|how about|only|just|now|ok|okay)\s+)*(?:the\s+)?(?:(?:http\s+)?status\s+(?:code\s+)?)?"
    r"(?P<c>[1-5]\d\d|[1-5]xx)(?:'?s)?(?:\s+(?:ones|only|instead|errors|responses|requests))*\s*[?.!]*\s*$",
    re.I,
)

# --- moving the previous range back: "the hour before", "a day earlier" ---------------------------------------
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "twelve": 12}
_N = r"(?:(?P<n>\d{1,4}|" + "|".join(_NUMBERS) + r")\s*)?"
_UNIT = r"(?P<u>min(?:ute)?s?|h|hrs?|hours?|days?|wks?|weeks?|months?)"
_UNITS = {"min": "minutes", "h": "hours", "hr": "hours", "day": "days", "wk": "weeks", "week": "weeks"}
# only words that follow up: a leading "and", "what about", "same for"; a trailing "?"
_LEAD_WORDS = (
    r"(?:(?:and|so|ok|okay|now|then|but|also|please|pls|what\s+about|how\s+about|what\s+of|"
    r"same(?:\s+(?:thing|question|query))?(?:\s+(?:but\s+)?(?:for|over|in|during))?|for|over|in|during)[\s,]+)*"
)
_LEAD = r"^\s*" + _LEAD_WORDS
_TAIL = r"(?:\s+(?:please|pls|too|instead))?\s*[?.!]*\s*$"
_SAME = r"(?P<same>(?:the\s+)?same\s+(?:time|period|hours?|window|span|range)\s+(?:on\s+)?)?"
_CORES = (
    # "the hour before", "the 2 hours before that", "the same time the day before", "a day earlier"
    rf"{_SAME}(?:the\s+)?{_N}{_UNIT}\s+(?P<when>before|prior|earlier)(?:\s+(?:that|this|it|then))?",
    # "the previous hour", "the preceding 2 days" ("the last hour" is the last hour before now, not this)
    rf"(?:the\s+)?(?P<when>previous|prior|preceding)\s+{_N}{_UNIT}",
)
MOVES = tuple(re.compile(rf"{_LEAD}{core}{_TAIL}", re.I) for core in _CORES)
# a move and a short edit, either way round: "the hour before by model", "just gpt-4, a day earlier"
MOVE_THEN_EDIT = tuple(
    re.compile(rf"{_LEAD}(?P<move>{core})(?:\s*,\s*|\s+)(?:and\s+)?(?P<rest>\S.*)$", re.I | re.S) for core in _CORES
)
EDIT_THEN_MOVE = tuple(
    re.compile(rf"^\s*(?P<rest>\S.*?)\s*,?\s+{_LEAD_WORDS}(?P<move>{core}){_TAIL}", re.I | re.S) for core in _CORES
)


def _move(question: str) -> tuple[bool, int, str] | None:
    """(shifted, n, unit) when the whole question moves the previous range back: shifted by the span ("a day
    earlier", "the same time the day before"), or the span just before it ("the hour before"); else None."""
    for pattern in MOVES:
        m = pattern.match(question)
        if m is None:
            continue
        word = m.group("u").lower().rstrip("s")
        unit = _UNITS.get(word, word + "s")
        n = m.group("n").lower() if m.group("n") else "1"
        shifted = bool(m.groupdict().get("same")) or m.group("when").lower() == "earlier"
        return shifted, int(_NUMBERS.get(n, n)), unit
    return None


def _span(previous: QuerySpec | FormSpec, ctx: Context) -> tuple[datetime, datetime, int]:
    """The instants the previous answer covered (aware UTC) and the offset they were resolved with."""
    query = previous.query if isinstance(previous, CompareSpec) else previous
    zone = named_zone(query.timeZone) if query.timeZone else ctx.tz
    time_filter, difference = resolve(query.range or DEFAULT_RANGE, ctx.now, zone)
    if isinstance(query, ListSpec) and query.window is not None:  # an explanation's window: exact instants
        start, end = (m if m.tzinfo else m.replace(tzinfo=UTC) for m in query.window)
        return start, end, difference
    return parse_instant(time_filter.start), parse_instant(time_filter.end), difference


def _with_range(previous: QuerySpec | FormSpec, rng: TimeRange) -> QuerySpec | FormSpec:
    if isinstance(previous, CompareSpec):
        return previous.model_copy(update={"query": previous.query.model_copy(update={"range": rng})})
    if isinstance(previous, ListSpec):
        return previous.model_copy(update={"range": rng, "window": None})
    if isinstance(previous, ExplainSpec):
        return previous.model_copy(update={"range": rng, "found": None})
    return previous.model_copy(update={"range": rng})


def moved_back(question: str, ctx: Context, asked: str = "") -> Plan | None:
    """The previous question over the span just before its range ("the hour before") or over its range moved back
    ("a day earlier"); a question back with nothing before (naming `asked`, the whole question, when the move is
    a part of it); None for every other question."""
    move = _move(question)
    if move is None:
        return None
    shifted, n, unit = move
    span = f"{n} {unit if n != 1 else unit[:-1]}"
    if ctx.previous is None:
        return Plan(
            "clarify",
            message=f"{'Earlier than' if shifted else 'Before'} what? There is no earlier answer here to move back "
            "from: ask about something first "
            f"(e.g. 'p90 latency for gpt-4 last week by day'), then '{(asked or question).strip()}'.",
            planner="rules",
        )
    start, end, difference = _span(ctx.previous, ctx)
    back = timedelta(days=UNIT_DAYS[unit] * n)
    rng = wall_clock(start - back, end - back if shifted else start, difference)
    note = f"the previous range moved {span} earlier" if shifted else f"the {span} before the previous range"
    return Plan("ok", spec=_with_range(ctx.previous, rng), planner="rules", notes=[note])


def split_move(question: str) -> tuple[str, str] | None:
    """(the move, the rest) of a question that begins or ends with a move ("the hour before by model", "gpt-4 only,
    a day earlier"); whether the rest is an edit of the moved question is for its plan to say. None when no move
    begins or ends it ("p90 latency in the hour before the outage") or the words compare ("by model vs the hour
    before" is a comparison, not a move)."""
    if COMPARE.search(question) or LEADING_COMPARE.match(question):
        return None
    for pattern in (*MOVE_THEN_EDIT, *EDIT_THEN_MOVE):
        m = pattern.match(question)
        rest = m and m.group("rest").strip(" \t-–—:;,")
        if rest and re.search(r"\w", rest):
            return m.group("move").strip(), rest
    return None


def moved_and_edited(question: str, ctx: Context, planner: Planner) -> Plan | None:
    """A move combined with a short edit, planned as the two follow-ups in turn: the previous question moved, then
    the edit of the moved question ("the hour before by model" is "the hour before", then "by model"), its form
    kept. A question back when the edit does not plan as an edit of it, or with nothing before; None for every
    other question."""
    split = split_move(question)
    if split is None:
        return None
    move, rest = split
    moved = moved_back(move, ctx, asked=question)
    edit = None
    if moved.status == "ok":
        rest = unhedged(rest)
        edit = after_planning(rest, moved.spec, planner.plan(rest, replace(ctx, previous=moved.spec)))
        if edit.status == "ok" and _edits(edit.spec, moved.spec):
            edit.notes = [*moved.notes, *edit.notes]
            return edit
    if edit is None or edit.status == "ok":
        # nothing before, or the rest asks a question of its own: the whole may be a new question whose range the
        # planner reads in these words ("daily spend over the previous 7 days" is the last 7 days)
        whole = planner.plan(question, ctx)
        if whole.status == "ok":
            return after_planning(question, ctx.previous, whole)
    if edit is None:
        return moved
    if edit.status == "ok":
        why = "it reads as a new question (its own measure, time range or form), not a filter, bucket or grouping."
    else:
        why = (edit.message.strip().splitlines() or ["I couldn't read it."])[0]
    return Plan(
        "clarify",
        message=f"I read '{move}' as {moved.notes[0]} ({_range_text(base_query(moved.spec), ctx)}), but not "
        f"'{rest}' as a change of it: {why} Ask '{move}' first, then the change.",
        planner=edit.planner or "rules",
    )


def _edits(spec: QuerySpec | FormSpec, moved: QuerySpec | FormSpec) -> bool:
    """Whether a plan is an edit of the moved question: its range and zone, its form (or, after an explanation or
    a list, the series a new bucket or grouping asks for)."""
    got, want = base_query(spec), base_query(moved)
    if (got.range, got.timeZone) != (want.range, want.timeZone):
        return False
    if type(spec) is type(moved):
        return True
    series = isinstance(spec, QuerySpec) and (spec.bucket, spec.groupBy) != (want.bucket, want.groupBy)
    return series and isinstance(moved, (ExplainSpec, ListSpec))


def _range_text(query: QuerySpec, ctx: Context) -> str:
    """'Nov 23 13:00–14:00 UTC': a moved range (wall-clock times) in its zone."""
    a, b = query.range.start, query.range.end
    zone = query.timeZone or getattr(ctx.tz, "key", str(ctx.tz))
    if a.date() == b.date():
        return f"{a:%b %d %H:%M}–{b:%H:%M} {zone}"
    return f"{a:%b %d %H:%M} – {b:%b %d %H:%M} {zone}"


def planned(question: str, ctx: Context, planner: Planner) -> Plan:
    """The plan of one question in a conversation: a follow-up of the previous answer (`before_planning`, a move
    with an edit), else the planner's, a short edit put back in the previous answer's form (`after_planning`)."""
    plan = before_planning(question, ctx)
    if plan is not None:
        return plan
    combined = moved_and_edited(question, ctx, planner)
    if combined is not None:
        return combined
    if ctx.previous is not None:
        question = unhedged(question)
    return after_planning(question, ctx.previous, planner.plan(question, ctx))


def unhedged(question: str) -> str:
    """A follow-up without the 'but' it opens with: 'but for gpt-4o' and 'same but by provider' edit as 'for gpt-4o'
    and 'by provider' do ('but not X' still excludes)."""
    m = _BUT.match(question)
    return question[m.end() :] if m and re.search(r"\w", question[m.end() :]) else question


def before_planning(question: str, ctx: Context) -> Plan | None:
    """A plan for `why?`, `show me those requests` and `the hour before` from the previous answer (`ctx.previous`;
    with none, a question back); None for every other question."""
    moved = moved_back(question, ctx)
    if moved is not None:
        return moved
    previous = ctx.previous
    why, those, count = WHY_AGAIN.match(question), THOSE_AGAIN.match(question), COUNT_AGAIN.match(question)
    if isinstance(previous, ListSpec) and (edited := list_edited(question, previous)) is not None:
        return edited
    if (status := STATUS_ONLY.match(question)) and (edited := status_edited(status["c"], previous)) is not None:
        return edited
    if not (why or those or count):
        return None
    if previous is None and count and not re.search(r"\b(?:them|those|these)\b", question, re.I):
        return None  # "how many requests?" with nothing before: the planner's (the last 24 hours)
    if previous is None:
        return Plan(
            "clarify",
            message=f"Which {'change' if why else 'requests'}? There is no earlier answer here to follow up on: ask "
            f"about something first (e.g. 'p90 latency for gpt-4 last week by day'), then '{question.strip()}'.",
            planner="rules",
        )
    if count:
        return count_of(previous)
    if why:
        return Plan("ok", spec=explain_of(previous), planner="rules")
    if isinstance(previous, ExplainSpec) and previous.found is not None:
        return Plan("ok", spec=previous.found, planner="rules")
    return Plan("ok", spec=list_of(previous), planner="rules")


def list_edited(question: str, previous: ListSpec) -> Plan | None:
    """The previous list at a new length or in a new order ("top 20", "the most expensive instead", "sort by
    cost"); None for every other reply (a bare 200-599 may be a status)."""
    m = LIST_EDIT.match(question)
    order = m and (next((k for k in ORDER_WORDS if m.group(k)), None) or BY_ORDER.get((m.group("key") or "").lower()))
    if m is None or not (m.group("n") or order):
        return None
    n = int(m.group("n")) if m.group("n") else previous.limit
    if order is None and 200 <= n < 600:
        return None
    if not 1 <= n <= 100:
        return Plan("clarify", message="I list 1 to 100 requests at a time; ask for 100 or fewer.", planner="rules")
    return Plan("ok", spec=previous.model_copy(update={"limit": n, "order": order or previous.order}), planner="rules")


def status_edited(code: str, previous: QuerySpec | FormSpec | None) -> Plan | None:
    """The previous list, or the previous answer that filtered a status, with `code` ("404", "5xx") as its status;
    None after anything else (a bare code alone is no question: it is asked back as before)."""
    base = base_query(previous)
    if base is None or isinstance(previous, ExplainSpec):
        return None
    if not isinstance(previous, ListSpec) and not any(c.field == "status" for c in base.conditions):
        return None
    if code[1:].lower() == "xx":
        status = class_conditions(code[0])
    else:
        status = [Condition(field="status", op="equals", value=int(code))]
    conditions = [c for c in base.conditions if c.field != "status"] + status
    if isinstance(previous, CompareSpec):
        query = previous.query.model_copy(update={"conditions": conditions})
        return Plan("ok", spec=previous.model_copy(update={"query": query}), planner="rules")
    return Plan("ok", spec=previous.model_copy(update={"conditions": conditions}), planner="rules")


def count_of(previous: QuerySpec | FormSpec) -> Plan:
    """The previous answer's requests counted: its filters, range, grouping and buckets (a comparison stays one;
    after a list, every request it matches, not only the rows it showed; a count of errors stays one)."""
    query = base_query(previous)
    measure = query.measure if query.measure in ("requests", "errors") else "requests"
    counted = query.model_copy(update={"measure": measure, "aggregation": None, "scoreKey": None})
    if isinstance(previous, CompareSpec):
        return Plan("ok", spec=previous.model_copy(update={"query": counted}), planner="rules")
    notes = ["every request the list matches, not only the rows it showed"] if isinstance(previous, ListSpec) else []
    return Plan("ok", spec=counted, planner="rules", notes=notes)


def explain_of(previous: QuerySpec | FormSpec) -> ExplainSpec:
    """The explanation of the previous answer: its measure (none: whatever moved), range, filters and zone."""
    if isinstance(previous, ExplainSpec):
        return previous.model_copy(update={"found": None})
    if isinstance(previous, ListSpec):
        failed = any(c.field == "status" for c in previous.conditions)
        measure = "errors" if failed else {"latency": "latency", "cost": "cost"}.get(previous.order)
        return _explain(measure, None, previous.conditions, previous.range, previous.timeZone)
    query = base_query(previous)
    statuses = [c for c in query.conditions if c.field == "status" and c.op == "equals"]
    if query.measure in ("requests", "errors") and statuses:  # "429s by hour" -> why the 429s
        others = [c for c in query.conditions if c not in statuses]
        spec = _explain("errors", None, others, query.range, query.timeZone)
        return spec.model_copy(update={"status": int(statuses[0].value)})
    if query.measure == "score" and query.scoreKey:
        return _explain("score", query.scoreKey, query.conditions, query.range, query.timeZone)
    return _explain(_EXPLAINED.get(query.measure), None, query.conditions, query.range, query.timeZone)


def _explain(measure, score_key, conditions, range_, zone) -> ExplainSpec:
    kept = [c for c in conditions if not (measure == "errors" and c.field == "status")]
    return ExplainSpec(measure=measure, scoreKey=score_key, conditions=kept, range=range_, timeZone=zone)


def list_of(previous: QuerySpec | FormSpec) -> ListSpec:
    """The previous answer's requests: its filters and range, worst first by its measure (failed ones for errors)."""
    if isinstance(previous, ListSpec):
        return previous
    query = base_query(previous)
    conditions = list(query.conditions)
    if query.measure in ("errors", "error_rate") and not any(c.field == "status" for c in conditions):
        conditions.append(_FAILED)
    order = _ORDER.get(query.measure, "newest")
    return ListSpec(conditions=conditions, range=query.range, order=order, timeZone=query.timeZone)


def after_planning(question: str, previous: QuerySpec | FormSpec | None, plan: Plan) -> Plan:
    """A short edit planned as an aggregate, put back in the previous answer's form."""
    if plan.status == "ok" and isinstance(previous, ExplainSpec) and previous.measure == "latency":
        plan = _as_p90(plan)
    spec = plan.spec
    if plan.status != "ok" or not isinstance(spec, QuerySpec) or not (plan.edit or EDIT.search(question)):
        return plan
    if isinstance(previous, CompareSpec):
        return _replanned(plan, compare_edited(previous, spec))
    base = base_query(previous)
    if base is None or spec.bucket != base.bucket or spec.groupBy != base.groupBy:
        return plan  # "by hour" after an explanation or a list: the series itself
    if isinstance(previous, ExplainSpec):
        edited = _explain_edited(previous, base, spec)
        if edited is None:
            return plan  # "p99?", "tokens?": a measure an explanation does not judge, answered as asked
        added = [c for c in spec.conditions if c not in base.conditions]
        dropped = [c for c in base.conditions if c not in spec.conditions]
        conditions = [c for c in edited.conditions if c not in dropped] + added
        return _replanned(plan, edited.model_copy(update={"conditions": conditions}))
    if isinstance(previous, ListSpec):
        if spec.measure not in ("requests", "errors", "error_rate"):
            return plan  # "what about cost?": the list's requests' cost, not the same list again
        kept = [c for c in previous.conditions if c in spec.conditions or c not in base.conditions]
        conditions = kept + [c for c in spec.conditions if c not in kept]
        if spec.measure in ("errors", "error_rate") and not any(c.field == "status" for c in conditions):
            conditions.append(_FAILED)  # "only the failed ones", "just errors": the list's failed requests
        return _replanned(plan, previous.model_copy(update={"conditions": conditions, "range": spec.range}))
    return plan


def _explain_edited(previous: ExplainSpec, base: QuerySpec, spec: QuerySpec) -> ExplainSpec | None:
    """The explanation an edit asks for: the previous one over the edit's range and zone, of the edit's measure when
    it names another ("and errors?", "what about cost?"); None for a measure no explanation judges ("p99?")."""
    update = {"range": spec.range, "timeZone": spec.timeZone}
    same = spec.measure == base.measure and spec.scoreKey == base.scoreKey
    if same and (spec.measure != "latency" or spec.aggregation in (None, "p90")):
        return explain_of(previous).model_copy(update=update)
    measure = _EXPLAINED.get(spec.measure) if spec.measure != "ttft" else None
    if spec.measure == "score":
        measure = "score"
    if measure is None or (measure == "latency" and spec.aggregation not in (None, "p90")):
        return None
    update |= {"measure": measure, "scoreKey": spec.scoreKey if measure == "score" else None, "status": None}
    return explain_of(previous).model_copy(update=update)


def compare_edited(previous: CompareSpec, spec: QuerySpec) -> CompareSpec:
    """A comparison with its query edited. A new range keeps the shift the words named ("today vs last week", then
    "what about yesterday?": yesterday vs the same day a week before) unless the two periods would overlap; a shift
    that was the range's own period ("today vs yesterday", "the last 7 days vs the 7 before") becomes the new range's
    ("what about this week?": this week vs last week, not vs this week a day earlier)."""
    old, new = previous.query.range or DEFAULT_RANGE, spec.range or DEFAULT_RANGE
    edited = previous.model_copy(update={"query": spec})
    if new == old:
        return edited
    shift = UNIT_DAYS[previous.shiftUnit] * previous.shiftN if previous.shiftN and previous.shiftUnit else None
    length = _days_long(new)
    own = shift is None or shift == _days_long(old)
    # "vs the hour before" is the span before whatever range; a shift is kept while the periods do not overlap
    if not own and (previous.endsAtStart or length is None or shift >= length):
        return edited
    n, unit = _PERIODS.get(new.kind, (None, None))  # None: the range's own length
    return edited.model_copy(update={"shiftN": n, "shiftUnit": unit})


_PERIODS = {**PERIOD_SHIFT, "day": (1, "days")}


def _days_long(rng: TimeRange) -> float | None:
    """A range's length in days where the words fix it, a calendar range's being its unit's (its own period; None
    for 'since ...')."""
    if rng.kind == "last":
        return UNIT_DAYS[rng.unit] * rng.n
    if rng.kind == "between":
        return (rng.end - rng.start).total_seconds() / 86400
    n, unit = _PERIODS.get(rng.kind, (None, None))
    return UNIT_DAYS[unit] * n if n else None


def _as_p90(plan: Plan) -> Plan:
    """After a latency explanation, 'latency' in an edit or a comparison of it is the p90 it explained."""
    spec = plan.spec
    query = spec.query if isinstance(spec, CompareSpec) else spec
    if not isinstance(query, QuerySpec) or query.measure != "latency" or query.aggregation is not None:
        return plan
    p90 = query.model_copy(update={"aggregation": "p90"})
    return _replanned(plan, spec.model_copy(update={"query": p90}) if isinstance(spec, CompareSpec) else p90)


def _replanned(plan: Plan, spec: FormSpec) -> Plan:
    return Plan("ok", spec=spec, planner=plan.planner, notes=plan.notes, edit=plan.edit)
