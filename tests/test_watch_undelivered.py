"""`heliqa watch --once` with Slack out of reach: the run says which posts did not go out and why, exits non-zero,
and keeps them queued, so the next run (Slack back) sends each one once."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.conftest import MAIN_ORG
from tests.fake_slack import FakeSlack
from tests.servers import free_port
from tests.test_watch import heliqa

MONITORS = """
[defaults]
channels = ["C0LATE"]

[[monitor]]
name = "errors"
measure = "errors"
"""
QUIET = """
[channel.C0LATE]
tz = "UTC"
quiet_hours = "00:00-23:59"
"""
OPENS = "2026-11-21T09:00:00Z"  # the errors monitor opens an incident on the sample at this hour


@pytest.fixture
def home(sample_home, tmp_path):
    shutil.copy(sample_home / "heliqa.duckdb", tmp_path / "heliqa.duckdb")
    (tmp_path / "monitors.toml").write_text(MONITORS, encoding="utf-8")
    return tmp_path


def once(home, api_url: str, now: str = OPENS):
    env = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": api_url}
    return heliqa("watch", "--once", "--now", now, "--every", "1h", "--org", MAIN_ORG, home=home, env=env)


def outbox(home) -> list[dict]:
    return json.loads((home / "heliqa.watch.json").read_text(encoding="utf-8"))["outbox"]


def test_an_unreachable_slack_fails_the_run_and_keeps_the_post_for_the_next(home):
    closed = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    done = once(home, closed)
    assert done.returncode == 1, done.stderr
    assert "heliqa: 1 post and 1 chart not delivered to Slack (C0LATE: no answer (ConnectError))" in done.stderr
    assert "kept in " in done.stderr and "sent by the next run" in done.stderr
    kept = outbox(home)
    assert [i.get("chart") is None for i in kept] == [True, False] and all(i["attempts"] <= 1 for i in kept)
    assert kept[0]["error"] == "no answer (ConnectError)" and kept[0]["state"] == "queued"

    time.sleep(2.5)  # the first retry waits 2 s of wall clock
    with FakeSlack() as slack:
        again = once(home, slack.api_url)
        assert again.returncode == 0, again.stderr
        roots = [m for m in slack.messages if not m["thread_ts"]]
        assert len(roots) == 1 and "error" in roots[0]["text"].lower()
        assert len(slack.of("files.completeUploadExternal")) == 1
    assert outbox(home) == []


def test_posts_held_for_quiet_hours_are_not_a_failure(home):
    (home / "monitors.toml").write_text(MONITORS + QUIET, encoding="utf-8")
    done = once(home, f"http://127.0.0.1:{free_port()}/api/")
    assert done.returncode == 0, done.stderr
    assert "not delivered" not in done.stderr and len(outbox(home)) == 2
