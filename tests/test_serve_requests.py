"""`heliqa serve`'s request endpoints, OpenAPI response models and error envelope, on a seeded demo store.

Expected values are computed here, in Python, from the generated rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from heliqa.serve import create_app
from heliqa.tools.demo import generate
from heliqa.tools.store import Store

ORG = "6f0e1d2c-3b4a-4596-8877-665544332211"
OTHER = "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d"
KEY = "serve-requests-key-0123456789"
AUTH = {"authorization": f"Bearer {KEY}"}
END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _ms(text: str) -> str:
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    out = list(generate(1200, 21, END, ORG, days=5))
    for r in out:
        r["request_created_at"] = _ms(r["request_created_at"])
        r["response_created_at"] = _ms(r["response_created_at"])
    return out


@pytest.fixture(scope="module")
def client(tmp_path_factory, rows):
    store = Store(tmp_path_factory.mktemp("serve-requests") / "heliqa.duckdb")
    store.add_rows(rows)
    store.add_rows(list(generate(100, 4, END, OTHER, days=5)))
    yield TestClient(create_app(store, {KEY: ORG}))
    store.close()


def post(client, path, body):
    return client.post(path, json=body, headers=AUTH)


def test_query_clickhouse_sorts_by_helicone_priority_and_pages(client, rows):
    gpt4 = {"request_response_rmt": {"model": {"equals": "gpt-4"}}}
    # JSON order says user_id first; Helicone's priority picks latency.
    answer = post(
        client,
        "/v1/request/query-clickhouse",
        {"filter": gpt4, "limit": 5, "sort": {"user_id": "asc", "latency": "desc"}},
    )
    assert answer.status_code == 200 and answer.json()["error"] is None
    got = [(r["request_id"], r["delay_ms"], r["request_model"]) for r in answer.json()["data"]]
    slowest = sorted((r for r in rows if r["model"] == "gpt-4"), key=lambda r: (-r["latency"], r["request_id"]))[:5]
    assert [g[1] for g in got] == [r["latency"] for r in slowest] and {g[2] for g in got} == {"gpt-4"}

    # offset paging over created_at asc returns every row of the organization exactly once
    seen = []
    for offset in range(0, 1400, 500):
        page = post(
            client,
            "/v1/request/query-clickhouse",
            {"filter": "all", "limit": 500, "offset": offset, "sort": {"created_at": "asc"}},
        )
        seen += [r["request_id"] for r in page.json()["data"]]
    assert seen == [r["request_id"] for r in sorted(rows, key=lambda r: (r["request_created_at"], r["request_id"]))]
    row = next(r for r in rows if r["request_id"] == seen[0])
    first = post(
        client, "/v1/request/query-clickhouse", {"filter": "all", "limit": 1, "sort": {"created_at": "asc"}}
    ).json()["data"][0]
    assert first["request_created_at"] == row["request_created_at"] and first["cost"] == pytest.approx(row["cost"])
    assert first["request_properties"] == row["properties"] and first["scores"] == row["scores"]
    assert first["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"]


def test_query_clickhouse_limits(client):
    too_many = post(client, "/v1/request/query-clickhouse", {"filter": "all", "limit": 1001})
    assert too_many.status_code == 422 and too_many.json()["message"] == "Validation Failed"
    assert post(client, "/v1/request/query-clickhouse", {"filter": "all", "limit": 0}).json() == {
        "data": [],
        "error": None,
    }
    bad_key = post(client, "/v1/request/query-clickhouse", {"filter": "all", "sort": {"properties": {"a b": "asc"}}})
    assert bad_key.status_code == 400 and "sortable property key" in bad_key.json()["error"]


@pytest.mark.parametrize("offset", [2**63, 2**64, 10**30])
@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/request/query-clickhouse", {"filter": "all"}),
        ("/v1/request/count/query", {"filter": "all"}),
        ("/v1/user/metrics/query", {"filter": "all", "limit": 3}),
    ],
)
def test_integers_beyond_64_bits_are_a_422_naming_the_field(client, path, body, offset):
    answer = post(client, path, {**body, "offset": offset})
    assert answer.status_code == 422, answer.text
    assert answer.json() == {
        "message": "Validation Failed",
        "details": {"requestBody.offset": {"message": "must be at most 9223372036854775807 (a 64-bit integer)"}},
    }


@pytest.mark.parametrize(
    "path,body",
    [
        ("/v1/request/query-clickhouse", {"filter": "all"}),
        ("/v1/user/metrics/query", {"filter": "all", "limit": 3}),
    ],
)
def test_the_largest_64_bit_offset_is_answered_with_an_empty_page(client, path, body):
    answer = post(client, path, {**body, "offset": 2**63 - 1})
    assert answer.status_code == 200 and answer.json()["error"] is None
    data = answer.json()["data"]
    assert (data["users"] if isinstance(data, dict) else data) == []


def test_counts(client, rows):
    errors = {"request_response_rmt": {"status": {"gte": 400}}}
    want = sum(r["status"] >= 400 for r in rows)
    assert post(client, "/v1/request/count/query", {"filter": errors}).json() == {"data": want, "error": None}
    assert post(client, "/v1/metrics/requestCount", {"filter": "all"}).json() == {"data": len(rows), "error": None}
    assert post(client, "/v1/metrics/requestCount", {"filter": "all", "isCached": True}).json()["data"] == 0


def test_request_by_id(client, rows):
    row = rows[7]
    found = client.get(f"/v1/request/{row['request_id']}", headers=AUTH).json()["data"]
    assert found["request_id"] == row["request_id"] and found["delay_ms"] == row["latency"]
    assert "helicone_message" in found["request_body"]
    with_body = client.get(f"/v1/request/{row['request_id']}?includeBody=true", headers=AUTH).json()["data"]
    assert with_body["request_body"]["model"] == row["model"]
    missing = client.get("/v1/request/not-a-request", headers=AUTH)
    assert missing.status_code == 404 and missing.json() == {"data": None, "error": "Request not found"}


def test_user_metrics(client, rows):
    per_user: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        per_user[r["user_id"]].append(r)
    body = {"filter": "all", "offset": 0, "limit": 3, "sort": {"total_requests": "desc"}}
    answer = post(client, "/v1/user/metrics/query", body).json()["data"]
    assert answer["count"] == len(per_user) and answer["hasUsers"] is True
    ranked = sorted(per_user.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:3]
    for got, (user, mine) in zip(answer["users"], ranked, strict=True):
        assert got["user_id"] == user and got["total_requests"] == len(mine)
        assert got["total_prompt_tokens"] == sum(r["prompt_tokens"] for r in mine)
        assert got["active_for"] == len({r["request_created_at"][:10] for r in mine})
        assert got["cost"] == pytest.approx(sum(r["cost"] for r in mine))
        assert got["last_active"] == max(r["request_created_at"] for r in mine)


def test_gateway_fields_are_accepted_and_answered_honestly(client):
    gateway = {"request_response_rmt": {"gateway_router_id": {"equals": "router-1"}}}
    answer = post(
        client,
        "/v1/metrics/totalRequests",
        {"filter": gateway, "timeFilter": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-30T00:00:00Z"}},
    )
    assert answer.status_code == 400 and "gateway_router_id is not kept" in answer.json()["error"]


@pytest.mark.parametrize("raw", [b'{"filter": "\xff"}', b"\x80\x81", b"{not json"])
def test_one_error_envelope_for_bad_bytes(client, raw):
    answer = client.post("/v1/metrics/totalRequests", content=raw, headers={**AUTH, "content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["message"] == "Validation Failed" and "requestBody" in answer.json()["details"]
    unknown = client.get("/v1/no-such-endpoint", headers=AUTH)
    assert unknown.status_code == 404 and "detail" not in unknown.json()


def test_openapi_declares_every_response(client):
    doc = client.get("/openapi.json").json()
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert schema not in ({}, None), (path, method)
            assert "422" in operation["responses"] and "401" in operation["responses"]
    assert "requestBody" in doc["paths"]["/v1/property/query"]["post"]
    rows = doc["components"]["schemas"]["HeliconeRequest"]["properties"]
    assert {"request_id", "delay_ms", "request_user_id", "costUSD", "scores"} <= set(rows)


def test_fuzzing_the_request_endpoints_finds_no_server_errors(client):
    from hypothesis import given

    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    for path, method in (
        ("/v1/request/query-clickhouse", "POST"),
        ("/v1/request/count/query", "POST"),
        ("/v1/request/{requestId}", "GET"),
        ("/v1/user/metrics/query", "POST"),
        ("/v1/metrics/requestCount", "POST"),
    ):
        operation = schema[path][method]

        @given(operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def no_server_error(case):
            response = case.call(headers=AUTH)
            assert response.status_code < 500, (case.path, case.body, response.text[:300])

        no_server_error()
