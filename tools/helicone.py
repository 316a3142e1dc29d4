"""Helicone's REST API as a backend: every extended query goes to the endpoints that answer it exactly.

Helicone's endpoints compute fixed things. Where one differs from heliqa's meaning of a
measure, the query is narrowed with extra filter leaves so the endpoint's answer becomes exact (for example
`status >= 400` on `totalRequests` for errors, `user_id != ''` on `activeUsers`), and companion counts tell
empty buckets from zeros. What no combination answers exactly raises `NotAvailable` — never an approximation.
The mapping, per measure and shape, is documented in docs/helicone.md.
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import time
import urllib.parse
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from heliqa.tools.cache import VOCABULARY_TTL_S, TtlCache
from heliqa.tools.errors import BackendError, ConfigError, NotAvailable
from heliqa.tools.filters import all_of, any_of, leaf, parse_instant
from heliqa.tools.helicone_lists import list_requests as list_helicone_requests
from heliqa.tools.helicone_responses import checked_data
from heliqa.tools.investigate import ExplainQuery, Explanation, ListQuery, RequestRow
from heliqa.tools.limits import MAX_RESPONSE_BYTES, BodyTooLarge, BodyTooSlow, BodyUnreadable, read_capped
from heliqa.tools.query import MetricsQuery, ScoresRequest, TimeFilter
from heliqa.tools.results import Row, Vocabulary, iso_z
from heliqa.tools.rows import keep_top
from heliqa.tools.settings import redact, settings
from heliqa.tools.sql import seconds_utc
from heliqa.tools.timebuckets import bucket_labels, fill_buckets
from heliqa.tools.urls import mask_url, split_credentials

US_BASE_URL = "https://api.helicone.ai"
EU_BASE_URL = "https://eu.api.helicone.ai"
US_DASHBOARD_URL = "https://us.helicone.ai/dashboard"
EU_DASHBOARD_URL = "https://eu.helicone.ai/dashboard"
UNAVAILABLE = "not available from Helicone's API; use the ClickHouse or embedded backend"
# ClickHouse `quantile` keeps a reservoir of 8192 values per bucket; up to that size it is exact.
QUANTILE_EXACT_LIMIT = 8192
HELICONE_PERCENTILES = ("p75", "p90", "p95", "p99")
QUANTILE_METRICS = {
    "latency": "latency",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
}
COLUMNS = {
    "latency": "latency",
    "ttft": "time_to_first_token",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "cost": "cost",
}
TOKEN_MEASURES = ("prompt_tokens", "completion_tokens", "total_tokens")
MODEL_LIMIT = 10_000  # the models and country endpoints clamp `limit` to 10,000
RETRY_STATUSES = (429, 502, 503, 504)

log = logging.getLogger("heliqa.helicone")


def unavailable(what: str, why: str) -> NotAvailable:
    """The error for a query Helicone's API cannot answer exactly."""
    return NotAvailable(f"{what} is {UNAVAILABLE}", why)


# --- filter pieces ------------------------------------------------------------------------------------
def _errors() -> Any:
    return leaf("status", "gte", 400)


def _named_user() -> Any:
    return leaf("user_id", "not-equals", "")


def _not_null(column: str) -> Any:
    # Helicone has no IS NOT NULL operator; NULL fails both comparisons, every number passes one.
    return any_of([leaf(column, "gte", 0), leaf(column, "lt", 0)])


def _tokens_not_null(measure: str) -> Any:
    if measure == "total_tokens":  # Helicone's total is prompt + completion (its table has no total column)
        return all_of([_not_null("prompt_tokens"), _not_null("completion_tokens")])
    return _not_null(measure)


def _value_not_null(measure: str) -> Any:
    return _tokens_not_null(measure) if measure in TOKEN_MEASURES else _not_null(COLUMNS[measure])


def _parse_time(text: str) -> datetime:
    return parse_instant(text).astimezone(UTC).replace(tzinfo=None)


def _key(moment: datetime) -> str:
    return iso_z(moment, millis=True)


