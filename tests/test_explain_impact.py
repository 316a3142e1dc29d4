"""Explanations state each figure's unit and bucket, the window's length, and its impact against the baseline;
the impact is checked here against sums over the generator's rows (independent of the store's SQL)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.investigate import dollars
from tests.conftest import MAIN_ORG, NOW


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _rows(sample_rows, start: datetime, end: datetime, **where) -> list[dict]:
    return [
        r
        for r in sample_rows
        if r["organization_id"] == MAIN_ORG
        and start <= _at(r["request_created_at"]) < end
        and all(r[k] == v for k, v in where.items())
    ]


@pytest.fixture
def chat(sample_store):
    return Conversation(sample_store, make_planner("rules"), MAIN_ORG, ZoneInfo("UTC"), NOW)


def test_a_cost_explanation_says_per_hour_how_long_and_how_much_more(chat, sample_rows):
    answer = chat.ask("why did we spend so much on nov 22?")
    out = answer.to_json()
    w0, w1 = _at(out["window"]["start"]), _at(out["window"]["end"])
    b0, b1 = _at(out["baseline"]["start"]), _at(out["baseline"]["end"])
    scale = (w1 - w0) / (b1 - b0)
    spent = sum(r["cost"] for r in _rows(sample_rows, w0, w1))
    usual = sum(r["cost"] for r in _rows(sample_rows, b0, b1)) * scale
    impact = out["impact"]
    assert impact["unit"] == "USD"
    assert impact["window_total"] == pytest.approx(spent, abs=1e-5)
    assert impact["expected"] == pytest.approx(usual, abs=1e-5)
    assert impact["excess"] == pytest.approx(spent - usual, abs=1e-5)
    top = out["data"][0]
    assert top["dimension"] in ("model", "user")
    column = {"model": "model", "user": "user_id"}[top["dimension"]]
    own = sum(r["cost"] for r in _rows(sample_rows, w0, w1, **{column: top["value"]}))
    own_usual = sum(r["cost"] for r in _rows(sample_rows, b0, b1, **{column: top["value"]})) * scale
    assert impact["driver_excess"] == pytest.approx(own - own_usual, abs=1e-5)
    hours = round((w1 - w0).total_seconds() / 3600)
    assert out["duration"] == {"seconds": hours * 3600, "text": f"{hours} hours"}
    message = answer.message
    assert re.search(r"rose to \$\d+\.\d\d an hour vs a typical \$\d+\.\d\d an hour", message), message
    assert f"for {hours} hours" in message
    assert f"{dollars(spent)} spent in those {hours} hours" in message
    assert f"{dollars(spent - usual)} more than the baseline's average" in message
    assert "0.3014" not in message and "typical $0.1" in message  # cents, not four decimals, once a dime


def test_a_latency_explanation_counts_the_slow_requests_and_reports_thin_buckets(chat, sample_rows):
    answer = chat.ask("why was gpt-4 slow on nov 19?")
    out = answer.to_json()
    e = answer.detail
    w0, w1 = _at(out["window"]["start"]), _at(out["window"]["end"])
    slow = [r for r in _rows(sample_rows, w0, w1, model="gpt-4") if r["latency"] > int(e.threshold)]
    assert out["impact"]["bad_requests"] == len(slow) > 0
    assert f"{len(slow)} requests slower than {int(e.threshold):,} ms (the baseline's p90)" in answer.message
    assert "p90" in answer.message and " ms vs a typical " in answer.message
    # gpt-4 sends a couple of requests an hour here: judged in blocks of hours, each thin one named
    assert out["bucket"].endswith("hours") and "block's p90" in answer.message
    assert out["thin_buckets"] and all(b["requests"] < 5 for b in out["thin_buckets"])
    assert "fewer than 5 requests" in answer.message
    listed = chat.ask("show me those requests")
    assert f"latency > {int(e.threshold):,} ms" in listed.interpretation


def test_a_cost_threshold_carries_its_unit(chat):
    chat.ask("why did we spend so much on nov 22?")
    listed = chat.ask("show me those requests")
    assert re.search(r"cost > \$0\.\d+ ", listed.interpretation), listed.interpretation


@pytest.mark.parametrize("question", ["what happened on nov 19", "why was gpt-4 slow on nov 19?"])
def test_the_slow_requests_bound_is_the_one_their_list_filters_on(chat, question):
    """'N requests slower than X ms' and the list of those requests ('latency > X ms') name one bound: the
    baseline's p90 rounded down, as the filter compares whole milliseconds; never the p90 rounded to nearest."""
    from dataclasses import replace

    from heliqa.agent.investigate import threshold_text

    answer = chat.ask(question)
    e = answer.detail
    said = re.search(r"requests slower than ([\d,]+) ms \(the baseline's p90\)", answer.message)
    listed = chat.ask("show me those requests")
    filtered = re.search(r"latency > ([\d,]+) ms", listed.interpretation)
    assert said and filtered, (answer.message, listed.interpretation)
    assert said[1] == filtered[1] == f"{int(e.threshold):,}"
    for fraction in (0.0, 0.3, 0.5, 0.7, 0.999):
        text = threshold_text(replace(e, threshold=int(e.threshold) + fraction))
        assert text == f"slower than {int(e.threshold):,} ms (the baseline's p90)"


