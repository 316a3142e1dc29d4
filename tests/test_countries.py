"""A country the organization never logged is asked back; one it logged is answered, 0 included, on both
vocabularies, whole question, and on the real store."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest

from heliqa.agent.check import check
from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.grounding import ground
from heliqa.agent.planner import Context
from heliqa.agent.rules import RulesPlanner
from heliqa.agent.spec import Condition, QuerySpec
from heliqa.tools.demo import generate
from heliqa.tools.errors import Clarify
from heliqa.tools.results import Vocabulary
from heliqa.tools.store import Store
from tests import corpus
from tests.conftest import NOW

PLANNER = RulesPlanner()


def _plan(question: str, vocabulary: str) -> tuple[str, QuerySpec | None, str]:
    """(status, spec, message) of the question planned and checked as the agent does before it runs."""
    ctx = Context(now=corpus.NOW, tz=ZoneInfo("UTC"), vocabulary=corpus.vocabulary(vocabulary))
    result = PLANNER.plan(question, ctx)
    if result.status != "ok":
        return result.status, None, result.message
    try:
        return "ok", check(result.spec, ctx)[0], ""
    except Clarify as asked:
        return "clarify", None, str(asked)


# The sample logs Japan but not Canada, the second vocabulary Canada but not Japan.
@pytest.mark.parametrize(
    ("question", "code", "logged_by", "absent_from"),
    [
        ("error rate in Japan", "JP", "sample", "acme"),
        ("how many requests from Canada", "CA", "acme", "sample"),
    ],
)
def test_a_country_never_logged_is_asked_back_a_logged_one_answered(question, code, logged_by, absent_from):
    status, spec, message = _plan(question, logged_by)
    assert status == "ok", message
    assert [c.model_dump(mode="json") for c in spec.conditions] == [{"field": "country", "op": "equals", "value": code}]
    status, spec, message = _plan(question, absent_from)
    assert status == "clarify", (status, spec)
    name = {"JP": "Japan", "CA": "Canada"}[code]
    assert f"No requests from {name} ({code}) in this organization's data" in message
    seen = message.split("countries seen: ")[1]
    assert all(f"({c})" in seen for c in corpus.vocabulary(absent_from).countries), message
    assert f"({code})" not in seen


def test_one_absent_country_among_several_is_asked_back():
    status, spec, _ = _plan("requests from Canada vs Spain", "acme")
    assert status == "ok" and spec.conditions == [Condition(field="country", op="in", value=["CA", "ES"])]
    status, _, message = _plan("requests from Canada vs Japan", "acme")
    assert status == "clarify" and "Japan (JP)" in message


def test_grounding_fixes_the_case_and_keeps_todays_answer_where_countries_are_unknown():
    spec = QuerySpec(measure="requests", conditions=[Condition(field="country", op="equals", value="jp")])
    assert ground(spec, Vocabulary(countries={"JP": 3})).conditions[0].value == "JP"
    # Helicone's REST API lists no countries: the filter is not checked, as before
    assert ground(spec, Vocabulary()).conditions[0].value == "jp"
    with pytest.raises(Clarify, match=r"No requests from Japan \(JP\).*countries seen: none recorded"):
        ground(spec, Vocabulary(countries={}))
    # a negation excludes nothing that was never logged: answered exactly
    negated = spec.model_copy(update={"conditions": [Condition(field="country", op="not-equals", value="JP")]})
    assert ground(negated, Vocabulary(countries={"US": 1})).conditions[0].value == "JP"


@pytest.fixture(scope="module")
def acme_store(tmp_path_factory):
    """The second vocabulary's organization over 5 days, where Canada sent nothing on the last day."""
    last_day = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = [
        r
        for r in generate(1500, 7, NOW, days=5, vocabulary="acme")
        if not (r["country_code"] == "CA" and r["request_created_at"] >= last_day.strftime("%Y-%m-%dT%H:%M:%S"))
    ]
    path = tmp_path_factory.mktemp("countries") / "heliqa.duckdb"
    store = Store(path)
    store.add_rows(rows)
    store.close()
    return path, rows


def _ask(path, question):
    store = Store(path, read_only=True)
    try:
        org = store.resolve_org(None)
        return Conversation(store, make_planner("rules"), org, ZoneInfo("UTC"), NOW).ask(question)
    finally:
        store.close()


def test_on_the_store_an_absent_country_is_asked_back_and_a_logged_one_with_no_requests_is_zero(acme_store):
    path, rows = acme_store
    asked = _ask(path, "how many requests from Japan today")
    assert asked.status == "clarify" and asked.rows == []
    assert "No requests from Japan (JP)" in asked.message and "Canada (CA)" in asked.message
    zero = _ask(path, "how many requests from Canada today")
    assert zero.status == "ok", zero.message
    assert [r.value for r in zero.rows] == [0] and "No request in that time range has country = CA" in zero.message
    yesterday = (NOW - timedelta(days=1)).date().isoformat()
    want = sum(1 for r in rows if r["country_code"] == "CA" and r["request_created_at"].startswith(yesterday))
    counted = _ask(path, "how many requests from Canada yesterday")
    assert want > 0 and sum(r.value for r in counted.rows) == want


def test_a_store_written_before_countries_were_listed_lists_them_when_opened(acme_store, tmp_path):
    path, rows = acme_store
    copy = tmp_path / "older.duckdb"
    copy.write_bytes(path.read_bytes())
    with duckdb.connect(str(copy)) as con:
        con.execute("DELETE FROM vocabulary WHERE kind = 'country'")
    expected = {c: sum(1 for r in rows if r["country_code"] == c) for c in {r["country_code"] for r in rows}}
    # read-only, before any write re-derives the vocabulary: counted from the requests
    reader = Store(copy, read_only=True)
    try:
        assert reader.vocabulary(reader.resolve_org(None)).countries == expected
    finally:
        reader.close()
    # the next write lists them all again (it adds only its own rows' counts to a vocabulary it trusts)
    extra = dict(rows[0], request_id="00000000-0000-4000-8000-00000000c0de")
    expected[extra["country_code"]] += 1
    store = Store(copy)
    try:
        assert store.add_rows([extra]) == 1
    finally:
        store.close()
    with duckdb.connect(str(copy), read_only=True) as con:
        listed = dict(con.execute("SELECT name, n FROM vocabulary WHERE kind = 'country'").fetchall())
    assert listed == expected
