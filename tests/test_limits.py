"""Bad input at every entry gets one clear error naming the limit (tools/limits.py), never a traceback or a 500.

Each family of issue 9's inputs goes through `heliqa query` (files and stdin) and `heliqa serve` (uvicorn on
127.0.0.1, chunked bodies included) over a small store built here from the seeded demo generator.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from heliqa.cli import main as cli
from heliqa.serve import create_app
from heliqa.tools.demo import generate
from heliqa.tools.errors import InvalidRequest, LimitExceeded
from heliqa.tools.filters import like_pattern
from heliqa.tools.limits import MAX_BODY_BYTES, MAX_BUCKETS, MAX_DEPTH, MAX_FILTER_LEAVES, parse_json
from heliqa.tools.query import MetricsQuery, ScoresRequest, TimeFilter
from heliqa.tools.results import Row, iso_z
from heliqa.tools.store import Store
from heliqa.tools.validation import validate
from tests.servers import uvicorn_app

ORG = "00000000-0000-4000-8000-00000000ab01"
END = datetime(2026, 11, 24, 12, tzinfo=UTC)
WEEK = {"start": "2026-11-17T00:00:00Z", "end": "2026-11-24T12:00:00Z"}
KEY = "limits-test-key-0123456789"
AUTH = {"authorization": f"Bearer {KEY}"}
# Model names that stress LIKE: backslashes (one, trailing, doubled), the wildcards as text.
ODD_MODELS = ["gpt\\", "gpt\\\\", "a%b", "a_b", "c:\\tmp\\x", "\\"]


def deep_filter(levels: int) -> str:
    """A left-deep chain of `levels` 'and' branches as JSON text (built as text: json.dumps would recurse)."""
    return '{"left":' * levels + '"all"' + ',"operator":"and","right":"all"}' * levels


def body(user_filter="all", **fields) -> dict:
    return {"timeFilter": WEEK, "userFilter": user_filter, "dbIncrement": "day", "timeZoneDifference": 0, **fields}


def leaf(field: str, op: str, value) -> dict:
    return {"request_response_rmt": {field: {op: value}}}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("limits-home")
    store = Store(home / "heliqa.duckdb")
    rows = list(generate(2_000, seed=11, end=END.replace(tzinfo=None), org=ORG, days=8))
    for i, model in enumerate(ODD_MODELS):  # a few requests under each odd name
        for j in range(i + 1):
            rows.append({**rows[-1 - j], "request_id": f"00000000-0000-4000-8000-{i:06d}{j:06d}", "model": model})
    store.add_rows(rows)
    store.close()
    return home


@pytest.fixture(scope="module")
def store(home):
    store = Store(home / "heliqa.duckdb", read_only=True)
    yield store
    store.close()


def run_query(monkeypatch, capsys, home: Path, tmp_path: Path, text: str | bytes) -> tuple[int, dict]:
    """`heliqa query FILE` in this process: (exit code, the JSON printed)."""
    monkeypatch.setenv("HELIQA_HOME", str(home))
    path = tmp_path / "body.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    code = cli(["query", str(path), "--org", ORG])
    return code, json.loads(capsys.readouterr().out)


# --- heliqa query: every family of bad body --------------------------------------------------------------
BAD_BODIES = {
    "deep tree": (json.dumps(body("X")).replace('"X"', deep_filter(1_200)), f"deeper than {MAX_DEPTH} levels"),
    "non-UTF-8 file": (b'{"timeFilter": "\xff\xfe"}', "not valid UTF-8"),
    "5,001-digit integer": ('{"timeZoneDifference": 1' + "0" * 5_000 + "}", "number magnitude"),
    "400-digit cost as a number": (
        json.dumps(body(leaf("cost", "gte", "X"))).replace('"X"', "1" + "0" * 400),
        "number magnitude",
    ),
    "400-digit cost as a string": (json.dumps(body(leaf("cost", "gte", "1" + "0" * 400))), "number magnitude"),
    "5,000-digit score": (
        json.dumps(body({"request_response_rmt": {"scores": {"a": {"equals": "9" * 5000}}}})),
        "digits",
    ),
    "calendar edge with an offset": (
        json.dumps(body(timeFilter={"start": "0001-01-01T00:00:00+14:00", "end": "2026-01-01T00:00:00Z"})),
        "calendar",
    ),
    "leaf at the calendar edge": (
        json.dumps(body(leaf("request_created_at", "gte", "0001-01-01T00:00:00+14:00"))),
        "calendar",
    ),
    "buckets reaching year 10000": (
        json.dumps(
            body(
                timeFilter={"start": "9999-01-01T00:00:00Z", "end": "9999-12-31T23:00:00Z"},
                dbIncrement="year",
                timeZoneDifference=-1440,
            )
        ),
        "time window",
    ),
    "lone surrogate": (json.dumps(body(leaf("model", "equals", "\ud800")), ensure_ascii=True), "not valid UTF-8"),
    "NaN": ('{"timeZoneDifference": NaN}', "not valid JSON"),
    "minute buckets over ten years": (
        json.dumps(
            body(timeFilter={"start": "2016-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, dbIncrement="min")
        ),
        f"the limit is {MAX_BUCKETS:,} (bucket count)",
    ),
    "over a megabyte": (
        json.dumps(body(leaf("model", "equals", "m" * 5000)) | {"pad": "x" * MAX_BODY_BYTES}),
        "body size",
    ),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_query_bad_bodies_exit_2_naming_the_limit(case, monkeypatch, capsys, home, tmp_path):
    text, expected = BAD_BODIES[case]
    code, printed = run_query(monkeypatch, capsys, home, tmp_path, text)
    if expected is None:
        assert code == 0 and printed["error"] is None
        return
    assert code == 2 and printed["data"] is None, printed
    assert expected in printed["error"] and len(printed["error"]) < 600, printed["error"]


def test_query_leaf_count_is_limited(monkeypatch, capsys, home, tmp_path):
    # a balanced 'or' tree stays shallow; only the number of conditions is too large
    nodes = [leaf("model", "equals", f"m{i}") for i in range(MAX_FILTER_LEAVES + 1)]
    while len(nodes) > 1:
        pairs = [{"left": a, "operator": "or", "right": b} for a, b in zip(nodes[::2], nodes[1::2], strict=False)]
        nodes = pairs + ([nodes[-1]] if len(nodes) % 2 else [])
    code, printed = run_query(monkeypatch, capsys, home, tmp_path, json.dumps(body(nodes[0])))
    assert code == 2 and f"more than {MAX_FILTER_LEAVES:,} filter conditions (leaf count)" in printed["error"]


def test_query_from_stdin_as_a_subprocess(home):
    env = {"HELIQA_HOME": str(home), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "heliqa.cli", "query", "-", "--org", ORG],
        input=b'{"timeFilter": "\xc3\x28"}',
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert "stdin holds text that is not valid UTF-8" in json.loads(done.stdout)["error"]


def test_deep_tree_error_path_is_short():
    # within the depth limit, a bad leaf at the bottom of a 40-deep chain: the path is clipped, not 4 KB
    tree: dict | str = leaf("latency", "between", 1)
    for _ in range(40):
        tree = {"left": tree, "operator": "and", "right": "all"}
    with pytest.raises(InvalidRequest) as info:
        validate(ScoresRequest, body(tree))
    assert (
        len(str(info.value)) < 300 and "levels" in str(info.value) and "'between' is not an operator" in str(info.value)
    )
    with pytest.raises(LimitExceeded, match="tree depth"):
        validate(ScoresRequest, json.loads(json.dumps(body("X")).replace('"X"', deep_filter(200))))


def test_year_labels_before_1000_are_zero_padded():
    assert iso_z(datetime(999, 3, 4, 5, 6, 7)) == "0999-03-04T05:06:07Z"
    assert Row(datetime(42, 1, 1), None, 1.0).to_json()["bucket"] == "0042-01-01T00:00:00Z"


def test_parse_json_limits_directly():
    assert parse_json(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    with pytest.raises(LimitExceeded, match="body size"):
        parse_json(b"[" + b"1," * MAX_BODY_BYTES + b"1]")
    with pytest.raises(LimitExceeded, match="value count"):
        parse_json(json.dumps(list(range(30_000))))
    with pytest.raises(LimitExceeded, match="text length"):
        parse_json(json.dumps({"a": "x" * 20_000}))
    with pytest.raises(InvalidRequest, match="not valid JSON") as info:
        parse_json(b"{")
    assert not isinstance(info.value, LimitExceeded)


# --- like / ilike / contains: any text, as Helicone matches it -------------------------------------------
def helicone_like(pattern: str, text: str, case: bool = True) -> bool:
    """ClickHouse's LIKE, independently: % any run, _ one character, backslash escapes the next character."""
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(out, text, re.S | (0 if case else re.I)) is not None


