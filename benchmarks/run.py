"""Time heliqa's queries on DuckDB (embedded store) and chDB (Helicone's table) beside hand-written DuckDB SQL.

    python benchmarks/generate.py --rows 10000000     # once; cached
    python benchmarks/run.py --rows 10000000          # warm medians per engine, and the ratios
    python benchmarks/run.py --e2e                    # `heliqa ask --json` wall time on the sample
    python benchmarks/run.py --investigate            # an explanation and a comparison, DuckDB and chDB

Every heliqa timing is the whole backend call (compile, run, build rows), warm: two runs are discarded,
then the median of `--repeat` runs is reported.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generate import BENCH_ORG, cache_dir, chdb_path, duckdb_home  # noqa: E402
from heliqa.tools.filters import leaf  # noqa: E402
from heliqa.tools.query import MetricsQuery, ScoresRequest, TimeFilter  # noqa: E402

END = "2026-11-24T12:00:00.000Z"
LAST_30D = TimeFilter(start="2026-10-25T12:00:00.000Z", end=END)
LAST_7D = TimeFilter(start="2026-11-17T12:00:00.000Z", end=END)
LAST_24H = TimeFilter(start="2026-11-23T12:00:00.000Z", end=END)
WHERE = "organization_id = $org AND request_created_at >= $start AND request_created_at <= $end"


def _range(tf: TimeFilter) -> dict:
    return {"org": BENCH_ORG, "start": tf.start[:19].replace("T", " "), "end": tf.end[:19].replace("T", " ")}


# name -> (heliqa request, hand-written DuckDB SQL over the same tables, its parameters)
QUERIES: dict[str, tuple[object, str, dict]] = {
    "scores per day (30 d)": (
        ScoresRequest(timeFilter=LAST_30D, userFilter="all", dbIncrement="day", timeZoneDifference=0),
        # 30 days ending on a whole minute: every minute is whole, so the per-minute sums answer alone.
        "SELECT date_trunc('day', minute) AS b, score_key, CAST(sum(total) AS DOUBLE) / sum(n) FROM score_minutes "
        "WHERE organization_id = $org AND minute >= $start AND minute < $end GROUP BY 1, 2 ORDER BY 1, 2",
        _range(LAST_30D),
    ),
    "p90 latency by day, gpt-4o (7 d)": (
        MetricsQuery(
            measure="latency",
            aggregation="p90",
            timeFilter=LAST_7D,
            dbIncrement="day",
            userFilter=leaf("model", "equals", "gpt-4o"),
        ),
        f"SELECT date_trunc('day', request_created_at) AS b, quantile_cont(latency, 0.9) FROM requests "
        f"WHERE {WHERE} AND model = 'gpt-4o' GROUP BY 1 ORDER BY 1",
        _range(LAST_7D),
    ),
    "error rate by hour by model (24 h)": (
        MetricsQuery(measure="error_rate", groupBy="model", timeFilter=LAST_24H, dbIncrement="hour"),
        f"SELECT date_trunc('hour', request_created_at) AS b, model, "
        f"100.0 * count(*) FILTER (WHERE status >= 400) / count(*) FROM requests WHERE {WHERE} "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        _range(LAST_24H),
    ),
    "top 10 users by cost (30 d)": (
        MetricsQuery(measure="cost", groupBy="user", top=10, timeFilter=LAST_30D),
        f"SELECT user_id, sum(cost) / 1e9 AS usd FROM requests WHERE {WHERE} AND user_id != '' "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
        _range(LAST_30D),
    ),
    "body contains 'refund' (30 d)": (
        MetricsQuery(measure="requests", timeFilter=LAST_30D, userFilter=leaf("request_body", "contains", "refund")),
        f"SELECT count(*) FROM requests WHERE {WHERE} AND request_body ILIKE '%refund%'",
        _range(LAST_30D),
    ),
}
# For reference: the scores query over one row per score, and over the requests table's MAP column.
SCORES_REFERENCE = {
    "one row per score (scores table)": f"SELECT date_trunc('day', request_created_at) AS b, score_key, avg(value) "
    f"FROM scores WHERE {WHERE} GROUP BY 1, 2",
    "MAP column (requests table)": "SELECT date_trunc('day', request_created_at) AS b, k, avg(v) FROM (SELECT "
    "request_created_at, unnest(map_keys(scores)) AS k, unnest(map_values(scores)) AS v FROM requests "
    f"WHERE {WHERE}) GROUP BY 1, 2",
}


def median_ms(call: Callable[[], object], repeat: int) -> float:
    """Warm median wall time of `call` in milliseconds."""
    for _ in range(2):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run_backend(backend, request) -> object:
    """One heliqa backend call for a scores request or an extended query."""
    if isinstance(request, ScoresRequest):
        return backend.scores(request, BENCH_ORG)
    return backend.run(request, BENCH_ORG)


def engines(rows: int, repeat: int) -> None:
    """Print the table of warm medians and ratios."""
    from heliqa.tools.clickhouse import ClickHouseBackend, connect
    from heliqa.tools.store import Store

    store = Store(duckdb_home(rows) / "heliqa.duckdb", read_only=True)
    total = store.con.execute("SELECT count(*) FROM requests").fetchone()[0]
    # DuckDB first, then chDB: chDB's background threads would otherwise compete with DuckDB on 2 cores.
    duck_times = {}
    for name, (request, sql, params) in QUERIES.items():
        hand = median_ms(lambda sql=sql, params=params: store.con.execute(sql, params).fetchall(), repeat)
        duck = median_ms(lambda request=request: run_backend(store, request), repeat)
        duck_times[name] = (hand, duck)
    reference = {
        label: median_ms(lambda sql=sql: store.con.execute(sql, _range(LAST_30D)).fetchall(), repeat)
        for label, sql in SCORES_REFERENCE.items()
    }
    chdb_dir = chdb_path(rows)
    ch = ClickHouseBackend(connect(f"chdb://{chdb_dir}"), f"chdb://{chdb_dir}")
    print(f"{total:,} rows; DuckDB {store.path}; chDB {chdb_dir}; medians of {repeat} warm runs (ms)\n")
    header = f"{'query':36} "
    header += f"{'hand DuckDB':>12} {'heliqa DuckDB':>14} {'ratio':>6} {'heliqa chDB':>12} {'chDB/DuckDB':>12}"
    print(header)
    print("-" * len(header))
    for name, (request, _sql, _params) in QUERIES.items():
        hand, duck = duck_times[name]
        chdb = median_ms(lambda request=request: run_backend(ch, request), repeat)
        print(f"{name:36} {hand:12.1f} {duck:14.1f} {duck / hand:6.2f} {chdb:12.1f} {chdb / duck:12.2f}", flush=True)
    print()
    for label, ms in reference.items():
        print(f"(reference) scores per day hand-written over {label}: {ms:.1f} ms")
    print(f"load average after the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


def _explain_query(dimensions: tuple[str, ...]):
    from heliqa.tools.investigate import ExplainQuery
    from heliqa.tools.query import HalfOpenTimeFilter

    return ExplainQuery(
        measure="latency",
        timeFilter=LAST_24H,
        baseline=HalfOpenTimeFilter(start="2026-11-16T12:00:00.000Z", end=LAST_24H.start),
        dimensions=dimensions,
    )


# The explanation written by hand for DuckDB: the baseline's p90, the hourly p90 series, and the drivers' counts
# for the same window heliqa finds (GROUPING SETS over every dimension).
_HAND_THRESHOLD = (
    "SELECT quantile_cont(latency, 0.9) FROM requests WHERE organization_id = $org "
    "AND request_created_at >= $b0 AND request_created_at < $start"
)
_HAND_SERIES = (
    "SELECT date_trunc('hour', request_created_at) AS b, request_created_at >= $start, "
    "quantile_cont(latency, 0.9), count(*) FROM requests WHERE organization_id = $org "
    "AND request_created_at >= $b0 AND request_created_at <= $end GROUP BY 1, 2"
)


def _hand_drivers(properties: list[str]) -> str:
    dims = ["model", "provider", "user_id", "CAST(status AS VARCHAR)", "coalesce(country_code, '')"]
    dims += [f"coalesce(properties['{k}'], '')" for k in properties]
    columns = ", ".join(f"{d} AS d{i}" for i, d in enumerate(dims))
    sets = ", ".join(f"(d{i})" for i in range(len(dims)))
    names = ", ".join(f"d{i}" for i in range(len(dims)))
    return (
        f"SELECT {names}, sum(w), sum(bl) FROM (SELECT {columns}, "
        "(request_created_at >= $w0 AND request_created_at < $w1 AND latency > $p90)::INT AS w, "
        "(request_created_at < $start)::INT AS bl FROM requests WHERE organization_id = $org "
        "AND ((request_created_at >= $b0 AND request_created_at < $start) OR "
        "(request_created_at >= $w0 AND request_created_at < $w1 AND latency > $p90))) AS t "
        f"GROUP BY GROUPING SETS ({sets})"
    )


def investigate(rows: int, repeat: int) -> None:
    """An explanation (24 h + 7-day baseline, every dimension) and a comparison, beside hand-written DuckDB."""
    from zoneinfo import ZoneInfo

    from heliqa.agent.forms import CompareSpec
    from heliqa.agent.investigate import compare
    from heliqa.agent.spec import QuerySpec
    from heliqa.agent.timerange import TimeRange
    from heliqa.tools import investigate as investigate_sql
    from heliqa.tools.clickhouse import ClickHouseBackend, connect
    from heliqa.tools.filters import parse_instant
    from heliqa.tools.store import Store

    store = Store(duckdb_home(rows) / "heliqa.duckdb", read_only=True)
    properties = list(store.vocabulary(BENCH_ORG).properties)
    dims = ("model", "provider", "user", "status", "country", *(f"property:{k}" for k in properties))
    query = _explain_query(dims)
    # The generated data has no incident, so no window is found and no drivers pass would run: time the whole
    # explanation with the last 6 hours taken as the window (thresholds, series and the drivers' grouped pass).
    found = store.explain(query, BENCH_ORG)
    forced = (datetime(2026, 11, 24, 6), datetime(2026, 11, 24, 12))
    if found.window is None:
        found.window = forced

    def full_explain(backend) -> None:
        engine = backend.engine()
        result = investigate_sql.explain(engine, query, BENCH_ORG)
        if result.window is None:
            investigate_sql._drivers(engine, query, BENCH_ORG, (result.bad_filter, None), forced)

    now = parse_instant(END)
    spec = CompareSpec(
        query=QuerySpec(
            measure="latency", aggregation="p90", groupBy="model", range=TimeRange(kind="last", n=24, unit="hours")
        ),
        shiftN=7,
        shiftUnit="days",
    )
    plain = spec.query.to_query(now, ZoneInfo("UTC"))
    params = {
        "org": BENCH_ORG,
        "b0": datetime(2026, 11, 16, 12),
        "start": datetime(2026, 11, 23, 12),
        "end": datetime(2026, 11, 24, 12),
    }

    def hand_explain() -> None:
        base = {k: params[k] for k in ("org", "b0", "start")}
        p90 = store.con.execute(_HAND_THRESHOLD, base).fetchone()[0]
        store.con.execute(_HAND_SERIES, params).fetchall()
        if found.window is not None:
            window = {"w0": found.window[0], "w1": found.window[1], "p90": int(p90)}
            store.con.execute(_hand_drivers(properties), {**base, **window}).fetchall()

    duck = {
        "explain, hand-written": median_ms(hand_explain, repeat),
        "explain, heliqa": median_ms(lambda: full_explain(store), repeat),
        "plain p90 by model (24 h)": median_ms(lambda: store.run(plain, BENCH_ORG), repeat),
        "compare vs 7 days earlier": median_ms(
            lambda: compare(store, BENCH_ORG, spec, now, ZoneInfo("UTC"), "UTC", "rules"), repeat
        ),
    }
    chdb_dir = chdb_path(rows)
    ch = ClickHouseBackend(connect(f"chdb://{chdb_dir}"), f"chdb://{chdb_dir}")
    chdb = {
        "explain, heliqa": median_ms(lambda: full_explain(ch), repeat),
        "plain p90 by model (24 h)": median_ms(lambda: ch.run(plain, BENCH_ORG), repeat),
        "compare vs 7 days earlier": median_ms(
            lambda: compare(ch, BENCH_ORG, spec, now, ZoneInfo("UTC"), "UTC", "rules"), repeat
        ),
    }
    window = f"{found.window[0]:%b %d %H:%M}–{found.window[1]:%H:%M}" if found.window else "none"
    top = f"{found.drivers[0].dimension}={found.drivers[0].value}" if found.drivers else "none"
    print(f"explain p90 latency, 24 h + 7-day baseline, {len(dims)} dimensions: window {window}, first driver {top}")
    print(f"medians of {repeat} warm runs (ms)\n")
    print(f"{'':32} {'DuckDB':>10} {'chDB':>10}")
    for name, ms in duck.items():
        print(f"{name:32} {ms:10.1f} {chdb.get(name, float('nan')):10.1f}")
    for engine, times in (("DuckDB", duck), ("chDB", chdb)):
        ratio = times["compare vs 7 days earlier"] / (2 * times["plain p90 by model (24 h)"])
        print(f"{engine}: comparison / (2 × plain query) = {ratio:.2f}")
    print(f"load average after the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


def sample_home() -> Path:
    """A HELIQA_HOME holding the shared sample (imported once into the cache)."""
    from heliqa.tools.store import Store

    home = cache_dir() / "sample-home"
    if not (home / "done").exists():
        sample = Path(__file__).resolve().parents[2] / "shared" / "data" / "requests.jsonl.gz"
        store = Store(home / "heliqa.duckdb")
        store.import_files([str(sample)])
        store.close()
        (home / "done").touch()
    return home


def end_to_end(repeat: int) -> None:
    """Wall time of one `heliqa ask --json` process on the sample, and whether langchain was imported."""
    env = dict(os.environ, HELIQA_HOME=str(sample_home()), HELIQA_ORG_ID=BENCH_ORG)
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HELIQA_BACKEND"):
        env.pop(var, None)
    # The console script beside this interpreter (a pyenv shim would add its own start-up time).
    beside = Path(sys.executable).with_name("heliqa")
    script = str(beside) if beside.exists() else shutil.which("heliqa")
    if script is None:
        raise SystemExit("the heliqa command is not installed: pip install -e .")
    question = "p90 latency for gpt-4 last week by day"
    args = ["ask", "--json", "--now", END, "--tz", "America/New_York", question]
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        done = subprocess.run([script, *args], env=env, capture_output=True, text=True)
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"heliqa ask --json {question!r}: exit {done.returncode}, median {statistics.median(times[1:]):.0f} ms "
        f"(first {times[0]:.0f} ms) over {repeat} runs"
    )
    print("  answer:", done.stdout.strip().replace("\n", " ")[:300] or done.stderr.strip()[:300])
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", script, *args], env=env, capture_output=True, text=True
    )
    heavy = sorted(
        {
            line.split("|")[-1].strip().split(".")[0]
            for line in traced.stderr.splitlines()
            if any(name in line for name in ("langchain", "openai", "matplotlib", "fastapi"))
        }
    )
    print(f"  heavy modules imported on that path: {', '.join(heavy) or 'none'}")


def main() -> None:
    """Parse arguments and run the chosen benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--e2e", action="store_true", help="only the `heliqa ask` end-to-end timing")
    parser.add_argument("--investigate", action="store_true", help="only the explanation and comparison timings")
    args = parser.parse_args()
    if args.e2e:
        end_to_end(args.repeat)
    elif args.investigate:
        investigate(args.rows, args.repeat)
    else:
        engines(args.rows, args.repeat)


if __name__ == "__main__":
    main()
