"""How well explanations find the demo's planted incidents: each asked after it ends and while it is under way.

python benchmarks/incidents.py     # generates `heliqa demo`'s dataset into a temporary store (no files needed)

For every incident the generator plants (`heliqa.tools.demo.Incidents`), two questions (the one an on-call engineer
would ask, and "what happened?") are asked at two moments: two hours after the incident ended, and 60% of the way
through it. The window an answer reports is set against the planted span (up to `now` while under way): the share
of the span it covers (want ≥ 80%) and its length over the span's (want ≤ 1.5).
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 24, 12, tzinfo=UTC)  # the `now` the demo data ends at
ROWS, SEED, DAYS = 50_000, 7, 30  # `heliqa demo`'s defaults
# incident (an attribute of Incidents) -> the question an on-call engineer asks about it
QUESTIONS = {
    "slow_gpt4": "why was gpt-4 slow?",
    "storm": "why are we getting so many 429s?",
    "spend": "why did we spend so much?",
    "prompt": "why did support-bot accuracy drop?",
}
MIN_COVERED, MAX_LENGTH = 0.8, 1.5


@dataclass(frozen=True)
class Result:
    """One question about one incident at one moment, and how its window fits the planted span."""

    incident: str
    moment: str  # "after" or "under way"
    question: str
    planted: tuple[datetime, datetime]
    window: tuple[datetime, datetime] | None

    @property
    def covered(self) -> float:
        """The share of the planted span the window covers."""
        if self.window is None:
            return 0.0
        overlap = min(self.window[1], self.planted[1]) - max(self.window[0], self.planted[0])
        return max(overlap / (self.planted[1] - self.planted[0]), 0.0)

    @property
    def length(self) -> float:
        """The window's length over the planted span's."""
        if self.window is None:
            return 0.0
        return (self.window[1] - self.window[0]) / (self.planted[1] - self.planted[0])

    @property
    def ok(self) -> bool:
        """Covers at least MIN_COVERED of the span and is at most MAX_LENGTH times as long."""
        return self.covered >= MIN_COVERED and self.length <= MAX_LENGTH


def fill(path: Path) -> str:
    """The demo dataset in a store at `path`; returns its organization."""
    from heliqa.tools.demo import DEMO_ORG, generate
    from heliqa.tools.store import Store

    store = Store(path)
    store.add_rows(list(generate(ROWS, SEED, END, DEMO_ORG, DAYS)))
    store.close()
    return DEMO_ORG


def measure(path: Path, org: str) -> list[Result]:
    """Ask every question at both moments on the store at `path`."""
    from heliqa.agent.conversation import Conversation
    from heliqa.agent.factory import make_planner
    from heliqa.tools.demo import Incidents
    from heliqa.tools.filters import parse_instant
    from heliqa.tools.store import Store

    store = Store(path, read_only=True)
    planted = Incidents(END)
    results = []
    try:
        for name, question in QUESTIONS.items():
            start, end = getattr(planted, name)
            moments = {"after": end + timedelta(hours=2), "under way": start + (end - start) * 0.6}
            for moment, now in moments.items():
                span = (start, min(end, now))
                for asked in (question, "what happened?"):
                    chat = Conversation(store, make_planner("rules"), org, ZoneInfo("UTC"), now)
                    answer = chat.ask(asked)
                    found = answer.to_json().get("window")
                    window = (parse_instant(found["start"]), parse_instant(found["end"])) if found else None
                    results.append(Result(name, moment, asked, span, window))
    finally:
        store.close()
    return results


def report(results: list[Result]) -> str:
    """One line per result, then how many fit."""
    lines = [f"{'incident':<10} {'moment':<9} {'question':<36} {'window (UTC)':<24} covered  length"]
    for r in results:
        window = f"{r.window[0]:%b %d %H:%M}–{r.window[1]:%H:%M}" if r.window else "none"
        mark = "" if r.ok else "  ✗"
        lines.append(
            f"{r.incident:<10} {r.moment:<9} {r.question:<36} {window:<24} {r.covered:>6.0%}  {r.length:>5.2f}×{mark}"
        )
    lines.append(f"{sum(r.ok for r in results)} of {len(results)} windows cover ≥ 80% of the planted span at ≤ 1.5×")
    return "\n".join(lines)


def main() -> int:
    """Generate, measure and print; exit 1 when a window misses."""
    with tempfile.TemporaryDirectory() as home:
        path = Path(home) / "heliqa.duckdb"
        results = measure(path, fill(path))
    print(report(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
