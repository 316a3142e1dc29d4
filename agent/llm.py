"""The LLM planner: ChatOpenAI with strict tools whose input is the symbolic QuerySpec, and `heliqa eval`.

The model only fills a symbolic query (time stays a `TimeRange`); code validates it through `QuerySpec`,
grounds its names and resolves its range. A problem goes back to the model as the tool's error for at most
`MAX_REPAIRS` repairs, then the user gets a clarifying question. langchain is imported only when the
planner actually calls the model, so the rules path never pays its ~3 s import.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from heliqa.agent.forms import CompareSpec, ExplainSpec, ListSpec
from heliqa.agent.grounding import ground
from heliqa.agent.planner import Context, Plan, llm_configured
from heliqa.agent.safety import REFUSAL
from heliqa.agent.spec import CONDITION_FIELDS, Op, QuerySpec
from heliqa.agent.timerange import TimeRange, Unit
from heliqa.tools.errors import BackendError, Clarify, ConfigError, HeliqaError, InvalidRequest
from heliqa.tools.query import MEASURES, Increment, Measure
from heliqa.tools.results import Vocabulary
from heliqa.tools.validation import problems_of

if TYPE_CHECKING:
    from heliqa.agent.answer import Answer

PROMPT = "planner_v1"
SUMMARY_PROMPT = "summary_v1"
MAX_REPAIRS = 2
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_TOKENS = 800
_MAX_VALUES_PER_PROPERTY = 40

_STRICT = ConfigDict(extra="forbid")


# --- strict tool models: every property required (nullable instead of optional), no extra keys -------------
# They mirror QuerySpec field for field, so a tool call's arguments validate as a QuerySpec unchanged.


class RangeArgs(BaseModel):
    """A symbolic time range; code resolves it in the asker's zone."""

    model_config = _STRICT
    kind: Literal["last", "today", "yesterday", "this_week", "this_month", "this_year", "day", "between", "since"]
    n: int | None = Field(description="for kind=last: how many units; else null")
    unit: Unit | None = Field(description="for kind=last; else null")
    day: str | None = Field(description="for kind=day: local date YYYY-MM-DD; else null")
    start: str | None = Field(description="for kind=between/since: local wall clock YYYY-MM-DDTHH:MM:SS; else null")
    end: str | None = Field(description="for kind=between: local wall clock YYYY-MM-DDTHH:MM:SS; else null")


class ConditionArgs(BaseModel):
    """One filter condition (all conditions must hold)."""

    model_config = _STRICT
    field: str = Field(description="one of: " + ", ".join(CONDITION_FIELDS))
    op: Op
    value: str | int | float | bool | list[str] = Field(description="the operand; a list of strings for op=in")


class RunQuery(BaseModel):
    """Run a read-only query over the organization's LLM request logs."""

    model_config = ConfigDict(extra="forbid", title="run_query")
    measure: Measure = Field(description="; ".join(f"{k}: {v}" for k, v in MEASURES.items()))
    aggregation: str | None = Field(description="avg, sum, min, max, count or pNN (p50 = median); null = default")
    scoreKey: str | None = Field(description="for measure=score: one known score key; null = every key")
    groupBy: str | None = Field(description="model, provider, user, status, country, property:<key>; or null")
    top: int | None = Field(description="keep the N largest groups; or null")
    bucket: Increment | None = Field(description="min, hour, day, week, month; null = one value per group")
    range: RangeArgs | None = Field(description="null = the last 24 hours")
    conditions: list[ConditionArgs] = Field(description="filters, all required; [] for none")
    timeZone: str | None = Field(description="IANA zone only when the question names one; else null (the asker's)")


class ComparePeriods(BaseModel):
    """Compare one aggregate between the current range and the previous one ('vs last week', 'week over week',
    'today vs yesterday', 'compared to the previous period')."""

    model_config = ConfigDict(extra="forbid", title="compare_periods")
    query: RunQuery = Field(description="the aggregate over the current range (its range null = the unit named)")
    shiftN: int | None = Field(
        description="shift back this many units: 7 (days) for last week / week over week, 1 (days) for yesterday, "
        "30 (days) for last month; null = by the range's own length ('the previous period', 'before')"
    )
    shiftUnit: Unit | None = Field(description="the unit of shiftN; null with shiftN null")


