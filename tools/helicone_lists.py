"""Request lists on Helicone's REST API (`POST /v1/request/query-clickhouse`), exact despite its order of ties.

Helicone sorts by one key — created_at, latency or total_tokens; a `cost` sort falls back to created_at — and
returns the rows that tie on it in an order that changes from call to call, so neither
its order of ties nor offset pages across a tie can be trusted. A list of the top N is taken from:

1. one call sorted by the order's key (offset 0, so the page is one consistent sort), when the page holds every
   matching request or a row with a strictly smaller key follows the N-th row: every request that can be in
   the top N is then in hand, and sorting them locally by (key desc, request_id asc) gives the exact answer.
   A first page of about 2N rows, then one of 1,000 (Helicone's limit), before giving up on this way;
2. otherwise (cost, or more ties than a page holds) every matching request, when Helicone counts at most
   MAX_SCAN of them: read by time (created_at ascending from a whole-second lower bound, as `heliqa sync` pages,
   the second of a page's last row read again and de-duplicated by request_id), then sorted locally;
3. else NotAvailable, naming why and the backends that list any range exactly.

A `scoreBelow` condition cannot be sent (Helicone's score filters test equality only): NotAvailable as well.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from heliqa.tools.errors import BackendError, NotAvailable
from heliqa.tools.filters import all_of, leaf, parse_instant
from heliqa.tools.helicone_requests import (
    MAX_LIMIT,
    HeliconeClient,
    HeliconeRequest,
    RequestQuery,
    query_page,
    to_store_row,
)
from heliqa.tools.investigate import ListQuery, RequestRow, prompt_snippet
from heliqa.tools.query import HalfOpenTimeFilter
from heliqa.tools.results import iso_z
from heliqa.tools.sql import seconds_utc

MAX_SCAN = 10_000  # matching requests read whole (10 pages) when Helicone cannot give the top N directly
ELSEWHERE = "use --backend embedded (after `heliqa sync` or `heliqa import`) or --backend clickhouse"
# The order's sort key on Helicone's endpoint (None: it cannot sort by it).
SORT_KEYS = {"newest": "created_at", "latency": "latency", "tokens": "total_tokens", "cost": None}
ORDER_WORDS = {"newest": "created_at", "latency": "latency", "tokens": "total tokens", "cost": "cost"}
LIST_WORDS = {"newest": "newest", "latency": "slowest", "tokens": "biggest", "cost": "most expensive"}
Rank = tuple[bool, Any]  # (has a value, value): NULLs rank below every value, as ClickHouse sorts them last


def list_requests(client: HeliconeClient, query: ListQuery, dashboard_url: str | None = None) -> list[RequestRow]:
    """The query's requests, largest first by its order, ties by request_id ascending, as the embedded store lists
    them; each row links to the request in Helicone's dashboard when `dashboard_url` is given."""
    if query.scoreBelow is not None:
        raise NotAvailable(
            f"listing requests scored below {query.scoreBelow.below} on {query.scoreBelow.key} is not available from "
            "Helicone's API: its score filters only test equality",
            ELSEWHERE,
        )
    base = all_of([*_range_nodes(query), query.userFilter])
    rank = _RANKS[query.order]
    rows = _top_page(client, base, query, rank) if SORT_KEYS[query.order] else None
    if rows is None:
        rows = _every_row(client, base, query)
    best = sorted(rows, key=lambda r: r.request_id)
    best.sort(key=rank, reverse=True)  # stable: ties stay in request_id order
    return [to_request_row(r, dashboard_url) for r in best[: query.limit]]


def request_link(dashboard_url: str, request_id: str) -> str:
    """The request's page in Helicone's dashboard: its requests table with the request's drawer open
    (`/requests?requestId=…`, the parameter Helicone's web app reads), on the dashboard's host (US or EU)."""
    parts = urllib.parse.urlsplit(dashboard_url)
    query = urllib.parse.urlencode({"requestId": request_id})
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/requests", query, ""))


# The requests page's filter rows (Helicone's web app: `filters` of /requests, read by
# components/templates/requests/RequestsPage.tsx against REQUEST_TABLE_FILTERS in
# services/lib/filters/frontendFilterDefs.ts, then the organization's property keys). A monitor dimension -> the
# row's label; a property key is a label of its own; country has no row.
PAGE_LABELS = {"model": "Model", "provider": "Provider", "user": "User", "status": "Status"}
PAGE_BUILT_IN = {
    "request", "request-id", "response", "prompt tokens", "completion tokens", "total tokens", "user", "model",
    "provider", "status", "path", "feedback", "ai gateway",
}  # fmt: skip
MAX_PAGE_VALUE = 200  # a longer value is left out of the link rather than make it unwieldy
MAX_PAGE_URL = 2000
_JS_KEPT = "!*'()"  # what encodeURIComponent keeps besides letters, digits and -_.~


