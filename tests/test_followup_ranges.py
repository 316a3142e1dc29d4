"""Follow-ups that move the previous answer's range relative to itself: "the hour before" is the previous question
over the hour that ends where its range starts, "a day earlier" is its range moved back a day, and "compare with
the hour before" compares the range with the hour before it. Each answer is checked against the independent
reference (tests/reference.py) over the same instants, on the sample's and on the second organization's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.forms import CompareSpec, base_query
from heliqa.agent.llm import LLMPlanner, LLMSettings
from heliqa.tools.demo import ACME_ORG, generate
from heliqa.tools.filters import parse_instant
from tests import reference
from tests.conftest import MAIN_ORG, NOW
from tests.fake_openai import FakeOpenAI, strict_problems, tool_call

START, END = datetime(2026, 11, 23, 14, tzinfo=UTC), datetime(2026, 11, 23, 20, tzinfo=UTC)  # the "incident"
H, D = timedelta(hours=1), timedelta(days=1)
# follow-up -> the instants it asks about, from the previous range [START, END)
MOVES = {
    "the hour before": (START - H, START),
    "what about the hour before?": (START - H, START),
    "and the day before?": (START - D, START),
    "same for the 2 hours before": (START - 2 * H, START),
    "how about the previous hour": (START - H, START),
    "the previous 3 hours?": (START - 3 * H, START),
    "and the hour before that": (START - H, START),
    "the same time the day before": (START - D, END - D),
    "a day earlier": (START - D, END - D),
    "what about a week earlier?": (START - 7 * D, END - 7 * D),
}
# each organization's words for the same question: p90 latency of one model in one environment / region
ORGS = {
    "sample": (MAIN_ORG, "p90 latency for gpt-4 in production", (("model", "eq", "gpt-4"),)),
    "acme": (ACME_ORG, "p90 latency for mistral-large-latest in eu-west", (("model", "eq", "mistral-large-latest"),)),
}
ENVIRONMENT = {"sample": ("environment", "production"), "acme": ("region", "eu-west")}


@pytest.fixture(scope="module")
def acme_rows() -> list[dict]:
    """The second vocabulary's organization: other property keys, values, models and users."""
    return list(generate(12000, 5, NOW, ACME_ORG, days=10, vocabulary="acme"))


@pytest.fixture(scope="module")
def acme_store(tmp_path_factory, acme_rows):
    from heliqa.tools.store import Store

    path = tmp_path_factory.mktemp("followup-ranges") / "heliqa.duckdb"
    store = Store(path)
    store.add_rows(acme_rows)
    store.close()
    store = Store(path, read_only=True)
    yield store
    store.close()


@pytest.fixture(params=list(ORGS))
def org(request, sample_store, sample_rows, acme_store, acme_rows):
    """(vocabulary, store, rows) of one organization."""
    if request.param == "sample":
        return request.param, sample_store, sample_rows
    return request.param, acme_store, acme_rows


def _chat(store, org_id: str, tz: str = "UTC") -> Conversation:
    return Conversation(store, make_planner("rules"), org_id, ZoneInfo(tz), NOW)


def _span(query) -> tuple[datetime, datetime]:
    return parse_instant(query.timeFilter.start), parse_instant(query.timeFilter.end)


def _want(rows, vocabulary: str, start: datetime, end: datetime, metric="latency", agg="p90") -> float | None:
    org_id, _, where = ORGS[vocabulary]
    key, value = ENVIRONMENT[vocabulary]
    where = (*where, (f"property:{key}", "eq", value))
    ask = reference.Ask(metric=metric, agg=agg, start=start, end=end, where=where)
    (row,) = reference.expected(rows, org_id, ask)
    return row["value"]


def _incident(chat: Conversation, vocabulary: str, question: str | None = None):
    """Ask the previous question: the measure over [START, END) (09:00-15:00 in New York)."""
    question = question or ORGS[vocabulary][1]
    local = "09:00 and 15:00" if chat.tz.key == "America/New_York" else "14:00 and 20:00"
    answer = chat.ask(f"{question} between {local} on nov 23")
    assert answer.status == "ok", answer.message
    assert _span(answer.query) == (START, END)
    return answer