def test_a_cost_bound_reads_exactly_as_the_filter_compares_it():
    from heliqa.agent.spec import Condition

    said = [Condition(field="cost", op="gt", value=v).describe() for v in (0.05, 1, 0.011712345, 1234.5)]
    assert said == ["cost > $0.05", "cost > $1.00", "cost > $0.011712345", "cost > $1,234.50"]
    assert Condition(field="latency", op="gt", value=6887).describe() == "latency > 6,887 ms"


def test_an_error_explanation_counts_failed_requests_and_speaks_in_points(chat, sample_rows):
    answer = chat.ask("why are we getting so many 429s on nov 21?")
    out = answer.to_json()
    w0, w1 = _at(out["window"]["start"]), _at(out["window"]["end"])
    b0, b1 = _at(out["baseline"]["start"]), _at(out["baseline"]["end"])
    failed = len(_rows(sample_rows, w0, w1, status=429))
    before = len(_rows(sample_rows, b0, b1, status=429)) * ((w1 - w0) / (b1 - b0))
    assert out["impact"]["bad_requests"] == failed
    assert out["impact"]["excess"] == pytest.approx(failed - before, abs=1e-6)
    assert f"{failed} requests with status 429, {failed - before:,.0f} more" in answer.message
    assert re.search(r"\(each hour's rate; \+\d+\.\d pts\)", answer.message)


def test_an_edit_of_the_listed_requests_keeps_the_explanation_s_window(sample_store, sample_rows):
    """'why?', 'show me those requests', then 'by hour' counts those requests hour by hour over the window (not the
    last 24 hours), in a zone whose wall clock is not UTC's; another edit keeps the window too."""
    chat = Conversation(sample_store, make_planner("rules"), MAIN_ORG, ZoneInfo("America/New_York"), NOW)
    explained = chat.ask("why was gpt-4 slow on nov 19?").to_json()
    w0, w1 = _at(explained["window"]["start"]), _at(explained["window"]["end"])
    assert chat.ask("show me those requests").status == "ok"
    threshold = int(chat.last.conditions[-1].value)
    hourly = chat.ask("by hour").to_json()
    assert hourly["status"] == "ok", hourly["message"]
    assert (_at(hourly["request"]["timeFilter"]["start"]), _at(hourly["request"]["timeFilter"]["end"])) == (w0, w1)
    slow = [r for r in _rows(sample_rows, w0, w1, model="gpt-4") if r["latency"] > threshold]
    expected: dict[datetime, int] = {}
    for r in slow:
        hour = _at(r["request_created_at"]).replace(minute=0, second=0, microsecond=0)
        expected[hour] = expected.get(hour, 0) + 1
    got = {_at(d["bucket"]): d["value"] for d in hourly["data"] if d["value"]}
    assert got == expected and sum(got.values()) == len(slow) > 0
    other = chat.ask("what about gpt-4o?").to_json()
    assert (_at(other["request"]["timeFilter"]["start"]), _at(other["request"]["timeFilter"]["end"])) == (w0, w1)
