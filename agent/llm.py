"""The LLM planner: ChatOpenAI with strict tools whose input is the symbolic QuerySpec, and `heliqa eval`.

The model only fills a symbolic query (time stays a `TimeRange`); code validates it through `QuerySpec`,
grounds its names and resolves its range. A problem goes back to the model as the tool's error for at most
`MAX_REPAIRS` repairs, then the user gets a clarifying question. langchain is imported only when the
planner actually calls the model, so the rules path never pays its ~3 s import.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from heliqa.agent.forms import CompareSpec, ExplainSpec, ListSpec
from heliqa.agent.grounding import ground
from heliqa.agent.planner import Context, Plan, llm_configured
from heliqa.agent.safety import REFUSAL
from heliqa.agent.spec import Condition, QuerySpec, TooManyBuckets
from heliqa.agent.timerange import MONTH_DAYS, TimeRange, Unit
from heliqa.prompts.lexicon import prompt_section
from heliqa.tools.errors import BackendError, Clarify, ConfigError, HeliqaError, InvalidRequest
from heliqa.tools.query import MetricsQuery
from heliqa.tools.results import Vocabulary
from heliqa.tools.safetext import elide, quoted
from heliqa.tools.settings import Settings, settings
from heliqa.tools.urls import mask_url
from heliqa.tools.validation import problems_of

if TYPE_CHECKING:
    from heliqa.agent.answer import Answer

PROMPT = "planner_v1"
SUMMARY_PROMPT = "summary_v1"
MAX_REPAIRS = 2
DEFAULT_MODEL = Settings.model_fields["heliqa_llm_model"].default
DEFAULT_TIMEOUT_S = Settings.model_fields["heliqa_llm_timeout"].default
DEFAULT_MAX_TOKENS = Settings.model_fields["heliqa_llm_max_tokens"].default
# The planner prompt's bound; approx_tokens() estimates a text's tokens without a tokenizer download.
PROMPT_TOKEN_BOUND = 4000
# Bounds on the names a prompt carries (those the question names come first): in count and in characters.
_ROOM = {"models": 2000, "providers": 400, "score keys": 1000, "users": 600, "properties": 2400}
_MAX_PROPERTY_KEYS = 30
QUESTION_LIMIT = 1000  # characters of the question and the interpretation in the summary's prompt
_MAX_VALUES_PER_PROPERTY = 12
_MAX_PROPERTY_VALUES = 150
_MAX_MODELS = 40
_MAX_SCORE_KEYS = 30
_MAX_USERS = 12

# --- tools: the strict schemas come from the pydantic models that validate the calls ------------------------
# run_query's arguments are a QuerySpec: openai.pydantic_function_tool derives the strict schema (every
# property required, nullable instead of optional, closed objects) from QuerySpec itself.

RUN_QUERY = "run_query"
RUN_QUERY_DESCRIPTION = "Run a read-only query over the organization's LLM request logs."


class ComparePeriods(BaseModel):
    """Compare one aggregate between the current range and the previous one ('vs last week', 'week over week',
    'today vs yesterday', 'compared to the previous period')."""

    model_config = ConfigDict(extra="forbid", title="compare_periods")
    query: QuerySpec = Field(description="the aggregate over the current range (its range null = the unit named)")
    shiftN: int | None = Field(
        description="shift back this many units: 7 (days) for last week / week over week, 1 (days) for yesterday, "
        f"{MONTH_DAYS} (days) for last month; null = by the range's own length ('the previous period', 'before')"
    )
    shiftUnit: Unit | None = Field(description="the unit of shiftN; null with shiftN null")
    endsAtStart: bool | None = Field(
        None,
        description="true only when the words name the span just before the current range: 'the hour before', "
        "'the previous 2 hours', 'the preceding day' (shiftN/shiftUnit that span: 1 hours, 2 hours, 1 days); the "
        "previous period then ends where the current range starts. false (or null) for 'vs last week', 'week over "
        "week', 'today vs yesterday', 'same time yesterday', 'the previous period': the range shifted back",
    )


class ListRequests(BaseModel):
    """List individual requests ('show me the last 5 failed requests', 'the 10 slowest gpt-4 requests yesterday',
    'which requests mentioned refund', 'show 429s from anthropic'), not an aggregate."""

    model_config = ConfigDict(extra="forbid", title="list_requests")
    conditions: list[Condition] = Field(description="filters, all required; [] for none")
    range: TimeRange | None = Field(description="null = the last 24 hours")
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
    conditions: list[Condition] = Field(description="the question's scope (model, provider, property...), [] for none")
    range: TimeRange | None = Field(description="null = the last 24 hours")
    timeZone: str | None = Field(description="IANA zone only when the question names one; else null")


class AskClarifyingQuestion(BaseModel):
    """Ask the user one short question back when the question is ambiguous or names something unknown."""

    model_config = ConfigDict(extra="forbid", title="ask_clarifying_question")
    question: str = Field(description="the question to ask, listing the closest known names when relevant")


class Refuse(BaseModel):
    """Decline anything that is not a read-only question about these LLM request logs."""

    model_config = ConfigDict(extra="forbid", title="refuse")
    reason: str = Field(description="one short sentence: why this is out of scope")


# tool name -> (the model its arguments validate as, its description for the model)
TOOLS: dict[str, tuple[type[BaseModel], str]] = {
    RUN_QUERY: (QuerySpec, RUN_QUERY_DESCRIPTION),
    **{
        m.model_config["title"]: (m, m.__doc__ or "")
        for m in (ComparePeriods, ListRequests, ExplainChange, AskClarifyingQuestion, Refuse)
    },
}
TOOL_NAMES = tuple(TOOLS)


def tool_schemas() -> list[dict[str, Any]]:
    """The tools as strict OpenAI function tools, their $refs inlined for servers that do not resolve them."""
    import openai
    from langchain_core.utils.json_schema import dereference_refs

    tools = []
    for name, (model, description) in TOOLS.items():
        tool = openai.pydantic_function_tool(model, name=name, description=description)
        parameters = dereference_refs(tool["function"]["parameters"])
        parameters.pop("$defs", None)
        tool["function"]["parameters"] = parameters
        tools.append(tool)
    return tools


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


def vocabulary_text(vocab: Vocabulary, question: str = "", scale: float = 1.0) -> str:
    """The grounded names as prompt lines: the ones the question names or nearly names, then the most used.

    Each name is data, not instructions: a JSON string (a newline in it cannot start a prompt line), elided to
    NAME_LIMIT characters. Bounded in count and in characters (`_ROOM`, times `scale`) whatever the vocabulary,
    so the prompt stays within PROMPT_TOKEN_BOUND for an organization with thousands of long names.
    """
    room = {part: int(size * scale) for part, size in _ROOM.items()}
    lines = [
        f"- models: {_shown(vocab.models, question, _MAX_MODELS, room['models']) or 'none recorded'}",
        f"- providers: {_shown(dict.fromkeys(vocab.providers, 1), '', 40, room['providers']) or 'none recorded'}",
        f"- score keys: {_shown(vocab.score_keys, question, _MAX_SCORE_KEYS, room['score keys']) or 'none recorded'}",
        f"- users: {vocab.users} distinct user ids of any shape (take one from the question as written)"
        + (f": {_shown(vocab.user_ids, question, _MAX_USERS, room['users'])}" if vocab.user_ids else ""),
    ]
    if vocab.properties:
        lines.append("- properties (key: recorded values):")
        keys = sorted(vocab.properties, key=lambda k: -sum(vocab.properties[k].values()))
        budget, left = _MAX_PROPERTY_VALUES, room["properties"]
        for n, key in enumerate(keys):
            values = vocab.properties[key]
            if n >= _MAX_PROPERTY_KEYS or left <= 0:
                lines.append(f"  - (+{len(keys) - n} more keys; name one as written)")
                break
            if budget <= 0:
                line = f"  - {quoted(key)}: {len(values)} values (name one as written)"
            else:
                shown = _shown(values, question, min(_MAX_VALUES_PER_PROPERTY, budget), max(left // 2, 200))
                budget -= shown.count('", "') + 1
                line = f"  - {quoted(key)}: {shown}"
            left -= len(line)
            lines.append(line)
    else:
        lines.append("- properties: none recorded")
    return "\n".join(lines)


def _shown(counts: dict[str, int], question: str, limit: int, room: int) -> str:
    """Names relevant to the question first, then the most used: at most `limit` JSON strings in about `room`
    characters; '(+N more)' for the rest."""
    picked = relevant_names(list(counts), question, limit)
    for name in sorted(counts, key=lambda n: -counts[n]):
        if len(picked) >= limit:
            break
        if name not in picked:
            picked.append(name)
    shown: list[str] = []
    used = 0
    for name in picked:
        text = quoted(name)
        if shown and used + len(text) + 2 > room:
            break
        shown.append(text)
        used += len(text) + 2
    more = f" (+{len(counts) - len(shown)} more)" if len(counts) > len(shown) else ""
    return ("[" + ", ".join(shown) + "]" if shown else "") + more


def relevant_names(names: list[str], question: str, limit: int) -> list[str]:
    """Names the question's words match or nearly match (rapidfuzz), best first."""
    if not names or not question:
        return []
    from rapidfuzz import fuzz, process

    text = question.lower()
    words = [w for w in re.findall(r"[\w.:/@-]+", text) if len(w) >= 3]
    found: dict[str, float] = {}
    for word in dict.fromkeys(words):
        for name, score, _ in process.extract(
            word, names, scorer=fuzz.ratio, processor=str.lower, limit=3, score_cutoff=75
        ):
            found[name] = max(found.get(name, 0.0), score)
    for name in names:  # a name written out in the question ranks first
        if len(name) >= 2 and name.lower() in text:
            found[name] = 101.0
    return sorted(found, key=lambda n: -found[n])[:limit]


