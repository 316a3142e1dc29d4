"""The seeded generator behind `heliqa demo` and the tests' sample: deterministic, with every planted incident."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heliqa.tools.demo import (
    ACME_BIG_SPENDER,
    ACME_ORG,
    DEMO_ORG,
    LAUNCHED,
    POWER_USER,
    AcmeIncidents,
    Incidents,
    fill_demo,
    generate,
)
from heliqa.tools.store import Store
from tests import reference
from tests.conftest import MAIN_ORG, NOW, OTHER_ORG, SAMPLE_ORGS

WHEN = Incidents(NOW)


def value(rows, start, end, **ask) -> float | None:
    """One number from the reference evaluator over the main organization's rows in [start, end]."""
    [row] = reference.expected(rows, MAIN_ORG, reference.Ask(start=start, end=end, **ask))
    return row["value"]


def test_same_seed_same_rows_other_seed_other_rows():
    first = list(generate(300, 5, NOW))
    assert first == list(generate(300, 5, NOW))
    assert [r["request_id"] for r in first] != [r["request_id"] for r in generate(300, 6, NOW)]
    assert all(NOW - timedelta(days=30) <= reference.parse(r["request_created_at"]) < NOW for r in first)


def test_the_sample_has_two_organizations_and_every_dimension(sample_rows):
    by_org = {org: sum(1 for r in sample_rows if r["organization_id"] == org) for org in (MAIN_ORG, OTHER_ORG)}
    assert by_org == SAMPLE_ORGS
    assert {r["status"] for r in sample_rows} == {200, 400, 429, 500}
    assert {r["provider"] for r in sample_rows} == {"OPENAI", "ANTHROPIC", "GOOGLE", "TOGETHER"}
    assert any(r["user_id"] == "" for r in sample_rows) and any(r["time_to_first_token"] is None for r in sample_rows)
    assert any(r["threat"] for r in sample_rows) and any("customer_tier" not in r["properties"] for r in sample_rows)
    keys = {k for r in sample_rows for k in r["scores"]}
    assert keys == {"accuracy", "helpfulness", "is_correct-hcone-bool", "helicone-score-feedback"}
    properties = {k for r in sample_rows for k in r["properties"]}
    assert properties == {"environment", "feature", "customer_tier", "prompt_version"}


def test_gpt4_latency_incident(sample_rows):
    start, end = WHEN.slow_gpt4
    gpt4 = {"metric": "latency", "agg": "p90", "where": (("model", "eq", "gpt-4"),)}
    during = value(sample_rows, start, end - timedelta(milliseconds=1), **gpt4)
    day_before = value(sample_rows, start - timedelta(days=1), end - timedelta(days=1), **gpt4)
    assert during > 2 * day_before


def test_anthropic_rate_limit_storm(sample_rows):
    start, end = WHEN.storm
    anthropic = {"metric": "error_rate", "where": (("provider", "eq", "ANTHROPIC"),)}
    assert value(sample_rows, start, end - timedelta(milliseconds=1), **anthropic) > 50
    assert value(sample_rows, start - timedelta(days=2), start - timedelta(days=1), **anthropic) < 10
    storm_429s = value(sample_rows, start, end, metric="requests", where=(("status", "eq", 429),))
    assert storm_429s >= 10


def test_prompt_change_hurt_the_support_bot(sample_rows):
    start, end = WHEN.prompt
    versions = reference.expected(
        sample_rows,
        MAIN_ORG,
        reference.Ask(
            metric="score", score_key="accuracy", group="property:prompt_version", start=NOW - timedelta(60), end=NOW
        ),
    )
    accuracy = {r["group"]: r["value"] for r in versions}
    assert accuracy["v13"] < accuracy["v12"] - 10
    v13 = [
        reference.parse(r["request_created_at"]) for r in sample_rows if r["properties"].get("prompt_version") == "v13"
    ]
    assert v13 and all(start <= at < end for at in v13)
    assert all(r["properties"]["feature"] == "support-bot" for r in sample_rows if "prompt_version" in r["properties"])


def test_power_user_cost_spike(sample_rows):
    start, end = WHEN.spend
    theirs = {"metric": "cost", "where": (("user", "eq", POWER_USER),)}
    spike = value(sample_rows, start, end - timedelta(milliseconds=1), **theirs)
    assert spike > 10 * value(sample_rows, start - timedelta(days=1), end - timedelta(days=1), **theirs)
    everyone = value(sample_rows, start, end - timedelta(milliseconds=1), metric="cost")
    assert spike > everyone / 2  # the spike is most of that window's spend


