"""`heliqa sync` (a real subprocess) against a hostile upstream on 127.0.0.1: pages that never end, pages that
repeat, a 50 MB row, numbers beyond 64 bits, signed body URLs pointing inside, redirecting to loopback, and a
trickle. Every run ends within its deadline with the good rows stored, the cursor sane (saved, never past
a second it did not finish, never past now) and `heliqa repair` finding nothing to fix; a second run does
not stop on the same row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from heliqa.tools.demo import generate
from heliqa.tools.store import Store
from heliqa.tools.sync import SyncState
from tests.fake_helicone import FakeHelicone, RawReply, Reply, RequestLog, helicone_row, serve_requests

ROOT = Path(__file__).resolve().parents[1]
ORG = "dddddddd-0000-4000-8000-00000000000d"
END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SECOND = "2026-11-24T06:00:00"  # the second the hostile modes play in
PAGE = 50


def rows(n: int = 200, seed: int = 21) -> list[dict]:
    """Helicone rows over the day before END, none inside SECOND, created times all distinct."""
    out = [helicone_row(r) for r in generate(n, seed, END, ORG, days=1)]
    return [r for r in out if not r["request_created_at"].startswith(SECOND)]


def in_second(i: int, tag: str) -> dict:
    row = helicone_row(next(generate(1, 1000 + i, END, ORG, days=1)))
    return {**row, "request_id": f"{tag}-{i:06d}", "request_created_at": f"{SECOND}.{i % 1000:03d}Z"}


def lower_bound(node: Any) -> str | None:
    """The `gte` instant of a request_created_at filter tree, if any."""
    if isinstance(node, dict):
        if "operator" in node:
            return lower_bound(node["left"]) or lower_bound(node["right"])
        leaf = node.get("request_response_rmt", {}).get("request_created_at", {})
        return leaf.get("gte")
    return None


def run_sync(home: Path, fake: FakeHelicone, *extra: str, env: dict | None = None, timeout: float = 60):
    """`heliqa sync` as a subprocess; the test fails (instead of hanging) past `timeout`."""
    environ = {**os.environ, "HELIQA_HOME": str(home), "HELICONE_API_KEY": fake.key, "HELICONE_BASE_URL": fake.url}
    cmd = [sys.executable, "-m", "heliqa.cli", "sync", "--org", ORG, "--quiet", "--page-size", str(PAGE), *extra]
    started = time.monotonic()
    environ.update(env or {})
    done = subprocess.run(cmd, env=environ, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - started


def stored_ids(home: Path) -> set[str]:
    store = Store(home / "heliqa.duckdb", read_only=True)
    try:
        return {rid for (rid,) in store.fetch("SELECT request_id FROM requests WHERE organization_id = $o", {"o": ORG})}
    finally:
        store.close()


DERIVED = ["vocabulary", "scores", "score_minutes", "user_counts"]


def derived(path: Path) -> dict[str, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in DERIVED}
    finally:
        con.close()


def check_store(home: Path, fake: FakeHelicone, cursor_at_most: datetime) -> datetime:
    """The cursor is saved and sane, and `heliqa repair` re-derives exactly what the store already held."""
    cursor = SyncState(home / "heliqa.sync.json").cursor(fake.url, ORG)
    assert cursor is not None and cursor <= cursor_at_most and cursor <= datetime.now(UTC)
    before = derived(home / "heliqa.duckdb")
    cmd = [sys.executable, "-m", "heliqa.cli", "repair"]
    environ = {**os.environ, "HELIQA_HOME": str(home)}
    repaired = subprocess.run(cmd, env=environ, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert repaired.returncode == 0, repaired.stderr
    assert derived(home / "heliqa.duckdb") == before, "heliqa repair found something to fix"
    return cursor


@pytest.fixture
def fake():
    with FakeHelicone() as server:
        yield server


def second_of(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).replace(microsecond=0)


S = datetime.fromisoformat(SECOND + "+00:00")


def test_a_page_that_never_ends_stops_with_a_clear_error(fake, tmp_path):
    """Any offset inside SECOND brings a full page of new rows, all in that second, and no count: the run stops
    after --max-calls calls, with the rows before that second stored and the cursor at most at it."""
    good = rows()
    log = serve_requests(fake, RequestLog(rows=good), counts=False)
    made = iter(range(10**9))

    def answer(body):
        lo = lower_bound(body["filter"])
        reply = log.answer(body)
        if lo is not None and second_of(lo) > S:
            return reply
        data = [r for r in reply.body["data"] if r["request_created_at"] < SECOND]  # the honest rows before it
        data += [in_second(next(made), "endless") for _ in range(body["limit"] - len(data))]
        return Reply(200, {"data": sorted(data, key=lambda r: r["request_created_at"]), "error": None})

    fake.handlers["/v1/request/query-clickhouse"] = answer
    done, took = run_sync(tmp_path, fake, "--max-calls", "30", timeout=60)
    assert done.returncode == 5, done.stderr
    assert f"kept sending pages for the one second {SECOND}Z: 30 calls" in done.stderr, done.stderr
    assert took < 30
    before = {r["request_id"] for r in good if r["request_created_at"] < SECOND}
    assert before <= stored_ids(tmp_path)
    check_store(tmp_path, fake, S)


def test_pages_that_repeat_whatever_the_offset_end_and_the_second_is_held(fake, tmp_path):
    """SECOND holds 130 requests but the server sends its first 50 at every offset: each pass ends on the repeat,
    the run ends with a note, the cursor stays at that second and a later run reads it again."""
    dense = [in_second(i * 7, "dense") for i in range(130)]
    good = rows() + dense
    log = serve_requests(fake, RequestLog(rows=good))
    honest = log.answer
    fake.handlers["/v1/request/query-clickhouse"] = lambda body: honest({**body, "offset": 0})
    done, took = run_sync(tmp_path, fake, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"the server counts 130 requests in {SECOND}Z and sent" in done.stderr, done.stderr
    assert log.calls < 100 and took < 30
    held = stored_ids(tmp_path)
    assert {r["request_id"] for r in good if not r["request_id"].startswith("dense")} <= held
    assert check_store(tmp_path, fake, S) == S  # held at the incomplete second

    fake.handlers["/v1/request/query-clickhouse"] = honest  # the server mends: the next run completes the second
    again, _ = run_sync(tmp_path, fake)
    assert again.returncode == 0 and stored_ids(tmp_path) == {r["request_id"] for r in good}, again.stderr


def test_a_50_mb_row_and_numbers_beyond_64_bits_are_skipped_one_by_one(fake, tmp_path):
    good = rows()
    big, wide, deep, fine = good[40], good[90], good[120], good[60]
    big["request_properties"], big["properties"] = {}, {"note": "x" * (50 << 20)}
    wide["delay_ms"] = 2**70
    deep["time_to_first_token"] = 2**63  # one past BIGINT
    fine["request_body"] = {"messages": ["y" * (3 << 20)]}  # a 3 MB body: kept, truncated
    serve_requests(fake, RequestLog(rows=good))
    for since in ([], ["--since", "2026-11-20"]):  # the second run reads the same rows again, and still ends
        done, took = run_sync(tmp_path, fake, "--bodies", *since, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert took < 60
        err = done.stderr
        assert f"skipped request {big['request_id']}: the row's names, ids and properties hold" in err, err[-3000:]
        assert f"skipped request {wide['request_id']}: delay_ms:" in err
        assert f"skipped request {deep['request_id']}: time_to_first_token is out of range" in err
    skipped = {big["request_id"], wide["request_id"], deep["request_id"]}
    assert stored_ids(tmp_path) == {r["request_id"] for r in good} - skipped
    store = Store(tmp_path / "heliqa.duckdb", read_only=True)
    body = store.fetch("SELECT request_body FROM requests WHERE request_id = $r", {"r": fine["request_id"]})[0][0]
    store.close()
    assert body.endswith(" characters kept]") and "[truncated by heliqa: 1,000,000 of 3,14" in body
    check_store(tmp_path, fake, END)


class BodyServer:
    """Signed-URL targets on 127.0.0.1: /internal (a page no sync may store), /ok, /to-loopback (redirects to
    `localhost`, another host name for the same machine)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                port = self.server.server_address[1]
                if self.path.startswith("/to-loopback"):
                    status, payload, headers = 302, b"", {"location": f"http://localhost:{port}/internal"}
                elif self.path.startswith("/internal"):
                    status, payload, headers = 200, json.dumps({"request": "INTERNAL ADMIN PAGE"}).encode(), {}
                else:
                    status, payload, headers = 200, json.dumps({"request": {"prompt": "hello"}}).encode(), {}
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def bodies_of(home: Path) -> dict[str, str]:
    store = Store(home / "heliqa.duckdb", read_only=True)
    try:
        return dict(store.fetch("SELECT request_id, request_body FROM requests", {}))
    finally:
        store.close()


