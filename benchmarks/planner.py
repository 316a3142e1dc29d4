"""Benchmark the rules planner (time per question) and the CLI end to end (time per question on the sample).

python benchmarks/planner.py                 # planner only (no store needed)
python benchmarks/planner.py --cli           # also `heliqa ask --json` per dev question (imports the sample)
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
SHARED = ROOT.parent / "shared"
MAIN_ORG = "8f2c1a4e-6b7d-4c3e-9a1f-2d5e8b7c6a01"
sys.path.insert(0, str(ROOT))  # the sample vocabulary lives with the planner's tests


def planner_times(cases: list[dict], rounds: int) -> list[float]:
    from heliqa.agent.planner import Context
    from heliqa.agent.rules import RulesPlanner
    from tests.test_rules import VOCAB

    planner = RulesPlanner()
    times = []
    for _ in range(rounds):
        for case in cases:
            ctx = Context(
                now=datetime.fromisoformat(case["now"].replace("Z", "+00:00")),
                tz=ZoneInfo(case["tz"]),
                vocabulary=VOCAB,
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
    print(
        f"{name}: n={len(ms)} median {statistics.median(ms):.2f} ms, p90 {ms[int(len(ms) * 0.9) - 1]:.2f} ms, "
        f"max {ms[-1]:.2f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", action="store_true", help="also time `heliqa ask --json` per dev question")
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    cases = [json.loads(line) for line in (SHARED / "eval" / "dev.jsonl").read_text().splitlines() if line.strip()]
    report("rules planner per question", planner_times(cases, args.rounds))
    if args.cli:
        report("heliqa ask --json per question (new process, sample store)", cli_times(cases))


if __name__ == "__main__":
    main()