def test_model_launched_mid_range(sample_rows):
    launch = NOW - LAUNCHED["gpt-4.1"]
    gpt41 = {"metric": "requests", "where": (("model", "eq", "gpt-4.1"),)}
    assert value(sample_rows, NOW - timedelta(days=60), launch - timedelta(milliseconds=1), **gpt41) == 0
    assert value(sample_rows, launch, NOW, **gpt41) > 100


def test_fill_demo_loads_the_demo_organization(tmp_path, monkeypatch):
    monkeypatch.delenv("HELIQA_ORG_ID", raising=False)
    store = Store(tmp_path / "heliqa.duckdb")
    assert fill_demo(store, rows=500, seed=3, now=NOW) == 500
    assert store.organizations() == {DEMO_ORG: 500}
    assert fill_demo(store, rows=500, seed=3, now=NOW) == 0  # the same seed again adds nothing new
    store.close()


# --- the second vocabulary ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def acme_rows() -> list[dict]:
    """The second vocabulary's organization over 30 days, as `heliqa demo --vocabulary acme` makes it."""
    return [dict(r, organization_id=MAIN_ORG) for r in generate(12_000, 5, NOW, vocabulary="acme")]


def _names(rows: list[dict]) -> dict[str, set[str]]:
    """Every name a question could use: models, providers, users, property keys and values, score keys."""
    return {
        "models": {r["model"] for r in rows},
        "providers": {r["provider"] for r in rows},
        "users": {r["user_id"] for r in rows} - {""},
        "keys": {k for r in rows for k in r["properties"]},
        "values": {v for r in rows for v in r["properties"].values()},
        "scores": {k for r in rows for k in r["scores"]},
    }


def test_the_second_vocabulary_shares_no_name_with_the_sample(sample_rows, acme_rows):
    acme, sample = _names(acme_rows), _names(sample_rows)
    assert acme["keys"] == {"team", "app", "route", "region", "customer", "deployment"}
    assert {"bob", "alice@acme.io", "carol.smith"} <= acme["users"]
    assert acme["providers"] == {"GROQ", "MISTRAL", "DEEPSEEK", "COHERE", "AZURE"}
    every_sample_name = set().union(*sample.values())
    assert all(not (names & every_sample_name) for names in acme.values()), acme


def test_the_second_vocabulary_has_incidents_of_its_own(acme_rows):
    when = AcmeIncidents(NOW)
    start, end = when.groq_outage
    groq = {"metric": "error_rate", "where": (("provider", "eq", "GROQ"),)}
    assert value(acme_rows, start, end - timedelta(milliseconds=1), **groq) > 50
    assert value(acme_rows, start - timedelta(days=1), end - timedelta(days=1), **groq) < 10
    start, end = when.slow_reasoner
    reasoner = {"metric": "latency", "agg": "p90", "where": (("model", "eq", "deepseek-reasoner"),)}
    during = value(acme_rows, start, end - timedelta(milliseconds=1), **reasoner)
    assert during > 2.5 * value(acme_rows, start - timedelta(days=1), end - timedelta(days=1), **reasoner)
    start, end = when.spend
    theirs = {"metric": "cost", "where": (("user", "eq", ACME_BIG_SPENDER),)}
    assert value(acme_rows, start, end, **theirs) > value(acme_rows, start, end, metric="cost") / 2


def test_an_unknown_vocabulary_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown vocabulary 'nope'; use one of sample, acme"):
        list(generate(10, 1, NOW, vocabulary="nope"))


def test_demo_fills_the_second_vocabulary(tmp_path, monkeypatch):
    monkeypatch.delenv("HELIQA_ORG_ID", raising=False)
    store = Store(tmp_path / "heliqa.duckdb")
    assert fill_demo(store, rows=300, seed=3, now=NOW, vocabulary="acme") == 300
    vocab = store.vocabulary(ACME_ORG)
    assert set(vocab.properties) == {"team", "app", "route", "region", "customer", "deployment"}
    assert store.vocabulary(DEMO_ORG).properties == {}  # its own organization: the sample's stays apart
    store.close()


def test_fill_demo_reports_its_progress_batch_by_batch(tmp_path):
    seen = []
    store = Store(tmp_path / "heliqa.duckdb")
    assert (
        fill_demo(store, rows=60_000, seed=3, now=NOW, progress=lambda done, rows: seen.append((done, rows))) == 60_000
    )
    assert seen == [(50_000, 60_000), (60_000, 60_000)]