def previous_text(previous: QuerySpec | None) -> str:
    """The follow-up instructions with the previous query, or a note that there is none."""
    if previous is None:
        return "This is the first question of the conversation."
    spec = json.dumps(_elided(previous.model_dump(mode="json")), ensure_ascii=True)
    return (
        "The previous query in this conversation was:\n"
        f"{spec}\n"
        'A follow-up ("now by hour", "what about gpt-4o?", "same for last month") edits that query: keep '
        "everything the user did not change and call run_query with the whole edited query."
    )


def approx_tokens(text: str) -> int:
    """A tokenizer-free upper estimate: four ASCII characters a token, each other character a token of its own."""
    wide = sum(1 for c in text if ord(c) > 127)
    return -(-(len(text) - wide) // 4) + wide


def _elided(value: Any) -> Any:
    """A JSON value with every string elided to NAME_LIMIT characters (a 100k-character filter value stays small)."""
    if isinstance(value, str):
        return elide(value)
    if isinstance(value, list):
        return [_elided(v) for v in value]
    if isinstance(value, dict):
        return {k: _elided(v) for k, v in value.items()}
    return value


def render_prompt(ctx: Context, version: str = PROMPT, question: str = "") -> str:
    """The system prompt for one question: conventions, wording lexicon, today's date and zone, the vocabulary
    relevant to the question, previous query; within PROMPT_TOKEN_BOUND (fewer names when they are long)."""
    local = ctx.now.astimezone(ctx.tz)
    template = Template(load_prompt(version))
    for scale in (1.0, 0.5, 0.25, 0.0):
        prompt = template.substitute(
            now_local=local.strftime("%Y-%m-%d %H:%M"),
            weekday=local.strftime("%A"),
            today=local.date().isoformat(),
            tz=getattr(ctx.tz, "key", str(ctx.tz)),
            vocabulary=vocabulary_text(ctx.vocabulary, question, scale),
            how_people_type=prompt_section(),
            previous=previous_text(ctx.previous),
        )
        if approx_tokens(prompt) <= PROMPT_TOKEN_BOUND:
            break
    return prompt


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
        s = settings()
        return cls(
            model=s.heliqa_llm_model,
            base_url=s.openai_base_url,
            api_key=s.secret("openai_api_key"),
            timeout=s.heliqa_llm_timeout,
            max_tokens=s.heliqa_llm_max_tokens,
        )


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
                tool_schemas(), tool_choice="required", strict=True, parallel_tool_calls=False
            )
        return self._bound

    def warm_up(self) -> None:
        """Import langchain and build the client now (e.g. in a background thread at REPL or Slack start-up)."""
        self.tool_model()

    def plan(self, question: str, ctx: Context) -> Plan:
        """Ask the model for one tool call; validate, ground and resolve it; feed problems back."""
        from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

        messages: list[Any] = [SystemMessage(render_prompt(ctx, self.prompt, question)), HumanMessage(question)]
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
        spec, query = check_spec(args, ctx)
        return Plan("ok", spec=spec, planner=self.name, query=query)

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
                f"cannot reach the LLM endpoint {mask_url(self.settings.base_url) or 'api.openai.com'}",
                "check OPENAI_BASE_URL",
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
        lines = [  # group names are data: JSON strings, elided, so a newline in one cannot start a prompt line
            f"{bucket_text(r.bucket, query) if r.bucket else '-'} | {quoted(r.group) if r.group else '-'} | "
            f"{fmt(r.value, query)}"
            for r in answer.rows[:60]
        ]
        table = "\n".join(lines)
        content = (
            f"Question: {quoted(question, QUESTION_LIMIT)}\nQuery: {quoted(answer.interpretation, QUESTION_LIMIT)}\n"
            f"Rows (bucket | group | value):\n{table}"
        )
        try:
            reply = self.chat_model().invoke([SystemMessage(load_prompt(SUMMARY_PROMPT)), HumanMessage(content)])
        except openai.OpenAIError:  # prose is optional: the computed summary always stands in
            return answer.message
        return grounded_summary(str(reply.content or ""), answer)


