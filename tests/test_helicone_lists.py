"""Request lists on the Helicone REST backend, against the fake Helicone's request query endpoint (limit <= 1000,
its sort keys, ties in a fresh random order on every call).

Rows come from the demo generator plus planted ties; every expected list is sorted here from the generator's
own rows (largest first, ties by request_id), never through heliqa's code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.tools import helicone_lists
from heliqa.tools.demo import generate
from heliqa.tools.errors import NotAvailable
from heliqa.tools.helicone import EU_DASHBOARD_URL, HeliconeBackend, HeliconeClient, dashboard_for
from heliqa.tools.investigate import ListQuery, ScoreBelow
from heliqa.tools.query import TimeFilter
from heliqa.tools.store import Store
from tests.fake_helicone import QUERY_PATH, FakeHelicone, Reply, RequestLog, helicone_row, serve_requests

ORG = "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
KEY = "sk-helicone-lists00-1111111-2222222-3333333"
END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
START = END - timedelta(days=2)
TIE_AT = END - timedelta(minutes=5, milliseconds=250)  # 30 requests logged in the same millisecond


def _at(row: dict) -> datetime:
    return datetime.fromisoformat(row["request_created_at"].replace("Z", "+00:00")).astimezone(UTC)


def _rows() -> list[dict]:
    """1,500 demo requests over two days, with ties planted at the top of every order."""
    rows = list(generate(1_500, 21, END, ORG, days=2))
    top_latency = max(r["latency"] for r in rows) + 1
    top_tokens = max(r["total_tokens"] for r in rows) + 1
    top_cost = max(r["cost"] for r in rows) + 0.5
    for i, r in enumerate(rows[:120]):
        if i < 30:
            r["request_created_at"] = TIE_AT.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        elif i < 60:
            r["latency"] = top_latency
        elif i < 90:
            r["prompt_tokens"], r["completion_tokens"] = top_tokens - 100, 100
            r["total_tokens"] = top_tokens
        else:
            r["cost"] = top_cost
    return rows


ROWS = _rows()
KEYS = {
    "newest": lambda r: _at(r),
    "latency": lambda r: r["latency"],
    "tokens": lambda r: r["total_tokens"],
    "cost": lambda r: r["cost"],
}


def expected(rows: list[dict], order: str, n: int, keep=lambda r: True) -> list[str]:
    """The top n request ids, computed from the generator's rows: largest first, ties by request_id."""
    inside = [r for r in rows if START <= _at(r) <= END and keep(r)]
    ranked = sorted(inside, key=lambda r: r["request_id"])
    ranked.sort(key=KEYS[order], reverse=True)
    return [r["request_id"] for r in ranked[:n]]


def served(rows: list[dict]) -> list[dict]:
    """Rows as Helicone's endpoint sends them, with the request body it keeps in ClickHouse (parsed JSON)."""
    out = []
    for r in rows:
        row = helicone_row(r)
        row["request_body"] = json.loads(r["request_body"])
        out.append(row)
    return out


def query(order: str, n: int, user_filter="all", **extra) -> ListQuery:
    start, end = START.isoformat().replace("+00:00", "Z"), END.isoformat().replace("+00:00", "Z")
    return ListQuery(timeFilter=TimeFilter(start=start, end=end), userFilter=user_filter, order=order, limit=n, **extra)


@pytest.fixture
def fake():
    with FakeHelicone(KEY) as server:
        yield server


def backend(fake: FakeHelicone, **kwargs) -> HeliconeBackend:
    return HeliconeBackend(HeliconeClient(KEY, fake.url, timeout=5.0, retries=0), **kwargs)


@pytest.mark.parametrize("order", ["newest", "latency", "tokens", "cost"])
@pytest.mark.parametrize("n", [10, 45])
def test_each_order_is_exact_despite_reshuffled_ties(fake, order, n):
    serve_requests(fake, RequestLog(rows=served(ROWS), seed=n))
    helicone = backend(fake)
    want = expected(ROWS, order, n)
    planted = {"newest": ROWS[:30], "latency": ROWS[30:60], "tokens": ROWS[60:90], "cost": ROWS[90:120]}[order]
    overlap = len(set(want) & {r["request_id"] for r in planted})
    assert 0 < overlap < 30 if n == 10 else overlap == 30  # the list ends inside the tie, or just past it
    for _ in range(3):  # the fake orders the ties differently on every call
        got = helicone.list_requests(query(order, n), ORG)
        assert [r.request_id for r in got] == want
    sorts = [body["sort"] for body in fake.bodies(QUERY_PATH)]
    if order == "cost":  # Helicone cannot sort by cost: the range (1,500 requests) is read whole, by time
        assert all(s == {"created_at": "asc"} for s in sorts)
        assert len(fake.bodies("/v1/metrics/totalRequests")) == 3
    else:
        key = {"newest": "created_at", "latency": "latency", "tokens": "total_tokens"}[order]
        assert all(s == {key: "desc"} for s in sorts) and len(sorts) == 3  # one page each time: ties end in it
        assert all(body["limit"] <= 1000 and body["offset"] == 0 for body in fake.bodies(QUERY_PATH))


