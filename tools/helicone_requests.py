"""Helicone's request listing, `POST /v1/request/query-clickhouse`: its body, its rows, its paging and sort rules.

Both sides use these models: the client (`list_requests`, `iter_requests`, and `heliqa sync` on top of them) and
`heliqa serve`, which answers the same endpoint from the embedded store (`query_store`). Semantics follow
Helicone's request store and sort builder: `limit` 0..1000 (default 10), `offset`, one sort
key chosen by a fixed priority whatever the JSON order (an unknown or unusable key falls back to
`request_created_at DESC`), property sort keys `[A-Za-z0-9_]+`, rows de-duplicated by `request_id`, cost in USD.
Where Helicone leaves the order of ties to chance, the embedded store breaks them by `request_id`, so offset
paging over it never skips or repeats a row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heliqa.tools.errors import BackendError, InvalidRequest
from heliqa.tools.filters import FilterNode
from heliqa.tools.limits import Offset
from heliqa.tools.results import iso_z
from heliqa.tools.validation import validate

if TYPE_CHECKING:
    from heliqa.tools.store import Store


class HeliconeClient(Protocol):
    """What these calls need of `heliqa.tools.helicone.HeliconeClient` (named here, not imported: the backend
    there imports this module)."""

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body and return the Result's `data`."""
        ...


QUERY_PATH = "/v1/request/query-clickhouse"
MAX_LIMIT = 1000  # Helicone answers `invalid limit` above this
# What Helicone puts in place of a body it keeps in object storage (its SQL's `if(notEmpty(body), body, ...)`).
BODY_PLACEHOLDER = {
    "helicone_message": "fetching body from signed_url... contact engineering@helicone.ai for more information"
}
_PROPERTY_SORT_KEY = re.compile(r"[A-Za-z0-9_]+", re.ASCII)

Direction = Literal["asc", "desc"]


# Helicone's ClickHouse sort builder tries the keys in this order and uses the first one set.
SORT_PRIORITY = (
    "random",
    "created_at",
    "latency",
    "total_tokens",
    "completion_tokens",
    "prompt_tokens",
    "user_id",
    "body_model",
    "is_cached",
    "request_prompt",
    "response_text",
    "properties",
)


class RequestSort(BaseModel):
    """Helicone's `SortLeafRequest`: several keys may be sent, one is used (see `chosen`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    random: Literal[True] | None = None
    created_at: Direction | None = None
    cache_created_at: Direction | None = None
    latency: Direction | None = None
    last_active: Direction | None = None
    total_tokens: Direction | None = None
    completion_tokens: Direction | None = None
    prompt_tokens: Direction | None = None
    user_id: Direction | None = None
    body_model: Direction | None = None
    is_cached: Direction | None = None
    request_prompt: Direction | None = None
    response_text: Direction | None = None
    properties: dict[str, Direction] | None = None
    values: dict[str, Direction] | None = None
    cost: Direction | None = None
    time_to_first_token: Direction | None = None

    def chosen(self) -> tuple[str, Direction, str | None]:
        """(key, direction, property key) Helicone sorts by; `request_created_at DESC` when no usable key is set."""
        for key in SORT_PRIORITY:
            value = getattr(self, key)
            if value is None:
                continue
            if key == "random":
                return "random", "asc", None
            if key == "properties":
                if not value:
                    continue
                name, direction = next(iter(value.items()))
                if not _PROPERTY_SORT_KEY.fullmatch(name):
                    raise InvalidRequest([f"sort.properties: {name!r} is not a sortable property key ([A-Za-z0-9_]+)"])
                return "properties", direction, name
            return key, value, None
        return "created_at", "desc", None


class RequestQuery(BaseModel):
    """Helicone's `RequestQueryParams` for `/v1/request/query-clickhouse` (request_response_rmt filters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    filter: FilterNode
    offset: Offset = 0
    limit: int = Field(10, ge=0, le=MAX_LIMIT)
    sort: RequestSort = RequestSort(created_at="desc")
    isCached: bool | None = None
    includeInputs: bool | None = None
    isPartOfExperiment: bool | None = None
    isScored: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The body as Helicone expects it (aliases, no unset keys)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class HeliconeRequest(BaseModel):
    """One row of `/v1/request/query-clickhouse`, field names as Helicone sends them."""

    model_config = ConfigDict(extra="allow")  # Helicone adds fields over time; keep what we do not know
    request_id: str
    request_created_at: str
    response_id: str | None = None
    response_created_at: str | None = None
    response_status: int | None = None
    response_body: Any = None
    request_body: Any = None
    request_path: str | None = None
    request_user_id: str | None = None
    request_properties: dict[str, Any] | None = None
    request_model: str | None = None
    response_model: str | None = None
    model_override: str | None = None
    model: str | None = None
    helicone_user: str | None = None
    provider: str | None = None
    delay_ms: int | None = None
    time_to_first_token: int | None = None
    total_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_cache_write_tokens: int | None = None
    prompt_cache_read_tokens: int | None = None
    reasoning_tokens: int | None = None
    prompt_audio_tokens: int | None = None
    completion_audio_tokens: int | None = None
    cost: float | None = None
    costUSD: float | None = None
    prompt_id: str | None = None
    prompt_version: str | None = None
    feedback_created_at: str | None = None
    feedback_id: str | None = None
    feedback_rating: bool | None = None
    signed_body_url: str | None = None
    llmSchema: Any = None
    country_code: str | None = None
    asset_ids: list[str] | None = None
    asset_urls: dict[str, str] | None = None
    scores: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    assets: list[str] | None = None
    target_url: str | None = None
    cache_reference_id: str | None = None
    cache_enabled: bool | None = None
    updated_at: str | None = None
    request_referrer: str | None = None
    ai_gateway_body_mapping: str | None = None
    storage_location: str | None = None

    @field_validator(
        "delay_ms",
        "time_to_first_token",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "prompt_cache_write_tokens",
        "prompt_cache_read_tokens",
        mode="before",
    )
    @classmethod
    def _whole(cls, value: Any) -> Any:
        # ClickHouse's Int64 arrives as a JSON string when output_format_json_quote_64bit_integers is on.
        return int(value) if isinstance(value, str) and value.lstrip("-").isdecimal() else value