def requests_page_link(
    dashboard_url: str, start: datetime, end: datetime, filters: list[tuple[str, Any]]
) -> tuple[str, list[str]]:
    """Helicone's requests page over [start, end] (naive UTC) with the monitor filters (`model`, `provider`,
    `user`, `status`, `property.<key>`: a value or a list) it can carry, and the dimensions it cannot (broader).

    The page reads `t=custom_<ISO start>_<ISO end>` and `filters=`: a JSON tree of `{"type": "node", "operator",
    "rows"}` and `{"type": "leaf", "filter": "<label>:<operator>:<value>"}`, URI-decoded as a whole before it is
    parsed and split on `:`. So the JSON is URI-encoded once more than the query string does (any value survives
    exactly), and a label or value holding `:` is not carried (the split would cut it), nor a country (no row), nor a
    property key spelled like a built-in row (the page takes the first label that matches), nor an empty value."""
    rows, broader = [], []
    for key, value in filters:
        row = _page_row(key, value)
        if row is None:
            broader.append(key)
        else:
            rows.append(row)
    window = f"custom_{_iso(start)}_{_iso(end)}"
    url = _page_url(dashboard_url, window, rows)
    if len(url) > MAX_PAGE_URL:  # too many or too long values: the window alone
        url, broader = _page_url(dashboard_url, window, []), [key for key, _ in filters]
    return url, broader


def _page_row(key: str, value: Any) -> dict[str, Any] | None:
    """One dimension's filter row (an `or` node for a list), or None when the page cannot carry it."""
    label = key.split(".", 1)[1] if key.startswith("property.") else PAGE_LABELS.get(key)
    if label is None or ":" in label or (key.startswith("property.") and label.strip().lower() in PAGE_BUILT_IN):
        return None
    values = [str(v).upper() if key == "provider" else str(v) for v in (value if isinstance(value, list) else [value])]
    if not values or any(not v or ":" in v or len(v) > MAX_PAGE_VALUE for v in values):
        return None
    leaves = [{"type": "leaf", "filter": f"{label}:equals:{v}"} for v in values]
    return leaves[0] if len(leaves) == 1 else {"type": "node", "operator": "or", "rows": leaves}


def _page_url(dashboard_url: str, window: str, rows: list[dict[str, Any]]) -> str:
    params = {"t": window}
    if rows:
        tree = json.dumps({"type": "node", "operator": "and", "rows": rows}, separators=(",", ":"))
        params["filters"] = urllib.parse.quote(tree, safe=_JS_KEPT)  # as encodeURIComponent: the page decodes it
    parts = urllib.parse.urlsplit(dashboard_url)
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/requests", query, ""))


def to_request_row(row: HeliconeRequest, dashboard_url: str | None = None) -> RequestRow:
    """A list row from Helicone's request, read as `heliqa sync` stores it (prompt snippet, never the body)."""
    stored = to_store_row(row, "", bodies=True)
    return RequestRow(
        request_id=row.request_id,
        created_at=_created(row).replace(tzinfo=None),
        model=stored["model"],
        provider=stored["provider"],
        status=int(stored["status"] or 0),
        latency_ms=stored["latency"],
        total_tokens=stored["total_tokens"],
        cost=None if _nano(row) is None else _nano(row) / 1e9,
        user_id=stored["user_id"],
        prompt="" if _placeholder(row.request_body) else prompt_snippet(stored["request_body"]),
        link=request_link(dashboard_url, row.request_id) if dashboard_url else "",
    )


# --- 1. the top of one sorted page --------------------------------------------------------------------------
def _top_page(client: HeliconeClient, base: Any, query: ListQuery, rank: Callable) -> list[HeliconeRequest] | None:
    """Every request that can be in the top N, from one sorted call; None when no page of 1,000 shows them all."""
    n = query.limit
    for size in sorted({min(MAX_LIMIT, 2 * n + 50), MAX_LIMIT}):
        sent = query_page(client, RequestQuery(filter=base, limit=size, sort={SORT_KEYS[query.order]: "desc"}))
        page = _unique(sent)
        ranks = [rank(r) for r in page]
        if any(later > earlier for earlier, later in zip(ranks, ranks[1:], strict=False)):
            raise BackendError(f"Helicone did not sort requests by {ORDER_WORDS[query.order]} as asked")
        if len(sent) < size:
            return page  # a short page is every matching request
        if len(page) > n and ranks[-1] < ranks[n - 1]:
            return page  # the N-th row's ties end inside the page: every request ranked at or above it is here
    return None


