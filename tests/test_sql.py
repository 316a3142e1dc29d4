"""Filter → SQL on the real embedded store: parameters only, values matched literally with Helicone's semantics."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from heliqa.tools.errors import HeliqaError
from heliqa.tools.filters import all_of, leaf
from heliqa.tools.query import MetricsQuery, ScoresRequest
from heliqa.tools.store import DuckDialect, Store

ORG = "org-sql"
T0 = datetime(2026, 11, 10, 12, 0, 0)
RANGE = {"start": "2026-11-10T00:00:00Z", "end": "2026-11-11T00:00:00Z"}
PAYLOADS = [
    "O'Brien",
    "'; DROP TABLE requests; --",
    '"; DROP TABLE scores; --',
    "') OR 1=1 --",
    "' OR ''='",
    "back\\slash",
    "50%",
    "a_b",
    "%",
    "_",
    "ünïcødé ✓ 日本語",
    "$p0",
    "?",
    "{val_0:String}",
    "x\\%y",
    "tab\there",
]
# Payloads distinctive enough that finding them in SQL text would mean they were pasted in.
DISTINCTIVE = [p for p in PAYLOADS if any(c in p for c in "'\"\\✓") or "DROP" in p]
TEXT_COLUMNS = [
    "model",
    "user_id",
    "target_url",
    "prompt_id",
    "prompt_version",
    "request_referrer",
    "request_body",
    "response_body",
    "node_id",
    "job_id",
    "country_code",
]
TEXT_OPERATORS = ["equals", "not-equals", "like", "ilike", "contains", "not-contains"]


def _row(i: int, **fields) -> dict:
    base = {
        "request_id": f"req-{i:04d}",
        "organization_id": ORG,
        "request_created_at": (T0 + timedelta(seconds=i)).isoformat() + ".000Z",
        "status": 200,
        "latency": 100 + i,
        "model": "plain",
        "provider": "OPENAI",
    }
    base.update(fields)
    return base


def _rows() -> list[dict]:
    rows = []
    for i, payload in enumerate(PAYLOADS):
        rows.append(
            _row(
                i,
                model=payload,
                user_id=payload,
                target_url=payload,
                prompt_id=payload,
                prompt_version=payload,
                request_referrer=payload,
                request_body=f"say {payload} now",
                response_body=payload,
                node_id=payload,
                job_id=payload,
                country_code=payload,
                properties={payload: "hit", "env": payload},
                scores={payload: 7},
            )
        )
    extras = [
        dict(model="GPT-4o", user_id="Alice", properties={"env": "Production"}, scores={"accuracy": 90}),
        dict(model="gpt-4", user_id="bob", properties={}, scores={"accuracy": 50, "helicone-score-feedback": 1}),
        dict(model="abc", latency=None, scores={"helicone-score-feedback": 0}, cost=2.5),
        dict(model="a%c", cost=0.5, cache_reference_id="11111111-1111-1111-1111-111111111111", threat=True),
        dict(model="", request_referrer="", cost=0.4999999),
    ]
    for j, fields in enumerate(extras):
        rows.append(_row(100 + j, **fields))
    return rows


ROWS = _rows()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("sql") / "heliqa.duckdb")
    assert store.add_rows(ROWS) == len(ROWS)
    # Rows of another organization with identical values must never be counted.
    other = [{**r, "request_id": "other-" + r["request_id"], "organization_id": "org-other"} for r in ROWS]
    assert store.add_rows(other) == len(ROWS)
    yield store
    store.close()


def total(rows) -> int:
    """A count answer: one row (or none, for an empty selection)."""
    assert len(rows) <= 1 and all(r.bucket is None and r.group is None for r in rows)
    return int(rows[0].value) if rows else 0


def count(store: Store, tree) -> int:
    return total(store.run(MetricsQuery(measure="requests", timeFilter=RANGE, userFilter=tree), ORG))


# --- an independent model of Helicone's matching (packages/filters/filters.ts) --------------------------------


def like_regex(pattern: str, flags: int = 0) -> re.Pattern:
    out, chars = [], iter(pattern)
    for c in chars:
        if c == "\\":
            out.append(re.escape(next(chars)))
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), flags | re.DOTALL)


def matches(value, operator: str, operand) -> bool:
    if value is None:
        return False  # NULL compares as NULL: excluded for every operator
    if operator == "equals":
        return value == operand
    if operator == "not-equals":
        return value != operand
    if operator == "like":
        return bool(like_regex(operand).fullmatch(value))
    if operator == "ilike":
        return bool(like_regex(operand, re.IGNORECASE).fullmatch(value))
    if operator == "contains":
        return bool(like_regex(f"%{operand}%", re.IGNORECASE).fullmatch(value))
    if operator == "not-contains":
        return not like_regex(f"%{operand}%", re.IGNORECASE).fullmatch(value)
    return {"gte": value >= operand, "lte": value <= operand, "gt": value > operand, "lt": value < operand}[operator]


def expected(field: str, operator: str, operand, key: str | None = None) -> int:
    n = 0
    for r in ROWS:
        if field == "properties":
            value = r.get("properties", {}).get(key, "")
        elif field == "body":
            value = r.get("request_body", "")
        else:
            value = r.get(field) if field == "latency" else ("" if r.get(field) is None else r.get(field))
        n += matches(value, operator, operand)
    return n


def ends_with_lone_escape(pattern: str) -> bool:
    return (len(pattern) - len(pattern.rstrip("\\"))) % 2 == 1


# --- parameters only ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", DISTINCTIVE)
def test_values_and_keys_never_reach_the_sql_text(payload):
    trees = [leaf(column, op, payload) for column in TEXT_COLUMNS for op in TEXT_OPERATORS]
    trees += [leaf("properties", op, payload, key=payload) for op in TEXT_OPERATORS]
    trees += [leaf("scores", "equals", "7", key=payload), leaf("property_key", "equals", payload)]
    for tree in trees:
        d = DuckDialect()
        sql = d.node(tree)
        assert payload not in sql, sql
        assert payload in d.params.values() or payload in [str(v) for v in d.params.values()]
    d = DuckDialect()
    sql, _ = d.group_expr(f"property:{payload}")
    assert payload not in sql and payload in d.params.values()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_text_columns_match_payloads_literally(store, payload):
    for column in TEXT_COLUMNS:
        for operator in TEXT_OPERATORS:
            tree = leaf(column, operator, payload)
            pattern = payload if operator in ("like", "ilike") else f"%{payload}%"
            if operator in TEXT_OPERATORS[2:] and ends_with_lone_escape(pattern):
                # Helicone's ClickHouse rejects such a LIKE pattern too; we must fail clearly, not crash.
                with pytest.raises(HeliqaError):
                    count(store, tree)
                continue
            field = "body" if column == "request_body" else column
            assert count(store, tree) == expected(field, operator, payload), (column, operator, payload)
    assert store.fetch("SELECT count(*) FROM requests", {}) == [(2 * len(ROWS),)]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_property_keys_and_values_match_literally(store, payload):
    assert count(store, leaf("properties", "equals", "hit", key=payload)) == 1
    assert count(store, leaf("property_key", "equals", payload)) == 1
    for operator in ("equals", "not-equals", "contains"):
        if operator == "contains" and ends_with_lone_escape(f"%{payload}%"):
            continue
        got = count(store, leaf("properties", operator, payload, key="env"))
        assert got == expected("properties", operator, payload, key="env"), (operator, payload)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_score_keys_match_literally(store, payload):
    assert count(store, leaf("scores", "equals", "7", key=payload)) == 1
    assert count(store, leaf("scores", "not-equals", "7", key=payload)) == 0
    q = MetricsQuery(measure="score", scoreKey=payload, timeFilter=RANGE)
    assert [r.value for r in store.run(q, ORG)] == [7.0]
    request = ScoresRequest(
        timeFilter=RANGE, userFilter=leaf("scores", "equals", "7", key=payload), dbIncrement="day", timeZoneDifference=0
    )
    data = store.scores(request, ORG)
    assert [(r["score_key"], r["score_sum"]) for r in data if r["score_key"]] == [(payload, 7.0)]


def test_group_by_an_injected_property_key(store):
    for payload in PAYLOADS:
        q = MetricsQuery(measure="requests", groupBy=f"property:{payload}", timeFilter=RANGE)
        assert [(r.group, r.value) for r in store.run(q, ORG)] == [("hit", 1.0)]


# --- Helicone's matching rules ------------------------------------------------------------------------------


def test_case_rules(store):
    assert count(store, leaf("model", "equals", "gpt-4o")) == 0
    assert count(store, leaf("model", "contains", "GpT-4")) == 2
    assert count(store, leaf("model", "like", "gpt%")) == 1
    assert count(store, leaf("model", "ilike", "gpt%")) == 2
    assert count(store, leaf("model", "ilike", "ÜNÏ%")) == 1  # ILIKE folds non-ASCII case


def test_contains_keeps_like_wildcards_as_helicone_does(store):
    s = store
    # 'abc', 'a%c' and any model with an a before a c ('back\\slash', '...TABLE scores...')
    assert count(s, leaf("model", "contains", "a%c")) == expected("model", "contains", "a%c") == 4
    assert count(s, leaf("model", "contains", "a\\%c")) == 1  # escaped: only the literal 'a%c'
    assert count(s, leaf("model", "contains", "a_c")) == 2  # 'abc' and 'a%c'
    assert count(s, leaf("model", "like", "a\\_c")) == 0


def test_missing_property_reads_as_empty(store):
    s = store
    others = len(ROWS) - len(PAYLOADS)
    assert count(s, leaf("properties", "not-equals", "Production", key="env")) == len(ROWS) - 1
    assert count(s, leaf("properties", "equals", "", key="env")) == others - 1
    assert count(s, leaf("properties", "not-contains", "prod", key="env")) == len(ROWS) - 1


def test_score_filters_need_the_key(store):
    s = store
    assert count(s, leaf("scores", "not-equals", "90", key="accuracy")) == 1  # rows without accuracy don't count
    assert count(s, leaf("scores", "equals", "0", key="accuracy")) == 0


def test_feedback_false_also_matches_rows_without_feedback(store):
    s = store
    assert count(s, leaf("helicone-score-feedback", "equals", True)) == 1
    assert count(s, leaf("helicone-score-feedback", "equals", False)) == len(ROWS) - 1


def test_null_latency_never_matches(store):
    s = store
    assert count(s, leaf("latency", "not-equals", 5)) == len(ROWS) - 1
    assert count(s, leaf("latency", "gte", 0)) == len(ROWS) - 1


def test_special_string_values(store):
    s = store
    assert count(s, leaf("model", "equals", "__empty__")) == 1
    assert count(s, leaf("model", "not-equals", "__empty__")) == len(ROWS) - 1
    assert count(s, leaf("model", "equals", "null")) == 0  # stored text is never NULL
    assert count(s, leaf("model", "not-equals", "null")) == len(ROWS)
    assert count(s, leaf("model", "contains", "null")) == 0


def test_cached_threat_and_cost(store):
    s = store
    assert count(s, leaf("cached", "equals", True)) == 1
    assert count(s, leaf("cached", "equals", False)) == len(ROWS) - 1
    assert count(s, leaf("threat", "equals", True)) == 1
    assert count(s, leaf("cost", "gte", 0.5)) == 2  # 2.5 and 0.5; 0.4999999 stays below
    assert count(s, leaf("cost", "gt", 2.4999)) == 1
    assert count(s, all_of([leaf("cost", "gt", 0), leaf("cost", "lt", 1)])) == 2


def test_time_bounds_are_truncated_to_seconds(store):
    s = store
    s_rows = [_row(900, request_created_at="2026-11-12T12:00:00.500Z")]
    s.add_rows(s_rows)
    tree = "all"
    inside = MetricsQuery(
        measure="requests",
        userFilter=tree,
        timeFilter={"start": "2026-11-12T12:00:00.999Z", "end": "2026-11-12T12:00:01Z"},
    )
    outside = MetricsQuery(
        measure="requests",
        userFilter=tree,
        timeFilter={"start": "2026-11-12T11:00:00Z", "end": "2026-11-12T12:00:00.999Z"},
    )
    assert total(s.run(inside, ORG)) == 1
    assert total(s.run(outside, ORG)) == 0
    created = leaf("request_created_at", "lte", "2026-11-12T12:00:00.999Z")
    on_day = {"start": "2026-11-12T00:00:00Z", "end": "2026-11-13T00:00:00Z"}
    assert total(s.run(MetricsQuery(measure="requests", userFilter=created, timeFilter=on_day), ORG)) == 0