class ListRequests(BaseModel):
    """List individual requests ('show me the last 5 failed requests', 'the 10 slowest gpt-4 requests yesterday',
    'which requests mentioned refund', 'show 429s from anthropic'), not an aggregate."""

    model_config = ConfigDict(extra="forbid", title="list_requests")
    conditions: list[ConditionArgs] = Field(description="filters, all required; [] for none")
    range: RangeArgs | None = Field(description="null = the last 24 hours")
    order: Literal["newest", "latency", "cost", "tokens"] = Field(
        description="newest first (last, latest, most recent, nothing said); latency (slowest); cost (most "
        "expensive); tokens (biggest)"
    )
    limit: int = Field(description="how many, 1 to 100; 10 when not said")
    timeZone: str | None = Field(description="IANA zone only when the question names one; else null")


class ExplainChange(BaseModel):
    """Explain a change ('why is gpt-4 slow', 'what happened on nov 19', 'did errors spike today', 'why did cost go
    up'): find when the measure departed from its baseline and what the departing requests are concentrated in."""

    model_config = ConfigDict(extra="forbid", title="explain_change")
    measure: Literal["latency", "errors", "cost", "score"] | None = Field(
        description="latency (slow), errors (failures, error rate, a status such as 429s), cost (spend), score (a "
        "score key); null when the question names none ('what happened')"
    )
    scoreKey: str | None = Field(description="for measure=score: the known score key; else null")
    status: int | None = Field(description="for measure=errors: the status named (429); null = any failure")
    conditions: list[ConditionArgs] = Field(description="the question's scope (model, feature...), [] for none")
    range: RangeArgs | None = Field(description="null = the last 24 hours")
    timeZone: str | None = Field(description="IANA zone only when the question names one; else null")


class AskClarifyingQuestion(BaseModel):
    """Ask the user one short question back when the question is ambiguous or names something unknown."""

    model_config = ConfigDict(extra="forbid", title="ask_clarifying_question")
    question: str = Field(description="the question to ask, listing the closest known names when relevant")


class Refuse(BaseModel):
    """Decline anything that is not a read-only question about these LLM request logs."""

    model_config = ConfigDict(extra="forbid", title="refuse")
    reason: str = Field(description="one short sentence: why this is out of scope")


TOOLS: tuple[type[BaseModel], ...] = (
    RunQuery,
    ComparePeriods,
    ListRequests,
    ExplainChange,
    AskClarifyingQuestion,
    Refuse,
)
TOOL_NAMES = tuple(t.model_config["title"] for t in TOOLS)


class _Repair(Exception):
    """A tool call the model must fix; `clarify` is the user-facing message when it came from grounding."""

    def __init__(self, feedback: str, clarify: str | None = None):
        super().__init__(feedback)
        self.feedback = feedback
        self.clarify = clarify


# --- prompts ----------------------------------------------------------------------------------------------