@pytest.mark.parametrize("follow_up", list(MOVES))
def test_a_follow_up_moves_the_previous_range(org, follow_up):
    vocabulary, store, rows = org
    chat = _chat(store, ORGS[vocabulary][0])
    _incident(chat, vocabulary)
    answer = chat.ask(follow_up)
    assert answer.status == "ok" and answer.kind == "aggregate", answer.message
    start, end = MOVES[follow_up]
    assert _span(answer.query) == (start, end), answer.interpretation
    assert answer.spec.range.kind == "between" and answer.spec.aggregation == "p90"
    assert {c.field for c in answer.spec.conditions} == {"model", f"property:{ENVIRONMENT[vocabulary][0]}"}
    (row,) = answer.rows
    want = _want(rows, vocabulary, start, end)
    assert want is not None and row.value == pytest.approx(want, rel=1e-9)


def test_the_moves_chain_and_keep_the_asker_zone(sample_store, sample_rows):
    """In New York, 09:00-15:00 is 14:00-20:00 UTC; each "hour before" steps back from the last answer's start."""
    chat = _chat(sample_store, MAIN_ORG, "America/New_York")
    _incident(chat, "sample")
    first = chat.ask("the hour before")
    second = chat.ask("and the hour before that?")
    assert _span(first.query) == (START - H, START) and _span(second.query) == (START - 2 * H, START - H)
    assert second.query.timeZoneDifference == 300 and "09:00" not in second.interpretation
    assert second.rows[0].value == pytest.approx(_want(sample_rows, "sample", START - 2 * H, START - H), rel=1e-9)


def test_compare_with_the_hour_before(org):
    """current = the previous range, previous = the hour before it (not the range one hour earlier)."""
    vocabulary, store, rows = org
    chat = _chat(store, ORGS[vocabulary][0])
    _incident(chat, vocabulary)
    answer = chat.ask("compare with the hour before")
    assert answer.status == "ok" and answer.kind == "compare", answer.message
    assert isinstance(answer.spec, CompareSpec) and answer.spec.endsAtStart
    assert _span(answer.query.current) == (START, END) and _span(answer.query.previous) == (START - H, START)
    got = {r.period: r.value for r in answer.rows}
    assert got["current"] == pytest.approx(_want(rows, vocabulary, START, END), rel=1e-9)
    assert got["previous"] == pytest.approx(_want(rows, vocabulary, START - H, START), rel=1e-9)
    assert "vs the hour before (Nov 23 13:00–14:00 UTC)" in answer.message
    assert [r.to_json()["period"] for r in answer.rows] == ["current", "previous"]


def test_a_sum_over_periods_of_different_lengths_is_compared_per_hour(org):
    vocabulary, store, rows = org
    chat = _chat(store, ORGS[vocabulary][0])
    question = ORGS[vocabulary][1].replace("p90 latency", "cost")
    _incident(chat, vocabulary, question)
    answer = chat.ask("vs the 2 hours before")
    assert answer.status == "ok" and answer.kind == "compare", answer.message
    assert _span(answer.query.previous) == (START - 2 * H, START)
    got = {r.period: r.value for r in answer.rows}  # the data rows are each period's own total
    now_total = _want(rows, vocabulary, START, END, "cost", "sum")
    before_total = _want(rows, vocabulary, START - 2 * H, START, "cost", "sum")
    assert got["current"] == pytest.approx(now_total, rel=1e-9)
    assert got["previous"] == pytest.approx(before_total, rel=1e-9)
    per_hour = f"${now_total / 6:,.4f}" if now_total / 6 < 1 else f"${now_total / 6:,.2f}"
    assert answer.message.startswith(f"Total cost per hour (the periods differ in length): {per_hour} vs ")
    assert "over 6 hours" in answer.message and "over 2 hours" in answer.message
    assert answer.cells[0] == ["current per hour", "previous per hour", "change"]


def test_compare_with_the_day_before_a_shorter_range_is_the_same_hours_a_day_earlier(sample_store):
    """A day is longer than the 6-hour range, so shifting by it overlaps nothing: the same hours the day before."""
    chat = _chat(sample_store, MAIN_ORG)
    _incident(chat, "sample")
    answer = chat.ask("compare with the day before")
    assert answer.status == "ok" and answer.kind == "compare", answer.message
    assert _span(answer.query.previous) == (START - D, END - D)


@pytest.mark.parametrize(
    "follow_up", ["the hour before", "and the day before?", "a day earlier", "how about the previous hour"]
)
def test_with_nothing_before_it_asks_back(sample_store, follow_up):
    answer = _chat(sample_store, MAIN_ORG).ask(follow_up)
    assert answer.status == "clarify" and "no earlier answer" in answer.message
    assert answer.query is None


