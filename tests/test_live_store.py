"""The live store (tools/lease.py): imports run while other processes answer, and a killed or failed import
leaves a store whose rows, vocabulary and organization counts agree. Every actor is a real subprocess.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import orjson
import pytest

from heliqa.tools.demo import DEMO_ORG, generate
from heliqa.tools.results import USER_IDS_LIMIT
from heliqa.tools.store import Store

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 24, 12, tzinfo=UTC)
KEY = "live-store-test-key-0123456789"
WEEK = {"start": "2026-11-17T12:00:00.000Z", "end": "2026-11-24T12:00:00.000Z"}
HELIQA = [sys.executable, "-m", "heliqa.cli"]


def write_jsonl(path: Path, rows) -> set[str]:
    """The rows as a JSONL.gz file; returns their request ids."""
    ids = set()
    with gzip.open(path, "wb", compresslevel=1) as out:
        for row in rows:
            ids.add(row["request_id"])
            out.write(orjson.dumps(row) + b"\n")
    return ids


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELIQA_", "OPENAI_", "HELICONE_"))}
    return env | {"HELIQA_HOME": str(home), "PYTHONPATH": str(ROOT)} | extra


def import_script(store: Path, data: Path, batch_rows: int) -> list[str]:
    """A subprocess importing `data` in batches of `batch_rows` rows (as `heliqa import`, smaller batches)."""
    code = (
        "import sys; from heliqa.tools.store import Store; "
        f"Store(sys.argv[1]).import_files([sys.argv[2]], batch_rows={batch_rows})"
    )
    return [sys.executable, "-c", code, str(store), str(data)]


def agreement(path: Path) -> int:
    """Assert that the store's derived tables agree with its rows, computed here in Python; returns the row count."""
    store = Store(path, read_only=True)
    try:
        rows = store.fetch(
            "SELECT request_id, organization_id, request_created_at, model, provider, user_id, properties, scores "
            "FROM requests",
            {},
        )
        vocabulary = Counter()
        users: dict[str, Counter] = {}
        score_rows = Counter()
        minute_sums = Counter()
        for request_id, org, created, model, provider, user, properties, scores in rows:
            vocabulary[(org, "model", model, None)] += 1
            vocabulary[(org, "provider", provider, None)] += 1
            for key, value in properties.items():
                vocabulary[(org, "property", key, value)] += 1
            for key, value in scores.items():
                vocabulary[(org, "score", key, None)] += 1
                score_rows[(request_id, key, value)] += 1
                minute_sums[(org, key)] += value
            if user:
                users.setdefault(org, Counter())[user] += 1
        stored = store.fetch("SELECT organization_id, kind, name, value, n FROM vocabulary", {})
        additive = {(o, k, n, v): c for o, k, n, v, c in stored if k not in ("user", "users")}
        assert additive == dict(vocabulary)
        for org, counts in users.items():
            listed = {n: c for o, k, n, v, c in stored if o == org and k == "user"}
            assert len(listed) == min(USER_IDS_LIMIT, len(counts))
            assert all(counts[name] == n for name, n in listed.items())
            assert [c for o, k, n, v, c in stored if o == org and k == "users"] == [len(counts)]
        assert store.organizations() == dict(Counter(org for _, org, *_ in rows))
        assert Counter(store.fetch("SELECT request_id, score_key, value FROM scores", {})) == score_rows
        sums = store.fetch("SELECT organization_id, score_key, sum(total) FROM score_minutes GROUP BY 1, 2", {})
        assert {(o, k): int(t) for o, k, t in sums} == {k: v for k, v in minute_sums.items()}
        return len(rows)
    finally:
        store.close()


def stored_ids(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {i for (i,) in con.execute("SELECT request_id FROM requests").fetchall()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_questions_and_serve_answer_while_a_sample_size_import_runs(tmp_path):
    home = tmp_path / "home"
    db = home / "heliqa.duckdb"
    seeded = list(generate(2_000, seed=5, end=END))  # the store serve and the questions start on
    Store(db).add_rows(seeded)
    Store(db).close()
    data = tmp_path / "requests.jsonl.gz"
    expected = write_jsonl(data, generate(130_000, seed=11, end=END)) | {r["request_id"] for r in seeded}
    env = environment(home, HELIQA_SERVE_KEYS=f"{KEY}={DEMO_ORG}")
    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    serve = subprocess.Popen([*HELIQA, "serve", "--port", str(port)], env=env, **quiet)
    stop = tmp_path / "stop"
    asker = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "live_asker.py"), str(db), DEMO_ORG, "100", str(stop)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/v1/metrics/totalRequests"
    body = {"filter": "all", "timeFilter": WEEK}
    headers = {"authorization": f"Bearer {KEY}"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(url, json=body, headers=headers, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and serve.poll() is None, "heliqa serve did not start"
                time.sleep(0.1)
        importer = subprocess.Popen([*HELIQA, "import", "--quiet", str(data)], env=env, stdout=subprocess.DEVNULL)
        served: list[tuple[int, float]] = []
        while importer.poll() is None:  # serve's clients keep asking while the import runs
            started = time.perf_counter()
            reply = httpx.post(url, json=body, headers=headers, timeout=200)
            served.append((reply.status_code, time.perf_counter() - started))
        assert importer.returncode == 0
        stop.touch()
        out, err = asker.communicate(timeout=300)
        report = json.loads(out)
        slowest = max(t for _, t in served)
        print(f"\nquestions during the import: {report}; serve: {len(served)} answers, slowest {slowest:.2f} s")
        assert report["asked"] >= 100 and report["statuses"] == {"ok": report["asked"]}, (report, err)
        assert len(served) >= 5 and {status for status, _ in served} == {200}
        after = httpx.post(url, json=body, headers=headers, timeout=30).json()
    finally:
        for process in (serve, asker):
            process.kill()
            process.wait()
    assert stored_ids(db) == expected  # every row, once
    week_start = datetime.fromisoformat(WEEK["start"])
    rows = [*seeded, *generate(130_000, seed=11, end=END)]
    in_week = sum(1 for row in rows if week_start <= datetime.fromisoformat(row["request_created_at"]) <= END)
    assert after["data"] == in_week  # serve sees the imported rows once the import is done
    assert agreement(db) == len(expected)
