"""`heliqa serve`: Helicone's analytics API (scores, metrics, property and score-key lookups, and the request
endpoints of `heliqa/serve_requests.py`) over the embedded store, whose queries are `tools/serve_queries.py`.

Request and response shapes, paths and status codes follow Helicone's API (jawn's controllers), so the
Helicone REST backend works against it unchanged. Deliberate differences, all on the side of strictness:
bodies are validated by heliqa's models (multi-key leaves and bad time filters on metrics endpoints are 422s),
caller errors on metrics endpoints are 400s where Helicone answers 500, and percentiles are exact.
"""

import hmac
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from heliqa.tools.errors import BackendError, ConfigError, HeliqaError, InvalidRequest, LimitExceeded
from heliqa.tools.limits import MAX_BODY_BYTES, parse_json
from heliqa.tools.query import ScoresRequest
from heliqa.tools.serve_queries import (
    AGGREGATES,
    SERIES,
    MetricsFilterBody,
    MetricsOverTimeBody,
    PropertySearchBody,
    QuantilesBody,
    ServeQueries,
    TableBody,
)
from heliqa.tools.settings import settings
from heliqa.tools.store import Store
from heliqa.tools.validation import validate

PUBLIC_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/healthz")


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


# --- the app, one endpoint family at a time -------------------------------------------------------------
@dataclass
class Routes:
    """What each endpoint family registers into: the app, the store's queries, and each path's body model
    (the 422 handler rewrites pydantic's errors against it)."""

    app: Any
    queries: ServeQueries
    body_models: dict[str, type[BaseModel]] = field(default_factory=dict)

    def post(self, path: str, body: type[BaseModel] | None = None, **doc: Any) -> Callable:
        """The app's POST decorator for `path`, remembering the body model its validation errors refer to."""
        if body is not None:
            self.body_models[path] = body
        return self.app.post(path, **doc)


def org_of(request: Any) -> str:
    """The organization of the request's API key (set by BearerAuth)."""
    return request.state.org


def result(path_kind: str, run: Callable[[], Any]) -> Any:
    """Helicone's Result envelope: scores errors are 200, metrics caller errors 400, server faults 500."""
    from fastapi.responses import JSONResponse

    try:
        return {"data": run(), "error": None}
    except BackendError as error:
        status = 200 if path_kind == "scores" else 500
        return JSONResponse({"data": None, "error": error.message}, status_code=status)
    except HeliqaError as error:  # NotAvailable / InvalidRequest from the filter compiler
        status = 200 if path_kind == "scores" else 400
        return JSONResponse({"data": None, "error": str(error)}, status_code=status)


def _add_scores(routes: Routes) -> None:
    from fastapi import Request

    path = "/v1/dashboard/scores/query"

    @routes.post(path, ScoresRequest, tags=["Dashboard"], summary="Average score per bucket and key")
    def scores_query(body: ScoresRequest, request: Request):
        return result("scores", lambda: routes.queries.scores(org_of(request), body))


def _add_aggregates(routes: Routes) -> None:
    from fastapi import Request

    def add(name: str) -> None:
        def endpoint(body: MetricsFilterBody, request: Request):
            return result("metrics", lambda: routes.queries.aggregate(name, org_of(request), body))

        path = f"/v1/metrics/{name}"
        routes.post(path, MetricsFilterBody, tags=["Metrics"], name=name, summary=name)(endpoint)

    for name in AGGREGATES:
        add(name)


def _add_series(routes: Routes) -> None:
    from fastapi import Request

    queries = routes.queries

    def add(name: str) -> None:
        def endpoint(body: MetricsOverTimeBody, request: Request):
            return result("metrics", lambda: queries.series(name, org_of(request), body))

        path = f"/v1/metrics/{name}"
        routes.post(path, MetricsOverTimeBody, tags=["Metrics"], name=name, summary=name)(endpoint)

    for name in SERIES:
        add(name)

    path = "/v1/metrics/requestStatusOverTime"

    @routes.post(path, MetricsOverTimeBody, tags=["Metrics"], summary="requestStatusOverTime")
    def request_status_over_time(body: MetricsOverTimeBody, request: Request):
        return result("metrics", lambda: queries.request_status_over_time(org_of(request), body))

    path = "/v1/metrics/modelUsageOverTime"

    @routes.post(path, MetricsOverTimeBody, tags=["Metrics"], summary="modelUsageOverTime")
    def model_usage_over_time(body: MetricsOverTimeBody, request: Request):
        return result("metrics", lambda: queries.model_usage_over_time(org_of(request), body))

    path = "/v1/metrics/quantiles"

    @routes.post(path, QuantilesBody, tags=["Metrics"], summary="p75/p90/p95/p99 per bucket")
    def quantiles(body: QuantilesBody, request: Request):
        return result("metrics", lambda: queries.quantiles(org_of(request), body))


