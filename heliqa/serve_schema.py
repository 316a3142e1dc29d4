"""Response models of `heliqa serve`, declared in its OpenAPI document (they document; handlers build plain dicts).

Every endpoint answers Helicone's `Result` envelope `{"data", "error"}`; caller errors in the body are
`{"message": "Validation Failed", "details": {...}}` (422), authentication errors `{"error", "trace"?}` (401).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, create_model

from heliqa.tools.helicone_requests import HeliconeRequest

T = TypeVar("T")


class Result(BaseModel, Generic[T]):
    """Helicone's Result: `data` on success, `error` (a message) on failure."""

    data: T | None
    error: str | None


class ErrorResult(BaseModel):
    """A failed Result."""

    data: None
    error: str


class FieldProblem(BaseModel):
    message: str


class ValidationFailed(BaseModel):
    """422: the body did not validate; `details` maps `requestBody.<path>` to the problem."""

    message: str
    details: dict[str, FieldProblem]


class AuthFailed(BaseModel):
    """401: no key, or a key this server does not know."""

    error: str
    trace: str | None = None


class ScoreBucket(BaseModel):
    created_at_trunc: str
    score_key: str
    score_sum: float


class TokensPerRequest(BaseModel):
    average_prompt_tokens_per_response: float
    average_completion_tokens_per_response: float
    average_total_tokens_per_response: float


def _series(name: str, **columns: Any) -> type[BaseModel]:
    return create_model(name, time=(str, ...), **{k: (v, ...) for k, v in columns.items()})


class ModelUsage(BaseModel):
    time: str
    model: str
    request_count: int
    total_tokens: float | None


class ModelTotals(BaseModel):
    model: str
    total_requests: int
    total_completion_tokens: float | None
    total_prompt_token: float | None
    total_tokens: float | None
    cost: float


class CountryTotals(BaseModel):
    country: str
    total_requests: int


class PropertyKey(BaseModel):
    property: str


class UserMetricsResult(BaseModel):
    id: str
    user_id: str
    active_for: int
    first_active: str
    last_active: str
    total_requests: int
    average_requests_per_day_active: float
    average_tokens_per_request: float
    total_completion_tokens: int
    total_prompt_tokens: int
    cost: float


class UserMetrics(BaseModel):
    users: list[UserMetricsResult]
    count: int
    hasUsers: bool


class PropertyQueryBody(BaseModel):
    """Body of /v1/property/query: an object; Helicone's fields are accepted and not needed here."""

    model_config = ConfigDict(extra="allow")


_COUNT = _series("CountOverTime", count=int)
RESPONSES: dict[str, Any] = {
    "/v1/dashboard/scores/query": list[ScoreBucket],
    "/v1/metrics/totalRequests": int,
    "/v1/metrics/totalCost": float,
    "/v1/metrics/averageLatency": float,
    "/v1/metrics/averageTimeToFirstToken": float,
    "/v1/metrics/averageTokensPerRequest": TokensPerRequest,
    "/v1/metrics/totalThreats": int,
    "/v1/metrics/activeUsers": int,
    "/v1/metrics/requestOverTime": list[_series("RequestsOverTime", count=int, status=float | None)],
    "/v1/metrics/costOverTime": list[_series("CostOverTime", cost=float)],
    "/v1/metrics/tokensOverTime": list[
        _series("TokensOverTime", prompt_tokens=float | None, completion_tokens=float | None)
    ],
    "/v1/metrics/latencyOverTime": list[_series("LatencyOverTime", duration=float | None)],
    "/v1/metrics/timeToFirstToken": list[_series("TtftOverTime", ttft=float | None)],
    "/v1/metrics/usersOverTime": list[_COUNT],
    "/v1/metrics/threatsOverTime": list[_COUNT],
    "/v1/metrics/errorOverTime": list[_COUNT],
    "/v1/metrics/requestStatusOverTime": list[_series("StatusOverTime", count=int, status=float)],
    "/v1/metrics/modelUsageOverTime": list[ModelUsage],
    "/v1/metrics/quantiles": list[
        _series("Quantiles", p75=float | None, p90=float | None, p95=float | None, p99=float | None)
    ],
    "/v1/metrics/models": list[ModelTotals],
    "/v1/metrics/country": list[CountryTotals],
    "/v1/metrics/requestCount": int,
    "/v1/property/query": list[PropertyKey],
    "/v1/property/{propertyKey}/search": list[str],
    "/v1/evals/scores": list[str],
    "/v1/request/query-clickhouse": list[HeliconeRequest],
    "/v1/request/count/query": int,
    "/v1/request/{requestId}": HeliconeRequest,
    "/v1/user/metrics/query": UserMetrics,
}


_ERRORS = {
    "400": (ErrorResult, "a valid body this backend cannot answer"),
    "401": (AuthFailed, "missing or unknown API key"),
    "422": (ValidationFailed, "the body did not validate"),
    "500": (ErrorResult, "the store failed"),
}


def declare_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Put the response models of RESPONSES (and the error shapes) into an OpenAPI document, in place."""
    from pydantic import TypeAdapter

    components = schema.setdefault("components", {}).setdefault("schemas", {})

    def ref(kind: Any) -> dict[str, Any]:
        found = TypeAdapter(kind).json_schema(ref_template="#/components/schemas/{model}")
        components.update(found.pop("$defs", {}))
        return found

    for path, methods in schema.get("paths", {}).items():
        if path not in RESPONSES:
            continue
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            content = {"application/json": {"schema": ref(Result[RESPONSES[path]])}}
            responses["200"] = {"description": "Helicone's Result envelope", "content": content}
            errors = {**_ERRORS, **({"404": (ErrorResult, "no such request")} if "{requestId}" in path else {})}
            for status, (model, description) in errors.items():
                responses.setdefault(status, {"description": description})
                responses[status]["content"] = {"application/json": {"schema": ref(model)}}
    return schema
