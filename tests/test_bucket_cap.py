"""The planner's queries obey the one bucket limit (tools/limits.MAX_BUCKETS) that `heliqa query` and serve obey.

A question whose range holds more buckets than the limit is asked back, naming the limit and a coarser bucket
that fits; it never builds the buckets, raises a traceback, or answers with a cut-off series.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.llm import _Repair, check_spec
from heliqa.agent.planner import Context
from heliqa.tools.demo import generate
from heliqa.tools.limits import MAX_BUCKETS
from heliqa.tools.store import Store

ORG = "00000000-0000-4000-8000-00000000b0c7"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)  # on the minute: a range of N whole minutes holds N + 1 buckets
MINUTES_PER_DAY = 24 * 60


class CountingStore:
    """The real store, counting the queries that reach it (a capped question must reach none)."""

    def __init__(self, store: Store):
        self.store, self.runs = store, 0

    def run(self, query, org):
        self.runs += 1
        return self.store.run(query, org)

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("bucket-cap") / "heliqa.duckdb")
    store.add_rows(list(generate(300, 5, NOW, ORG, 7)))
    yield store
    store.close()


def ask(store: Store, question: str):
    backend = CountingStore(store)
    answer = Conversation(backend, make_planner("rules"), ORG, ZoneInfo("UTC"), NOW).ask(question)
    return answer, backend.runs


def test_minute_buckets_over_90_days_are_asked_back_with_a_coarser_bucket(store):
    answer, runs = ask(store, "requests per minute over the last 90 days")
    assert answer.status == "clarify", answer.message
    assert runs == 0 and not answer.rows  # nothing was built or run
    assert f"{90 * MINUTES_PER_DAY + 1:,} 'min' buckets" in answer.message
    assert f"the limit is {MAX_BUCKETS:,} (bucket count)" in answer.message
    assert f"by hour ({90 * 24 + 1:,} buckets)" in answer.message


def test_a_range_just_under_the_limit_is_answered_in_full(store):
    days = MAX_BUCKETS // MINUTES_PER_DAY  # 6 days by minute: 8,641 buckets
    answer, _ = ask(store, f"requests per minute over the last {days} days")
    assert answer.status == "ok", answer.message
    # every minute of the range has its row (zeros filled), the bucket starting at the range's end excepted
    assert len(answer.rows) == days * MINUTES_PER_DAY
    assert sum(r.value for r in answer.rows) == sum(
        1 for r in generate(300, 5, NOW, ORG, 7) if r["request_created_at"] >= "2026-11-18T12:00:00"
    )


def test_compare_form_is_capped(store):
    answer, runs = ask(store, "requests per minute over the last 30 days compared to the previous period")
    assert answer.status == "clarify", answer.message
    assert runs == 0
    assert f"{30 * MINUTES_PER_DAY + 1:,} 'min' buckets" in answer.message and "by hour" in answer.message


def test_explain_form_is_capped_and_suggests_a_shorter_range(store):
    # an explanation buckets by day from its 7-day baseline's start; 30 years of days is over the limit
    answer, runs = ask(store, "what happened to latency over the last 30 years")
    assert answer.status == "clarify", answer.message
    assert runs == 0
    assert f"the limit is {MAX_BUCKETS:,} (bucket count)" in answer.message and "shorter range" in answer.message


def test_llm_run_query_is_capped_and_ends_as_the_users_question(store):
    ctx = Context(now=NOW, tz=ZoneInfo("UTC"), vocabulary=store.vocabulary(ORG))
    args = {"measure": "requests", "bucket": "min", "range": {"kind": "last", "n": 90, "unit": "days"}}
    with pytest.raises(_Repair) as caught:
        check_spec(args, ctx)
    assert caught.value.clarify and f"the limit is {MAX_BUCKETS:,}" in caught.value.clarify
    assert "by hour" in caught.value.feedback  # the model is told which bucket would fit
