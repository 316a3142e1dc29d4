"""The Helicone REST backend against a real HTTP server on 127.0.0.1 that answers like Helicone."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import pytest

from heliqa.tools.errors import BackendError, ConfigError, NotAvailable
from heliqa.tools.filters import leaf
from heliqa.tools.helicone import EU_BASE_URL, UNAVAILABLE, US_BASE_URL, HeliconeBackend, HeliconeClient
from heliqa.tools.query import MetricsQuery, ScoresRequest, TimeFilter
from tests.fake_helicone import FakeHelicone, Reply

KEY = "sk-helicone-abcdefg-hijklmn-opqrstu-vwxyz01"
RANGE = TimeFilter(start="2026-11-01T00:00:00Z", end="2026-11-03T00:00:00Z")
DAYS = ["2026-11-01T00:00:00.000Z", "2026-11-02T00:00:00.000Z", "2026-11-03T00:00:00.000Z"]
GPT4 = leaf("model", "equals", "gpt-4")
GPT4_JSON = {"request_response_rmt": {"model": {"equals": "gpt-4"}}}
ERRORS_JSON = {"request_response_rmt": {"status": {"gte": 400}}}


@pytest.fixture
def fake():
    with FakeHelicone(KEY) as server:
        yield server


def backend(fake: FakeHelicone, key: str = KEY, **options) -> HeliconeBackend:
    settings = {"timeout": 2.0, "retries": 2, "backoff": 0.01} | options
    return HeliconeBackend(HeliconeClient(key, fake.url, **settings))


def query(**fields) -> MetricsQuery:
    return MetricsQuery(timeFilter=RANGE, **fields)


def over_time(values: list[float | int], field: str = "count", **extra) -> list[dict]:
    return [{"time": t, field: v, **extra} for t, v in zip(DAYS, values, strict=True)]


def rows(result):
    return [(r.bucket and r.to_json()["bucket"], r.group, r.value) for r in result]


# --- configuration -------------------------------------------------------------------------------------
def test_from_env_needs_a_key(monkeypatch):
    monkeypatch.delenv("HELICONE_API_KEY", raising=False)
    with pytest.raises(ConfigError) as info:
        HeliconeBackend.from_env()
    assert "HELICONE_API_KEY" in info.value.message and "API Keys" in info.value.hint


def test_from_env_regions_and_repr_hide_the_key(monkeypatch):
    monkeypatch.setenv("HELICONE_API_KEY", KEY)
    monkeypatch.delenv("HELICONE_BASE_URL", raising=False)
    assert HeliconeBackend.from_env().client.base_url == US_BASE_URL
    monkeypatch.setenv("HELICONE_BASE_URL", EU_BASE_URL + "/")
    eu = HeliconeBackend.from_env()
    assert eu.client.base_url == EU_BASE_URL
    assert KEY not in repr(eu) and KEY not in repr(eu.client)
    monkeypatch.setenv("HELICONE_BASE_URL", "api.helicone.ai")
    with pytest.raises(ConfigError, match="not an http"):
        HeliconeBackend.from_env()


# --- HTTP behaviour --------------------------------------------------------------------------------------
def test_sends_bearer_key_and_the_scores_body_unchanged(fake):
    request = ScoresRequest(timeFilter=RANGE, userFilter=GPT4, dbIncrement="day", timeZoneDifference=300)
    data = [{"created_at_trunc": DAYS[0], "score_key": "accuracy", "score_sum": 80.5}]
    fake.reply("/v1/dashboard/scores/query", data)
    assert backend(fake).scores(request, "org") == data
    seen = fake.seen[0]
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.body == request.to_json()


def test_wrong_key_is_a_config_error_without_the_key(fake):
    wrong = "sk-helicone-zzzzzzz-zzzzzzz-zzzzzzz-zzzzzzz"
    with pytest.raises(ConfigError) as info:
        backend(fake, key=wrong).run(query(measure="requests"), "org")
    assert "401" in info.value.message and "Invalid API key" in info.value.message
    assert wrong not in str(info.value)
    assert len(fake.seen) == 1  # no retry on 401


def test_scores_200_with_error_is_surfaced(fake):
    fake.fail("/v1/dashboard/scores/query", 200, "Invalid time filter")
    request = ScoresRequest(timeFilter=RANGE, userFilter="all", dbIncrement="day", timeZoneDifference=0)
    with pytest.raises(BackendError, match="Invalid time filter"):
        backend(fake).scores(request, "org")


def test_metrics_500_with_envelope_is_not_retried(fake):
    fake.fail("/v1/metrics/totalRequests", 500, "Invalid metric")
    with pytest.raises(BackendError, match="Invalid metric"):
        backend(fake).run(query(measure="requests"), "org")
    assert fake.paths() == ["/v1/metrics/totalRequests"]


def test_validation_422_details_are_surfaced(fake):
    details = {"requestBody.dbIncrement": {"message": "should be one of the following; ['min','hour']", "value": "x"}}
    fake.raw("/v1/metrics/totalRequests", Reply(422, {"message": "Validation Failed", "details": details}))
    with pytest.raises(BackendError, match=r"requestBody\.dbIncrement: should be one of"):
        backend(fake).run(query(measure="requests"), "org")


def test_429_honours_retry_after_then_succeeds(fake):
    fake.raw("/v1/metrics/totalRequests", Reply(429, {"error": "rate limited"}, {"Retry-After": "0.3"}))
    fake.reply("/v1/metrics/totalRequests", 42)
    started = time.monotonic()
    assert rows(backend(fake, backoff=0.0).run(query(measure="requests"), "org")) == [(None, None, 42.0)]
    assert time.monotonic() - started >= 0.3  # waited as told, not the (zero) backoff
    assert fake.paths() == ["/v1/metrics/totalRequests"] * 2


def test_429_asking_for_too_long_a_wait_fails_fast(fake):
    fake.raw("/v1/metrics/totalRequests", Reply(429, {"error": "rate limited"}, {"Retry-After": "600"}))
    started = time.monotonic()
    with pytest.raises(BackendError, match="retry after 600 s"):
        backend(fake).run(query(measure="requests"), "org")
    assert time.monotonic() - started < 1.5


def test_5xx_retries_are_bounded(fake):
    for _ in range(3):
        fake.raw("/v1/metrics/totalRequests", Reply(503, None))
    with pytest.raises(BackendError, match="failed after 3 attempts: HTTP 503"):
        backend(fake, retries=2).run(query(measure="requests"), "org")
    assert len(fake.seen) == 3


def test_502_then_success(fake):
    fake.raw("/v1/metrics/totalRequests", Reply(502, None))
    fake.reply("/v1/metrics/totalRequests", 7)
    assert rows(backend(fake).run(query(measure="requests"), "org")) == [(None, None, 7.0)]


def test_slow_answer_times_out(fake):
    fake.raw("/v1/metrics/totalRequests", Reply(200, {"data": 1, "error": None}, delay=1.5))
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"no answer within 0.3 s"):
        backend(fake, timeout=0.3, retries=0).run(query(measure="requests"), "org")
    assert time.monotonic() - started < 1.2


def test_unreachable_server_is_a_backend_error():
    client = HeliconeClient(KEY, "http://127.0.0.1:9", timeout=0.5, retries=1, backoff=0.01)
    with pytest.raises(BackendError, match="cannot reach http://127.0.0.1:9") as info:
        HeliconeBackend(client).run(query(measure="requests"), "org")
    assert KEY not in str(info.value)


def test_key_never_logged(fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.reply("/v1/metrics/totalRequests", 3)
    backend(fake).run(query(measure="requests"), "org")
    fake.raw("/v1/metrics/totalRequests", Reply(500, None))
    with pytest.raises(BackendError):
        backend(fake, retries=0).run(query(measure="requests"), "org")
    assert caplog.records and all(KEY not in r.getMessage() for r in caplog.records)


# --- routing: each query to the endpoints that answer it exactly ------------------------------------
def test_error_rate_total_uses_status_filter(fake):
    fake.reply("/v1/metrics/totalRequests", 200)
    fake.reply("/v1/metrics/totalRequests", 9)
    result = backend(fake).run(query(measure="error_rate", userFilter=GPT4), "org")
    assert rows(result) == [(None, None, 4.5)]
    plain, errors = fake.bodies("/v1/metrics/totalRequests")
    assert plain == {"filter": GPT4_JSON, "timeFilter": {"start": DAYS[0], "end": DAYS[2]}}
    assert errors["filter"] == {"left": GPT4_JSON, "operator": "and", "right": ERRORS_JSON}


def test_empty_range_gives_one_number(fake):
    fake.reply("/v1/metrics/totalRequests", 0, times=2)
    assert rows(backend(fake).run(query(measure="cost"), "org")) == [(None, None, 0.0)]
    assert rows(backend(fake).run(query(measure="latency", aggregation="p90"), "org")) == [(None, None, None)]
    assert fake.paths() == ["/v1/metrics/totalRequests"] * 2


def test_average_latency_excludes_null_latencies(fake):
    # Helicone's averageLatency divides by count(*); narrowed to non-NULL latencies it is the plain mean.
    fake.reply("/v1/metrics/totalRequests", 10)
    fake.reply("/v1/metrics/totalRequests", 8)
    fake.reply("/v1/metrics/averageLatency", 1250.0)
    assert rows(backend(fake).run(query(measure="latency"), "org")) == [(None, None, 1250.0)]
    not_null = {
        "left": {"request_response_rmt": {"latency": {"gte": 0}}},
        "operator": "or",
        "right": {"request_response_rmt": {"latency": {"lt": 0}}},
    }
    assert fake.bodies("/v1/metrics/averageLatency")[0]["filter"] == not_null


def test_users_total_ignores_empty_user_ids(fake):
    fake.reply("/v1/metrics/totalRequests", 10)
    fake.reply("/v1/metrics/activeUsers", 4)
    assert rows(backend(fake).run(query(measure="users"), "org")) == [(None, None, 4.0)]
    body = fake.bodies("/v1/metrics/activeUsers")[0]
    assert body["filter"] == {"request_response_rmt": {"user_id": {"not-equals": ""}}}


def test_ttft_average_adds_back_zeros(fake):
    # averageTimeToFirstToken averages only ttft > 0; zeros count in heliqa's mean.
    fake.reply("/v1/metrics/totalRequests", 100)  # requests
    fake.reply("/v1/metrics/totalRequests", 10)  # with a ttft
    fake.reply("/v1/metrics/totalRequests", 0)  # negative ttft
    fake.reply("/v1/metrics/totalRequests", 8)  # ttft > 0
    fake.reply("/v1/metrics/averageTimeToFirstToken", 500.0)
    assert rows(backend(fake).run(query(measure="ttft"), "org")) == [(None, None, 400.0)]


def test_p90_latency_by_day_uses_quantiles_and_keeps_empty_buckets_out(fake):
    fake.reply("/v1/metrics/requestOverTime", over_time([5, 0, 3]))
    fake.reply("/v1/metrics/requestOverTime", over_time([5, 0, 3]))
    quantiles = [
        {"time": t, "p75": 1.0, "p90": v, "p95": 3.0, "p99": 4.0} for t, v in zip(DAYS, [900, 0, 700], strict=True)
    ]
    fake.reply("/v1/metrics/quantiles", quantiles)
    result = backend(fake).run(
        query(measure="latency", aggregation="p90", dbIncrement="day", timeZoneDifference=0), "org"
    )
    assert rows(result) == [("2026-11-01T00:00:00Z", None, 900.0), ("2026-11-03T00:00:00Z", None, 700.0)]
    body = fake.bodies("/v1/metrics/quantiles")[0]
    assert body["metric"] == "latency" and body["dbIncrement"] == "day" and body["timeZoneDifference"] == 0


def test_sampled_quantile_buckets_are_refused(fake):
    fake.reply("/v1/metrics/requestOverTime", over_time([9000, 10, 10]), times=2)
    with pytest.raises(NotAvailable) as info:
        backend(fake).run(query(measure="latency", aggregation="p99", dbIncrement="day"), "org")
    assert UNAVAILABLE in info.value.message and "8192" in info.value.hint
    assert "/v1/metrics/quantiles" not in fake.paths()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"measure": "latency", "aggregation": "p50"}, "p75, p90, p95 and p99"),
        ({"measure": "ttft", "aggregation": "p90", "dbIncrement": "day"}, "time to first token"),
        ({"measure": "latency", "aggregation": "max", "dbIncrement": "day"}, "maximums"),
        ({"measure": "cost", "groupBy": "user"}, "group only by"),
        ({"measure": "latency", "groupBy": "property:feature"}, "group only by"),
        ({"measure": "score", "aggregation": "p90", "dbIncrement": "day"}, "average per score key"),
        ({"measure": "latency", "groupBy": "model"}, "request counts, cost and token sums"),
    ],
)
def test_what_helicone_cannot_answer_says_so(fake, fields, reason):
    fake.reply("/v1/metrics/totalRequests", 10)
    fake.reply(
        "/v1/metrics/models",
        [
            {
                "model": "gpt-4",
                "total_requests": 10,
                "total_completion_tokens": 1,
                "total_prompt_token": 1,
                "total_tokens": 2,
                "cost": 0.1,
            }
        ],
    )
    with pytest.raises(NotAvailable) as info:
        backend(fake).run(query(**fields), "org")
    assert info.value.message.endswith(UNAVAILABLE)
    assert reason in info.value.hint


def model_rows(*names: str) -> list[dict]:
    """`/v1/metrics/models` rows with one request each."""
    empty = {"total_requests": 1, "total_completion_tokens": 0, "total_prompt_token": 0, "total_tokens": 0, "cost": 0}
    return [{"model": name, **empty} for name in names]


def test_latency_over_time_refuses_batch_models(fake):
    fake.reply("/v1/metrics/models", model_rows("gpt-4", "GPT-4o-Batch"))
    with pytest.raises(NotAvailable, match="average latency per time bucket") as info:
        backend(fake).run(query(measure="latency", dbIncrement="day"), "org")
    assert "GPT-4o-Batch" in info.value.hint


def test_latency_over_time_without_batch_models(fake):
    fake.reply("/v1/metrics/models", [])
    fake.reply("/v1/metrics/requestOverTime", over_time([4, 2, 0]))  # requests
    fake.reply("/v1/metrics/requestOverTime", over_time([4, 0, 0]))  # with a latency
    fake.reply("/v1/metrics/latencyOverTime", over_time([120.5, 0, 0], field="duration"))
    result = backend(fake).run(query(measure="latency", dbIncrement="day"), "org")
    # day 2 has requests but no latency: a row without a value; day 3 is empty: no row.
    assert rows(result) == [("2026-11-01T00:00:00Z", None, 120.5), ("2026-11-02T00:00:00Z", None, None)]


def test_errors_by_hour_fill_every_bucket(fake):
    fake.reply("/v1/metrics/requestOverTime", over_time([2, 0, 1]))
    result = backend(fake).run(query(measure="errors", dbIncrement="day"), "org")
    assert [r.value for r in result] == [2.0, 0.0, 1.0]
    assert fake.bodies("/v1/metrics/requestOverTime")[0]["filter"] == ERRORS_JSON


def test_error_rate_by_model_over_time_maps_unknown_back(fake):
    fake.reply("/v1/metrics/models", model_rows("gpt-4", ""))
    fake.reply(
        "/v1/metrics/modelUsageOverTime",
        [
            {"time": DAYS[0], "model": "gpt-4", "request_count": 4, "total_tokens": 0},
            {"time": DAYS[0], "model": "unknown", "request_count": 2, "total_tokens": 0},
        ],
    )
    fake.reply(
        "/v1/metrics/modelUsageOverTime", [{"time": DAYS[0], "model": "gpt-4", "request_count": 1, "total_tokens": 0}]
    )
    result = backend(fake).run(query(measure="error_rate", groupBy="model", dbIncrement="day"), "org")
    assert rows(result) == [("2026-11-01T00:00:00Z", "", 0.0), ("2026-11-01T00:00:00Z", "gpt-4", 25.0)]


def test_requests_by_status_totals_sum_the_buckets(fake):
    fake.reply(
        "/v1/metrics/requestStatusOverTime",
        [
            {"time": "2026-01-01T00:00:00.000Z", "count": 5, "status": 200},
            {"time": "2026-01-01T00:00:00.000Z", "count": 1, "status": 500},
            {"time": "2027-01-01T00:00:00.000Z", "count": 0, "status": 0},
        ],
    )
    fake.reply(
        "/v1/metrics/requestStatusOverTime",
        [
            {"time": "2026-01-01T00:00:00.000Z", "count": 1, "status": 500},
            {"time": "2027-01-01T00:00:00.000Z", "count": 2, "status": 500},
        ],
    )
    assert rows(backend(fake).run(query(measure="requests", groupBy="status"), "org")) == [
        (None, "200", 5.0),
        (None, "500", 1.0),
    ]
    assert rows(backend(fake).run(query(measure="errors", groupBy="status"), "org")) == [(None, "500", 3.0)]
    plain, errors = fake.bodies("/v1/metrics/requestStatusOverTime")
    assert plain["dbIncrement"] == "year" and plain["filter"] == "all" and errors["filter"] == ERRORS_JSON


def test_top_models_by_cost(fake):
    models = [
        {
            "model": m,
            "total_requests": n,
            "total_completion_tokens": 0,
            "total_prompt_token": 0,
            "total_tokens": 0,
            "cost": c,
        }
        for m, n, c in (("a", 10, 1.0), ("b", 5, 3.0), ("c", 1, 2.0))
    ]
    fake.reply("/v1/metrics/models", models)
    result = backend(fake).run(query(measure="cost", groupBy="model", top=2), "org")
    assert rows(result) == [(None, "b", 3.0), (None, "c", 2.0)]


def test_score_average_for_one_key_over_the_whole_range(fake):
    fake.reply(
        "/v1/dashboard/scores/query",
        [
            {"created_at_trunc": "2026-01-01T00:00:00.000Z", "score_key": "accuracy", "score_sum": 81.0},
            {"created_at_trunc": "2026-01-01T00:00:00.000Z", "score_key": "helpfulness", "score_sum": 3.5},
        ],
    )
    result = backend(fake).run(query(measure="score", scoreKey="accuracy"), "org")
    assert rows(result) == [(None, None, 81.0)]
    assert fake.bodies("/v1/dashboard/scores/query")[0]["dbIncrement"] == "year"


def test_scores_by_day_drop_fill_rows(fake):
    fake.reply(
        "/v1/dashboard/scores/query",
        [
            {"created_at_trunc": DAYS[0], "score_key": "b", "score_sum": 1.0},
            {"created_at_trunc": DAYS[0], "score_key": "a", "score_sum": 2.0},
            {"created_at_trunc": DAYS[1], "score_key": "", "score_sum": 0},
        ],
    )
    result = backend(fake).run(query(measure="score", dbIncrement="day"), "org")
    assert [(r.bucket, r.group) for r in result] == [(datetime(2026, 11, 1), "a"), (datetime(2026, 11, 1), "b")]


def test_vocabulary_read_through_the_api_and_cached(fake):
    fake.reply(
        "/v1/metrics/models",
        [
            {
                "model": "gpt-4",
                "total_requests": 12,
                "total_completion_tokens": 0,
                "total_prompt_token": 0,
                "total_tokens": 0,
                "cost": 0,
            }
        ],
    )
    fake.reply("/v1/property/query", [{"property": "feature"}, {"property": "team name"}])
    fake.reply("/v1/property/feature/search", ["search", "codegen"])
    fake.reply("/v1/property/team%20name/search", ["core"])
    fake.reply("/v1/evals/scores", ["accuracy", "is_correct-hcone-bool"])
    fake.reply("/v1/metrics/activeUsers", 31)
    hb = backend(fake)
    vocab = hb.vocabulary("org")
    assert vocab.models == {"gpt-4": 12}
    assert vocab.properties == {"feature": {"search": 0, "codegen": 0}, "team name": {"core": 0}}
    assert set(vocab.score_keys) == {"accuracy", "is_correct-hcone-bool"} and vocab.users == 31
    calls = len(fake.seen)
    assert hb.vocabulary("org") is vocab and len(fake.seen) == calls
