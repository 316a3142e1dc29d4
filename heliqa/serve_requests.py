"""`heliqa serve`: Helicone's request endpoints over the embedded store (Helicone's jawn request controller).

`POST /v1/request/query-clickhouse` (what Helicone's export tools and `heliqa sync` page through),
`POST /v1/request/count/query`, `GET /v1/request/{requestId}`, `POST /v1/user/metrics/query` and
`POST /v1/metrics/requestCount`, with Helicone's body and row shapes. Filters are `request_response_rmt` trees
(the store's only table); a `users_view` condition of the user metrics endpoint is refused with a 422.
"""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from heliqa.tools.errors import InvalidRequest
from heliqa.tools.filters import FilterNode, Number
from heliqa.tools.helicone_requests import BODY_PLACEHOLDER, RequestQuery, count_store, get_store, query_store
from heliqa.tools.limits import Offset
from heliqa.tools.results import iso_z
from heliqa.tools.store import DuckDialect, Store

_STRICT = ConfigDict(extra="forbid", frozen=True)
USER_METRICS_MAX_LIMIT = 10_000
Direction = Literal["asc", "desc"]


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


def user_metrics(store: Store, org: str, body: UserMetricsQueryParams) -> dict[str, Any]:
    """`{users, count, hasUsers}`: per-user totals over the filtered requests, sorted and paged."""
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
    users = []
    for values in store.fetch(sql, d.params):
        row = dict(zip(columns, values, strict=True))
        users.append(
            {
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
        )
    c = DuckDialect()
    count = store.fetch(f"SELECT count(DISTINCT r.user_id) FROM requests r WHERE {_user_where(c, org, body)}", c.params)
    has_users = store.fetch(
        "SELECT EXISTS (SELECT 1 FROM requests WHERE organization_id = $org AND user_id != '')", {"org": org}
    )[0][0]
    return {"users": users, "count": int(count[0][0]), "hasUsers": bool(has_users)}


def add_request_endpoints(
    app: Any,
    store: Store,
    result: Callable[[str, Callable[[], Any]], Any],
    org_of: Callable[[Any], str],
    body_models: dict[str, type[BaseModel]],
) -> None:
    """Register the request endpoints on the serve app (Result envelopes through `result`)."""
    import orjson
    from fastapi import Query, Request
    from fastapi.responses import JSONResponse, Response

    def fast(answer: Any) -> Any:
        # A page of 1000 rows through FastAPI's generic encoder costs ~0.2 s; the rows are JSON-ready already.
        if not isinstance(answer, dict):
            return answer
        return Response(orjson.dumps(answer), media_type="application/json")

    @app.post("/v1/request/query-clickhouse", tags=["Request"], summary="Requests matching a filter, sorted, paged")
    def query_clickhouse(body: RequestQuery, request: Request):
        return fast(result("metrics", lambda: query_store(store, org_of(request), body)))

    @app.post("/v1/request/count/query", tags=["Request"], summary="How many requests match a filter")
    def request_count_query(body: RequestQuery, request: Request):
        extra = "cardinality(r.scores) > 0" if body.isScored else None
        return result("metrics", lambda: count_store(store, org_of(request), body.filter, extra))

    @app.get("/v1/request/{requestId}", tags=["Request"], summary="One request by id")
    def request_by_id(requestId: str, request: Request, includeBody: bool = Query(False)):  # noqa: N803
        found = get_store(store, org_of(request), requestId)
        if found is None:
            return JSONResponse({"data": None, "error": "Request not found"}, status_code=404)
        if not includeBody:
            found["request_body"] = found["response_body"] = BODY_PLACEHOLDER
        return fast({"data": found, "error": None})

    @app.post("/v1/user/metrics/query", tags=["User"], summary="Per-user totals, sorted and paged")
    def user_metrics_query(body: UserMetricsQueryParams, request: Request):
        return fast(result("metrics", lambda: user_metrics(store, org_of(request), body)))

    @app.post("/v1/metrics/requestCount", tags=["Metrics"], summary="Distinct requests matching a filter")
    def request_count(body: RequestCountBody, request: Request):
        extra = "r.cache_enabled" if body.isCached else None
        return result("metrics", lambda: count_store(store, org_of(request), body.filter, extra))

    body_models["/v1/request/query-clickhouse"] = RequestQuery
    body_models["/v1/request/count/query"] = RequestQuery
    body_models["/v1/user/metrics/query"] = UserMetricsQueryParams
    body_models["/v1/metrics/requestCount"] = RequestCountBody