# --- client side ------------------------------------------------------------------------------------------------
def _rows(data: Any) -> list[HeliconeRequest]:
    if not isinstance(data, list):
        raise BackendError(f"{QUERY_PATH} answered without a list of requests")
    try:
        return [HeliconeRequest.model_validate(item) for item in data]
    except ValueError as error:
        raise BackendError(f"{QUERY_PATH} answered a row that is not a HeliconeRequest: {error}") from None


def _dedupe(rows: list[HeliconeRequest], seen: set[str]) -> list[HeliconeRequest]:
    out = []
    for row in rows:
        if row.request_id not in seen:
            seen.add(row.request_id)
            out.append(row)
    return out


def list_requests(
    client: HeliconeClient, filter: Any = "all", sort: dict | None = None, limit: int = 10, offset: int = 0
) -> list[HeliconeRequest]:
    """Up to `limit` requests matching a Helicone filter tree, in Helicone's sort order (pages of 1000 beyond that).

    E.g. the 5 slowest gpt-4 requests: `list_requests(client, leaf("model", "equals", "gpt-4"), {"latency": "desc"},
    limit=5)`.
    """
    if limit < 0 or offset < 0:
        raise InvalidRequest(["limit and offset must not be negative"])
    if limit == 0:
        return []
    out: list[HeliconeRequest] = []
    for page in iter_requests(client, filter, sort, page_size=min(limit, MAX_LIMIT), offset=offset):
        out.extend(page[: limit - len(out)])
        if len(out) >= limit:
            break
    return out


def iter_requests(
    client: HeliconeClient, filter: Any = "all", sort: dict | None = None, page_size: int = MAX_LIMIT, offset: int = 0
) -> Iterator[list[HeliconeRequest]]:
    """Pages of requests in the given sort (offset paging, rows already yielded dropped) until a page comes back
    short. Offsets over a sort with ties are only as stable as Helicone's order: `heliqa sync` pages by time instead.
    """
    base = {"filter": _filter_json(filter), "sort": sort or {"created_at": "desc"}}
    seen: set[str] = set()
    while True:
        query = validate(RequestQuery, {**base, "limit": page_size, "offset": offset})
        page = _rows(client.post(QUERY_PATH, query.to_json()))
        if not page:
            return
        fresh = _dedupe(page, seen)
        if fresh:
            yield fresh
        if len(page) < page_size:
            return
        offset += page_size


def query_page(client: HeliconeClient, query: RequestQuery) -> list[HeliconeRequest]:
    """One call to the endpoint, rows as sent (duplicates included)."""
    return _rows(client.post(QUERY_PATH, query.to_json()))


