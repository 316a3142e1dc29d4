"""The Helicone client against a fake Helicone serving malformed and hostile answers: every call is bounded in
time and memory and ends in one clear error naming the endpoint, never a traceback or a hang."""

from __future__ import annotations

import json
import logging
import time
import tracemalloc
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.tools.errors import BackendError, ConfigError
from heliqa.tools.helicone import HeliconeBackend, HeliconeClient
from heliqa.tools.query import MetricsQuery, ScoresRequest, TimeFilter
from tests.fake_helicone import FakeHelicone, RawReply, Reply, gzip_bomb

KEY = "sk-helicone-hostile-0000000-1111111-2222222"
RANGE = TimeFilter(start="2026-11-01T00:00:00Z", end="2026-11-03T00:00:00Z")
SCORES = ScoresRequest(timeFilter=RANGE, userFilter="all", dbIncrement="day", timeZoneDifference=0)
SCORES_PATH = "/v1/dashboard/scores/query"


@pytest.fixture
def fake():
    with FakeHelicone(KEY) as server:
        yield server


def client(fake: FakeHelicone, **options) -> HeliconeClient:
    return HeliconeClient(KEY, fake.url, **({"timeout": 2.0, "retries": 0, "backoff": 0.01} | options))


def requests(**fields) -> MetricsQuery:
    return MetricsQuery(measure="requests", timeFilter=RANGE, **fields)


# --- malformed answers: one error naming the endpoint ---------------------------------------------------------
MALFORMED = {
    "row without score_key": (SCORES_PATH, [{"created_at_trunc": "2026-11-01T00:00:00.000Z", "score_sum": 1}]),
    "bucket that is no date": (SCORES_PATH, [{"created_at_trunc": "yesterday", "score_key": "a", "score_sum": 1}]),
    "data of the wrong type": (SCORES_PATH, {"rows": []}),
    "score that is text": (
        SCORES_PATH,
        [{"created_at_trunc": "2026-11-01T00:00:00Z", "score_key": "a", "score_sum": "x"}],
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_scores_answers_are_one_clear_error(fake, case):
    path, data = MALFORMED[case]
    fake.reply(path, data)
    with pytest.raises(BackendError, match=f"Helicone answered {path} with a malformed body: data"):
        HeliconeBackend(client(fake)).scores(SCORES, "org")


@pytest.mark.parametrize(
    "data",
    [
        [{"time": "2026-11-01T00:00:00Z"}],  # no count
        [{"time": None, "count": 3}],
        [{"time": "2026-11-01T00:00:00Z", "count": "many"}],
        "three",
        [[1, 2]],
    ],
)
def test_malformed_over_time_answers_name_the_endpoint(fake, data):
    fake.reply("/v1/metrics/requestOverTime", data)
    with pytest.raises(BackendError, match="/v1/metrics/requestOverTime with a malformed body"):
        HeliconeBackend(client(fake)).run(requests(dbIncrement="day"), "org")


def test_a_100000_deep_document_is_an_error_not_a_recursion(fake):
    deep = b'{"data":' + b"[" * 100_000 + b"]" * 100_000 + b',"error":null}'
    fake.raw("/v1/metrics/totalRequests", RawReply(deep))
    with pytest.raises(BackendError, match="unexpected body .*nested too deep"):
        HeliconeBackend(client(fake)).run(requests(), "org")


def test_not_json_is_an_error(fake):
    fake.raw("/v1/metrics/totalRequests", RawReply(b"<html>gateway</html>", status=200))
    with pytest.raises(BackendError, match="totalRequests with an unexpected body .*not JSON"):
        HeliconeBackend(client(fake)).run(requests(), "org")


def test_malformed_answer_in_ask_is_an_error_answer(fake):
    fake.reply("/v1/metrics/models", [{"total_requests": 3}])  # the vocabulary's first call; no model name
    conversation = Conversation(
        HeliconeBackend(client(fake)), make_planner("rules"), "org", ZoneInfo("UTC"), datetime(2026, 11, 3, 12)
    )
    answer = conversation.ask("how many requests in the last 24 hours")
    assert answer.status == "error" and answer.exit_code == 5
    assert "Helicone answered /v1/metrics/models with a malformed body: data.0.model: Field required" in answer.message


# --- time: an overall deadline, bounded retry sleep ---------------------------------------------------------------
def test_trickled_answer_hits_the_overall_deadline(fake):
    # headers at once, then one byte every 0.3 s: every read is quick, the whole answer would take 30 s
    payload = json.dumps({"data": 1, "error": None}).encode() + b" " * 80
    fake.raw("/v1/metrics/totalRequests", RawReply(payload, trickle=0.3))
    started = time.monotonic()
    # the message names what cut it off: the 1.5 s deadline, not the 1 s timeout of each read
    with pytest.raises(BackendError, match=r"still arriving when the call's 1\.5 s deadline passed"):
        HeliconeBackend(client(fake, timeout=1.0, deadline=1.5)).run(requests(), "org")
    assert 1.5 <= time.monotonic() - started < 3.0


def test_retry_sleep_is_capped_in_total(fake):
    for _ in range(5):
        fake.raw("/v1/metrics/totalRequests", Reply(429, {"error": "slow down"}, {"Retry-After": "0.4"}))
    started = time.monotonic()
    with pytest.raises(BackendError, match="failed after 2 attempts: HTTP 429"):
        HeliconeBackend(client(fake, retries=4, max_retry_sleep=0.5)).run(requests(), "org")
    assert 0.4 <= time.monotonic() - started < 1.5  # one wait of 0.4 s; a second would pass the 0.5 s cap


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "soon"])
def test_unusable_retry_after_falls_back_to_backoff(fake, value):
    fake.raw("/v1/metrics/totalRequests", Reply(429, {"error": "slow down"}, {"Retry-After": value}))
    fake.reply("/v1/metrics/totalRequests", 5)
    started = time.monotonic()
    assert HeliconeBackend(client(fake, retries=1)).run(requests(), "org")[0].value == 5
    assert time.monotonic() - started < 1.0


