"""Asks questions back to back in one process, as a Slack app or REPL would, until told to stop (tests only).

    python tests/live_asker.py STORE ORG AT_LEAST STOP_FILE

Keeps asking until STOP_FILE exists and at least AT_LEAST questions were answered; prints one JSON line:
how many were asked, how many answered per status, and the slowest and median answer times in seconds.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.timerange import zone
from heliqa.tools.store import Store

QUESTIONS = [
    "how many requests in the last 30 days",
    "p90 latency by model last week",
    "top 5 users by cost in the last 30 days",
    "error rate by day last week",
]
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def main() -> None:
    store_path, org, at_least, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    store = Store(store_path, read_only=True)  # one Store for the whole run, like `heliqa slack`
    planner = make_planner("rules")
    times: list[float] = []
    statuses: dict[str, int] = {}
    while len(times) < at_least or not stop.exists():
        question = QUESTIONS[len(times) % len(QUESTIONS)]
        started = time.perf_counter()
        try:
            answer = Conversation(store, planner, org, zone("UTC"), NOW).ask(question)
            status = answer.status if answer.status == "ok" else f"{answer.status}: {answer.message}"
        except Exception as error:  # reported, not raised: the test asserts every question answered
            status = f"exception: {error!r}"
        times.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
    ordered = sorted(times)
    print(
        json.dumps(
            {"asked": len(times), "statuses": statuses, "slowest": ordered[-1], "median": ordered[len(ordered) // 2]}
        )
    )


if __name__ == "__main__":
    main()
