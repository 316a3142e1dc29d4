"""Fuzzing in CI's budget: generated request bodies through `heliqa query` and `heliqa serve`, generated
questions through the rules planner, generated Helicone answers through the REST backend. Each asserts no
traceback, no 5xx, bounded time per input and bounded memory growth. benchmarks/fuzz_requests.py runs the
same generators for 10,000+ bodies.
"""

from __future__ import annotations

import json
import resource
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.serve import create_app
from heliqa.tools.demo import generate
from heliqa.tools.errors import BackendError, HeliqaError
from heliqa.tools.helicone import HeliconeBackend, HeliconeClient
from heliqa.tools.query import MetricsQuery, TimeFilter
from heliqa.tools.store import Store
from tests.fake_helicone import FakeHelicone, RawReply, Reply
from tests.fuzz import NUMBERS, PATH_AND_BODY, TEXTS, VALUES, request_bodies, run_query_cli

ORG = "00000000-0000-4000-8000-00000000ab03"
END = datetime(2026, 11, 24, 12)
KEY = "fuzz-key-0123456789abcdef"
PER_INPUT_SECONDS = 5.0  # generous for a loaded CI machine; a hang or a 27-second body would fail it
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzz-home")
    store = Store(home / "heliqa.duckdb")
    store.add_rows(generate(1_500, seed=3, end=END, org=ORG, days=8))
    store.close()
    return home


@pytest.fixture(scope="module")
def store(home):
    store = Store(home / "heliqa.duckdb", read_only=True)
    yield store
    store.close()


def test_fuzz_heliqa_query(home, monkeypatch):
    monkeypatch.setenv("HELIQA_HOME", str(home))
    seen = {"ok": 0, "refused": 0}
    before = rss_mb()

    @given(request_bodies())
    @FUZZ
    def query_body(raw: bytes):
        started = time.monotonic()
        code, printed = run_query_cli(raw, ORG)  # an exception here is a traceback for the user
        assert time.monotonic() - started < PER_INPUT_SECONDS
        # 2: refused by validation or a limit; 4: valid but not answerable here (e.g. a filter on assets)
        assert code in (0, 2, 4), (code, printed, raw[:300])
        assert code == 4 or (printed["error"] is None) == (code == 0), printed
        seen["ok" if code == 0 else "refused"] += 1

    query_body()
    assert seen["refused"] and seen["ok"]  # the generator reaches both the refusals and the store
    assert rss_mb() - before < 300


def test_fuzz_serve(store):
    from fastapi.testclient import TestClient

    client = TestClient(create_app(store, {KEY: ORG}), raise_server_exceptions=False)
    statuses: dict[int, int] = {}
    before = rss_mb()

    @given(PATH_AND_BODY, st.sampled_from(["application/json"] * 9 + ["text/plain"]))
    @FUZZ
    def serve_body(path_and_body: tuple[str, bytes], kind: str):
        path, raw = path_and_body
        started = time.monotonic()
        answer = client.post(path, content=raw, headers={"authorization": f"Bearer {KEY}", "content-type": kind})
        assert time.monotonic() - started < PER_INPUT_SECONDS
        assert answer.status_code < 500, (path, answer.status_code, answer.text[:300], raw[:300])
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    serve_body()
    assert 200 in statuses and 422 in statuses
    assert rss_mb() - before < 300


def test_fuzz_serve_openapi_with_more_examples(store):
    """Schemathesis from the OpenAPI document: more examples than tests/test_serve.py, one operation per body shape."""
    import schemathesis

    app = create_app(store, {KEY: ORG})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    one_per_body_model = (
        "/v1/dashboard/scores/query",
        "/v1/metrics/totalRequests",
        "/v1/metrics/requestOverTime",
        "/v1/metrics/quantiles",
        "/v1/metrics/models",
        "/v1/property/{propertyKey}/search",
    )
    for path in one_per_body_model:

        @given(schema[path]["POST"].as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def no_server_error(case):
            response = case.call(headers={"authorization": f"Bearer {KEY}"})
            assert response.status_code < 500, (case.path, case.body, response.text[:300])

        no_server_error()


WORDS = st.sampled_from(
    "p90 p99 median average latency cost tokens requests errors error rate by per model provider user country "
    "gpt-4 gpt-4o claude last past week day hour minute month year since yesterday today top 5 10 where not "
    "and or with for in of the \"quoted text\" 'x' score accuracy property feature environment = > < >= "
    "0 1 -3 1e400 99999999999999999999 2026-11-24 0001-01-01 9999-12-31 UTC+14 \\ % _ <!channel> 🤖 \x00".split()
)
QUESTIONS = st.one_of(st.lists(WORDS, max_size=14).map(" ".join), TEXTS, st.text(max_size=200))


def test_fuzz_question_parser(store):
    conversation = Conversation(store, make_planner("rules"), ORG, ZoneInfo("UTC"), END.replace(tzinfo=UTC))
    statuses: dict[str, int] = {}

    @given(QUESTIONS)
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def ask(question: str):
        started = time.monotonic()
        answer = conversation.ask(question)
        conversation.reset()
        assert time.monotonic() - started < PER_INPUT_SECONDS
        assert answer.status in ("ok", "clarify", "error", "unsupported"), answer
        assert answer.status != "error" or answer.exit_code in (2, 3, 4), answer  # no backend failures
        json.dumps(answer.to_json())  # every answer can be printed as --json
        statuses[answer.status] = statuses.get(answer.status, 0) + 1

    ask()
    assert statuses.get("ok") and statuses.get("clarify"), statuses


ENDPOINT_DATA = st.one_of(
    VALUES,
    st.lists(st.dictionaries(st.sampled_from(["time", "count", "model", "status", "cost", "x"]), VALUES), max_size=4),
    st.lists(st.fixed_dictionaries({"time": st.sampled_from(["2026-11-01T00:00:00Z", "nope"]), "count": NUMBERS})),
)


def test_fuzz_helicone_answers():
    """A fake Helicone answers every call with generated data or raw bytes: a clear error or rows, nothing else."""
    query = MetricsQuery(
        measure="requests", dbIncrement="day", timeFilter=TimeFilter(start="2026-11-01", end="2026-11-03")
    )
    with FakeHelicone(KEY) as fake:
        backend = HeliconeBackend(HeliconeClient(KEY, fake.url, timeout=2, retries=0, deadline=3))

        @given(ENDPOINT_DATA, st.one_of(st.none(), st.binary(max_size=64)), st.sampled_from([200, 200, 500, 422, 429]))
        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def answered(data, raw, status):
            path = "/v1/metrics/requestOverTime"
            fake.script[path].clear()
            if raw is None:
                fake.raw(path, Reply(status, {"data": data, "error": None}))
            else:
                fake.raw(path, RawReply(raw, status=status))
            started = time.monotonic()
            try:
                rows = backend.run(query, "org")
            except HeliqaError as error:
                assert isinstance(error, BackendError) or error.exit_code in (2, 4), error
            else:
                assert all(r.value is None or isinstance(r.value, float) for r in rows)
            assert time.monotonic() - started < PER_INPUT_SECONDS

        answered()
