"""The offline rules planner (work in progress)."""

from __future__ import annotations

from agent.planner import Context, Plan


class RulesPlanner:
    """Parses the question vocabulary of questions.md into a QuerySpec."""

    name = "rules"

    def plan(self, question: str, ctx: Context) -> Plan:
        return Plan("unparsed", message="", planner=self.name)