@pytest.mark.parametrize("previous", [None, "p90 latency for gpt-4 between 14:00 and 20:00 on nov 23"])
def test_words_that_are_not_a_follow_up_are_not_moved(sample_store, previous):
    chat = _chat(sample_store, MAIN_ORG)
    if previous:
        chat.ask(previous)
    assert chat.ask("p90 latency in the hour before the outage").status == "clarify"  # before what?
    day = chat.ask("cost the day before yesterday")  # a named day, not a move
    assert day.status == "ok" and day.spec.range.kind == "day"
    count = chat.ask("how many requests the day before yesterday")
    assert count.status == "ok" and count.spec.range.kind == "day" and count.spec.measure == "requests"
    # a new question led by edit words, naming "the previous N units" as its range: the last N units, as always
    for question, (n, unit) in {
        "daily spend over the previous 7 days": (7, "days"),
        "by model, p90 latency over the previous 2 hours": (2, "hours"),
    }.items():
        fresh = chat.ask(question)
        assert fresh.status == "ok" and fresh.spec.conditions == [], fresh.message
        assert (fresh.spec.range.kind, fresh.spec.range.n, fresh.spec.range.unit) == ("last", n, unit)
    if previous:
        last = chat.ask("what about the last hour")  # the last hour before now, as always
        assert last.status == "ok" and _span(last.query) == (NOW - H, NOW)


# --- a move combined with a short edit: the move, then the edit of the moved question ------------------------
# each organization's words: the previous question (no model named) and a model and a provider it has
WORDS = {
    "sample": {"question": "p90 latency in production", "model": "gemini-1.5-flash", "provider": "anthropic"},
    "acme": {"question": "p90 latency in eu-west", "model": "deepseek-chat", "provider": "groq"},
}
# a move with an edit -> (the two follow-ups it stands for, the instants it asks about, how the reference slices)
COMBINED = {
    "the hour before by model": (("the hour before", "by model"), (START - H, START), {"group": "model"}),
    "the hour before, just {model}": (("the hour before", "just {model}"), (START - H, START), {"model": 1}),
    "same for the previous hour by provider": (
        ("the previous hour", "by provider"),
        (START - H, START),
        {"group": "provider"},
    ),
    "a day earlier for {provider} only": (
        ("a day earlier", "for {provider} only"),
        (START - D, END - D),
        {"provider": 1},
    ),
    "and the day before, by hour?": (("and the day before?", "by hour"), (START - D, START), {"bucket": "hour"}),
    "what about the 2 hours before, per provider": (
        ("the 2 hours before", "per provider"),
        (START - 2 * H, START),
        {"group": "provider"},
    ),
    "by model for the hour before": (("the hour before", "by model"), (START - H, START), {"group": "model"}),
    # an edit that opens with no edit word: a name with "only", "with", "but for", a bare name, a dash
    "the hour before, {model} only": (("the hour before", "just {model}"), (START - H, START), {"model": 1}),
    "{model} only, the hour before": (("the hour before", "just {model}"), (START - H, START), {"model": 1}),
    "the hour before with {model}": (("the hour before", "just {model}"), (START - H, START), {"model": 1}),
    "the hour before but for {model}": (("the hour before", "just {model}"), (START - H, START), {"model": 1}),
    "the previous hour, {model}": (("the hour before", "just {model}"), (START - H, START), {"model": 1}),
    "the hour before - broken down by model": (("the hour before", "by model"), (START - H, START), {"group": "model"}),
    "just {model}, the hour before": (("the hour before", "just {model}"), (START - H, START), {"model": 1}),
}


def _two_turns(store, vocabulary: str, steps: tuple[str, ...], first: str | None = None):
    """The answer to the previous question's follow-ups asked one at a time."""
    chat = _chat(store, ORGS[vocabulary][0])
    _incident(chat, vocabulary, first or WORDS[vocabulary]["question"])
    for step in steps:
        answer = chat.ask(step.format(**WORDS[vocabulary]))
        assert answer.status == "ok", answer.message
    return answer


