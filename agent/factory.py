"""Choosing and building the planner (and the optional LLM narrator) a surface uses.

The planners import only the interface in `agent/planner.py`; this module imports the planners, so the
imports flow one way: surfaces -> factory -> planners -> interface.
"""

from __future__ import annotations

from heliqa.agent.conversation import Narrator
from heliqa.agent.planner import Context, Plan, Planner, decline, llm_configured
from heliqa.tools.extras import installed, require
from heliqa.tools.settings import settings


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


class _RulesOnly:
    """The rules planner with 'unparsed' turned into a helpful decline."""

    name = "rules"

    def __init__(self, rules: Planner):
        self.rules = rules

    def plan(self, question: str, ctx: Context) -> Plan:
        result = self.rules.plan(question, ctx)
        return decline(result.message) if result.status == "unparsed" else result


def make_planner(kind: str = "auto") -> Planner:
    """`rules`, `llm` or `auto` (rules first, then the LLM when an endpoint is configured and [llm] installed)."""
    from heliqa.agent.forms import FormsPlanner
    from heliqa.agent.rules import RulesPlanner

    rules = FormsPlanner(RulesPlanner())
    if kind == "rules":
        return _RulesOnly(rules)
    if kind == "llm":
        require("llm", "the LLM planner")
        from heliqa.agent.llm import LLMPlanner

        return LLMPlanner.from_env()
    llm = None
    if llm_configured() and installed("llm"):
        from heliqa.agent.llm import LLMPlanner

        llm = LLMPlanner.from_env()
    return AutoPlanner(rules, llm)


def _llm_of(planner: Planner) -> Planner | None:
    return planner if planner.name == "llm" else getattr(planner, "llm", None)


def warm_up(planner: Planner) -> None:
    """Load the LLM planner's client now when it may be used (long-running surfaces call this in a thread)."""
    llm = _llm_of(planner)
    if llm is not None and hasattr(llm, "warm_up"):
        llm.warm_up()


def narrator_for(planner: Planner) -> Narrator | None:
    """The LLM planner's narrate() when HELIQA_LLM_SUMMARY asks for prose and the planner has an LLM."""
    if not settings().heliqa_llm_summary:
        return None
    return getattr(_llm_of(planner), "narrate", None)
