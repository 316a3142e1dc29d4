"""The LLM planner driven through the real langchain + ChatOpenAI code against a scripted local server."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.answer import Answer
from heliqa.agent.conversation import Conversation
from heliqa.agent.evaluate import compare_rows
from heliqa.agent.factory import AutoPlanner, make_planner, narrator_for
from heliqa.agent.llm import (
    MAX_REPAIRS,
    AskClarifyingQuestion,
    LLMPlanner,
    LLMSettings,
    Refuse,
    _Repair,
    check_spec,
    grounded_summary,
    tool_schemas,
)
from heliqa.agent.planner import Context, Plan
from heliqa.agent.spec import Condition, QuerySpec
from heliqa.agent.timerange import TimeRange
from heliqa.tools.errors import ConfigError
from heliqa.tools.query import MEASURES
from heliqa.tools.results import Row
from tests import reference
from tests.conftest import MAIN_ORG, ROOT, SAMPLE_NOW
from tests.dev_cases import QUESTIONS, reference_ask
from tests.fake_openai import FakeOpenAI, http_error, last_message, strict_problems, text, tool_call, user_question

NOW = datetime.fromisoformat(SAMPLE_NOW.replace("Z", "+00:00"))
NY = ZoneInfo("America/New_York")
SECRET = "sk-test-do-not-print-4711"
# The worded question set as eval cases (`heliqa eval` reads this shape); "data" is added from the reference.
CASES = {
    i: {"id": i, "question": q, "now": SAMPLE_NOW, "tz": tz, "expect": "ok" if spec else "clarify", "spec": spec}
    for i, q, tz, spec in QUESTIONS
}
REFUSED_BEFORE_ANY_MODEL_CALL = {"q21", "q31", "q46"}  # weather, deleting data, prompt injection

_OPS = {"eq": "equals", "neq": "not-equals", "icontains": "contains"}


def with_data(case: dict, rows: list[dict]) -> dict:
    """The case with its expected rows, computed by the reference evaluator over the generated sample."""
    if case["spec"] is None:
        return case
    return {**case, "data": reference.expected(rows, MAIN_ORG, reference_ask(case))}


def _range_args(rng: list) -> dict:
    blank = {"n": None, "unit": None, "day": None, "start": None, "end": None}
    if rng[0] == "last":
        return {**blank, "kind": "last", "n": rng[1], "unit": rng[2]}
    if rng[0] == "local_day":
        return {**blank, "kind": "day", "day": rng[1]}
    if rng[0] == "between":
        return {**blank, "kind": "between", "start": rng[1] + ":00", "end": rng[2] + ":00"}
    return {**blank, "kind": rng[0]}


def _conditions(spec: dict) -> list[dict]:
    return [
        {"field": f, "op": _OPS.get(o, o), "value": v}
        for f, o, v in spec["where"]
        if not (spec.get("explain") == "errors" and f == "status")
    ]


def dev_call(spec: dict) -> dict:
    """The tool call a perfect model would make for a dev case's expected spec (any of the four forms)."""
    if "list" in spec:
        args = {
            "conditions": _conditions(spec),
            "range": _range_args(spec["range"]),
            "order": {"tokens": "tokens"}.get(spec["list"]["order"], spec["list"]["order"]),
            "limit": spec["list"]["n"],
            "timeZone": None,
        }
        return tool_call("list_requests", args)
    if "explain" in spec:
        args = {
            "measure": spec["explain"],
            "scoreKey": spec.get("score_key"),
            "status": None,
            "conditions": _conditions(spec),
            "range": _range_args(spec["range"]),
            "timeZone": None,
        }
        return tool_call("explain_change", args)
    if "compare" in spec:
        n, unit = spec["compare"]["shift"]
        return tool_call("compare_periods", {"query": dev_args(spec), "shiftN": n, "shiftUnit": unit})
    return tool_call("run_query", dev_args(spec))


