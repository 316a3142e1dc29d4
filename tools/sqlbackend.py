"""What the SQL backends share: the SELECT of an extended query, top-N, gap filling, org resolution, the cache.

The embedded store (DuckDB) and ClickHouse subclass `SqlBackend`; each says only how it reaches its engine
(`fetch`), what it lists (`organizations`, `load_vocabulary`) and, through its `SqlDialect`, where a query's
rows, scores and time column are (`source`, `scope`, ...). The SQL text is assembled here, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from heliqa.tools import investigate
from heliqa.tools.cache import VOCABULARY_TTL_S, TtlCache
from heliqa.tools.errors import ConfigError
from heliqa.tools.investigate import ExplainQuery, Explanation, ListQuery, RequestRow
from heliqa.tools.query import MetricsQuery
from heliqa.tools.results import Row, Vocabulary
from heliqa.tools.rows import keep_top
from heliqa.tools.sql import SqlDialect
from heliqa.tools.timebuckets import fill_counts


@dataclass(frozen=True)
class DataPlace:
    """How org messages name where the data is (the store's file, or a ClickHouse table at a URL)."""

    where: str  # "in /home/me/.local/share/heliqa/heliqa.duckdb", "at chdb:///data"
    holder: str  # "the store", "request_response_rmt"
    empty: ConfigError  # raised when no organization has data
    none_known: str = "none"  # the known-organizations hint when there are none


def choose_org(orgs: dict[str, int], org: str | None, place: DataPlace) -> str:
    """The organization to scope to: `org` when it has data, else the only one there is (else a ConfigError)."""
    if org:
        if org not in orgs:
            known = ", ".join(orgs) or place.none_known
            raise ConfigError(f"organization {org} has no data {place.where}", f"known organizations: {known}")
        return org
    if len(orgs) == 1:
        return next(iter(orgs))
    if not orgs:
        raise place.empty
    listing = ", ".join(f"{o} ({n} requests)" for o, n in orgs.items())
    raise ConfigError(
        f"{place.holder} holds {len(orgs)} organizations; choose one", f"set HELIQA_ORG_ID or pass --org: {listing}"
    )


def naive_utc(moment: datetime | None) -> datetime | None:
    """An engine's instant as naive UTC (ClickHouse may answer in its server's zone)."""
    if moment is not None and moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _number(value: Any) -> float | None:
    # ClickHouse answers nan where DuckDB answers NULL (e.g. 0/0): both mean "no value".
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


class SqlBackend:
    """A Backend over one SQL engine; subclasses provide the engine, this class the queries' shape."""

    name: ClassVar[str]
    dialect: ClassVar[type[SqlDialect]]

    def __init__(self, vocabulary_ttl: float = VOCABULARY_TTL_S):
        self._vocab: TtlCache[Vocabulary] = TtlCache(vocabulary_ttl)

    # --- what a subclass provides ---------------------------------------------------------------------
    def fetch(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        """Run one read statement."""
        raise NotImplementedError

    def organizations(self) -> dict[str, int]:
        """Organization id -> number of requests."""
        raise NotImplementedError

    def load_vocabulary(self, org: str) -> Vocabulary:
        """Read the names that exist for `org` from the engine (uncached)."""
        raise NotImplementedError

    def data_place(self) -> DataPlace:
        """Where the data is, as org messages name it."""
        raise NotImplementedError

    # --- Backend protocol -----------------------------------------------------------------------------
    def resolve_org(self, org: str | None) -> str:
        """The organization to scope to: the one given, or the only one there is."""
        return choose_org(self.organizations(), org, self.data_place())

    def vocabulary(self, org: str) -> Vocabulary:
        """Models, providers, property keys/values and score keys that exist for `org` (cached for a TTL)."""
        return self._vocab.get(org, lambda: self.load_vocabulary(org))

    def list_requests(self, query: ListQuery, org: str) -> list[RequestRow]:
        """Individual requests, as `ListQuery` orders them."""
        return investigate.list_requests(self.engine(), query, org)

    def explain(self, query: ExplainQuery, org: str) -> Explanation:
        """When the measure departed from its baseline, and what the bad requests are concentrated in."""
        return investigate.explain(self.engine(), query, org)

    def score_shift(
        self, query: ExplainQuery, org: str, window: tuple[datetime, datetime], part: Any
    ) -> tuple[investigate.ScoreShift, investigate.ScoreShift]:
        """A score's fall in `window` among the requests in `part` (a filter node) and among the rest."""
        return investigate.score_shift(self.engine(), query, org, window, part)

    def data_span(self, org: str) -> tuple[datetime, datetime, int] | None:
        """The organization's first and last request (naive UTC) and how many it has, None when it has none: what
        an answer's data runs through."""
        d = self.dialect()
        column = d.col("request_created_at")
        where = " AND ".join(d.scope(org, False))
        sql = f"SELECT min({column}), max({column}), count(*) FROM {d.source(False)} WHERE {where}"
        rows = self.fetch(sql, d.params)
        if not rows or rows[0][1] is None:
            return None
        return naive_utc(rows[0][0]), naive_utc(rows[0][1]), int(rows[0][2])

    def engine(self) -> investigate.Engine:
        """What the investigation SQL needs of this engine: its dialect, its table, its fetch, its org scope."""
        raise NotImplementedError

    def run(self, query: MetricsQuery, org: str) -> list[Row]:
        """Answer an extended query: rows of (bucket, group, value), gaps in counts and sums filled with 0."""
        rows = self._rows(query, org)
        if query.top is not None:
            overall = query.model_copy(update={"dbIncrement": None})  # the whole range ranks the groups
            totals = rows if query.dbIncrement is None else self._rows(overall, org)
            rows = keep_top(query, rows, totals)
        return rows

    def select(self, query: MetricsQuery, org: str) -> tuple[str, dict[str, Any]]:
        """The one SELECT of (bucket b, group g, value v) answering `query` for `org`, and its parameters."""
        d = self.dialect()
        score = query.measure == "score"
        time_col = d.time_column(score)
        where = [*d.scope(org, score), d.time_range(query.timeFilter, time_col)]
        if score and query.scoreKey is not None:
            where.append(f"{d.score_key_column} = {d.param(query.scoreKey)}")
        value, extra = d.value_expr(query, score_value=d.score_value_column)
        where += extra
        if query.userFilter != "all":
            where.append(d.node(query.userFilter))
        bucket = d.bucket(time_col, query.dbIncrement, query.timeZoneDifference) if query.dbIncrement else "NULL"
        group = query.group
        if group == "score_key":
            group_sql = d.score_key_column
        elif group:
            group_sql, drop = d.group_expr(group)
            where += drop
        else:
            group_sql = "NULL"
        # A constant NULL key halves DuckDB's aggregation speed: group only by the keys that vary.
        keys = ", ".join(alias for alias, expr in (("b", bucket), ("g", group_sql)) if expr != "NULL") or "b, g"
        order = "b ASC NULLS FIRST, g ASC NULLS FIRST"
        if query.top is not None and query.dbIncrement is None:
            # the N largest groups, ranked in SQL: thousands of users never become Python rows
            order = f"v DESC NULLS LAST, g ASC LIMIT {d.param(query.top, 'Int64')}"
        sql = (
            f"SELECT {bucket} AS b, {group_sql} AS g, {value} AS v FROM {d.source(score)} "
            f"WHERE {' AND '.join(where)} GROUP BY {keys} ORDER BY {order}"
        )
        return sql, d.params

    def _rows(self, query: MetricsQuery, org: str) -> list[Row]:
        sql, params = self.select(query, org)
        rows = [Row(naive_utc(b), None if g is None else str(g), _number(v)) for b, g, v in self.fetch(sql, params)]
        if query.top is not None and query.dbIncrement is None:
            rows.sort(key=lambda r: r.group or "")  # ranked in SQL, listed by group like every other answer
        return fill_counts(query, rows)
