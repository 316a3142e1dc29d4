"""Noise control of `heliqa watch`: mutes (CLI and Slack), unwatch, quiet hours per channel, the Slack commands."""

from __future__ import annotations

import json
import shutil

import pytest
from slack_sdk import WebClient

from heliqa import slack as slack_app
from heliqa.agent.factory import make_planner
from heliqa.tools.monitors import check_text
from heliqa.tools.store import Store
from tests.conftest import MAIN_ORG
from tests.fake_slack import BOT_USER, FakeSlack
from tests.test_slack import BOT_TOKEN, SECRET, event_body, post, serve
from tests.test_watch import heliqa

MONITORS = """
[defaults]
channels = ["C0QUIET", "C0LOUD"]

[channel.C0QUIET]
quiet_hours = "08:30-09:30"
tz = "UTC"

[[monitor]]
name = "errors"
measure = "errors"
"""


@pytest.fixture
def home(sample_home, tmp_path):
    """A copy of the sample store (the watcher writes its state beside it) with a monitors file."""
    shutil.copy(sample_home / "heliqa.duckdb", tmp_path / "heliqa.duckdb")
    (tmp_path / "monitors.toml").write_text(MONITORS, encoding="utf-8")
    return tmp_path


def watch_once(home, slack: FakeSlack, now: str):
    env = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": slack.api_url}
    done = heliqa("watch", "--once", "--now", now, "--every", "1h", "--org", MAIN_ORG, home=home, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads((home / "heliqa.watch.json").read_text(encoding="utf-8"))


def test_quiet_hours_hold_posts_for_that_channel_only(home):
    with FakeSlack() as slack:
        watch_once(home, slack, "2026-11-21T08:00:00Z")
        state = watch_once(home, slack, "2026-11-21T09:00:00Z")  # the 429 storm opened at 08:00
        assert [m["channel"] for m in slack.messages] == ["C0LOUD"]
        held = [(item["channel"], "chart" in item) for item in state["outbox"]]
        assert held == [("C0QUIET", False), ("C0QUIET", True)]  # the post and its chart held, not lost
        state = watch_once(home, slack, "2026-11-21T09:45:00Z")
        assert [m["channel"] for m in slack.messages if not m["thread_ts"]] == ["C0LOUD", "C0QUIET"]
        assert state["outbox"] == []


def test_a_muted_monitor_posts_nothing_and_its_resolution_stays_quiet(home):
    with FakeSlack() as slack:
        done = heliqa("watch", "mute", "errors", "2h", "--now", "2026-11-21T07:30:00Z", home=home)
        assert done.returncode == 0 and "muted errors until 2026-11-21T09:30:00Z" in done.stdout
        watch_once(home, slack, "2026-11-21T08:00:00Z")
        state = watch_once(home, slack, "2026-11-21T09:00:00Z")
        assert slack.messages == [] and state["outbox"] == []
        assert state["series"]["errors|"]["open"]  # still tracked while muted
        watch_once(home, slack, "2026-11-21T10:00:00Z")
        watch_once(home, slack, "2026-11-21T11:00:00Z")
        assert slack.messages == []  # its update and resolution would come without the post they belong to


def test_unwatch_stops_evaluating_and_rewatch_resumes(home):
    with FakeSlack() as slack:
        assert heliqa("watch", "unwatch", "errors", home=home).returncode == 0
        state = watch_once(home, slack, "2026-11-21T09:00:00Z")
        assert "errors" not in state["last"]
        assert heliqa("watch", "rewatch", "errors", home=home).returncode == 0
        state = watch_once(home, slack, "2026-11-21T10:00:00Z")
        assert state["last"]["errors"] == "2026-11-21T10:00:00Z"


def test_bad_mute_commands_say_what_is_wrong(home):
    done = heliqa("watch", "mute", "errors", "soon", home=home)
    assert done.returncode == 2 and "'soon' is not a duration" in done.stderr and "Traceback" not in done.stderr
    done = heliqa("watch", "mute", "errors", home=home)
    assert done.returncode == 2 and "usage: heliqa watch mute NAME DURATION" in done.stderr


def test_slack_commands_mute_list_and_unwatch(home):
    (home / "heliqa.watch.json").write_text(
        json.dumps({"monitors": [{"name": "errors", "describe": "error rate (anomaly vs its 7-day baseline)"}]}),
        encoding="utf-8",
    )
    store = Store(home / "heliqa.duckdb", read_only=True)
    heliqa_app = slack_app.HeliqaSlack(store, make_planner("rules"), slack_app.Settings(org=MAIN_ORG, default_tz="UTC"))
    said = {
        "watches": "*errors*: error rate (anomaly vs its 7-day baseline)",
        "mute errors 2h": "Muted *errors* for 2h",
        "mute <b>nosuch</b> 2h": "No monitor named “&lt;b&gt;nosuch&lt;/b&gt;”",
        "mute errors soon": "'soon' is not a duration",
        "unwatch errors": "Stopped watching *errors*",
        "watch p95 latency for gpt-4 above 5 s": "Watching *p95 latency for gpt-4 above 5 s*: p95 latency (model",
        "watch the weather in Paris": "That is not a monitor I can watch",
    }
    with FakeSlack() as fake:
        app = slack_app.build_app(heliqa_app, WebClient(token=BOT_TOKEN, base_url=fake.api_url), SECRET)
        with serve(app) as http:
            for n, text in enumerate(said):
                ts = f"1700000{n}00.000100"
                event = {"type": "app_mention", "user": "UASKER01", "channel": "C0ONCALL1", "ts": ts}
                event["text"] = f"<@{BOT_USER}> {text}"
                response, _ = post(http, event_body(event, f"EvW{n}"), kind="application/json")
                assert response.status_code == 200
                assert fake.wait_for(
                    lambda f, ts=ts: any(c.data.get("thread_ts") == ts for c in f.of("chat.postMessage"))
                )
        replies = {c.data["thread_ts"]: c.data["text"] for c in fake.of("chat.postMessage")}
    for n, (text, expected) in enumerate(said.items()):
        assert expected in replies[f"1700000{n}00.000100"], (text, replies)
    mutes = json.loads((home / "heliqa.watch.mutes.json").read_text(encoding="utf-8"))
    assert "errors" in mutes["muted"] and mutes["unwatched"] == ["errors"]
    added, problems = check_text((home / "monitors.toml").read_text(encoding="utf-8"))
    assert not problems and added.monitor[-1].above == 5000 and added.monitor[-1].filters == {"model": "gpt-4"}
    store.close()


def test_without_a_slack_token_posts_are_printed_with_their_drivers(home):
    (home / "monitors.toml").unlink()  # the default monitors
    first = heliqa("watch", "--once", "--now", "2026-11-21T09:00:00Z", "--every", "1h", "--org", MAIN_ORG, home=home)
    assert first.returncode == 0 and "posts are printed here instead" in first.stderr
    assert ":rotating_light: Error rate reached" in first.stdout and "provider   ANTHROPIC" in first.stdout
    # the storm lasts to 10:00: still going then; calm at 11:00 (a dip) and 12:00 ends it, a window before 11:00
    later = heliqa("watch", "--once", "--now", "2026-11-21T12:00:00Z", "--every", "1h", "--org", MAIN_ORG, home=home)
    assert ":rotating_light:" not in later.stdout  # not again
    assert "  ↳ Still going at Nov 21 10:00 UTC" in later.stdout
    assert "  ↳ :white_check_mark: Resolved at Nov 21 10:00 UTC" in later.stdout


def test_posts_speak_the_channel_zone_else_the_tz_option(home):
    with FakeSlack() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": slack.api_url}
        for now in ("2026-11-21T08:00:00Z", "2026-11-21T10:00:00Z"):
            done = heliqa("watch", "--once", "--now", now, "--every", "1h", "--org", MAIN_ORG, "--tz",
                          "America/New_York", home=home, env=env)  # fmt: skip
            assert done.returncode == 0, done.stderr
    roots = {m["channel"]: m["text"] for m in slack.messages if not m["thread_ts"]}
    assert "since Nov 21 03:00 America/New_York" in roots["C0LOUD"]
    assert "since Nov 21 08:00 UTC" in roots["C0QUIET"]  # its [channel] table names UTC


def test_names_from_data_in_an_incident_post_stay_inert():
    """A model named like a mention, a link or a fence cannot ping, link or close the drivers' code block."""
    from datetime import UTC, datetime

    from heliqa.agent.watch import Incident
    from heliqa.tools.monitors import Monitor
    from heliqa.watch_post import opening, resolution, update

    hostile = "gpt-5<!everyone> <https://evil.example|docs> ```x``` " + "y" * 100_000
    m = Monitor(name="latency by model", measure="latency", aggregation="p90", by="model")
    at = datetime(2026, 11, 24, 3, tzinfo=UTC)
    incident = Incident(
        monitor=m.name,
        group=hostile,
        start=at,
        opened=at,
        resolved=at,
        typical=1000.0,
        peak=9000.0,
        last=8000.0,
        drivers=[{"dimension": "model", "value": hostile, "current": 0.9, "baseline": 0.1, "share": 0.8}],
    )
    text, blocks = opening(m, incident, at, "UTC")
    texts = [text, update(m, incident, at, "UTC"), resolution(m, incident, "UTC")]
    texts += [b["text"]["text"] for b in blocks if "text" in b]
    texts += [e["text"] for b in blocks for e in b.get("elements", [])]
    for t in texts:
        assert "<!everyone>" not in t and "<https://" not in t and len(t) <= 3000
    fence = blocks[1]["text"]["text"]
    assert fence.startswith("```") and fence.endswith("```") and fence.count("```") == 2
