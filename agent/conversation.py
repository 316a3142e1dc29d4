"""The agent: question -> plan -> validated query -> backend -> rows -> summary, with follow-up memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from heliqa.agent.answer import Answer, arrange, explain_empty, interpret, summarize
from heliqa.agent.check import check
from heliqa.agent.forms import FormSpec
from heliqa.agent.investigate import run_form
from heliqa.agent.planner import Context, Plan, Planner
from heliqa.agent.safety import refusal
from heliqa.agent.spec import QuerySpec
from heliqa.tools.backends import Backend
from heliqa.tools.errors import Clarify, HeliqaError
from heliqa.tools.settings import redact

# (question, ok answer) -> prose for answer.message; it keeps the computed summary unless its numbers are the rows'
Narrator = Callable[[str, Answer], str]


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
            plan = self.planner.plan(question, ctx)
            if plan.status != "ok":
                status = "clarify" if plan.status == "unparsed" else plan.status
                return Answer(status, plan.message, planner=plan.planner, tz=tz_name)
            answer = self.run(plan, ctx, tz_name)
            if self.narrator is not None and plan.planner == "llm":
                answer.message = self.narrator(question, answer)
            return answer
        except Clarify as ask_back:
            return Answer("clarify", ask_back.message, tz=tz_name)
        except HeliqaError as error:
            return Answer("error", redact(str(error)), tz=tz_name, exit_code=error.exit_code)

    def run(self, plan: Plan, ctx: Context, tz_name: str) -> Answer:
        """Check (unless the planner did) and run a plan's spec; remember it for follow-ups."""
        if not isinstance(plan.spec, QuerySpec):
            answer, self.last = run_form(
                self.backend, self.org, plan.spec, ctx.now, self.tz, ctx.vocabulary, plan.planner
            )
            return answer
        spec, query = (plan.spec, plan.query) if plan.query is not None else check(plan.spec, ctx)
        rows = arrange(self.backend.run(query, self.org), query, spec)
        self.last = spec
        tz_name = spec.timeZone or tz_name
        message = summarize(query, rows)
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
            interpretation=interpret(query, spec, tz_name, plan.notes),
            planner=plan.planner,
            tz=tz_name,
        )
