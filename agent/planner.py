"""The planner interface: question + context -> a QuerySpec, a clarifying question, or a refusal.

Only the shared types live here, so every planner imports them and nothing here imports a planner;
`agent/factory.py` chooses and builds the planner a surface uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from heliqa.agent.form_specs import FormSpec
from heliqa.agent.spec import QuerySpec
from heliqa.tools.query import MetricsQuery
from heliqa.tools.results import Vocabulary
from heliqa.tools.settings import settings

Status = Literal["ok", "clarify", "unsupported", "unparsed"]

EXAMPLES = (
    "p90 latency for gpt-4 last week by day",
    "error rate by model over the last 24 hours",
    "top 5 users by cost this month",
    "average score by day over the last 14 days",
    "how many 429s from anthropic yesterday by hour",
)


@dataclass
class Context:
    """What a planner may know besides the question."""

    now: datetime
    tz: ZoneInfo
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    previous: QuerySpec | FormSpec | None = None  # the last question's spec


@dataclass
class Plan:
    """A planner's decision. `unparsed` means the planner did not understand the whole question."""

    status: Status
    spec: QuerySpec | FormSpec | None = None  # a QuerySpec, or a CompareSpec / ListSpec / ExplainSpec
    message: str = ""
    planner: str = ""
    query: MetricsQuery | None = None  # set when the planner already checked `spec` (see agent/check.py)
    notes: list[str] = field(default_factory=list)  # how the question was read: "ignored: rn", "read 'latancy' as ..."
    edit: bool = False  # the words only refilter, regroup or rebucket the previous question ("gpt-4o only")


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
    s = settings()
    return bool(s.openai_api_key or s.openai_base_url)
