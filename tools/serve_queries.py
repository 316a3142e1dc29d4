"""Helicone's analytics and request endpoints as queries over the embedded store, one organization per call.

`heliqa serve` validates Helicone's request bodies (defined here, in Helicone's names) and calls one method of
`ServeQueries` per endpoint; every DuckDB statement behind the server is built here, none in the surface.
Semantics follow Helicone's API (jawn's controllers); percentiles are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heliqa.tools.errors import InvalidRequest
from heliqa.tools.filters import FilterNode, Number, Text
from heliqa.tools.helicone_requests import BODY_PLACEHOLDER, RequestQuery, count_store, get_store, query_store
from heliqa.tools.limits import Offset
from heliqa.tools.query import Increment, ScoresRequest, TimeFilter
from heliqa.tools.results import iso_z
from heliqa.tools.store import DuckDialect, Store
from heliqa.tools.timebuckets import bucket_labels, check_buckets

_STRICT = ConfigDict(extra="forbid", frozen=True)
QUANTILE_LEVELS = {"p75": 0.75, "p90": 0.90, "p95": 0.95, "p99": 0.99}
USER_METRICS_MAX_LIMIT = 10_000
Direction = Literal["asc", "desc"]


# --- request bodies (Helicone's names) ---------------------------------------------------------------
def _tz(value: float) -> float:
    if not -1440 <= value <= 1440:
        raise ValueError("timeZoneDifference is minutes UTC minus local time, between -1440 and 1440")
    return value


class MetricsFilterBody(BaseModel):
    """Body of the aggregate metrics endpoints."""

    model_config = _STRICT
    filter: FilterNode
    timeFilter: TimeFilter


class MetricsOverTimeBody(BaseModel):
    """Body of the *OverTime metrics endpoints (`dbIncrement` defaults to hour, as in Helicone)."""

    model_config = _STRICT
    timeFilter: TimeFilter
    filter: FilterNode
    dbIncrement: Increment = "hour"
    timeZoneDifference: Number

    _check_tz = field_validator("timeZoneDifference")(classmethod(lambda cls, v: _tz(v)))


class QuantilesBody(MetricsOverTimeBody):
    """Body of /v1/metrics/quantiles; `metric` is one of Helicone's four."""

    metric: Literal["latency", "prompt_tokens", "completion_tokens", "total_tokens"]


class TableBody(BaseModel):
    """Body of /v1/metrics/models and /v1/metrics/country."""

    model_config = _STRICT
    filter: FilterNode
    offset: Number
    limit: Number
    timeFilter: TimeFilter


class PropertySearchBody(BaseModel):
    """Body of /v1/property/{key}/search."""

    model_config = _STRICT
    searchTerm: Text


class RequestCountBody(BaseModel):
    """Body of /v1/metrics/requestCount."""

    model_config = _STRICT
    filter: FilterNode
    isCached: bool | None = None


# Instants the store can represent: years 1 to 9999.
UnixSeconds = Annotated[Number, Field(ge=-62_135_596_800, le=253_402_300_799)]


class UnixTimeFilter(BaseModel):
    """`{startTimeUnixSeconds, endTimeUnixSeconds}` of the user metrics endpoint."""

    model_config = _STRICT
    startTimeUnixSeconds: UnixSeconds
    endTimeUnixSeconds: UnixSeconds


class UserSort(BaseModel):
    """Helicone's `SortLeafUsers`; the first key set (in this order) is used, default last_active desc."""

    model_config = _STRICT
    id: Direction | None = None
    user_id: Direction | None = None
    active_for: Direction | None = None
    first_active: Direction | None = None
    last_active: Direction | None = None
    total_requests: Direction | None = None
    average_requests_per_day_active: Direction | None = None
    average_tokens_per_request: Direction | None = None
    total_prompt_tokens: Direction | None = None
    total_completion_tokens: Direction | None = None
    cost: Direction | None = None
    rate_limited_count: Direction | None = None

    def chosen(self) -> tuple[str, Direction]:
        """The sort key and direction: the first key set, else last_active desc."""
        for name in type(self).model_fields:
            direction = getattr(self, name)
            if direction is not None:
                return ("user_id" if name == "id" else name), direction
        return "last_active", "desc"


