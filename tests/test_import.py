"""Importing JSONL(.gz) logs: bad lines reported by number, idempotent re-import, readable failures, org isolation."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from heliqa.progress import Progress
from heliqa.tools.errors import ConfigError, ImportProblem
from heliqa.tools.query import MetricsQuery, ScoresRequest
from heliqa.tools.store import Store

ORG_A = "aaaaaaaa-0000-4000-8000-000000000001"
ORG_B = "bbbbbbbb-0000-4000-8000-000000000002"
DAY = {"start": "2026-11-10T00:00:00Z", "end": "2026-11-11T00:00:00Z"}


def good(n: int, org: str = ORG_A, **fields) -> str:
    row = {
        "request_id": f"req-{n}",
        "organization_id": org,
        "request_created_at": f"2026-11-10T{n % 24:02d}:00:00.000Z",
        "status": 200,
        "latency": 100 * n,
        "model": "gpt-4o",
        "provider": "openai",
        "cost": 0.001,
        "properties": {"feature": "search"},
        "scores": {"accuracy": n},
    }
    row.update(fields)
    return json.dumps(row)


# (line text, expected reason fragment or None for a good line)
LINES = [
    (good(1), None),
    ('{"request_id": "req-x", "status": 200', "not valid JSON"),
    (
        json.dumps({"organization_id": ORG_A, "request_created_at": "2026-11-10T01:00:00Z", "status": 200}),
        "missing request_id",
    ),
    (good(3, request_created_at="2026-11-31T00:00:00Z"), "request_created_at is not an ISO 8601 instant"),
    (good(4, request_created_at="last tuesday"), "request_created_at is not an ISO 8601 instant"),
    (good(5, latency="fast"), "latency must be an integer"),
    (good(6, threat="yes"), "threat must be true or false"),
    (good(7, scores={"accuracy": 0.5}), "score 'accuracy' must be an integer"),
    (good(8, properties=["feature"]), "properties must be an object"),
    (good(9, cost="cheap"), "cost must be a number of USD"),
    (good(10, latency=10**30), "latency is out of range"),
    ("[1, 2, 3]", "line is not a JSON object"),
    ("", None),
    (good(11, status=None), "missing status"),
    (good(12, organization_id=None), "missing organization_id"),
    (good(13), None),
    (good(13), None),  # the same request twice in one file counts once
    (good(14, latency="250", cost="0.5", threat=None), None),
]
GOOD_IDS = {"req-1", "req-13", "req-14"}


def write(path, lines, compress=False):
    text = "\n".join(lines) + "\n"
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def count(store: Store, org: str, tree="all") -> int:
    rows = store.run(MetricsQuery(measure="requests", timeFilter=DAY, userFilter=tree), org)
    return int(rows[0].value) if rows else 0


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gz"])
def test_bad_lines_are_reported_and_the_rest_load(tmp_path, compress):
    path = write(tmp_path / ("logs.jsonl.gz" if compress else "logs.jsonl"), [line for line, _ in LINES], compress)
    store = Store(tmp_path / "home" / "heliqa.duckdb")
    seen = []
    report = store.import_files([path], progress=lambda p, done, total: seen.append((p, done, total)))
    expected_bad = [(n, reason) for n, (_, reason) in enumerate(LINES, start=1) if reason]
    assert [(b.line, b.path) for b in report.bad] == [(n, path) for n, _ in expected_bad]
    for bad, (n, reason) in zip(report.bad, expected_bad, strict=True):
        assert reason in bad.reason, (n, bad.reason)
        assert str(bad) == f"{path}:{n}: {bad.reason}"
    assert report.lines == len(LINES)
    assert report.added == len(GOOD_IDS) and report.read == len(GOOD_IDS) + 1
    assert seen and seen[-1][1] == seen[-1][2] > 0, "progress must reach the file size"
    assert count(store, ORG_A) == len(GOOD_IDS)
    # Values were normalized: provider upper case, strings coerced, cost in nano-USD.
    assert store.fetch("SELECT provider, latency, cost, threat FROM requests WHERE request_id = 'req-14'", {}) == [
        ("OPENAI", 250, 500_000_000, False)
    ]

    again = store.import_files([path])
    assert again.added == 0 and again.duplicates == len(GOOD_IDS) + 1 and len(again.bad) == len(expected_bad)
    assert count(store, ORG_A) == len(GOOD_IDS)
    store.close()


def test_plain_and_gz_copies_of_one_file_load_once(tmp_path):
    lines = [good(n) for n in range(1, 6)]
    store = Store(tmp_path / "heliqa.duckdb")
    report = store.import_files([write(tmp_path / "a.jsonl", lines), write(tmp_path / "a.jsonl.gz", lines, True)])
    assert (report.added, report.duplicates, report.bad) == (5, 5, [])
    assert len(report.files) == 2
    assert count(store, ORG_A) == 5
    store.close()


def test_many_batches_stay_idempotent(tmp_path):
    from heliqa.tools.importer import read_lines

    path = write(tmp_path / "big.jsonl", [good(n) for n in range(250)])
    assert [len(b.rows) for b in read_lines(path, None, batch=100)] == [100, 100, 50]
    store = Store(tmp_path / "heliqa.duckdb")
    assert store.import_files([path]).added == 250
    assert store.import_files([path]).added == 0
    assert count(store, ORG_A) == 250
    store.close()


@pytest.mark.parametrize("kind", ["missing", "directory", "broken-gz"])
def test_an_unreadable_file_is_a_clear_error(tmp_path, kind):
    if kind == "missing":
        path = tmp_path / "nope.jsonl"
    elif kind == "directory":
        path = tmp_path
    else:
        path = tmp_path / "broken.jsonl.gz"
        path.write_bytes(gzip.compress(("\n".join(good(n) for n in range(50)) + "\n").encode())[:60])
    store = Store(tmp_path / "store" / "heliqa.duckdb")
    with pytest.raises(ImportProblem) as info:
        store.import_files([str(path)])
    assert str(info.value).startswith(f"cannot read {path}")
    assert info.value.exit_code == 2
    store.close()


def test_helicone_export_rows_load_with_an_org(tmp_path):
    row = {
        "request_id": "exp-1",
        "request_created_at": "2026-11-10T08:00:00.000Z",
        "request_user_id": "u1",
        "delay_ms": 812,
        "response_status": 429,
        "request_model": "claude-3-5-sonnet",
        "provider": "anthropic",
        "request_properties": {"feature": "chat"},
        "costUSD": 0.25,
        "scores": {"helpful": True},
    }
    path = write(tmp_path / "export.jsonl", [json.dumps(row)])
    store = Store(tmp_path / "heliqa.duckdb")
    without = store.import_files([path])
    assert without.added == 0 and "missing organization_id" in without.bad[0].reason
    assert store.import_files([path], default_org=ORG_B).added == 1
    assert store.fetch(
        "SELECT user_id, latency, status, model, provider, properties['feature'], cost FROM requests", {}
    ) == [("u1", 812, 429, "claude-3-5-sonnet", "ANTHROPIC", "chat", 250_000_000)]
    assert store.vocabulary(ORG_B).score_keys == {"helpful-hcone-bool": 1}
    store.close()


# --- organizations ------------------------------------------------------------------------------------------


@pytest.fixture()
def two_orgs(tmp_path):
    store = Store(tmp_path / "heliqa.duckdb")
    lines = [good(n, ORG_A) for n in range(1, 6)]
    lines += [good(n, ORG_B, request_id=f"b-{n}", model="gpt-4", scores={"accuracy": 100}) for n in range(1, 4)]
    store.import_files([write(tmp_path / "two.jsonl", lines)])
    yield store
    store.close()


def test_several_orgs_and_none_chosen_lists_them(two_orgs):
    with pytest.raises(ConfigError) as info:
        two_orgs.resolve_org(None)
    text = str(info.value)
    assert "2 organizations" in text and f"{ORG_A} (5 requests)" in text and f"{ORG_B} (3 requests)" in text
    assert "HELIQA_ORG_ID" in text and "--org" in text


def test_unknown_org_lists_the_known_ones(two_orgs):
    with pytest.raises(ConfigError) as info:
        two_orgs.resolve_org("cccccccc-0000-4000-8000-000000000003")
    assert ORG_A in str(info.value) and ORG_B in str(info.value)


def test_queries_for_one_org_never_count_the_other(two_orgs):
    assert two_orgs.resolve_org(ORG_B) == ORG_B
    assert two_orgs.organizations() == {ORG_A: 5, ORG_B: 3}
    assert count(two_orgs, ORG_A) == 5 and count(two_orgs, ORG_B) == 3
    # Even a filter naming the other organization finds nothing outside the scoped one.
    tree = {"request_response_rmt": {"organization_id": {"equals": ORG_B}}}
    assert count(two_orgs, ORG_A, tree) == 0
    assert count(two_orgs, ORG_A, {"request_response_rmt": {"model": {"equals": "gpt-4"}}}) == 0
    assert set(two_orgs.vocabulary(ORG_A).models) == {"gpt-4o"}
    assert set(two_orgs.vocabulary(ORG_B).models) == {"gpt-4"}
    request = ScoresRequest(timeFilter=DAY, userFilter="all", dbIncrement="day", timeZoneDifference=0)
    assert {(r["score_key"], r["score_sum"]) for r in two_orgs.scores(request, ORG_A)} == {("accuracy", 3.0), ("", 0)}
    assert {(r["score_key"], r["score_sum"]) for r in two_orgs.scores(request, ORG_B)} == {("accuracy", 100.0), ("", 0)}


def test_one_org_is_implied(tmp_path):
    store = Store(tmp_path / "heliqa.duckdb")
    store.import_files([write(tmp_path / "one.jsonl", [good(1)])])
    assert store.resolve_org(None) == ORG_A
    store.close()


def test_an_empty_store_says_how_to_fill_it(tmp_path):
    store = Store(tmp_path / "heliqa.duckdb")
    with pytest.raises(ConfigError) as info:
        store.resolve_org(None)
    assert "empty" in str(info.value) and "heliqa import" in str(info.value)
    store.close()


def test_progress_bar_draws_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    with Progress(stream=stream) as progress:
        progress.update("logs.jsonl.gz", 50, 100)
        progress.update("logs.jsonl.gz", 100, 100)
    assert "100%" in stream.getvalue() and stream.getvalue().endswith("\n")
    quiet = io.StringIO()
    with Progress(stream=quiet) as progress:
        progress.update("x", 1, 2)
    assert quiet.getvalue() == ""