# --- HTTP ---------------------------------------------------------------------------------------------
class HeliconeClient:
    """Authenticated JSON calls to Helicone, each bounded in time (overall deadline, capped retry sleep),
    in size (decompressed answer) and in shape (the answer is checked against Helicone's response models)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = US_BASE_URL,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        deadline: float | None = None,
        max_retry_sleep: float = 30.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ):
        url, had_credentials = split_credentials(base_url.rstrip("/"))
        if had_credentials:
            # httpx would send them as Basic auth in place of the API key, and log them with every request
            log.warning("HELICONE_BASE_URL carries credentials; they are not sent (Helicone authenticates by API key)")
        self.base_url = mask_url(base_url.rstrip("/"))  # as shown in messages
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else 2 * timeout  # whole call: attempts and waits
        self.max_retry_sleep = max_retry_sleep
        self.max_response_bytes = max_response_bytes
        self._secret = api_key
        self._http = httpx.Client(
            base_url=url,
            headers={"authorization": f"Bearer {api_key}", "accept": "application/json", "accept-encoding": "gzip"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"HeliconeClient(base_url={self.base_url!r}, key=***)"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body and return the Result's `data`."""
        return self._call("POST", path, body)

    def get(self, path: str) -> Any:
        """GET and return the Result's `data`."""
        return self._call("GET", path, None)

    def _scrub(self, text: str) -> str:
        text = re.sub(re.escape(self._secret), "***", text, flags=re.IGNORECASE) if self._secret else text
        return redact(text)  # an echoed Authorization header, in whatever case or encoding

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        deadline = time.monotonic() + self.deadline
        slept = 0.0
        last = ""
        for attempt in range(self.retries + 1):
            answer = None
            started = time.monotonic()
            budget = min(self.timeout, deadline - started)
            try:
                answer = self._send(method, path, body, budget, deadline)
            except _DeadlinePassed:
                # The server kept sending, slowly: what cut it off was the whole call's deadline, not the timeout.
                last = f"the answer was still arriving when the call's {self.deadline:g} s deadline passed"
            except httpx.TimeoutException:
                last = f"no answer within {budget:g} s"
            except httpx.TransportError as error:
                last = f"cannot reach {self.base_url} ({type(error).__name__})"
            else:
                log.debug("%s %s -> %s in %.0f ms", method, path, answer.status, (time.monotonic() - started) * 1000)
                outcome = self._outcome(path, answer)
                if outcome is not None:
                    return checked_data(path, outcome[0])
                last = f"HTTP {answer.status}{self._error_text(answer)}"
            if attempt == self.retries:
                break
            wait = self._retry_after(answer.headers) if answer is not None else None
            if wait is not None and wait > self.max_retry_after:
                raise BackendError(
                    f"Helicone is rate limiting {path}: it asks to retry after {wait:.0f} s",
                    "wait and ask again; the limit is per organization",
                )
            pause = wait if wait is not None else self.backoff * 2**attempt
            if slept + pause > self.max_retry_sleep or time.monotonic() + pause >= deadline:
                last += f" (no retry: waiting {pause:g} s more would pass the call's {self.deadline:g} s deadline"
                last += f" or {self.max_retry_sleep:g} s of waiting)"
                break
            time.sleep(pause)
            slept += pause
        raise BackendError(
            self._scrub(f"Helicone {path} failed after {attempt + 1} attempts: {last}"),
            "check HELICONE_BASE_URL and Helicone's status page, or use the embedded backend",
        )

    def _send(self, method: str, path: str, body: Any, budget: float, deadline: float) -> _Answer:
        """One request, its body read and decompressed chunk by chunk against the deadline and the size cap."""
        if budget <= 0:
            raise _DeadlinePassed("the call's deadline has passed")
        timeout = httpx.Timeout(budget, connect=min(budget, 10.0))
        with self._http.stream(method, path, json=body, timeout=timeout) as response:
            encoding = response.headers.get("content-encoding", "identity")
            try:
                payload = read_capped(response.iter_raw(), encoding, self.max_response_bytes, deadline)
            except BodyTooLarge:
                raise AnswerTooLarge(
                    f"Helicone's answer to {path} is larger than {self.max_response_bytes:,} bytes "
                    "decompressed (response size limit)",
                    "ask for a shorter range or a larger bucket",
                ) from None
            except BodyUnreadable as error:
                raise BackendError(f"Helicone's answer to {path} cannot be read: {error}") from None
            except BodyTooSlow:  # a server trickling its answer byte by byte
                raise _DeadlinePassed("the call's deadline has passed") from None
        return _Answer(response.status_code, response.headers, payload)

    def _outcome(self, path: str, answer: _Answer) -> tuple[Any] | None:
        """(data,) on success; None when the call should be retried; raises for a definite failure."""
        status, payload = answer.status, answer.payload
        envelope = isinstance(payload, dict) and "error" in payload
        if status in RETRY_STATUSES or (status >= 500 and not envelope):
            return None
        if status in (401, 403):
            raise ConfigError(
                self._scrub(f"Helicone refused the API key on {path} (HTTP {status}){self._error_text(answer)}"),
                "check HELICONE_API_KEY (a key with read permission) and HELICONE_BASE_URL (US or EU region)",
            )
        if status == 422:
            raise BackendError(self._scrub(f"Helicone rejected the request to {path} as invalid: {_details(payload)}"))
        if status >= 400 or (envelope and payload.get("error")):
            # Metrics endpoints answer errors with 500; the scores endpoint with 200 and {"data": null, "error"}.
            raise BackendError(self._scrub(f"Helicone answered {path} with an error{self._error_text(answer)}"))
        if not isinstance(payload, dict) or "data" not in payload:
            why = f": {answer.problem}" if answer.problem else ""
            raise BackendError(f"Helicone answered {path} with an unexpected body (HTTP {status}){why}")
        return (payload["data"],)

    def _error_text(self, answer: _Answer) -> str:
        payload = answer.payload
        if payload is None:
            text = answer.raw[:200].decode("utf-8", "replace").strip()
            return f": {self._scrub(text)}" if text else ""
        if isinstance(payload, dict):
            error = payload.get("error") or payload.get("message")
            if error:
                return ": " + self._scrub(error if isinstance(error, str) else _short_json(error))
        return ""

    @staticmethod
    def _retry_after(headers: httpx.Headers) -> float | None:
        """Seconds to wait from Retry-After (delay-seconds or an HTTP date); None when absent or unusable."""
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
        if seconds is not None:
            return max(0.0, seconds) if math.isfinite(seconds) else None  # 'inf' and 'nan' are no delay
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