def _invalid(problems: list[str]) -> _Repair:
    return _Repair("The query is not valid:\n- " + "\n- ".join(problems))


def check_spec(args: dict[str, Any], ctx: Context) -> tuple[QuerySpec, MetricsQuery]:
    """Validate a run_query call as a QuerySpec and check it as `agent.check.check` does, or raise _Repair.

    The two steps of the check are taken apart here only because their problems go back to the model
    differently: an unknown name may end as the user's clarifying question, a bad range never does.
    """
    try:
        spec = QuerySpec.model_validate(args)
    except ValidationError as error:
        raise _invalid(problems_of(error)) from None
    try:
        spec = ground(spec, ctx.vocabulary)
    except Clarify as ask:
        raise _Repair(ask.message, clarify=ask.message) from None
    try:
        query = spec.to_query(ctx.now, ctx.tz)  # resolves the range: a bad zone or a future range comes back here
    except InvalidRequest as error:
        raise _invalid(error.problems) from None
    except TooManyBuckets as ask:  # the model may pick a coarser bucket, else the user is asked
        raise _Repair(ask.message, clarify=ask.message) from None
    except HeliqaError as error:  # includes a range starting after now (timerange.resolve asks back)
        raise _Repair(
            f"The query is not valid: {error.message} A date without a year is the most recent one not after today."
        ) from None
    return spec, query


