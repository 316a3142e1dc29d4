"""Compile the filter tree and the extended query to SQL, once per engine, with parameters only.

`SqlDialect` holds the engine-neutral logic; an engine subclass overrides only what differs (parameter
syntax, column expressions, map access, bucketing). No user value or key is ever pasted into SQL text:
each becomes a named parameter.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, ClassVar

from heliqa.tools.errors import InvalidRequest, NotAvailable
from heliqa.tools.filters import Branch, Leaf, parse_instant
from heliqa.tools.query import HalfOpenTimeFilter, MetricsQuery, TimeFilter, percentile_fraction

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
COMPARISONS = {"equals": "=", "not-equals": "!=", "gte": ">=", "lte": "<=", "gt": ">", "lt": "<"}
UNITS = {"min": "minute", "hour": "hour", "day": "day", "week": "week", "month": "month", "year": "year"}
# Helicone's own query fails on these (no such column / wrong identifier), so we refuse them up front.
UNSUPPORTED_FIELDS = {
    "search_properties": "search_properties is not usable in this query (Helicone's SQL has no such column)",
    "assets": "assets cannot be filtered (Helicone's SQL references a missing asset_ids column)",
    "scores_column": "scores_column only supports internal '{}' checks; filter a score key under scores instead",
    # In Helicone's schema but not in its request export, so heliqa's stores never hold them.
    "gateway_router_id": "gateway_router_id is not kept by heliqa's stores (Helicone's request export omits it); "
    "ask the Helicone backend",
    "gateway_deployment_target": "gateway_deployment_target is not kept by heliqa's stores (Helicone's request "
    "export omits it); ask the Helicone backend",
}
MEASURE_COLUMNS = {
    "latency": "latency",
    "ttft": "time_to_first_token",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "cost": "cost",
}


def _number_param(value: float | int, floor: bool = False) -> tuple[float | int, str]:
    """(value, kind): Int64 when it is (or floors to) an integer that fits, else Float64 (huge values stay ordered)."""
    if isinstance(value, int):
        whole: float | int = value
    elif math.isfinite(value) and (floor or value.is_integer()):
        whole = math.floor(value)
    else:
        return value, "Float64"
    if -(2**63) <= whole < 2**63:
        return int(whole), "Int64"
    try:
        return float(whole), "Float64"
    except OverflowError:  # an integer beyond any double
        return (math.inf if whole > 0 else -math.inf), "Float64"


def seconds_utc(value: str | datetime) -> datetime:
    """An instant as naive UTC truncated to whole seconds, as Helicone sends DateTime params."""
    moment = parse_instant(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)


class SqlDialect:
    """Engine-neutral compiler state: parameters collected while building one statement."""

    table = "requests"
    alias = "r"
    # Helicone's ClickHouse treats backslash as the LIKE escape character; engines without that default say so.
    like_escape = ""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    # --- engine hooks -------------------------------------------------------------------------
    def param(self, value: Any, kind: str = "String") -> str:
        """Register a parameter and return its placeholder."""
        raise NotImplementedError

    def col(self, name: str) -> str:
        return f"{self.alias}.{name}"

    # Where an extended query's rows are; a score query reads one row per (request, score key).
    score_key_column = "s.score_key"
    score_value_column = "s.value"

    def source(self, score: bool) -> str:
        """The FROM clause: the requests (alias r), joined to their scores for a score query."""
        raise NotImplementedError

    def time_column(self, score: bool) -> str:
        """The instant a query's time range and buckets apply to."""
        return self.col("request_created_at")

    def scope(self, org: str, score: bool) -> list[str]:
        """The conditions that keep a query inside one organization."""
        return [f"{self.col('organization_id')} = {self.param(org)}"]

    # Engine spellings as SQL templates (sqlglot's TRANSFORMS idea): an engine lists what it writes its own way.
    FUNCTIONS: ClassVar[dict[str, str]] = {}

    def _call(self, name: str, **parts: str) -> str:
        return self.FUNCTIONS[name].format(**parts)

    def property_value(self, key_sql: str) -> str:
        """A property's value, '' when the key is absent (Helicone's map semantics)."""
        return self._call("property_value", key=key_sql)

    def has_property(self, key_sql: str) -> str:
        return self._call("has_property", key=key_sql)

    def has_score(self, key_sql: str) -> str:
        return self._call("has_score", key=key_sql)

    def score_value(self, key_sql: str) -> str:
        """A score's value, 0 when the key is absent."""
        return self._call("score_value", key=key_sql)

    def cost_column(self) -> str:
        """Cost as stored: integer nano-USD."""
        return self.col("cost")

    def bucket(self, column: str, increment: str, tz_difference: float) -> str:
        """The UTC instant of the local bucket start holding `column` (Helicone's variant B)."""
        raise NotImplementedError

    def quantile(self, expr: str, fraction: float) -> str:
        return self._call("quantile", expr=expr, fraction=self.param(fraction, "Float64"))

    def count_if(self, condition: str) -> str:
        return self._call("count_if", condition=condition)

    def distinct_count_if(self, expr: str, condition: str) -> str:
        return self._call("distinct_count_if", expr=expr, condition=condition)

    def to_text(self, expr: str) -> str:
        return self._call("to_text", expr=expr)

    def var_samp(self, expr: str) -> str:
        """The sample variance of `expr` over a group (NULL under two rows)."""
        return self._call("var_samp", expr=expr)

    def quarter_hour(self, column: str) -> str:
        """The UTC quarter hour holding `column` (the watcher's early slices; not a Helicone increment)."""
        return self._call("quarter_hour", column=column)

    # --- filter tree ----------------------------------------------------------------------------
    def node(self, node: Any) -> str:
        """SQL for a filter node ("all" and an empty leaf are true)."""
        if node == "all" or node is None:
            return "TRUE"
        if isinstance(node, Branch):
            left = self.node(node.left)
            right = self.node(node.right)
            return f"({left} {node.operator.upper()} {right})"
        if isinstance(node, Leaf):
            if node.request_response_rmt is None:
                return "TRUE"
            cond = node.request_response_rmt
            ops = cond.operators
            if isinstance(ops, dict):
                key, inner = next(iter(ops.items()))
                return self.condition(cond.field, inner.operator, inner.value, key)
            return self.condition(cond.field, ops.operator, ops.value, None)
        raise InvalidRequest([f"not a filter node: {node!r}"])

    def _compare(self, lhs: str, operator: str, rhs: str) -> str:
        if operator in COMPARISONS:
            return f"{lhs} {COMPARISONS[operator]} {rhs}"
        if operator == "like":
            return f"{lhs} LIKE {rhs}{self.like_escape}"
        if operator == "ilike":
            return f"{lhs} ILIKE {rhs}{self.like_escape}"
        # Helicone's contains: case-insensitive, the value's own % and _ keep their LIKE meaning.
        if operator == "contains":
            return f"{lhs} ILIKE ('%' || {rhs} || '%'){self.like_escape}"
        if operator == "not-contains":
            return f"{lhs} NOT ILIKE ('%' || {rhs} || '%'){self.like_escape}"
        raise InvalidRequest([f"unknown operator {operator!r}"])

    def condition(self, field: str, operator: str, value: Any, key: str | None) -> str:
        """SQL for one leaf condition, following Helicone's packages/filters/filters.ts."""
        if field in UNSUPPORTED_FIELDS:
            raise NotAvailable(UNSUPPORTED_FIELDS[field])
        if field == "properties":
            return self._compare(self.property_value(self.param(key)), operator, self.param(value))
        if field == "scores":
            key_sql = self.param(key)
            compared = self._compare(self.score_value(key_sql), operator, self.param(*_number_param(int(value))))
            return f"({self.has_score(key_sql)} AND {compared})"
        if field == "property_key":
            return self.has_property(self.param(value))
        if field == "cached":
            op = "!=" if value else "="
            return f"{self.col('cache_reference_id')} {op} {self.param(ZERO_UUID)}"
        if field == "cost":
            number, kind = _number_param(float(value) * 1e9, floor=True)
            return self._compare(self.cost_column(), operator, self.param(number, kind))
        if field == "helicone-score-feedback":
            key_sql = self.param("helicone-score-feedback")
            return f"{self.score_value(key_sql)} = {self.param(int(value), 'Int64')}"
        column = self.col(field)
        if field in ("request_created_at", "response_created_at"):
            return self._compare(column, operator, self.param(seconds_utc(value), "DateTime"))
        if isinstance(value, bool):
            return f"{column} = {self.param(value, 'Bool')}"
        if isinstance(value, str):
            if value == "null":
                if operator == "equals":
                    return f"{column} IS NULL"
                if operator == "not-equals":
                    return f"{column} IS NOT NULL"
                return "FALSE"
            if value == "__empty__" and operator in ("equals", "not-equals"):
                return f"coalesce({column}, '') {'=' if operator == 'equals' else '!='} ''"
            return self._compare(column, operator, self.param(value))
        number, kind = _number_param(value)
        return self._compare(column, operator, self.param(number, kind))

    def time_range(self, time_filter: TimeFilter, column: str | None = None) -> str:
        """`start <= created_at <= end` (`< end` for a half-open range), both truncated to whole seconds like
        Helicone's DateTime params."""
        column = column or self.col("request_created_at")
        start = self.param(seconds_utc(time_filter.start), "DateTime")
        end = self.param(seconds_utc(time_filter.end), "DateTime")
        below = "<" if isinstance(time_filter, HalfOpenTimeFilter) else "<="
        return f"{column} >= {start} AND {column} {below} {end}"

    # --- extended query ---------------------------------------------------------------------------
    def value_expr(self, query: MetricsQuery, score_value: str | None = None) -> tuple[str, list[str]]:
        """(aggregate expression, extra WHERE conditions) for the query's measure."""
        m, agg = query.measure, query.agg
        status = self.col("status")
        if m == "requests":
            return "count(*)", []
        if m == "errors":
            return "count(*)", [f"{status} >= 400"]
        if m == "error_rate":
            return f"100.0 * {self.count_if(f'{status} >= 400')} / count(*)", []
        if m == "threats":
            return self.count_if(f"{self.col('threat')}"), []
        if m == "users":
            user = self.col("user_id")
            return self.distinct_count_if(user, f"{user} != ''"), []
        if m == "score":
            column, scale, where = score_value, 1, []
        elif m == "cost":
            column, scale, where = self.cost_column(), 1e9, []
        else:
            column, scale = self.col(MEASURE_COLUMNS[m]), 1
            where = [f"{column} IS NOT NULL"] if m == "ttft" else []
        if agg == "count":
            return f"count({column})", where
        if agg.startswith("p"):
            expr = self.quantile(column, percentile_fraction(agg))
        else:
            expr = f"{agg}({column})"
        return (f"{expr} / 1e9" if scale != 1 else expr), where

    def group_expr(self, group: str) -> tuple[str, list[str]]:
        """(group expression as text, conditions that drop rows without a value for it)."""
        if group == "model":
            return self.col("model"), []
        if group == "provider":
            return self.col("provider"), []
        if group == "user":
            return self.col("user_id"), [f"{self.col('user_id')} != ''"]
        if group == "status":
            return self.to_text(self.col("status")), []
        if group == "country":
            return self.col("country_code"), [f"coalesce({self.col('country_code')}, '') != ''"]
        if group.startswith("property:"):
            expr = self.property_value(self.param(group.split(":", 1)[1]))
            return expr, [f"{expr} != ''"]
        raise InvalidRequest([f"cannot group by {group!r} here"])