class AnswerTooLarge(BackendError):
    """An answer grew past the client's size limit (decompressed); a smaller page may fit."""


class _DeadlinePassed(httpx.ReadTimeout):
    """A call's overall deadline passed while its answer was still arriving (a trickle)."""


class _Answer:
    """A response read in full: status, headers, body and its JSON (None when it is not JSON)."""

    def __init__(self, status: int, headers: httpx.Headers, raw: bytes):
        self.status, self.headers, self.raw = status, headers, raw
        self.problem = ""
        try:
            self.payload = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as error:
            self.payload = None
            deep = "depth" in str(error) or "recursion" in str(error)
            self.problem = "nested too deep" if deep else "not JSON"


def _short_json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()[:300]
    except (TypeError, orjson.JSONEncodeError):
        return type(value).__name__


def _details(payload: Any) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("details"), dict):
        parts = []
        for path, detail in payload["details"].items():
            message = detail.get("message") if isinstance(detail, dict) else detail
            parts.append(f"{path}: {str(message)[:200]}")
        return "; ".join(parts)[:500]
    return _short_json(payload)


# --- the backend ------------------------------------------------------------------------------------------
class HeliconeBackend:
    """Answers extended queries through Helicone's REST API (the API key selects the organization)."""

    name = "helicone"

    def __init__(
        self,
        client: HeliconeClient,
        vocabulary_ttl: float = VOCABULARY_TTL_S,
        vocabulary_days: int = 90,
        dashboard_url: str | None = None,
    ):
        self.client = client
        self.dashboard_url = dashboard_url or dashboard_for(client.base_url)  # where list rows link to
        self.vocabulary_days = vocabulary_days
        self._vocab: TtlCache[Vocabulary] = TtlCache(vocabulary_ttl)

    def __repr__(self) -> str:
        return f"HeliconeBackend({self.client!r})"

    @classmethod
    def from_env(cls) -> HeliconeBackend:
        """Configure from HELICONE_API_KEY, HELICONE_BASE_URL (default US), HELICONE_TIMEOUT (seconds) and
        HELICONE_DASHBOARD_URL (default: the US or EU dashboard, as the API's region)."""
        s = settings()  # validated: an http(s) URL with a numeric port, a positive finite timeout
        key = (s.secret("helicone_api_key") or "").strip()
        if not key:
            raise ConfigError(
                "HELICONE_API_KEY is not set",
                "create an API key with read access in Helicone (Settings > API Keys) and export HELICONE_API_KEY; "
                "or use --backend embedded",
            )
        base = s.helicone_base_url or US_BASE_URL
        timeout = s.helicone_timeout
        return cls(HeliconeClient(key, base, timeout=timeout), dashboard_url=s.helicone_dashboard_url)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    # --- Backend protocol ---------------------------------------------------------------------------
    def resolve_org(self, org: str | None) -> str:
        """The key decides the organization; an explicit org is only a label here."""
        return org or "helicone-api-key"

    def scores(self, request: ScoresRequest, org: str) -> list[dict[str, Any]]:
        """POST /v1/dashboard/scores/query as is."""
        data = self.client.post("/v1/dashboard/scores/query", request.to_json())
        if not isinstance(data, list):
            raise BackendError("Helicone's scores endpoint answered without a data list")
        return data

    def vocabulary(self, org: str) -> Vocabulary:
        """Models (with counts over the lookback window), property keys and values, score keys, user count."""
        return self._vocab.get(org, self._load_vocabulary)

    def _load_vocabulary(self) -> Vocabulary:
        now = datetime.now(UTC).replace(tzinfo=None)
        window = {
            "start": _key(now.replace(microsecond=0) - timedelta(days=self.vocabulary_days)),
            "end": _key(now.replace(microsecond=0) + timedelta(days=1)),
        }
        # Helicone's REST API lists no countries: `countries` stays None, so a country filter is not checked
        vocab = Vocabulary()
        models = self.client.post(
            "/v1/metrics/models", {"filter": "all", "timeFilter": window, "offset": 0, "limit": MODEL_LIMIT}
        )
        vocab.models = {str(m["model"]): int(m["total_requests"]) for m in models or []}
        keys = self.client.post("/v1/property/query", {}) or []
        for item in keys:
            key = item["property"] if isinstance(item, dict) else str(item)
            path = f"/v1/property/{urllib.parse.quote(key, safe='')}/search"
            values = self.client.post(path, {"searchTerm": ""})
            vocab.properties[key] = {str(v): 0 for v in values or []}
        vocab.score_keys = {str(k): 0 for k in self.client.get("/v1/evals/scores") or []}
        users = self.client.post("/v1/metrics/activeUsers", {"filter": _json(_named_user()), "timeFilter": window})
        vocab.users = int(users or 0)
        return vocab

    def run(self, query: MetricsQuery, org: str) -> list[Row]:
        """Answer an extended query from the endpoints that compute it exactly, or raise NotAvailable."""
        rows = self._rows(query)
        if query.top is not None:
            # ranked by the group's value over the whole range, as every backend ranks
            overall = query.model_copy(update={"dbIncrement": None, "top": None})
            rows = keep_top(query, rows, rows if query.dbIncrement is None else self._rows(overall))
        if query.dbIncrement is not None:
            # Helicone fills the bucket starting at the range's end too; like the embedded store, drop that filler
            end = seconds_utc(query.timeFilter.end)
            rows = [r for r in rows if r.bucket is None or r.bucket < end or r.value not in (0, None)]
        return rows

    def list_requests(self, query: ListQuery, org: str) -> list[RequestRow]:
        """Exact lists from POST /v1/request/query-clickhouse (tools/helicone_lists.py), each row linked to the
        request in Helicone's dashboard."""
        return list_helicone_requests(self.client, query, self.dashboard_url)

    def explain(self, query: ExplainQuery, org: str) -> Explanation:
        """Helicone's REST API cannot compute an explanation exactly, so none is given."""
        raise NotAvailable(
            "explaining a change is not available on the Helicone backend: its API has no percentile of latency, "
            "cost or a score over an arbitrary baseline, and no counts of the requests beyond such a threshold by "
            "every dimension (model, provider, user, status, country, each property), which the window and the "
            "drivers need",
            "ask for the series instead (e.g. 'p90 latency by hour today'), or use --backend embedded or clickhouse",
        )

    # --- dispatch ------------------------------------------------------------------------------------
    def _rows(self, q: MetricsQuery) -> list[Row]:
        if q.measure == "errors":  # errors are the requests with status >= 400, grouped and filled like requests
            q = q.model_copy(update={"measure": "requests", "userFilter": all_of([q.userFilter, _errors()])})
        if q.measure == "score":
            return self._score_rows(q)
        group = q.group
        if group is None:
            return self._series(q) if q.dbIncrement else self._total(q)
        if group == "model":
            return self._by_model(q)
        if group == "status":
            return self._by_status(q)
        if group == "country" and q.dbIncrement is None:
            return self._by_table(q, "/v1/metrics/country", "country")
        raise unavailable(
            f"grouping by {group}{' per time bucket' if q.dbIncrement else ''}",
            "Helicone's endpoints group only by model, status, country (totals) and score key",
        )

    # --- endpoint calls --------------------------------------------------------------------------------
    def _time(self, q: MetricsQuery) -> dict[str, str]:
        return _time_json(q.timeFilter)

    def _aggregate(self, endpoint: str, q: MetricsQuery, extra: Iterable[Any] = ()) -> float:
        data = self.client.post(f"/v1/metrics/{endpoint}", {"filter": _filter(q, extra), "timeFilter": self._time(q)})
        return float(data or 0)

    def _over_time(
        self,
        endpoint: str,
        q: MetricsQuery,
        extra: Iterable[Any] = (),
        increment: str | None = None,
        tz: float | None = None,
        **more: Any,
    ) -> list[dict[str, Any]]:
        body = {
            "filter": _filter(q, extra),
            "timeFilter": self._time(q),
            "dbIncrement": increment or q.dbIncrement,
            "timeZoneDifference": q.timeZoneDifference if tz is None else tz,
            **more,
        }
        data = self.client.post(f"/v1/metrics/{endpoint}", body)
        if not isinstance(data, list):
            raise BackendError(f"Helicone's {endpoint} answered without a data list")
        return data

    def _counts(self, q: MetricsQuery, extra: Iterable[Any] = ()) -> dict[str, float]:
        """Requests per bucket label (fill rows included, as 0)."""
        return _by_time(self._over_time("requestOverTime", q, extra), "count")

    def _labels(self, q: MetricsQuery) -> list[datetime]:
        return bucket_labels(q.timeFilter, q.dbIncrement, q.timeZoneDifference)

    # --- totals -----------------------------------------------------------------------------------------
    def _total(self, q: MetricsQuery) -> list[Row]:
        m, agg = q.measure, q.agg
        n = self._aggregate("totalRequests", q)
        if n == 0:  # one number even of nothing, as the embedded store answers: 0 for counts and sums
            return [Row(None, None, 0.0 if m in ("requests", "threats", "users") or agg in ("sum", "count") else None)]
        if m == "requests":
            value: float | None = n
        elif m == "error_rate":
            value = 100.0 * self._aggregate("totalRequests", q, [_errors()]) / n
        elif m == "threats":
            value = self._aggregate("totalThreats", q)
        elif m == "users":
            value = self._aggregate("activeUsers", q, [_named_user()])
        elif agg == "count":
            value = self._aggregate("totalRequests", q, [_value_not_null(m)])
        elif m == "cost" and agg in ("sum", "avg"):
            total = self._aggregate("totalCost", q)
            value = total if agg == "sum" else total / n  # cost is never NULL in Helicone (UInt64 DEFAULT 0)
        elif m == "latency" and agg == "avg":
            known = self._aggregate("totalRequests", q, [_not_null("latency")])
            # averageLatency divides by count(*): restricted to non-NULL latencies it is the plain mean.
            value = self._aggregate("averageLatency", q, [_not_null("latency")]) if known else None
        elif m == "ttft" and agg == "avg":
            return self._ttft_total(q)
        elif m in TOKEN_MEASURES and agg == "sum":
            value = self._token_sum(q)
        elif agg in HELICONE_PERCENTILES and m in QUANTILE_METRICS:
            value = self._single_quantile(q)
        else:
            raise unavailable(_describe(q), _why(q))
        return [Row(None, None, value)]

    def _ttft_total(self, q: MetricsQuery) -> list[Row]:
        # averageTimeToFirstToken averages only ttft > 0; zeros are added back through the counts, and
        # negative values (which it would drop) must not exist for the answer to be exact.
        known = self._aggregate("totalRequests", q, [_not_null("time_to_first_token")])
        if not known:
            return [Row(None, None, None)]
        if self._aggregate("totalRequests", q, [leaf("time_to_first_token", "lt", 0)]):
            raise unavailable("average time to first token", "negative ttft values exist in range")
        positive = self._aggregate("totalRequests", q, [leaf("time_to_first_token", "gt", 0)])
        mean_positive = self._aggregate("averageTimeToFirstToken", q) if positive else 0.0
        return [Row(None, None, mean_positive * positive / known)]

    def _token_sum(self, q: MetricsQuery) -> float | None:
        if not self._aggregate("totalRequests", q, [_tokens_not_null(q.measure)]):
            return None
        # tokensOverTime sums exact integers per bucket; any bucketing covers the whole range once.
        series = self._over_time("tokensOverTime", q, increment="year", tz=0)
        fields = ("prompt_tokens", "completion_tokens") if q.measure == "total_tokens" else (q.measure,)
        return float(sum(int(r[f] or 0) for r in series for f in fields))

    def _single_quantile(self, q: MetricsQuery) -> float | None:
        tz = _one_year_bucket(q.timeFilter, q.timeZoneDifference)
        if tz is None:
            raise unavailable(
                f"{q.agg} of {q.measure} over a range crossing a year boundary",
                "Helicone's quantiles endpoint answers per bucket and percentiles cannot be merged",
            )
        sized = q.model_copy(update={"dbIncrement": "year", "timeZoneDifference": tz})
        values = self._quantile_series(sized)
        return next(iter(values.values()), None) if values else None

    def _quantile_series(self, q: MetricsQuery) -> dict[str, float | None]:
        """Percentile per populated bucket label (None where every value is NULL); refuses sampled buckets."""
        present = self._counts(q)
        known = self._counts(q, [_value_not_null(q.measure)])
        too_big = {k: n for k, n in known.items() if n > QUANTILE_EXACT_LIMIT}
        if too_big:
            label, n = max(too_big.items(), key=lambda kv: kv[1])
            raise unavailable(
                f"{q.agg} of {q.measure}",
                f"bucket {label} holds {int(n)} values and Helicone's ClickHouse `quantile` samples above "
                f"{QUANTILE_EXACT_LIMIT}; use a smaller bucket or range",
            )
        data = self._over_time("quantiles", q, metric=QUANTILE_METRICS[q.measure])
        got = {_key(_parse_time(r["time"])): r.get(q.agg) for r in data}
        return {
            k: (float(got[k]) if known.get(k) and got.get(k) is not None else None) for k in present if present[k] > 0
        }

    # --- one series ----------------------------------------------------------------------------------
    def _series(self, q: MetricsQuery) -> list[Row]:
        m, agg = q.measure, q.agg
        labels = self._labels(q)
        if m in ("requests", "threats", "users") or agg == "count":
            if m == "threats":
                values = _by_time(self._over_time("threatsOverTime", q), "count")
            elif m == "users":
                values = _by_time(self._over_time("usersOverTime", q, [_named_user()]), "count")
            else:
                values = self._counts(q, [_value_not_null(m)] if agg == "count" else [])
            return _filled(labels, values)
        if m == "error_rate":
            present = self._counts(q)
            errors = self._counts(q, [_errors()])
            return _rows({k: 100.0 * errors.get(k, 0) / n for k, n in present.items() if n > 0})
        if m == "cost" and agg == "sum":
            return _filled(labels, _by_time(self._over_time("costOverTime", q), "cost"))
        if m == "cost" and agg == "avg":
            present = self._counts(q)
            cost = _by_time(self._over_time("costOverTime", q), "cost")
            return _rows({k: cost.get(k, 0.0) / n for k, n in present.items() if n > 0})
        if m in TOKEN_MEASURES and agg == "sum":
            present = self._counts(q)
            known = self._counts(q, [_tokens_not_null(m)])
            fields = ("prompt_tokens", "completion_tokens") if m == "total_tokens" else (m,)
            sums = {
                _key(_parse_time(r["time"])): float(sum(int(r[f] or 0) for f in fields))
                for r in self._over_time("tokensOverTime", q)
            }
            return _filled(
                labels, {k: (sums.get(k, 0.0) if known.get(k) or not present.get(k) else None) for k in present}
            )
        if m == "latency" and agg == "avg":
            self._require_no_batch_models(q)
            return self._mean_series(q, "latencyOverTime", "duration", keep_empty=True)
        if m == "ttft" and agg == "avg":
            return self._mean_series(q, "timeToFirstToken", "ttft", keep_empty=False)
        if agg in HELICONE_PERCENTILES and m in QUANTILE_METRICS:
            return _rows(self._quantile_series(q))
        raise unavailable(_describe(q), _why(q))

    def _mean_series(self, q: MetricsQuery, endpoint: str, field: str, keep_empty: bool) -> list[Row]:
        column = COLUMNS[q.measure]
        present = self._counts(q) if keep_empty else {}
        known = self._counts(q, [_not_null(column)])
        data = self._over_time(endpoint, q, [_not_null(column)])
        means = _by_time(data, field)
        values: dict[str, float | None] = {k: means.get(k) for k, n in known.items() if n > 0}
        for k, n in present.items():  # requests exist but every value is NULL: a row without a value
            if n > 0 and k not in values:
                values[k] = None
        return _rows(values)

    def _require_no_batch_models(self, q: MetricsQuery) -> None:
        # latencyOverTime silently drops models containing "-batch" (case-insensitive); exact only without them.
        models = self._table("/v1/metrics/models", "model", q)
        batch = sorted(m for m in models if "-batch" in m.lower())
        if batch:
            raise unavailable(
                "average latency per time bucket",
                f"Helicone's latencyOverTime leaves out batch models, and this range has {', '.join(batch[:5])}",
            )

    # --- grouped -------------------------------------------------------------------------------------
    def _table(self, endpoint: str, field: str, q: MetricsQuery, extra: Iterable[Any] = ()) -> dict[str, dict]:
        data = self.client.post(
            endpoint, {"filter": _filter(q, extra), "timeFilter": self._time(q), "offset": 0, "limit": MODEL_LIMIT}
        )
        if not isinstance(data, list):
            raise BackendError(f"Helicone's {endpoint} answered without a data list")
        if len(data) >= MODEL_LIMIT:
            raise unavailable(f"grouping by {field}", f"more than {MODEL_LIMIT} groups")
        return {str(r[field]): r for r in data}

    def _by_table(self, q: MetricsQuery, endpoint: str, field: str) -> list[Row]:
        m, agg = q.measure, q.agg
        every = self._table(endpoint, field, q)
        if field == "country":
            every.pop("", None)  # the embedded store drops requests without a country
        counts = {g: float(r["total_requests"]) for g, r in every.items()}
        if m == "requests":
            values = counts
        elif m == "error_rate":
            bad = {g: float(r["total_requests"]) for g, r in self._table(endpoint, field, q, [_errors()]).items()}
            values = {g: 100.0 * bad.get(g, 0.0) / n for g, n in counts.items()}
        elif field == "model" and m == "cost" and agg in ("sum", "avg"):
            values = {g: float(r["cost"]) / (counts[g] if agg == "avg" else 1.0) for g, r in every.items()}
        elif field == "model" and m in TOKEN_MEASURES and agg == "sum":
            column = {
                "prompt_tokens": "total_prompt_token",
                "completion_tokens": "total_completion_tokens",
                "total_tokens": "total_tokens",
            }[m]
            values = {g: None if r[column] is None else float(r[column]) for g, r in every.items()}
        else:
            raise unavailable(
                f"{_describe(q)} by {field}",
                f"the {field} endpoint reports request counts"
                + (", cost and token sums" if field == "model" else " only"),
            )
        return [Row(None, g, values[g]) for g in sorted(values)]

    def _by_model(self, q: MetricsQuery) -> list[Row]:
        if q.dbIncrement is None:
            return self._by_table(q, "/v1/metrics/models", "model")
        if q.measure not in ("requests", "error_rate"):
            raise unavailable(
                f"{_describe(q)} by model per time bucket",
                "modelUsageOverTime reports only request counts and token sums per model",
            )
        models = set(self._table("/v1/metrics/models", "model", q))
        if "" in models and "unknown" in models:
            raise unavailable(
                "requests by model per time bucket",
                "modelUsageOverTime names both the empty model and 'unknown' as 'unknown'",
            )
        present = self._model_usage(q, "" in models)
        if q.measure == "requests":
            return _filled_groups(self._labels(q), present)
        errors = self._model_usage(q, "" in models, [_errors()])
        return _group_rows({k: 100.0 * errors.get(k, 0.0) / n for k, n in present.items() if n > 0})

    def _model_usage(self, q: MetricsQuery, empty_model: bool, extra: Iterable[Any] = ()) -> dict[tuple, float]:
        out: dict[tuple, float] = {}
        for r in self._over_time("modelUsageOverTime", q, extra):
            model = "" if empty_model and r["model"] == "unknown" else str(r["model"])
            out[(_key(_parse_time(r["time"])), model)] = float(r["request_count"])
        return out

    def _by_status(self, q: MetricsQuery) -> list[Row]:
        if q.measure not in ("requests", "error_rate"):
            raise unavailable(f"{_describe(q)} by status", "requestStatusOverTime reports request counts only")
        increment = q.dbIncrement or "year"  # for totals, any bucketing is summed back per status
        counts: dict[tuple, float] = {}
        for r in self._over_time("requestStatusOverTime", q, increment=increment):
            if not r.get("count") or r.get("status") is None:
                continue  # fill rows carry count 0
            bucket = _key(_parse_time(r["time"])) if q.dbIncrement else None
            key = (bucket, str(int(r["status"])))
            counts[key] = counts.get(key, 0.0) + float(r["count"])

        if q.measure == "requests":
            values = counts
        else:  # within one status the error rate is all or nothing
            values = {k: 100.0 if int(k[1]) >= 400 else 0.0 for k in counts}
        if q.dbIncrement is None:
            return [Row(None, s, v) for (_, s), v in sorted(values.items(), key=lambda kv: kv[0][1])]
        if q.measure == "error_rate":
            return _group_rows(values)
        return _filled_groups(self._labels(q), values)

    # --- scores ---------------------------------------------------------------------------------------
    def _score_rows(self, q: MetricsQuery) -> list[Row]:
        if q.agg != "avg" or q.group not in ("score_key", None):
            raise unavailable(_describe(q), "the scores endpoint returns the average per score key only")
        request = q
        if q.dbIncrement is None:
            tz = _one_year_bucket(q.timeFilter, q.timeZoneDifference)
            if tz is None:
                raise unavailable(
                    "a score average over a range crossing a year boundary",
                    "the scores endpoint averages per bucket and averages cannot be merged",
                )
            request = q.model_copy(update={"dbIncrement": "year", "timeZoneDifference": tz})
        body = ScoresRequest(
            timeFilter=request.timeFilter,
            userFilter=request.userFilter,
            dbIncrement=request.dbIncrement,
            timeZoneDifference=request.timeZoneDifference,
        )
        rows = []
        for r in self.scores(body, "helicone-api-key"):
            key = r["score_key"]
            if key == "" or (q.scoreKey is not None and key != q.scoreKey):
                continue  # "" rows fill empty buckets
            bucket = _parse_time(r["created_at_trunc"]) if q.dbIncrement else None
            rows.append(Row(bucket, key if q.group == "score_key" else None, float(r["score_sum"])))
        if not rows and q.group is None and q.dbIncrement is None:
            return [Row(None, None, None)]  # one key's average over nothing
        return sorted(rows, key=lambda r: (r.bucket or datetime.min, r.group or ""))


