"""`heliqa slack --watch` and `heliqa serve --watch`: the watch loop on a thread of the app's process posts an
incident from a generated store to the fake Slack, and stops with the app."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from heliqa.tools.demo import Incidents, generate
from tests.fake_slack import FakeSlack

ORG = "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
END = datetime(2026, 11, 24, 12)
STORM = Incidents(END).storm  # Anthropic answers 429 to most calls for two hours
NOW = STORM[0] + timedelta(hours=2)
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


@pytest.mark.parametrize("surface", ["slack", "serve"])
def test_app_with_watch_posts_an_incident_and_stops_with_the_app(surface, store_file, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "heliqa.duckdb").write_bytes(store_file.read_bytes())
    (tmp_path / "monitors.toml").write_text(MONITORS, encoding="utf-8")
    port = _port()
    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    args = [*_app(surface, port), "--org", ORG, "--now", now, "--watch", str(tmp_path / "monitors.toml")]
    with FakeSlack() as slack:
        env = {
            **os.environ,
            "HELIQA_HOME": str(home),
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": "test-signing-secret",
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
        finally:
            child.send_signal(signal.SIGINT)  # Ctrl+C: the app shuts down, then stops its watcher
            code = child.wait(30)
    logs = log_path.read_text()
    assert code in (0, 130) and "watch: stopped" in logs, logs
    assert "Traceback" not in logs and "xoxb-test-token" not in logs
    roots = [m for m in slack.messages if not m["thread_ts"]]
    assert len(roots) == 1 and roots[0]["channel"] == "C0WATCH", [m["text"] for m in roots]
    assert "Error rate reached" in roots[0]["text"] and "impact:" in roots[0]["text"]
    assert "ANTHROPIC" in json.dumps(roots[0]["blocks"])
    state = json.loads((home / "heliqa.watch.json").read_text(encoding="utf-8"))
    assert state["last"] == {"error rate above 20%": now} and state["outbox"] == []
