"""Generate a large realistic dataset once (numpy, vectorized) into DuckDB (heliqa's store) and chDB (Helicone's table).

    python benchmarks/generate.py --rows 10000000        # cache: $HELIQA_BENCH_DIR or ~/.cache/heliqa-bench

The cache directory holds `rows-N.parquet`, `home-N/heliqa.duckdb` (a HELIQA_HOME) and `chdb-N/` (Helicone's
`request_response_rmt`); an existing part is reused. Distributions follow `tools/demo.py` (same models,
prices, features, topics) so questions mean the same on both.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heliqa.tools.demo import COUNTRIES, FEATURES, MODELS, TOPICS, URLS  # noqa: E402

BENCH_ORG = "8f2c1a4e-6b7d-4c3e-9a1f-2d5e8b7c6a01"
OTHER_ORG = "1b9e7d3c-2a4f-4e6b-8c5d-7f3a9e1b2c02"
END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAYS = 30
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def cache_dir() -> Path:
    """Where generated datasets live between runs."""
    return Path(os.environ.get("HELIQA_BENCH_DIR") or Path.home() / ".cache" / "heliqa-bench")


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    raw = rng.integers(0, 16, size=(n, 32), dtype=np.uint8)
    raw[:, 12] = 4  # version 4
    chars = HEX[raw]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dst, src in (
        (slice(0, 8), slice(0, 8)),
        (slice(9, 13), slice(8, 12)),
        (slice(14, 18), slice(12, 16)),
        (slice(19, 23), slice(16, 20)),
        (slice(24, 36), slice(20, 32)),
    ):
        out[:, dst] = chars[:, src]
    return pa.array(out.view("S36").ravel()).cast(pa.string())


def _choice(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    p = np.array(list(weights.values()), dtype=float)
    return rng.choice(len(weights), size=n, p=p / p.sum())


def _map(keys: list[np.ndarray], values: list[np.ndarray], present: list[np.ndarray], value_type) -> pa.Array:
    """A MAP column from per-key value arrays and presence masks (vectorized, no Python loop over rows)."""
    n = len(present[0])
    mask = np.stack(present, axis=1)  # (n, k)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(mask.sum(axis=1), out=offsets[1:])
    key_names = np.array(keys, dtype=object)
    flat_keys = np.broadcast_to(key_names, mask.shape)[mask]
    flat_values = np.stack(values, axis=1)[mask]
    return pa.MapArray.from_arrays(
        pa.array(offsets), pa.array(flat_keys, pa.string()), pa.array(flat_values, value_type)
    )


def generate(rows: int, seed: int = 11) -> pa.Table:
    """`rows` requests over the DAYS before END, in the embedded store's column layout."""
    rng = np.random.default_rng(seed)
    models = list(MODELS)
    shares = {m: MODELS[m][4] for m in models}
    model_idx = _choice(rng, shares, rows)
    provider = np.array([MODELS[m][0] for m in models], dtype=object)[model_idx]
    median = np.array([MODELS[m][1] for m in models], dtype=float)[model_idx]
    price_in = np.array([MODELS[m][2] for m in models])[model_idx]
    price_out = np.array([MODELS[m][3] for m in models])[model_idx]
    end_us = int(END.timestamp() * 1e6)
    created = np.sort(end_us - rng.integers(0, DAYS * 86_400_000_000, size=rows))
    created -= created % 1000  # Helicone keeps milliseconds
    latency = (median * np.exp(rng.normal(0, 0.35, rows))).astype(np.int64)
    roll = rng.random(rows)
    status = np.where(roll < 0.004, 400, np.where(roll < 0.012, 429, np.where(roll < 0.016, 500, 200)))
    ok = status == 200
    prompt = rng.lognormal(6.3, 0.5, rows).astype(np.int64)
    completion = np.where(ok, rng.lognormal(5.3, 0.6, rows), 0).astype(np.int64)
    cost = np.round((prompt / 1000 * price_in + completion / 1000 * price_out) * 1e9).astype(np.int64)
    users = rng.zipf(1.3, rows) % 5000
    user_id = pa.array(np.array([f"user_{i:04d}" for i in range(5000)], dtype=object)[users])
    user_id = pc.if_else(pa.array(rng.random(rows) < 0.05), "", user_id)
    streamed = rng.random(rows) < 0.55
    ttft = pa.array((latency * rng.uniform(0.15, 0.4, rows)).astype(np.int64), mask=~streamed)
    org = np.where(rng.random(rows) < 0.9, BENCH_ORG, OTHER_ORG)

    env = np.where(rng.random(rows) < 0.85, "production", np.where(rng.random(rows) < 0.5, "staging", "development"))
    feature = np.array(list(FEATURES), dtype=object)[_choice(rng, FEATURES, rows)]
    tier = np.array(["free", "pro", "enterprise"], dtype=object)[rng.choice(3, size=rows, p=[0.6, 0.3, 0.1])]
    always = np.ones(rows, dtype=bool)
    properties = _map(
        ["environment", "feature", "customer_tier"],
        [env.astype(object), feature, tier],
        [always, always, rng.random(rows) < 0.7],
        pa.string(),
    )
    scored = ok & (rng.random(rows) < 0.35)
    correct = scored & (rng.random(rows) < 0.6)
    feedback = ok & (rng.random(rows) < 0.06)
    scores = _map(
        ["accuracy", "helpfulness", "is_correct-hcone-bool", "helicone-score-feedback"],
        [
            np.clip(rng.normal(85, 8, rows), 0, 100).astype(np.int64),
            rng.integers(5, 11, rows),
            (rng.random(rows) < 0.85).astype(np.int64),
            (rng.random(rows) < 0.8).astype(np.int64),
        ],
        [scored, scored, correct, feedback],
        pa.int64(),
    )
    # Bodies: a topic, the model and a per-request number, so no two bodies are alike (like real prompts).
    topic = pa.array(np.array(TOPICS, dtype=object)[rng.integers(0, len(TOPICS), rows)])
    ticket = pa.array(rng.integers(10_000, 10_000_000, rows)).cast(pa.string())
    model_name = pa.array(np.array(models, dtype=object)[model_idx])
    request_body = pc.binary_join_element_wise(
        '{"model": "',
        model_name,
        '", "messages": [{"role": "user", "content": "Please ',
        topic,
        " (ticket ",
        ticket,
        ')"}]}',
        "",
    )
    response_body = pc.binary_join_element_wise(
        '{"choices": [{"message": {"role": "assistant", "content": "Here is what I found for ticket ',
        ticket,
        '."}}]}',
        "",
    )
    ts = pa.array(created, pa.timestamp("us"))
    return pa.table(
        {
            "request_id": _uuids(rng, rows),
            "organization_id": pa.array(org.astype(object)),
            "request_created_at": ts,
            "response_created_at": pc.add(ts, pa.array(latency * 1000, pa.duration("us"))),
            "latency": pa.array(latency),
            "time_to_first_token": ttft,
            "status": pa.array(status.astype(np.int64)),
            "model": model_name,
            "provider": pa.array(provider),
            "user_id": user_id,
            "prompt_tokens": pa.array(prompt),
            "completion_tokens": pa.array(completion),
            "total_tokens": pa.array(prompt + completion),
            "prompt_cache_read_tokens": pa.array(np.zeros(rows, dtype=np.int64)),
            "prompt_cache_write_tokens": pa.array(np.zeros(rows, dtype=np.int64)),
            "cost": pa.array(cost),
            "threat": pa.array(rng.random(rows) < 0.002),
            "target_url": pa.array(np.array([URLS[MODELS[m][0]] for m in models], dtype=object)[model_idx]),
            "country_code": pa.array(np.array(list(COUNTRIES), dtype=object)[_choice(rng, COUNTRIES, rows)]),
            "node_id": pa.array(np.full(rows, "", dtype=object)),
            "job_id": pa.array(np.full(rows, "", dtype=object)),
            "cache_enabled": pa.array(np.zeros(rows, dtype=bool)),
            "cache_reference_id": pa.array(np.full(rows, "00000000-0000-0000-0000-000000000000", dtype=object)),
            "prompt_id": pa.array(np.full(rows, "", dtype=object)),
            "prompt_version": pa.array(np.full(rows, "", dtype=object)),
            "request_referrer": pa.array(np.full(rows, "", dtype=object)),
            "is_passthrough_billing": pa.array(np.zeros(rows, dtype=bool)),
            "properties": properties,
            "scores": scores,
            "request_body": request_body,
            "response_body": response_body,
        }
    )


