"""A latency question with no scope finds an incident of one model that the overall p90 hides, and names that model.

On `heliqa demo`'s data of both vocabularies (generated here, 50,000 rows over 30 days): the sample's gpt-4 and
the second organization's deepseek-reasoner slow down for 6 hours, each a small share of the traffic. The overall
p90 moves for at most part of those hours (or somewhere else), so "why is everything slow" judges each busy model's
and provider's latency too, as "what happened" does, and the series' own value leads the drivers (a provider's one
model before the provider, when every slow request is that model's).
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from benchmarks.incidents import DAYS, END, ROWS, SEED
from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.tools.demo import AcmeIncidents, Incidents, demo_org, generate
from heliqa.tools.filters import parse_instant
from heliqa.tools.store import Store

# vocabulary -> (the planted slow model's span, the model)
PLANTED = {
    "sample": (Incidents(END).slow_gpt4, "gpt-4"),
    "acme": (AcmeIncidents(END).slow_reasoner, "deepseek-reasoner"),
}


@pytest.fixture(scope="module", params=sorted(PLANTED))
def demo(request, tmp_path_factory):
    vocabulary = request.param
    path = tmp_path_factory.mktemp(f"demo-{vocabulary}") / "heliqa.duckdb"
    store = Store(path)
    org = demo_org(vocabulary)
    store.add_rows(list(generate(ROWS, SEED, END, org, DAYS, vocabulary=vocabulary)))
    store.close()
    store = Store(path, read_only=True)
    yield vocabulary, store, org
    store.close()


@pytest.mark.parametrize(
    ("question", "after"),
    [
        ("why is the api slow", 0.8),  # while it is under way
        ("what's making everything slow?", 0.8),
        ("why was latency so high", 1.1),  # a little after it ended
    ],
)
def test_an_unscoped_latency_question_finds_one_models_incident(demo, question, after):
    vocabulary, store, org = demo
    (start, end), model = PLANTED[vocabulary]
    now = start + (end - start) * after
    answer = Conversation(store, make_planner("rules"), org, ZoneInfo("UTC"), now).ask(question).to_json()
    assert answer["status"] == "ok" and answer["kind"] == "explain", answer["message"]
    first = answer["data"][0]
    assert (first["dimension"], first["value"]) == ("model", model), answer["message"]
    assert first["current"] == pytest.approx(1.0) and first["baseline"] < 0.5
    window = parse_instant(answer["window"]["start"]), parse_instant(answer["window"]["end"])
    planted = start, min(end, now)
    overlap = min(window[1], planted[1]) - max(window[0], planted[0])
    assert overlap >= 0.8 * (planted[1] - planted[0]), (answer["window"], answer["message"])
    assert window[1] - window[0] <= 1.5 * (planted[1] - planted[0]) + timedelta(hours=1)
    assert f"model {model}" in answer["message"]
