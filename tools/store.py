"""The embedded analytics store: one DuckDB file under the user's data dir, scoped per organization."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from heliqa.tools.errors import BackendError, ConfigError
from heliqa.tools import investigate
from heliqa.tools.importer import COLUMNS, BadLine, file_size, read_lines
from heliqa.tools.investigate import ExplainQuery, Explanation, ListQuery, RequestRow
from heliqa.tools.query import MetricsQuery, ScoresRequest
from heliqa.tools.results import USER_IDS_LIMIT, Row, Vocabulary, iso_z
from heliqa.tools.sql import UNITS, SqlDialect, seconds_utc
from heliqa.tools.timebuckets import bucket_labels, fill_counts

try:
    import orjson

    def _dumps(row: dict) -> bytes:
        return orjson.dumps(row)
except ImportError:  # pragma: no cover
    import json

    def _dumps(row: dict) -> bytes:
        return json.dumps(row).encode()


def default_home() -> Path:
    """`HELIQA_HOME`, else `$XDG_DATA_HOME/heliqa`, else `~/.local/share/heliqa`."""
    if os.environ.get("HELIQA_HOME"):
        return Path(os.environ["HELIQA_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "heliqa"


class DuckDialect(SqlDialect):
    """DuckDB: `$name` parameters, MAP subscripts, exact `quantile_cont`."""

    like_escape = " ESCAPE '\\'"

    def _compare(self, lhs: str, operator: str, rhs: str) -> str:
        # ESCAPE costs DuckDB's LIKE ~1.7x and only matters when the pattern holds a backslash.
        value = self.params.get(rhs.removeprefix("$"))
        self.like_escape = type(self).like_escape if not isinstance(value, str) or "\\" in value else ""
        return super()._compare(lhs, operator, rhs)

    def param(self, value: Any, kind: str = "String") -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def property_value(self, key_sql: str) -> str:
        return f"coalesce({self.col('properties')}[{key_sql}], '')"

    def has_property(self, key_sql: str) -> str:
        return f"map_contains({self.col('properties')}, {key_sql})"

    def has_score(self, key_sql: str) -> str:
        return f"map_contains({self.col('scores')}, {key_sql})"

    def score_value(self, key_sql: str) -> str:
        return f"coalesce({self.col('scores')}[{key_sql}], 0)"

    def bucket(self, column: str, increment: str, tz_difference: float) -> str:
        if tz_difference == 0:  # UTC: skip the interval arithmetic, a third of a bucketed query's time
            return f"date_trunc('{UNITS[increment]}', {column})"
        shift = self.param(int(tz_difference), "Int64")  # ClickHouse truncates fractional minutes
        label = self.param(round(tz_difference * 60_000_000), "Int64")
        return f"date_trunc('{UNITS[increment]}', {column} - to_minutes({shift})) + to_microseconds({label})"

    def quantile(self, expr: str, fraction: float) -> str:
        return f"quantile_cont({expr}, {self.param(fraction, 'Float64')})"

    def count_if(self, condition: str) -> str:
        return f"count(*) FILTER (WHERE {condition})"

    def distinct_count_if(self, expr: str, condition: str) -> str:
        return f"count(DISTINCT {expr}) FILTER (WHERE {condition})"

    def to_text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"


_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS requests (" + ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items()) + ")",
    # One row per (request, score key): the scores query scans this narrow table instead of a MAP column.
    "CREATE TABLE IF NOT EXISTS scores (organization_id VARCHAR, request_created_at TIMESTAMP, "
    "request_id VARCHAR, score_key VARCHAR, value BIGINT)",
    "CREATE TABLE IF NOT EXISTS vocabulary (organization_id VARCHAR, kind VARCHAR, name VARCHAR, "
    "value VARCHAR, n BIGINT)",
    # Score sums and counts per (organization, minute, key): the scores query without a user filter reads these
    # (a few hundred thousand rows) instead of every score row; minutes cut by the range's edges come from `scores`.
    "CREATE TABLE IF NOT EXISTS score_minutes (organization_id VARCHAR, minute TIMESTAMP, score_key VARCHAR, "
    "total HUGEINT, n BIGINT)",
    # Rows appended since `requests` was last clustered; a store from before this table counts all its rows.
    "CREATE TABLE IF NOT EXISTS layout AS SELECT count(*)::BIGINT AS unclustered FROM requests",
]
# `requests` is kept in this order so a model filter and a time range both prune row groups: measured on
# 10M rows, p90-by-day for one model 38 -> 24 ms and a body search 1.08 -> 0.87 s against time order alone.
CLUSTER_ORDER = "organization_id, model, request_created_at"
RECLUSTER_SHARE = 0.10  # re-sort the whole table once this share of it was appended since the last time
_SCORE_MINUTES = (
    "INSERT INTO score_minutes SELECT organization_id, date_trunc('minute', request_created_at), score_key, "
    "sum(value), count(*) FROM {source} GROUP BY 1, 2, 3 ORDER BY 1, 2"
)


@dataclass
class ImportReport:
    """What an import did."""

    files: list[str] = field(default_factory=list)
    lines: int = 0
    read: int = 0
    added: int = 0
    bad: list[BadLine] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.read - self.added


class Store:
    """A DuckDB file holding request logs; every query is scoped to one organization."""

    name = "embedded"

    def __init__(self, path: str | Path | None = None, read_only: bool = False):
        self.path = Path(path) if path else default_home() / "heliqa.duckdb"
        self.read_only = read_only
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()  # writes; reads go through per-thread cursors and run concurrently
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._vocab: dict[str, Vocabulary] = {}
        self._score_minutes: bool | None = None

    # --- connection -----------------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            if self.read_only and not self.path.exists():
                raise ConfigError(
                    f"no heliqa store at {self.path}",
                    "load data with `heliqa import FILE...` or `heliqa demo` (HELIQA_HOME moves the store)",
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._con = duckdb.connect(str(self.path), read_only=self.read_only)
            except duckdb.Error as error:
                raise BackendError(
                    f"cannot open the store {self.path}: {error}",
                    "another heliqa process holds it: an import writing to it, or (for an import) a running "
                    "`heliqa serve`, `slack` or `chat` reading it; try again when that process finishes or stops",
                ) from None
            self._con.execute("SET enable_progress_bar = false")  # heliqa draws its own; DuckDB's would leak out
            if not self.read_only:
                for statement in _SCHEMA:
                    self._con.execute(statement)
                # A store written before score_minutes existed gets it once, from its scores.
                if self._con.execute("SELECT NOT EXISTS (FROM score_minutes) AND EXISTS (FROM scores)").fetchone()[0]:
                    self._con.execute(_SCORE_MINUTES.format(source="scores"))
        return self._con

    def close(self) -> None:
        """Close the connection and every thread's cursor (a later call reopens it)."""
        for cursor in self._cursors:
            cursor.close()
        self._cursors.clear()
        self._local = threading.local()
        if self._con is not None:
            self._con.close()
            self._con = None

    def fetch(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        """Run one read statement on this thread's cursor (DuckDB cursors of one connection read concurrently)."""
        try:
            cursor = getattr(self._local, "cursor", None)
            if cursor is None:
                con = self.con
                with self._lock:
                    cursor = self._local.cursor = con.cursor()
                    self._cursors.append(cursor)
            return cursor.execute(sql, params).fetchall()
        except duckdb.CatalogException:
            raise ConfigError("the store is empty", "load data with `heliqa import FILE...` or `heliqa demo`") from None
        except duckdb.Error as error:
            raise BackendError(f"the embedded store failed: {error}") from None

    # --- organizations ----------------------------------------------------------------------------
    def organizations(self) -> dict[str, int]:
        """Organization id -> number of stored requests."""
        rows = self.fetch(
            "SELECT organization_id, sum(n) FROM vocabulary WHERE kind = 'model' GROUP BY 1 ORDER BY 2 DESC", {}
        )
        return {org: int(n) for org, n in rows}

    def resolve_org(self, org: str | None) -> str:
        """The organization to scope to: the one given, or the only one stored."""
        orgs = self.organizations()
        if org:
            if org not in orgs:
                known = ", ".join(orgs) or "none (the store is empty)"
                raise ConfigError(f"organization {org} has no data in {self.path}", f"known organizations: {known}")
            return org
        if len(orgs) == 1:
            return next(iter(orgs))
        if not orgs:
            raise ConfigError("the store is empty", "load data with `heliqa import FILE...` or `heliqa demo`")
        listing = ", ".join(f"{o} ({n} requests)" for o, n in orgs.items())
        raise ConfigError(
            f"the store holds {len(orgs)} organizations; choose one", f"set HELIQA_ORG_ID or pass --org: {listing}"
        )

    # --- import ---------------------------------------------------------------------------------------
    def import_files(
        self,
        paths: Iterable[str],
        default_org: str | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> ImportReport:
        """Load JSONL(.gz) files; idempotent on request_id; bad lines are reported, the rest still load."""
        report = ImportReport()
        with tempfile.TemporaryDirectory(prefix="heliqa-import-") as tmp:
            for path in paths:
                report.files.append(path)
                total = file_size(path)
                tick = (lambda done, p=path, t=total: progress(p, done, t)) if progress else None
                for batch in read_lines(path, default_org, progress=tick):
                    report.lines += batch.lines
                    report.bad.extend(batch.bad)
                    report.read += len(batch.rows)
                    if batch.rows:
                        report.added += self._insert(batch.rows, Path(tmp) / "batch.jsonl")
        if report.added:
            self.cluster(only_if_due=True)
            self.refresh_vocabulary()
        return report

    def cluster(self, only_if_due: bool = False) -> bool:
        """Rewrite `requests` in CLUSTER_ORDER (when due: once RECLUSTER_SHARE of it was appended); True if it ran."""
        with self._writing("re-clustering the store") as con:
            unclustered, total = con.execute(
                "SELECT unclustered, (SELECT count(*) FROM requests) FROM layout"
            ).fetchone()
            if unclustered == 0 or (only_if_due and unclustered < RECLUSTER_SHARE * total):
                return False
            con.execute(f"CREATE TABLE requests_clustered AS SELECT * FROM requests ORDER BY {CLUSTER_ORDER}")
            con.execute("DROP TABLE requests")
            con.execute("ALTER TABLE requests_clustered RENAME TO requests")
            con.execute("UPDATE layout SET unclustered = 0")
        return True

    @contextmanager
    def _writing(self, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction under the lock; a DuckDB error rolls it back and becomes a BackendError."""
        with self._lock:
            con = self.con
            con.execute("BEGIN")
            try:
                yield con
                con.execute("COMMIT")
            except duckdb.Error as error:
                con.execute("ROLLBACK")
                raise BackendError(f"{what} failed: {error}") from None
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def add_rows(self, raw: Iterable[dict[str, Any]], default_org: str | None = None) -> int:
        """Insert already-parsed request objects (normalized like imported lines); returns how many were new."""
        from heliqa.tools.importer import normalize

        rows = [normalize(r, default_org) for r in raw]
        with tempfile.TemporaryDirectory(prefix="heliqa-rows-") as tmp:
            added = self._insert(rows, Path(tmp) / "rows.jsonl") if rows else 0
        if added:
            self.cluster(only_if_due=True)
            self.refresh_vocabulary()
        return added

    def _insert(self, rows: list[dict[str, Any]], staging: Path) -> int:
        staging.write_bytes(b"\n".join(_dumps(r) for r in rows))
        columns = "{" + ", ".join(f"'{n}': '{t}'" for n, t in COLUMNS.items()) + "}"
        with self._writing("import") as con:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE staging AS SELECT * FROM read_json($path, "
                f"format='newline_delimited', columns={columns}) "
                "QUALIFY row_number() OVER (PARTITION BY request_id) = 1",
                {"path": str(staging)},
            )
            con.execute("DELETE FROM staging WHERE request_id IN (SELECT request_id FROM requests)")
            added = con.execute("SELECT count(*) FROM staging").fetchone()[0]
            con.execute(f"INSERT INTO requests SELECT * FROM staging ORDER BY {CLUSTER_ORDER}")
            con.execute("UPDATE layout SET unclustered = unclustered + $n", {"n": added})
            con.execute(
                "INSERT INTO scores SELECT organization_id, request_created_at, request_id, "
                "unnest(map_keys(scores)), unnest(map_values(scores)) FROM staging "
                "ORDER BY organization_id, request_created_at"
            )
            con.execute(
                _SCORE_MINUTES.format(
                    source="(SELECT organization_id, request_created_at, unnest(map_keys(scores)) AS score_key, "
                    "unnest(map_values(scores)) AS value FROM staging)"
                )
            )
            con.execute("DROP TABLE staging")
        return added

    def refresh_vocabulary(self) -> None:
        """Recompute the names each organization's questions may refer to (models, properties, scores)."""
        with self._writing("refreshing the vocabulary") as con:
            con.execute("DELETE FROM vocabulary")
            con.execute(
                "INSERT INTO vocabulary SELECT organization_id, 'model', model, NULL, count(*) "
                "FROM requests GROUP BY 1, 3"
            )
            con.execute(
                "INSERT INTO vocabulary SELECT organization_id, 'provider', provider, NULL, count(*) "
                "FROM requests GROUP BY 1, 3"
            )
            con.execute(
                "INSERT INTO vocabulary SELECT organization_id, 'property', k, v, count(*) FROM "
                "(SELECT organization_id, unnest(map_keys(properties)) AS k, unnest(map_values(properties)) AS v "
                "FROM requests) GROUP BY 1, 3, 4"
            )
            con.execute(
                "INSERT INTO vocabulary SELECT organization_id, 'score', score_key, NULL, count(*) "
                "FROM scores GROUP BY 1, 3"
            )
            con.execute(
                "INSERT INTO vocabulary SELECT organization_id, 'user', user_id, NULL, count(*) FROM requests "
                "WHERE user_id != '' GROUP BY 1, 3 "
                "QUALIFY row_number() OVER (PARTITION BY organization_id ORDER BY count(*) DESC) <= $limit",
                {"limit": USER_IDS_LIMIT},
            )
            con.execute(
                "INSERT INTO vocabulary SELECT organization_id, 'users', NULL, NULL, count(DISTINCT user_id) "
                "FROM requests WHERE user_id != '' GROUP BY 1"
            )
        self._vocab.clear()

    def vocabulary(self, org: str) -> Vocabulary:
        """Models, providers, property keys/values and score keys that exist for `org`."""
        if org not in self._vocab:
            vocab = Vocabulary()
            for kind, name, value, n in self.fetch(
                "SELECT kind, name, value, n FROM vocabulary WHERE organization_id = $org ORDER BY n DESC", {"org": org}
            ):
                if kind == "model":
                    vocab.models[name] = n
                elif kind == "provider":
                    vocab.providers[name] = n
                elif kind == "property":
                    vocab.properties.setdefault(name, {})[value] = n
                elif kind == "score":
                    vocab.score_keys[name] = n
                elif kind == "user":
                    vocab.user_ids[name] = n
                elif kind == "users":
                    vocab.users = n
            self._vocab[org] = vocab
        return self._vocab[org]

    # --- queries ----------------------------------------------------------------------------------------
    def scores(self, request: ScoresRequest, org: str) -> list[dict[str, Any]]:
        """Exactly what `POST /v1/dashboard/scores/query` returns as `data` (helicone.md §1.4)."""
        d = DuckDialect()
        bucket = d.bucket("s.request_created_at", request.dbIncrement, request.timeZoneDifference)
        where = [f"s.organization_id = {d.param(org)}", d.time_range(request.timeFilter, "s.request_created_at")]
        if request.userFilter != "all":
            inner = DuckDialect()
            inner.params = d.params
            where.append(
                f"s.request_id IN (SELECT r.request_id FROM requests r WHERE r.organization_id = {inner.param(org)} "
                f"AND {inner.time_range(request.timeFilter)} AND {inner.node(request.userFilter)})"
            )
        sql = (
            f"SELECT {bucket} AS b, s.score_key, avg(s.value) FROM scores s WHERE {' AND '.join(where)} "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
        params = d.params
        if request.userFilter == "all" and self._has_score_minutes():
            sql, params = self._scores_by_minute(request, org)
        rows = self.fetch(sql, params)
        seen = {b for b, _, _ in rows}
        out = [(b, k, float(v)) for b, k, v in rows]
        for label in bucket_labels(request.timeFilter, request.dbIncrement, request.timeZoneDifference):
            if label not in seen:
                out.append((label, "", 0))
        out.sort(key=lambda r: (r[0], r[1]))
        return [{"created_at_trunc": iso_z(b, millis=True), "score_key": k, "score_sum": v} for b, k, v in out]

    def _has_score_minutes(self) -> bool:
        # A store opened read-only that was written before score_minutes existed lacks the table.
        if self._score_minutes is None:
            found = self.fetch("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'score_minutes'", {})
            self._score_minutes = bool(found[0][0])
        return self._score_minutes

    def _scores_by_minute(self, request: ScoresRequest, org: str) -> tuple[str, dict[str, Any]]:
        """The scores query from per-minute sums: whole minutes from score_minutes, the two edges from scores.

        Exact: every bucket is a whole number of minutes (the time zone shift is whole minutes), and
        sum / count over the same integers is the same average.
        """
        d = DuckDialect()
        start, end = seconds_utc(request.timeFilter.start), seconds_utc(request.timeFilter.end)
        first = start if start.second == 0 else start.replace(second=0) + timedelta(minutes=1)
        last = max(first, end.replace(second=0))  # whole minutes are [first, last)
        o, s0, f0, l0, e0 = (d.param(v) for v in (org, start, first, last, end))
        edge = f"SELECT request_created_at, score_key, value, 1 FROM scores WHERE organization_id = {o} AND "
        parts = [
            f"SELECT minute AS t, score_key, total, n FROM score_minutes WHERE organization_id = {o} "
            f"AND minute >= {f0} AND minute < {l0}",
            edge + f"request_created_at >= {s0} AND request_created_at < {f0} AND request_created_at <= {e0}",
            edge + f"request_created_at >= {l0} AND request_created_at <= {e0}",
        ]
        bucket = d.bucket("t", request.dbIncrement, request.timeZoneDifference)
        sql = (
            f"SELECT {bucket} AS b, score_key, CAST(sum(total) AS DOUBLE) / sum(n) FROM "
            f"({' UNION ALL '.join(parts)}) GROUP BY 1, 2 ORDER BY 1, 2"
        )
        return sql, d.params

    def run(self, query: MetricsQuery, org: str) -> list[Row]:
        """Answer an extended query: rows of (bucket, group, value)."""
        rows = self._rows(query, org)
        if query.top is not None:
            rows = self._keep_top(query, org, rows)
        return rows

    def _rows(self, query: MetricsQuery, org: str) -> list[Row]:
        d = DuckDialect()
        score = query.measure == "score"
        source = "scores s JOIN requests r ON r.request_id = s.request_id" if score else "requests r"
        time_col = "s.request_created_at" if score else "r.request_created_at"
        where = [f"{'s' if score else 'r'}.organization_id = {d.param(org)}", d.time_range(query.timeFilter, time_col)]
        if score:
            where.append(f"r.organization_id = {d.param(org)}")
            if query.scoreKey is not None:
                where.append(f"s.score_key = {d.param(query.scoreKey)}")
        value, extra = d.value_expr(query, score_value="s.value")
        where += extra
        if query.userFilter != "all":
            where.append(d.node(query.userFilter))
        select = [d.bucket(time_col, query.dbIncrement, query.timeZoneDifference) if query.dbIncrement else "NULL"]
        group = query.group
        if group == "score_key":
            select.append("s.score_key")
        elif group:
            expr, drop = d.group_expr(group)
            select.append(expr)
            where += drop
        else:
            select.append("NULL")
        # A constant NULL key halves DuckDB's aggregation speed: group only by the keys that vary.
        keys = ", ".join(str(i) for i, expr in ((1, select[0]), (2, select[1])) if expr != "NULL") or "1, 2"
        order = "1 NULLS FIRST, 2 NULLS FIRST"
        if query.top is not None and query.dbIncrement is None:
            # the N largest groups, ranked in SQL: thousands of users never become Python rows
            order = f"3 DESC NULLS LAST, 2 LIMIT {d.param(query.top, 'Int64')}"
        sql = (
            f"SELECT {select[0]} AS b, {select[1]} AS g, {value} AS v FROM {source} "
            f"WHERE {' AND '.join(where)} GROUP BY {keys} ORDER BY {order}"
        )
        rows = [
            Row(b, None if g is None else str(g), None if v is None else float(v))
            for b, g, v in self.fetch(sql, d.params)
        ]
        return fill_counts(query, rows)

    def list_requests(self, query: ListQuery, org: str) -> list[RequestRow]:
        """Individual requests, as `ListQuery` orders them."""
        return investigate.list_requests(self._engine(), query, org)

    def explain(self, query: ExplainQuery, org: str) -> Explanation:
        """When the measure departed from its baseline, and what the bad requests are concentrated in."""
        return investigate.explain(self._engine(), query, org)

    def _engine(self) -> investigate.Engine:
        return investigate.Engine(
            DuckDialect, "requests r", self.fetch, lambda d, org: f"r.organization_id = {d.param(org)}"
        )

    def _keep_top(self, query: MetricsQuery, org: str, rows: list[Row]) -> list[Row]:
        if query.dbIncrement is None:
            return sorted(rows, key=lambda r: r.group or "")  # _rows already kept the N largest
        overall = query.model_copy(update={"dbIncrement": None})
        keep = {r.group for r in self._rows(overall, org) if r.value is not None}
        return [r for r in rows if r.group in keep]
