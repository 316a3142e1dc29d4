"""The agent: question -> plan -> validated query -> backend -> rows -> summary, with follow-up memory."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from heliqa.agent.answer import Answer, interpret, summarize
from heliqa.agent.forms import FormSpec
from heliqa.agent.grounding import ground
from heliqa.agent.investigate import run_form
from heliqa.agent.planner import Context, Plan, Planner
from heliqa.agent.safety import refusal
from heliqa.agent.spec import QuerySpec
from heliqa.tools.backends import Backend
from heliqa.tools.errors import Clarify, HeliqaError


class Conversation:
    """One thread of questions against one backend and organization; remembers the last query."""

    def __init__(self, backend: Backend, planner: Planner, org: str | None, tz: ZoneInfo, now: datetime | None = None):
        self.backend = backend
        self.planner = planner
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
            narrator = self._narrator(plan)
            if narrator is not None:
                answer.message = narrator(question, answer)  # kept only when its numbers come from the rows
            return answer
        except Clarify as ask_back:
            return Answer("clarify", ask_back.message, tz=tz_name)
        except HeliqaError as error:
            return Answer("error", str(error), tz=tz_name, exit_code=error.exit_code)

    def _narrator(self, plan: Plan):
        """The LLM planner's narrate() when the LLM planned this answer and HELIQA_LLM_SUMMARY asks for prose."""
        wanted = os.environ.get("HELIQA_LLM_SUMMARY", "").lower() in ("1", "true", "yes")
        if plan.planner != "llm" or not wanted:
            return None
        llm = self.planner if self.planner.name == "llm" else getattr(self.planner, "llm", None)
        return getattr(llm, "narrate", None)

    def run(self, plan: Plan, ctx: Context, tz_name: str) -> Answer:
        """Ground, validate and run a plan's spec; remember it for follow-ups."""
        if not isinstance(plan.spec, QuerySpec):
            answer, self.last = run_form(
                self.backend, self.org, plan.spec, ctx.now, self.tz, ctx.vocabulary, plan.planner
            )
            return answer
        spec = ground(plan.spec, ctx.vocabulary)
        query = spec.to_query(ctx.now, self.tz)
        rows = self.backend.run(query, self.org)
        self.last = spec
        tz_name = spec.timeZone or tz_name
        return Answer(
            "ok",
            summarize(query, rows),
            query=query,
            spec=spec,
            rows=rows,
            interpretation=interpret(query, spec, tz_name),
            planner=plan.planner,
            tz=tz_name,
        )
