"""Measure `heliqa watch`: the detector on the demo's planted incidents, and the seconds one evaluation cycle takes.

    python benchmarks/watch.py backtest [--rows 300000] [--every 15m] [--vocabulary acme] [--seed 7]  # incidents
    python benchmarks/watch.py backtest --data ../shared/data/requests.jsonl.gz  # the sample data's, 53 days
    python benchmarks/watch.py cycle [--rows 10000000] [--cycles 6]  # 30 monitors (10 split by model)

`backtest` generates the demo (`heliqa.tools.demo`, 30 days ending 2026-11-24T12:00Z, its planted incidents) into a
store cached under $HELIQA_BENCH_DIR (or ~/.cache/heliqa-bench), replays the default anomaly monitors over the 23
days that have a full 7-day baseline, and scores each planted incident: the best incident's window overlap
(intersection over union), the delay of its first post after the incident began, and its first driver (for a split
series, the series' own value). Everything else any monitor posted is a false alarm, counted per monitor per 30 days.
With `--data`, the sample data's main organization is scored instead, on its own planted incidents (SAMPLE_DATA).

`cycle` times what a live watcher does every 5 minutes on the store of `benchmarks/generate.py --rows N`: the first
cycle (every baseline read: 7 days of hours per monitor) and the following ones (only new hours are read).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generate import BENCH_ORG, cache_dir, duckdb_home  # noqa: E402
from heliqa.agent.watch import backtest, checks  # noqa: E402
from heliqa.tools.demo import VOCABULARIES, AcmeIncidents, Incidents, demo_org, generate  # noqa: E402
from heliqa.tools.monitors import Monitor, default_monitors, duration  # noqa: E402
from heliqa.tools.store import Store  # noqa: E402

END = datetime(2026, 11, 24, 12)
# vocabulary -> planted incident -> its driver, and a second driver also counted right
EXPECTED = {
    "sample": {
        "slow_gpt4": ("model", "gpt-4"),
        "storm": ("provider", "ANTHROPIC"),
        "prompt": ("property:prompt_version", "v13"),
        "spend": ("user", "user_0042"),  # (a user calling gpt-4 with long prompts: model gpt-4 is counted right too)
    },
    "acme": {
        "groq_outage": ("provider", "GROQ"),
        "slow_reasoner": ("model", "deepseek-reasoner"),
        "canary": ("property:deployment", "canary"),
        "spend": ("user", "carol.smith"),
    },
}
ALSO_RIGHT = {  # (the feature the prompt rollout lowers is where it lives, as the canary's app is)
    "sample": {"spend": ("model", "gpt-4"), "prompt": ("property:feature", "support-bot")},
    "acme": {"canary": ("property:app", "docs-qa"), "spend": ("model", "mistral-large-latest")},
}


def demo_store(rows: int, vocabulary: str, seed: int = 7) -> Store:
    """The demo's rows in a store, generated once."""
    suffix = ("" if vocabulary == "sample" else f"-{vocabulary}") + ("" if seed == 7 else f"-seed{seed}")
    path = cache_dir() / f"watch-demo-{rows}{suffix}" / "heliqa.duckdb"
    if not path.with_suffix(".done").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        store = Store(path)
        batch = []
        for row in generate(rows, seed, END.replace(tzinfo=UTC), demo_org(vocabulary), vocabulary=vocabulary):
            batch.append(row)
            if len(batch) == 50_000:
                store.add_rows(batch)
                batch = []
        store.add_rows(batch)
        store.close()
        path.with_suffix(".done").touch()
    return Store(path, read_only=True)