def _add_tables(routes: Routes) -> None:
    from fastapi import Request

    queries = routes.queries

    @routes.post("/v1/metrics/models", TableBody, tags=["Metrics"], summary="Totals per model, by request count")
    def models(body: TableBody, request: Request):
        return result("metrics", lambda: queries.models(org_of(request), body))

    @routes.post("/v1/metrics/country", TableBody, tags=["Metrics"], summary="Requests per country")
    def country(body: TableBody, request: Request):
        return result("metrics", lambda: queries.countries(org_of(request), body))


def _add_properties(routes: Routes) -> None:
    from fastapi import Request

    from heliqa.serve_schema import PropertyQueryBody

    queries = routes.queries

    @routes.post("/v1/property/query", tags=["Property"], summary="Property keys of the organization")
    def property_keys(request: Request, body: PropertyQueryBody | None = None):
        return result("metrics", lambda: queries.property_keys(org_of(request)))

    path = "/v1/property/{propertyKey}/search"

    @routes.post(path, PropertySearchBody, tags=["Property"], summary="Up to 25 values of a property")
    def property_values(propertyKey: str, body: PropertySearchBody, request: Request):  # noqa: N803 (Helicone's name)
        return result("metrics", lambda: queries.property_values(org_of(request), propertyKey, body.searchTerm))


def _add_score_keys(routes: Routes) -> None:
    from fastapi import Request

    @routes.app.get("/v1/evals/scores", tags=["Evals"], summary="Score keys of the organization")
    def score_keys(request: Request):
        return result("metrics", lambda: routes.queries.score_keys(org_of(request)))


def _add_error_handlers(app: Any, body_models: dict[str, type[BaseModel]]) -> None:
    """Bodies that do not validate: Helicone's 422 shape (or the scores endpoint's 200 texts)."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(RequestValidationError)
    async def validation_failed(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if request.url.path == "/v1/dashboard/scores/query":
            semantic = _semantic_error(errors)
            if semantic:  # Helicone checks these after validation and answers 200 with an error
                return JSONResponse({"data": None, "error": semantic})
        model = body_models.get(request.scope.get("route").path if request.scope.get("route") else "")
        return JSONResponse(
            {"message": "Validation Failed", "details": _details(errors, exc.body, model)}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers bytes it cannot decode with 400 {"detail": ...}: give them the same 422 as any bad body.
        if exc.status_code == 400 and request.method == "POST":
            details = {"requestBody": {"message": "invalid JSON (the body must be UTF-8 JSON)"}}
            return JSONResponse({"message": "Validation Failed", "details": details}, status_code=422)
        return JSONResponse({"message": str(exc.detail), "details": {}}, status_code=exc.status_code)


def _details(errors: list[dict], body: Any, model: type[BaseModel] | None) -> dict[str, Any]:
    """Helicone's `details` of a 422: `requestBody.<path>` -> {message}, written by heliqa's validation."""
    details: dict[str, Any] = {}
    invalid_json = any(e["type"] == "json_invalid" for e in errors)
    if invalid_json or not isinstance(body, dict) or model is None:
        details["requestBody"] = {"message": "invalid JSON" if invalid_json else "the body must be a JSON object"}
        return details
    try:
        validate(model, body)
        problems = [f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors]
    except InvalidRequest as invalid:
        problems = invalid.problems
    for problem in problems:
        path, _, message = problem.partition(": ")
        details[f"requestBody.{path}" if path != "request" else "requestBody"] = {"message": message}
    return details


def _use_openapi(app: Any) -> None:
    """The OpenAPI document with bearer auth and every response model declared (built once)."""
    from fastapi.openapi.utils import get_openapi

    from heliqa.serve_schema import declare_responses

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


def create_app(store: Store, keys: dict[str, str]):
    """The FastAPI app serving Helicone's endpoints over `store`, one organization per API key."""
    from fastapi import FastAPI

    from heliqa.serve_requests import add_request_endpoints

    app = FastAPI(
        title="heliqa serve — Helicone-compatible analytics API",
        version="1",
        description="Helicone's POST /v1/dashboard/scores/query and /v1/metrics/* over heliqa's embedded store. "
        "Authenticate with `authorization: Bearer <key>` (keys from HELIQA_SERVE_KEYS).",
    )
    routes = Routes(app, ServeQueries(store))
    _add_error_handlers(app, routes.body_models)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    # Registration order is the order of the OpenAPI document's paths.
    for family in (_add_scores, _add_aggregates, _add_series, _add_tables, _add_properties):
        family(routes)
    add_request_endpoints(app, routes.queries, result, org_of, routes.body_models)
    _add_score_keys(routes)
    _use_openapi(app)
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
    stop_watch = lambda: None  # noqa: E731
    if getattr(args, "watch", None) is not None:
        from heliqa.watch import in_background

        stop_watch = in_background(args, store)
    try:
        uvicorn.run(create_app(store, keys), host=args.host, port=args.port, log_level="info")
    finally:
        stop_watch()
    return 0
