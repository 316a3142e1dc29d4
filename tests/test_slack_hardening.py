"""Slack's HTTP mode under hostile requests: body limits without a length, bad timestamps, replays, echoes and
forged button values — each answered with a 4xx or a polite message, never a 500 or a second answer."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from heliqa import slack as slack_app
from heliqa.agent.factory import make_planner
from heliqa.tools.demo import generate
from heliqa.tools.limits import MAX_BODY_BYTES
from heliqa.tools.store import Store
from tests.fake_slack import TEAM, FakeSlack, sign
from tests.test_slack import ASKER, CHANNEL, SECRET, make_app, post, serve, slash

ORG = "00000000-0000-4000-8000-00000000ab02"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("slack-hardening") / "heliqa.duckdb")
    store.add_rows(generate(500, seed=5, end=NOW.replace(tzinfo=None), org=ORG, days=3))
    yield store
    store.close()


@pytest.fixture
def fake():
    with FakeSlack(users={ASKER: "UTC"}) as server:
        yield server


@pytest.fixture
def heliqa(store):
    settings = slack_app.Settings(org=ORG, default_tz="UTC", now=NOW)
    return slack_app.HeliqaSlack(store, make_planner("rules"), settings)


def test_chunked_body_over_the_limit_is_refused_before_it_ends(heliqa, fake):
    # a raw socket sends a chunked body past the limit and never finishes it: the 413 must come anyway
    with serve(make_app(heliqa, fake)) as http:
        host, port = str(http.base_url).removeprefix("http://").rstrip("/").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST /slack/events HTTP/1.1\r\nHost: x\r\ncontent-type: text/plain\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            chunk = b"x" * 65536
            for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            started = time.monotonic()
            answer = sock.recv(200)  # no terminating 0-chunk was sent
        assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 5


@pytest.mark.parametrize(
    "timestamp",
    ["abc", "", "9" * 5000, "-5", "1e9", "１２３".encode()],
    ids=["abc", "empty", "5000-digits", "-5", "1e9", "fullwidth"],
)
def test_malformed_timestamps_are_401(heliqa, fake, timestamp):
    body = slash(fake, "requests last hour")
    with serve(make_app(heliqa, fake)) as http:
        headers = {**sign(SECRET, body), "content-type": "application/x-www-form-urlencoded"}
        headers["X-Slack-Request-Timestamp"] = timestamp
        response = http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    assert [c.method for c in fake.calls] == ["auth.test"]


def test_replayed_slash_command_is_answered_once(heliqa, fake):
    body = slash(fake, "how many requests in the last 24 hours")
    headers = {**sign(SECRET, body), "content-type": "application/x-www-form-urlencoded"}
    with serve(make_app(heliqa, fake)) as http:
        first = http.post("/slack/events", content=body, headers=headers)
        assert first.status_code == 200 and "Looking into" in first.text
        assert fake.wait_for(lambda f: len(f.of("chat.postMessage")) >= 2)  # the question, then the answer
        replay = http.post("/slack/events", content=body, headers=headers)
        assert replay.status_code == 200 and replay.text == ""
        time.sleep(0.5)
    asked = [c for c in fake.of("chat.postMessage") if "asked:" in c.data.get("text", "")]
    assert len(asked) == 1


def test_slash_echo_escapes_slack_markup(heliqa, fake):
    with serve(make_app(heliqa, fake)) as http:
        response, _ = post(http, slash(fake, "<!channel> requests by model <@U123> & more"))
    assert response.status_code == 200
    echo = response.json()["text"]
    assert "<!channel>" not in echo and "&lt;!channel&gt;" in echo and "&lt;@U123&gt; &amp; more" in echo


@pytest.mark.parametrize("value", ["{not json", "[" * 100_000, "", "ref:unknown-ref", None])
def test_malformed_button_values_get_a_polite_answer(heliqa, fake, value):
    action = {"type": "button", "action_id": slack_app.SHOW_REQUEST, "block_id": "actions", "action_ts": "1"}
    if value is not None:
        action["value"] = value
    click = {
        "type": "block_actions",
        "user": {"id": ASKER},
        "team": {"id": TEAM},
        "api_app_id": "A0HELIQA",
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "message_ts": "1"},
        "trigger_id": "1.2.3",
        "response_url": fake.response_url("click"),
        "actions": [action],
    }
    with serve(make_app(heliqa, fake)) as http:
        response, _ = post(http, urlencode({"payload": json.dumps(click)}))
        assert response.status_code == 200
        assert fake.wait_for(lambda f: f.of("response"))
    (shown,) = fake.of("response")
    assert shown.data["response_type"] == "ephemeral"
    assert "Sorry, I can't show that request" in shown.data["text"] or "no longer in memory" in shown.data["text"]


MALFORMED = {
    "payload not JSON": ("application/x-www-form-urlencoded", b"payload={not-json"),
    "payload an array": ("application/x-www-form-urlencoded", b"payload=" + b"%5B1%2C2%2C3%5D"),
    "JSON array": ("application/json", b"[1,2,3]"),
    "JSON not JSON": ("application/json", b"{not json"),
    "deep nesting": ("application/json", b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    "deep payload": ("application/x-www-form-urlencoded", b"payload=" + b"%5B" * 3000 + b"%5D" * 3000),
    "not UTF-8": ("application/x-www-form-urlencoded", b"command=%2Fheliqa&text=\xff\xfe"),
    "empty": ("application/x-www-form-urlencoded", b""),
    "empty payload": ("application/x-www-form-urlencoded", b"payload="),
    "BOM": ("application/json", b'\xef\xbb\xbf{"type":"event_callback"}'),
    "payload a string": ("application/x-www-form-urlencoded", b"payload=%22x%22"),
    "JSON null": ("application/json", b"null"),
    "brace then garbage": ("text/plain", b"{" + b"x" * 100),
    "number payload": ("application/x-www-form-urlencoded", b"payload=12"),
}


def _signed_bytes(body: bytes) -> dict[str, str]:
    import hashlib
    import hmac

    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_bodies_are_400_signed_and_401_unsigned_without_a_traceback(heliqa, fake, case, caplog):
    # hardening finding 6: these answered 500 with a traceback, before any signature check
    kind, body = MALFORMED[case]
    with serve(make_app(heliqa, fake)) as http:
        unsigned = http.post("/slack/events", content=body, headers={"content-type": kind})
        signed = http.post("/slack/events", content=body, headers={"content-type": kind, **_signed_bytes(body)})
    assert unsigned.status_code == 401, unsigned.text
    assert signed.status_code == 400, signed.text
    assert signed.json()["error"].startswith("malformed request:")
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    assert [c.method for c in fake.calls] == ["auth.test"]