@pytest.mark.parametrize("combined", list(COMBINED))
def test_a_move_with_an_edit_is_the_move_then_the_edit(org, combined):
    vocabulary, store, rows = org
    words = WORDS[vocabulary]
    steps, (start, end), slicing = COMBINED[combined]
    chat = _chat(store, ORGS[vocabulary][0])
    _incident(chat, vocabulary, words["question"])
    answer = chat.ask(combined.format(**words))
    assert answer.status == "ok" and answer.kind == "aggregate", answer.message
    assert _span(answer.query) == (start, end), answer.interpretation
    twice = _two_turns(store, vocabulary, steps)
    assert answer.spec == twice.spec and answer.to_json()["data"] == twice.to_json()["data"]
    key, value = ENVIRONMENT[vocabulary]
    where = [(f"property:{key}", "eq", value)]
    if "model" in slicing:
        where.append(("model", "eq", words["model"]))
    if "provider" in slicing:
        where.append(("provider", "eq", words["provider"].upper()))
    ask = reference.Ask(
        metric="latency",
        agg="p90",
        start=start,
        end=end,
        where=tuple(where),
        group=slicing.get("group"),
        bucket=slicing.get("bucket"),
    )
    want = reference.expected(rows, ORGS[vocabulary][0], ask)
    assert any(r["value"] is not None for r in want)  # the sample has requests there: the check compares numbers
    assert reference.differences(want, answer.to_json()["data"]) == []