# --- helpers ----------------------------------------------------------------------------------------------
def dashboard_for(base_url: str) -> str:
    """Helicone's dashboard in the API's region: EU for eu.api.helicone.ai, else US."""
    return EU_DASHBOARD_URL if "eu." in base_url else US_DASHBOARD_URL


def _time_json(time_filter: TimeFilter) -> dict[str, str]:
    # Helicone parses with JS `new Date`; explicit UTC instants avoid its server-local reading of bare times.
    return {"start": _key(seconds_utc(time_filter.start)), "end": _key(seconds_utc(time_filter.end))}


def _filter(q: MetricsQuery, extra: Iterable[Any] = ()) -> Any:
    return _json(all_of([q.userFilter, *extra]))


def _json(node: Any) -> Any:
    return node if node == "all" else node.model_dump(mode="json", by_alias=True, exclude_none=True)


def _one_year_bucket(time_filter: TimeFilter, tz: float) -> float | None:
    """A time zone difference for which the whole range falls in one 'year' bucket, if any."""
    for candidate in (tz, 0, 1440, -1440):
        if len(bucket_labels(time_filter, "year", candidate, limit=2)) == 1:
            return candidate
    return None


def _by_time(data: list[dict[str, Any]], field: str) -> dict[str, float]:
    """{bucket label: number} from an over-time answer."""
    return {_key(_parse_time(r["time"])): float(r[field] or 0) for r in data}