def parquet_path(rows: int) -> Path:
    """The generated rows, written once."""
    path = cache_dir() / f"rows-{rows}.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        table = generate(rows)
        print(f"generated {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
        pq.write_table(table, path.with_suffix(".tmp"), row_group_size=1 << 20)
        path.with_suffix(".tmp").rename(path)
    return path


def duckdb_home(rows: int) -> Path:
    """A HELIQA_HOME whose store holds the rows, laid out exactly as `Store` imports them."""
    from heliqa.tools.store import CLUSTER_ORDER, Store

    home = cache_dir() / f"home-{rows}"
    db = home / "heliqa.duckdb"
    if not (home / "done").exists():
        source = parquet_path(rows)
        db.unlink(missing_ok=True)
        started = time.perf_counter()
        store = Store(db)
        con = store.con
        con.execute(f"INSERT INTO requests SELECT * FROM read_parquet($p) ORDER BY {CLUSTER_ORDER}", {"p": str(source)})
        con.execute(
            "INSERT INTO scores SELECT organization_id, request_created_at, request_id, unnest(map_keys(scores)), "
            "unnest(map_values(scores)) FROM requests ORDER BY organization_id, request_created_at"
        )
        store.close()
        store = Store(db)  # reopening for writing derives the per-minute score sums from the scores table
        store.con.execute("UPDATE layout SET unclustered = 0")  # inserted in the store's cluster order above
        store.refresh_vocabulary()
        store.con.execute("CHECKPOINT")
        store.close()
        (home / "done").touch()
        print(f"loaded DuckDB in {time.perf_counter() - started:.1f} s", flush=True)
    return home


def chdb_path(rows: int) -> Path:
    """A chDB directory holding the rows in Helicone's `request_response_rmt`."""
    import clickhouse_connect

    from heliqa.tools.clickhouse import TABLE, create_table

    path = cache_dir() / f"chdb-{rows}"
    if not (path / "done").exists():
        source = parquet_path(rows)
        started = time.perf_counter()
        client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
        client.command(f"DROP TABLE IF EXISTS {TABLE}")
        create_table(client)
        client.command(
            f"INSERT INTO {TABLE} (request_id, organization_id, request_created_at, response_created_at, latency, "
            "time_to_first_token, status, model, provider, user_id, prompt_tokens, completion_tokens, cost, threat, "
            "target_url, country_code, properties, scores, request_body, response_body) "
            "SELECT toUUID(request_id), toUUID(organization_id), request_created_at, response_created_at, latency, "
            "time_to_first_token, status, model, provider, user_id, prompt_tokens, completion_tokens, cost, threat, "
            f"target_url, country_code, properties, scores, request_body, response_body FROM file('{source}', Parquet)"
        )
        client.command(f"OPTIMIZE TABLE {TABLE} FINAL")
        client.close()
        (path / "done").touch()
        print(f"loaded chDB in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def main() -> None:
    """Build every part of the cache that is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--engines", default="duckdb,chdb", help="comma-separated: duckdb, chdb")
    args = parser.parse_args()
    parquet_path(args.rows)
    if "duckdb" in args.engines:
        print(duckdb_home(args.rows))
    if "chdb" in args.engines:
        print(chdb_path(args.rows))


if __name__ == "__main__":
    main()