def dev_args(spec: dict | None) -> dict:
    """The run_query arguments a perfect model would send for a case's spec."""
    rng = spec["range"]
    blank = {"n": None, "unit": None, "day": None, "start": None, "end": None}
    if rng[0] == "last":
        range_args = {**blank, "kind": "last", "n": rng[1], "unit": rng[2]}
    elif rng[0] == "day":
        range_args = {**blank, "kind": "day", "day": rng[1]}
    elif rng[0] == "between":
        range_args = {**blank, "kind": "between", "start": rng[1] + ":00", "end": rng[2] + ":00"}
    else:
        range_args = {**blank, "kind": rng[0]}
    return {
        "measure": spec["metric"],
        "aggregation": spec.get("agg") or ("avg" if spec["metric"] == "score" else None),
        "scoreKey": spec.get("score_key"),
        "groupBy": spec.get("group"),
        "top": spec.get("top"),
        "bucket": spec.get("bucket"),
        "range": range_args,
        "conditions": [{"field": f, "op": _OPS.get(o, o), "value": v} for f, o, v in spec.get("where", [])],
        "timeZone": spec.get("tz"),
    }


def oracle(wrong: frozenset[str] = frozenset()) -> callable:
    """A script that answers each dev question as the dev set expects (latency instead, for ids in `wrong`)."""
    by_question = {c["question"]: c for c in CASES.values()}

    def script(body: dict) -> dict:
        case = by_question[user_question(body)]
        if case.get("spec") is None:
            return tool_call("ask_clarifying_question", {"question": "Which known model did you mean?"})
        if case["id"] not in wrong:
            return dev_call(case["spec"])
        args = {**dev_args(case["spec"]), "measure": "latency", "aggregation": "max", "scoreKey": None}
        return tool_call("run_query", args)

    return script


D01 = CASES["q01"]
D01_RANGE = dev_args(D01["spec"])["range"]
BAD_D01 = {
    **dev_args(D01["spec"]),
    "aggregation": "p90",
    "bucket": "daily",
    "range": {**dev_args(D01["spec"])["range"], "unit": None},
}


