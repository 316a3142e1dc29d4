"""Headlines people can trust: spikes are the largest significant departures, rate changes are in points,
many series lead with the outlier, grouped series pivot, comparisons keep groups that fell to zero, requests
without a user id are accounted for, and an all-zero answer names no highest or lowest."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.answer import bucket_text, fmt, spike_buckets, summarize
from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.investigate import compare_cells, compare_message
from heliqa.agent.spec import QuerySpec
from heliqa.agent.timerange import TimeRange
from heliqa.tools.results import Row
from tests.conftest import MAIN_ORG, NOW

T0 = datetime(2026, 11, 23)


def _series(values: list[float]) -> list[Row]:
    return [Row(T0 + timedelta(hours=i), None, v) for i, v in enumerate(values)]


def _query(measure: str, **extra):
    spec = QuerySpec(measure=measure, range=TimeRange(kind="last", n=24, unit="hours"), **extra)
    return spec.to_query(NOW, ZoneInfo("UTC"))


@pytest.fixture
def chat(sample_store):
    return Conversation(sample_store, make_planner("rules"), MAIN_ORG, ZoneInfo("UTC"), NOW)


def test_one_to_two_requests_is_no_spike_but_the_largest_departures_are_listed_largest_first():
    assert spike_buckets(_series([1, 1, 2, 1, 1, 2, 1, 1]), counted=True) == []  # counting noise
    series = _series([50, 52, 120, 49, 51, 300, 50, 48, 90, 51])
    assert [r.value for r in spike_buckets(series, counted=True)] == [300, 120, 90]
    text = summarize(_query("requests", bucket="hour"), series)
    assert "Spikes: Nov 23 05:00 (300), Nov 23 02:00 (120), Nov 23 08:00 (90)." in text


def test_a_rate_changes_in_points(chat):
    compared = chat.ask("error rate by provider today vs yesterday")
    assert " pts)" in compared.message and "%)" not in compared.message
    assert all(row[-1].endswith(" pts") for row in compared.cells[1:] if row[-1] != "–")
    series = summarize(_query("error_rate", bucket="hour"), _series([1.0, 1.5, 1.2, 2.44]))
    assert "Latest 2.44% (+1.44 pts vs the first bucket)." in series


def test_many_series_lead_with_the_outlier(chat):
    answer = chat.ask("p90 latency by model last week by day")
    assert answer.message.split(". ", 1)[1].startswith("gpt-4:"), answer.message  # not alphabetical


def test_a_grouped_series_pivots_to_buckets_by_groups(chat):
    answer = chat.ask("error rate by provider yesterday by hour")
    header, *body = answer.cells
    assert header[0] == "bucket" and set(header[1:]) == {r.group for r in answer.rows}
    assert len(body) == 24 and body[0][0] == "Nov 23 00:00" and body[-1][0] == "Nov 23 23:00"
    cell = {(line[0], name): value for line in body for name, value in zip(header[1:], line[1:], strict=True)}
    for r in answer.rows:  # the data rows stay long; each is one cell of the pivot
        assert cell[(bucket_text(r.bucket, answer.query), r.group)] == fmt(r.value, answer.query)
    assert sum(v != "–" for v in cell.values()) == len(answer.rows)


def test_a_comparison_keeps_a_group_that_fell_to_zero():
    query = _query("requests", groupBy="model")
    current = [Row(None, "gpt-4o", 10.0)]
    previous = [Row(None, "gpt-4o", 8.0), Row(None, "gpt-4", 5.0)]
    message = compare_message(query, current, previous, "the previous period")
    assert "gpt-4: 0 vs 5 (−5, −100.0%)" in message
    assert ["gpt-4", "0", "5", "−5 (−100.0%)"] in compare_cells(query, current, previous)


def test_requests_without_a_user_id_are_accounted_for(chat, sample_rows):
    answer = chat.ask("top 5 users by cost yesterday")
    start, end = datetime(2026, 11, 23), datetime(2026, 11, 24)
    nobody = sum(
        r["cost"]
        for r in sample_rows
        if r["organization_id"] == MAIN_ORG
        and r["user_id"] == ""
        and start <= datetime.fromisoformat(r["request_created_at"]).replace(tzinfo=None) < end
    )
    assert nobody > 0
    shown = f"${nobody:,.2f}" if nobody >= 1 else f"${nobody:,.4f}"
    assert f"requests with no user id: {shown} (" in answer.interpretation


def test_requests_without_a_property_value_are_accounted_for(chat, sample_rows):
    answer = chat.ask("cost by customer_tier yesterday")
    start, end = datetime(2026, 11, 23), datetime(2026, 11, 24)
    by_tier: dict[str, float] = {}
    for r in sample_rows:
        if r["organization_id"] == MAIN_ORG and start <= _created(r) < end:
            tier = r["properties"].get("customer_tier", "")
            by_tier[tier] = by_tier.get(tier, 0.0) + r["cost"]
    nobody = by_tier.pop("")
    assert nobody > 0 and {r.group for r in answer.rows} == set(by_tier)  # the data rows keep only real values
    rank = 1 + sum(v > nobody for v in by_tier.values())
    place = ["1st", "2nd", "3rd", "4th"][rank - 1]
    shown = f"${nobody:,.2f}" if nobody >= 1 else f"${nobody:,.4f}"
    assert f"requests with no customer_tier: {shown} (would rank {place}; not in the table)" in answer.interpretation


def test_a_bucketed_or_unfiltered_by_property_answer_has_no_such_note(chat):
    assert "requests with no" not in chat.ask("cost by customer_tier yesterday by hour").interpretation
    assert "requests with no" not in chat.ask("cost by model yesterday").interpretation


def _created(row: dict) -> datetime:
    return datetime.fromisoformat(row["request_created_at"]).replace(tzinfo=None)


def test_an_all_zero_answer_names_no_highest():
    rows = [Row(None, g, 0.0) for g in ("ANTHROPIC", "GOOGLE", "OPENAI")]
    text = summarize(_query("error_rate", groupBy="provider"), rows)
    assert text == "Error rate is 0.00% for all 3 groups." and "highest" not in text


def _days(start: datetime, values: list[float]) -> list[Row]:
    return [Row(start + timedelta(days=i), None, v) for i, v in enumerate(values)]


def test_a_sum_over_days_the_range_cuts_names_them_apart_instead_of_calling_them_the_low():
    # the last 7 days from noon: the first and the last day hold 12 hours each, so their counts are half a day's
    spec = QuerySpec(measure="requests", range=TimeRange(kind="last", n=7, unit="days"), bucket="day")
    query = spec.to_query(datetime(2026, 11, 24, 12), ZoneInfo("UTC"))
    text = summarize(query, _days(datetime(2026, 11, 17), [500, 1000, 1100, 900, 1050, 980, 1010, 480]))
    assert "ranged 900–1,100 over 6 whole days; peak 1,100 at Nov 19, low 900 at Nov 20." in text, text
    assert "Latest whole one 1,010 (+1% vs the first whole one)." in text, text
    assert "left out of those: Nov 17 (500, 12 of 24 hours), Nov 24 (480, 12 of 24 hours)." in text, text
    # an average is no less over part of a day: every bucket counts, as before
    latency = spec.model_copy(update={"measure": "latency", "aggregation": "p90"})
    text = summarize(latency.to_query(datetime(2026, 11, 24, 12), ZoneInfo("UTC")), _days(T0, [1, 2, 3, 4]))
    assert "over 4 buckets" in text and "left out" not in text, text


def test_a_sum_over_whole_local_days_has_nothing_cut():
    spec = QuerySpec(measure="cost", range=TimeRange(kind="last", n=3, unit="days"), bucket="day")
    query = spec.to_query(datetime(2026, 11, 24, 5), ZoneInfo("America/New_York"))  # New York midnight
    rows = [Row(datetime(2026, 11, d, 5), None, v) for d, v in ((21, 2.0), (22, 3.0), (23, 2.5))]
    text = summarize(query, rows)
    assert "over 3 buckets; peak $3.00 at Nov 22, low $2.00 at Nov 21." in text and "left out" not in text, text


def test_grouped_sums_leave_out_the_buckets_the_range_cuts():
    spec = QuerySpec(measure="requests", range=TimeRange(kind="last", n=3, unit="days"), bucket="day", groupBy="model")
    query = spec.to_query(datetime(2026, 11, 24, 12), ZoneInfo("UTC"))
    rows = [
        Row(datetime(2026, 11, d), g, v * (0.5 if d in (21, 24) else 1.0))
        for d in (21, 22, 23, 24)
        for g, v in (("a", 100), ("b", 40))
    ]
    text = summarize(query, rows)
    assert "a: 100–100 (latest 100)" in text and "b: 40–40 (latest 40)" in text, text
    assert "Whole days only; cut by the range: Nov 21 (12 of 24 hours), Nov 24 (12 of 24 hours)." in text, text


def test_a_rate_per_group_says_how_few_requests_are_behind_the_groups_it_names(chat):
    answer = chat.ask("error rate by user in the last hour")
    top = answer.rows[0]
    counted = chat.ask(f"how many requests from {top.group} in the last hour").rows[0].value
    assert counted < 20  # one user's hour: a handful of requests
    assert f"highest {top.group} ({fmt(top.value, answer.query)}, over only {counted:,.0f} request" in answer.message
    # a sum names no count (its value is the count's own doing), nor does a group over enough requests
    assert "over only" not in chat.ask("cost by user in the last hour").message
    assert "over only" not in chat.ask("p90 latency by provider last week").message


def test_equal_values_over_few_requests_name_their_counts():
    query = _query("error_rate", groupBy="user")
    rows = [Row(None, "a", 100.0), Row(None, "b", 100.0)]
    text = summarize(query, rows, {"a": 1, "b": 2})
    assert text == "Error rate is 100.00% for all 2 groups. Over few requests: a 1, b 2."
    assert summarize(query, [Row(None, "a", 40.0)], {"a": 5}) == "a: error rate 40.00% over only 5 requests."