class UserMetricsQueryParams(BaseModel):
    """Body of /v1/user/metrics/query."""

    model_config = _STRICT
    filter: FilterNode
    offset: Offset
    limit: int = Field(ge=0, le=USER_METRICS_MAX_LIMIT)
    timeFilter: UnixTimeFilter | None = None
    timeZoneDifferenceMinutes: Annotated[Number, Field(ge=-1440, le=1440)] | None = None
    sort: UserSort | None = None


# --- what each metrics endpoint computes --------------------------------------------------------------
def _number(value: Any) -> float | int:
    """JavaScript's Number(): NULL becomes 0."""
    if value is None:
        return 0
    return int(value) if isinstance(value, int) else float(value)


def _maybe(value: Any) -> float | int | None:
    return None if value is None else _number(value)


# name -> (SELECT expressions, extra conditions, the row's answer)
AGGREGATES: dict[str, tuple[str, tuple[str, ...], Callable[[tuple], Any]]] = {
    "totalRequests": ("count(*)", (), lambda r: int(r[0])),
    "totalCost": ("coalesce(sum(r.cost), 0) / 1e9", (), lambda r: float(r[0])),
    # Helicone divides by count(*): NULL latencies are in the denominator.
    "averageLatency": (
        "CASE WHEN count(*) = 0 THEN 0 ELSE sum(r.latency) / count(*) END",
        (),
        lambda r: _number(r[0]),
    ),
    "averageTimeToFirstToken": (
        "CASE WHEN count(*) = 0 THEN 0 ELSE sum(r.time_to_first_token) / count(*) END",
        ("r.time_to_first_token > 0",),
        lambda r: _number(r[0]),
    ),
    "averageTokensPerRequest": (
        "count(*), sum(r.prompt_tokens), sum(r.completion_tokens)",
        (),
        lambda r: {
            "average_prompt_tokens_per_response": _number(r[1]) / r[0] if r[0] else 0,
            "average_completion_tokens_per_response": _number(r[2]) / r[0] if r[0] else 0,
            "average_total_tokens_per_response": (_number(r[1]) + _number(r[2])) / r[0] if r[0] else 0,
        },
    ),
    "totalThreats": ("count(*) FILTER (WHERE r.threat)", (), lambda r: int(r[0])),
    "activeUsers": ("count(DISTINCT r.user_id)", (), lambda r: int(r[0])),
}

# name -> (column -> expression, extra conditions, the bucket's answer)
SERIES: dict[str, tuple[dict[str, str], tuple[str, ...], Callable[[dict], dict]]] = {
    # Helicone maps a missing status through Number() to NaN, which JSON writes as null.
    "requestOverTime": ({"count": "count(*)"}, (), lambda i: {**i, "status": None}),
    "costOverTime": ({"cost": "coalesce(sum(r.cost), 0) / 1e9"}, (), lambda i: i),
    "tokensOverTime": (
        {"prompt_tokens": "sum(r.prompt_tokens)", "completion_tokens": "sum(r.completion_tokens)"},
        (),
        lambda i: i,
    ),
    # Helicone leaves batch models out of latency over time.
    "latencyOverTime": ({"duration": "avg(r.latency)"}, ("r.model NOT ILIKE '%-batch%'",), lambda i: i),
    "timeToFirstToken": ({"ttft": "avg(r.time_to_first_token)"}, (), lambda i: i),
    "usersOverTime": ({"count": "count(DISTINCT r.user_id)"}, (), lambda i: i),
    "threatsOverTime": ({"count": "count(*) FILTER (WHERE r.threat)"}, (), lambda i: i),
    "errorOverTime": ({"count": "count(*)"}, ("r.status != 200",), lambda i: i),
}

_MODEL_TOTALS = (
    "count(*), sum(r.completion_tokens), sum(r.prompt_tokens), "
    "sum(r.prompt_tokens) + sum(r.completion_tokens), coalesce(sum(r.cost), 0) / 1e9"
)