@pytest.mark.parametrize("value", ["gpt\\", "gpt\\\\", "gpt\\\\\\", "a\\%b", "a\\_b", "\\", "c:\\tmp\\x", "%\\", "_"])
@pytest.mark.parametrize("op", ["like", "ilike", "contains", "not-contains"])
def test_like_values_with_backslashes_match_as_helicone(store, op, value):
    query = MetricsQuery(
        measure="requests", groupBy="model", timeFilter=TimeFilter(**WEEK), userFilter=leaf("model", op, value)
    )
    got = {r.group: r.value for r in store.run(query, ORG)}
    everything = MetricsQuery(measure="requests", groupBy="model", timeFilter=TimeFilter(**WEEK))
    counts = {r.group: r.value for r in store.run(everything, ORG)}
    pattern = like_pattern(value) if op in ("like", "ilike") else f"%{value}%"
    hit = {m for m in counts if helicone_like(pattern, m, case=op == "like")}
    want = {m: n for m, n in counts.items() if (m in hit) != (op == "not-contains")}
    assert got == want
    if op == "like" and value in ("gpt\\", "\\"):
        assert value in got  # a trailing lone backslash is the character itself


def test_like_through_heliqa_query_is_never_a_store_error(monkeypatch, capsys, home, tmp_path):
    code, printed = run_query(monkeypatch, capsys, home, tmp_path, json.dumps(body(leaf("model", "like", "gpt\\"))))
    assert code == 0 and printed["error"] is None and printed["data"]


