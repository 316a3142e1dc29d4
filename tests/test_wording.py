"""How people type: conversational words, typos, superlatives, A vs B, negations, quotes, names that almost match.

Every worded case checks the whole resulting query (measure, aggregation, filters, range, bucket, group, top)
or that the question is asked back; none may be answered as a different question.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.planner import Context
from heliqa.agent.rules import RulesPlanner
from heliqa.prompts.lexicon import prompt_section
from heliqa.tools.results import Vocabulary
from tests import corpus
from tests.rules.common import NOW, VOCAB

PLANNER = RulesPlanner()
LAST7 = {"kind": "last", "n": 7, "unit": "days"}
LAST24H = {"kind": "last", "n": 24, "unit": "hours"}
SONNET, HAIKU = "claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"


def plan(question: str, vocab: Vocabulary | None = None):
    # VOCAB is looked up at call time: tests/test_wording_acme.py runs these tests on a second vocabulary
    return PLANNER.plan(question, Context(now=NOW, tz=ZoneInfo("UTC"), vocabulary=vocab or VOCAB))


def whole(question: str, vocab: Vocabulary | None = None) -> dict:
    result = plan(question, vocab)
    assert result.status == "ok", (question, result.status, result.message)
    return result.spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def cond(field, op, value):
    return {"field": field, "op": op, "value": value}


EXACT = [
    # conversational words are ignored, the query is answered
    ("latency feels slow rn", {"measure": "latency"}),
    (
        "hey, quick one: how many requests did we serve to enterprise customers yesterday? thanks",
        {
            "measure": "requests",
            "range": {"kind": "yesterday"},
            "conditions": [cond("property:customer_tier", "equals", "enterprise")],
        },
    ),
    # abbreviated and 'couple of' ranges; 'a few' stays a question back (see ASKED_BACK)
    ("error rate in the last hr", {"measure": "error_rate", "range": {"kind": "last", "n": 1, "unit": "hours"}}),
    ("cost last wk by day", {"measure": "cost", "bucket": "day", "range": LAST7}),
    ("cost over the last couple of days", {"measure": "cost", "range": {"kind": "last", "n": 2, "unit": "days"}}),
    ("requests in the past couple hours", {"measure": "requests", "range": {"kind": "last", "n": 2, "unit": "hours"}}),
    (
        "how much money on gpt-4 yesterday",
        {"measure": "cost", "range": {"kind": "yesterday"}, "conditions": [cond("model", "equals", "gpt-4")]},
    ),
    (
        "who spent the most money yesterday",
        {"measure": "cost", "groupBy": "user", "top": 1, "range": {"kind": "yesterday"}},
    ),
    (
        "why is spend spiking? cost by model in the last 4 hours",
        {"measure": "cost", "groupBy": "model", "range": {"kind": "last", "n": 4, "unit": "hours"}},
    ),
    (
        "who was burning $ on gpt-4 yesterday? top 3 users by gpt-4 cost",
        {
            "measure": "cost",
            "groupBy": "user",
            "top": 3,
            "range": {"kind": "yesterday"},
            "conditions": [cond("model", "equals", "gpt-4")],
        },
    ),
    # typos in measure and aggregation words
    (
        "avrage latancy for gpt-4o today",
        {
            "measure": "latency",
            "aggregation": "avg",
            "range": {"kind": "today"},
            "conditions": [cond("model", "equals", "gpt-4o")],
        },
    ),
    ("p9O latency last week", {"measure": "latency", "aggregation": "p90", "range": LAST7}),
    # superlatives: the one group
    (
        "which provider had the most 429s yesterday",
        {
            "measure": "requests",
            "groupBy": "provider",
            "top": 1,
            "range": {"kind": "yesterday"},
            "conditions": [cond("status", "equals", 429)],
        },
    ),
    (
        "who spent the most on gpt-4 on nov 22",
        {
            "measure": "cost",
            "groupBy": "user",
            "top": 1,
            "range": {"kind": "day", "day": "2026-11-22"},
            "conditions": [cond("model", "equals", "gpt-4")],
        },
    ),
    ("slowest model yesterday", {"measure": "latency", "groupBy": "model", "top": 1, "range": {"kind": "yesterday"}}),
    (
        "fastest provider by p95 latency last week",
        {
            "measure": "latency",
            "aggregation": "p95",
            "groupBy": "provider",
            "top": 1,
            "bottom": True,
            "range": LAST7,
        },
    ),
    (
        "which feature had the lowest accuracy last week",
        {
            "measure": "score",
            "scoreKey": "accuracy",
            "groupBy": "property:feature",
            "top": 1,
            "bottom": True,
            "range": LAST7,
        },
    ),
    (
        "cost by customer tier over the past week, top 2",
        {"measure": "cost", "groupBy": "property:customer_tier", "top": 2, "range": LAST7},
    ),
    (
        "highest latency for gpt-4 today",
        {
            "measure": "latency",
            "aggregation": "max",
            "range": {"kind": "today"},
            "conditions": [cond("model", "equals", "gpt-4")],
        },
    ),
    # A vs B over one dimension: both, grouped; combined: one number
    (
        "p50 latency claude sonnet vs haiku last 24h",
        {
            "measure": "latency",
            "aggregation": "p50",
            "groupBy": "model",
            "range": LAST24H,
            "conditions": [cond("model", "in", [HAIKU, SONNET])],
        },
    ),
    (
        "gpt-4o-mini and gpt-4o p50 latency by day over the last 3 days",
        {
            "measure": "latency",
            "aggregation": "p50",
            "groupBy": "model",
            "bucket": "day",
            "range": {"kind": "last", "n": 3, "unit": "days"},
            "conditions": [cond("model", "in", ["gpt-4o", "gpt-4o-mini"])],
        },
    ),
    (
        "cost for gpt-4 and gpt-4o combined last week",
        {"measure": "cost", "range": LAST7, "conditions": [cond("model", "in", ["gpt-4", "gpt-4o"])]},
    ),
    (
        "error rate openai versus anthropic today",
        {
            "measure": "error_rate",
            "groupBy": "provider",
            "range": {"kind": "today"},
            "conditions": [cond("provider", "in", ["ANTHROPIC", "OPENAI"])],
        },
    ),
    # negations are not-equals (not-contains for a family)
    (
        "cost excluding the free tier last week",
        {"measure": "cost", "range": LAST7, "conditions": [cond("property:customer_tier", "not-equals", "free")]},
    ),
    (
        "latency not gpt-4 today",
        {"measure": "latency", "range": {"kind": "today"}, "conditions": [cond("model", "not-equals", "gpt-4")]},
    ),
    (
        "requests other than staging by model",
        {
            "measure": "requests",
            "groupBy": "model",
            "conditions": [cond("property:environment", "not-equals", "staging")],
        },
    ),
    (
        "cost for all models except claude models this week",
        {"measure": "cost", "range": {"kind": "this_week"}, "conditions": [cond("model", "not-contains", "claude")]},
    ),
    (
        "requests for users other than user_0042 today",
        {"measure": "requests", "range": {"kind": "today"}, "conditions": [cond("user", "not-equals", "user_0042")]},
    ),
    ("how many users made requests today", {"measure": "users", "range": {"kind": "today"}}),
    # comparisons of values
    (
        "requests that took at least 5 seconds today",
        {"measure": "requests", "range": {"kind": "today"}, "conditions": [cond("latency", "gte", 5000)]},
    ),
    # quoted text is kept byte for byte
    (
        'requests mentioning "label for 35568?"',
        {"measure": "requests", "conditions": [cond("request_body", "contains", "label for 35568?")]},
    ),
    (
        "requests containing 'Refund, NOW!' in the response",
        {"measure": "requests", "conditions": [cond("response_body", "contains", "Refund, NOW!")]},
    ),
    # superlatives and top N in other word orders
    (
        "top 3 most expensive models this week",
        {"measure": "cost", "groupBy": "model", "top": 3, "range": {"kind": "this_week"}},
    ),
    (
        "biggest 3 token users today",
        {"measure": "total_tokens", "groupBy": "user", "top": 3, "range": {"kind": "today"}},
    ),
    ("what model is used the most", {"measure": "requests", "groupBy": "model", "top": 1}),
    # a plural superlative ranks several, as "top users" does
    (
        "which customers spent the most this month",
        {"measure": "cost", "groupBy": "user", "top": 10, "range": {"kind": "this_month"}},
    ),
    ("latency in the last minute", {"measure": "latency", "range": {"kind": "last", "n": 1, "unit": "minutes"}}),
    ("cost per feature, highest first", {"measure": "cost", "groupBy": "property:feature"}),
    # conversational verbs around a filter; one filter said twice is one filter
    (
        "how many errors did the support-bot feature hit this week",
        {
            "measure": "errors",
            "range": {"kind": "this_week"},
            "conditions": [cond("property:feature", "equals", "support-bot")],
        },
    ),
    (
        "are we getting rate limited? 429s by provider in the past hour",
        {
            "measure": "requests",
            "groupBy": "provider",
            "range": {"kind": "last", "n": 1, "unit": "hours"},
            "conditions": [cond("status", "equals", 429)],
        },
    ),
    # a repeated bucket word is one bucket
    ("cost day by day this week", {"measure": "cost", "bucket": "day", "range": {"kind": "this_week"}}),
]


@pytest.mark.parametrize("question,expected", EXACT, ids=[q[:50] for q, _ in EXACT])
def test_tricky_questions_are_read_exactly(question, expected):
    assert whole(question) == expected


ASKED_BACK = [
    "requests in the past few hours",  # how many hours 'a few' is, the asker must say
    # other question forms (compare periods, lists, explanations) are never answered as an aggregate
    "p90 latency for gpt-4o over the last 7 days vs the week before",
    "cost vs last week",
    "gpt-4 spend week over week",
    "requests today compared to yesterday",
    "show me the 5 most recent failed requests",
    "show me the failed requests",
    "show 429s from anthropic on nov 21",
    "which requests mentioned password today",
    "list the 3 slowest gpt-4o requests yesterday",
    "why is gpt-4 slow",
    "did errors spike today",
    "what went wrong with latency on nov 19?",
    "what changed in support-bot accuracy",
    "support-bot accuracy dropped, why?",
    # names that almost match, unknown names, typos in names
    "latency for gpt-4-turbo",
    "latency for sonet",
    "cost for stagin",
    "average coherence score by day this week",
    "cost for Acme yesterday",
    "latency for streaming requests",
    "refund requests yesterday",
    # understood words that leave the question incomplete or ambiguous
    "what was the slowest request yesterday",
    "latency p50 vs p99",
    "claude and gemini latency",
    "top 3 by cost",
    "cost by provider for gpt-4 vs gpt-4o",
    "requests recently",
    "latency for our biggest customer",
    "is the summarizer feature getting slower",
    "how many thumbs up did we get this week",
    "cost sorted",
    # request attributes heliqa cannot filter on, and thresholds nobody named
    "how many slow requests today",
    "how many expensive requests yesterday",
    "requests that were cached today",
    "requests that hit the cache today",
    "how many timeouts today",
    "requests by api key",
]


@pytest.mark.parametrize("question", ASKED_BACK)
def test_what_is_not_fully_understood_is_asked_back(question):
    result = plan(question)
    assert result.status != "ok", (question, result.spec)
    assert result.message


def test_asked_back_names_the_closest_known_names():
    assert "claude-3-5-sonnet-20241022" in plan("latency for sonet").message
    assert "staging" in plan("cost for stagin").message
    coherence = plan("average coherence score by day this week").message
    assert "coherence" in coherence and "accuracy" in coherence and "helpfulness" in coherence


def test_the_reading_says_what_was_ignored_and_corrected():
    assert plan("latency feels slow rn").notes == ["ignored: feels, rn"]
    assert plan("avrage latancy for gpt-4o today").notes == ["read 'avrage' as 'average', 'latancy' as 'latency'"]
    remark = plan("why is spend spiking? cost by model in the last 4 hours").notes
    assert remark == ["ignored the remark 'why is spend spiking'"]


def test_a_remark_that_filters_is_not_dropped():
    # words in the remark that would change the answer: ask back rather than answer for everything
    assert plan("why is gpt-4 slow? cost by model in the last 4 hours").status != "ok"
    assert plan("excluding weekends: cost by model today").status != "ok"
    assert plan("acme is complaining. p90 latency by model today").status != "ok"


def test_a_property_key_ending_in_underscore_does_not_break_other_questions():
    vocab = Vocabulary(
        models=VOCAB.models,
        providers=VOCAB.providers,
        properties={**VOCAB.properties, "team_": {"alpha": 3, "the": 1}},
        score_keys=VOCAB.score_keys,
    )
    assert whole("how many requests did the search feature get yesterday", vocab) == {
        "measure": "requests",
        "range": {"kind": "yesterday"},
        "conditions": [cond("property:feature", "equals", "search")],
    }
    assert whole("p90 latency by model this week", vocab) == {
        "measure": "latency",
        "aggregation": "p90",
        "groupBy": "model",
        "range": {"kind": "this_week"},
    }
    assert whole("cost for team_ alpha", vocab) == {
        "measure": "cost",
        "conditions": [cond("property:team_", "equals", "alpha")],
    }
    assert whole("cost for team_ = the", vocab) == {
        "measure": "cost",
        "conditions": [cond("property:team_", "equals", "the")],
    }


def test_names_match_whole_tokens_whatever_characters_they_hold():
    vocab = Vocabulary(
        models={"gpt-4": 1, "my.model+v2": 1, "a(b)": 1},
        properties={"env": {"prod-eu.1": 1}},
    )
    assert whole("latency for my.model+v2", vocab)["conditions"] == [cond("model", "equals", "my.model+v2")]
    assert whole("requests for prod-eu.1", vocab)["conditions"] == [cond("property:env", "equals", "prod-eu.1")]
    # "gpt-4" inside another token is not gpt-4
    assert plan("latency for xgpt-4", vocab).status != "ok"


def test_the_prompt_carries_the_same_lexicon():
    from heliqa.agent.llm import render_prompt

    text = render_prompt(Context(now=NOW, tz=ZoneInfo("UTC"), vocabulary=VOCAB), question="cost")
    assert prompt_section() in text


def test_the_prompt_stays_small_with_a_large_vocabulary():
    from heliqa.agent.llm import render_prompt

    big = Vocabulary(
        models={f"model-{i:04d}-x{i % 37}": i for i in range(2000)},
        providers=VOCAB.providers,
        properties={
            **{f"key_{k}": {f"value-{k}-{j}": j for j in range(40)} for k in range(49)},
            "session_id": {f"sess-{j:05d}": 1 for j in range(10_000)},
        },
        score_keys=VOCAB.score_keys,
        users=20_000,
        user_ids={f"user_{j:05d}": 1 for j in range(20_000)},
    )
    question = "p90 latency for model-0042-x5 in sess-01234 by day"
    text = render_prompt(Context(now=NOW, tz=ZoneInfo("UTC"), vocabulary=big), question=question)
    # a conservative token count: every word and every punctuation mark is a token (BPE merges more)
    assert len(re.findall(r"\w+|[^\w\s]", text)) < 4000
    assert "model-0042-x5" in text and "sess-01234" in text  # the names the question uses are offered


# --- answers end to end: a real store with hand-built rows, expected values computed here ----------------------

ORG = "org-wording"
MODELS = {
    "gpt-4": "OPENAI",
    "gpt-4o": "OPENAI",
    "claude-3-5-sonnet-20241022": "ANTHROPIC",
    "claude-3-5-haiku-20241022": "ANTHROPIC",
}


def _rows() -> list[dict]:
    rows = []
    models = list(MODELS)
    for i in range(48):
        model = models[i % 4]
        rows.append(
            {
                "request_id": f"w-{i:03d}",
                "organization_id": ORG,
                # every 30 minutes back from 11:30 on Nov 24: Nov 23 12:00 .. Nov 24 11:30 UTC
                "request_created_at": f"2026-11-{23 + (i + 24) // 48:02d}T{((i + 24) % 48) // 2:02d}:"
                f"{30 * (i % 2):02d}:00.000Z",
                "status": 200 if i % 7 else 500,
                "model": model,
                "provider": MODELS[model],
                "latency": 100 + 37 * i % 900,
                "cost": round(0.01 * (1 + (i * 13) % 11), 4),
                "user_id": f"u{i % 3}",
                "properties": {"environment": "production" if i % 2 else "staging"},
                "request_body": ["label for 35568?", "label for 35568 ", "nothing here"][i % 3],
            }
        )
    return rows


ROWS = _rows()


@pytest.fixture(scope="module")
def conversation(tmp_path_factory):
    from heliqa.agent.conversation import Conversation
    from heliqa.tools.store import Store

    store = Store(tmp_path_factory.mktemp("wording") / "heliqa.duckdb")
    store.add_rows(ROWS)

    def ask(question: str):
        return Conversation(store, PLANNER, ORG, ZoneInfo("UTC"), NOW).ask(question)

    yield ask
    store.close()


def _sum_by(key: str, rows: list[dict], value: str = "cost") -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        out[r[key]] = out.get(r[key], 0.0) + r[value]
    return out


def test_grouped_rows_are_sorted_largest_first(conversation):
    answer = conversation("total cost by model in the last 24 hours")
    expected = _sum_by("model", ROWS)
    assert [r.group for r in answer.rows] == sorted(expected, key=lambda m: -expected[m])
    assert [r.value for r in answer.rows] == pytest.approx(sorted(expected.values(), reverse=True))


def test_a_superlative_is_the_one_group_named(conversation):
    answer = conversation("who spent the most on gpt-4 in the last 24 hours")
    spent = _sum_by("user_id", [r for r in ROWS if r["model"] == "gpt-4"])
    top = max(spent, key=lambda u: spent[u])
    assert [(r.group, r.value) for r in answer.rows] == [(top, pytest.approx(spent[top]))]
    assert top in answer.message


def test_the_cheapest_is_the_bottom_group(conversation):
    answer = conversation("cheapest model by average cost per request in the last 24 hours")
    avg = {m: _sum_by("model", ROWS)[m] / sum(r["model"] == m for r in ROWS) for m in MODELS}
    low = min(avg, key=lambda m: avg[m])
    assert [(r.group, r.value) for r in answer.rows] == [(low, pytest.approx(avg[low]))]
    assert "bottom 1 by model" in answer.interpretation


def test_a_vs_b_is_two_groups(conversation):
    import statistics

    answer = conversation("p50 latency claude sonnet vs haiku last 24h")
    expected = {
        m: statistics.median([r["latency"] for r in ROWS if r["model"] == m])
        for m in ("claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022")
    }
    assert {r.group: r.value for r in answer.rows} == pytest.approx(expected)
    assert [r.value for r in answer.rows] == sorted((r.value for r in answer.rows), reverse=True)


def test_quoted_text_is_searched_byte_for_byte(conversation):
    answer = conversation('how many requests mentioning "label for 35568?" in the last 24 hours')
    assert answer.rows[0].value == sum("label for 35568?" in r["request_body"] for r in ROWS)


def test_an_empty_answer_says_which_filter_removed_everything(conversation):
    answer = conversation('how many requests mentioning "no such text" in the last 24 hours')
    assert answer.status == "ok" and answer.rows[0].value == 0
    assert 'request_body contains "no such text"' in answer.message


def test_an_empty_range_says_where_the_data_is(conversation):
    answer = conversation("total cost on 2026-10-01")
    assert answer.status == "ok"
    assert "no requests at all in that time range" in answer.message
    assert "Nov 23 2026 to Nov 24 2026" in answer.message


def test_the_interpretation_line_names_the_ignored_words(conversation):
    answer = conversation("avg latency feels slow rn")
    assert answer.interpretation.endswith("ignored: feels, rn")


def test_top_n_as_a_follow_up_ranks_the_previous_groups():
    previous = plan("cost by model last week").spec
    follow = PLANNER.plan("just the top 3", Context(now=NOW, tz=ZoneInfo("UTC"), vocabulary=VOCAB, previous=previous))
    assert follow.spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True) == {
        "measure": "cost",
        "groupBy": "model",
        "top": 3,
        "range": LAST7,
    }
    assert plan("top 3 by cost").status == "clarify"


def test_the_word_list_read_directly_agrees_with_wordfreq():
    from wordfreq import zipf_frequency

    from heliqa.agent.wording import _english

    table = _english()
    assert table is not None and len(table) > 20_000
    for word in ("the", "feels", "weird", "refund", "rn", "latency", "bill"):
        assert table[word] == pytest.approx(zipf_frequency(word, "en", wordlist="small"))
    assert "spiking" not in table and "acme" not in table  # rare words: asked back, never ignored


def test_an_empty_measure_says_the_requests_match_but_lack_it(conversation):
    answer = conversation("errors for gpt-4o with status 200 in the last 24 hours")
    matched = sum(r["model"] == "gpt-4o" and r["status"] == 200 for r in ROWS)
    assert answer.rows[0].value == 0
    assert f"{matched} requests match in that time range, but none of them failed" in answer.message


# Names that are also everyday words, countries in lists and negations, verbs linking a group to its superlative,
# "a single request": each read as the whole query, never as a different one.
NAMED_IN_PLACE = [
    # `together` names the provider wherever a name stands; it combines only a list before it
    (
        "how many failed requests from together yesterday",
        {"measure": "errors", "range": {"kind": "yesterday"}, "conditions": [cond("provider", "equals", "TOGETHER")]},
    ),
    (
        "together latency today",
        {"measure": "latency", "range": {"kind": "today"}, "conditions": [cond("provider", "equals", "TOGETHER")]},
    ),
    (
        "latency on together and anthropic today",
        {
            "measure": "latency",
            "groupBy": "provider",
            "range": {"kind": "today"},
            "conditions": [cond("provider", "in", ["ANTHROPIC", "TOGETHER"])],
        },
    ),
    (
        "cost for gpt-4 and gpt-4o together today",
        {"measure": "cost", "range": {"kind": "today"}, "conditions": [cond("model", "in", ["gpt-4", "gpt-4o"])]},
    ),
    (
        "anthropic and together combined cost today",
        {
            "measure": "cost",
            "range": {"kind": "today"},
            "conditions": [cond("provider", "in", ["ANTHROPIC", "TOGETHER"])],
        },
    ),
    # countries by name: several are two groups, a negation keeps the others, `us` only where a name stands
    (
        "how many requests from germany and france yesterday",
        {
            "measure": "requests",
            "groupBy": "country",
            "range": {"kind": "yesterday"},
            "conditions": [cond("country", "in", ["DE", "FR"])],
        },
    ),
    (
        "requests not from the US today",
        {"measure": "requests", "range": {"kind": "today"}, "conditions": [cond("country", "not-equals", "US")]},
    ),
    (
        "cost in the last 2 weeks for France",
        {
            "measure": "cost",
            "range": {"kind": "last", "n": 2, "unit": "weeks"},
            "conditions": [cond("country", "equals", "FR")],
        },
    ),
    (
        "requests by country excluding brazil today",
        {
            "measure": "requests",
            "groupBy": "country",
            "range": {"kind": "today"},
            "conditions": [cond("country", "not-equals", "BR")],
        },
    ),
    ("show us cost today", {"measure": "cost", "range": {"kind": "today"}}),
    # a conversational verb between the group and its superlative
    (
        "which user sent the most requests today",
        {"measure": "requests", "groupBy": "user", "top": 1, "range": {"kind": "today"}},
    ),
    (
        "which model served the most requests today",
        {"measure": "requests", "groupBy": "model", "top": 1, "range": {"kind": "today"}},
    ),
    (
        "which users sent the most requests today",
        {"measure": "requests", "groupBy": "user", "top": 10, "range": {"kind": "today"}},
    ),
    # one request's largest value, not the average per request
    (
        "max cost of a single request yesterday",
        {"measure": "cost", "aggregation": "max", "range": {"kind": "yesterday"}},
    ),
    (
        "biggest latency of any single request today",
        {"measure": "latency", "aggregation": "max", "range": {"kind": "today"}},
    ),
    ("highest cost per request today", {"measure": "cost", "aggregation": "max", "range": {"kind": "today"}}),
    (
        "which model has the highest cost per request today",
        {"measure": "cost", "aggregation": "avg", "groupBy": "model", "top": 1, "range": {"kind": "today"}},
    ),
]


@pytest.mark.parametrize("question,expected", NAMED_IN_PLACE, ids=[q[:50] for q, _ in NAMED_IN_PLACE])
def test_names_that_are_everyday_words_are_read_in_place(question, expected):
    assert whole(question) == expected


def test_a_country_word_is_a_zone_before_time_and_us_is_a_name_only_in_place():
    assert plan("error rate US vs UK today").status != "ok"  # `US` leads, no preposition: asked back
    spec = plan("requests for brazil in india time").spec.model_dump(mode="json", exclude_none=True)
    assert spec["conditions"] == [cond("country", "equals", "BR")] and spec["timeZone"] == "Asia/Kolkata"


# A negation carries over the list it heads; a second grouping joined to the first is asked back, never dropped.
NEGATED_LISTS = [
    (
        "gpt-4o latency excluding staging and development last 3 days",
        {
            "measure": "latency",
            "range": {"kind": "last", "n": 3, "unit": "days"},
            "conditions": [
                cond("model", "equals", "gpt-4o"),
                cond("property:environment", "not-equals", "staging"),
                cond("property:environment", "not-equals", "development"),
            ],
        },
    ),
    (
        "cost excluding gpt-4, gpt-4o and o3-mini today",
        {
            "measure": "cost",
            "range": {"kind": "today"},
            "conditions": [
                cond("model", "not-equals", "gpt-4"),
                cond("model", "not-equals", "gpt-4o"),
                cond("model", "not-equals", "o3-mini"),
            ],
        },
    ),
    (
        "requests not from brazil or india today",
        {
            "measure": "requests",
            "range": {"kind": "today"},
            "conditions": [cond("country", "not-equals", "BR"), cond("country", "not-equals", "IN")],
        },
    ),
    # a negation of one dimension does not reach a list of another
    (
        "excluding gpt-4 for production and staging cost today",
        {
            "measure": "cost",
            "groupBy": "property:environment",
            "range": {"kind": "today"},
            "conditions": [
                cond("model", "not-equals", "gpt-4"),
                cond("property:environment", "in", ["production", "staging"]),
            ],
        },
    ),
    (
        "gpt-4 and gpt-4o cost excluding staging today",
        {
            "measure": "cost",
            "groupBy": "model",
            "range": {"kind": "today"},
            "conditions": [
                cond("model", "in", ["gpt-4", "gpt-4o"]),
                cond("property:environment", "not-equals", "staging"),
            ],
        },
    ),
]


@pytest.mark.parametrize("question,expected", NEGATED_LISTS, ids=[q[:50] for q, _ in NEGATED_LISTS])
def test_a_negation_carries_over_its_list(question, expected):
    got, want = whole(question), dict(expected)
    assert sorted(got.pop("conditions"), key=str) == sorted(want.pop("conditions"), key=str)
    assert got == want


@pytest.mark.parametrize(
    "question", ["cost by model and provider today", "cost by model, provider today", "latency by model/provider"]
)
def test_two_groupings_joined_are_asked_back(question):
    result = plan(question)
    assert result.status == "clarify" and "one grouping" in result.message, (result.status, result.message)


@pytest.mark.parametrize(
    "question,start,zone",
    [
        ("requests since 10:30", "2026-11-24T10:30:00", None),  # earlier today (now is 12:00 UTC)
        ("requests since 2pm", "2026-11-23T14:00:00", None),  # not yet today: the most recent 2pm, yesterday's
        # a zone named in the question has its own clock: 07:00 in New York, so 8am is yesterday's
        ("requests since 8am in new york time", "2026-11-23T08:00:00", "America/New_York"),
    ],
)
def test_since_a_clock_time_is_the_most_recent_one(question, start, zone):
    expected = {"measure": "requests", "range": {"kind": "since", "start": start}}
    assert whole(question) == (expected | {"timeZone": zone} if zone else expected)


@pytest.mark.parametrize(
    "question,expected",
    [
        # "slowest" implies latency only when no latency measure is named: time to first token is one
        ("slowest provider by ttft last 24h", {"measure": "ttft", "groupBy": "provider", "top": 1, "range": LAST24H}),
        (
            "fastest model by time to first token today",
            {"measure": "ttft", "groupBy": "model", "top": 1, "bottom": True, "range": {"kind": "today"}},
        ),
    ],
)
def test_a_superlative_yields_to_the_latency_measure_named(question, expected):
    assert whole(question) == expected


@pytest.mark.parametrize(
    "question", ["5xx rate today", "rate of 429s today", "429 ratio by provider today", "slowest model by cost today"]
)
def test_a_rate_of_other_rows_or_two_measures_is_asked_back(question):
    assert plan(question).status != "ok"  # never the count of those rows, never one of the two measures


FAILED = cond("status", "gte", 400)


@pytest.mark.parametrize(
    "question,expected",
    [
        # users who hit errors: the users among the failed requests (two measures joined by `and` stay asked back)
        ("how many users hit errors today", {"measure": "users", "range": {"kind": "today"}, "conditions": [FAILED]}),
        (
            "number of users who got an error yesterday by model",
            {"measure": "users", "groupBy": "model", "range": {"kind": "yesterday"}, "conditions": [FAILED]},
        ),
        # plural key words after a list of values, chat shorthand, inflected measure words, words without meaning
        (
            "total cost for the codegen and search features combined this month",
            {
                "measure": "cost",
                "range": {"kind": "this_month"},
                "conditions": [cond("property:feature", "in", ["codegen", "search"])],
            },
        ),
        (
            "requests w/ more than 500 completion tokens today",
            {"measure": "requests", "range": {"kind": "today"}, "conditions": [cond("completion_tokens", "gt", 500)]},
        ),
        (
            "cost w/o staging today",
            {
                "measure": "cost",
                "range": {"kind": "today"},
                "conditions": [cond("property:environment", "not-equals", "staging")],
            },
        ),
        ("which tier spends the most", {"measure": "cost", "groupBy": "property:customer_tier", "top": 1}),
        (
            "cost for everything except the free tier this month",
            {
                "measure": "cost",
                "range": {"kind": "this_month"},
                "conditions": [cond("property:customer_tier", "not-equals", "free")],
            },
        ),
    ],
)
def test_casual_wording_is_read_as_the_query(question, expected):
    assert whole(question) == expected


def test_users_and_errors_joined_are_two_measures():
    assert plan("how many users and errors today").status != "ok"


@pytest.mark.parametrize(
    "question,day",
    [
        ("cost two days ago", "2026-11-22"),
        ("latency the day before yesterday", "2026-11-22"),
        ("errors 3 days ago by model", "2026-11-21"),
    ],
)
def test_n_days_ago_is_that_whole_day(question, day):
    assert whole(question)["range"] == {"kind": "day", "day": day}


@pytest.mark.parametrize(
    "question",
    [
        "average cost per day this week",
        "avg daily spend last 30 days",
        "daily average cost this week",
        "average hourly tokens today",
        "requests since 3 days ago",
    ],
)
def test_a_mean_of_totals_or_a_start_nobody_can_place_is_asked_back(question):
    assert plan(question).status in ("clarify", "unparsed")


def test_per_request_means_by_day_and_mean_latencies_stay_answered():
    assert whole("avg cost per request per day this week") == {
        "measure": "cost",
        "aggregation": "avg",
        "bucket": "day",
        "range": {"kind": "this_week"},
    }
    assert whole("average daily latency this week") == {
        "measure": "latency",
        "aggregation": "avg",
        "bucket": "day",
        "range": {"kind": "this_week"},
    }


@pytest.mark.parametrize(
    "question,expected",
    [
        ("cost of failed requests today", {"measure": "cost", "range": {"kind": "today"}, "conditions": [FAILED]}),
        (
            "p95 latency for failed calls by model yesterday",
            {
                "measure": "latency",
                "aggregation": "p95",
                "groupBy": "model",
                "range": {"kind": "yesterday"},
                "conditions": [FAILED],
            },
        ),
        (
            "latency of requests that failed today",
            {"measure": "latency", "range": {"kind": "today"}, "conditions": [FAILED]},
        ),
        # the count of failed requests is still the error count
        ("count of failed requests today", {"measure": "errors", "range": {"kind": "today"}}),
    ],
)
def test_a_measure_of_failed_requests_filters_them(question, expected):
    assert whole(question) == expected


@pytest.mark.parametrize("question", ["cost and failed requests today", "how many tokens per second"])
def test_two_measures_or_a_rate_per_second_are_asked_back(question):
    assert plan(question).status != "ok"


@pytest.mark.parametrize(
    "question,expected",
    [
        # a word naming part of the family's models belongs to the model, not to a property value
        (
            "gemini pro cost this week",
            {
                "measure": "cost",
                "range": {"kind": "this_week"},
                "conditions": [cond("model", "contains", "gemini"), cond("model", "contains", "pro")],
            },
        ),
        (
            "o3 mini tokens today",
            {
                "measure": "total_tokens",
                "range": {"kind": "today"},
                "conditions": [cond("model", "contains", "o3"), cond("model", "contains", "mini")],
            },
        ),
        # ... unless the property's key follows it
        (
            "gemini pro tier cost",
            {
                "measure": "cost",
                "conditions": [cond("model", "contains", "gemini"), cond("property:customer_tier", "equals", "pro")],
            },
        ),
        # two users are two groups, never one filter both must match
        (
            "cost for user_0042 and user_0013 today",
            {
                "measure": "cost",
                "groupBy": "user",
                "range": {"kind": "today"},
                "conditions": [cond("user", "in", ["user_0013", "user_0042"])],
            },
        ),
        (
            "cost excluding user_0042 and user_0013 today",
            {
                "measure": "cost",
                "range": {"kind": "today"},
                "conditions": [cond("user", "not-equals", "user_0042"), cond("user", "not-equals", "user_0013")],
            },
        ),
    ],
)
def test_model_words_and_user_lists_are_read_whole(question, expected):
    assert whole(question) == expected


def test_the_mean_spend_per_user_is_asked_back():
    assert plan("avg cost per user today").status == "clarify"
    assert whole("avg cost per request by user today")["groupBy"] == "user"


def test_since_an_ordinal_day_runs_until_now_and_a_leftover_since_is_asked_back():
    assert whole("cost since the 20th") == {
        "measure": "cost",
        "range": {"kind": "since", "start": "2026-11-20T00:00:00"},
    }
    assert whole("cost on the 20th") == {"measure": "cost", "range": {"kind": "day", "day": "2026-11-20"}}
    assert plan("requests overnight").status != "ok"


@pytest.mark.parametrize(
    "question,expected",
    [
        # the worse end is the measure's: the highest error rate, latency or cost, the lowest score
        (
            "worst model by error rate today",
            {"measure": "error_rate", "groupBy": "model", "top": 1, "range": {"kind": "today"}},
        ),
        (
            "best model by accuracy this week",
            {"measure": "score", "scoreKey": "accuracy", "groupBy": "model", "top": 1, "range": {"kind": "this_week"}},
        ),
        (
            "worst feature by accuracy",
            {"measure": "score", "scoreKey": "accuracy", "groupBy": "property:feature", "top": 1, "bottom": True},
        ),
        ("best provider by latency", {"measure": "latency", "groupBy": "provider", "top": 1, "bottom": True}),
        ("top spender this week", {"measure": "cost", "groupBy": "user", "top": 1, "range": {"kind": "this_week"}}),
        ("who are our top 3 spenders", {"measure": "cost", "groupBy": "user", "top": 3}),
    ],
)
def test_best_and_worst_rank_by_the_measures_bad_end(question, expected):
    assert whole(question) == expected


@pytest.mark.parametrize("question", ["worst model by requests today", "best model this week"])
def test_best_and_worst_without_a_bad_end_are_asked_back_not_dropped(question):
    assert plan(question).status != "ok"  # more requests is neither worse nor better; 'best' needs a measure


def test_worst_case_is_still_the_max():
    assert whole("worst case latency for gpt-4 today")["aggregation"] == "max"


def test_a_group_named_before_its_superlative_without_the():
    assert whole("model with lowest ttft") == {"measure": "ttft", "groupBy": "model", "top": 1, "bottom": True}


@pytest.mark.parametrize("question", ["status of errors today", "how many customers used support-bot"])
def test_a_grouping_word_nobody_placed_is_asked_back(question):
    result = plan(question)
    assert result.status != "ok", result.spec  # never an answer that silently drops the grouping


@pytest.mark.parametrize(
    "question,expected",
    [
        # the latency word after a threshold belongs to the threshold: the count of those requests
        ("requests above 5 s latency", {"measure": "requests", "conditions": [cond("latency", "gt", 5000)]}),
        (
            "requests over 2s ttft today",
            {"measure": "requests", "range": {"kind": "today"}, "conditions": [cond("ttft", "gt", 2000)]},
        ),
        (
            "avg latency for requests over 5s",
            {"measure": "latency", "aggregation": "avg", "conditions": [cond("latency", "gt", 5000)]},
        ),
    ],
)
def test_a_latency_word_after_a_threshold_is_the_thresholds(question, expected):
    assert whole(question) == expected


# Wordings of an independent audit (questions written the way other people type them): each was answered as a
# different question or asked back although it is clear.
AUDITED = [
    # a status compared with a code ("status >= 500"): the range of codes, not a word asked back
    (
        "how many requests with status>=400 yesterday",
        {"measure": "requests", "range": {"kind": "yesterday"}, "conditions": [cond("status", "gte", 400)]},
    ),
    (
        "errors with status code > 499 by provider",
        {"measure": "errors", "groupBy": "provider", "conditions": [cond("status", "gt", 499)]},
    ),
    ("requests with status < 300", {"measure": "requests", "conditions": [cond("status", "lt", 300)]}),
    # "us" after other words is the asker, not the country: "the ... cost us" must not filter country = US
    (
        "how much did the support-bot feature cost us yesterday",
        {
            "measure": "cost",
            "range": {"kind": "yesterday"},
            "conditions": [cond("property:feature", "equals", "support-bot")],
        },
    ),
    # on-call shorthand: read, never dropped (a dropped "this wk" answered the last 24 hours)
    (
        "p95 lat by model yday",
        {"measure": "latency", "aggregation": "p95", "groupBy": "model", "range": {"kind": "yesterday"}},
    ),
    ("errs in the last 2 hrs", {"measure": "errors", "range": {"kind": "last", "n": 2, "unit": "hours"}}),
    (
        "avg latency for gpt-4o this wk",
        {
            "measure": "latency",
            "aggregation": "avg",
            "range": {"kind": "this_week"},
            "conditions": [cond("model", "equals", "gpt-4o")],
        },
    ),
    ("cost past mo", {"measure": "cost", "range": {"kind": "last", "n": 30, "unit": "days"}}),
    (
        "median lat for gpt-4o last 3 days",
        {
            "measure": "latency",
            "aggregation": "p50",
            "range": {"kind": "last", "n": 3, "unit": "days"},
            "conditions": [cond("model", "equals", "gpt-4o")],
        },
    ),
    # "worst" after the group's verb ranks by the measure's bad end, as "worst model by error rate" does
    (
        "which feature has the worst error rate this week",
        {"measure": "error_rate", "groupBy": "property:feature", "top": 1, "range": {"kind": "this_week"}},
    ),
    (
        "which model has the best accuracy score",
        {"measure": "score", "scoreKey": "accuracy", "groupBy": "model", "top": 1},
    ),
    # thousands written with k, and "where" before a threshold
    (
        "how many reqs over 10k tokens last week",
        {"measure": "requests", "range": LAST7, "conditions": [cond("total_tokens", "gt", 10000)]},
    ),
    (
        "requests where latency > 3000ms today",
        {"measure": "requests", "range": {"kind": "today"}, "conditions": [cond("latency", "gt", 3000)]},
    ),
    # "!=" is a negation: once "!" was dropped as punctuation, "status != 200" read as status = 200
    (
        "requests with status != 200 today",
        {"measure": "requests", "range": {"kind": "today"}, "conditions": [cond("status", "not-equals", 200)]},
    ),
    ("error % by model", {"measure": "error_rate", "groupBy": "model"}),
    (
        "cost excl. gpt-4 today",
        {"measure": "cost", "range": {"kind": "today"}, "conditions": [cond("model", "not-equals", "gpt-4")]},
    ),
    # spans said in words or with a fraction, and the start of a calendar unit
    ("requests in the last half hour", {"measure": "requests", "range": {"kind": "last", "n": 30, "unit": "minutes"}}),
    ("total cost in the last 1.5 hours", {"measure": "cost", "range": {"kind": "last", "n": 90, "unit": "minutes"}}),
    ("cost since the start of the month", {"measure": "cost", "range": {"kind": "this_month"}}),
    ("requests since the beginning of the week", {"measure": "requests", "range": {"kind": "this_week"}}),
    # "everything but X" excludes X; "but only for X" is only X
    (
        "errors for everything but gpt-4 today",
        {"measure": "errors", "range": {"kind": "today"}, "conditions": [cond("model", "not-equals", "gpt-4")]},
    ),
    (
        "cost by provider but only for the support-bot feature this week",
        {
            "measure": "cost",
            "groupBy": "provider",
            "range": {"kind": "this_week"},
            "conditions": [cond("property:feature", "equals", "support-bot")],
        },
    ),
    # the users' country, not a second measure
    (
        "latency for users in the US yesterday",
        {"measure": "latency", "range": {"kind": "yesterday"}, "conditions": [cond("country", "equals", "US")]},
    ),
    (
        "cost for feature <> search",
        {"measure": "cost", "conditions": [cond("property:feature", "not-equals", "search")]},
    ),
]
AUDITED_ASKED_BACK = [
    "cost lately",  # as vague as "recently": never silently the last 24 hours
    # the mean of daily totals, or a per-request mean day by day? (as "average cost per day")
    "how much did we spend per day on average this month",
    "cost on average per day this week",
    "median cost per day this week",
    # a sum of the top groups is not what a top-N answer gives
    "cost of the top 5 users combined this week",
    # a share of the requests is not their count ('%' was dropped as punctuation, 'share' ignored)
    "what % of requests went to gpt-4 today",
    "share of traffic by provider this week",
    # an unknown name as the subject of "did X make/use" was dropped: the answer counted everyone's requests
    "how many requests did frank and joe make today",
    "how many tokens did marketing use yesterday",
]


@pytest.mark.parametrize("question", AUDITED_ASKED_BACK)
def test_audited_wordings_that_are_asked_back(question):
    assert plan(question).status != "ok", plan(question).spec


@pytest.mark.parametrize("question,expected", AUDITED, ids=[q[:50] for q, _ in AUDITED])
def test_audited_wordings_are_read_exactly(question, expected):
    assert whole(question) == expected


def test_shorthand_is_read_and_said():
    assert plan("p95 lat by model yday").notes == ["read 'lat' as 'latency', 'yday' as 'yesterday'"]
    assert plan("cost this hr").status != "ok"  # 'this hour' is no range: asked back, never the last 24 hours


def test_the_first_word_of_the_organizations_model_names_is_a_family_before_models():
    acme = corpus.vocabulary("acme")  # phi-4 and phi-3.5-mini-instruct: no built-in family word
    assert whole("avg latency for phi models since monday", acme) == {
        "measure": "latency",
        "aggregation": "avg",
        "range": {"kind": "since", "start": "2026-11-23T00:00:00"},
        "conditions": [cond("model", "contains", "phi")],
    }
    assert plan("cost for text models").status != "ok"  # an everyday word: not text-embedding-3-small's family


def _between(start: str, end: str) -> dict:
    return {"kind": "between", "start": start, "end": end}


YESTERDAY, EVENING = {"kind": "yesterday"}, _between("2026-11-23T17:00:00", "2026-11-24T00:00:00")
NOT_FAILED = cond("status", "lt", 400)
ASKED_BEFORE = [
    # a grouping and a time bucket joined: one series per group (never two groupings)
    ("cost by model and day last week", {"measure": "cost", "groupBy": "model", "bucket": "day", "range": LAST7}),
    (
        "spend by day and model over the past week",
        {"measure": "cost", "groupBy": "model", "bucket": "day", "range": LAST7},
    ),
    (
        "tokens by provider and hour today",
        {"measure": "total_tokens", "groupBy": "provider", "bucket": "hour", "range": {"kind": "today"}},
    ),
    (
        "p95 latency by model & day this week",
        {
            "measure": "latency",
            "aggregation": "p95",
            "groupBy": "model",
            "bucket": "day",
            "range": {"kind": "this_week"},
        },
    ),
    ("errors by user and day last week", {"measure": "errors", "groupBy": "user", "bucket": "day", "range": LAST7}),
    # "date" is a day bucket: "per date" was ignored (one total), "and date" dropped the bucket
    (
        "requests by model and date last week",
        {"measure": "requests", "groupBy": "model", "bucket": "day", "range": LAST7},
    ),
    ("requests per date this week", {"measure": "requests", "bucket": "day", "range": {"kind": "this_week"}}),
    # a time of day bounds the one local day named: after runs to its end, before starts at its midnight
    ("errors after 5pm yesterday", {"measure": "errors", "range": EVENING}),
    ("Errors yesterday after 5 pm", {"measure": "errors", "range": EVENING}),
    ("errors later than 5pm yesterday", {"measure": "errors", "range": EVENING}),
    ("how many errors after 17:00 yday", {"measure": "errors", "range": EVENING}),
    (
        "requests before 9am today",
        {"measure": "requests", "range": _between("2026-11-24T00:00:00", "2026-11-24T09:00:00")},
    ),
    (
        "latency yesterday before noon",
        {"measure": "latency", "range": _between("2026-11-23T00:00:00", "2026-11-23T12:00:00")},
    ),
    (
        "cost after 6:30pm on nov 20",
        {"measure": "cost", "range": _between("2026-11-20T18:30:00", "2026-11-21T00:00:00")},
    ),
    (
        "errors after 8pm on monday",
        {"measure": "errors", "range": _between("2026-11-23T20:00:00", "2026-11-24T00:00:00")},
    ),
    ("latency after 10am today", {"measure": "latency", "range": {"kind": "since", "start": "2026-11-24T10:00:00"}}),
    (
        "how many 500s after 5pm yesterday",
        {"measure": "requests", "range": EVENING, "conditions": [cond("status", "equals", 500)]},
    ),
    (
        "errors after 5pm yesterday in new york time",
        {"measure": "errors", "range": EVENING, "timeZone": "America/New_York"},
    ),
    ("errors since 5pm yesterday", {"measure": "errors", "range": {"kind": "since", "start": "2026-11-23T17:00:00"}}),
    # requests that did not fail: the complement of an error (status >= 400)
    ("requests that did not fail yesterday", {"measure": "requests", "range": YESTERDAY, "conditions": [NOT_FAILED]}),
    ("how many requests didnt fail yesterday", {"measure": "requests", "range": YESTERDAY, "conditions": [NOT_FAILED]}),
    ("reqs that didn't fail today", {"measure": "requests", "range": {"kind": "today"}, "conditions": [NOT_FAILED]}),
    (
        "requests that did not error yesterday by model",
        {"measure": "requests", "groupBy": "model", "range": YESTERDAY, "conditions": [NOT_FAILED]},
    ),
    ("non-failed requests yesterday", {"measure": "requests", "range": YESTERDAY, "conditions": [NOT_FAILED]}),
    ("requests with no errors yesterday", {"measure": "requests", "range": YESTERDAY, "conditions": [NOT_FAILED]}),
    ("requests that werent errors yesterday", {"measure": "requests", "range": YESTERDAY, "conditions": [NOT_FAILED]}),
    (
        "latency of requests that did not fail yesterday",
        {"measure": "latency", "range": YESTERDAY, "conditions": [NOT_FAILED]},
    ),
    # groups sorted by a measure: every group, largest first
    ("models sorted by cost last week", {"measure": "cost", "groupBy": "model", "range": LAST7}),
    ("Models sorted by spend, last week", {"measure": "cost", "groupBy": "model", "range": LAST7}),
    ("users ordered by spend", {"measure": "cost", "groupBy": "user"}),
    (
        "providers ranked by error rate yesterday",
        {"measure": "error_rate", "groupBy": "provider", "range": YESTERDAY},
    ),
    (
        "sort models by p95 latency today",
        {"measure": "latency", "aggregation": "p95", "groupBy": "model", "range": {"kind": "today"}},
    ),
    ("rank users by cost this month", {"measure": "cost", "groupBy": "user", "range": {"kind": "this_month"}}),
    ("models by cost last week", {"measure": "cost", "groupBy": "model", "range": LAST7}),
    ("users by spend this month", {"measure": "cost", "groupBy": "user", "range": {"kind": "this_month"}}),
    (
        "providers by p95 latency yesterday",
        {"measure": "latency", "aggregation": "p95", "groupBy": "provider", "range": YESTERDAY},
    ),
    (
        "features by error rate last week",
        {"measure": "error_rate", "groupBy": "property:feature", "range": LAST7},
    ),
    # "where" leading a filter
    (
        "requests by model where status < 300 yesterday",
        {"measure": "requests", "groupBy": "model", "range": YESTERDAY, "conditions": [cond("status", "lt", 300)]},
    ),
    (
        "requests by model where status<300 yday",
        {"measure": "requests", "groupBy": "model", "range": YESTERDAY, "conditions": [cond("status", "lt", 300)]},
    ),
    (
        "cost by provider where model is gpt-4o last week",
        {"measure": "cost", "groupBy": "provider", "range": LAST7, "conditions": [cond("model", "equals", "gpt-4o")]},
    ),
    (
        "errors where status = 429 today",
        {"measure": "errors", "range": {"kind": "today"}, "conditions": [cond("status", "equals", 429)]},
    ),
    # "country is brazil": "is" is no country code (Iceland's)
    (
        "requests where country is brazil",
        {"measure": "requests", "conditions": [cond("country", "equals", "BR")]},
    ),
    # "whose" after requests leads a filter: it does not rank users
    ("requests whose status is 429", {"measure": "requests", "conditions": [cond("status", "equals", 429)]}),
    (
        "latency where the model is gpt-4o-mini today",
        {"measure": "latency", "range": {"kind": "today"}, "conditions": [cond("model", "equals", "gpt-4o-mini")]},
    ),
]


@pytest.mark.parametrize("question,expected", ASKED_BEFORE, ids=[q[:50] for q, _ in ASKED_BEFORE])
def test_wordings_once_asked_back_are_read_exactly(question, expected):
    assert whole(question) == expected


@pytest.mark.parametrize(
    "question,says",
    [
        ("errors after 5pm", "on which day"),  # which day's 5pm: the asker says, or asks "since 5pm"
        ("errors after 5pm last week", "one day"),  # the evenings of seven days: no range can say that
        ("cost after 3pm today", "not come yet"),  # now is 12:00
        ("errors from 5pm yesterday", "until when"),  # until now, or the rest of that day?
        ("models sorted by cost ascending", "largest first"),  # rows are listed largest first: a bottom N instead
        ("users ordered by spend, lowest first", "largest first"),
        # the models with no failed request at all: not a filter on requests
        ("models that did not fail yesterday", "no failed request"),
        ("users who didn't error today", "no failed request"),
    ],
)
def test_what_these_wordings_cannot_mean_is_asked_back_specifically(question, says):
    result = plan(question)
    assert result.status == "clarify" and says in result.message, (result.status, result.message)


@pytest.mark.parametrize(
    "question",
    [
        "requests that fail today",  # a leftover outcome word was ignored: every request was counted
        "requests that did not fail or time out",  # "time out" was ignored: only the failures were excluded
        "how many requests time out today",  # "time out" was ignored as filler: every request was counted
        "requests timing out by model",
        "where did errors come from yesterday",  # 'where' leads no filter
        "gizmos by error rate last week",  # groups nobody has: never one total with the word dropped
        "widgets sorted by cost",
        "requests where model is production",  # a value of another dimension after "where model is"
    ],
)
def test_outcomes_and_a_where_that_leads_nothing_are_asked_back(question):
    assert plan(question).status != "ok", plan(question).spec


def test_a_bucket_word_that_is_the_organizations_key_groups_by_that_key():
    keyed = Vocabulary(
        models=VOCAB.models,
        providers=VOCAB.providers,
        properties={**VOCAB.properties, "date": {"2026-11-01": 1}},
        score_keys=VOCAB.score_keys,
    )
    assert whole("cost by date last week", keyed) == {"measure": "cost", "groupBy": "property:date", "range": LAST7}
    assert "one grouping" in plan("requests by model and date", keyed).message
    assert whole("cost by date last week") == {"measure": "cost", "bucket": "day", "range": LAST7}


def test_shorthand_read_after_a_rule_asked_back_leaves_names_alone():
    # "after 5pm" needs its day, typed "yday": the shorthand is read and the question rescanned, but a user named
    # like shorthand ("mo" = month) stays that user
    named = Vocabulary(
        models=VOCAB.models,
        providers=VOCAB.providers,
        properties=VOCAB.properties,
        score_keys=VOCAB.score_keys,
        user_ids={"mo": 3},
    )
    assert whole("cost for mo after 5pm yday", named) == {
        "measure": "cost",
        "range": EVENING,
        "conditions": [cond("user", "equals", "mo")],
    }
    assert plan("cost for mo after 5pm yday", named).notes == ["read 'yday' as 'yesterday'"]