_USER_COLUMNS = {
    "user_id": "r.user_id",
    "active_for": "count(DISTINCT {day})",
    "first_active": "min(r.request_created_at)",
    "last_active": "max(r.request_created_at)",
    "total_requests": "count(*)",
    "average_requests_per_day_active": "count(*) / count(DISTINCT {day})",
    "average_tokens_per_request": "(coalesce(sum(r.prompt_tokens), 0) + coalesce(sum(r.completion_tokens), 0)) "
    "/ count(*)",
    "total_completion_tokens": "coalesce(sum(r.completion_tokens), 0)",
    "total_prompt_tokens": "coalesce(sum(r.prompt_tokens), 0)",
    "cost": "coalesce(sum(r.cost), 0) / 1e9",
    # heliqa's store does not keep rate-limit events: every user has 0, so this sort orders by user id only
    "rate_limited_count": "0",
}


def _where(d: DuckDialect, org: str, node: Any, time_filter: TimeFilter, extra: tuple[str, ...] = ()) -> str:
    return " AND ".join([f"r.organization_id = {d.param(org)}", d.time_range(time_filter), d.node(node), *extra])


def _user_where(d: DuckDialect, org: str, body: UserMetricsQueryParams) -> str:
    where = [f"r.organization_id = {d.param(org)}", d.node(body.filter)]
    if body.timeFilter is not None:
        start, end = body.timeFilter.startTimeUnixSeconds, body.timeFilter.endTimeUnixSeconds
        if start > end:
            raise InvalidRequest(["timeFilter: startTimeUnixSeconds is after endTimeUnixSeconds"])
        where.append(
            f"r.request_created_at >= make_timestamp({d.param(round(start * 1e6))}::BIGINT) "
            f"AND r.request_created_at <= make_timestamp({d.param(round(end * 1e6))}::BIGINT)"
        )
    return " AND ".join(where)


def _user_row(values: tuple, columns: dict[str, str]) -> dict[str, Any]:
    """One user of /v1/user/metrics/query in Helicone's field names and types."""
    row = dict(zip(columns, values, strict=True))
    return {
        "id": row["user_id"],
        "user_id": row["user_id"],
        "active_for": int(row["active_for"]),
        "first_active": iso_z(row["first_active"], millis=True),
        "last_active": iso_z(row["last_active"], millis=True),
        "total_requests": int(row["total_requests"]),
        "average_requests_per_day_active": float(row["average_requests_per_day_active"]),
        "average_tokens_per_request": float(row["average_tokens_per_request"]),
        "total_completion_tokens": int(row["total_completion_tokens"]),
        "total_prompt_tokens": int(row["total_prompt_tokens"]),
        "cost": float(row["cost"]),
    }