def query_rows(client: HeliconeClient, query: RequestQuery) -> tuple[list[HeliconeRequest], list[str], int]:
    """One call, row by row: (rows that are HeliconeRequests, why each other one is not, how many rows came).

    For `heliqa sync`: one malformed row (a number beyond 64 bits, a missing id) is reported and skipped
    instead of failing the page, and every later run with it.
    """
    data = client.post(QUERY_PATH, query.to_json())
    if not isinstance(data, list):
        raise BackendError(f"{QUERY_PATH} answered without a list of requests")
    rows, bad = [], []
    for i, item in enumerate(data):
        try:
            rows.append(HeliconeRequest.model_validate(item))
        except ValueError as error:
            rid = item.get("request_id") if isinstance(item, dict) else None
            who = f"request {rid[:80]}" if isinstance(rid, str) else f"row {query.offset + i + 1} of a page"
            first = error.errors()[0] if hasattr(error, "errors") else {"loc": (), "msg": str(error)}
            where = ".".join(map(str, first["loc"])) or "row"
            bad.append(f"{who}: {where}: {first['msg'][:200]}")
    return rows, bad, len(data)


def _filter_json(node: Any) -> Any:
    if isinstance(node, BaseModel):
        return node.model_dump(mode="json", by_alias=True, exclude_none=True)
    return node


# --- HeliconeRequest -> the store's import row --------------------------------------------------------------------
def _body(value: Any) -> str:
    if value is None or value == "" or value == BODY_PLACEHOLDER:
        return ""
    if isinstance(value, str):
        try:
            if json.loads(value) == BODY_PLACEHOLDER:
                return ""
        except ValueError:
            pass
        return value
    return json.dumps(value, ensure_ascii=False)


def _score(value: Any) -> Any:
    # The Postgres variant of the endpoint sends {"value": n, "valueType": ...}; ClickHouse sends the integer.
    return value.get("value") if isinstance(value, dict) else value


def to_store_row(row: HeliconeRequest, org: str, bodies: bool = False) -> dict[str, Any]:
    """The import row (`tools.importer.normalize` input) for one Helicone request of organization `org`."""
    properties = row.properties if row.properties else (row.request_properties or {})
    out: dict[str, Any] = {
        "request_id": row.request_id,
        "organization_id": org,
        "request_created_at": row.request_created_at,
        "response_created_at": row.response_created_at,
        "latency": row.delay_ms,
        "time_to_first_token": row.time_to_first_token,
        "status": row.response_status,
        "model": row.model or row.request_model or row.response_model or "",
        "provider": row.provider or "",
        "user_id": row.request_user_id or "",
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.total_tokens,
        "prompt_cache_read_tokens": row.prompt_cache_read_tokens,
        "prompt_cache_write_tokens": row.prompt_cache_write_tokens,
        "cost": row.cost if row.cost is not None else row.costUSD,
        "target_url": row.target_url,
        "country_code": row.country_code,
        "cache_enabled": bool(row.cache_enabled),
        "cache_reference_id": row.cache_reference_id,
        "prompt_id": row.prompt_id,
        "prompt_version": row.prompt_version,
        "request_referrer": row.request_referrer,
        "properties": {str(k): v for k, v in properties.items()},
        "scores": {str(k): _score(v) for k, v in (row.scores or {}).items()},
        "request_body": _body(row.request_body) if bodies else "",
        "response_body": _body(row.response_body) if bodies else "",
    }
    return out


# --- server side: the endpoint over the embedded store -------------------------------------------------------------
def _sort_sql(sort: RequestSort, params: dict[str, Any]) -> str:
    key, direction, prop = sort.chosen()
    d = direction.upper()
    if key == "random":
        return "random()"
    if key == "properties":
        params["sort_key"] = prop
        return f"coalesce(r.properties[$sort_key], '') {d}, r.request_id"
    expr = {
        "created_at": "r.request_created_at",
        "latency": "r.latency",
        "total_tokens": "(r.prompt_tokens + r.completion_tokens)",
        "completion_tokens": "r.completion_tokens",
        "prompt_tokens": "r.prompt_tokens",
        "user_id": "r.user_id",
        "body_model": "r.model",
        "is_cached": f"(r.cache_reference_id != '{_ZERO_UUID}')",
        "request_prompt": "CASE WHEN json_valid(r.request_body) "
        "THEN json_extract_string(r.request_body, '$.prompt') END",
        "response_text": "CASE WHEN json_valid(r.response_body) "
        "THEN json_extract_string(r.response_body, '$.choices[0].text') END",
    }[key]
    # ClickHouse puts NULLs last whatever the direction; ties are broken by request_id so pages never overlap.
    return f"{expr} {d} NULLS LAST, r.request_id {d}"


