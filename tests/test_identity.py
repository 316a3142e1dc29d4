"""A request is (organization, request id): the same id in two organizations is two requests, in the store,
`heliqa import`, `heliqa sync` and what `heliqa serve` reads; a store built with a key on request_id alone
is brought over on open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from heliqa.tools.helicone_requests import RequestQuery, get_store, query_store
from heliqa.tools.importer import COLUMNS
from heliqa.tools.store import Store
from heliqa.tools.sync import Syncer
from tests.fake_helicone import FakeHelicone, RequestLog, helicone_row, serve_requests

ROOT = Path(__file__).resolve().parents[1]
ORG_A = "aaaaaaaa-0000-4000-8000-00000000000a"
ORG_B = "bbbbbbbb-0000-4000-8000-00000000000b"


def rows(n: int, org: str, latency: int) -> list[dict]:
    """`n` requests req-0.. of `org`, each with the given latency (so each organization's copy is recognisable)."""
    return [
        {
            "request_id": f"req-{i}",
            "organization_id": org,
            "request_created_at": f"2026-11-10T10:{i:02d}:00.000Z",
            "status": 200,
            "latency": latency,
            "model": f"model-{org[:4]}",
            "provider": "openai",
            "user_id": f"user-{i}",
            "prompt_tokens": 1,
            "completion_tokens": 1,
            "cost": 0.001,
            "properties": {"team": org[:4]},
            "scores": {"quality": i},
        }
        for i in range(n)
    ]


def write(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    return path


def per_org(path: Path) -> dict[str, tuple[int, set[int]]]:
    """Organization -> (requests, the latencies its rows carry), read straight from the store."""
    store = Store(path, read_only=True)
    try:
        found = store.fetch("SELECT organization_id, count(*), list(DISTINCT latency) FROM requests GROUP BY 1", {})
    finally:
        store.close()
    return {org: (n, set(latencies)) for org, n, latencies in found}


def heliqa(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`heliqa ARGS` in a subprocess with HELIQA_HOME=home."""
    env = {**os.environ, "HELIQA_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "heliqa.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )


def test_import_keeps_colliding_ids_of_two_organizations(tmp_path):
    first = heliqa(tmp_path, "import", "--quiet", str(write(tmp_path / "a.jsonl", rows(5, ORG_A, 111))))
    second = heliqa(tmp_path, "import", "--quiet", str(write(tmp_path / "b.jsonl", rows(10, ORG_B, 222))))
    assert first.returncode == second.returncode == 0, second.stderr
    assert "imported 10 new requests" in second.stdout and "(0 already present" in second.stdout, second.stdout
    assert per_org(tmp_path / "heliqa.duckdb") == {ORG_A: (5, {111}), ORG_B: (10, {222})}
    # importing both again adds nothing: identity still de-duplicates within an organization
    again = heliqa(tmp_path, "import", "--quiet", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"))
    assert "imported 0 new requests" in again.stdout and "(15 already present" in again.stdout, again.stdout


def test_each_organization_reads_its_own_copy(tmp_path):
    store = Store(tmp_path / "h.duckdb")
    store.add_rows(rows(5, ORG_A, 111))
    store.add_rows(rows(10, ORG_B, 222))
    assert store.organizations() == {ORG_A: 5, ORG_B: 10}
    # what `heliqa serve` answers on /v1/request/query-clickhouse, per organization
    query = RequestQuery(filter="all", limit=100)
    served = {org: query_store(store, org, query) for org in (ORG_A, ORG_B)}
    assert {r["delay_ms"] for r in served[ORG_A]} == {111} and len(served[ORG_A]) == 5
    assert {r["delay_ms"] for r in served[ORG_B]} == {222} and len(served[ORG_B]) == 10
    # and on `GET /v1/request/{id}`: the same id, each organization's own request
    assert get_store(store, ORG_A, "req-3")["delay_ms"] == 111 and get_store(store, ORG_B, "req-3")["delay_ms"] == 222
    assert get_store(store, ORG_A, "req-7") is None  # A has 5 requests; B's req-7 is not A's
    # scores join on the organization too: A's score rows never pair with B's request of the same id
    joined = store.fetch(
        "SELECT count(*) FROM scores s JOIN requests r "
        "ON r.organization_id = s.organization_id AND r.request_id = s.request_id",
        {},
    )
    assert joined == [(15,)]
    store.close()


def test_sync_keeps_an_id_another_organization_holds(tmp_path):
    store = Store(tmp_path / "h.duckdb")
    store.add_rows(rows(5, ORG_A, 111))
    extra = {"response_created_at": None, "time_to_first_token": None, "country_code": "US", "target_url": ""}
    served = [helicone_row({**r, **extra}) for r in rows(10, ORG_B, 222)]
    from heliqa.tools.helicone import HeliconeClient

    with FakeHelicone() as fake:
        serve_requests(fake, RequestLog(rows=served))
        report = Syncer(HeliconeClient(fake.key, fake.url, timeout=10, retries=1), store, ORG_B, page_size=4).run()
    store.close()
    assert report.added == 10
    assert per_org(tmp_path / "h.duckdb") == {ORG_A: (5, {111}), ORG_B: (10, {222})}


def test_a_store_keyed_on_request_id_alone_is_migrated_on_open(tmp_path):
    """A store whose `requests` has PRIMARY KEY (request_id) and a unique index on it: the next write drops both."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    columns = ", ".join(f"{n} {t}" + (" PRIMARY KEY" if n == "request_id" else "") for n, t in COLUMNS.items())
    con.execute(f"CREATE TABLE requests ({columns})")
    con.execute("CREATE UNIQUE INDEX requests_id ON requests (request_id)")
    con.close()
    store = Store(path)
    store.add_rows(rows(5, ORG_A, 111))
    assert store.add_rows(rows(10, ORG_B, 222)) == 10
    store.close()
    assert per_org(path) == {ORG_A: (5, {111}), ORG_B: (10, {222})}
    con = duckdb.connect(str(path), read_only=True)
    keys = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'requests' AND constraint_type = 'PRIMARY KEY'"
    ).fetchone()[0]
    indexes = con.execute("SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'requests'").fetchone()[0]
    con.close()
    assert keys == 0 and indexes == 0
