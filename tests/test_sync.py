"""`heliqa sync` against the fake Helicone (limits, sort rules, faults) and against a second `heliqa serve`.

Every test ends with the same check: the store holds exactly the server's rows, compared field by field with
values computed here from the server's own rows (not through heliqa's mapping).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from heliqa.tools.demo import generate
from heliqa.tools.errors import BackendError
from heliqa.tools.helicone import HeliconeClient
from heliqa.tools.helicone_requests import HeliconeRequest, RequestQuery, RequestSort, list_requests, to_store_row
from heliqa.tools.store import Store
from heliqa.tools.sync import Syncer, SyncState, parse_duration, parse_since, state_for
from tests.fake_helicone import FakeHelicone, RequestLog, helicone_row, serve_requests
from tests.servers import free_port, wait_listening

ORG = "5d1c0e4a-7b2f-4a8e-9c3d-0e1f2a3b4c5d"
END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def _ms(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=None)


def server_rows(n: int = 700, seed: int = 3, dense: int = 130) -> list[dict]:
    """Demo requests as Helicone returns them, plus `dense` requests inside one second (ties on created_at)."""
    rows = [helicone_row(r) for r in generate(n, seed, END, ORG, days=2)]
    second = "2026-11-23T08:00:00"
    for i, base in enumerate(helicone_row(r) for r in generate(dense, seed + 1, END, ORG, days=1)):
        base["request_created_at"] = f"{second}.{(i * 7) % 1000:03d}Z"
        rows.append(base)
    return rows


def expected(rows: list[dict]) -> set[tuple]:
    """What the store must hold for these Helicone rows, derived from Helicone's field names directly."""
    return {
        (
            r["request_id"],
            _ms(r["request_created_at"]),
            r["response_status"],
            r["request_model"],
            r["delay_ms"],
            r["request_user_id"],
            r["prompt_tokens"],
            r["completion_tokens"],
            round(r["cost"] * 1e9),
            tuple(sorted(r["request_properties"].items())),
            tuple(sorted(r["scores"].items())),
        )
        for r in rows
    }