# the previous answer in each form, and a move with an edit that keeps it (or, a new bucket, shows the series)
_WINDOW = "between 14:00 and 20:00 on nov 23"
FORMS = {
    "compare": (f"{{question}} {_WINDOW} vs last week", "the hour before, just {model}"),
    "explain": (f"why was latency high in {{environment}} {_WINDOW}", "just {model}, a day earlier"),
    "list": (f"show me the 5 slowest requests in {{environment}} {_WINDOW}", "the hour before, just {model}"),
    "series": (f"why was latency high in {{environment}} {_WINDOW}", "by hour, the previous 3 hours"),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_a_move_with_an_edit_keeps_the_previous_form(org, form):
    vocabulary, store, _ = org
    words = {**WORDS[vocabulary], "environment": ENVIRONMENT[vocabulary][1]}
    first, combined = (text.format(**words) for text in FORMS[form])
    chat = _chat(store, ORGS[vocabulary][0])
    before = chat.ask(first)
    assert before.status == "ok", before.message
    answer = chat.ask(combined)
    assert answer.status == "ok", answer.message
    assert answer.kind == ("aggregate" if form == "series" else before.kind), answer.message
    move, edit = reversed(combined.split(", ")) if combined.startswith(("just", "by")) else combined.split(", ")
    again = Conversation(store, make_planner("rules"), ORGS[vocabulary][0], ZoneInfo("UTC"), NOW)
    again.ask(first)
    again.ask(move)
    twice = again.ask(edit)
    assert answer.spec == twice.spec and answer.kind == twice.kind
    assert answer.to_json()["data"] == twice.to_json()["data"]
    moved = base_query(answer.spec).range  # the previous range moved back: it ends by the incident's start
    assert moved.kind == "between" and moved.end <= START.replace(tzinfo=None)


# an edit that opens with no edit word -> the same edit said with one
UNLED_EDITS = {
    "{model} only": "just {model}",
    "with {model}": "just {model}",
    "{model}?": "just {model}",
    "but for {model}": "just {model}",
    "same, but for {model}": "just {model}",
    "excluding {provider}": "and excluding {provider}",
    "broken down by provider": "by provider",
    "p99": "and p99",
}


@pytest.mark.parametrize("form", ["compare", "explain", "list"])
def test_an_edit_without_an_edit_word_keeps_the_previous_form(org, form):
    """'gpt-4o only' after a comparison (an explanation, a list) edits it as 'just gpt-4o' does: the comparison of
    gpt-4o, not gpt-4o's number alone; a whole question with a measure of its own is still a new question."""
    vocabulary, store, _ = org
    words = {**WORDS[vocabulary], "environment": ENVIRONMENT[vocabulary][1]}
    first = FORMS[form][0].format(**words)
    for unled, led in UNLED_EDITS.items():
        if form == "list" and unled == "p99":
            continue  # a list has no aggregation to change
        answers = []
        for follow_up in (unled, led):
            chat = _chat(store, ORGS[vocabulary][0])
            before = chat.ask(first)
            assert before.status == "ok", before.message
            answers.append(chat.ask(follow_up.format(**words)))
        answer, want = answers
        assert want.status == "ok", (led, want.message)
        if "{" in unled:  # a filter keeps the form (a new grouping shows an explanation's or a list's series)
            assert want.kind == before.kind, (led, want.interpretation)
        assert answer.status == "ok" and answer.kind == want.kind, (unled, answer.interpretation or answer.message)
        assert answer.spec == want.spec and answer.to_json()["data"] == want.to_json()["data"], unled
    chat = _chat(store, ORGS[vocabulary][0])
    chat.ask(first)
    fresh = chat.ask(f"p90 latency for {words['model']}")
    assert fresh.status == "ok" and fresh.kind == "aggregate", fresh.message


@pytest.mark.parametrize(("edit", "measure"), [("and errors?", "errors"), ("what about cost?", "cost")])
def test_a_new_measure_after_an_explanation_explains_that_measure(org, edit, measure):
    vocabulary, store, _ = org
    words = {**WORDS[vocabulary], "environment": ENVIRONMENT[vocabulary][1]}
    chat = _chat(store, ORGS[vocabulary][0])
    before = chat.ask(FORMS["explain"][0].format(**words))
    assert before.status == "ok" and before.spec.measure == "latency", before.message
    answer = chat.ask(edit)
    assert answer.status == "ok" and answer.kind == "explain", answer.message
    assert answer.spec.measure == measure, answer.interpretation
    assert (answer.spec.range, answer.spec.conditions) == (before.spec.range, before.spec.conditions)
    p99 = _chat(store, ORGS[vocabulary][0])
    p99.ask(FORMS["explain"][0].format(**words))
    answer = p99.ask("p99?")  # no explanation judges a p99: the p99 itself, not the p90 explained again
    assert answer.status == "ok" and answer.kind == "aggregate" and answer.spec.aggregation == "p99", answer.message


LIFTS = {
    "for all models": ("model", None),
    "across every model": ("model", None),
    "per model": ("model", "model"),
    "all {key}s": ("environment", None),
    "by {key}": ("environment", "environment"),
    "drop the model filter": ("model", None),
    "remove the {key} filter please": ("environment", None),  # an edit of the question, not of the data: no refusal
    "without the model filter": ("model", None),
}


@pytest.mark.parametrize("lift", list(LIFTS))
def test_all_models_or_per_model_after_one_model_drops_its_filter(org, lift):
    """'p90 latency for gpt-4 in production', then 'for all models': every model in production (the model filter
    went; it was kept, and the answer still said gpt-4); 'per model': every model, one row each."""
    vocabulary, store, rows = org
    key, value = ENVIRONMENT[vocabulary]
    chat = _chat(store, ORGS[vocabulary][0])
    before = _incident(chat, vocabulary)
    answer = chat.ask(lift.format(key=key))
    assert answer.status == "ok", answer.message
    lifted, group = LIFTS[lift]
    lifted = "model" if lifted == "model" else f"property:{key}"
    assert [c for c in before.spec.conditions if c.field != lifted] == answer.spec.conditions, answer.interpretation
    assert answer.spec.groupBy == (None if group is None else lifted)
    where = (("model", "eq", ORGS[vocabulary][2][0][2]), (f"property:{key}", "eq", value))
    where = tuple(w for w in where if w[0] != lifted)
    ask = reference.Ask(metric="latency", agg="p90", start=START, end=END, where=where, group=answer.spec.groupBy)
    want = reference.expected(rows, ORGS[vocabulary][0], ask)
    assert len(want) > (1 if group else 0) and reference.differences(want, answer.to_json()["data"]) == []


# a comparison, a new range for it -> (the current period, the previous period)
TODAY, WEEK = datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)  # NOW is a Tuesday, 12:00
COMPARE_RANGES = {
    # the range's own period: today vs yesterday -> this week vs last week (not this week a day earlier)
    ("cost by model today vs yesterday", "what about this week?"): ((WEEK, NOW), (WEEK - 7 * D, NOW - 7 * D)),
    ("cost by model today vs yesterday", "what about nov 19?"): (
        (datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)),
        (datetime(2026, 11, 18, tzinfo=UTC), datetime(2026, 11, 19, tzinfo=UTC)),
    ),
    ("cost over the last 7 days vs the previous 7 days", "what about the last 3 days?"): (
        (NOW - 3 * D, NOW),
        (NOW - 6 * D, NOW - 3 * D),
    ),
    # a shift the words named is kept: a week before; the hour before the range
    ("cost today vs last week", "what about yesterday?"): ((TODAY - D, TODAY), (TODAY - 8 * D, TODAY - 7 * D)),
    ("p90 latency over the last 6 hours vs the hour before", "what about the last 3 hours?"): (
        (NOW - 3 * H, NOW),
        (NOW - 4 * H, NOW - 3 * H),
    ),
    # ... unless the periods would overlap: the last 30 days vs a week before -> vs the 30 days before
    ("cost today vs last week", "what about the last 30 days?"): ((NOW - 30 * D, NOW), (NOW - 60 * D, NOW - 30 * D)),
    # a new measure "instead" keeps the comparison's range
    ("cost by model today vs yesterday", "errors instead"): ((TODAY, NOW), (TODAY - D, NOW - D)),
}