def test_rows_carry_the_fields_a_snippet_and_a_link(fake):
    serve_requests(fake, RequestLog(rows=served(ROWS)))
    got = backend(fake).list_requests(query("latency", 3), ORG)
    by_id = {r["request_id"]: r for r in ROWS}
    for row in got:
        source = by_id[row.request_id]
        assert row.to_json() == {
            "request_id": source["request_id"],
            "created_at": _at(source).strftime("%Y-%m-%dT%H:%M:%S.") + f"{_at(source).microsecond // 1000:03d}Z",
            "model": source["model"],
            "provider": source["provider"],
            "status": source["status"],
            "latency_ms": source["latency"],
            "total_tokens": source["total_tokens"],
            "cost": source["cost"],
            "user_id": source["user_id"],
        }
        content = json.loads(source["request_body"])["messages"][-1]["content"]
        assert row.prompt == (content if len(content) <= 80 else content[:79] + "…")
        assert row.link == f"https://us.helicone.ai/requests?requestId={source['request_id']}"


def test_a_body_kept_in_object_storage_gives_no_snippet(fake):
    serve_requests(fake, RequestLog(rows=[helicone_row(r) for r in ROWS]))  # Helicone's placeholder bodies
    got = backend(fake).list_requests(query("newest", 5), ORG)
    assert [r.request_id for r in got] == expected(ROWS, "newest", 5)
    assert all(r.prompt == "" for r in got)


def test_long_prompt_is_cut_to_80_characters(fake):
    row = dict(ROWS[500], request_body=json.dumps({"messages": [{"role": "user", "content": "word " * 100}]}))
    serve_requests(fake, RequestLog(rows=served([row])))
    (got,) = backend(fake).list_requests(query("newest", 5), ORG)
    assert len(got.prompt) == 80 and got.prompt.startswith("word word") and got.prompt.endswith("…")


def test_filters_reach_helicone_and_the_answer_is_exact(fake):
    serve_requests(fake, RequestLog(rows=served(ROWS)))
    from heliqa.tools.filters import all_of, leaf

    node = all_of([leaf("provider", "equals", "OPENAI"), leaf("status", "equals", 200)])
    got = backend(fake).list_requests(query("tokens", 12, node), ORG)
    keep = lambda r: r["provider"] == "OPENAI" and r["status"] == 200  # noqa: E731
    assert [r.request_id for r in got] == expected(ROWS, "tokens", 12, keep)


def test_more_ties_than_a_page_are_read_whole_across_pages(fake):
    """1,300 requests tie on latency at the top: no page of 1,000 shows where the tie ends, so the range is read
    by time in pages of 1,000 and sorted here; the answer is the tie's smallest request_ids."""
    rows = list(generate(2_500, 22, END, ORG, days=2))
    for r in rows[:1_300]:
        r["latency"] = 99_999
    serve_requests(fake, RequestLog(rows=served(rows)))
    got = backend(fake).list_requests(query("latency", 7), ORG)
    assert [r.request_id for r in got] == expected(rows, "latency", 7)
    bodies = fake.bodies(QUERY_PATH)
    assert [b["limit"] for b in bodies[:2]] == [64, 1000] and bodies[0]["sort"] == {"latency": "desc"}
    assert [b["sort"] for b in bodies[2:]] == [{"created_at": "asc"}] * (len(bodies) - 2) and len(bodies) >= 5


def test_most_expensive_of_a_large_range_is_refused_not_approximated(fake, monkeypatch):
    monkeypatch.setattr(helicone_lists, "MAX_SCAN", 1_000)
    serve_requests(fake, RequestLog(rows=served(ROWS)))
    with pytest.raises(NotAvailable) as refused:
        backend(fake).list_requests(query("cost", 10), ORG)
    text = str(refused.value) + (refused.value.hint or "")
    assert "cannot sort by cost" in text and "1,500 matching requests" in text and "--backend embedded" in text
    assert refused.value.exit_code == 4
    assert fake.paths() == ["/v1/metrics/totalRequests"]  # counted first, no page read


def test_more_than_a_page_in_one_second_is_refused(fake):
    rows = list(generate(1_100, 23, END, ORG, days=1))
    for i, r in enumerate(rows):
        r["request_created_at"] = f"2026-11-24T06:00:00.{i % 1000:03d}Z"
    serve_requests(fake, RequestLog(rows=served(rows)))
    with pytest.raises(NotAvailable, match="more than 1000 of them fall in the second 2026-11-24T06:00:00"):
        backend(fake).list_requests(query("cost", 5), ORG)


def test_score_below_is_refused_without_a_call(fake):
    with pytest.raises(NotAvailable) as refused:
        backend(fake).list_requests(query("newest", 5, scoreBelow=ScoreBelow(key="accuracy", below=50)), ORG)
    assert "only test equality" in str(refused.value) and "--backend embedded" in (refused.value.hint or "")
    assert fake.paths() == []