FORM_TOOLS = {"compare_periods": CompareSpec, "list_requests": ListSpec, "explain_change": ExplainSpec}


def check_form(name: str, args: dict[str, Any], ctx: Context) -> CompareSpec | ListSpec | ExplainSpec:
    """Validate a compare / list / explain call as its form spec, grounded and with its range resolved."""
    if name == "compare_periods":
        query, _ = check_spec(args.get("query") or {}, ctx)
        try:
            spec = CompareSpec(
                query=query,
                shiftN=args.get("shiftN"),
                shiftUnit=args.get("shiftUnit"),
                endsAtStart=args.get("endsAtStart") or False,
            )
        except ValidationError as error:
            raise _invalid(problems_of(error)) from None
        if spec.query.range is None and spec.shiftN and spec.shiftUnit:  # "week over week": that unit back from now
            unit = spec.shiftUnit if spec.shiftUnit != "months" else "days"
            n = spec.shiftN * (MONTH_DAYS if spec.shiftUnit == "months" else 1)
            spec = spec.model_copy(
                update={"query": query.model_copy(update={"range": TimeRange(kind="last", n=n, unit=unit)})}
            )
        return spec
    try:
        spec = FORM_TOOLS[name].model_validate(args)
    except ValidationError as error:
        raise _invalid(problems_of(error)) from None
    try:
        grounded = ground(
            QuerySpec(measure="requests", conditions=spec.conditions, range=spec.range, timeZone=spec.timeZone),
            ctx.vocabulary,
        )
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


# Verdicts about health the rows cannot state: a summary says what the numbers are, not whether they are fine.
_JUDGEMENT = re.compile(
    r"\b(?:(?:un)?health(?:y|ier)?|fine|normal(?:ly)?|stable|nominal|as expected|all good|no (?:issues?|problems?|"
    r"concerns?|anomal\w*|incidents?)|degraded|outages?|broken|worrying|alarming)\b",
    re.IGNORECASE,
)


def grounded_summary(text: str, answer: Answer) -> str:
    """`text` when it states at least one number, every number in it appears in the answer's rows, and it
    passes no verdict on health; else the computed summary."""
    from heliqa.agent.answer import prose_is_grounded

    text = " ".join(text.split())
    if not text or answer.query is None or _JUDGEMENT.search(text) or not _has_figure(text):
        return answer.message  # "All models are healthy": a verdict no row states, with no number to check
    return text if prose_is_grounded(text, answer.rows, answer.query) else answer.message


def _has_figure(text: str) -> bool:
    """True when `text` states a number of its own (digits in a name such as gpt-4o or p90 do not count)."""
    return any(re.search(r"\d", t) and not re.search(r"[A-Za-z_]", t) for t in re.findall(r"[\w.,$%+-]+", text))