def test_default_retry_after_30_waits_at_most_30_s_in_total():
    # issue 9: "Retry-After: 30 sleeps 60 s"; the defaults now cap all waiting of one call at 30 s
    plain = HeliconeClient(KEY, "http://127.0.0.1:9")
    assert plain.max_retry_sleep == 30.0 and plain.deadline == 60.0
    plain.close()


# --- memory: a gzip bomb stops at the response-size cap -------------------------------------------------------------
def test_gzip_bomb_is_refused_within_bounded_memory(fake):
    bomb = gzip_bomb(256 << 20)  # 256 MiB of zeros in ~250 KB
    fake.raw("/v1/metrics/totalRequests", RawReply(bomb, headers={"content-encoding": "gzip"}))
    cap = 4 << 20
    tracemalloc.start()
    try:
        with pytest.raises(BackendError, match="larger than 4,194,304 bytes decompressed"):
            HeliconeBackend(client(fake, max_response_bytes=cap)).run(requests(), "org")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * cap, peak


def test_gzip_answers_within_the_cap_are_read(fake):
    import gzip

    payload = gzip.compress(json.dumps({"data": 11, "error": None}).encode())
    fake.raw("/v1/metrics/totalRequests", RawReply(payload, headers={"content-encoding": "gzip"}))
    assert HeliconeBackend(client(fake)).run(requests(), "org")[0].value == 11
    assert fake.seen[0].headers["accept-encoding"] == "gzip"


# --- credentials in the base URL ----------------------------------------------------------------------------------
def test_credentials_in_base_url_are_never_shown_or_sent(fake, caplog):
    caplog.set_level(logging.DEBUG)
    with_credentials = fake.url.replace("http://", "http://alice:hunter2-secret@")
    fake.reply("/v1/metrics/totalRequests", 4)
    helicone = HeliconeClient(KEY, with_credentials, timeout=2, retries=0)
    assert HeliconeBackend(helicone).run(requests(), "org")[0].value == 4
    assert fake.seen[0].headers["authorization"] == f"Bearer {KEY}"  # not replaced by Basic auth
    assert "hunter2" not in repr(helicone)
    unreachable = HeliconeClient(KEY, "http://alice:hunter2-secret@127.0.0.1:9", timeout=0.5, retries=0)
    with pytest.raises(BackendError) as info:
        HeliconeBackend(unreachable).run(requests(), "org")
    assert "cannot reach http://***@127.0.0.1:9" in str(info.value) and "hunter2" not in str(info.value)
    assert caplog.records and not any("hunter2" in r.getMessage() for r in caplog.records)


def test_from_env_masks_credentials_and_checks_the_timeout(monkeypatch):
    monkeypatch.setenv("HELICONE_API_KEY", KEY)
    monkeypatch.setenv("HELICONE_BASE_URL", "ftp://bob:pw-secret@host")
    with pytest.raises(ConfigError) as info:
        HeliconeBackend.from_env()
    assert "pw-secret" not in str(info.value) and "***@host" in str(info.value)
    monkeypatch.setenv("HELICONE_BASE_URL", "http://127.0.0.1:9")
    for bad in ("-5", "nan", "inf", "soon", "0"):
        monkeypatch.setenv("HELICONE_TIMEOUT", bad)
        with pytest.raises(ConfigError, match="HELICONE_TIMEOUT=.*(must be a positive number|valid number)"):
            HeliconeBackend.from_env()