def test_signed_urls_pointing_inside_are_refused_and_their_rows_still_load(fake, tmp_path):
    server = BodyServer()
    try:
        good = rows(60)
        good[3]["signed_body_url"] = f"{server.url}/internal?X-Amz-Signature=s3cr3t"
        good[7]["signed_body_url"] = f"{server.url}/ok"
        serve_requests(fake, RequestLog(rows=good))
        done, took = run_sync(tmp_path, fake, "--bodies")  # the default policy
        assert done.returncode == 0 and took < 30, done.stderr
        found = bodies_of(tmp_path)
        assert "INTERNAL" not in "".join(found.values()) and len(found) == len(good)
        assert f"no body for request {good[3]['request_id']}: body URL at {server.url} refused: http scheme" in (
            done.stderr
        )
        assert "s3cr3t" not in done.stderr + done.stdout and "2 bodies not fetched" in done.stderr

        # opted in (a self-hosted Helicone on this machine): the good URL is read, the redirect to loopback is not
        good[3]["signed_body_url"] = f"{server.url}/to-loopback"
        home = tmp_path / "opted-in"
        done, _ = run_sync(home, fake, "--bodies", env={"HELIQA_EGRESS_ALLOW_PRIVATE": "1"})
        assert done.returncode == 0, done.stderr
        found = bodies_of(home)
        assert json.loads(found[good[7]["request_id"]]) == {"prompt": "hello"}
        assert found[good[3]["request_id"]] == "" and "INTERNAL" not in "".join(found.values())
        port = server.url.rsplit(":", 1)[1]
        assert f"refused: redirects to another host (http://localhost:{port})" in done.stderr, done.stderr
        check_store(home, fake, END)
    finally:
        server.close()