_ZERO_UUID = "00000000-0000-0000-0000-000000000000"
_COLUMNS = (
    "request_id request_created_at response_created_at status latency time_to_first_token model provider user_id "
    "prompt_tokens completion_tokens prompt_cache_read_tokens prompt_cache_write_tokens cost target_url country_code "
    "cache_enabled cache_reference_id prompt_id prompt_version request_referrer properties scores request_body "
    "response_body"
).split()
_SELECT = ", ".join(f"r.{name}" for name in _COLUMNS)


def query_store(store: Store, org: str, query: RequestQuery) -> list[dict[str, Any]]:
    """`data` of `/v1/request/query-clickhouse` for `org`, computed on the embedded store."""
    from heliqa.tools.store import DuckDialect

    if query.limit == 0:
        return []
    d = DuckDialect()
    where = [f"r.organization_id = {d.param(org)}", d.node(query.filter)]
    if query.isScored:
        where.append("cardinality(r.scores) > 0")
    order = _sort_sql(query.sort, d.params)
    d.params["limit"], d.params["offset"] = query.limit, query.offset
    sql = f"SELECT {_SELECT} FROM requests r WHERE {' AND '.join(where)} ORDER BY {order} LIMIT $limit OFFSET $offset"
    return [_helicone_row(values) for values in store.fetch(sql, d.params)]


def count_store(store: Store, org: str, node: Any, extra: str | None = None) -> int:
    """How many requests of `org` match a filter tree."""
    from heliqa.tools.store import DuckDialect

    d = DuckDialect()
    where = [f"r.organization_id = {d.param(org)}", d.node(node)] + ([extra] if extra else [])
    return int(store.fetch(f"SELECT count(*) FROM requests r WHERE {' AND '.join(where)}", d.params)[0][0])


def get_store(store: Store, org: str, request_id: str) -> dict[str, Any] | None:
    """One request of `org` by id, as a HeliconeRequest object, or None."""
    rows = store.fetch(
        f"SELECT {_SELECT} FROM requests r WHERE r.organization_id = $org AND r.request_id = $id",
        {"org": org, "id": request_id},
    )
    return _helicone_row(rows[0]) if rows else None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_z(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment, True)


def _json_body(text: str) -> Any:
    if not text:
        return BODY_PLACEHOLDER
    try:
        return json.loads(text)  # Helicone parses bodies it keeps in ClickHouse (safeJsonParse)
    except ValueError:
        return text


def _helicone_row(values: tuple) -> dict[str, Any]:
    r = dict(zip(_COLUMNS, values, strict=True))
    model, prompt, completion, cost = r["model"], r["prompt_tokens"], r["completion_tokens"], r["cost"] / 1e9
    properties = dict(r["properties"] or {})
    return {
        "response_id": r["request_id"],  # the store keeps one id per request; Helicone's response id is not exported
        "response_created_at": _iso(r["response_created_at"]),
        "response_body": _json_body(r["response_body"]),
        "response_status": int(r["status"]),
        "response_model": model,
        "request_id": r["request_id"],
        "request_created_at": _iso(r["request_created_at"]),
        "request_body": _json_body(r["request_body"]),
        "request_path": r["target_url"] or "",
        "request_user_id": r["user_id"],
        "request_properties": properties,
        "request_model": model,
        "model_override": None,
        "model": model,
        "helicone_user": None,
        "provider": r["provider"],
        "delay_ms": r["latency"],
        "time_to_first_token": r["time_to_first_token"],
        "total_tokens": None if prompt is None or completion is None else prompt + completion,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "prompt_cache_read_tokens": r["prompt_cache_read_tokens"],
        "prompt_cache_write_tokens": r["prompt_cache_write_tokens"],
        "reasoning_tokens": None,
        "prompt_audio_tokens": None,
        "completion_audio_tokens": None,
        "cost": cost,
        "costUSD": cost,
        "prompt_id": r["prompt_id"],
        "prompt_version": r["prompt_version"],
        "feedback_created_at": None,
        "feedback_id": None,
        "feedback_rating": None,
        "signed_body_url": None,
        "llmSchema": None,
        "country_code": r["country_code"],
        "asset_ids": [],
        "asset_urls": None,
        "scores": dict(r["scores"] or {}),
        "properties": properties,
        "assets": [],
        "target_url": r["target_url"],
        "cache_reference_id": r["cache_reference_id"],
        "cache_enabled": bool(r["cache_enabled"]),
        "updated_at": _iso(r["request_created_at"]),
        "request_referrer": r["request_referrer"],
        "ai_gateway_body_mapping": "",
        "storage_location": "clickhouse",
    }