def _iou(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    inter = (min(a[1], b[1]) - max(a[0], b[0])).total_seconds()
    return max(inter, 0.0) / (max(a[1], b[1]) - min(a[0], b[0])).total_seconds()


def _first_driver(incident, monitors: dict[str, Monitor]) -> tuple[str, str] | None:
    m = monitors[incident.monitor]
    if m.by:  # a split series' own value (a property's dimension named as the drivers name it)
        return (m.by.replace("property.", "property:", 1), incident.group)
    return (incident.drivers[0]["dimension"], incident.drivers[0]["value"]) if incident.drivers else None


# the sample data's (../shared/data/requests.jsonl.gz) own planted incidents, as its explanations' answers place
# them; the prompt rollout never rolls back: its first day is what a monitor should find
SAMPLE_DATA = {
    "slow_gpt4": ((datetime(2026, 11, 19, 14), datetime(2026, 11, 19, 20)), ("model", "gpt-4")),
    "storm": ((datetime(2026, 11, 21, 9), datetime(2026, 11, 21, 11)), ("provider", "ANTHROPIC")),
    "prompt": ((datetime(2026, 11, 17), datetime(2026, 11, 18)), ("property:prompt_version", "v13")),
    "spend": ((datetime(2026, 11, 22, 13), datetime(2026, 11, 22, 17)), ("user", "user_0042")),
}


def data_store(path: Path) -> Store:
    """A JSONL export (Helicone's request rows) imported once into a store."""
    from heliqa.tools.importer import read_lines

    home = cache_dir() / f"watch-data-{path.stem}"
    db = home / "heliqa.duckdb"
    if not db.with_suffix(".done").exists():
        home.mkdir(parents=True, exist_ok=True)
        db.unlink(missing_ok=True)
        store = Store(db)
        for batch in read_lines(str(path), None):
            store.add_rows(batch.rows)
        store.close()
        db.with_suffix(".done").touch()
    return Store(db, read_only=True)


def run_backtest(rows: int, every: str, vocabulary: str, seed: int = 7, data: Path | None = None) -> None:
    """Score the default monitors on the planted incidents; count the false alarms."""
    if data is not None:
        store, org, days, label = data_store(data), BENCH_ORG, 53, f"{data.name} (organization {BENCH_ORG[:8]})"
        windows = {name: w for name, (w, _) in SAMPLE_DATA.items()}
        expected, also = {name: d for name, (_, d) in SAMPLE_DATA.items()}, ALSO_RIGHT["sample"]
    else:
        store, org, days = demo_store(rows, vocabulary, seed), demo_org(vocabulary), 23
        label = f"{rows:,} demo rows ({vocabulary}, seed {seed})"
        planted = (AcmeIncidents if vocabulary == "acme" else Incidents)(END)
        expected, also = EXPECTED[vocabulary], ALSO_RIGHT[vocabulary]
        windows = {name: getattr(planted, name) for name in expected}
    monitors = {m.name: m for m in default_monitors(store.vocabulary(org))}
    step, start = duration(every), END - timedelta(days=days)
    started = time.perf_counter()
    found = backtest(store, org, monitors.values(), start, END, step)
    seconds = time.perf_counter() - started
    print(
        f"{label}, {len(monitors)} default monitors, every {every}, {days} days: {len(found)} incidents, "
        f"{seconds:.1f} s"
    )
    print(f"{'planted':<13} {'found':<5} {'best monitor':<34} {'overlap':>7} {'post after':>10}  first driver")
    for name, window in windows.items():
        close = [i for i in found if i.start < window[1] and (i.end or END) > window[0]]
        best = max(close, key=lambda i: _iou((i.start, i.end or END), window), default=None)
        if best is None:
            print(f"{name:<13} {'no':<5}")
            continue
        overlap, delay = _iou((best.start, best.end or END), window), best.opened - window[0]
        hits = [
            i for i in close
            if _iou((i.start, i.end or END), window) >= 0.8 and i.opened - window[0] <= 2 * step
            and _first_driver(i, monitors) in (expected[name], also.get(name))
        ]  # fmt: skip
        series = best.monitor + (f" · {best.group}" if best.group else "")
        driver = _first_driver(best, monitors)
        named = f"{driver[0].removeprefix('property:')} {driver[1]}" if driver else "–"
        print(
            f"{name:<13} {'yes' if hits else 'no':<5} {series[:34]:<34} {overlap:>7.0%} "
            f"{int(delay.total_seconds() // 60):>7} min  {named}"
            + (f"  (met by {hits[0].monitor})" if hits and hits[0] is not best else "")
        )
    false, echoes = {}, 0
    for i in found:
        if any(i.start < w[1] and (i.end or END) > w[0] for w in windows.values()):
            continue
        # the first firing window reaches one window back: a planted incident's last requests can fire it after
        if any(i.start - monitors[i.monitor].span < w[1] and (i.end or END) > w[0] for w in windows.values()):
            echoes += 1
            continue
        false[i.monitor] = false.get(i.monitor, 0) + 1
    per30 = {name: n * 30 / days for name, n in false.items()}
    print(
        f"false alarms: {sum(false.values())} in {days} days over {len(monitors)} monitors; per monitor per 30 days: "
        f"max {max(per30.values(), default=0):.1f}, mean {sum(per30.values()) / len(monitors):.2f}"
    )
    for name, n in sorted(false.items()):
        print(f"  {name}: {n}")
    print(f"echoes (fired by a planted incident's last hour, after it ended; not counted above): {echoes}")


def cycle_monitors() -> list[Monitor]:
    """30 monitors: 10 split by model, 20 overall or filtered; anomalies and thresholds."""
    split = [
        Monitor(name="p90 latency by model", measure="latency", by="model"),
        Monitor(name="error rate by model", measure="errors", by="model"),
        Monitor(name="cost by model", measure="cost", by="model"),
        Monitor(name="accuracy by model", measure="score", score_key="accuracy", by="model"),
        Monitor(name="ttft by model", measure="ttft", by="model"),
        Monitor(name="p99 latency by model", measure="latency", aggregation="p99", by="model", above=30000),
        Monitor(name="errors by model", measure="errors", aggregation="count", by="model", above=100),
        Monitor(name="requests by model", measure="requests", by="model", below=10, min_requests=0),
        Monitor(name="tokens by model", measure="total_tokens", by="model", above=10_000_000),
        Monitor(name="avg cost by model", measure="cost", aggregation="avg", by="model", above=1),
    ]
    overall = [
        Monitor(name="p90 latency", measure="latency"),
        Monitor(name="error rate", measure="errors"),
        Monitor(name="cost", measure="cost"),
        Monitor(name="accuracy", measure="score", score_key="accuracy"),
        Monitor(name="helpfulness", measure="score", score_key="helpfulness"),
        Monitor(name="ttft", measure="ttft"),
        Monitor(name="requests", measure="requests"),
        Monitor(name="prompt tokens", measure="prompt_tokens"),
    ]
    for i, model in enumerate(("gpt-4o", "gpt-4", "claude-3-5-sonnet-20241022", "gemini-1.5-pro")):
        overall.append(Monitor(name=f"latency {i}", measure="latency", aggregation="p95", filters={"model": model}))
        overall.append(Monitor(name=f"errors {i}", measure="errors", filters={"model": model}, above=5))
    overall += [
        Monitor(name="support latency", measure="latency", filters={"property.feature": "support-bot"}, above=8000),
        Monitor(name="anthropic 429", measure="errors", filters={"provider": "ANTHROPIC", "status": 429}),
        Monitor(name="cost per 15m", measure="cost", window="15m", above=500),
        Monitor(name="daily cost", measure="cost", window="1d", above=20000),
    ]
    return split + overall


def run_cycles(rows: int, cycles: int) -> None:
    """Seconds per evaluation cycle of 30 monitors, first (cold) and following (every 5 minutes)."""
    store = Store(duckdb_home(rows) / "heliqa.duckdb", read_only=True)
    monitors = cycle_monitors()
    cache: dict = {}
    t = datetime(2026, 11, 24, 11, 0)
    times = []
    for _ in range(cycles):
        started = time.perf_counter()
        for m in monitors:
            checks(store, BENCH_ORG, m, [t], cache)
        times.append(time.perf_counter() - started)
        t += timedelta(minutes=5)
    print(f"{rows:,} rows, {len(monitors)} monitors ({sum(1 for m in monitors if m.by)} split by model)")
    print(
        f"first cycle {times[0]:.2f} s; next {len(times) - 1}: median {statistics.median(times[1:]):.2f} s, "
        f"max {max(times[1:]):.2f} s"
    )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("backtest", "cycle"))
    parser.add_argument("--rows", type=int)
    parser.add_argument("--every", default="15m")
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7, help="the demo generator's seed (backtest)")
    parser.add_argument("--vocabulary", choices=VOCABULARIES, default="sample", help="the demo's vocabulary (backtest)")
    parser.add_argument("--data", type=Path, help="backtest the sample data (requests.jsonl.gz) instead of the demo")
    args = parser.parse_args()
    if args.what == "backtest":
        run_backtest(args.rows or 300_000, args.every, args.vocabulary, args.seed, args.data)
    else:
        run_cycles(args.rows or 10_000_000, args.cycles)


if __name__ == "__main__":
    main()