@pytest.fixture
def serve():
    """Start scripted servers; all stopped at the end of the test."""
    servers = []

    def start(script) -> FakeOpenAI:
        servers.append(FakeOpenAI(script).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def planner_for(fake: FakeOpenAI) -> LLMPlanner:
    return LLMPlanner(LLMSettings(base_url=fake.base_url, api_key=SECRET, timeout=10))


def conversation(store, planner, tz=NY) -> Conversation:
    return Conversation(store, planner, MAIN_ORG, tz, NOW, narrator_for(planner))


def ctx_of(store, previous: QuerySpec | None = None) -> Context:
    return Context(now=NOW, tz=NY, vocabulary=store.vocabulary(MAIN_ORG), previous=previous)


# --- the tool schema on the wire ---------------------------------------------------------------------------


def test_strict_tools_and_prompt_on_the_wire(serve, sample_store):
    fake = serve(lambda body: tool_call("run_query", dev_args(D01["spec"])))
    plan = planner_for(fake).plan(D01["question"], ctx_of(sample_store))
    assert plan.status == "ok" and plan.planner == "llm"

    assert fake.paths == ["/v1/chat/completions"]  # Chat Completions, never the Responses API
    sent = fake.requests[0]
    assert sent["tool_choice"] == "required" and sent["parallel_tool_calls"] is False
    assert sent["max_completion_tokens"] > 0 and sent["stream"] is False
    tools = {t["function"]["name"]: t["function"] for t in sent["tools"]}
    assert set(tools) == {
        "run_query",
        "compare_periods",
        "list_requests",
        "explain_change",
        "ask_clarifying_question",
        "refuse",
    }
    for name, function in tools.items():
        assert function["strict"] is True, name
        assert strict_problems(function["parameters"]) == [], name
    params = tools["run_query"]["parameters"]
    assert params["properties"]["range"]["anyOf"][0]["properties"]["kind"]["enum"][:3] == ["last", "today", "yesterday"]
    assert fake.headers[0]["authorization"] == f"Bearer {SECRET}"

    system = sent["messages"][0]
    assert system["role"] == "system"
    prompt = system["content"]
    for needle in (
        "2026-11-24 07:00",
        "Tuesday",
        "America/New_York",
        "gpt-4o-mini",
        "claude-3-5-sonnet-20241022",
        "ANTHROPIC",
        '"customer_tier": ["free", "pro", "enterprise"]',
        "is_correct-hcone-bool",
        "first question of the conversation",
    ):
        assert needle in prompt, needle
    assert sent["messages"][1] == {"role": "user", "content": D01["question"]}


def test_strict_checker_rejects_a_non_strict_schema():
    # QuerySpec's own schema has optional fields and $refs: the tool schema is derived from it in strict form.
    problems = strict_problems(QuerySpec.model_json_schema())
    assert any("required" in p for p in problems) and any("$ref" in p for p in problems)


def test_run_query_schema_is_derived_from_the_symbolic_models():
    tools = {t["function"]["name"]: t["function"] for t in tool_schemas()}
    params = tools["run_query"]["parameters"]
    assert list(params["properties"]) == list(QuerySpec.model_fields) == params["required"]
    rng = params["properties"]["range"]["anyOf"][0]
    assert list(rng["properties"]) == list(TimeRange.model_fields) == rng["required"]
    condition = params["properties"]["conditions"]["items"]
    assert list(condition["properties"]) == list(Condition.model_fields) == condition["required"]
    assert params["properties"]["measure"]["enum"] == list(MEASURES)
    for name, function in tools.items():
        assert function["strict"] is True and strict_problems(function["parameters"]) == [], name


def test_clarify_and_refuse_tools_are_closed_objects():
    for model in (AskClarifyingQuestion, Refuse):
        schema = model.model_json_schema()
        assert schema["additionalProperties"] is False and schema["required"] == list(schema["properties"])


# --- repair loop ---------------------------------------------------------------------------------------------


def test_invalid_call_error_fed_back_then_corrected_query_runs(serve, sample_store, sample_rows):
    def script(body):
        last = last_message(body)
        if last["role"] == "tool" and "bucket" in last["content"] and "'daily'" in last["content"]:
            return tool_call("run_query", dev_args(D01["spec"]))
        return tool_call("run_query", BAD_D01, call_id="call_bad")

    fake = serve(script)
    answer = conversation(sample_store, planner_for(fake)).ask(D01["question"])

    assert answer.status == "ok", answer.message
    assert answer.planner == "llm"
    assert compare_rows(with_data(D01, sample_rows)["data"], answer.to_json()["data"]) == []
    assert len(fake.requests) == 2
    replayed, error = fake.requests[1]["messages"][-2:]
    assert replayed["role"] == "assistant" and replayed["tool_calls"][0]["id"] == "call_bad"
    assert error["role"] == "tool" and error["tool_call_id"] == "call_bad"
    assert "range: a 'last' time range needs unit" in error["content"]
    assert answer.interpretation.startswith("p90 latency · model = gpt-4 · Nov 17 07:00 → Nov 24 07:00")


def test_two_repairs_then_the_user_gets_a_clarifying_question(serve, sample_store):
    fake = serve(lambda body: tool_call("run_query", BAD_D01))
    answer = conversation(sample_store, planner_for(fake)).ask(D01["question"])

    assert answer.status == "clarify" and answer.rows == [] and answer.query is None
    assert len(fake.requests) == 1 + MAX_REPAIRS == 3
    assert [m["role"] for m in fake.requests[-1]["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]
    assert "rephrase" in answer.message


def test_unknown_model_is_fed_back_and_ends_as_the_grounding_question(serve, sample_store):
    gpt5 = {**dev_args(D01["spec"]), "conditions": [{"field": "model", "op": "equals", "value": "gpt-5"}]}
    fake = serve(lambda body: tool_call("run_query", gpt5))
    answer = conversation(sample_store, planner_for(fake)).ask("p90 latency for gpt-5 last week")

    assert answer.status == "clarify" and answer.rows == []
    assert "gpt-5" in answer.message and "Closest known models" in answer.message
    assert "Closest known models" in fake.requests[1]["messages"][-1]["content"]


def test_model_may_answer_a_grounding_error_with_its_own_question(serve, sample_store):
    def script(body):
        if last_message(body)["role"] == "tool":
            return tool_call("ask_clarifying_question", {"question": "Did you mean gpt-4 or gpt-4o?"})
        return tool_call(
            "run_query", {**dev_args(D01["spec"]), "conditions": [{"field": "model", "op": "equals", "value": "gpt-5"}]}
        )

    fake = serve(script)
    answer = conversation(sample_store, planner_for(fake)).ask("p90 latency for gpt-5 last week")
    assert (answer.status, answer.message, answer.planner) == ("clarify", "Did you mean gpt-4 or gpt-4o?", "llm")
    assert len(fake.requests) == 2


def test_malformed_json_and_plain_text_are_repaired(serve, sample_store):
    def script(body):
        turn = sum(m["role"] == "assistant" for m in body["messages"])
        if turn == 0:
            return tool_call("run_query", '{"measure": "latency", ', call_id="call_broken")
        if turn == 1:
            assert last_message(body)["tool_call_id"] == "call_broken"
            return text("The p90 latency was 123 ms.")
        assert last_message(body)["role"] == "user" and "calling one of the tools" in last_message(body)["content"]
        return tool_call("run_query", dev_args(D01["spec"]))

    fake = serve(script)
    answer = conversation(sample_store, planner_for(fake)).ask(D01["question"])
    assert answer.status == "ok", answer.message
    assert "123" not in answer.message  # the model's own number never reaches the user
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"aggregation": "90th"}, "aggregation"),
        (
            {
                "range": {
                    "kind": "since",
                    "n": None,
                    "unit": None,
                    "day": None,
                    "start": "2026-12-01T00:00:00",
                    "end": None,
                }
            },
            "starts after now",
        ),
        ({"range": {**D01_RANGE, "kind": "day", "n": None, "unit": None, "day": "2026-12-01"}}, "starts after now"),
        ({"timeZone": "Mars/Olympus_Mons"}, "unknown time zone"),
        (
            {"conditions": [{"field": "property:environment", "op": "equals", "value": "qa"}]},
            "Known values: production, staging, development",
        ),
        ({"conditions": [{"field": "colour", "op": "equals", "value": "red"}]}, "'colour' is not a filter field"),
        ({"measure": "revenue"}, "measure"),
    ],
)
def test_check_spec_turns_each_problem_into_feedback(sample_store, change, needle):
    with pytest.raises(_Repair) as caught:
        check_spec({**dev_args(D01["spec"]), **change}, ctx_of(sample_store))
    assert needle in caught.value.feedback


