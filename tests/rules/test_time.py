"""Time family (agent/rules/time.py, dates.py): relative ranges, dates, clock times, weekdays, zones."""

from __future__ import annotations

from datetime import date

import pytest

from tests.rules.common import check_wording, plan, spec_of

CASES = [
    # (question, expected subset of the spec)
    ("latency in Berlin time today by hour", {"measure": "latency", "bucket": "hour", "timeZone": "Europe/Berlin"}),
    ("requests on monday", {"measure": "requests", "range": {"kind": "day", "day": "2026-11-23"}}),
    ("requests last tuesday", {"measure": "requests", "range": {"kind": "day", "day": "2026-11-17"}}),
    (
        "avg latency between Nov 18 and Nov 20 by day",
        {
            "measure": "latency",
            "aggregation": "avg",
            "bucket": "day",
            "range": {"kind": "between", "start": "2026-11-18T00:00:00", "end": "2026-11-21T00:00:00"},
        },
    ),
    (
        "requests from 9am to 5pm on 2026-11-18 hourly",
        {
            "measure": "requests",
            "bucket": "hour",
            "range": {"kind": "between", "start": "2026-11-18T09:00:00", "end": "2026-11-18T17:00:00"},
        },
    ),
    (
        "latency between 14:00 and 16:00 yesterday by hour",
        {
            "measure": "latency",
            "bucket": "hour",
            "range": {"kind": "between", "start": "2026-11-23T14:00:00", "end": "2026-11-23T16:00:00"},
        },
    ),
    ("requests on the 19th", {"measure": "requests", "range": {"kind": "day", "day": "2026-11-19"}}),
    ("cost since Monday", {"measure": "cost", "range": {"kind": "since", "start": "2026-11-23T00:00:00"}}),
    (
        "requests in November by week",
        {
            "measure": "requests",
            "bucket": "week",
            "range": {"kind": "between", "start": "2026-11-01T00:00:00", "end": "2026-12-01T00:00:00"},
        },
    ),
]


@pytest.mark.parametrize("question,expected", CASES, ids=[c[0][:50] for c in CASES])
def test_time_wordings(question, expected):
    check_wording(question, expected)


@pytest.mark.parametrize(
    "question,needle",
    [
        ("requests last week yesterday", "two time ranges"),
    ],
)
def test_clarifies_with_specifics(question, needle):
    result = plan(question)
    assert result.status == "clarify"
    assert needle in result.message


def test_dates_without_year_are_the_most_recent_past_one():
    assert spec_of("requests on Dec 25")["range"]["day"] == date(2025, 12, 25).isoformat()
    assert spec_of("requests on Nov 19")["range"]["day"] == "2026-11-19"
