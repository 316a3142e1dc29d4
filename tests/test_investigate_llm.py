"""The LLM planner's compare / list / explain tools through the real langchain + ChatOpenAI code against a
scripted local server, on the planted-incident data of test_investigate."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.llm import LLMPlanner, LLMSettings
from heliqa.tools.store import Store
from tests.fake_openai import FakeOpenAI, last_message, strict_problems, tool_call, user_question
from tests.test_investigate import END, ORG, _rows

BLANK_RANGE = {"n": None, "unit": None, "day": None, "start": None, "end": None}
TODAY = {**BLANK_RANGE, "kind": "today"}
YESTERDAY = {**BLANK_RANGE, "kind": "yesterday"}
COST_BY_MODEL = {
    "measure": "cost",
    "aggregation": None,
    "scoreKey": None,
    "groupBy": "model",
    "top": None,
    "bucket": None,
    "range": TODAY,
    "conditions": [],
    "timeZone": None,
}
# question -> the tool call a good model makes, and the same question as the rules planner reads it
CALLS = {
    "how does spend per model today compare with the same time yesterday": (
        tool_call("compare_periods", {"query": COST_BY_MODEL, "shiftN": 1, "shiftUnit": "days"}),
        "cost by model today vs yesterday",
    ),
    "give me the three priciest gpt-4o calls from yesterday": (
        tool_call(
            "list_requests",
            {
                "conditions": [{"field": "model", "op": "equals", "value": "gpt-4o"}],
                "range": YESTERDAY,
                "order": "cost",
                "limit": 3,
                "timeZone": None,
            },
        ),
        "list the 3 most expensive gpt-4o requests yesterday",
    ),
    "our bill blew up yesterday, what's behind it": (
        tool_call(
            "explain_change",
            {
                "measure": "cost",
                "scoreKey": None,
                "status": None,
                "conditions": [],
                "range": YESTERDAY,
                "timeZone": None,
            },
        ),
        "why did we spend so much yesterday?",
    ),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("investigate-llm") / "heliqa.duckdb")
    store.add_rows(_rows())
    yield store
    store.close()


@pytest.fixture
def fake():
    server = FakeOpenAI(lambda body: CALLS[user_question(body)][0]).start()
    yield server
    server.stop()


def _planner(fake: FakeOpenAI) -> LLMPlanner:
    return LLMPlanner(LLMSettings(base_url=fake.base_url, api_key="sk-test-investigate", timeout=10))


def test_form_tools_are_strict_on_the_wire(store, fake):
    Conversation(store, _planner(fake), ORG, ZoneInfo("UTC"), END).ask(next(iter(CALLS)))
    tools = {t["function"]["name"]: t["function"] for t in fake.requests[0]["tools"]}
    for name in ("compare_periods", "list_requests", "explain_change"):
        assert tools[name]["strict"] is True
        assert strict_problems(tools[name]["parameters"]) == [], name
    assert "compare_periods" in fake.requests[0]["messages"][0]["content"]


@pytest.mark.parametrize("question", list(CALLS))
def test_each_form_tool_answers_like_the_rules_planner(store, fake, question):
    got = Conversation(store, _planner(fake), ORG, ZoneInfo("UTC"), END).ask(question).to_json()
    want = Conversation(store, make_planner("rules"), ORG, ZoneInfo("UTC"), END).ask(CALLS[question][1]).to_json()
    assert got["status"] == want["status"] == "ok", got["message"]
    assert got["kind"] == want["kind"] != "aggregate"
    assert got["data"] == want["data"] and got.get("window") == want.get("window")


def test_a_bad_form_call_is_repaired(store):
    calls = []

    def script(body: dict) -> dict:
        calls.append(body)
        if len(calls) == 1:
            return tool_call(
                "list_requests",
                {
                    **json.loads(
                        CALLS["give me the three priciest gpt-4o calls from yesterday"][0]["tool_calls"][0]["function"][
                            "arguments"
                        ]
                    ),
                    "limit": 500,
                },
            )
        return CALLS["give me the three priciest gpt-4o calls from yesterday"][0]

    server = FakeOpenAI(script).start()
    try:
        answer = Conversation(store, _planner(server), ORG, ZoneInfo("UTC"), END).ask("the priciest gpt-4o calls")
    finally:
        server.stop()
    assert answer.status == "ok" and answer.kind == "list" and len(answer.rows) == 3
    feedback = last_message(calls[1])
    assert feedback["role"] == "tool" and "limit" in feedback["content"]