def test_check_spec_grounds_names(sample_store):
    args = {
        **dev_args(CASES["q11"]["spec"]),
        "conditions": [{"field": "property:environment", "op": "equals", "value": "prod"}],
    }
    spec, query = check_spec(args, ctx_of(sample_store))
    assert query == spec.to_query(NOW, NY)  # the query that runs is the checked spec's, resolved once
    assert spec.conditions == [Condition(field="property:environment", op="equals", value="production")]


# --- refusal, clarifying question, follow-up ------------------------------------------------------------------


def test_refuse_tool_gives_unsupported_without_a_query(serve, sample_store):
    fake = serve(lambda body: tool_call("refuse", {"reason": "That is not about your request logs."}))
    answer = conversation(sample_store, planner_for(fake)).ask("who won the match between Ajax and PSV?")
    assert answer.status == "unsupported" and answer.rows == [] and answer.query is None
    assert "not about your request logs" in answer.message


def test_clarify_tool_gives_the_models_question(serve, sample_store):
    fake = serve(lambda body: tool_call("ask_clarifying_question", {"question": "Latency or cost?"}))
    answer = conversation(sample_store, planner_for(fake)).ask("how is gpt-4 doing?")
    assert (answer.status, answer.message, answer.rows) == ("clarify", "Latency or cost?", [])


