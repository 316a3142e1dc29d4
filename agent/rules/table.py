"""The rule table: every rule is a function registered with `@rule(priority, name, examples)` in its family's
module; the planner runs them in priority order (lower first) over one `Scanner`, and each records into `Parse`.

A rule's `examples` map a question to the spec fragment it must produce (a None value: that field is unset),
or to CLARIFY / UNPARSED when it is asked back; they are read at 2026-11-24 12:00 UTC (a Tuesday) with the tests'
vocabulary, and tests/rules/test_table.py checks that each one fires its rule and produces the fragment.
`python -m heliqa.agent.rules` prints the table. A new family module is imported in `__init__.py` to register.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from heliqa.agent.rules.scanner import Scanner
from heliqa.agent.spec import Condition
from heliqa.agent.timerange import TimeRange, tz_difference, zone
from heliqa.tools.results import Vocabulary


@dataclass
class Parse:
    """What the rules understood so far."""

    measure: str | None = None
    aggregation: str | None = None
    score_key: str | None = None
    group: str | None = None
    top: int | None = None
    bucket: str | None = None
    over_time: bool = False
    range: TimeRange | None = None
    zone: str | None = None
    clock: tuple[str, str] | None = None  # "after 5pm": ("after"/"before", the clock time), a bound inside one day
    conditions: list[Condition] = field(default_factory=list)
    per_request: bool = False
    implied: str | None = None  # the measure a superlative word implied ("slowest": latency), not one named
    superlative: str | None = None  # the superlative word ("highest", "cheapest", "most"...)
    rank: str | None = None  # "top" or "bottom": which end a superlative or top/bottom N keeps
    extreme: str | None = None  # "max"/"min": a superlative with nothing to rank reads as that aggregation
    who: bool = False  # "who ...": the users are ranked
    plural: bool = False  # "which users ...": a superlative ranks several groups
    combined: bool = False  # "A and B combined": one number, not one group each
    lifted: list[str] = field(default_factory=list)  # "across all models": a follow-up drops the filters on these
    alternatives: dict[str, list[int]] = field(default_factory=dict)  # dimension -> where each value was named
    quotes: list[str] = field(default_factory=list)  # quoted text, byte for byte, hidden from the rules
    fired: list[str] = field(default_factory=list)  # the rule behind every match, in order
    unresolved: list[str] = field(default_factory=list)  # words understood but not usable here ("slowest" what?)


@dataclass(frozen=True)
class Env:
    """What rules may know besides the text: the organization's names and the asker's local clock."""

    vocab: Vocabulary
    today: date
    now: datetime

    def local(self, p: Parse) -> tuple[date, datetime]:
        """Today and now where the question is asked: in the zone it names, else the asker's."""
        if not p.zone:
            return self.today, self.now
        now = self.now.astimezone(timezone(timedelta(minutes=-tz_difference(self.now, zone(p.zone)))))
        return now.date(), now


# the fragment of a rule's example that is asked back rather than answered
CLARIFY: Mapping[str, Any] = {"status": "clarify"}
UNPARSED: Mapping[str, Any] = {"status": "unparsed"}
RuleFunction = Callable[[Scanner, Parse, Env], None]


@dataclass(frozen=True)
class Rule:
    """One scanning rule: its priority (lower runs first), its name, what it runs, and example questions mapped
    to the spec fragment each must produce."""

    priority: int
    name: str
    run: RuleFunction
    examples: Mapping[str, Mapping[str, Any]]
    module: str = ""


_REGISTERED: list[Rule] = []


def rule(priority: int, name: str, examples: Mapping[str, Mapping[str, Any]]) -> Callable[[RuleFunction], RuleFunction]:
    """Register the decorated function as a rule of the table."""

    def register(run: RuleFunction) -> RuleFunction:
        _REGISTERED.append(Rule(priority, name, run, examples, run.__module__.rsplit(".", 1)[-1]))
        return run

    return register


def ordered() -> tuple[Rule, ...]:
    """Every registered rule, in the order they run."""
    return tuple(sorted(_REGISTERED, key=lambda r: r.priority))
