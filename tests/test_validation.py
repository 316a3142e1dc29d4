"""Top-level request validation: the scores body and the extended query, with messages a person can act on."""

from __future__ import annotations

import pytest

from heliqa.tools.errors import HeliqaError, InvalidRequest
from heliqa.tools.query import MetricsQuery, ScoresRequest
from heliqa.tools.validation import validate

WEEK = {"start": "2026-11-01T00:00:00.000Z", "end": "2026-11-08T00:00:00.000Z"}


def body(**overrides) -> dict:
    data = {"timeFilter": dict(WEEK), "userFilter": "all", "dbIncrement": "day", "timeZoneDifference": 0}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def problems(model, data) -> list[str]:
    with pytest.raises(InvalidRequest) as info:
        validate(model, data)
    assert isinstance(info.value, HeliqaError) and info.value.exit_code == 2
    assert str(info.value) == "; ".join(info.value.problems)
    return info.value.problems


def test_helicones_documented_example_is_valid():
    example = {
        "userFilter": "all",
        "timeFilter": {"start": "2024-01-01", "end": "2024-01-31"},
        "dbIncrement": "day",
        "timeZoneDifference": 0,
    }
    request = validate(ScoresRequest, example)
    assert request.to_json() == example


@pytest.mark.parametrize("key", ["timeFilter", "userFilter", "dbIncrement", "timeZoneDifference"])
def test_every_top_level_key_is_required(key):
    assert problems(ScoresRequest, body(**{key: ...})) == [f"{key}: '{key}' is required"]


@pytest.mark.parametrize("key", ["start", "end"])
def test_time_filter_needs_start_and_end(key):
    time_filter = dict(WEEK)
    del time_filter[key]
    assert problems(ScoresRequest, body(timeFilter=time_filter)) == [f"timeFilter.{key}: '{key}' is required"]


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-01",
        "2026-11-01T00:00:00Z",
        "2026-11-01 00:00",
        "2026-11-01T05:30:00+05:30",
    ],
)
def test_time_filter_accepts_iso_instants(value):
    request = validate(ScoresRequest, body(timeFilter={"start": value, "end": "2026-11-02T00:00:00Z"}))
    assert request.timeFilter.start == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-02-30", "invalid ISO 8601 datetime format"),
        ("last week", "invalid ISO 8601 datetime format"),
        ("", "invalid ISO 8601 datetime format"),
        (1763000000, "invalid string value"),
        (None, "invalid string value"),
    ],
)
def test_time_filter_rejects_non_instants(value, message):
    found = problems(ScoresRequest, body(timeFilter={"start": value, "end": "2026-11-02T00:00:00Z"}))
    assert len(found) == 1 and found[0].startswith("timeFilter.start: ") and message in found[0]


def test_start_after_end_is_rejected_and_equal_is_fine():
    found = problems(ScoresRequest, body(timeFilter={"start": "2026-11-08", "end": "2026-11-01"}))
    assert found == ["timeFilter: start 2026-11-08 is after end 2026-11-01 (Helicone: Invalid time filter)"]
    # Offsets count: 01:00+02:00 is 23:00Z the day before, so this range is ordered.
    validate(ScoresRequest, body(timeFilter={"start": "2026-11-02T01:00:00+02:00", "end": "2026-11-01T23:30:00Z"}))
    validate(ScoresRequest, body(timeFilter={"start": "2026-11-01T10:00:00Z", "end": "2026-11-01T10:00:00Z"}))


@pytest.mark.parametrize("increment", ["min", "hour", "day", "week", "month", "year"])
def test_every_increment_is_accepted(increment):
    assert validate(ScoresRequest, body(dbIncrement=increment)).dbIncrement == increment


@pytest.mark.parametrize("increment", ["Day", "DAY", "minute", "days", "quarter", "", None, 1])
def test_increment_is_a_case_sensitive_enum(increment):
    found = problems(ScoresRequest, body(dbIncrement=increment))
    assert len(found) == 1
    assert found[0].startswith("dbIncrement: should be 'min', 'hour', 'day', 'week', 'month' or 'year'")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0, 0),
        (300, 300),
        (-60, -60),
        (-330, -330),
        (1440, 1440),
        (-1440, -1440),
        (330.5, 330.5),
        ("300", 300),
        ("-330", -330),
        ("1e3", 1000),
    ],
)
def test_time_zone_difference_in_range(raw, expected):
    assert validate(ScoresRequest, body(timeZoneDifference=raw)).timeZoneDifference == expected


@pytest.mark.parametrize("raw", [1441, -1441, 1440.5, "2000", 10**9])
def test_time_zone_difference_out_of_range(raw):
    assert problems(ScoresRequest, body(timeZoneDifference=raw)) == [
        "timeZoneDifference: timeZoneDifference is minutes UTC minus local time, between -1440 and 1440"
    ]


@pytest.mark.parametrize("raw", [True, None, "", "EST", "NaN", [300]])
def test_time_zone_difference_must_be_a_number(raw):
    assert problems(ScoresRequest, body(timeZoneDifference=raw)) == ["timeZoneDifference: invalid float number"]