def test_follow_up_sees_the_previous_query(serve, sample_store):
    hourly = {
        **dev_args(D01["spec"]),
        "bucket": "hour",
        "range": {"kind": "last", "n": 24, "unit": "hours", "day": None, "start": None, "end": None},
    }

    def script(body):
        if user_question(body) == "now by hour":
            assert '"value": "gpt-4"' in body["messages"][0]["content"]
            return tool_call("run_query", hourly)
        return tool_call("run_query", dev_args(D01["spec"]))

    fake = serve(script)
    chat = conversation(sample_store, planner_for(fake))
    assert chat.ask(D01["question"]).status == "ok"
    follow = chat.ask("now by hour")
    assert follow.status == "ok" and follow.query.dbIncrement == "hour"
    assert "previous query in this conversation" in fake.requests[1]["messages"][0]["content"]
    assert 20 <= len(follow.rows) <= 25


# --- endpoint failures and configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (http_error(401, f"Incorrect API key provided: {SECRET}"), "rejected the API key"),
        (http_error(404, f"The model does not exist (key {SECRET})"), "HTTP 404"),
    ],
)
def test_endpoint_errors_become_clear_errors_without_the_key(serve, sample_store, reply, needle):
    fake = serve(lambda body: reply)
    answer = conversation(sample_store, planner_for(fake)).ask(D01["question"])
    assert answer.status == "error" and needle in answer.message
    assert SECRET not in answer.message


def test_unreachable_endpoint(sample_store):
    planner = LLMPlanner(LLMSettings(base_url="http://127.0.0.1:9/v1", api_key=SECRET, timeout=2))
    answer = conversation(sample_store, planner).ask(D01["question"])
    assert answer.status == "error" and "cannot reach the LLM endpoint http://127.0.0.1:9/v1" in answer.message


def test_settings_from_env(monkeypatch):
    with pytest.raises(ConfigError, match="OpenAI-compatible endpoint"):
        LLMPlanner.from_env()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    assert LLMPlanner.from_env().settings == LLMSettings(base_url="http://127.0.0.1:1/v1")
    monkeypatch.setenv("HELIQA_LLM_MODEL", "qwen2.5-7b-instruct")
    monkeypatch.setenv("HELIQA_LLM_TIMEOUT", "12.5")
    settings = LLMPlanner.from_env().settings
    assert (settings.model, settings.timeout) == ("qwen2.5-7b-instruct", 12.5)
    monkeypatch.setenv("HELIQA_LLM_MAX_TOKENS", "lots")
    with pytest.raises(ConfigError, match="HELIQA_LLM_MAX_TOKENS"):
        LLMPlanner.from_env()


def test_make_planner_wiring(monkeypatch):
    with pytest.raises(ConfigError):
        make_planner("llm")
    assert make_planner("auto").llm is None
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert isinstance(make_planner("llm"), LLMPlanner)
    auto = make_planner("auto")
    assert isinstance(auto, AutoPlanner) and isinstance(auto.llm, LLMPlanner)


class _Unparsed:
    name = "rules"

    def plan(self, question, ctx):
        return Plan("unparsed", message="no idea", planner="rules")


def test_auto_hands_what_rules_cannot_parse_to_the_llm(serve, sample_store):
    fake = serve(lambda body: tool_call("run_query", dev_args(D01["spec"])))
    answer = conversation(sample_store, AutoPlanner(_Unparsed(), planner_for(fake))).ask("gpt-4 p90 lat, 7d, daily pls")
    assert answer.status == "ok" and answer.planner == "llm" and len(fake.requests) == 1


def test_auto_prefers_rules_and_never_calls_the_llm(serve, sample_store):
    fake = serve(lambda body: pytest.fail("the LLM must not be called"))
    planner = AutoPlanner(make_planner("rules").rules, planner_for(fake))
    answer = conversation(sample_store, planner).ask(D01["question"])
    if answer.planner != "rules":
        pytest.skip("the rules planner does not understand this question yet")
    assert answer.status == "ok" and fake.requests == []


