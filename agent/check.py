"""The one check a planned spec passes before it runs: names grounded, range resolved, query validated."""

from __future__ import annotations

from heliqa.agent.grounding import ground
from heliqa.agent.planner import Context
from heliqa.agent.spec import QuerySpec
from heliqa.tools.query import MetricsQuery


def check(spec: QuerySpec, ctx: Context) -> tuple[QuerySpec, MetricsQuery]:
    """The grounded spec and the validated query it runs as; raises Clarify or another HeliqaError."""
    spec = ground(spec, ctx.vocabulary)
    return spec, spec.to_query(ctx.now, ctx.tz)
