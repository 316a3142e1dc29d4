"""One planner interface: question + context -> a QuerySpec, a clarifying question, or a refusal."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from heliqa.agent.spec import QuerySpec
from heliqa.tools.results import Vocabulary

Status = Literal["ok", "clarify", "unsupported", "unparsed"]

EXAMPLES = (
    "p90 latency for gpt-4 last week by day",
    "error rate by model over the last 24 hours",
    "top 5 users by cost this month",
    "scores for the support-bot feature over the last 14 days by day",
    "how many 429s from anthropic yesterday by hour",
)


@dataclass
class Context:
    """What a planner may know besides the question."""

    now: datetime
    tz: ZoneInfo
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    previous: QuerySpec | Any = None  # the last question's spec: a QuerySpec or one of agent.forms' specs


@dataclass
class Plan:
    """A planner's decision. `unparsed` means the planner did not understand the whole question."""

    status: Status
    spec: QuerySpec | Any = None  # a QuerySpec, or a CompareSpec / ListSpec / ExplainSpec (agent.forms)
    message: str = ""
    planner: str = ""


class Planner(Protocol):
    """Turns a question into a Plan."""

    name: str

    def plan(self, question: str, ctx: Context) -> Plan: ...


def decline(reason: str = "") -> Plan:
    """A helpful 'I did not understand' with example questions."""
    lead = reason or "I couldn't map that to a question about your LLM traffic."
    examples = "\n".join(f"  • {e}" for e in EXAMPLES)
    return Plan("clarify", message=f"{lead}\nTry questions like:\n{examples}", planner="rules")


def llm_configured() -> bool:
    """True when an OpenAI-compatible endpoint is configured for the LLM planner."""
    return bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))


class AutoPlanner:
    """Rules when they fully understand; else the LLM planner when configured; else a helpful decline."""

    name = "auto"

    def __init__(self, rules: Planner, llm: Planner | None = None):
        self.rules = rules
        self.llm = llm

    def plan(self, question: str, ctx: Context) -> Plan:
        result = self.rules.plan(question, ctx)
        if result.status != "unparsed":
            return result
        if self.llm is not None:
            return self.llm.plan(question, ctx)
        return decline(result.message)


def warm_up(planner: Planner) -> None:
    """Load the LLM planner's client now when it may be used (long-running surfaces call this in a thread)."""
    llm = planner if planner.name == "llm" else getattr(planner, "llm", None)
    if llm is not None and hasattr(llm, "warm_up"):
        llm.warm_up()


def make_planner(kind: str = "auto") -> Planner:
    """`rules`, `llm` or `auto` (rules first, then the LLM when an endpoint is configured)."""
    from heliqa.agent.forms import FormsPlanner
    from heliqa.agent.rules import RulesPlanner

    rules = FormsPlanner(RulesPlanner())
    if kind == "rules":
        return _RulesOnly(rules)
    if kind == "llm":
        from heliqa.agent.llm import LLMPlanner

        return LLMPlanner.from_env()
    llm = None
    if llm_configured():
        from heliqa.agent.llm import LLMPlanner

        llm = LLMPlanner.from_env()
    return AutoPlanner(rules, llm)


class _RulesOnly:
    """The rules planner with 'unparsed' turned into a helpful decline."""

    name = "rules"

    def __init__(self, rules: Planner):
        self.rules = rules

    def plan(self, question: str, ctx: Context) -> Plan:
        result = self.rules.plan(question, ctx)
        return decline(result.message) if result.status == "unparsed" else result
