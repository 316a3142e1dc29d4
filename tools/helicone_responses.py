"""The `data` of each Helicone endpoint heliqa reads, as pydantic models.

Validating every answer against these turns a malformed one (a row without `score_key`, a bucket that is no
date, `data` of the wrong type) into one error naming the endpoint, instead of a KeyError deep in the backend.
Rows are checked for the fields heliqa reads and handed on as plain dicts holding only those fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from heliqa.tools.errors import BackendError


def _instant(text: str) -> str:
    datetime.fromisoformat(text.replace("Z", "+00:00"))  # ValueError -> a validation problem
    return text


Instant = Annotated[str, AfterValidator(_instant)]
# ClickHouse's 64-bit integers may arrive as strings; pydantic's lax float reads both, never inf or NaN.
Num = Annotated[float, Field(allow_inf_nan=False)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ScoreRow(_Row):
    created_at_trunc: Instant
    score_key: str
    score_sum: Num


class ModelRow(_Row):
    model: str
    total_requests: Num
    cost: Num | None = None
    total_prompt_token: Num | None = None
    total_completion_tokens: Num | None = None
    total_tokens: Num | None = None


class CountryRow(_Row):
    country: str | None
    total_requests: Num


class PropertyRow(_Row):
    property: str


class _Timed(_Row):
    time: Instant


def _series(name: str, *fields: str, **typed: Any) -> type[_Timed]:
    """An over-time row: `time` plus these (nullable, required) number fields."""
    columns: dict[str, Any] = {f: (Num | None, ...) for f in fields}
    return create_model(name, __base__=_Timed, **columns, **{k: (v, ...) for k, v in typed.items()})


_COUNT = _series("CountRow", "count")
_SERIES: dict[str, type[_Timed]] = {
    "requestOverTime": _COUNT,
    "usersOverTime": _COUNT,
    "threatsOverTime": _COUNT,
    "errorOverTime": _COUNT,
    "requestStatusOverTime": _series("StatusRow", "count", "status"),
    "costOverTime": _series("CostRow", "cost"),
    "tokensOverTime": _series("TokensRow", "prompt_tokens", "completion_tokens"),
    "latencyOverTime": _series("LatencyRow", "duration"),
    "timeToFirstToken": _series("TtftRow", "ttft"),
    "modelUsageOverTime": _series("ModelUsageRow", "request_count", model=str),
    "quantiles": _series("QuantileRow", "p75", "p90", "p95", "p99"),
}
_AGGREGATES = ("totalRequests", "totalCost", "averageLatency", "averageTimeToFirstToken", "totalThreats", "activeUsers")

_ADAPTERS: dict[str, TypeAdapter] = {
    "/v1/dashboard/scores/query": TypeAdapter(list[ScoreRow]),
    "/v1/metrics/models": TypeAdapter(list[ModelRow]),
    "/v1/metrics/country": TypeAdapter(list[CountryRow]),
    "/v1/property/query": TypeAdapter(list[PropertyRow | str]),
    "/v1/evals/scores": TypeAdapter(list[str]),
    **{f"/v1/metrics/{name}": TypeAdapter(list[row]) for name, row in _SERIES.items()},
    **{f"/v1/metrics/{name}": TypeAdapter(Num | None) for name in _AGGREGATES},
}
_SEARCH = TypeAdapter(list[str])


def _shown(value: Any) -> str:
    # a container may be 100,000 levels deep: name its type, never print it
    return repr(value)[:60] if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__


def checked_data(path: str, data: Any) -> Any:
    """`data` of `path` checked against Helicone's shape (plain dicts and lists), or BackendError naming `path`."""
    if path.startswith("/v1/property/") and path.endswith("/search"):
        adapter = _SEARCH
    else:
        adapter = _ADAPTERS.get(path)
    if adapter is None:  # an endpoint heliqa does not read: nothing to rely on
        return data
    try:
        return adapter.dump_python(adapter.validate_python(data))
    except ValidationError as error:
        problems = []
        for err in error.errors()[:3]:
            where = ".".join(["data", *map(str, err["loc"])])
            problems.append(f"{where}: {err['msg']} (got {_shown(err.get('input'))})")
        more = f" (+{error.error_count() - 3} more)" if error.error_count() > 3 else ""
        raise BackendError(
            f"Helicone answered {path} with a malformed body: {'; '.join(problems)}{more}",
            "check HELICONE_BASE_URL points at Helicone's API (or `heliqa serve`)",
        ) from None