# --- prose: numbers only from rows ---------------------------------------------------------------------------------


def _ok_answer(sample_store) -> Answer:
    spec, _ = check_spec(dev_args(D01["spec"]), ctx_of(sample_store))
    return conversation(sample_store, _Fixed(spec)).ask(D01["question"])


class _Fixed:
    name = "test"

    def __init__(self, spec):
        self.spec = spec

    def plan(self, question, ctx):
        return Plan("ok", spec=self.spec, planner="test")


def peak_of(rows: list[dict]) -> tuple[str, str]:
    """(New York day, value as shown) of the highest row, from the reference's rows."""
    top = max(rows, key=lambda r: r["value"])
    day = reference.parse(top["bucket"]) - timedelta(hours=5)
    return day.strftime("%b %d"), f"{round(top['value']):,} ms"


def test_narration_is_used_only_when_grounded(serve, sample_store, sample_rows):
    answer = _ok_answer(sample_store)
    day, shown = peak_of(with_data(D01, sample_rows)["data"])
    good = f"Latency for gpt-4 peaked at {shown} on {day}."
    invented = round(max(r.value for r in answer.rows)) + 516
    bad = f"P90 latency for gpt-4 peaked at {invented:,} ms on {day}, up 87% week over week."

    fake = serve(lambda body: text(good if f"{day} | - | {shown}" in body["messages"][1]["content"] else "?"))
    assert planner_for(fake).narrate(D01["question"], answer) == good
    assert "tools" not in fake.requests[0]

    fake = serve(lambda body: text(bad))
    assert planner_for(fake).narrate(D01["question"], answer) == answer.message != bad


def test_grounded_summary_falls_back_on_any_new_number():  # the numbers here are hand-made rows
    from heliqa.tools.query import MetricsQuery, TimeFilter

    query = MetricsQuery(measure="requests", timeFilter=TimeFilter(start="2026-11-23T12:00:00Z", end=SAMPLE_NOW))
    answer = Answer("ok", "Requests: 2,303.", query=query, rows=[Row(None, None, 2303.0)])
    assert grounded_summary("There were 2,303 requests.", answer) == "There were 2,303 requests."
    assert grounded_summary("There were 2,304 requests.", answer) == "Requests: 2,303."


# --- CLI: ask --planner llm, eval, and the lazy import -----------------------------------------------------------


def _env(sample_home, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LANGSMITH_", "LANGCHAIN_"))}
    return {**env, "HELIQA_HOME": str(sample_home), "HELIQA_ORG_ID": MAIN_ORG, **extra}


def test_cli_ask_planner_llm_end_to_end(serve, sample_home, sample_rows):
    fake = serve(oracle())
    env = _env(sample_home, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY=SECRET)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "heliqa.cli",
            "ask",
            "--json",
            "--planner",
            "llm",
            "--now",
            SAMPLE_NOW,
            "--tz",
            "America/New_York",
            "--",
            D01["question"],
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "ok" and compare_rows(with_data(D01, sample_rows)["data"], out["data"]) == []
    assert out["request"]["timeZoneDifference"] == 300
    assert SECRET not in proc.stdout + proc.stderr
    assert len(fake.requests) == 1


def test_cli_llm_without_endpoint_is_a_clear_error(sample_home, monkeypatch, capsys, tmp_path):
    from heliqa.cli import main

    monkeypatch.setenv("HELIQA_HOME", str(sample_home))
    code = main(["ask", "--planner", "llm", "--org", MAIN_ORG, "p90 latency"])
    err = capsys.readouterr().err
    assert code == 2 and "OPENAI_API_KEY" in err and "Traceback" not in err
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(D01) + "\n")
    assert main(["eval", str(cases), "--org", MAIN_ORG]) == 2
    assert "needs an OpenAI-compatible endpoint" in capsys.readouterr().err


_NO_LANGCHAIN = """
import sys
from heliqa.cli import main
import heliqa.agent.llm  # the LLM planner's module itself must not pull langchain in
code = main(sys.argv[1:])
heavy = ('langchain', 'langchain_core', 'langchain_openai', 'langgraph', 'openai')
loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)
print('LOADED', loaded)
sys.exit(code if not loaded else 99)
"""