def _rows(values: dict[str, float | None]) -> list[Row]:
    return [Row(_parse_time(k), None, v) for k, v in sorted(values.items())]


def _filled(labels: list[datetime], values: dict[str, float | None]) -> list[Row]:
    """Counts and sums: every bucket label gets a row (0 when empty), as the embedded store fills them."""
    return fill_buckets(_rows(values), labels, [None])


def _group_rows(values: dict[tuple, float | None]) -> list[Row]:
    return [Row(_parse_time(b), g, v) for (b, g), v in sorted(values.items())]


def _filled_groups(labels: list[datetime], values: dict[tuple, float]) -> list[Row]:
    return fill_buckets(_group_rows(values), labels, sorted({g for _, g in values}))


def _describe(q: MetricsQuery) -> str:
    what = {"ttft": "time to first token", "error_rate": "error rate"}.get(q.measure, q.measure.replace("_", " "))
    return f"{q.agg} of {what}" if q.agg else what


def _why(q: MetricsQuery) -> str:
    agg = q.agg or ""
    if agg.startswith("p") and agg not in HELICONE_PERCENTILES:
        return "Helicone's quantiles endpoint returns only p75, p90, p95 and p99"
    if agg.startswith("p") and q.measure == "ttft":
        return "Helicone's quantiles endpoint does not accept time to first token"
    if agg in ("min", "max"):
        return "no Helicone endpoint returns minimums or maximums"
    return "no Helicone endpoint computes it exactly"