# --- 2. every matching request, by time ------------------------------------------------------------------------
def _every_row(client: HeliconeClient, base: Any, query: ListQuery) -> list[HeliconeRequest]:
    """All requests matching `base` (at most MAX_SCAN, counted first), read in created_at order by whole seconds."""
    total = _count(client, base, query)
    if total > MAX_SCAN:
        why = (
            "Helicone's request query cannot sort by cost"
            if query.order == "cost"
            else f"more requests tie on {ORDER_WORDS[query.order]} than one page of {MAX_LIMIT} holds"
        )
        raise NotAvailable(
            f"listing the {query.limit} {LIST_WORDS[query.order]} requests is not available from "
            f"Helicone's API for {total:,} matching requests: {why}, and reading more than {MAX_SCAN:,} requests to "
            "sort them here is too slow",
            f"narrow the time range or the filters, or {ELSEWHERE}",
        )
    held: dict[str, HeliconeRequest] = {}
    lo: datetime | None = None
    while True:
        node = all_of([base, leaf("request_created_at", "gte", _iso(lo))]) if lo else base
        sent = query_page(client, RequestQuery(filter=node, limit=MAX_LIMIT, sort={"created_at": "asc"}))
        times = [_created(r) for r in sent]
        if any(b < a for a, b in zip(times, times[1:], strict=False)) or (lo and any(t < lo for t in times)):
            raise BackendError("Helicone did not sort or filter requests by created_at as asked")
        for row in sent:
            held.setdefault(row.request_id, row)
        if len(sent) < MAX_LIMIT:
            break
        last = max(times).replace(microsecond=0)
        if lo is not None and last <= lo:
            raise NotAvailable(
                f"listing these requests is not available from Helicone's API: more than {MAX_LIMIT} of them fall in "
                f"the second {_iso(lo)}, which its paging cannot read whole",
                ELSEWHERE,
            )
        lo = last  # the rows of that second come again and are dropped by request_id
    if len(held) < total:
        raise BackendError(f"Helicone counts {total} matching requests but sent {len(held)}", "ask again in a moment")
    return list(held.values())


def _count(client: HeliconeClient, base: Any, query: ListQuery) -> int:
    """Helicone's count of the requests matching `base` (its time filter only frames the range `base` holds)."""
    body = {
        "filter": base if base == "all" else base.model_dump(mode="json", by_alias=True, exclude_none=True),
        "timeFilter": {
            "start": iso_z(seconds_utc(query.timeFilter.start), millis=True),
            "end": iso_z(seconds_utc(query.timeFilter.end), millis=True),
        },
    }
    return int(client.post("/v1/metrics/totalRequests", body) or 0)


# --- helpers -------------------------------------------------------------------------------------------------
def _range_nodes(query: ListQuery) -> list[Any]:
    """`start <= created_at <= end` (`< end` for a half-open range) in whole seconds, as every backend reads it."""
    end = "lt" if isinstance(query.timeFilter, HalfOpenTimeFilter) else "lte"
    return [
        leaf("request_created_at", "gte", _iso(seconds_utc(query.timeFilter.start))),
        leaf("request_created_at", end, _iso(seconds_utc(query.timeFilter.end))),
    ]


def _iso(moment: datetime) -> str:
    return iso_z(moment, millis=True)


def _created(row: HeliconeRequest) -> datetime:
    return parse_instant(row.request_created_at).astimezone(UTC)


def _nano(row: HeliconeRequest) -> int | None:
    """Cost in whole nano-USD, as Helicone keeps it and every store holds it (its USD float divides by 1e9)."""
    cost = row.cost if row.cost is not None else row.costUSD
    return None if cost is None else round(cost * 1e9)


def _placeholder(body: Any) -> bool:
    """Helicone's stand-in for a body kept in object storage (its wording varies: any lone `helicone_message`)."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return False
    return isinstance(body, dict) and list(body) == ["helicone_message"]


def _unique(rows: list[HeliconeRequest]) -> list[HeliconeRequest]:
    seen: set[str] = set()
    return [r for r in rows if not (r.request_id in seen or seen.add(r.request_id))]


def _ranked(value: Any) -> Rank:
    return (value is not None, value)


_RANKS: dict[str, Callable[[HeliconeRequest], Rank]] = {
    "newest": lambda r: _ranked(_created(r)),
    "latency": lambda r: _ranked(r.delay_ms),
    "tokens": lambda r: _ranked(r.total_tokens),
    "cost": lambda r: _ranked(_nano(r)),
}