@pytest.mark.parametrize(("first", "follow_up"), list(COMPARE_RANGES))
def test_a_comparison_given_a_new_range_compares_periods_that_do_not_overlap(sample_store, first, follow_up):
    chat = _chat(sample_store, MAIN_ORG)
    assert chat.ask(first).status == "ok"
    answer = chat.ask(follow_up)
    assert answer.status == "ok" and answer.kind == "compare", answer.interpretation or answer.message
    current, previous = COMPARE_RANGES[(first, follow_up)]
    assert _span(answer.query.current) == current, answer.interpretation
    assert _span(answer.query.previous) == previous, answer.interpretation


def test_a_new_measure_instead_keeps_the_previous_range(org):
    vocabulary, store, _ = org
    chat = _chat(store, ORGS[vocabulary][0])
    before = _incident(chat, vocabulary)
    answer = chat.ask("errors instead")
    assert answer.status == "ok" and answer.spec.measure == "errors", answer.message
    assert answer.query.timeFilter == before.query.timeFilter
    assert answer.spec.conditions == before.spec.conditions


@pytest.mark.parametrize("count", ["how many?", "count them", "and how many of them are there?"])
def test_how_many_after_a_list_counts_every_request_it_matches(org, count):
    """'how many?' after a list of the 5 slowest: all the list's requests counted (not 5, not the last 24 hours);
    'only the failed ones' keeps the list and adds the failure filter; each is checked against the reference."""
    vocabulary, store, rows = org
    key, value = ENVIRONMENT[vocabulary]
    first = FORMS["list"][0].format(environment=value)
    chat = _chat(store, ORGS[vocabulary][0])
    listed = chat.ask(first)
    assert listed.status == "ok" and listed.kind == "list" and len(listed.rows) == 5, listed.message
    answer = chat.ask(count)
    assert answer.status == "ok" and answer.kind == "aggregate", answer.message
    assert _span(answer.query) == (START, END)
    where = ((f"property:{key}", "eq", value),)
    want = reference.expected(rows, ORGS[vocabulary][0], reference.Ask("requests", START, END, where=where))
    assert want[0]["value"] > 5  # more requests than the list shows: the count is not the list's length
    assert reference.differences(want, answer.to_json()["data"]) == []
    chat = _chat(store, ORGS[vocabulary][0])
    chat.ask(first)
    failed = chat.ask("only the failed ones")
    assert failed.status == "ok" and failed.kind == "list", failed.message
    failures = reference.expected(
        rows, ORGS[vocabulary][0], reference.Ask("requests", START, END, where=(*where, ("status", "gte", 400)))
    )
    assert len(failed.rows) == min(5, failures[0]["value"]) > 0, failed.interpretation
    assert all(int(r["status"]) >= 400 for r in failed.to_json()["data"]), failed.interpretation


# after a list: a new length or order -> (limit, order, the reference's row field it is sorted by)
LIST_EDITS = {
    "top 10": (10, "latency", "latency"),
    "show me 8": (8, "latency", "latency"),
    "the most expensive ones instead": (5, "cost", "cost"),
    "sort by cost": (5, "cost", "cost"),
    "show me the 7 most expensive": (7, "cost", "cost"),
}