def test_a_server_that_ignores_the_sort_is_an_error_not_a_wrong_list(fake):
    shuffled = served(ROWS[:50])
    fake.handlers[QUERY_PATH] = lambda body: Reply(200, {"data": shuffled, "error": None})
    from heliqa.tools.errors import BackendError

    with pytest.raises(BackendError, match="did not sort"):
        backend(fake).list_requests(query("latency", 5), ORG)


# --- the answer: message links, and the same answer as the embedded store ------------------------------------------
def _vocabulary(fake: FakeHelicone, rows: list[dict]) -> None:
    models: dict[str, int] = {}
    for r in rows:
        models[r["model"]] = models.get(r["model"], 0) + 1
    table = [{"model": m, "total_requests": n} for m, n in sorted(models.items())]
    fake.handlers["/v1/metrics/models"] = lambda body: Reply(200, {"data": table, "error": None})
    fake.handlers["/v1/property/query"] = lambda body: Reply(200, {"data": [], "error": None})
    fake.handlers["/v1/evals/scores"] = lambda body: Reply(200, {"data": [], "error": None})
    users = len({r["user_id"] for r in rows if r["user_id"]})
    fake.handlers["/v1/metrics/activeUsers"] = lambda body: Reply(200, {"data": users, "error": None})


QUESTIONS = [
    "show me the 5 most recent failed requests in the last 2 days",
    "list the 4 slowest gpt-4o requests in the last 2 days",
    "the 6 most expensive requests in the last 2 days",
    "the 3 biggest requests in the last 2 days",
]
LINK = re.compile(r" · https://(us|eu)\.helicone\.ai/requests\?requestId=([0-9a-f-]+)$")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("helicone-lists") / "heliqa.duckdb"
    store = Store(path)
    store.add_rows(ROWS)
    yield store
    store.close()


def _without_links(answer: dict) -> dict:
    lines = [LINK.sub("", line) for line in answer["message"].split("\n")]
    return {**answer, "message": "\n".join(lines)}


def test_same_answers_as_the_embedded_store_with_dashboard_links(fake, store):
    serve_requests(fake, RequestLog(rows=served(ROWS)))
    _vocabulary(fake, ROWS)
    for region, helicone in (("us", backend(fake)), ("eu", backend(fake, dashboard_url=EU_DASHBOARD_URL))):
        for question in QUESTIONS:
            mine = Conversation(helicone, make_planner("rules"), ORG, ZoneInfo("UTC"), END).ask(question).to_json()
            theirs = Conversation(store, make_planner("rules"), ORG, ZoneInfo("UTC"), END).ask(question).to_json()
            assert mine["kind"] == "list" and mine["status"] == "ok" and len(mine["data"]) > 2, question
            # the store also says where the organization's data ends; Helicone's API is not asked that
            assert "data_through" not in mine and theirs.pop("data_through")
            assert _without_links(mine) == theirs, question
            lines = mine["message"].split("\n")[1:]
            links = [LINK.search(line) for line in lines]
            assert all(m and m.group(1) == region for m in links), lines
            assert [m.group(2) for m in links] == [d["request_id"] for d in mine["data"]]
            assert not LINK.search(theirs["message"])  # no link when the backend is not Helicone


def test_dashboard_region_follows_the_api():
    assert dashboard_for("https://eu.api.helicone.ai") == EU_DASHBOARD_URL
    assert dashboard_for("https://api.helicone.ai") == "https://us.helicone.ai/dashboard"
    assert helicone_lists.request_link("https://helicone.example.com/dashboard", "a b") == (
        "https://helicone.example.com/requests?requestId=a+b"
    )


@pytest.mark.parametrize("region", ["us", "eu"])
def test_cli_ask_backend_helicone_json(fake, store, tmp_path, region):
    serve_requests(fake, RequestLog(rows=served(ROWS)))
    _vocabulary(fake, ROWS)
    question = "list the 4 slowest gpt-4o requests in the last 2 days"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELIQA_", "HELICONE_"))}
    env.update(HELIQA_HOME=str(tmp_path), HELICONE_API_KEY=KEY, HELICONE_BASE_URL=fake.url)
    if region == "eu":
        env["HELICONE_DASHBOARD_URL"] = EU_DASHBOARD_URL
    argv = [sys.executable, "-m", "heliqa.cli", "ask", "--backend", "helicone", "--json"]
    argv += ["--org", ORG, "--now", END.isoformat(), "--tz", "UTC", question]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    mine = json.loads(done.stdout)
    theirs = Conversation(store, make_planner("rules"), ORG, ZoneInfo("UTC"), END).ask(question).to_json()
    keep = lambda r: r["model"] == "gpt-4o"  # noqa: E731
    assert [d["request_id"] for d in mine["data"]] == expected(ROWS, "latency", 4, keep)
    assert "data_through" not in mine and theirs.pop("data_through")  # only the store says where its data ends
    assert _without_links(mine) == theirs
    assert all(
        f"https://{region}.helicone.ai/requests?requestId={d['request_id']}" in mine["message"] for d in mine["data"]
    )
    assert KEY not in done.stdout + done.stderr
