"""`heliqa serve`: Helicone's analytics API (scores, metrics, property and score-key lookups, and the request
endpoints of `heliqa/serve_requests.py`) over the embedded store.

Request and response shapes, paths and status codes follow Helicone's API (jawn's controllers), so the
Helicone REST backend works against it unchanged. Deliberate differences, all on the side of strictness:
bodies are validated by heliqa's models (multi-key leaves and bad time filters on metrics endpoints are 422s),
caller errors on metrics endpoints are 400s where Helicone answers 500, and percentiles are exact.
"""

import hmac
import sys
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from heliqa.tools.errors import BackendError, ConfigError, HeliqaError, InvalidRequest, LimitExceeded
from heliqa.tools.filters import FilterNode, Number, Text
from heliqa.tools.limits import MAX_BODY_BYTES, parse_json
from heliqa.tools.query import Increment, ScoresRequest, TimeFilter
from heliqa.tools.results import iso_z
from heliqa.tools.settings import settings
from heliqa.tools.store import DuckDialect, Store
from heliqa.tools.timebuckets import bucket_labels, check_buckets
from heliqa.tools.validation import validate

_STRICT = ConfigDict(extra="forbid", frozen=True)
PUBLIC_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/healthz")
QUANTILE_LEVELS = {"p75": 0.75, "p90": 0.90, "p95": 0.95, "p99": 0.99}


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


# --- keys --------------------------------------------------------------------------------------------
def parse_keys(text: str | None) -> dict[str, str]:
    """`key1=org1,key2=org2` -> {key: org}; raises ConfigError (without echoing keys) when malformed."""
    if not text or not text.strip():
        raise ConfigError(
            "HELIQA_SERVE_KEYS is not set",
            "export HELIQA_SERVE_KEYS='some-long-random-key=<organization id>' (comma-separate several)",
        )
    keys: dict[str, str] = {}
    for n, pair in enumerate(text.split(","), 1):
        key, sep, org = pair.strip().partition("=")
        if not sep or not key.strip() or not org.strip():
            raise ConfigError(f"HELIQA_SERVE_KEYS entry {n} is not key=organization_id")
        keys[key.strip()] = org.strip()
    return keys


class BearerAuth:
    """ASGI middleware: `authorization: Bearer <key>` on /v1/ paths, mapped to the key's organization."""

    def __init__(self, app: Any, keys: dict[str, str]):
        self.app = app
        self.keys = [(k.encode(), org) for k, org in keys.items()]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            return await self.app(scope, receive, send)
        found = [value for name, value in scope["headers"] if name == b"authorization"]
        if len(found) > 1:  # which one a proxy in front checked is unknown: refuse rather than pick one
            return await _send_json(send, 400, {"error": "more than one Authorization header; send exactly one"})
        header = found[0] if found else None
        if not header:
            return await _send_json(send, 401, {"error": "No authorization header"})
        scheme, _, token = header.partition(b" ")
        org = None
        if scheme.lower() == b"bearer":
            for key, owner in self.keys:  # compare every key in constant time
                if hmac.compare_digest(token.strip(), key):
                    org = owner
        if org is None:
            return await _send_json(send, 401, {"error": "Invalid API key", "trace": "isAuthenticated.error"})
        scope.setdefault("state", {})["org"] = org
        return await self.app(scope, receive, send)


class BodyLimits:
    """ASGI middleware: a request body is read only up to MAX_BODY_BYTES (chunked or not) and must be JSON
    within the limits of tools/limits.py before any endpoint parses it; violations are 413/415/422 naming the limit.
    """

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        message = f"the body is larger than {self.max_bytes:,} bytes (body size)"
        too_large = {"message": "Payload Too Large", "details": {"requestBody": {"message": message}}}
        try:
            declared = int(headers.get(b"content-length") or 0)
        except ValueError:
            declared = 0
        if declared > self.max_bytes:
            return await _send_json(send, 413, too_large)
        chunks, size, more = [], 0, True
        while more:
            event = await receive()
            if event["type"] == "http.disconnect":
                return None
            chunk = event.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:  # a chunked body announces no length: stop reading at the limit
                return await _send_json(send, 413, too_large)
            chunks.append(chunk)
            more = event.get("more_body", False)
        body = b"".join(chunks)
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body.strip() and kind != b"application/json" and not kind.endswith(b"+json"):
            shown = kind.decode("latin-1") or "none"
            return await _send_json(
                send,
                415,
                {"message": f"the body must be sent as content-type: application/json (it was {shown})"},
            )
        if body.strip():
            try:
                parse_json(body, "the body", self.max_bytes)
            except LimitExceeded as error:
                details = {"requestBody": {"message": error.message}}
                return await _send_json(send, 422, {"message": "Validation Failed", "details": details})
            except InvalidRequest:
                pass  # not JSON at all: the endpoint answers it in Helicone's words ("invalid JSON")
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