@pytest.mark.parametrize("edit", list(LIST_EDITS))
def test_a_list_given_a_new_length_or_order_is_the_same_list(org, edit):
    """'top 10' or 'sort by cost' after a list of the 5 slowest: the same requests (filters, range), longer or in
    the new order; not a total over the last 24 hours ('sort by cost' read as 'cost' was one)."""
    vocabulary, store, rows = org
    key, value = ENVIRONMENT[vocabulary]
    chat = _chat(store, ORGS[vocabulary][0])
    listed = chat.ask(FORMS["list"][0].format(environment=value))
    assert listed.status == "ok" and listed.kind == "list", listed.message
    answer = chat.ask(edit)
    limit, order, field_ = LIST_EDITS[edit]
    assert answer.status == "ok" and answer.kind == "list", answer.interpretation or answer.message
    assert (answer.spec.limit, answer.spec.order) == (limit, order)
    assert answer.spec.conditions == listed.spec.conditions and answer.spec.range == listed.spec.range
    scope = reference.Ask("requests", START, END, where=((f"property:{key}", "eq", value),))
    want = sorted(reference.value_of(r, field_) for r in reference.selected(rows, ORGS[vocabulary][0], scope))
    got = [r["latency_ms" if field_ == "latency" else field_] for r in answer.to_json()["data"]]
    assert got == pytest.approx(want[::-1][:limit])


def test_a_list_longer_than_100_is_asked_back(sample_store):
    chat = _chat(sample_store, MAIN_ORG)
    chat.ask(FORMS["list"][0].format(environment="production"))
    answer = chat.ask("top 150")
    assert answer.status == "clarify" and "100" in answer.message and answer.query is None


def test_how_many_with_nothing_before_asks_back_or_counts_the_default_range(sample_store):
    answer = _chat(sample_store, MAIN_ORG).ask("how many of them?")
    assert answer.status == "clarify" and "no earlier answer" in answer.message and answer.query is None
    answer = _chat(sample_store, MAIN_ORG).ask("how many requests?")  # a question of its own: the last 24 hours
    assert answer.status == "ok" and _span(answer.query) == (NOW - D, NOW), answer.message


def test_an_edit_compared_with_the_hour_before_is_a_comparison(sample_store):
    """'by model vs the hour before' names a move and an edit, but compares: the range with the hour before it."""
    chat = _chat(sample_store, MAIN_ORG)
    _incident(chat, "sample")
    answer = chat.ask("by model vs the hour before")
    assert answer.status == "ok" and answer.kind == "compare", answer.message
    assert _span(answer.query.current) == (START, END) and _span(answer.query.previous) == (START - H, START)
    assert answer.spec.query.groupBy == "model"


@pytest.mark.parametrize(
    "combined",
    [
        "the hour before by modle",  # a word it does not know
        "the hour before, for zzqx only",  # a name the organization does not have
        "the hour before, what about last week",  # its own range: which one?
        "by model the hour before yesterday",  # not a move of the previous range at all
    ],
)
def test_a_move_with_what_is_no_edit_asks_back(org, combined):
    vocabulary, store, _ = org
    chat = _chat(store, ORGS[vocabulary][0])
    _incident(chat, vocabulary)
    answer = chat.ask(combined)
    assert answer.status == "clarify" and answer.query is None and answer.rows == [], answer.message
    if not combined.endswith("yesterday"):
        assert answer.message.startswith("I read 'the hour before' as the 1 hour before the previous range")
        assert "(Nov 23 13:00–14:00 UTC)" in answer.message


def test_a_move_with_an_edit_and_nothing_before_asks_back(sample_store):
    answer = _chat(sample_store, MAIN_ORG).ask("the hour before by model")
    assert answer.status == "clarify" and "no earlier answer" in answer.message
    assert "then 'the hour before by model'" in answer.message and answer.query is None


def test_a_move_with_an_edit_in_new_york(sample_store, sample_rows):
    """The moved range keeps the asker's zone when the edit is planned over it: 08:00-09:00 in New York."""
    chat = _chat(sample_store, MAIN_ORG, "America/New_York")
    _incident(chat, "sample", WORDS["sample"]["question"])
    answer = chat.ask("the hour before, just gemini-1.5-flash")
    assert answer.status == "ok" and _span(answer.query) == (START - H, START)
    assert answer.query.timeZoneDifference == 300
    where = (("property:environment", "eq", "production"), ("model", "eq", "gemini-1.5-flash"))
    ask = reference.Ask(metric="latency", agg="p90", start=START - H, end=START, where=where)
    assert reference.differences(reference.expected(sample_rows, MAIN_ORG, ask), answer.to_json()["data"]) == []


