"""One bad row never blocks `heliqa import`: a 40 MB line, a 40 MB name, numbers beyond 64 bits. The body over the
limit is kept truncated with a marker, the row over the limit is skipped and reported, the rest load, and a
second run stops on nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from heliqa.tools.store import Store

ROOT = Path(__file__).resolve().parents[1]
ORG = "cccccccc-0000-4000-8000-00000000000c"
BIG = 40 << 20  # 40 MB
KEPT = 1_000_000  # characters of a body the store keeps


def line(i: int, **fields) -> str:
    row = {
        "request_id": f"req-{i}",
        "organization_id": ORG,
        "request_created_at": f"2026-11-10T10:{i % 60:02d}:00.000Z",
        "status": 200,
        "latency": 100 + i,
        "model": "gpt-4o",
        "provider": "openai",
        "cost": 0.001,
        "properties": {"team": "a"},
        "request_body": '{"messages": []}',
    }
    return json.dumps({**row, **fields}) + "\n"


def heliqa_import(home: Path, path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HELIQA_HOME": str(home)}
    cmd = [sys.executable, "-m", "heliqa.cli", "import", "--quiet", str(path)]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_a_40_mb_line_and_out_of_range_numbers_do_not_block_the_others(tmp_path):
    lines = [line(i) for i in range(18)]
    lines.insert(3, line(90, request_body="x" * BIG))  # a 40 MB body: kept, truncated
    lines.insert(7, line(91, properties={"note": "y" * BIG}))  # 40 MB in a property: the row is skipped
    lines.insert(11, line(92, latency=2**70))  # beyond BIGINT: skipped
    lines.append(line(93, latency=-(2**63) - 1))
    path = tmp_path / "big.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    done = heliqa_import(tmp_path, path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported 19 new requests" in done.stdout and "3 bad lines skipped" in done.stdout, done.stdout
    assert re.search(r"big\.jsonl:8: the row's names, ids and properties hold 41,9\d\d,\d{3} characters; the limit is "
                     r"1,000,000 \(row size\)", done.stderr)  # fmt: skip
    assert (
        "big.jsonl:12: latency is out of range" in done.stderr
        and "big.jsonl:22: latency is out of range" in done.stderr
    )

    store = Store(tmp_path / "heliqa.duckdb", read_only=True)
    body, size = store.fetch("SELECT request_body, length(request_body) FROM requests WHERE request_id = 'req-90'", {})[
        0
    ]
    n = store.fetch("SELECT count(*) FROM requests WHERE organization_id = $o", {"o": ORG})[0][0]
    store.close()
    marker = " [truncated by heliqa: 1,000,000 of 41,943,040 characters kept]"  # the README's marker
    assert n == 19 and body == "x" * KEPT + marker and size == KEPT + len(marker)

    again = heliqa_import(tmp_path, path)  # the same file again: the same rows skipped, nothing else happens
    assert again.returncode == 0 and "imported 0 new requests" in again.stdout and "19 already present" in again.stdout


def test_add_rows_with_a_huge_body_is_one_batch(tmp_path):
    """A 20 MB body through `Store.add_rows` (the path `heliqa sync` writes by): truncated, the batch commits."""
    store = Store(tmp_path / "h.duckdb")
    rows = [json.loads(line(i)) for i in range(5)]
    rows[2]["response_body"] = "z" * (20 << 20)
    assert store.add_rows(rows) == 5
    kept = store.fetch("SELECT max(length(response_body)) FROM requests", {})[0][0]
    store.close()
    assert KEPT < kept < KEPT + 100
