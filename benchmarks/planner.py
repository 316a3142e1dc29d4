"""Benchmark the rules planner (time per question) and the CLI end to end (time per question on the sample).

python benchmarks/planner.py                 # planner only: sample vocabulary and a synthetic large one
python benchmarks/planner.py --cli           # also `heliqa ask --json` per dev question (imports the sample)

The large vocabulary has 2,000 models, 20,000 users, 50 property keys and 10,000 values of one property
(Helicone session ids are properties): per-question planning time must not grow materially with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HELIQA_SHARED") or ROOT.parent / "shared")  # set HELIQA_SHARED in a worktree
MAIN_ORG = "8f2c1a4e-6b7d-4c3e-9a1f-2d5e8b7c6a01"
sys.path.insert(0, str(ROOT))  # the sample vocabulary lives with the planner's tests


def large_vocabulary(base):
    """The sample vocabulary grown to 2,000 models, 20,000 users, 50 property keys, 10,000 session ids."""
    from heliqa.tools.results import Vocabulary

    families = ["gpt", "claude", "gemini", "llama", "mistral", "qwen", "deepseek", "command"]
    models = dict(base.models)
    i = 0
    while len(models) < 2000:
        models[f"{families[i % len(families)]}-x{i}-{i % 97}b-v{i % 13}"] = 1 + i % 50
        i += 1
    properties = {k: dict(v) for k, v in base.properties.items()}
    for k in range(50 - len(properties) - 1):
        properties[f"prop_{k}"] = {f"value-{k}-{j}": 1 for j in range(20)}
    properties["session_id"] = {f"sess-{j:05d}-{j * 7919 % 100000:05x}": 1 for j in range(10_000)}
    users = {f"user_{j:05d}": 1 for j in range(20_000)}
    return Vocabulary(
        models=models,
        providers=dict(base.providers),
        properties=properties,
        score_keys=dict(base.score_keys),
        users=len(users),
        user_ids=users,
    )


def planner_times(cases: list[dict], rounds: int, vocab) -> list[float]:
    from heliqa.agent.planner import Context
    from heliqa.agent.rules import RulesPlanner

    planner = RulesPlanner()
    times = []
    for _ in range(rounds):
        for case in cases:
            ctx = Context(
                now=datetime.fromisoformat(case["now"].replace("Z", "+00:00")),
                tz=ZoneInfo(case["tz"]),
                vocabulary=vocab,
            )
            t0 = time.perf_counter()
            planner.plan(case["question"], ctx)
            times.append(time.perf_counter() - t0)
    return times


def cli_times(cases: list[dict]) -> list[float]:
    home = tempfile.mkdtemp(prefix="heliqa-bench-")
    env = dict(os.environ, HELIQA_HOME=home, HELIQA_ORG_ID=MAIN_ORG)
    subprocess.run(
        ["heliqa", "import", "--quiet", str(SHARED / "data" / "requests.jsonl.gz")],
        env=env,
        check=True,
        capture_output=True,
    )
    times = []
    for case in cases:
        t0 = time.perf_counter()
        subprocess.run(
            ["heliqa", "ask", "--json", "--now", case["now"], "--tz", case["tz"], "--", case["question"]],
            env=env,
            capture_output=True,
        )
        times.append(time.perf_counter() - t0)
    return times


def report(name: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)

    def pct(q: float) -> float:
        return ms[min(len(ms) - 1, int(len(ms) * q))]

    print(
        f"{name}: n={len(ms)} median {statistics.median(ms):.2f} ms, p90 {pct(0.9):.2f} ms, "
        f"p99 {pct(0.99):.2f} ms, max {ms[-1]:.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", action="store_true", help="also time `heliqa ask --json` per dev question")
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    from tests.rules.common import VOCAB

    cases = [json.loads(line) for line in (SHARED / "eval" / "dev.jsonl").read_text().splitlines() if line.strip()]
    planner_times(cases[:3], 1, VOCAB)  # first use loads wordfreq's list and builds the name index
    report("rules planner per question, sample vocabulary", planner_times(cases, args.rounds, VOCAB))
    big = large_vocabulary(VOCAB)
    t0 = time.perf_counter()
    planner_times(cases[:1], 1, big)
    print(f"large vocabulary: name index built once in {(time.perf_counter() - t0) * 1000:.0f} ms")
    report("rules planner per question, large vocabulary", planner_times(cases, args.rounds, big))
    if args.cli:
        report("heliqa ask --json per question (new process, sample store)", cli_times(cases))


if __name__ == "__main__":
    main()