# --- the LLM planner's compare_periods: "vs the hour before" is the span before, through the real ChatOpenAI ----
def _compare_call(vocabulary: str, **extra) -> dict:
    """The compare_periods call a good model makes for 'the incident vs the hour before' in each organization's
    words; `extra` holds endsAtStart (or nothing: a model, or a server, that leaves it out)."""
    key, value = ENVIRONMENT[vocabulary]
    (field, _, model), *_ = ORGS[vocabulary][2]
    rng = {"kind": "between", "n": None, "unit": None, "day": None}
    query = {
        "measure": "latency",
        "aggregation": "p90",
        "scoreKey": None,
        "groupBy": None,
        "top": None,
        "bottom": False,
        "bucket": None,
        "range": {**rng, "start": "2026-11-23T14:00:00", "end": "2026-11-23T20:00:00"},
        "conditions": [
            {"field": field, "op": "equals", "value": model},
            {"field": f"property:{key}", "op": "equals", "value": value},
        ],
        "timeZone": None,
    }
    return tool_call("compare_periods", {"query": query, "shiftN": 1, "shiftUnit": "hours", **extra})


def _llm_answer(store, vocabulary: str, call: dict):
    server = FakeOpenAI(lambda body: call).start()
    try:
        planner = LLMPlanner(LLMSettings(base_url=server.base_url, api_key="sk-test-hour-before", timeout=10))
        question = f"{ORGS[vocabulary][1]} between 14:00 and 20:00 on nov 23, how does it compare to the hour before"
        answer = Conversation(store, planner, ORGS[vocabulary][0], ZoneInfo("UTC"), NOW).ask(question)
    finally:
        server.stop()
    tool = next(t["function"] for t in server.requests[0]["tools"] if t["function"]["name"] == "compare_periods")
    return answer, tool


def test_the_llm_compares_with_the_span_before_when_it_says_so(org):
    vocabulary, store, rows = org
    answer, tool = _llm_answer(store, vocabulary, _compare_call(vocabulary, endsAtStart=True))
    assert answer.status == "ok" and answer.kind == "compare" and answer.planner == "llm", answer.message
    assert isinstance(answer.spec, CompareSpec) and answer.spec.endsAtStart
    assert _span(answer.query.current) == (START, END) and _span(answer.query.previous) == (START - H, START)
    got = {r.period: r.value for r in answer.rows}
    assert got["current"] == pytest.approx(_want(rows, vocabulary, START, END), rel=1e-9)
    assert got["previous"] == pytest.approx(_want(rows, vocabulary, START - H, START), rel=1e-9)
    assert "vs the hour before (Nov 23 13:00–14:00 UTC)" in answer.message
    rules = _chat(store, ORGS[vocabulary][0]).ask(
        f"{ORGS[vocabulary][1]} between 14:00 and 20:00 on nov 23 vs the hour before"
    )
    assert answer.spec == rules.spec and answer.to_json()["data"] == rules.to_json()["data"]
    # the field the model saw: optional (null allowed), required as strict mode wants, and saying when it is true
    assert tool["strict"] is True and strict_problems(tool["parameters"]) == []
    field = tool["parameters"]["properties"]["endsAtStart"]
    assert "endsAtStart" in tool["parameters"]["required"] and {"boolean", "null"} <= set(_types(field))
    assert "the hour before" in field["description"] and "week over week" in field["description"]


@pytest.mark.parametrize(
    "extra", [{}, {"endsAtStart": None}, {"endsAtStart": False}], ids=["left out", "null", "false"]
)
def test_the_llm_compare_without_the_field_shifts_the_range_as_before(org, extra):
    vocabulary, store, rows = org
    answer, _ = _llm_answer(store, vocabulary, _compare_call(vocabulary, **extra))
    assert answer.status == "ok" and answer.kind == "compare", answer.message
    assert not answer.spec.endsAtStart
    assert _span(answer.query.previous) == (START - H, END - H)  # the 6 hours one hour earlier
    got = {r.period: r.value for r in answer.rows}
    assert got["previous"] == pytest.approx(_want(rows, vocabulary, START - H, END - H), rel=1e-9)


def _types(schema: dict) -> list[str]:
    """The JSON types a schema allows (`type` as a string or a list, or `anyOf`)."""
    if "anyOf" in schema:
        return [t for s in schema["anyOf"] for t in _types(s)]
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)
