"""Generators of hostile input for the fuzz tests and benchmarks/fuzz_requests.py, and the entry points they hit.

Bodies are mostly almost-valid Helicone requests (so they reach the deep code: the filter compiler, bucketing,
the store) with the issue's hostile values mixed in: deep and wide trees, calendar edges, huge and non-finite
numbers, lone surrogates, backslashes, invalid UTF-8 and truncated JSON.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from typing import Any

from hypothesis import strategies as st

from heliqa.tools.filters import FIELD_KINDS, OPERATORS_BY_KIND

ALL_OPERATORS = sorted({op for ops in OPERATORS_BY_KIND.values() for op in ops} | {"between", "in", ""})
INSTANTS = st.one_of(
    st.sampled_from(
        [
            "2026-11-17T00:00:00Z",
            "2026-11-24T12:00:00Z",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2106-02-07T06:28:15Z",
            "2026-02-30T00:00:00Z",
            "2026-11-24",
            "2026-11-24 12:00:00.123456789+0530",
            "not a date",
            "",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    st.text(max_size=30),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1440, -1441, 10**400, 1e308, -1e308, 2**63, 2**64]),
    st.from_regex(r"\A-?[0-9]{1,500}(\.[0-9]{0,5})?([eE][+-]?[0-9]{1,4})?\Z"),
)
TEXTS = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),
    st.sampled_from(["gpt-4", "gpt\\", "\\", "%", "_", "a\\%b", "null", "__empty__", "\x00", "<!channel>", "'; --"]),
    st.text(alphabet="\\%_ab'", max_size=12),
)
VALUES = st.one_of(TEXTS, NUMBERS, st.booleans(), st.none(), st.lists(st.integers(), max_size=3))


@st.composite
def leaves(draw: st.DrawFn) -> Any:
    field = draw(st.one_of(st.sampled_from(sorted(FIELD_KINDS)), TEXTS))
    op = draw(st.sampled_from(ALL_OPERATORS))
    value = draw(st.one_of(VALUES, INSTANTS))
    if FIELD_KINDS.get(field) in ("text_map", "score_map") or draw(st.integers(0, 9)) == 0:
        inner: Any = {draw(TEXTS): {op: value}}
    else:
        inner = {op: value}
    if draw(st.integers(0, 12)) == 0:  # an extra operator or field: Helicone's multi-key shapes
        inner = {**inner, draw(st.sampled_from(ALL_OPERATORS)): value}
    return {"request_response_rmt": {field: inner}} if draw(st.integers(0, 15)) else draw(VALUES)


@st.composite
def sound_leaves(draw: st.DrawFn) -> Any:
    """A leaf of the right shape whose value is hostile: the kind that reaches the compiler and the store."""
    field = draw(st.sampled_from(sorted(FIELD_KINDS)))
    kind = FIELD_KINDS[field]
    op = draw(st.sampled_from(OPERATORS_BY_KIND[kind]))
    value = {
        "number": NUMBERS,
        "timestamp": INSTANTS,
        "boolean": st.booleans(),
        "score_map": st.from_regex(r"\A-?[0-9]{1,25}\Z"),
    }.get(kind, TEXTS)
    inner: Any = {op: draw(value)}
    if kind in ("text_map", "score_map"):
        inner = {draw(TEXTS): inner}
    return {"request_response_rmt": {field: inner}}


SOUND_FILTERS = st.recursive(
    st.one_of(st.just("all"), sound_leaves()),
    lambda children: st.builds(
        lambda left, op, right: {"left": left, "operator": op, "right": right},
        children,
        st.sampled_from(["and", "or"]),
        children,
    ),
    max_leaves=8,
)
SOUND_RANGES = st.sampled_from(
    [
        ("2026-11-17T00:00:00Z", "2026-11-24T12:00:00Z"),
        ("2026-11-17T00:00:00Z", "2026-11-24T12:00:00Z"),
        ("2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"),
        ("2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z"),
        ("1970-01-01T00:00:00Z", "2106-02-07T06:28:15Z"),
    ]
)
SCORES_PATH = "/v1/dashboard/scores/query"
SERVE_PATHS = (
    SCORES_PATH,
    "/v1/metrics/totalRequests",
    "/v1/metrics/requestOverTime",
    "/v1/metrics/quantiles",
    "/v1/metrics/models",
    "/v1/metrics/country",
    "/v1/metrics/modelUsageOverTime",
)


@st.composite
def sound_bodies(draw: st.DrawFn, path: str = SCORES_PATH) -> dict[str, Any]:
    """A body with exactly the fields `path` takes (Helicone's request bodies), hostile only in its values."""
    start, end = draw(SOUND_RANGES)
    body: dict[str, Any] = {"timeFilter": {"start": start, "end": end}}
    tree = draw(SOUND_FILTERS)
    if path == SCORES_PATH:
        body["userFilter"] = tree
    else:
        body["filter"] = tree
    if path.endswith(("OverTime", "quantiles")) or path == SCORES_PATH:
        body["dbIncrement"] = draw(st.sampled_from(["min", "hour", "day", "day", "week", "month", "year"]))
        body["timeZoneDifference"] = draw(st.sampled_from([0, 0, 60, -330, 1440, -1440, 90.5]))
    if path.endswith("quantiles"):
        body["metric"] = draw(st.sampled_from(["latency", "total_tokens", "prompt_tokens"]))
    if path.endswith(("models", "country")):
        body["offset"], body["limit"] = draw(st.sampled_from([(0, 10), (5, 100), (0, 1e9), (-3, 0)]))
    return body


FILTERS = st.recursive(
    st.one_of(st.just("all"), leaves(), st.just({})),
    lambda children: st.builds(
        lambda left, op, right: {"left": left, "operator": op, "right": right},
        children,
        st.sampled_from(["and", "or", "and", "or", "xor", ""]),
        children,
    ),
    max_leaves=12,
)


@st.composite
def request_bodies(draw: st.DrawFn, path: str = SCORES_PATH) -> bytes:
    """One request body for `path` as bytes: half sound in shape with hostile values, half hostile in shape too."""
    if draw(st.booleans()):
        return json.dumps(draw(sound_bodies(path)), ensure_ascii=draw(st.booleans()), allow_nan=True).encode(
            "utf-8", "surrogatepass"
        )
    body: dict[str, Any] = {
        "timeFilter": {"start": draw(INSTANTS), "end": draw(INSTANTS)},
        "userFilter": draw(FILTERS),
        "dbIncrement": draw(st.sampled_from(["min", "hour", "day", "week", "month", "year", "days", ""])),
        "timeZoneDifference": draw(st.one_of(st.integers(-1500, 1500), NUMBERS)),
    }
    if draw(st.booleans()):  # the metrics endpoints' names
        body["filter"] = body.pop("userFilter")
        body["offset"], body["limit"] = draw(NUMBERS), draw(NUMBERS)
    if draw(st.booleans()):  # half the bodies get a valid range, so they reach the compiler and the store
        body["timeFilter"] = {"start": "2026-11-17T00:00:00Z", "end": "2026-11-24T12:00:00Z"}
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
        if draw(st.booleans()):
            body[key] = draw(VALUES)
        else:
            body.pop(key, None)
    text = json.dumps(body, ensure_ascii=draw(st.booleans()), allow_nan=True, default=str)
    mutation = draw(st.integers(0, 9))
    if mutation == 0:  # a deep chain in place of the filter (built as text: json.dumps would recurse)
        depth = draw(st.sampled_from([40, 70, 1_200, 100_000]))
        deep = '{"left":' * depth + '"all"' + ',"operator":"and","right":"all"}' * depth
        text = text.replace('"userFilter": ', '"userFilter": ' + deep + ', "x": ', 1)
    elif mutation == 1:
        text = text[: draw(st.integers(0, len(text)))]
    raw = text.encode("utf-8", "surrogatepass")
    if mutation == 2:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    return raw


# --- entry points -----------------------------------------------------------------------------------------------
def run_query_cli(raw: bytes, org: str) -> tuple[int, dict]:
    """`heliqa query -` in this process with `raw` on stdin: (exit code, printed JSON). Any exception escapes."""
    from heliqa.cli import main

    stdin, stdout = io.TextIOWrapper(io.BytesIO(raw)), io.StringIO()
    with contextlib.redirect_stdout(stdout):
        saved, sys.stdin = sys.stdin, stdin
        try:
            code = main(["query", "-", "--org", org])
        finally:
            sys.stdin = saved
    printed = stdout.getvalue()
    return code, json.loads(printed) if printed else {}


PATH_AND_BODY = st.sampled_from(SERVE_PATHS).flatmap(lambda path: st.tuples(st.just(path), request_bodies(path)))