def test_several_problems_are_reported_together():
    found = problems(ScoresRequest, body(dbIncrement="days", timeZoneDifference=5000, extra=True))
    assert len(found) == 3
    assert any(p.startswith("dbIncrement:") for p in found)
    assert any(p.startswith("timeZoneDifference:") for p in found)
    assert "request: 'extra' is an excess property and is not allowed" in found


def test_a_body_that_is_not_an_object_is_rejected():
    assert problems(ScoresRequest, [1, 2]) and problems(ScoresRequest, "all") and problems(ScoresRequest, None)


# --- the extended query ----------------------------------------------------------------------------------------------


def query(**fields) -> dict:
    return {"measure": "latency", "timeFilter": dict(WEEK), **fields}


@pytest.mark.parametrize(
    ("given", "effective"),
    [
        (None, "avg"),
        ("avg", "avg"),
        ("median", "p50"),
        ("P90", "p90"),
        (" p99 ", "p99"),
        ("p99.9", "p99.9"),
        ("p100", "p100"),
        ("mean", "avg"),
        ("total", "sum"),
        ("max", "max"),
        ("count", "count"),
    ],
)
def test_aggregations(given, effective):
    assert validate(MetricsQuery, query(aggregation=given)).agg == effective


@pytest.mark.parametrize("given", ["p101", "p900", "avgg", "p", "percentile", "p-5"])
def test_bad_aggregation_message(given):
    assert problems(MetricsQuery, query(aggregation=given)) == [
        f"aggregation: '{given}' is not an aggregation; use avg, sum, min, max, count or a percentile like p90"
    ]


@pytest.mark.parametrize(
    ("measure", "default"),
    [
        ("latency", "avg"),
        ("ttft", "avg"),
        ("cost", "sum"),
        ("total_tokens", "sum"),
        ("prompt_tokens", "sum"),
        ("requests", None),
        ("errors", None),
        ("error_rate", None),
        ("users", None),
        ("threats", None),
        ("score", "avg"),
    ],
)
def test_every_measure_has_its_default_aggregation(measure, default):
    assert validate(MetricsQuery, query(measure=measure)).agg == default


def test_unknown_measure_lists_the_choices():
    found = problems(MetricsQuery, query(measure="throughput"))
    assert len(found) == 1 and found[0].startswith("measure: should be 'latency'") and "'score'" in found[0]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"measure": "requests", "aggregation": "p90"}, "requests is a count"),
        ({"measure": "latency", "scoreKey": "accuracy"}, "scoreKey only applies to measure=score"),
        ({"measure": "latency", "groupBy": "score_key"}, "groupBy score_key only applies to measure=score"),
        ({"top": 5}, "top needs a groupBy"),
        ({"groupBy": "region"}, "'region' is not a grouping"),
        ({"groupBy": "property:"}, "is not a grouping"),
        ({"top": 0, "groupBy": "model"}, "top"),
        ({"limit": 5}, "'limit' is an excess property"),
    ],
)
def test_inconsistent_queries_are_rejected(fields, fragment):
    found = problems(MetricsQuery, query(**fields))
    assert len(found) == 1 and fragment in found[0], found


def test_extended_query_validates_its_filter_like_the_scores_body():
    found = problems(MetricsQuery, query(userFilter={"request_response_rmt": {"latency": {"between": [1, 2]}}}))
    assert found == [
        "userFilter.request_response_rmt.latency: 'between' is not an operator; use gte/lte joined with an 'and' branch"
    ]


def test_group_in_force():
    assert validate(MetricsQuery, query(measure="score")).group == "score_key"
    assert validate(MetricsQuery, query(measure="score", scoreKey="accuracy")).group is None
    assert validate(MetricsQuery, query(groupBy="property:feature")).group == "property:feature"


def test_scores_request_is_offered_only_for_what_the_endpoint_computes():
    base = query(
        measure="score",
        dbIncrement="week",
        timeZoneDifference=300,
        userFilter={"request_response_rmt": {"model": {"equals": "gpt-4"}}},
    )
    request = validate(MetricsQuery, base).scores_request()
    assert request is not None and request.to_json() == {
        "timeFilter": WEEK,
        "userFilter": base["userFilter"],
        "dbIncrement": "week",
        "timeZoneDifference": 300,
    }
    for change in (
        {"scoreKey": "accuracy"},
        {"dbIncrement": None},
        {"aggregation": "p90"},
        {"groupBy": "model"},
        {"measure": "latency"},
    ):
        assert validate(MetricsQuery, {**base, **change}).scores_request() is None, change


def test_query_json_uses_helicone_spellings():
    q = validate(MetricsQuery, query(userFilter={"request_response_rmt": {"model": {"not-equals": "gpt-4"}}}))
    assert q.to_json()["userFilter"] == {"request_response_rmt": {"model": {"not-equals": "gpt-4"}}}
    assert validate(MetricsQuery, q.to_json()) == q
