"""`heliqa serve`: Helicone's request endpoints over the embedded store (Helicone's jawn request controller).

`POST /v1/request/query-clickhouse` (what Helicone's export tools and `heliqa sync` page through),
`POST /v1/request/count/query`, `GET /v1/request/{requestId}`, `POST /v1/user/metrics/query` and
`POST /v1/metrics/requestCount`, with Helicone's body and row shapes. Filters are `request_response_rmt` trees
(the store's only table); a `users_view` condition of the user metrics endpoint is refused with a 422.
The queries behind them are `tools/serve_queries.py`.
"""

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from heliqa.tools.helicone_requests import RequestQuery
from heliqa.tools.serve_queries import RequestCountBody, ServeQueries, UserMetricsQueryParams


def add_request_endpoints(
    app: Any,
    queries: ServeQueries,
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
        return fast(result("metrics", lambda: queries.requests(org_of(request), body)))

    @app.post("/v1/request/count/query", tags=["Request"], summary="How many requests match a filter")
    def request_count_query(body: RequestQuery, request: Request):
        return result("metrics", lambda: queries.count_requests(org_of(request), body))

    @app.get("/v1/request/{requestId}", tags=["Request"], summary="One request by id")
    def request_by_id(requestId: str, request: Request, includeBody: bool = Query(False)):  # noqa: N803
        found = queries.request(org_of(request), requestId, includeBody)
        if found is None:
            return JSONResponse({"data": None, "error": "Request not found"}, status_code=404)
        return fast({"data": found, "error": None})

    @app.post("/v1/user/metrics/query", tags=["User"], summary="Per-user totals, sorted and paged")
    def user_metrics_query(body: UserMetricsQueryParams, request: Request):
        return fast(result("metrics", lambda: queries.user_metrics(org_of(request), body)))

    @app.post("/v1/metrics/requestCount", tags=["Metrics"], summary="Distinct requests matching a filter")
    def request_count(body: RequestCountBody, request: Request):
        return result("metrics", lambda: queries.request_count(org_of(request), body))

    body_models["/v1/request/query-clickhouse"] = RequestQuery
    body_models["/v1/request/count/query"] = RequestQuery
    body_models["/v1/user/metrics/query"] = UserMetricsQueryParams
    body_models["/v1/metrics/requestCount"] = RequestCountBody
