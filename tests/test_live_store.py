"""The live store (tools/lease.py): imports run while other processes answer, and a killed or failed import
leaves a store whose rows, vocabulary and organization counts agree. Every actor is a real subprocess.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import resource
import signal
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
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 24, 12, tzinfo=UTC)
KEY = "live-store-test-key-0123456789"
WEEK = {"start": "2026-11-17T12:00:00.000Z", "end": "2026-11-24T12:00:00.000Z"}
HELIQA = [sys.executable, "-m", "heliqa.cli"]


def write_jsonl(path: Path, rows) -> dict[str, datetime]:
    """The rows as a JSONL.gz file; returns request id -> creation time."""
    written = {}
    with gzip.open(path, "wb", compresslevel=1) as out:
        for row in rows:
            written[row["request_id"]] = datetime.fromisoformat(row["request_created_at"])
            out.write(orjson.dumps(row) + b"\n")
    return written


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
        tables = {t for (t,) in store.fetch("SELECT table_name FROM duckdb_tables()", {})}
        if "requests" not in tables:
            return 0  # killed before its first commit: a store with no tables yet, which is also agreeing
        rows = store.fetch(
            "SELECT request_id, organization_id, request_created_at, model, provider, user_id, properties, scores, "
            "country_code FROM requests",
            {},
        )
        vocabulary = Counter()
        users: dict[str, Counter] = {}
        score_rows = Counter()
        minute_sums = Counter()
        for request_id, org, _, model, provider, user, properties, scores, country in rows:
            vocabulary[(org, "model", model, None)] += 1
            if country:
                vocabulary[(org, "country", country, None)] += 1
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


def test_questions_and_serve_answer_while_a_sample_size_import_runs(tmp_path):
    home = tmp_path / "home"
    db = home / "heliqa.duckdb"
    seeded = list(generate(2_000, seed=5, end=END))  # the store serve and the questions start on
    Store(db).add_rows(seeded)
    Store(db).close()
    data = tmp_path / "requests.jsonl.gz"
    created = write_jsonl(data, generate(130_000, seed=11, end=END))
    created |= {r["request_id"]: datetime.fromisoformat(r["request_created_at"]) for r in seeded}
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
    assert stored_ids(db) == set(created)  # every row, once
    week_start = datetime.fromisoformat(WEEK["start"])
    in_week = sum(1 for moment in created.values() if week_start <= moment <= END)
    assert after["data"] == in_week  # serve sees the imported rows once the import is done
    assert agreement(db) == len(created)


def test_kill_9_at_random_points_of_an_import_always_leaves_an_agreeing_store(tmp_path):
    db = tmp_path / "home" / "heliqa.duckdb"
    data = tmp_path / "requests.jsonl.gz"
    expected = write_jsonl(data, generate(12_000, seed=21, end=END))
    rng = random.Random(2026)
    seen = []
    for _ in range(5):
        importer = subprocess.Popen(import_script(db, data, 1_000), env=environment(db.parent))
        time.sleep(rng.uniform(0.3, 2.5))  # start-up, a batch's parsing, its transaction or its checkpoint
        importer.send_signal(signal.SIGKILL)
        importer.wait()
        if db.exists():
            seen.append(agreement(db))
    print(f"\nrows after each kill: {seen}")
    assert len(set(seen)) > 1 and seen[-1] > 0  # the kills landed at different points of the import
    done = subprocess.run(import_script(db, data, 1_000), env=environment(db.parent), timeout=120)
    assert done.returncode == 0
    assert stored_ids(db) == set(expected)
    assert agreement(db) == len(expected)
    assert not list(db.parent.glob("*.import-*"))  # the killed imports' staging files are gone too


def test_a_failed_write_is_one_message_and_keeps_the_store_consistent(tmp_path):
    """A file-size limit makes DuckDB's writes fail with EFBIG, the same path as a full disk (ENOSPC)."""
    home = tmp_path / "home"
    db = home / "heliqa.duckdb"
    Store(db).add_rows(generate(2_000, seed=5, end=END))
    Store(db).close()
    data = tmp_path / "requests.jsonl.gz"
    expected = write_jsonl(data, generate(12_000, seed=22, end=END))
    limit = db.stat().st_size + 3_000_000  # room for a few batches, not for all of them

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [*HELIQA, "import", "--quiet", "--batch-rows", "2000", str(data)]
    failed = subprocess.run(command, env=environment(home), preexec_fn=limited, capture_output=True, text=True)
    assert failed.returncode == 5, failed.stderr
    assert re.match(r"heliqa: (import|re-clustering the store) failed: cannot write .*File too large", failed.stderr)
    assert "Traceback" not in failed.stderr and "rollback" not in failed.stderr
    kept = agreement(db)
    assert 2_000 < kept <= 14_000 and (kept - 2_000) % 2_000 == 0  # whole batches only
    done = subprocess.run(command, env=environment(home), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert agreement(db) == 14_000 and set(expected) <= stored_ids(db)


def test_repair_and_reimport_re_derive_a_stale_vocabulary(tmp_path):
    home = tmp_path / "home"
    db = home / "heliqa.duckdb"
    data = tmp_path / "requests.jsonl.gz"
    write_jsonl(data, generate(3_000, seed=23, end=END))
    env = environment(home)
    assert subprocess.run([*HELIQA, "import", "--quiet", str(data)], env=env, capture_output=True).returncode == 0
    for fix in (["repair"], ["import", "--quiet", str(data)]):
        with duckdb.connect(str(db)) as con:  # what an older heliqa killed before its vocabulary refresh left
            con.execute("DELETE FROM vocabulary WHERE kind IN ('model', 'property')")
        with pytest.raises(AssertionError):
            agreement(db)
        done = subprocess.run([*HELIQA, *fix], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert agreement(db) == 3_000


def test_a_process_that_reads_also_writes_and_keeps_answering(tmp_path):
    """A server's own periodic sync: reads on other threads of the same process go on during its writes."""
    db = tmp_path / "heliqa.duckdb"
    writer = Store(db)
    writer.add_rows(generate(1_000, seed=24, end=END))
    reader = Store(db, read_only=True)
    counts: list[list[int]] = [[], []]
    errors: list[Exception] = []
    stop = threading.Event()

    def read(seen: list[int]) -> None:
        while not stop.is_set():
            try:
                seen.append(reader.organizations()[DEMO_ORG])
            except Exception as error:
                errors.append(error)

    threads = [threading.Thread(target=read, args=(seen,)) for seen in counts]
    for thread in threads:
        thread.start()
    for seed in range(25, 30):
        writer.add_rows(generate(1_000, seed=seed, end=END))
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    for seen in counts:
        assert seen == sorted(seen) and seen[-1] == 6_000  # never a count going backwards
        assert len(set(seen)) > 2  # the reads ran between the writes, seeing each commit
    assert agreement(db) == 6_000
