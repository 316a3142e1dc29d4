"""`heliqa sync`: copy an organization's requests from Helicone's API (or another `heliqa serve`) into the store.

How it pages (Helicone's limits): `POST /v1/request/query-clickhouse` sorted by
`created_at asc`, 1000 rows a page, always from a whole-second lower bound (Helicone truncates time filters to
seconds) instead of ever-growing offsets. A full page moves the bound to the second of its last row; rows of
that second are asked again and dropped by `request_id`, so ties that Helicone orders differently between calls
are never skipped. A second holding more than a page is read with offsets inside `[s, s + 1 s)`, again until
the rows seen match the second's count. The run ends only when a page brings nothing new and the server's count
from the last position agrees, so a page cut short by the server is simply followed by the next one.

State: the cursor (the second up to which every row is stored) is saved beside the store, per base URL and
organization, after each batch is written; the next run starts `overlap` before it, which catches rows Helicone
logs late. Writes go through `Store.add_rows`, idempotent on (organization, request id): a run killed anywhere
and started again ends with the same rows.

A hostile or broken upstream cannot keep a run going or stop every later one: a page whose rows were all seen
already (a server that ignores the offset) ends that pass over the second; one second of data may take at most
`max_calls_per_second` calls, beyond which the run stops with a BackendError after storing what it read (the
cursor stays before that second); a row that is not a request, or that the store cannot take, is reported and
skipped; bodies behind signed URLs are fetched only as `tools/egress.py` allows, and a refused one is reported
while its row loads without it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heliqa.tools.egress import EgressPolicy, FetchFailed, Refused, shown
from heliqa.tools.errors import BackendError, ConfigError, HeliqaError
from heliqa.tools.filters import all_of, leaf, parse_instant
from heliqa.tools.helicone import AnswerTooLarge
from heliqa.tools.helicone_requests import (
    MAX_LIMIT,
    HeliconeRequest,
    RequestQuery,
    query_rows,
    to_store_row,
)
from heliqa.tools.importer import normalize
from heliqa.tools.settings import settings

if TYPE_CHECKING:
    from heliqa.tools.helicone import HeliconeClient
    from heliqa.tools.store import Store

DEFAULT_OVERLAP = timedelta(minutes=15)  # Helicone logs through a queue; rows can land minutes after they happened
DENSE_PASSES = 20  # each pass re-reads one second; ties reshuffled every call converge within a few
RECHECKS = 3  # times the last page is asked again when the server counts rows it did not send
# Calls one second of data may take: 20 passes over 10 pages of 1,000 rows. A second needing more is a server that
# never ends a page (or one organization logging 10,000 requests in one second: raise it with --max-calls).
MAX_CALLS_PER_SECOND = 200
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90s`, `5m`, `2h`, `7d` (combinable: `1h30m`) -> timedelta; ConfigError otherwise."""
    compact = text.replace(" ", "").lower()
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ConfigError(f"{text!r} is not a duration", "e.g. 30s, 5m, 2h, 7d")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise ConfigError(f"{text!r} is not a positive duration", "e.g. 30s, 5m, 2h, 7d")
    return timedelta(seconds=seconds)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 instant or date, or a duration back from now (`30d`)."""
    try:
        return parse_instant(text).astimezone(UTC)
    except ValueError:
        pass
    try:
        return (now or datetime.now(UTC)) - parse_duration(text)
    except ConfigError:
        raise ConfigError(
            f"--since {text!r} is neither an ISO 8601 instant nor a duration", "e.g. 2026-11-01 or 30d"
        ) from None


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _created(row: HeliconeRequest) -> datetime:
    return parse_instant(row.request_created_at).astimezone(UTC)


# --- the cursor file --------------------------------------------------------------------------------------------
class SyncState:
    """Cursors per (base URL, organization) in a small JSON file beside the store, replaced atomically."""

    def __init__(self, path: Path):
        self.path = path

    @staticmethod
    def key(base_url: str, org: str) -> str:
        return f"{base_url.rstrip('/')}|{org}"

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"cannot read the sync state {self.path}: {error}", "delete it to sync from --since"
            ) from None
        return data if isinstance(data, dict) else {}

    def cursor(self, base_url: str, org: str) -> datetime | None:
        """The saved cursor, or None before the first run."""
        entry = self._load().get(self.key(base_url, org))
        if not isinstance(entry, dict) or not entry.get("cursor"):
            return None
        return parse_instant(entry["cursor"]).astimezone(UTC)

    def save(self, base_url: str, org: str, cursor: datetime, rows: int) -> None:
        """Record that every row before `cursor` is stored."""
        data = self._load()
        data[self.key(base_url, org)] = {
            "cursor": _iso(cursor),
            "saved_at": _iso(datetime.now(UTC)),
            "rows_added": rows + int(data.get(self.key(base_url, org), {}).get("rows_added", 0)),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sync-state-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, sort_keys=True)
        os.replace(tmp, self.path)


def state_for(store: Store) -> SyncState:
    """The sync state file that belongs to `store`."""
    return SyncState(store.path.with_name(store.path.stem + ".sync.json"))


# --- the run ----------------------------------------------------------------------------------------------------
@dataclass
class SyncReport:
    """What one run did."""

    base_url: str
    org: str
    started_from: datetime | None
    cursor: datetime | None = None
    fetched: int = 0
    added: int = 0
    pages: int = 0
    bad: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bodies_missed: list[str] = field(default_factory=list)  # signed body URLs refused or unreadable, and why
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.fetched / self.seconds if self.seconds else 0.0


Progress = Callable[[SyncReport], None]


class Syncer:
    """One sync run of one organization from one base URL into one store."""

    def __init__(
        self,
        client: HeliconeClient,
        store: Store,
        org: str,
        overlap: timedelta = DEFAULT_OVERLAP,
        bodies: bool = False,
        page_size: int = MAX_LIMIT,
        batch_rows: int = 50_000,
        progress: Progress | None = None,
        egress: EgressPolicy | None = None,
        max_calls_per_second: int = MAX_CALLS_PER_SECOND,
    ):
        if not org:
            raise ConfigError("sync needs the organization id the rows belong to", "pass --org or set HELIQA_ORG_ID")
        self.client = client
        self.store = store
        self.org = org
        self.overlap = overlap
        self.bodies = bodies
        self.page_size = page_size
        self.batch_rows = batch_rows
        self.progress = progress
        self.egress = egress
        self._own_egress = egress is None  # made here on the first signed URL, closed at the end of the run
        self.max_calls_per_second = max_calls_per_second
        self.state = state_for(store)
        self._seen: dict[str, datetime] = {}
        self._reported: set[str] = set()  # bad rows already reported this run (a second is read more than once)
        self._buffer: list[dict[str, Any]] = []
        self._hold: datetime | None = None  # a second the server did not send whole: the cursor stays before it

    def run(self, since: datetime | None = None) -> SyncReport:
        """Copy every row from the saved cursor (minus the overlap), else from `since`, else from the beginning."""
        started = time.monotonic()
        saved = self.state.cursor(self.client.base_url, self.org)
        # From one overlap before the cursor; an earlier --since re-reads (backfills) from there.
        starts = [t for t in (saved - self.overlap if saved else None, since) if t is not None]
        lo = _second(min(starts)) if starts else None
        report = SyncReport(self.client.base_url, self.org, lo, cursor=saved)
        try:
            rechecks = 0
            while True:
                page, full = self._page(report, lo)
                fresh = self._take(page, report)
                if not fresh and not full:
                    # Nothing new: the end, unless the server counts more rows from here than we hold (a page
                    # was cut short just before them). Re-asking a few times covers a passing fault; a count that
                    # never agrees (Helicone counts unmerged duplicate rows) is noted, not fought.
                    total = self._count(lo, None)
                    held = len(self._seen) if lo is None else sum(1 for t in self._seen.values() if t >= lo)
                    if total is None or held >= total:
                        break
                    if rechecks == RECHECKS:
                        report.notes.append(f"the server counts {total} requests from {_iso(lo)} on; {held} came")
                        break
                    rechecks += 1
                    continue
                rechecks = 0
                last = _second(max(_created(r) for r in page))
                if lo is not None and last <= lo:  # one second fills the page: read it whole, then move on
                    self._dense_second(report, lo)
                    lo = lo + timedelta(seconds=1)
                else:
                    lo = last
                self._seen = {k: t for k, t in self._seen.items() if t >= lo}
                if len(self._buffer) >= self.batch_rows:
                    self._flush(report, lo)
                if self.progress:
                    self.progress(report)
        except HeliqaError:
            self._flush(report, lo)  # keep what was fetched before the server gave up; the next run resumes there
            raise
        else:
            self._flush(report, lo)
        finally:
            if self.egress is not None and self._own_egress:
                self.egress.close()
            report.seconds = time.monotonic() - started
        return report

    def _page(
        self, report: SyncReport, lo: datetime | None, hi: datetime | None = None, offset: int = 0
    ) -> tuple[list[HeliconeRequest], bool]:
        """(the page's usable rows, whether the page came full); bad rows are reported once each."""
        nodes = ([leaf("request_created_at", "gte", _iso(lo))] if lo else []) + (
            [leaf("request_created_at", "lt", _iso(hi))] if hi else []
        )
        while True:
            query = RequestQuery(filter=all_of(nodes), limit=self.page_size, offset=offset, sort={"created_at": "asc"})
            try:
                rows, bad, sent = query_rows(self.client, query)
                break
            except AnswerTooLarge as error:
                # Big rows side by side: smaller pages for the rest of the run, down to one row a page.
                if self.page_size == 1:
                    raise BackendError(
                        f"one request from {_iso(lo) if lo else 'the beginning'} on is too large to read: "
                        f"{error.message}",
                        "sync from a later --since to pass it (the rows before it are stored)",
                    ) from None
                self.page_size = max(1, self.page_size // 2)
        report.pages += 1
        usable = []
        for row in rows:
            try:
                _created(row)
                usable.append(row)
            except ValueError:
                bad.append(f"request {row.request_id[:80]}: request_created_at is not an ISO 8601 instant")
        self._report_bad(report, bad)
        firsts = {r.request_id: r for r in reversed(usable)}  # a duplicated row may come back anywhere in the page
        times = [_created(r) for r in usable if firsts[r.request_id] is r]
        # Paging by time is only sound if the server filters and sorts as asked: check, never skip rows silently.
        outside = [t for t in times if (lo is not None and t < lo) or (hi is not None and t >= hi)]
        if outside:
            raise BackendError(
                f"{self.client.base_url} answered requests outside the time range asked for; cannot sync from it"
            )
        if any(b < a for a, b in zip(times, times[1:], strict=False)):
            raise BackendError(
                f"{self.client.base_url} did not sort requests by created_at ascending as asked; cannot sync from it"
            )
        if sent >= self.page_size and not usable:
            raise BackendError(
                f"{self.client.base_url} answered a full page of rows that are not requests from "
                f"{_iso(lo) if lo else 'the beginning'}; cannot page past them"
            )
        return usable, sent >= self.page_size

    def _report_bad(self, report: SyncReport, bad: list[str]) -> None:
        for line in bad:
            if line not in self._reported:
                self._reported.add(line)
                report.bad.append(line)

    def _take(self, page: list[HeliconeRequest], report: SyncReport) -> list[HeliconeRequest]:
        fresh = []
        for row in page:
            if row.request_id in self._seen:
                continue
            self._seen[row.request_id] = _created(row)
            fresh.append(row)
        raws = [to_store_row(row, self.org, bodies=self.bodies) for row in fresh]
        signed = [(raw, row) for raw, row in zip(raws, fresh, strict=True) if row.signed_body_url]
        if self.bodies and signed:
            from concurrent.futures import ThreadPoolExecutor

            if self.egress is None:
                self.egress = EgressPolicy.from_settings(self.client.base_url)

            with ThreadPoolExecutor(8) as pool:  # one GET per request: a few at a time, as Helicone's exporter does
                found = pool.map(self._signed_bodies, [row.signed_body_url for _, row in signed])
                for (raw, row), (bodies, problem) in zip(signed, found, strict=True):
                    raw.update(bodies)
                    if problem:
                        report.bodies_missed.append(f"request {row.request_id[:80]}: {problem}")
        good = []
        for raw in raws:  # a row the store cannot take is reported here, so it never fails a batch
            try:
                good.append(normalize(raw, self.org))
            except (ValueError, TypeError) as error:
                self._report_bad(report, [f"request {raw['request_id'][:80]}: {error}"])
        self._buffer.extend(good)
        report.fetched += len(fresh)
        return fresh

    def _dense_second(self, report: SyncReport, second: datetime) -> None:
        """Every row of one second that holds more than a page.

        Helicone orders ties differently from call to call, so offset pages inside the second may overlap and
        miss rows, and a page may come back cut short: the second is read again until the rows held match its
        count (Helicone's totalRequests), at most DENSE_PASSES times (that count also takes in duplicate rows
        ClickHouse has not merged yet), or without a count until two passes in a row bring nothing new.
        """
        end = second + timedelta(seconds=1)
        total = self._count(second, end)
        idle = 0
        calls = 1
        for _ in range(DENSE_PASSES):
            found = 0
            offset = 0
            while True:
                if calls >= self.max_calls_per_second:
                    raise BackendError(
                        f"{self.client.base_url} kept sending pages for the one second {_iso(second)}: "
                        f"{calls} calls without reaching its end (pages that never end or repeat); stopped "
                        f"with the rows read so far stored and the cursor before that second",
                        "if one second really holds that many requests, raise --max-calls",
                    )
                page, full = self._page(report, second, end, offset)
                calls += 1
                fresh = len(self._take(page, report))
                found += fresh
                # A full page bringing nothing new past the first: the server ignores the offset or repeats itself.
                if not full or (offset and not fresh):
                    break
                offset += self.page_size
            held = sum(1 for t in self._seen.values() if second <= t < end)
            idle = 0 if found else idle + 1
            if held >= total if total is not None else idle == 2:
                break
        if total is not None and held < total:
            # Move on, but keep the saved cursor at this second: the next run reads it again.
            self._hold = second if self._hold is None else min(self._hold, second)
            report.notes.append(
                f"the server counts {total} requests in {_iso(second)} and sent {held}; the next run reads it again"
            )

    def _count(self, start: datetime | None, end: datetime | None) -> int | None:
        """Requests with start <= request_created_at < end (None: unbounded), or None without totalRequests."""
        # totalRequests needs both ends of its time filter; a day past now stands in for "no end".
        upper = end or datetime.now(UTC) + timedelta(days=1)
        body = {
            "filter": leaf("request_created_at", "lt", _iso(upper)).model_dump(by_alias=True, exclude_none=True),
            "timeFilter": {"start": _iso(start or datetime(1970, 1, 1, tzinfo=UTC)), "end": _iso(upper)},
        }
        try:
            count = self.client.post("/v1/metrics/totalRequests", body)
        except HeliqaError:
            return None
        return int(count) if isinstance(count, (int, float)) else None

    def _flush(self, report: SyncReport, lo: datetime | None) -> None:
        before = report.added
        if self._buffer:
            report.added += self.store.add_normalized(self._buffer)  # each row already normalized by _take
            self._buffer = []
        if lo is not None:
            # A run that found nothing past the overlap keeps the older cursor: it never moves back. Nor does it
            # pass the present: a request stamped in the future (a skewed clock) must not hide the ones after it.
            cursor = max(lo, report.cursor) if report.cursor else lo
            cursor = min(cursor, _second(datetime.now(UTC)), self._hold or cursor)
            self.state.save(self.client.base_url, self.org, cursor, report.added - before)
            report.cursor = cursor

    def _signed_bodies(self, url: str) -> tuple[dict[str, str], str | None]:
        """Bodies from Helicone's signed URL (`{"request": ..., "response": ...}`), and why none came, if none."""
        try:
            payload = json.loads(self.egress.fetch(url))
        except Refused as error:
            return {}, f"body URL at {shown(url)} refused: {error.message}"
        except FetchFailed as error:
            return {}, f"body URL at {shown(url)} not read: {error.message}"
        except (ValueError, RecursionError):
            return {}, f"body URL at {shown(url)} answered something that is not JSON"
        out = {}
        for side in ("request", "response"):
            value = payload.get(side) if isinstance(payload, dict) else None
            if value is not None:
                out[f"{side}_body"] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return out, None


def client_from_env(base_url: str | None = None) -> HeliconeClient:
    """A Helicone client for syncing: HELICONE_API_KEY, the base URL given or HELICONE_BASE_URL (default US)."""
    from heliqa.tools.helicone import US_BASE_URL, HeliconeClient

    key = (settings().secret("helicone_api_key") or "").strip()
    if not key:
        raise ConfigError(
            "HELICONE_API_KEY is not set",
            "export a Helicone API key with read access (or a key of another `heliqa serve`)",
        )
    base = (base_url or settings().helicone_base_url or US_BASE_URL).rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ConfigError(
            f"base URL {base!r} is not an http(s) URL", "US: https://api.helicone.ai, EU: https://eu.api.helicone.ai"
        )
    # Paging through months of logs meets rate limits and passing 5xx: be more patient than one question is
    # (twice HELICONE_TIMEOUT a read, so 60 s by default; each call within twice that, however slowly it comes).
    timeout = 2 * settings().helicone_timeout
    return HeliconeClient(key, base, timeout=timeout, retries=6, backoff=1.0, max_retry_after=120.0)


# --- keeping a running process's store fresh ----------------------------------------------------------------------
class PeriodicSync(threading.Thread):
    """Runs a sync every `every` in the background; a failed run is logged and retried at the next tick."""

    def __init__(self, make_syncer: Callable[[], Syncer], every: timedelta, log: Callable[[str], None]):
        super().__init__(name="heliqa-sync", daemon=True)
        self.make_syncer = make_syncer
        self.every = every
        self.log = log
        self.stop = threading.Event()
        self.runs = 0
        self.last: SyncReport | None = None

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.last = self.make_syncer().run()
                self.log(
                    f"sync: {self.last.added:,} new of {self.last.fetched:,} fetched in {self.last.seconds:.1f} s "
                    f"(cursor {_iso(self.last.cursor) if self.last.cursor else 'none'})"
                )
                for line in self.last.bad[:20] + self.last.notes:
                    self.log(f"sync: {line}")
                for line in self.last.bodies_missed[:20]:
                    self.log(f"sync: no body for {line}")
            except HeliqaError as error:
                self.log(f"sync failed, retrying in {self.every}: {error.message}")
            except Exception as error:  # a background loop must outlive one bad run; the log says why
                self.log(f"sync failed, retrying in {self.every}: {type(error).__name__}: {error}")
            self.runs += 1
            self.stop.wait(self.every.total_seconds())


def live_store(backend: Any) -> Store:
    """The embedded store opened for writing in place of `backend` (read-only), for a process that syncs itself."""
    from heliqa.tools.store import Store

    if not isinstance(backend, Store):
        raise ConfigError(
            f"--sync-every keeps the embedded store fresh; the {backend.name} backend already reads live data",
            "drop --sync-every, or use --backend embedded",
        )
    backend.close()
    return Store(backend.path, read_only=False)


def start_live_sync(store: Store, org: str | None, every: str, log: Callable[[str], None]) -> PeriodicSync:
    """Start syncing `org` into `store` every `every` (e.g. "5m") from HELICONE_BASE_URL with HELICONE_API_KEY."""
    interval = parse_duration(every)
    client = client_from_env()
    org = org or settings().heliqa_org_id
    if not org:
        raise ConfigError("--sync-every needs the organization to sync", "pass --org or set HELIQA_ORG_ID")
    store.con  # noqa: B018 (open the store here: two threads opening it at once would race)
    thread = PeriodicSync(lambda: Syncer(client, store, org), interval, log)
    thread.start()
    return thread