def test_rules_path_never_imports_langchain(sample_home):
    env = _env(sample_home, OPENAI_API_KEY=SECRET)  # an endpoint is configured, yet unused
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _NO_LANGCHAIN,
            "ask",
            "--json",
            "--planner",
            "rules",
            "--now",
            SAMPLE_NOW,
            "--tz",
            "UTC",
            "--",
            "how many requests yesterday",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert "LOADED []" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode in (0, 3), proc.stderr


def _eval_args(cases) -> argparse.Namespace:
    return argparse.Namespace(cases=str(cases), org=MAIN_ORG, tz=None, now=None, backend=None)


def write_cases(path, ids, rows) -> None:
    path.write_text("".join(json.dumps(with_data(CASES[i], rows)) + "\n" for i in ids))


def test_eval_scores_the_question_set_through_the_llm_planner(
    serve, sample_home, sample_rows, monkeypatch, capsys, tmp_path
):
    from heliqa.agent.evaluate import run_eval

    write_cases(tmp_path / "cases.jsonl", CASES, sample_rows)
    fake = serve(oracle())
    monkeypatch.setenv("HELIQA_HOME", str(sample_home))
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    assert run_eval(_eval_args(tmp_path / "cases.jsonl")) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"{len(CASES)} passed, 0 failed"
    # The out-of-scope cases are refused before any model call; everything else reached the model.
    assert len(fake.requests) == len(CASES) - len(REFUSED_BEFORE_ANY_MODEL_CALL)


def test_eval_counts_wrong_answers(serve, sample_home, sample_rows, monkeypatch, capsys, tmp_path):
    from heliqa.agent.evaluate import run_eval

    subset = tmp_path / "cases.jsonl"
    write_cases(subset, ("q02", "q03", "q07", "q22"), sample_rows)
    fake = serve(oracle(wrong=frozenset({"q03", "q07"})))
    monkeypatch.setenv("HELIQA_HOME", str(sample_home))
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    assert run_eval(_eval_args(subset)) == 1
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "2 passed, 2 failed"
    assert "FAIL q03" in out and "FAIL q07" in out and "FAIL q02" not in out


def test_eval_rejects_a_bad_cases_file(monkeypatch, tmp_path):
    from heliqa.agent.evaluate import run_eval

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "expect": "ok"}\nnot json\n')
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="bad.jsonl:2 is not valid JSON"):
        run_eval(_eval_args(bad))


def test_conversation_narrates_llm_answers_only_when_asked(serve, sample_store, sample_rows, monkeypatch):
    day, shown = peak_of(with_data(D01, sample_rows)["data"])
    sentence = f"Latency for gpt-4 peaked at {shown} on {day}."

    def script(body):
        if body.get("tools"):
            return tool_call("run_query", dev_args(D01["spec"]))
        return text(sentence)

    fake = serve(script)
    plain = conversation(sample_store, planner_for(fake)).ask(D01["question"])
    assert plain.status == "ok" and plain.message != sentence
    assert len(fake.requests) == 1  # no prose call unless HELIQA_LLM_SUMMARY is set

    monkeypatch.setenv("HELIQA_LLM_SUMMARY", "1")
    narrated = conversation(sample_store, planner_for(fake)).ask(D01["question"])
    assert narrated.message == sentence
    assert [bool(r.get("tools")) for r in fake.requests[1:]] == [True, False]


def test_warm_up_loads_only_a_configured_llm():
    from heliqa.agent.factory import warm_up
    from heliqa.agent.rules import RulesPlanner

    calls = []

    class CountingLLM:
        name = "llm"

        def warm_up(self):
            calls.append("llm")

    warm_up(AutoPlanner(RulesPlanner(), CountingLLM()))
    warm_up(CountingLLM())
    warm_up(AutoPlanner(RulesPlanner(), None))
    warm_up(make_planner("rules"))
    assert calls == ["llm", "llm"]