def test_a_trickling_page_is_cut_at_the_deadline_the_message_states(fake, tmp_path):
    """HELICONE_TIMEOUT=0.5: reads wait 1 s, a whole call 2 s. The second page trickles a byte every 0.2 s."""
    good = rows()
    log = serve_requests(fake, RequestLog(rows=good))
    honest = log.answer

    def answer(body):
        if log.calls == 1:
            log.calls += 1
            return RawReply(json.dumps({"data": [], "error": None}).encode() + b" " * 1000, trickle=0.2)
        return honest(body)

    fake.handlers["/v1/request/query-clickhouse"] = answer
    done, took = run_sync(tmp_path, fake, env={"HELICONE_TIMEOUT": "0.5"})
    assert done.returncode == 5, done.stderr
    assert "the answer was still arriving when the call's 2 s deadline passed" in done.stderr, done.stderr
    assert took < 15
    first_page = sorted(good, key=lambda r: r["request_created_at"])[:PAGE]
    assert {r["request_id"] for r in first_page} <= stored_ids(tmp_path)
    cursor = check_store(tmp_path, fake, END)
    assert cursor <= second_of(first_page[-1]["request_created_at"])
    again, _ = run_sync(tmp_path, fake, env={"HELICONE_TIMEOUT": "0.5"})  # no trickle now: the run finishes
    assert again.returncode == 0 and stored_ids(tmp_path) == {r["request_id"] for r in good}, again.stderr


def test_big_rows_side_by_side_shrink_the_page_and_one_too_large_stops_clearly(fake, tmp_path):
    """Answers are capped (here 1 MB): two 600 KB rows in one page make pages smaller for the rest of the run; a
    single row over the cap stops the run with the rows before it stored and the cursor before it."""
    from heliqa.tools.errors import BackendError
    from heliqa.tools.helicone import HeliconeClient
    from heliqa.tools.sync import Syncer

    good = sorted(rows(), key=lambda r: r["request_created_at"])
    for row in good[20:22]:
        row["request_properties"], row["properties"] = {}, {"note": "p" * 600_000}
    log = serve_requests(fake, RequestLog(rows=good))
    store = Store(tmp_path / "h.duckdb")
    client = HeliconeClient(fake.key, fake.url, timeout=10, retries=0, max_response_bytes=1 << 20)
    report = Syncer(client, store, ORG, page_size=PAGE).run()
    assert report.added == len(good) and report.bad == []
    assert {r for (r,) in store.fetch("SELECT request_id FROM requests", {})} == {r["request_id"] for r in good}

    huge = good[30]
    huge["properties"] = {"note": "h" * (2 << 20)}
    log.rows = good
    home = tmp_path / "second"
    other = Store(home / "heliqa.duckdb")
    with pytest.raises(BackendError, match="one request from .* on is too large to read"):
        Syncer(client, other, ORG, page_size=PAGE).run()
    held = {r for (r,) in other.fetch("SELECT request_id FROM requests", {})}
    other.close()
    store.close()
    assert {r["request_id"] for r in good[:30]} - held == set()
    assert check_store(home, fake, second_of(huge["request_created_at"]))