class ServeQueries:
    """The answer of each of Helicone's endpoints over the embedded store, scoped to one organization per call."""

    def __init__(self, store: Store):
        self.store = store
        self.fetch = store.fetch  # each thread reads through its own cursor of the store's connection

    # --- scores and metrics -------------------------------------------------------------------------------
    def scores(self, org: str, body: ScoresRequest) -> list[dict]:
        """/v1/dashboard/scores/query: the average score per bucket and key."""
        check_buckets(body.timeFilter, body.dbIncrement, body.timeZoneDifference)
        return self.store.scores(body, org)

    def aggregate(self, name: str, org: str, body: MetricsFilterBody) -> Any:
        """One of AGGREGATES (/v1/metrics/<name>) over the filtered requests."""
        select, extra, shape = AGGREGATES[name]
        d = DuckDialect()
        where = _where(d, org, body.filter, body.timeFilter, extra)
        return shape(self.fetch(f"SELECT {select} FROM requests r WHERE {where}", d.params)[0])

    def series(self, name: str, org: str, body: MetricsOverTimeBody) -> list[dict]:
        """One of SERIES (/v1/metrics/<name>): a value per bucket."""
        columns, extra, shape = SERIES[name]
        return [shape(i) for i in self._over_time(org, body, columns, extra)]

    def request_status_over_time(self, org: str, body: MetricsOverTimeBody) -> list[dict]:
        """/v1/metrics/requestStatusOverTime: requests per bucket and status."""
        items = self._over_time(org, body, {"count": "count(*)"}, group="r.status")
        return [{"time": i["time"], "count": i["count"], "status": _number(i["group"])} for i in items]

    def model_usage_over_time(self, org: str, body: MetricsOverTimeBody) -> list[dict]:
        """/v1/metrics/modelUsageOverTime: requests and tokens per bucket and model (no empty buckets)."""
        columns = {"request_count": "count(*)", "total_tokens": "sum(r.prompt_tokens + r.completion_tokens)"}
        items = self._over_time(org, body, columns, group="r.model", fill=False)
        return [
            {
                "time": i["time"],
                "model": i["group"] or "unknown",
                "request_count": i["request_count"],
                "total_tokens": i["total_tokens"],
            }
            for i in items
        ]

    def quantiles(self, org: str, body: QuantilesBody) -> list[dict]:
        """/v1/metrics/quantiles: exact p75/p90/p95/p99 of one metric per bucket."""
        expr = "r.completion_tokens + r.prompt_tokens" if body.metric == "total_tokens" else f"r.{body.metric}"
        columns = {name: f"quantile_cont({expr}, {level})" for name, level in QUANTILE_LEVELS.items()}
        return self._over_time(org, body, columns)

    def models(self, org: str, body: TableBody) -> list[dict]:
        """/v1/metrics/models: totals per model, by request count."""
        return [
            {
                "model": g,
                "total_requests": int(n),
                "total_completion_tokens": _maybe(c),
                "total_prompt_token": _maybe(p),
                "total_tokens": _maybe(t),
                "cost": float(cost),
            }
            for g, n, c, p, t, cost in self._table(org, body, _MODEL_TOTALS, "r.model")
        ]

    def countries(self, org: str, body: TableBody) -> list[dict]:
        """/v1/metrics/country: requests per country, by request count."""
        rows = self._table(org, body, "count(*)", "r.country_code", ("r.country_code IS NOT NULL",))
        return [{"country": g, "total_requests": int(n)} for g, n in rows]

    # --- the organization's names -------------------------------------------------------------------------
    def property_keys(self, org: str) -> list[dict]:
        """/v1/property/query: the organization's property keys."""
        return [{"property": k} for k in sorted(self.store.vocabulary(org).properties)]

    def property_values(self, org: str, key: str, term: str) -> list[str]:
        """/v1/property/{key}/search: up to 25 values of `key` holding `term` (case-insensitive)."""
        values = self.store.vocabulary(org).properties.get(key, {})
        return [v for v in values if term.lower() in v.lower()][:25]

    def score_keys(self, org: str) -> list[str]:
        """/v1/evals/scores: the organization's score keys."""
        return sorted(self.store.vocabulary(org).score_keys)

    # --- requests and users -------------------------------------------------------------------------------
    def requests(self, org: str, body: RequestQuery) -> list[dict]:
        """/v1/request/query-clickhouse: matching requests, sorted and paged."""
        return query_store(self.store, org, body)

    def count_requests(self, org: str, body: RequestQuery) -> int:
        """/v1/request/count/query: how many requests match (`isScored`: scored ones only)."""
        return count_store(self.store, org, body.filter, "cardinality(r.scores) > 0" if body.isScored else None)

    def request_count(self, org: str, body: RequestCountBody) -> int:
        """/v1/metrics/requestCount: how many requests match (`isCached`: cache-enabled ones only)."""
        return count_store(self.store, org, body.filter, "r.cache_enabled" if body.isCached else None)

    def request(self, org: str, request_id: str, include_body: bool) -> dict | None:
        """/v1/request/{id}: one request (bodies replaced by Helicone's placeholder unless asked), or None."""
        found = get_store(self.store, org, request_id)
        if found is not None and not include_body:
            found["request_body"] = found["response_body"] = BODY_PLACEHOLDER
        return found

    def user_metrics(self, org: str, body: UserMetricsQueryParams) -> dict[str, Any]:
        """/v1/user/metrics/query: `{users, count, hasUsers}`, per-user totals sorted and paged."""
        d = DuckDialect()
        condition = _user_where(d, org, body)
        shift = int(body.timeZoneDifferenceMinutes or 0)
        day = f"date_trunc('day', r.request_created_at - to_minutes({d.param(shift)}::BIGINT))"
        columns = {name: expr.format(day=day) for name, expr in _USER_COLUMNS.items()}
        key, direction = (body.sort or UserSort()).chosen()
        select = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
        sql = (
            f"SELECT {select} FROM requests r WHERE {condition} GROUP BY r.user_id "
            f"ORDER BY {key} {direction.upper()} NULLS LAST, user_id LIMIT {d.param(body.limit)} "
            f"OFFSET {d.param(body.offset)}"
        )
        users = [_user_row(values, columns) for values in self.fetch(sql, d.params)]
        c = DuckDialect()
        count = self.fetch(
            f"SELECT count(DISTINCT r.user_id) FROM requests r WHERE {_user_where(c, org, body)}", c.params
        )
        has_users = self.fetch(
            "SELECT EXISTS (SELECT 1 FROM requests WHERE organization_id = $org AND user_id != '')", {"org": org}
        )[0][0]
        return {"users": users, "count": int(count[0][0]), "hasUsers": bool(has_users)}

    # --- the shared statements ----------------------------------------------------------------------------
    def _over_time(
        self,
        org: str,
        body: MetricsOverTimeBody,
        columns: dict[str, str],
        extra: tuple[str, ...] = (),
        group: str | None = None,
        fill: bool = True,
    ) -> list[dict[str, Any]]:
        """Helicone's getXOverTime: bucket, optional group column, count columns, WITH FILL zeros."""
        check_buckets(body.timeFilter, body.dbIncrement, body.timeZoneDifference)
        d = DuckDialect()
        bucket = d.bucket("r.request_created_at", body.dbIncrement, body.timeZoneDifference)
        where = _where(d, org, body.filter, body.timeFilter, extra)
        names = list(columns)
        select = ", ".join(
            [
                f"{bucket} AS b",
                *([f"{group} AS g"] if group else []),
                *(f"{expr} AS {name}" for name, expr in columns.items()),
            ]
        )
        sql = f"SELECT {select} FROM requests r WHERE {where} GROUP BY ALL ORDER BY 1{', 2' if group else ''}"
        out = []
        seen = set()
        for row in self.fetch(sql, d.params):
            seen.add(row[0])
            item = {"time": row[0]}
            if group:
                item["group"] = row[1]
            item.update({n: _number(v) for n, v in zip(names, row[2 if group else 1 :], strict=True)})
            out.append(item)
        if fill:
            for label in bucket_labels(body.timeFilter, body.dbIncrement, body.timeZoneDifference):
                if label not in seen:
                    out.append({"time": label, **({"group": 0} if group else {}), **{n: 0 for n in names}})
        out.sort(key=lambda item: item["time"])
        for item in out:
            item["time"] = iso_z(item["time"], millis=True)
        return out

    def _table(self, org: str, body: TableBody, select: str, group: str, extra: tuple[str, ...] = ()) -> list[tuple]:
        """Grouped totals ordered by request count, with Helicone's offset/limit clamping."""
        offset = min(max(0, int(body.offset // 1)), 2**62)  # beyond any table, inside DuckDB's integers
        limit = max(1, min(int(body.limit // 1), 10_000))
        d = DuckDialect()
        where = _where(d, org, body.filter, body.timeFilter, extra)
        sql = (
            f"SELECT {group} AS g, {select} FROM requests r WHERE {where} GROUP BY 1 "
            f"ORDER BY 2 DESC, 1 LIMIT {d.param(limit)} OFFSET {d.param(offset)}"
        )
        return self.fetch(sql, d.params)
