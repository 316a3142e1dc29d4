"""The agent: question -> plan -> validated query -> backend -> rows -> summary, with follow-up memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from heliqa.agent.answer import (
    STALE_AFTER,
    Answer,
    arrange,
    data_through,
    explain_empty,
    fresh_rows,
    interpret,
    pivot_cells,
    stale_after,
    summarize,
    unattributed_text,
)
from heliqa.agent.check import check
from heliqa.agent.followup import planned
from heliqa.agent.forms import FormSpec
from heliqa.agent.investigate import run_form
from heliqa.agent.planner import Context, Plan, Planner
from heliqa.agent.safety import refusal
from heliqa.agent.spec import Condition, QuerySpec
from heliqa.tools.backends import Backend
from heliqa.tools.errors import Clarify, HeliqaError
from heliqa.tools.query import MetricsQuery
from heliqa.tools.results import Row, iso_z
from heliqa.tools.settings import redact
from heliqa.tools.sql import seconds_utc

# (question, ok answer) -> prose for answer.message; it keeps the computed summary unless its numbers are the rows'
Narrator = Callable[[str, Answer], str]


def _drops_empty(query: MetricsQuery) -> bool:
    """An answer per group (not per bucket) whose grouping leaves out requests without a value: no user id or
    no such property. Counting users among requests with no user id says nothing, so that one is skipped."""
    if query.dbIncrement is not None or query.group is None:
        return False
    return query.group.startswith("property:") or (query.group == "user" and query.measure != "users")


class Conversation:
    """One thread of questions against one backend and organization; remembers the last query.

    `narrator` (see agent/factory.narrator_for) rewords answers the LLM planned; None keeps the computed summary.
    """

    def __init__(
        self,
        backend: Backend,
        planner: Planner,
        org: str | None,
        tz: ZoneInfo,
        now: datetime | None = None,
        narrator: Narrator | None = None,
    ):
        self.backend = backend
        self.planner = planner
        self.narrator = narrator
        self.org_hint = org
        self.tz = tz
        self.fixed_now = now
        self.last: QuerySpec | FormSpec | None = None
        self._org: str | None = None
        self._span: tuple[datetime, datetime, int] | tuple[()] | None = None  # first and last request, count

    @property
    def org(self) -> str:
        if self._org is None:
            self._org = self.backend.resolve_org(self.org_hint)
        return self._org

    def reset(self) -> None:
        """Forget the previous query."""
        self.last = None

    def now(self) -> datetime:
        return self.fixed_now or datetime.now(UTC)

    def ask(self, question: str) -> Answer:
        """Answer one question (or follow-up); errors become an Answer with status 'error'."""
        tz_name = getattr(self.tz, "key", str(self.tz))
        question = question.strip()
        if not question:
            return Answer(
                "clarify", "Ask a question about your LLM traffic, e.g. 'p90 latency for gpt-4 last week by day'."
            )
        why = refusal(question)
        if why:
            return Answer("unsupported", why, tz=tz_name)
        try:
            ctx = Context(now=self.now(), tz=self.tz, vocabulary=self.backend.vocabulary(self.org), previous=self.last)
            plan = planned(question, ctx, self.planner)
            if plan.status != "ok":
                status = "clarify" if plan.status == "unparsed" else plan.status
                return Answer(status, plan.message, planner=plan.planner, tz=tz_name)
            answer = self.run(plan, ctx, tz_name)
            self._freshness(answer)
            if self.narrator is not None and plan.planner == "llm":
                answer.message = self.narrator(question, answer)
            return answer
        except Clarify as ask_back:
            return Answer("clarify", ask_back.message, tz=tz_name)
        except HeliqaError as error:
            return Answer("error", redact(str(error)), tz=tz_name, exit_code=error.exit_code)

    def _freshness_bounds(self) -> tuple[datetime | None, timedelta]:
        """The organization's newest request (naive UTC; None when the backend cannot tell) and how long after it
        the data reads as ended; read once per question."""
        if self._span is None:
            span_of = getattr(self.backend, "data_span", None)
            self._span = (span_of(self.org) if span_of else None) or ()
        if not self._span:
            return None, STALE_AFTER
        return self._span[1], stale_after(self._span)

    def _freshness(self, answer: Answer) -> None:
        """Say where the data ends when the answer's range runs past the newest request; `data_through` in JSON."""
        last, after = self._freshness_bounds()
        self._span = None  # the next question reads it again: a live store grows
        if answer.status != "ok" or last is None or answer.query is None:
            return
        answer.extra["data_through"] = iso_z(last)
        query = getattr(answer.query, "current", answer.query)
        tzd = getattr(query, "timeZoneDifference", 0)
        note = data_through(seconds_utc(query.timeFilter.end), last, tzd, answer.tz, after)
        if note and note not in answer.message:
            answer.message = f"{answer.message} {note}"

    def _without_value(self, spec: QuerySpec, ctx: Context, query: MetricsQuery, rows: list[Row]) -> str:
        """How much the requests without a value for the grouping (no user id, no such property) hold: grouping
        leaves them out of the table, so the answer says it beside it."""
        nobody = Condition(field=query.group, op="equals", value="")
        update = {"groupBy": None, "top": None, "bottom": False, "conditions": [*spec.conditions, nobody]}
        probe = spec.model_copy(update=update)
        try:
            found = self.backend.run(probe.to_query(ctx.now, self.tz), self.org)
        except HeliqaError:  # the answer stands without the note when the probe fails
            return ""
        return unattributed_text(query, rows, found[0].value if found else None)

    def _counts(self, spec: QuerySpec, ctx: Context, query: MetricsQuery, rows: list[Row]) -> dict | None:
        """Each group's requests, for an answer per group of a rate, average or percentile (a group's 50% error rate
        over 2 requests says so); None for any other answer or when the count cannot be read."""
        ratio = query.measure == "error_rate" or query.agg not in ("sum", "count", None)
        # (a score's requests are the scored ones, which no filter can count)
        if query.dbIncrement is not None or query.group is None or not ratio or not rows or query.measure == "score":
            return None
        update = {"measure": "requests", "aggregation": None, "scoreKey": None, "top": None, "bottom": False}
        probe = spec.model_copy(update=update)
        if query.measure == "ttft":  # the requests carrying one (a request that did not stream has none)
            carried = Condition(field="ttft", op="gte", value=0)
            probe = probe.model_copy(update={"conditions": [*spec.conditions, carried]})
        try:
            counted = self.backend.run(probe.to_query(ctx.now, self.tz), self.org)
        except (HeliqaError, ValueError):  # the answer stands without the counts
            return None
        return {r.group: int(r.value or 0) for r in counted}

    def run(self, plan: Plan, ctx: Context, tz_name: str) -> Answer:
        """Check (unless the planner did) and run a plan's spec; remember it for follow-ups."""
        if not isinstance(plan.spec, QuerySpec):
            answer, self.last = run_form(
                self.backend, self.org, plan.spec, ctx.now, self.tz, ctx.vocabulary, plan.planner
            )
            return answer
        spec, query = (plan.spec, plan.query) if plan.query is not None else check(plan.spec, ctx)
        rows = arrange(self.backend.run(query, self.org), query, spec)
        rows = fresh_rows(rows, seconds_utc(query.timeFilter.end), *self._freshness_bounds())
        self.last = spec
        tz_name = spec.timeZone or tz_name
        message = summarize(query, rows, self._counts(spec, ctx, query, rows))
        notes = list(plan.notes)
        if _drops_empty(query):
            notes += [n for n in [self._without_value(spec, ctx, query, rows)] if n]
        if not any(r.value for r in rows):  # never a silent empty (or zero): say why
            try:
                why = explain_empty(
                    spec, lambda probe: self.backend.run(probe.to_query(ctx.now, self.tz), self.org), query, ctx.now
                )
            except HeliqaError:  # the answer stands without its explanation when a probe fails
                why = ""
            if why:
                message = f"{message} {why}" if any(r.value is not None for r in rows) else why
        return Answer(
            "ok",
            message,
            query=query,
            spec=spec,
            rows=rows,
            interpretation=interpret(query, spec, tz_name, notes),
            planner=plan.planner,
            tz=tz_name,
            cells=pivot_cells(query, rows),
        )