def load_prompt(name: str) -> str:
    """A versioned prompt file from the `prompts` package, e.g. `planner_v1`."""
    try:
        return resources.files("heliqa.prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"prompt {name!r} not found in the prompts package") from None


def vocabulary_text(vocab: Vocabulary) -> str:
    """The grounded names as prompt lines (most used first)."""
    lines = [
        f"- models: {', '.join(vocab.models) or 'none recorded'}",
        f"- providers: {', '.join(vocab.providers) or 'none recorded'}",
        f"- score keys: {', '.join(vocab.score_keys) or 'none recorded'}",
        f"- users: {vocab.users} distinct user ids (take a user id from the question as written)",
    ]
    if vocab.properties:
        lines.append("- properties (key: recorded values):")
        for key, values in vocab.properties.items():
            shown = list(values)[:_MAX_VALUES_PER_PROPERTY]
            more = f" (+{len(values) - len(shown)} more)" if len(values) > len(shown) else ""
            lines.append(f"  - {key}: {', '.join(shown)}{more}")
    else:
        lines.append("- properties: none recorded")
    return "\n".join(lines)


def previous_text(previous: QuerySpec | None) -> str:
    """The follow-up instructions with the previous query, or a note that there is none."""
    if previous is None:
        return "This is the first question of the conversation."
    spec = json.dumps(previous.model_dump(mode="json"), ensure_ascii=False)
    return (
        "The previous query in this conversation was:\n"
        f"{spec}\n"
        'A follow-up ("now by hour", "what about gpt-4o?", "same for last month") edits that query: keep '
        "everything the user did not change and call run_query with the whole edited query."
    )


def render_prompt(ctx: Context, version: str = PROMPT) -> str:
    """The system prompt for one question: conventions, today's date and zone, vocabulary, previous query."""
    local = ctx.now.astimezone(ctx.tz)
    return Template(load_prompt(version)).substitute(
        now_local=local.strftime("%Y-%m-%d %H:%M"),
        weekday=local.strftime("%A"),
        today=local.date().isoformat(),
        tz=getattr(ctx.tz, "key", str(ctx.tz)),
        vocabulary=vocabulary_text(ctx.vocabulary),
        previous=previous_text(ctx.previous),
    )


# --- configuration ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LLMSettings:
    """Where and how to reach the OpenAI-compatible endpoint."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    max_tokens: int = DEFAULT_MAX_TOKENS

    @classmethod
    def from_env(cls) -> LLMSettings:
        """OPENAI_API_KEY, OPENAI_BASE_URL, HELIQA_LLM_MODEL, HELIQA_LLM_TIMEOUT, HELIQA_LLM_MAX_TOKENS."""
        if not llm_configured():
            raise ConfigError(
                "the LLM planner needs an OpenAI-compatible endpoint",
                "set OPENAI_API_KEY (and OPENAI_BASE_URL for another server); --planner rules works offline",
            )
        return cls(
            model=os.environ.get("HELIQA_LLM_MODEL") or DEFAULT_MODEL,
            base_url=os.environ.get("OPENAI_BASE_URL") or None,
            api_key=os.environ.get("OPENAI_API_KEY") or None,
            timeout=_positive("HELIQA_LLM_TIMEOUT", DEFAULT_TIMEOUT_S, float),
            max_tokens=int(_positive("HELIQA_LLM_MAX_TOKENS", DEFAULT_MAX_TOKENS, int)),
        )


def _positive(var: str, default: float, kind: type) -> float:
    text = os.environ.get(var)
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = -1
    if not value > 0 or (isinstance(value, float) and math.isinf(value)):
        raise ConfigError(f"{var}={text!r} is not a positive number")
    return value


# --- the planner ------------------------------------------------------------------------------------------


class LLMPlanner:
    """Plans with an OpenAI-compatible chat model through strict tool calls; at most MAX_REPAIRS repairs."""

    name = "llm"

    def __init__(self, settings: LLMSettings, prompt: str = PROMPT):
        self.settings = settings
        self.prompt = prompt
        self._chat: Any = None
        self._bound: Any = None

    @classmethod
    def from_env(cls) -> LLMPlanner:
        """Configured from OPENAI_API_KEY / OPENAI_BASE_URL / HELIQA_LLM_MODEL (no langchain import yet)."""
        return cls(LLMSettings.from_env())

    def chat_model(self) -> Any:
        """The ChatOpenAI client, built (and langchain imported) on first use."""
        if self._chat is None:
            from langchain_openai import ChatOpenAI

            s = self.settings
            self._chat = ChatOpenAI(
                model=s.model,
                base_url=s.base_url,
                # Local OpenAI-compatible servers often need no key, but the client insists on one.
                api_key=s.api_key or "unused",
                timeout=s.timeout,
                max_tokens=s.max_tokens,
                max_retries=1,
                temperature=0,
                use_responses_api=False,  # the Chat Completions API is what every compatible server speaks
            )
        return self._chat

    def tool_model(self) -> Any:
        """The chat model bound to the three strict tools; one tool call is required per turn."""
        if self._bound is None:
            self._bound = self.chat_model().bind_tools(
                list(TOOLS), tool_choice="required", strict=True, parallel_tool_calls=False
            )
        return self._bound

    def warm_up(self) -> None:
        """Import langchain and build the client now (e.g. in a background thread at REPL or Slack start-up)."""
        self.tool_model()

    def plan(self, question: str, ctx: Context) -> Plan:
        """Ask the model for one tool call; validate, ground and resolve it; feed problems back."""
        from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

        messages: list[Any] = [SystemMessage(render_prompt(ctx, self.prompt)), HumanMessage(question)]
        last: _Repair | None = None
        for _ in range(1 + MAX_REPAIRS):
            reply = self._invoke(messages)
            messages.append(reply)
            calls = list(reply.tool_calls)
            if not calls and not reply.invalid_tool_calls:
                last = _Repair("Reply only by calling one of the tools: " + ", ".join(TOOL_NAMES) + ".")
                messages.append(HumanMessage(last.feedback))
                continue
            for bad in reply.invalid_tool_calls:
                last = _Repair(f"The arguments of {bad.get('name')} are not valid JSON. {bad.get('error') or ''}")
                messages.append(ToolMessage(last.feedback, tool_call_id=bad.get("id") or "", status="error"))
            if not calls:
                continue
            first, extra = calls[0], calls[1:]
            try:
                result = self._decide(first["name"], first["args"], ctx)
            except _Repair as repair:
                last = repair
                messages.append(ToolMessage(_feedback(repair), tool_call_id=first["id"], status="error"))
                for call in extra:  # every tool call needs an answer before the model's next turn
                    messages.append(
                        ToolMessage("Ignored: call one tool at a time.", tool_call_id=call["id"], status="error")
                    )
                continue
            return result
        return Plan("clarify", message=_give_up(last), planner=self.name)

    def _decide(self, name: str, args: dict[str, Any], ctx: Context) -> Plan:
        """Turn one tool call into a Plan, or raise _Repair with the message for the model."""
        if name == "refuse":
            reason = str(args.get("reason") or "").strip()[:300]
            return Plan("unsupported", message=REFUSAL.format(why=reason), planner=self.name)
        if name == "ask_clarifying_question":
            text = str(args.get("question") or "").strip()[:500]
            if not text:
                raise _Repair("ask_clarifying_question needs a non-empty question.")
            return Plan("clarify", message=text, planner=self.name)
        if name in FORM_TOOLS:
            return Plan("ok", spec=check_form(name, args, ctx), planner=self.name)
        if name != "run_query":
            raise _Repair(f"There is no tool {name!r}; call one of: {', '.join(TOOL_NAMES)}.")
        return Plan("ok", spec=check_spec(args, ctx), planner=self.name)

    def _invoke(self, messages: list[Any]) -> Any:
        """One model call, with the client's errors turned into heliqa errors (never echoing the key)."""
        import openai

        try:
            return self.tool_model().invoke(messages)
        except openai.APITimeoutError:
            raise BackendError(
                f"the LLM endpoint did not answer within {self.settings.timeout:g} s", "raise HELIQA_LLM_TIMEOUT"
            ) from None
        except openai.AuthenticationError:
            raise ConfigError("the LLM endpoint rejected the API key (401)", "check OPENAI_API_KEY") from None
        except openai.APIConnectionError:
            raise BackendError(
                f"cannot reach the LLM endpoint {self.settings.base_url or 'api.openai.com'}", "check OPENAI_BASE_URL"
            ) from None
        except openai.APIStatusError as error:
            raise BackendError(
                f"the LLM endpoint answered HTTP {error.status_code}: {_redact(str(error.message), self.settings)}",
                f"check HELIQA_LLM_MODEL ({self.settings.model}) and the endpoint",
            ) from None

    def narrate(self, question: str, answer: Answer) -> str:
        """A one-sentence LLM summary of an ok answer, used only when its numbers all come from the rows."""
        import openai
        from langchain_core.messages import HumanMessage, SystemMessage

        if answer.status != "ok" or answer.query is None or not answer.rows or answer.kind != "aggregate":
            return answer.message  # comparisons, lists and explanations keep their computed sentence
        from heliqa.agent.answer import bucket_text, fmt

        query = answer.query
        lines = [
            f"{bucket_text(r.bucket, query) if r.bucket else '-'} | {r.group or '-'} | {fmt(r.value, query)}"
            for r in answer.rows[:60]
        ]
        table = "\n".join(lines)
        content = f"Question: {question}\nQuery: {answer.interpretation}\nRows (bucket | group | value):\n{table}"
        try:
            reply = self.chat_model().invoke([SystemMessage(load_prompt(SUMMARY_PROMPT)), HumanMessage(content)])
        except openai.OpenAIError:  # prose is optional: the computed summary always stands in
            return answer.message
        return grounded_summary(str(reply.content or ""), answer)


def _invalid(problems: list[str]) -> _Repair:
    return _Repair("The query is not valid:\n- " + "\n- ".join(problems))


def check_spec(args: dict[str, Any], ctx: Context) -> QuerySpec:
    """Validate a run_query call as a QuerySpec, ground it and resolve its range, or raise _Repair."""
    try:
        spec = QuerySpec.model_validate(args)
    except ValidationError as error:
        raise _invalid(problems_of(error)) from None
    try:
        spec = ground(spec, ctx.vocabulary)
    except Clarify as ask:
        raise _Repair(ask.message, clarify=ask.message) from None
    try:
        spec.to_query(ctx.now, ctx.tz)  # resolves the range: a bad zone or a future range comes back here
    except InvalidRequest as error:
        raise _invalid(error.problems) from None
    except HeliqaError as error:  # includes a range starting after now (timerange.resolve asks back)
        raise _Repair(
            f"The query is not valid: {error.message} A date without a year is the most recent one not after today."
        ) from None
    return spec


FORM_TOOLS = {"compare_periods": CompareSpec, "list_requests": ListSpec, "explain_change": ExplainSpec}


def check_form(name: str, args: dict[str, Any], ctx: Context) -> CompareSpec | ListSpec | ExplainSpec:
    """Validate a compare / list / explain call as its form spec, grounded and with its range resolved."""
    if name == "compare_periods":
        query = check_spec(args.get("query") or {}, ctx)
        try:
            spec = CompareSpec(query=query, shiftN=args.get("shiftN"), shiftUnit=args.get("shiftUnit"))
        except ValidationError as error:
            raise _invalid(problems_of(error)) from None
        if spec.query.range is None and spec.shiftN and spec.shiftUnit:  # "week over week": that unit back from now
            unit = spec.shiftUnit if spec.shiftUnit != "months" else "days"
            n = spec.shiftN * (30 if spec.shiftUnit == "months" else 1)
            spec = spec.model_copy(update={"query": query.model_copy(update={"range": TimeRange(kind="last", n=n,
                                                                                              unit=unit)})})
        return spec
    try:
        spec = FORM_TOOLS[name].model_validate(args)
    except ValidationError as error:
        raise _invalid(problems_of(error)) from None
    try:
        grounded = ground(QuerySpec(measure="requests", conditions=spec.conditions, range=spec.range,
                                    timeZone=spec.timeZone), ctx.vocabulary)
        grounded.to_query(ctx.now, ctx.tz)
        if isinstance(spec, ExplainSpec) and spec.measure == "score" and spec.scoreKey:
            ground(QuerySpec(measure="score", scoreKey=spec.scoreKey), ctx.vocabulary)
    except Clarify as ask:
        raise _Repair(ask.message, clarify=ask.message) from None
    except InvalidRequest as error:
        raise _invalid(error.problems) from None
    except HeliqaError as error:
        raise _Repair(f"The request is not valid: {error.message}") from None
    return spec.model_copy(update={"conditions": grounded.conditions})


def _feedback(repair: _Repair) -> str:
    return (
        f"Error: {repair.feedback}\nFix the arguments and call the tool again, or call ask_clarifying_question "
        "if the user must choose."
    )


def _give_up(last: _Repair | None) -> str:
    """The clarifying question after the repairs ran out."""
    if last is not None and last.clarify:
        return last.clarify
    detail = f" ({last.feedback.splitlines()[-1].lstrip('- ')})" if last is not None else ""
    return (
        f"I couldn't turn that into a valid query{detail}. Could you rephrase it with the measure, the filter and "
        "the time range, e.g. 'p90 latency for gpt-4 last week by day'?"
    )


def _redact(text: str, settings: LLMSettings) -> str:
    if settings.api_key:
        text = text.replace(settings.api_key, "***")
    return text[:300]


def grounded_summary(text: str, answer: Answer) -> str:
    """`text` when every number in it appears in the answer's rows, else the computed summary."""
    from heliqa.agent.answer import prose_is_grounded

    text = " ".join(text.split())
    if text and answer.query is not None and prose_is_grounded(text, answer.rows, answer.query):
        return text
    return answer.message


# --- heliqa eval ------------------------------------------------------------------------------------------


def _table(rows: list[dict[str, Any]]) -> dict[tuple[str | None, str | None], Any]:
    out = {}
    for r in rows:
        bucket = r.get("bucket")
        if bucket:
            moment = datetime.fromisoformat(str(bucket).replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            bucket = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if r.get("period"):  # a comparison's periods are told apart like buckets
            bucket = f"{r['period']}:{bucket or ''}"
        group = r.get("group")
        out[(bucket or None, None if group is None else str(group))] = r.get("value")
    return out


def compare_list(want_rows: list[dict[str, Any]], got_rows: list[dict[str, Any]]) -> list[str]:
    """A request list passes with the same request ids in the same order (score.py's rule)."""
    want = [str(r.get("request_id")).lower() for r in want_rows]
    got = [str(r.get("request_id")).lower() for r in got_rows]
    return [] if want == got else [f"want request ids {want[:3]}... got {got[:3]}..."]


def compare_explain(case: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    """An explanation passes when its first driver is an accepted one and its window overlaps the incident's by
    half its length, at most 4x as long (score.py's rule)."""

    def norm(dimension: Any) -> str:
        text = str(dimension).strip().lower().removeprefix("property:").replace(" ", "_")
        return {"user": "user_id", "country": "country_code"}.get(text, text)

    problems = []
    first = (answer.get("data") or [{}])[0]
    accepted = {(norm(d), str(v).strip().lower()) for d, v in case.get("drivers", [])}
    if (norm(first.get("dimension")), str(first.get("value")).strip().lower()) not in accepted:
        problems.append(f"first driver {first.get('dimension')}={first.get('value')}")
    window, want = answer.get("window") or {}, case.get("window") or {}
    try:
        got_span = [_case_instant(window[k]) for k in ("start", "end")]
        want_span = [_case_instant(want[k]) for k in ("start", "end")]
    except (KeyError, ValueError):
        return problems + ["no window"]
    overlap = (min(got_span[1], want_span[1]) - max(got_span[0], want_span[0])).total_seconds()
    length = (want_span[1] - want_span[0]).total_seconds()
    if overlap < 0.5 * length or (got_span[1] - got_span[0]).total_seconds() > 4 * length:
        problems.append(f"window {window.get('start')}..{window.get('end')}")
    return problems


def compare_rows(want_rows: list[dict[str, Any]], got_rows: list[dict[str, Any]]) -> list[str]:
    """Differences between expected and answered rows (score.py's rule: 1e-6 relative, missing = 0)."""
    want, got = _table(want_rows), _table(got_rows)
    want_groups, got_groups = {g for _, g in want}, {g for _, g in got}
    # One series asked for, answered with or without its group name: the same answer.
    if len(want_groups) == 1 and got_groups == {None} and None not in want_groups:
        got = {(b, next(iter(want_groups))): v for (b, _), v in got.items()}
    elif len(got_groups) == 1 and want_groups == {None} and None not in got_groups:
        got = {(b, None): v for (b, _), v in got.items()}
    problems = []
    for key in sorted(set(want) | set(got), key=lambda k: (k[0] or "", k[1] or "")):
        a, b = want.get(key) or 0, got.get(key) or 0
        if not math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6):
            problems.append(f"{key}: want {want.get(key)!r} got {got.get(key)!r}")
    return problems


def _case_instant(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


EXPECT = ("ok", "clarify", "list", "explain")


def _load_cases(path: str) -> list[dict[str, Any]]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}:{number} is not valid JSON: {error.msg}") from None
        if not isinstance(case, dict) or "question" not in case or case.get("expect") not in EXPECT:
            raise ConfigError(f"{path}:{number}: a case needs 'question' and 'expect' ({', '.join(EXPECT)})")
        cases.append(case)
    return cases


def run_eval(args: Any) -> int:
    """`heliqa eval CASES`: answer each case through the LLM planner and print 'N passed, M failed'."""
    from heliqa.agent.conversation import Conversation
    from heliqa.agent.timerange import zone
    from heliqa.tools.backends import open_backend

    cases = _load_cases(args.cases)
    planner = LLMPlanner.from_env()
    backend = open_backend(args.backend)
    org = backend.resolve_org(args.org)
    passed = failed = 0
    times = []
    for case in cases:
        try:
            now = _case_instant(case.get("now")) or _case_instant(args.now)
        except ValueError:
            raise ConfigError(f"case {case.get('id')}: 'now' {case.get('now')!r} is not an ISO 8601 instant") from None
        conversation = Conversation(backend, planner, org, zone(case.get("tz") or args.tz), now)
        started = time.perf_counter()
        answer = conversation.ask(case["question"])
        times.append(time.perf_counter() - started)
        if answer.status == "error":
            why = [f"error: {answer.message}"]
        elif case["expect"] == "clarify":
            why = [f"answered where it should ask back: {answer.message}"[:240]] if answer.status == "ok" else []
        elif answer.status != "ok":
            why = [f"status {answer.status}: {answer.message}"[:240]]
        elif case["expect"] == "list":
            why = compare_list(case.get("data") or [], answer.to_json()["data"])
        elif case["expect"] == "explain":
            why = compare_explain(case, answer.to_json())
        else:
            why = compare_rows(case.get("data") or [], answer.to_json()["data"])
        if why:
            failed += 1
            print(f"FAIL {case.get('id', '?')}: {case['question']}")
            for line in why[:2]:
                print(f"     {line}")
        else:
            passed += 1
    if times:
        times.sort()
        print(f"planner {planner.settings.model}: median {times[len(times) // 2]:.2f}s per question", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
