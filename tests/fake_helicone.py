"""A real HTTP server on 127.0.0.1 that behaves like Helicone's API for the REST backend's tests.

It answers like Helicone does (auth and error envelope): 401 `{"error": "No authorization header"}` without a key,
401 with `isAuthenticated.error` for a wrong key, Result envelopes `{"data", "error"}`, the scores endpoint's
200-with-error, 500s from metrics endpoints, 422 `Validation Failed`, 429 with `Retry-After`, and slow answers.
Tests script the answers per path (FIFO) and read back every request the server received.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class RawReply:
    """A hostile answer written byte for byte: any payload (not JSON, a gzip bomb), trickled if asked."""

    payload: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds between single bytes of the payload (0: all at once)


def gzip_bomb(decompressed: int, chunk: int = 1 << 20) -> bytes:
    """A gzip stream of `decompressed` zero bytes (about 1,000 times smaller), built without holding it all."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    zeros = bytes(chunk)
    parts = [packer.compress(zeros) for _ in range(decompressed // chunk)]
    return b"".join(parts) + packer.flush()


def send_raw(handler: BaseHTTPRequestHandler, reply: RawReply) -> None:
    """Write `reply` on the handler's connection; a client that gave up is not an error."""
    try:
        handler.send_response(reply.status)
        handler.send_header("content-type", "application/json; charset=utf-8")
        handler.send_header("content-length", str(len(reply.payload)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if not reply.trickle:
            handler.wfile.write(reply.payload)
            return
        handler.wfile.flush()
        for i in range(len(reply.payload)):
            handler.wfile.write(reply.payload[i : i + 1])
            handler.wfile.flush()
            time.sleep(reply.trickle)
    except (BrokenPipeError, ConnectionResetError):
        pass


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeHelicone:
    """Start with `with FakeHelicone(key) as fake:`; `fake.url` is the base URL."""

    def __init__(self, key: str = "sk-helicone-test-0000000-1111111-2222222-3333333"):
        self.key = key
        self.script: dict[str, deque[Reply]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self.handlers: dict[str, Any] = {}  # path -> body -> Reply or RawReply, for paths that compute instead
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHelicone:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- scripting -----------------------------------------------------------------------------------
    def reply(self, path: str, data: Any, times: int = 1) -> None:
        """Answer `path` with `{"data": data, "error": null}` (200)."""
        for _ in range(times):
            self.script[path].append(Reply(200, {"data": data, "error": None}))

    def fail(self, path: str, status: int, error: str) -> None:
        """Answer with Helicone's error envelope: status 200 for the scores endpoint, 500 for metrics."""
        self.script[path].append(Reply(status, {"data": None, "error": error}))

    def raw(self, path: str, reply: Reply | RawReply) -> None:
        """Answer with exactly this reply."""
        self.script[path].append(reply)

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [s.path for s in self.seen]

    def bodies(self, path: str) -> list[Any]:
        """Bodies received on `path`, in order."""
        return [s.body for s in self.seen if s.path == path]

    # --- the server ----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            wbufsize = 1 << 16  # headers and body leave in one write (no delayed-ACK stalls)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                with fake._lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    fake.seen.append(Seen(self.command, self.path, headers, body))
                    scripted = fake.script[self.path].popleft() if fake.script[self.path] else None
                auth = self.headers.get("authorization")
                if auth is None:
                    return self._send(Reply(401, {"error": "No authorization header"}))
                if auth != f"Bearer {fake.key}":
                    return self._send(Reply(401, {"error": "Invalid API key", "trace": "isAuthenticated.error"}))
                if scripted is None and self.path in fake.handlers:
                    computed = fake.handlers[self.path](body)
                    return send_raw(self, computed) if isinstance(computed, RawReply) else self._send(computed)
                if scripted is None:
                    return self._send(Reply(404, {"message": f"no scripted answer for {self.path}"}))
                if isinstance(scripted, RawReply):
                    return send_raw(self, scripted)
                if scripted.delay:
                    time.sleep(scripted.delay)
                self._send(scripted)

            do_GET = _answer
            do_POST = _answer

            def _send(self, reply: Reply) -> None:
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json; charset=utf-8")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        return Handler


# --- /v1/request/query-clickhouse over a list of rows ----------------------------------------------------------------
QUERY_PATH = "/v1/request/query-clickhouse"
# Helicone's ClickHouse sort builder: the first key set in this order wins (jawn's request query).
_SORT_COLUMNS = {
    "created_at": "request_created_at",
    "latency": "delay_ms",
    "total_tokens": "total_tokens",
    "completion_tokens": "completion_tokens",
    "prompt_tokens": "prompt_tokens",
    "user_id": "request_user_id",
    "body_model": "model",
}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(text: str) -> datetime:
    # Helicone sends DateTime query parameters without a fraction of a second.
    return _instant(text).replace(microsecond=0)


def _matches(node: Any, row: dict[str, Any]) -> bool:
    if node == "all" or node == {}:
        return True
    if "operator" in node:
        left, right = _matches(node["left"], row), _matches(node["right"], row)
        return left and right if node["operator"] == "and" else left or right
    ((field, ops),) = node["request_response_rmt"].items()
    if field == "properties":  # {"properties": {key: {op: value}}}; a missing key reads as ''
        ((key, ops),) = ops.items()
        return _compare(next(iter(ops)), (row.get("properties") or {}).get(key, ""), next(iter(ops.values())))
    ((op, value),) = ops.items()
    if field == "request_created_at":
        return _compare(op, _instant(row["request_created_at"]), _seconds(value))
    if field == "cost":  # Helicone compares nano-USD with floor(value * 1e9)
        return _compare(op, round(row["cost"] * 1e9), int(value * 1e9))
    if field not in _FILTER_COLUMNS:
        raise ValueError(f"the fake does not filter on {field}")
    return _compare(op, row[_FILTER_COLUMNS[field]], value)


# Filter fields the fake answers, as the row field Helicone's endpoint names them.
_FILTER_COLUMNS = {
    "model": "request_model",
    "provider": "provider",
    "status": "response_status",
    "user_id": "request_user_id",
    "latency": "delay_ms",
    "country_code": "country_code",
}


def _compare(op: str, actual: Any, value: Any) -> bool:
    if actual is None:  # ClickHouse: NULL compares to nothing
        return False
    if op in ("contains", "not-contains"):
        found = str(value).lower() in str(actual).lower()
        return found if op == "contains" else not found
    return {
        "equals": lambda: actual == value,
        "not-equals": lambda: actual != value,
        "gte": lambda: actual >= value,
        "gt": lambda: actual > value,
        "lte": lambda: actual <= value,
        "lt": lambda: actual < value,
    }[op]()


@dataclass
class RequestLog:
    """An organization's requests served like Helicone serves them, with faults to script per call.

    Faults (consumed one per call, FIFO): "429" (rate limited, Retry-After), "503" (a bare 5xx), "error" (a 500
    with Helicone's error envelope, which clients do not retry), "short" (the
    page cut to half), "duplicate" (a row sent twice in the page). `late` rows become visible after a number of
    calls. Ties in the sort order come back in a different random order on every call, as ClickHouse may.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[str] = field(default_factory=deque)
    late: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    calls: int = 0
    retry_after: str = "0"
    seed: int = 1

    def visible(self) -> list[dict[str, Any]]:
        """Every row the server holds now."""
        return self.rows + [row for after, row in self.late if self.calls > after]

    def answer(self, body: Any) -> Reply:
        """Helicone's answer to one query body."""
        import random

        self.calls += 1
        fault = self.faults.popleft() if self.faults else None
        if fault == "429":
            return Reply(429, {"error": "rate limited"}, {"retry-after": self.retry_after})
        if fault == "503":
            return Reply(503, None)
        if fault == "error":  # Helicone's own failure envelope: not retried
            return Reply(500, {"data": None, "error": "ClickHouse query failed"})
        if not isinstance(body, dict) or "filter" not in body:
            return Reply(
                422, {"message": "Validation Failed", "details": {"requestBody.filter": {"message": "required"}}}
            )
        limit, offset = body.get("limit", 10), body.get("offset", 0)
        if not 0 <= limit <= 1000:
            return Reply(500, {"data": None, "error": "invalid limit"})
        try:
            rows = [row for row in self.visible() if _matches(body["filter"], row)]
        except (ValueError, KeyError, TypeError) as error:
            return Reply(500, {"data": None, "error": str(error)})
        sort = body.get("sort") or {"created_at": "desc"}
        key, direction = next(((k, sort[k]) for k in _SORT_COLUMNS if k in sort), ("created_at", "desc"))
        column = _SORT_COLUMNS[key]
        rng = random.Random(self.seed * 1_000_003 + self.calls)
        rows = sorted(rows, key=lambda _: rng.random())  # ties: a fresh order each call
        rows.sort(key=lambda r: (r[column] is None, r[column]), reverse=direction == "desc")
        page = rows[offset : offset + limit]
        seen: set[str] = set()
        page = [r for r in page if not (r["request_id"] in seen or seen.add(r["request_id"]))]  # Helicone's JS
        if fault == "short":
            page = page[: len(page) // 2]
        if fault == "duplicate" and page:
            page = page + [page[0]]
        return Reply(200, {"data": page, "error": None})

    def total(self, body: Any) -> Reply:
        """`/v1/metrics/totalRequests`: count(*) with `start <= request_created_at <= end` and the filter."""
        start, end = _seconds(body["timeFilter"]["start"]), _seconds(body["timeFilter"]["end"])
        rows = [
            r
            for r in self.visible()
            if start <= _instant(r["request_created_at"]) <= end and _matches(body["filter"], r)
        ]
        return Reply(200, {"data": len(rows), "error": None})


def helicone_row(row: dict[str, Any]) -> dict[str, Any]:
    """A `request_response_rmt`-shaped row (the demo generator's) as Helicone's endpoint returns it."""
    created = _instant(row["request_created_at"]).astimezone(UTC)
    responded = _instant(row["response_created_at"]).astimezone(UTC) if row.get("response_created_at") else None
    ms = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"  # noqa: E731
    return {
        "response_id": row["request_id"],
        "response_created_at": ms(responded) if responded else None,
        "response_body": {"helicone_message": "fetching body from signed_url... contact engineering@helicone.ai"},
        "response_status": row["status"],
        "request_id": row["request_id"],
        "request_body": {"helicone_message": "fetching body from signed_url... contact engineering@helicone.ai"},
        "request_created_at": ms(created),
        "request_user_id": row["user_id"],
        "request_properties": row["properties"],
        "provider": row["provider"],
        "delay_ms": row["latency"],
        "request_model": row["model"],
        "ai_gateway_body_mapping": "",
        "time_to_first_token": row["time_to_first_token"],
        "total_tokens": row["prompt_tokens"] + row["completion_tokens"],
        "completion_tokens": row["completion_tokens"],
        "prompt_tokens": row["prompt_tokens"],
        "prompt_cache_read_tokens": 0,
        "prompt_cache_write_tokens": 0,
        "country_code": row["country_code"],
        "scores": row["scores"],
        "properties": row["properties"],
        "asset_ids": [],
        "target_url": row["target_url"],
        "cache_reference_id": "00000000-0000-0000-0000-000000000000",
        "request_referrer": "",
        "cache_enabled": False,
        "cost": row["cost"],
        "prompt_id": "",
        "prompt_version": "",
        "updated_at": ms(created),
        "storage_location": "s3",
        "signed_body_url": None,
    }


def serve_requests(fake: FakeHelicone, log: RequestLog, counts: bool = True) -> RequestLog:
    """Make `fake` answer the request query endpoint (and, with `counts`, totalRequests) from `log`."""
    fake.handlers[QUERY_PATH] = log.answer
    if counts:
        fake.handlers["/v1/metrics/totalRequests"] = log.total
    return log