def stored(path: Path) -> set[tuple]:
    store = Store(path, read_only=True)
    try:
        found = store.fetch(
            "SELECT request_id, request_created_at, status, model, latency, user_id, prompt_tokens, "
            "completion_tokens, cost, properties, scores FROM requests WHERE organization_id = $org",
            {"org": ORG},
        )
    finally:
        store.close()
    return {
        (*r[:8], r[8], tuple(sorted(r[9].items())), tuple(sorted(r[10].items())))
        for r in ((*row[:1], row[1].replace(microsecond=row[1].microsecond // 1000 * 1000), *row[2:]) for row in found)
    }


def client(url: str, key: str) -> HeliconeClient:
    return HeliconeClient(key, url, timeout=10, retries=4, backoff=0.01)


@pytest.fixture
def fake():
    with FakeHelicone() as server:
        yield server


def test_models_follow_helicone_limits_and_sort_priority():
    default = RequestQuery(filter="all")
    assert default.limit == 10 and default.sort.chosen() == ("created_at", "desc", None)
    with pytest.raises(ValueError):
        RequestQuery(filter="all", limit=1001)
    # One key is used whatever the JSON order: latency outranks user_id, created_at outranks latency.
    assert RequestSort(user_id="asc", latency="desc").chosen() == ("latency", "desc", None)
    assert RequestSort(latency="asc", created_at="asc").chosen() == ("created_at", "asc", None)
    # cost and time_to_first_token are accepted but ignored by Helicone's sort builder.
    assert RequestSort(cost="asc").chosen() == ("created_at", "desc", None)
    assert RequestSort(properties={"feature": "asc"}).chosen() == ("properties", "asc", "feature")


def test_mapping_keeps_scores_properties_and_cost():
    row = helicone_row(next(generate(1, 11, END, ORG)))
    row["scores"] = {"accuracy": 90, "ok-hcone-bool": 1}
    mapped = to_store_row(HeliconeRequest(**row), ORG)
    assert mapped["scores"] == {"accuracy": 90, "ok-hcone-bool": 1}
    assert mapped["properties"] == row["request_properties"]
    assert mapped["cost"] == row["cost"] and mapped["latency"] == row["delay_ms"]
    assert mapped["request_body"] == "" and mapped["user_id"] == row["request_user_id"]


def test_sync_copies_every_row_through_faults(fake, tmp_path):
    rows = server_rows()
    log = serve_requests(fake, RequestLog(rows=rows))
    log.faults = deque(["429", "503", "short", "duplicate", None, "short", "duplicate", "503", None, "short"])
    log.retry_after = "1"
    store = Store(tmp_path / "h.duckdb")
    report = Syncer(client(fake.url, fake.key), store, ORG, page_size=100, batch_rows=250).run()
    store.close()
    assert report.added == len(rows) == report.fetched
    assert report.seconds >= 1  # the 429's Retry-After was waited out
    assert stored(tmp_path / "h.duckdb") == expected(rows)
    bodies = fake.bodies("/v1/request/query-clickhouse")
    assert all(b["limit"] <= 1000 and b["sort"] == {"created_at": "asc"} for b in bodies)
    # the dense second was read with offsets inside a one-second window
    assert any(b["offset"] > 0 for b in bodies)

    store = Store(tmp_path / "h.duckdb")
    again = Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    store.close()
    assert again.added == 0 and stored(tmp_path / "h.duckdb") == expected(rows)
    # the second run started one overlap before the saved cursor, not from the beginning
    assert again.started_from == report.cursor - timedelta(minutes=15)


def test_late_rows_inside_the_overlap_window_are_caught(fake, tmp_path):
    rows = server_rows(300, dense=0)
    log = serve_requests(fake, RequestLog(rows=rows))
    newest = max(_ms(r["request_created_at"]) for r in rows)
    late = helicone_row(next(generate(1, 99, END, ORG)))
    late["request_created_at"] = (newest - timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%S.250Z")
    store = Store(tmp_path / "h.duckdb")
    first = Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    log.late.append((log.calls, late))  # logged after the run passed its time, 4 minutes behind the cursor
    second = Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    store.close()
    assert first.added == len(rows) and second.added == 1
    assert stored(tmp_path / "h.duckdb") == expected(rows + [late])


def test_since_bounds_the_first_run(fake, tmp_path):
    rows = server_rows(200, dense=0)
    serve_requests(fake, RequestLog(rows=rows))
    since = END - timedelta(hours=12)
    store = Store(tmp_path / "h.duckdb")
    Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run(since=since)
    store.close()
    first = stored(tmp_path / "h.duckdb")
    assert first == expected([r for r in rows if _ms(r["request_created_at"]) >= since.replace(tzinfo=None)])
    # an earlier --since on a later run backfills from there; the cursor stays where it was
    store = Store(tmp_path / "h.duckdb")
    cursor = state_for(store).cursor(fake.url, ORG)
    Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run(since=END - timedelta(days=3))
    store.close()
    assert stored(tmp_path / "h.duckdb") == expected(rows)
    assert state_for(store).cursor(fake.url, ORG) == cursor


def test_list_requests_pages_past_1000(fake):
    rows = server_rows(1500, dense=0)
    serve_requests(fake, RequestLog(rows=rows))
    got = list_requests(client(fake.url, fake.key), "all", {"created_at": "asc"}, limit=1200)
    want = sorted(rows, key=lambda r: r["request_created_at"])[:1200]
    assert [r.request_id for r in got] == [r["request_id"] for r in want]
    assert [b["limit"] for b in fake.bodies("/v1/request/query-clickhouse")] == [1000, 1000]


def test_durations_and_state(tmp_path):
    assert parse_duration("5m") == timedelta(minutes=5) and parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2d", now=END) == END - timedelta(days=2)
    state = SyncState(tmp_path / "s.json")
    state.save("http://x", ORG, END, 5)
    assert state.cursor("http://x/", ORG) == END and state.cursor("http://y", ORG) is None


# --- subprocesses: the CLI killed midway, and a second heliqa serve as the source ---------------------------
def _env(home: Path, url: str, key: str) -> dict[str, str]:
    return {**os.environ, "HELIQA_HOME": str(home), "HELICONE_API_KEY": key, "HELICONE_BASE_URL": url}


def _sync_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "heliqa.cli", "sync", "--org", ORG, "--quiet", *extra]


def test_a_killed_sync_resumes_to_the_same_rows(fake, tmp_path):
    rows = server_rows(1200, dense=0)
    log = serve_requests(fake, RequestLog(rows=rows))
    slow = log.answer

    def answer(body):
        time.sleep(0.05)
        return slow(body)

    fake.handlers["/v1/request/query-clickhouse"] = answer
    env = _env(tmp_path, fake.url, fake.key)
    proc = subprocess.Popen(_sync_cmd("--page-size", "50", "--batch", "200"), env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while log.calls < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    partial = stored(tmp_path / "heliqa.duckdb") if (tmp_path / "heliqa.duckdb").exists() else set()
    assert 0 < len(partial) < len(rows), "the kill should land midway"
    saved = state_for(Store(tmp_path / "heliqa.duckdb", read_only=True)).cursor(fake.url, ORG)
    assert saved is not None

    fake.handlers["/v1/request/query-clickhouse"] = slow
    done = subprocess.run(_sync_cmd("--page-size", "200"), env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert stored(tmp_path / "heliqa.duckdb") == expected(rows)
    again = subprocess.run(_sync_cmd(), env=env, cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout.startswith("synced 0 new requests"), again.stdout


def test_sync_from_a_second_heliqa_serve(tmp_path):
    """`heliqa serve` over one store, `heliqa sync` (a subprocess) into another: the same rows."""
    source_rows = [dict(r) for r in generate(900, 5, END, ORG, days=3)]
    for r in source_rows:  # Helicone keeps milliseconds
        for k in ("request_created_at", "response_created_at"):
            r[k] = _ms(r[k]).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    source = tmp_path / "source"
    store = Store(source / "heliqa.duckdb")
    store.add_rows(source_rows)
    store.close()
    key, port = "sync-test-key-0123456789", free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "heliqa.cli", "serve", "--port", str(port)],
        env={**os.environ, "HELIQA_HOME": str(source), "HELIQA_SERVE_KEYS": f"{key}={ORG}"},
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_listening(port, 30)
        target = tmp_path / "target"
        env = _env(target, url, key)
        first = subprocess.run(
            _sync_cmd("--page-size", "250", "--bodies"), env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith(f"synced {len(source_rows)} new requests"), first.stdout
        second = subprocess.run(_sync_cmd(), env=env, cwd=ROOT, capture_output=True, text=True)
        assert second.stdout.startswith("synced 0 new requests"), second.stdout
    finally:
        serve.terminate()
        serve.wait(10)
    want = {
        (
            r["request_id"],
            _ms(r["request_created_at"]),
            r["status"],
            r["model"],
            r["latency"],
            r["user_id"],
            r["prompt_tokens"],
            r["completion_tokens"],
            round(r["cost"] * 1e9),
            tuple(sorted(r["properties"].items())),
            tuple(sorted(r["scores"].items())),
        )
        for r in source_rows
    }
    assert stored(target / "heliqa.duckdb") == want
    copy = Store(target / "heliqa.duckdb", read_only=True)
    bodies = {
        rid: (req, resp)
        for rid, req, resp in copy.fetch("SELECT request_id, request_body, response_body FROM requests", {})
    }
    copy.close()
    for r in source_rows:  # --bodies: the bodies serve sends inline arrive as the same JSON
        req, resp = bodies[r["request_id"]]
        assert json.loads(req) == json.loads(r["request_body"]) and json.loads(resp) == json.loads(r["response_body"])


def test_live_sync_thread_refreshes_a_reading_store(fake, tmp_path):
    """--sync-every: the thread writes through the same Store the process answers from."""
    from heliqa.tools.sync import PeriodicSync

    rows = server_rows(150, dense=0)
    log = serve_requests(fake, RequestLog(rows=rows[:100]))
    store = Store(tmp_path / "h.duckdb")
    lines: list[str] = []
    thread = PeriodicSync(
        lambda: Syncer(client(fake.url, fake.key), store, ORG, page_size=50), timedelta(seconds=0.2), lines.append
    )
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while thread.runs < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.organizations() == {ORG: 100}
        log.rows.extend(rows[100:])
        runs = thread.runs
        while thread.runs < runs + 2 and time.monotonic() < deadline:
            store.organizations()  # reads keep going while the thread writes
            time.sleep(0.02)
        assert store.organizations() == {ORG: 150}
    finally:
        thread.stop.set()
        thread.join(5)
        store.close()
    assert any("sync: 50 new" in line for line in lines), lines


def test_a_row_the_store_cannot_take_is_reported_and_the_rest_load(fake, tmp_path):
    rows = server_rows(120, dense=0)
    broken = dict(rows[5], response_status=None)
    serve_requests(fake, RequestLog(rows=[*rows[:5], broken, *rows[6:]]))
    store = Store(tmp_path / "h.duckdb")
    report = Syncer(client(fake.url, fake.key), store, ORG, page_size=50).run()
    store.close()
    assert len(report.bad) == 1 and rows[5]["request_id"] in report.bad[0] and "missing status" in report.bad[0]
    assert stored(tmp_path / "h.duckdb") == expected(rows[:5] + rows[6:])


def test_cli_errors_are_clear(fake, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("HELICONE_API_KEY", "HELIQA_ORG_ID")}
    env["HELIQA_HOME"] = str(tmp_path)
    no_key = subprocess.run(_sync_cmd(), env=env, cwd=ROOT, capture_output=True, text=True)
    assert no_key.returncode == 2 and "HELICONE_API_KEY is not set" in no_key.stderr
    wrong = subprocess.run(
        _sync_cmd(), env={**_env(tmp_path, fake.url, "sk-wrong-key")}, cwd=ROOT, capture_output=True, text=True
    )
    assert wrong.returncode == 2 and "refused the API key" in wrong.stderr and "sk-wrong-key" not in wrong.stderr
    no_org = subprocess.run(
        [sys.executable, "-m", "heliqa.cli", "sync"],
        env=_env(tmp_path, fake.url, fake.key),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert no_org.returncode == 2 and "--org" in no_org.stderr
    every = subprocess.run(
        [sys.executable, "-m", "heliqa.cli", "serve", "--sync-every", "soon"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**env, "HELIQA_SERVE_KEYS": "k-0123456789=o"},
    )
    assert every.returncode == 2 and "'soon' is not a duration" in every.stderr


def test_a_second_holding_several_pages_is_read_whole(fake, tmp_path):
    """450 requests in one second, 100 a page, ties reshuffled on every call: the count decides when it is whole."""
    rows = server_rows(200, dense=450)
    serve_requests(fake, RequestLog(rows=rows, seed=9))
    store = Store(tmp_path / "h.duckdb")
    report = Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    store.close()
    assert report.added == len(rows)
    assert stored(tmp_path / "h.duckdb") == expected(rows)
    assert "/v1/metrics/totalRequests" in fake.paths()


def test_a_run_that_fails_midway_keeps_its_rows_and_the_next_run_finishes(fake, tmp_path):
    rows = server_rows(500, dense=0)
    log = serve_requests(fake, RequestLog(rows=rows))
    log.faults = deque([None, None, None, "error"])
    store = Store(tmp_path / "h.duckdb")
    with pytest.raises(BackendError, match="ClickHouse query failed"):
        Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    kept = store.organizations().get(ORG, 0)
    assert 200 <= kept < len(rows)  # three pages were fetched before the failure, and written
    report = Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    store.close()
    assert report.added == len(rows) - kept
    assert stored(tmp_path / "h.duckdb") == expected(rows)


def test_serve_with_sync_every_answers_fresh_rows(fake, tmp_path):
    """`heliqa serve --sync-every 1s` pulls from the fake Helicone while answering from the same store."""
    import httpx

    rows = server_rows(120, dense=0)
    log = serve_requests(fake, RequestLog(rows=rows[:80]))
    key, port = "live-serve-key-0123456789", free_port()
    env = {**_env(tmp_path, fake.url, fake.key), "HELIQA_SERVE_KEYS": f"{key}={ORG}", "HELIQA_ORG_ID": ORG}
    serve = subprocess.Popen(
        [sys.executable, "-m", "heliqa.cli", "serve", "--port", str(port), "--sync-every", "1s"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    count = {"filter": "all"}

    def served_count() -> int | None:
        try:
            answer = httpx.post(
                f"http://127.0.0.1:{port}/v1/metrics/requestCount",
                json=count,
                headers={"authorization": f"Bearer {key}"},
                timeout=5,
            )
        except httpx.TransportError:
            return None
        return answer.json()["data"] if answer.status_code == 200 else None

    try:
        deadline = time.monotonic() + 60
        while served_count() != 80 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert served_count() == 80
        log.rows.extend(rows[80:])
        while served_count() != 120 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert served_count() == 120
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=10)
    assert "sync: 40 new of" in err, err[-2000:]
    assert stored(tmp_path / "heliqa.duckdb") == expected(rows)


def test_live_store_needs_the_embedded_backend(tmp_path):
    from heliqa.tools.errors import ConfigError
    from heliqa.tools.helicone import HeliconeBackend
    from heliqa.tools.sync import live_store

    writable = live_store(Store(tmp_path / "h.duckdb", read_only=True))
    assert writable.read_only is False and writable.path == tmp_path / "h.duckdb"
    writable.close()
    with pytest.raises(ConfigError, match="already reads live data"):
        live_store(HeliconeBackend(HeliconeClient("k", "http://127.0.0.1:9")))


def test_bodies_inline_or_from_signed_urls(fake, tmp_path, monkeypatch):
    """--bodies: a body Helicone sends inline is kept; a placeholder is replaced by the signed URL's content."""
    monkeypatch.setenv("HELIQA_EGRESS_ALLOW_PRIVATE", "1")  # the body server is on 127.0.0.1, like the upstream
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Bodies(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            payload = json.dumps({"request": {"prompt": self.path}, "response": {"text": "ok"}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    bodies = ThreadingHTTPServer(("127.0.0.1", 0), Bodies)
    threading.Thread(target=bodies.serve_forever, daemon=True).start()
    rows = server_rows(3, dense=0)
    rows[0]["request_body"], rows[0]["storage_location"] = {"messages": [{"content": "hi"}]}, "clickhouse"
    rows[1]["signed_body_url"] = f"http://127.0.0.1:{bodies.server_address[1]}/signed/{rows[1]['request_id']}"
    serve_requests(fake, RequestLog(rows=rows))
    try:
        store = Store(tmp_path / "h.duckdb")
        Syncer(client(fake.url, fake.key), store, ORG, bodies=True).run()
        found = dict(store.fetch("SELECT request_id, request_body FROM requests", {}))
        store.close()
    finally:
        bodies.shutdown()
    assert json.loads(found[rows[0]["request_id"]]) == {"messages": [{"content": "hi"}]}
    assert json.loads(found[rows[1]["request_id"]]) == {"prompt": f"/signed/{rows[1]['request_id']}"}
    assert found[rows[2]["request_id"]] == ""  # a placeholder without a signed URL is no body


def test_a_server_that_ignores_the_sort_is_refused(fake, tmp_path):
    """Paging by time would skip rows if the server ignored `created_at asc`: sync stops with a clear error."""
    rows = server_rows(300, dense=0)
    log = serve_requests(fake, RequestLog(rows=rows))
    honest = log.answer
    fake.handlers["/v1/request/query-clickhouse"] = lambda body: honest({**body, "sort": {"created_at": "desc"}})
    store = Store(tmp_path / "h.duckdb")
    with pytest.raises(BackendError, match="did not sort requests by created_at ascending"):
        Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    store.close()


def _crowded_second_rows(seed: int) -> list[dict]:
    """300 spread requests, then 90 in one second and 40 after it: a cut page there holds only rows seen before."""
    rows = server_rows(300, seed=seed, dense=0)
    extra = [helicone_row(r) for r in generate(130, seed + 50, END, ORG, days=1)]
    for i, r in enumerate(extra[:90]):
        r["request_created_at"] = f"2026-11-24T11:59:00.{i * 11:03d}Z"
    for i, r in enumerate(extra[90:]):
        r["request_created_at"] = f"2026-11-24T11:59:{10 + i:02d}.000Z"
    return rows + extra


@pytest.mark.parametrize("seed", [0, 1])
def test_pages_cut_short_in_a_row_end_with_every_row(fake, tmp_path, seed):
    rows = _crowded_second_rows(seed)
    log = serve_requests(fake, RequestLog(rows=rows, seed=seed))
    log.faults = deque(["short"] * 14)
    store = Store(tmp_path / "h.duckdb")
    report = Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    store.close()
    assert report.notes == [] and stored(tmp_path / "h.duckdb") == expected(rows)


def test_a_second_the_server_keeps_cutting_is_read_again_next_run(fake, tmp_path):
    rows = _crowded_second_rows(2)
    log = serve_requests(fake, RequestLog(rows=rows, seed=2))
    log.faults = deque(["short"] * 30)
    store = Store(tmp_path / "h.duckdb")
    first = Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    assert first.notes and "reads it again" in first.notes[0]
    assert first.cursor == datetime(2026, 11, 24, 11, 59, tzinfo=UTC)  # held before the incomplete second
    second = Syncer(client(fake.url, fake.key), store, ORG, page_size=100).run()
    store.close()
    assert second.notes == [] and stored(tmp_path / "h.duckdb") == expected(rows)


def test_progress_line_on_a_terminal():
    import io

    from heliqa.progress import SyncProgress
    from heliqa.tools.sync import SyncReport

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with SyncProgress(stream=out) as progress:
        progress.update(SyncReport("http://x", ORG, None, cursor=END, fetched=12_345, added=12_000))
    assert "synced 12,345 rows (12,000 new) up to 2026-11-24T12:00:00Z" in out.getvalue()
    out = Tty()
    with SyncProgress(stream=out) as progress:
        refused = SyncReport("http://x", ORG, None, fetched=5, added=4, bad=["request r: ..."])
        refused.bodies_missed = ["request a: body URL at http://x refused: http scheme (only https)"] * 2
        progress.update(refused)
    assert "synced 5 rows (4 new, 1 skipped, 2 bodies refused or unread)" in out.getvalue()
    quiet = io.StringIO()  # not a terminal: nothing drawn
    with SyncProgress(stream=quiet) as progress:
        progress.update(SyncReport("http://x", ORG, None, fetched=1))
    assert quiet.getvalue() == ""
