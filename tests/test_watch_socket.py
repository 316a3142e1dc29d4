"""`heliqa slack --watch` in Socket Mode (the default without --http): the watch thread posts an incident while the
app is connected over a local websocket, a thread follow-up arrives as a Socket Mode envelope and is answered in
the incident's thread, and Ctrl+C stops both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.fake_slack import BOT_USER, TEAM, FakeSlack, FakeSocketMode
from tests.test_watch_apps import MONITORS, NOW, ORG, store_file  # noqa: F401  (the store fixture)


def test_socket_mode_app_with_watch_posts_answers_its_thread_and_stops(store_file, tmp_path):  # noqa: F811
    home = tmp_path / "home"
    home.mkdir()
    (home / "heliqa.duckdb").write_bytes(store_file.read_bytes())
    (tmp_path / "monitors.toml").write_text(MONITORS, encoding="utf-8")
    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    args = ["slack", "--planner", "rules", "--org", ORG, "--now", now, "--watch", str(tmp_path / "monitors.toml")]
    args += ["--watch-channel", "C0WATCH", "--watch-every", "1h"]
    with FakeSlack() as slack, FakeSocketMode() as socket:
        slack.socket_url = socket.url
        env = {
            **os.environ,
            "HELIQA_HOME": str(home),
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_APP_TOKEN": "xapp-1-A0HELIQA-1234-abcdef",
            "SLACK_API_URL": slack.api_url,
        }
        log_path = tmp_path / "app.log"
        with log_path.open("w") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "heliqa.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            assert socket.connected.wait(60), log_path.read_text()
            assert slack.wait_for(lambda s: any(not m["thread_ts"] for m in s.messages), 90), log_path.read_text()
            root = next(m for m in slack.messages if not m["thread_ts"])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not json.loads((home / "heliqa.watch.json").read_text()).get(
                "threads"
            ):
                time.sleep(0.1)  # the post's ts is saved once Slack has answered it: a reply before is no follow-up
            event = {
                "type": "app_mention",
                "user": "UONCALL1",
                "channel": "C0WATCH",
                "ts": "1800000000.000200",
                "thread_ts": root["ts"],
                "text": f"<@{BOT_USER}> show me those requests",
            }
            payload = {
                "team_id": TEAM,
                "api_app_id": "A0HELIQA",
                "type": "event_callback",
                "event_id": "EvWATCHSOCKET",
                "event_time": 1800000000,
                "event": event,
                "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
            }
            socket.send({"envelope_id": "env-w1", "type": "events_api", "payload": payload})
            acked_at, ack = socket.acks.get(timeout=10)
            threaded = lambda s: [c for c in s.of("chat.postMessage") if c.data.get("thread_ts") == root["ts"]]  # noqa: E731
            assert slack.wait_for(threaded, timeout=60), log_path.read_text()
        finally:
            child.send_signal(signal.SIGINT)
            code = child.wait(30)
    logs = log_path.read_text()
    assert ack["envelope_id"] == "env-w1"
    assert code in (0, 130) and "watch: stopped" in logs and "connecting to Slack in Socket Mode" in logs, logs
    assert "Traceback" not in logs and "xoxb-test-token" not in logs and "xapp-1-A0HELIQA" not in logs
    roots = [m for m in slack.messages if not m["thread_ts"]]
    assert len(roots) == 1 and "Error rate reached" in roots[0]["text"], [m["text"] for m in roots]
    assert "ANTHROPIC" in json.dumps(roots[0]["blocks"])
    (answer,) = threaded(slack)
    assert [line for line in answer.data["text"].splitlines() if line.startswith("•")], answer.data["text"]