# --- heliqa serve ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(store):
    with uvicorn_app(create_app(store, {KEY: ORG})) as url:
        yield url


def post_raw(url: str, path: str, content, kind: str = "application/json") -> httpx.Response:
    return httpx.post(url + path, content=content, headers={**AUTH, "content-type": kind}, timeout=30)


SCORES, TOTAL, MODELS, COUNTRY = (
    "/v1/dashboard/scores/query",
    "/v1/metrics/totalRequests",
    "/v1/metrics/models",
    "/v1/metrics/country",
)


@pytest.mark.parametrize("case", [c for c in BAD_BODIES if BAD_BODIES[c][1] is not None])
def test_serve_bad_bodies_are_4xx_on_scores_and_metrics(served, case):
    text, expected = BAD_BODIES[case]
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    for path in (SCORES, TOTAL, "/v1/metrics/requestOverTime"):
        answer = post_raw(served, path, raw)
        assert answer.status_code in (200, 413, 422), (path, answer.status_code, answer.text[:300])
        assert answer.status_code != 200 or answer.json()["data"] is None  # scores: Helicone's 200-with-error


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400])
@pytest.mark.parametrize("path", [MODELS, COUNTRY])
@pytest.mark.parametrize("field", ["offset", "limit"])
def test_serve_table_offsets_out_of_range_are_422(served, number, path, field):
    base = {"filter": "all", "timeFilter": WEEK, "offset": 0, "limit": 10}
    text = json.dumps(base | {field: "X"}).replace('"X"', number)
    answer = post_raw(served, path, text)
    assert answer.status_code == 422, answer.text[:300]
    assert answer.json()["message"] == "Validation Failed"


def test_serve_lone_surrogate_and_trailing_backslash(served, store):
    surrogate = json.dumps({"filter": leaf("model", "equals", "\ud800"), "timeFilter": WEEK}, ensure_ascii=True)
    answer = post_raw(served, TOTAL, surrogate)
    assert answer.status_code == 422 and "string encoding" in answer.text
    like = post_raw(served, TOTAL, json.dumps({"filter": leaf("model", "like", "gpt\\"), "timeFilter": WEEK}))
    expected = MetricsQuery(
        measure="requests", timeFilter=TimeFilter(**WEEK), userFilter=leaf("model", "equals", "gpt\\")
    )
    assert like.status_code == 200 and like.json()["data"] == store.run(expected, ORG)[0].value > 0


def test_serve_body_size_limit_with_and_without_length(served):
    big = b'{"filter": "all", "pad": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    started = time.monotonic()
    assert post_raw(served, TOTAL, big).status_code == 413

    def chunks():
        yield big[:1000]
        for i in range(1000, len(big), 65536):
            yield big[i : i + 65536]

    chunked = post_raw(served, TOTAL, chunks())
    assert chunked.status_code == 413 and "body size" in chunked.text
    assert time.monotonic() - started < 10


def test_serve_json_sent_as_text_plain_is_a_clear_415(served):
    text = json.dumps({"filter": "all", "timeFilter": WEEK})
    answer = post_raw(served, TOTAL, text, kind="text/plain")
    assert answer.status_code == 415 and "application/json" in answer.json()["message"]
    assert "text/plain" in answer.json()["message"]


def test_serve_big_or_tree_is_refused_quickly(served):
    # issue 9: a 65,536-leaf 'or' tree (6 MB) took 27 s and 2 GB; the body size limit refuses it at once
    nodes = [json.dumps(leaf("model", "equals", f"model-{i}")) for i in range(65_536)]
    while len(nodes) > 1:
        nodes = [f'{{"left":{a},"operator":"or","right":{b}}}' for a, b in zip(nodes[::2], nodes[1::2], strict=True)]
    started = time.monotonic()
    answer = post_raw(served, TOTAL, f'{{"filter":{nodes[0]},"timeFilter":{json.dumps(WEEK)}}}')
    assert answer.status_code == 413 and time.monotonic() - started < 5