async def _send_json(send: Callable, status: int, body: dict) -> None:
    import json

    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})


# --- Helicone's computations over the embedded store ------------------------------------------------
class HeliconeApi:
    """Helicone's `/v1/metrics/*` semantics as DuckDB queries, scoped to one organization per call."""

    def __init__(self, store: Store):
        self.store = store
        self.fetch = store.fetch  # each thread reads through its own cursor of the store's connection

    @staticmethod
    def _where(d: DuckDialect, org: str, node: Any, time_filter: TimeFilter, extra: tuple[str, ...] = ()) -> str:
        return " AND ".join([f"r.organization_id = {d.param(org)}", d.time_range(time_filter), d.node(node), *extra])

    # aggregates
    def aggregate(self, org: str, body: MetricsFilterBody, select: str, extra: tuple[str, ...] = ()) -> tuple:
        """One row of aggregate expressions over the filtered requests."""
        d = DuckDialect()
        where = self._where(d, org, body.filter, body.timeFilter, extra)
        return self.fetch(f"SELECT {select} FROM requests r WHERE {where}", d.params)[0]

    # over time
    def over_time(
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
        where = self._where(d, org, body.filter, body.timeFilter, extra)
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

    def table(self, org: str, body: TableBody, select: str, group: str, extra: tuple[str, ...] = ()) -> list[tuple]:
        """Grouped totals ordered by request count, with Helicone's offset/limit clamping."""
        offset = min(max(0, int(body.offset // 1)), 2**62)  # beyond any table, inside DuckDB's integers
        limit = max(1, min(int(body.limit // 1), 10_000))
        d = DuckDialect()
        where = self._where(d, org, body.filter, body.timeFilter, extra)
        sql = (
            f"SELECT {group} AS g, {select} FROM requests r WHERE {where} GROUP BY 1 "
            f"ORDER BY 2 DESC, 1 LIMIT {d.param(limit)} OFFSET {d.param(offset)}"
        )
        return self.fetch(sql, d.params)


def _number(value: Any) -> float | int:
    """JavaScript's Number(): NULL becomes 0."""
    if value is None:
        return 0
    return int(value) if isinstance(value, int) else float(value)


def _maybe(value: Any) -> float | int | None:
    return None if value is None else _number(value)


# --- the app -------------------------------------------------------------------------------------------
def create_app(store: Store, keys: dict[str, str]):
    """The FastAPI app serving Helicone's endpoints over `store`, one organization per API key."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.openapi.utils import get_openapi
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from heliqa.serve_requests import add_request_endpoints
    from heliqa.serve_schema import PropertyQueryBody, declare_responses

    api = HeliconeApi(store)
    app = FastAPI(
        title="heliqa serve — Helicone-compatible analytics API",
        version="1",
        description="Helicone's POST /v1/dashboard/scores/query and /v1/metrics/* over heliqa's embedded store. "
        "Authenticate with `authorization: Bearer <key>` (keys from HELIQA_SERVE_KEYS).",
    )
    body_models: dict[str, type[BaseModel]] = {}

    def org_of(request: Request) -> str:
        return request.state.org

    def result(path_kind: str, run: Callable[[], Any]) -> Any:
        """Helicone's Result envelope: scores errors are 200, metrics caller errors 400, server faults 500."""
        try:
            return {"data": run(), "error": None}
        except BackendError as error:
            status = 200 if path_kind == "scores" else 500
            return JSONResponse({"data": None, "error": error.message}, status_code=status)
        except HeliqaError as error:  # NotAvailable / InvalidRequest from the filter compiler
            status = 200 if path_kind == "scores" else 400
            return JSONResponse({"data": None, "error": str(error)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_failed(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if request.url.path == "/v1/dashboard/scores/query":
            semantic = _semantic_error(errors)
            if semantic:  # Helicone checks these after validation and answers 200 with an error
                return JSONResponse({"data": None, "error": semantic})
        details: dict[str, Any] = {}
        model = body_models.get(request.scope.get("route").path if request.scope.get("route") else "")
        if any(e["type"] == "json_invalid" for e in errors) or not isinstance(exc.body, dict) or model is None:
            details["requestBody"] = {
                "message": "the body must be a JSON object"
                if not any(e["type"] == "json_invalid" for e in errors)
                else "invalid JSON"
            }
        else:
            try:
                validate(model, exc.body)
                problems = [f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors]
            except InvalidRequest as invalid:
                problems = invalid.problems
            for problem in problems:
                path, _, message = problem.partition(": ")
                details[f"requestBody.{path}" if path != "request" else "requestBody"] = {"message": message}
        return JSONResponse({"message": "Validation Failed", "details": details}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    # --- scores ---------------------------------------------------------------------------------------
    @app.post("/v1/dashboard/scores/query", tags=["Dashboard"], summary="Average score per bucket and key")
    def scores_query(body: ScoresRequest, request: Request):
        def run() -> list[dict]:
            check_buckets(body.timeFilter, body.dbIncrement, body.timeZoneDifference)
            return store.scores(body, org_of(request))

        return result("scores", run)

    body_models["/v1/dashboard/scores/query"] = ScoresRequest

    # --- aggregate metrics ----------------------------------------------------------------------------
    aggregates: dict[str, tuple[str, tuple[str, ...], Callable[[tuple], Any]]] = {
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

    def add_aggregate(name: str, select: str, extra: tuple[str, ...], shape: Callable[[tuple], Any]) -> None:
        def endpoint(body: MetricsFilterBody, request: Request):
            return result("metrics", lambda: shape(api.aggregate(org_of(request), body, select, extra)))

        path = f"/v1/metrics/{name}"
        app.post(path, tags=["Metrics"], name=name, summary=name)(endpoint)
        body_models[path] = MetricsFilterBody

    for name, (select, extra, shape) in aggregates.items():
        add_aggregate(name, select, extra, shape)

    # --- over-time metrics ---------------------------------------------------------------------------------
    series: dict[str, tuple[dict[str, str], tuple[str, ...], Callable[[dict], dict]]] = {
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

    def add_series(name: str, columns: dict[str, str], extra: tuple[str, ...], shape: Callable[[dict], dict]) -> None:
        def endpoint(body: MetricsOverTimeBody, request: Request):
            return result("metrics", lambda: [shape(i) for i in api.over_time(org_of(request), body, columns, extra)])

        path = f"/v1/metrics/{name}"
        app.post(path, tags=["Metrics"], name=name, summary=name)(endpoint)
        body_models[path] = MetricsOverTimeBody

    for name, (columns, extra, shape) in series.items():
        add_series(name, columns, extra, shape)

    @app.post("/v1/metrics/requestStatusOverTime", tags=["Metrics"], summary="requestStatusOverTime")
    def request_status_over_time(body: MetricsOverTimeBody, request: Request):
        def run() -> list[dict]:
            items = api.over_time(org_of(request), body, {"count": "count(*)"}, group="r.status")
            return [{"time": i["time"], "count": i["count"], "status": _number(i["group"])} for i in items]

        return result("metrics", run)

    @app.post("/v1/metrics/modelUsageOverTime", tags=["Metrics"], summary="modelUsageOverTime")
    def model_usage_over_time(body: MetricsOverTimeBody, request: Request):
        columns = {"request_count": "count(*)", "total_tokens": "sum(r.prompt_tokens + r.completion_tokens)"}

        def run() -> list[dict]:
            items = api.over_time(org_of(request), body, columns, group="r.model", fill=False)
            return [
                {
                    "time": i["time"],
                    "model": i["group"] or "unknown",
                    "request_count": i["request_count"],
                    "total_tokens": i["total_tokens"],
                }
                for i in items
            ]

        return result("metrics", run)

    @app.post("/v1/metrics/quantiles", tags=["Metrics"], summary="p75/p90/p95/p99 per bucket")
    def quantiles(body: QuantilesBody, request: Request):
        expr = "r.completion_tokens + r.prompt_tokens" if body.metric == "total_tokens" else f"r.{body.metric}"
        columns = {name: f"quantile_cont({expr}, {level})" for name, level in QUANTILE_LEVELS.items()}
        return result("metrics", lambda: api.over_time(org_of(request), body, columns))

    for path, model in (
        ("/v1/metrics/requestStatusOverTime", MetricsOverTimeBody),
        ("/v1/metrics/modelUsageOverTime", MetricsOverTimeBody),
        ("/v1/metrics/quantiles", QuantilesBody),
    ):
        body_models[path] = model

    # --- grouped totals ----------------------------------------------------------------------------------------
    @app.post("/v1/metrics/models", tags=["Metrics"], summary="Totals per model, by request count")
    def models(body: TableBody, request: Request):
        select = (
            "count(*), sum(r.completion_tokens), sum(r.prompt_tokens), "
            "sum(r.prompt_tokens) + sum(r.completion_tokens), coalesce(sum(r.cost), 0) / 1e9"
        )

        def run() -> list[dict]:
            return [
                {
                    "model": g,
                    "total_requests": int(n),
                    "total_completion_tokens": _maybe(c),
                    "total_prompt_token": _maybe(p),
                    "total_tokens": _maybe(t),
                    "cost": float(cost),
                }
                for g, n, c, p, t, cost in api.table(org_of(request), body, select, "r.model")
            ]

        return result("metrics", run)

    @app.post("/v1/metrics/country", tags=["Metrics"], summary="Requests per country")
    def country(body: TableBody, request: Request):
        def run() -> list[dict]:
            rows = api.table(org_of(request), body, "count(*)", "r.country_code", ("r.country_code IS NOT NULL",))
            return [{"country": g, "total_requests": int(n)} for g, n in rows]

        return result("metrics", run)

    body_models["/v1/metrics/models"] = TableBody
    body_models["/v1/metrics/country"] = TableBody

    # --- vocabulary ---------------------------------------------------------------------------------------------
    @app.post("/v1/property/query", tags=["Property"], summary="Property keys of the organization")
    def property_keys(request: Request, body: PropertyQueryBody | None = None):
        keys_of = lambda: sorted(store.vocabulary(org_of(request)).properties)  # noqa: E731
        return result("metrics", lambda: [{"property": k} for k in keys_of()])

    @app.post("/v1/property/{propertyKey}/search", tags=["Property"], summary="Up to 25 values of a property")
    def property_values(propertyKey: str, body: PropertySearchBody, request: Request):  # noqa: N803 (Helicone's name)
        def run() -> list[str]:
            values = store.vocabulary(org_of(request)).properties.get(propertyKey, {})
            term = body.searchTerm.lower()
            return [v for v in values if term in v.lower()][:25]

        return result("metrics", run)

    body_models["/v1/property/{propertyKey}/search"] = PropertySearchBody

    add_request_endpoints(app, store, result, org_of, body_models)

    @app.get("/v1/evals/scores", tags=["Evals"], summary="Score keys of the organization")
    def score_keys(request: Request):
        return result("metrics", lambda: sorted(store.vocabulary(org_of(request)).score_keys))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers bytes it cannot decode with 400 {"detail": ...}: give them the same 422 as any bad body.
        if exc.status_code == 400 and request.method == "POST":
            details = {"requestBody": {"message": "invalid JSON (the body must be UTF-8 JSON)"}}
            return JSONResponse({"message": "Validation Failed", "details": details}, status_code=422)
        return JSONResponse({"message": str(exc.detail), "details": {}}, status_code=exc.status_code)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Format: 'Bearer YOUR_API_KEY'"}
            }
            schema["security"] = [{"bearer": []}]
            declare_responses(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    app.add_middleware(BodyLimits)  # inside BearerAuth: bodies of unauthenticated callers are never read
    app.add_middleware(BearerAuth, keys=keys)
    return app


def _semantic_error(errors: list[dict]) -> str | None:
    """Helicone's post-validation texts when every problem is one it reports that way (else None -> 422)."""
    found = []
    for e in errors:
        loc, msg = e.get("loc", ()), str(e.get("msg", ""))
        if e.get("type") != "value_error" or len(loc) < 2:
            return None
        if loc[1] == "timeFilter" and ("ISO 8601" in msg or "is after end" in msg):
            found.append("Invalid time filter")
        elif loc[1] == "timeZoneDifference" and "between -1440 and 1440" in msg:
            found.append("Invalid time zone difference")
        else:
            return None
    # Helicone checks the time filter before the time zone difference.
    return min(found, key=("Invalid time filter", "Invalid time zone difference").index) if found else None


def main(args) -> int:
    """Run the server on --host/--port over the embedded store (HELIQA_HOME)."""
    import uvicorn

    keys = parse_keys(settings().secret("heliqa_serve_keys"))
    # A store kept fresh in this process is opened for writing; DuckDB lets this process's readers see each commit.
    sync_every = getattr(args, "sync_every", None)
    store = Store(read_only=not sync_every)
    if sync_every:
        from heliqa.tools.sync import start_live_sync

        org = args.org or settings().heliqa_org_id
        start_live_sync(store, org, sync_every, lambda line: sys.stderr.write(f"heliqa: {line}\n"))
    known = store.organizations()
    for org in sorted(set(keys.values()) - set(known)):  # served (answers are empty) but likely a typo: say so
        sys.stderr.write(f"heliqa: organization {org} of HELIQA_SERVE_KEYS has no data in {store.path}\n")
    sys.stderr.write(
        f"heliqa: serving {len(keys)} key(s), {len(known)} organization(s) in {store.path}; "
        f"http://{args.host}:{args.port} (OpenAPI at /openapi.json)\n"
    )
    uvicorn.run(create_app(store, keys), host=args.host, port=args.port, log_level="info")
    return 0
