"""Follow-ups that keep their scope: 'why?', 'show me those requests', 'just <name>', 'by hour' after any answer.

The planners edit the previous question's aggregate; what they cannot see is the form around it (a comparison, an
explanation, a request list). This module carries the previous range, filters, measure and form over:

- `why?` / `why the spike?` explains the previous answer's measure over its range and filters;
- `show me those requests` lists the previous answer's requests, worst first by its measure;
- a short edit (`just anthropic`, `by hour`, `what about gpt-4o`) keeps a comparison a comparison, an
  explanation an explanation and a list a list (a new bucket turns an explanation or a list into its series);
- any of them with nothing before asks back instead of answering something else.
"""

from __future__ import annotations

import re

from heliqa.agent.forms import CompareSpec, ExplainSpec, FormSpec, ListSpec, base_query
from heliqa.agent.planner import Plan
from heliqa.agent.spec import Condition, QuerySpec

_CHANGE = r"spike|drop|jump|dip|change|increase|decrease|rise|surge|peak|fall|bump"
WHY_AGAIN = re.compile(
    rf"^\s*(?:(?:but|and|so|ok|okay|hmm+)[,\s]+)?(?:why|how\s+come|what\s+caused\s+(?:it|that|this))"
    rf"(?:\s+(?:is\s+that|was\s+that|did\s+(?:that|it|this)\s+happen|(?:the|that|this)\s+(?:{_CHANGE})s?))?"
    r"\s*[?.!]*\s*$",
    re.I,
)
THOSE_AGAIN = re.compile(
    r"^\s*(?:(?:ok|okay|and|so|now|please)\s+)*(?:show|list|give|get)(?:\s+me)?\s+(?:those|these|them|the\s+bad)"
    r"(?:\s+(?:requests?|calls?|ones?))?\s*[?.!]*\s*$",
    re.I,
)
# a short edit of the last question: it names a filter, a bucket or a grouping, not a new question
EDIT = re.compile(
    r"^\s*(?:just|only|what\s+about|how\s+about|and|now|instead|same|but|then|for|by|per|hourly|daily|weekly)\b",
    re.I,
)
_EXPLAINED = {"latency": "latency", "ttft": "latency", "errors": "errors", "error_rate": "errors", "cost": "cost"}
_ORDER = {"latency": "latency", "ttft": "latency", "cost": "cost", "total_tokens": "tokens"}
_FAILED = Condition(field="status", op="gte", value=400)


def before_planning(question: str, previous: QuerySpec | FormSpec | None) -> Plan | None:
    """A plan for `why?` and `show me those requests` from the previous answer (or a question back); None for
    every other question."""
    why, those = WHY_AGAIN.match(question), THOSE_AGAIN.match(question)
    if not (why or those):
        return None
    if previous is None:
        return Plan(
            "clarify",
            message=f"Which {'change' if why else 'requests'}? There is no earlier answer here to follow up on: ask "
            f"about something first (e.g. 'p90 latency for gpt-4 last week by day'), then '{question.strip()}'.",
            planner="rules",
        )
    if why:
        return Plan("ok", spec=explain_of(previous), planner="rules")
    if isinstance(previous, ExplainSpec) and previous.found is not None:
        return Plan("ok", spec=previous.found, planner="rules")
    return Plan("ok", spec=list_of(previous), planner="rules")


def explain_of(previous: QuerySpec | FormSpec) -> ExplainSpec:
    """The explanation of the previous answer: its measure (none: whatever moved), range, filters and zone."""
    if isinstance(previous, ExplainSpec):
        return previous.model_copy(update={"found": None})
    if isinstance(previous, ListSpec):
        failed = any(c.field == "status" for c in previous.conditions)
        measure = "errors" if failed else {"latency": "latency", "cost": "cost"}.get(previous.order)
        return _explain(measure, None, previous.conditions, previous.range, previous.timeZone)
    query = base_query(previous)
    statuses = [c for c in query.conditions if c.field == "status" and c.op == "equals"]
    if query.measure in ("requests", "errors") and statuses:  # "429s by hour" -> why the 429s
        others = [c for c in query.conditions if c not in statuses]
        spec = _explain("errors", None, others, query.range, query.timeZone)
        return spec.model_copy(update={"status": int(statuses[0].value)})
    if query.measure == "score" and query.scoreKey:
        return _explain("score", query.scoreKey, query.conditions, query.range, query.timeZone)
    return _explain(_EXPLAINED.get(query.measure), None, query.conditions, query.range, query.timeZone)


def _explain(measure, score_key, conditions, range_, zone) -> ExplainSpec:
    kept = [c for c in conditions if not (measure == "errors" and c.field == "status")]
    return ExplainSpec(measure=measure, scoreKey=score_key, conditions=kept, range=range_, timeZone=zone)


def list_of(previous: QuerySpec | FormSpec) -> ListSpec:
    """The previous answer's requests: its filters and range, worst first by its measure (failed ones for errors)."""
    if isinstance(previous, ListSpec):
        return previous
    query = base_query(previous)
    conditions = list(query.conditions)
    if query.measure in ("errors", "error_rate") and not any(c.field == "status" for c in conditions):
        conditions.append(_FAILED)
    order = _ORDER.get(query.measure, "newest")
    return ListSpec(conditions=conditions, range=query.range, order=order, timeZone=query.timeZone)


def after_planning(question: str, previous: QuerySpec | FormSpec | None, plan: Plan) -> Plan:
    """A short edit planned as an aggregate, put back in the previous answer's form."""
    if plan.status == "ok" and isinstance(previous, ExplainSpec) and previous.measure == "latency":
        plan = _as_p90(plan)
    spec = plan.spec
    if plan.status != "ok" or not isinstance(spec, QuerySpec) or not EDIT.match(question):
        return plan
    if isinstance(previous, CompareSpec):
        return _replanned(plan, previous.model_copy(update={"query": spec}))
    base = base_query(previous)
    if base is None or spec.bucket != base.bucket or spec.groupBy != base.groupBy:
        return plan  # "by hour" after an explanation or a list: the series itself
    if isinstance(previous, ExplainSpec):
        edited = explain_of(previous).model_copy(update={"range": spec.range, "timeZone": spec.timeZone})
        added = [c for c in spec.conditions if c not in base.conditions]
        dropped = [c for c in base.conditions if c not in spec.conditions]
        conditions = [c for c in edited.conditions if c not in dropped] + added
        return _replanned(plan, edited.model_copy(update={"conditions": conditions}))
    if isinstance(previous, ListSpec):
        kept = [c for c in previous.conditions if c in spec.conditions or c not in base.conditions]
        conditions = kept + [c for c in spec.conditions if c not in kept]
        return _replanned(plan, previous.model_copy(update={"conditions": conditions, "range": spec.range}))
    return plan


def _as_p90(plan: Plan) -> Plan:
    """After a latency explanation, 'latency' in an edit or a comparison of it is the p90 it explained."""
    spec = plan.spec
    query = spec.query if isinstance(spec, CompareSpec) else spec
    if not isinstance(query, QuerySpec) or query.measure != "latency" or query.aggregation is not None:
        return plan
    p90 = query.model_copy(update={"aggregation": "p90"})
    return _replanned(plan, spec.model_copy(update={"query": p90}) if isinstance(spec, CompareSpec) else p90)


def _replanned(plan: Plan, spec: FormSpec) -> Plan:
    return Plan("ok", spec=spec, planner=plan.planner, notes=plan.notes)
