"""`heliqa slack --watch` and `heliqa serve --watch`: the watch loop on a thread of the app's process posts an
incident from a generated store to the fake Slack, and stops with the app."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from heliqa.tools.demo import Incidents, generate
from heliqa.tools.results import iso_z
from tests.fake_slack import BOT_USER, TEAM, FakeSlack, sign

ORG = "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
END = datetime(2026, 11, 24, 12)
STORM = Incidents(END).storm  # Anthropic answers 429 to most calls for two hours
NOW = STORM[0] + timedelta(hours=2)
SECRET = "test-signing-secret"
MONITORS = """
[[monitor]]
name = "error rate above 20%"
measure = "errors"
aggregation = "rate"
above = 20
min_requests = 20
"""


@pytest.fixture(scope="module")
def store_file(tmp_path_factory) -> Path:
    """A store holding generated traffic up to NOW (the storm's first two hours included)."""
    from heliqa.tools.store import Store

    folder = tmp_path_factory.mktemp("watch-apps")
    rows = list(generate(12_000, 5, END.replace(tzinfo=UTC), ORG, days=12))
    store = Store(folder / "heliqa.duckdb")
    store.add_rows([r for r in rows if r["request_created_at"] < NOW.strftime("%Y-%m-%dT%H:%M:%SZ")])
    store.close()
    return folder / "heliqa.duckdb"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _app(surface: str, port: int) -> list[str]:
    if surface == "slack":
        return ["slack", "--http", "--port", str(port), "--planner", "rules", "--watch-channel", "C0WATCH"]
    return ["serve", "--port", str(port), "--watch-channel", "C0WATCH"]


def _serving(port: int, child: subprocess.Popen) -> bool:
    """True once the app answers /healthz (both apps have it, unauthenticated)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            time.sleep(0.1)
    return False


def _follow_up(slack: FakeSlack, port: int, home: Path, text: str = "show me those requests", n: int = 1) -> list:
    """Ask `text` in the incident post's thread (the n-th question there); the app's answers in that thread."""
    root = next(m for m in slack.messages if not m["thread_ts"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not json.loads((home / "heliqa.watch.json").read_text()).get("threads"):
        time.sleep(0.1)  # the post's ts is saved once Slack has answered it
    event = {
        "type": "app_mention",
        "user": "UONCALL1",
        "channel": "C0WATCH",
        "ts": f"1800000000.00010{n}",
        "thread_ts": root["ts"],
        "text": f"<@{BOT_USER}> {text}",
    }
    body = json.dumps(
        {
            "team_id": TEAM,
            "api_app_id": "A0HELIQA",
            "type": "event_callback",
            "event_id": f"EvWATCH{n}",
            "event_time": 1800000000,
            "event": event,
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        }
    )
    headers = {"Content-Type": "application/json", **sign(SECRET, body)}
    assert httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers=headers).status_code == 200
    answered = lambda s: [c for c in s.of("chat.postMessage") if c.data.get("thread_ts") == root["ts"]]  # noqa: E731
    assert slack.wait_for(lambda s: len(answered(s)) >= n, timeout=60)
    return answered(slack)


@contextlib.contextmanager
def _running(surface: str, store_file: Path, tmp_path: Path, slack: FakeSlack, monitors: str = MONITORS):
    """The app with its watcher over a copy of the store, until its incident is posted and it serves; yields
    (port, home); then Ctrl+C, and the app must stop cleanly with its watcher."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "heliqa.duckdb").write_bytes(store_file.read_bytes())
    (tmp_path / "monitors.toml").write_text(monitors, encoding="utf-8")
    port = _port()
    args = [*_app(surface, port), "--org", ORG, "--now", iso_z(NOW), "--watch", str(tmp_path / "monitors.toml")]
    env = {
        **os.environ,
        "HELIQA_HOME": str(home),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "HELIQA_SERVE_KEYS": f"key1={ORG}",
    }
    log_path = tmp_path / "app.log"
    with log_path.open("w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "heliqa.cli", *args, "--watch-every", "1h"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        posted = slack.wait_for(lambda s: any(not m["thread_ts"] for m in s.messages), timeout=90)
        assert posted, log_path.read_text()
        assert _serving(port, child), log_path.read_text()  # the app answers beside its watcher
        yield port, home
    finally:
        child.send_signal(signal.SIGINT)  # Ctrl+C: the app shuts down, then stops its watcher
        code = child.wait(30)
    logs = log_path.read_text()
    assert code in (0, 130) and "watch: stopped" in logs, logs
    assert "Traceback" not in logs and "xoxb-test-token" not in logs


@pytest.mark.parametrize("surface", ["slack", "serve"])
def test_app_with_watch_posts_an_incident_and_stops_with_the_app(surface, store_file, tmp_path):
    with FakeSlack() as slack:
        with _running(surface, store_file, tmp_path, slack) as (port, home):
            if surface == "slack":
                follow_ups = _follow_up(slack, port, home)
    roots = [m for m in slack.messages if not m["thread_ts"]]
    assert len(roots) == 1 and roots[0]["channel"] == "C0WATCH", [m["text"] for m in roots]
    assert "Error rate reached" in roots[0]["text"] and "impact:" in roots[0]["text"]
    assert "ANTHROPIC" in json.dumps(roots[0]["blocks"])
    assert "/requests?" not in json.dumps(roots[0]["blocks"])  # the embedded store: no Helicone page to link
    state = json.loads((home / "heliqa.watch.json").read_text(encoding="utf-8"))
    assert state["last"] == {"error rate above 20%": iso_z(NOW)} and state["outbox"] == []
    if surface == "slack":  # the reply follows up on the incident's scope: its failed requests, in its window
        (answer,) = follow_ups
        lines = [line for line in answer.data["text"].splitlines() if line.startswith("•")]
        assert lines, answer.data["text"]
        for line in lines:
            when, status = re.match(r"• (\w{3} \d+ [\d:]+) \S+ (\d{3}) ", line).groups()
            moment = datetime.strptime(f"{NOW.year} {when}", "%Y %b %d %H:%M:%S")
            assert int(status) >= 400 and NOW - timedelta(hours=3) <= moment < NOW, line


def test_incident_scope_carries_the_monitor_filters_series_and_window():
    from heliqa.agent.watch_scope import incident_scope
    from heliqa.tools.monitors import Monitor

    m = Monitor(
        name="m",
        measure="latency",
        aggregation="p95",
        filters={"model": ["gpt-a", "gpt-b"], "status": 200, "property.env": "live"},
        by="provider",
    )
    spec = incident_scope(m, "OPENAI", datetime(2026, 11, 21, 8), datetime(2026, 11, 21, 10))
    assert (spec.measure, spec.aggregation, spec.timeZone) == ("latency", "p95", "UTC")
    assert (spec.range.kind, spec.range.start, spec.range.end) == (
        "between",
        datetime(2026, 11, 21, 8),
        datetime(2026, 11, 21, 10),
    )
    assert [(c.field, c.op, c.value) for c in spec.conditions] == [
        ("model", "in", ["gpt-a", "gpt-b"]),
        ("status", "equals", 200),
        ("property:env", "equals", "live"),
        ("provider", "equals", "OPENAI"),
    ]
    rate = incident_scope(
        Monitor(name="r", measure="errors"), None, datetime(2026, 11, 21, 8), datetime(2026, 11, 21, 9)
    )
    assert (rate.measure, rate.aggregation, rate.conditions) == ("error_rate", None, [])


def test_follow_ups_in_an_incident_thread_are_asked_in_its_channel_zone(store_file, tmp_path):
    """A channel in Asia/Kolkata (UTC+5:30), an asker in Los Angeles: replies under the incident's post keep the
    incident's instants and bucket and name days in the channel's zone."""
    monitors = MONITORS + '\n[channel.C0WATCH]\ntz = "Asia/Kolkata"\n'
    with FakeSlack() as slack:
        slack.users["UONCALL1"] = "America/Los_Angeles"  # the asker's own zone: the post's channel zone wins
        with _running("slack", store_file, tmp_path, slack, monitors) as (port, home):
            hourly = _follow_up(slack, port, home, "by hour", 1)[-1]
            yesterday = _follow_up(slack, port, home, "yesterday", 2)[-1]
    state = json.loads((home / "heliqa.watch.json").read_text(encoding="utf-8"))
    ((incident, scope),) = state["scopes"].items()
    assert state["zones"][incident] == {"C0WATCH": "Asia/Kolkata"}
    start, end = (datetime.fromisoformat(scope["range"][k]) for k in ("start", "end"))  # naive UTC
    kolkata = ZoneInfo("Asia/Kolkata")

    def asked(answer) -> dict:
        (actions,) = [b for b in answer.data["blocks"] if b["type"] == "actions"]
        return json.loads(actions["elements"][0]["value"])["request"]

    query = asked(hourly)  # the incident's exact window, in hourly buckets of the channel's zone
    assert query["timeFilter"] == {"start": iso_z(start, millis=True), "end": iso_z(end, millis=True)}
    assert (query["dbIncrement"], query["timeZoneDifference"]) == ("hour", -330)
    first = start.replace(tzinfo=UTC).astimezone(kolkata).replace(minute=0)  # the local hour holding its start
    assert f"{first:%b %d %H}:00" in hourly.data["blocks"][2]["text"]["text"], hourly.data["blocks"]
    assert "Asia/Kolkata" in hourly.data["blocks"][1]["elements"][0]["text"]

    query = asked(yesterday)  # the day before the channel's today, midnight to midnight there
    day = NOW.replace(tzinfo=UTC).astimezone(kolkata).date() - timedelta(days=1)
    midnight = datetime.combine(day, datetime.min.time(), kolkata).astimezone(UTC)
    assert query["timeFilter"] == {
        "start": iso_z(midnight, millis=True),
        "end": iso_z(midnight + timedelta(days=1), millis=True),
    }
    assert query["timeZoneDifference"] == -330 and midnight.minute == 30  # neither UTC's day nor Los Angeles'


def test_the_hour_before_in_an_incident_thread_is_the_hour_before_its_window(store_file, tmp_path):
    """'what about the hour before?' under an incident post: the incident's measure and filters over the hour that
    ends where its window starts (in the channel's zone, a half-hour offset), the number a direct query of that hour
    gives; 'and the hour before that?' steps back once more."""
    from heliqa.agent.answer import fmt
    from heliqa.agent.spec import QuerySpec
    from heliqa.agent.timerange import TimeRange
    from heliqa.tools.store import Store

    monitors = MONITORS + '\n[channel.C0WATCH]\ntz = "Asia/Kolkata"\n'
    with FakeSlack() as slack, _running("slack", store_file, tmp_path, slack, monitors) as (port, home):
        before = _follow_up(slack, port, home, "what about the hour before?", 1)[-1]
        earlier = _follow_up(slack, port, home, "and the hour before that?", 2)[-1]
    state = json.loads((home / "heliqa.watch.json").read_text(encoding="utf-8"))
    (scope,) = state["scopes"].values()
    start = datetime.fromisoformat(scope["range"]["start"])  # naive UTC
    store = Store(home / "heliqa.duckdb", read_only=True)
    try:
        for answer, back in ((before, 1), (earlier, 2)):
            (actions,) = [b for b in answer.data["blocks"] if b["type"] == "actions"]
            query = json.loads(actions["elements"][0]["value"])["request"]
            hour = (start - timedelta(hours=back), start - timedelta(hours=back - 1))
            assert query["timeFilter"] == {"start": iso_z(hour[0], millis=True), "end": iso_z(hour[1], millis=True)}
            assert (query["measure"], query["timeZoneDifference"]) == ("error_rate", -330)
            direct = QuerySpec(measure="error_rate", range=TimeRange(kind="between", start=hour[0], end=hour[1]))
            metrics = direct.to_query(NOW.replace(tzinfo=UTC), ZoneInfo("UTC"))
            (row,) = store.run(metrics, ORG)
            assert row.value is not None
            assert answer.data["text"].startswith(f"Error rate: {fmt(row.value, metrics)}."), answer.data["text"]
    finally:
        store.close()


def test_an_incident_scope_in_a_zone_keeps_its_instants_across_a_clock_change():
    from heliqa.agent.watch_scope import in_zone, incident_scope
    from heliqa.tools.monitors import Monitor

    scope = incident_scope(Monitor(name="c", measure="cost"), None, datetime(2026, 10, 31, 20), datetime(2026, 11, 1))
    now = datetime(2026, 11, 2, 12, tzinfo=UTC)  # Los Angeles left daylight time in between (Nov 1)
    local = in_zone(scope, "America/Los_Angeles", now)
    assert (local.timeZone, local.range.start, local.range.end) == (
        "America/Los_Angeles",
        datetime(2026, 10, 31, 12),  # at the offset a range is resolved with: now's, -8 h
        datetime(2026, 10, 31, 16),
    )
    query = local.to_query(now, ZoneInfo("UTC"))
    assert query.timeFilter.start == "2026-10-31T20:00:00.000Z" and query.timeFilter.end == "2026-11-01T00:00:00.000Z"
    assert query.timeZoneDifference == 480
