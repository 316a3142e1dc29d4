"""`heliqa watch` end to end: a subprocess posting to the fake Slack while `heliqa import` fills the store hour by
hour and a clock file drives the evaluations; killed with SIGKILL mid-post and restarted; Slack answering 429/503."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from heliqa.tools.demo import Incidents, generate
from tests.fake_slack import FakeSlack

ORG = "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
END = datetime(2026, 11, 24, 12)
STORM = Incidents(END).storm  # Anthropic answers 429 to most calls for two hours
T0 = STORM[0] - timedelta(hours=2)
KILLS = random.Random(19)  # where the extra SIGKILLs land: seeded, so a failure can be replayed
HEAD = """
[defaults]
channels = ["C0WATCH"]
"""
ERRORS = """
[[monitor]]
name = "errors"
measure = "errors"
"""
RATE = """
[[monitor]]
name = "error rate above 20%"
measure = "errors"
aggregation = "rate"
above = 20
min_requests = 20
"""
MONITORS = HEAD + ERRORS + RATE


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> tuple[Path, list[Path]]:
    """A store holding the generated traffic before T0, and one JSONL file per following hour."""
    from heliqa.tools.store import Store

    folder = tmp_path_factory.mktemp("watch-feed")
    rows = list(generate(12_000, 5, END.replace(tzinfo=UTC), ORG, days=12))
    created = [
        datetime.fromisoformat(r["request_created_at"].replace("Z", "+00:00")).replace(tzinfo=None) for r in rows
    ]
    store = Store(folder / "heliqa.duckdb")
    store.add_rows([r for r, c in zip(rows, created, strict=True) if c < T0])
    store.close()
    hours = []
    for h in range(6):
        start, end = T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1)
        path = folder / f"hour{h}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(r) + "\n" for r, c in zip(rows, created, strict=True) if start <= c < end)
        hours.append(path)
    return folder, hours


class Watch:
    """The watcher as a subprocess, its clock file and state file."""

    def __init__(self, home: Path, slack: FakeSlack):
        self.home, self.slack = home, slack
        self.clock = home / "clock"
        self.env = {
            **os.environ,
            "HELIQA_HOME": str(home),
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_API_URL": slack.api_url,
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = ["watch", str(self.home / "monitors.toml"), "--clock", str(self.clock), "--every", "1h", "--org", ORG]
        self.run(args)

    def run(self, args: list[str]) -> None:
        """Start `heliqa ARGS`, its log (stderr) going to a file: an unread pipe would fill and block it."""
        with (self.home / "watch.log").open("a") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "heliqa.cli", *args], env=self.env, stderr=log)

    def log(self) -> str:
        return (self.home / "watch.log").read_text(encoding="utf-8")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def set_clock(self, moment: datetime) -> None:
        tmp = self.clock.with_suffix(".tmp")
        tmp.write_text(_iso(moment), encoding="utf-8")
        tmp.replace(self.clock)

    def state(self) -> dict:
        try:
            return json.loads((self.home / "heliqa.watch.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def wait_evaluated(self, moment: datetime, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.state().get("last", {})
            if len(last) == 2 and all(v == _iso(moment) for v in last.values()):
                return
            assert self.proc.poll() is None, self.log()
            time.sleep(0.1)
        raise AssertionError(f"not evaluated at {moment}: {self.state().get('last')}")

    def import_hour(self, path: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "heliqa.cli", "import", "--quiet", str(path)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr


def test_one_post_per_incident_thread_updates_resolution_no_duplicates(feed, tmp_path):
    folder, hours = feed
    home = tmp_path / "home"
    home.mkdir()
    for name in ("heliqa.duckdb",):
        (home / name).write_bytes((folder / name).read_bytes())
    (home / "monitors.toml").write_text(MONITORS, encoding="utf-8")
    with FakeSlack() as slack:
        watch = Watch(home, slack)
        watch.set_clock(T0)
        watch.start()
        try:
            watch.wait_evaluated(T0)
            for h, path in enumerate(hours):
                moment = T0 + timedelta(hours=h + 1)
                watch.import_hour(path)
                if moment == STORM[0] + timedelta(hours=2):
                    # Slack takes the thread update, then the process dies before it hears back
                    slack.delays["chat.postMessage"] = 3.0
                    watch.set_clock(moment)
                    assert slack.wait_for(lambda s: len(s.messages) >= 3, timeout=60), slack.messages
                    watch.kill()
                    slack.delays.clear()
                    watch.start()
                elif moment == STORM[1] + timedelta(hours=1):
                    # the resolution meets a rate limit, then an outage: delayed, not lost, not doubled
                    slack.failures["chat.postMessage"] = [(429, {"Retry-After": "1"}), (503, {})]
                    watch.set_clock(moment)
                else:
                    watch.set_clock(moment)
                if h in (0, 2, 5):  # SIGKILL at a random point of the cycle (or of the retries), then restart
                    time.sleep(KILLS.uniform(0.0, 1.5))
                    watch.kill()
                    watch.start()
                watch.wait_evaluated(moment)
            assert slack.wait_for(lambda s: sum("Resolved" in (m["text"] or "") for m in s.messages) == 2, 60)
            deadline = time.monotonic() + 30
            while watch.state().get("outbox") and time.monotonic() < deadline:  # the last post's answer is saved
                time.sleep(0.1)
        finally:
            watch.kill()
    roots = [m for m in slack.messages if not m["thread_ts"]]
    replies = [m for m in slack.messages if m["thread_ts"]]
    assert len(roots) == 2, [m["text"] for m in roots]  # one post per incident (one per monitor here)
    assert {m["channel"] for m in slack.messages} == {"C0WATCH"}
    texts = " ".join(m["text"] for m in roots)
    assert "Error rate reached" in texts and "impact:" in texts and "since Nov 21 08:00 UTC" in texts
    drivers = "".join(json.dumps(m["blocks"]) for m in roots)
    assert "ANTHROPIC" in drivers and "mute errors 2h" in drivers and "change: edit it in `monitors.toml`" in drivers
    ids = [m["metadata"]["event_payload"]["id"] for m in slack.messages]
    assert len(ids) == len(set(ids)), ids  # nothing posted twice, the SIGKILL mid-post included
    root_ts = {m["ts"] for m in roots}
    assert replies and all(m["thread_ts"] in root_ts for m in replies)
    assert sum("Still going" in m["text"] for m in replies) == 2  # one update per incident, in its thread
    resolved = [m for m in replies if "Resolved" in m["text"]]
    assert len(resolved) == 2 and all("total impact" in m["text"] for m in resolved)
    statuses = [c.reply.get("status") for c in slack.of("chat.postMessage")]
    assert statuses.count(429) == 1 and statuses.count(503) == 1
    assert slack.of("conversations.replies")  # the restart asked Slack before posting the update again
    # each chart in its incident's thread, never twice (one being uploaded when a SIGKILL lands is dropped)
    charted = [c.data["thread_ts"] for c in slack.of("files.completeUploadExternal")]
    assert charted and set(charted) <= root_ts and len(charted) == len(set(charted)), charted
    assert watch.state()["outbox"] == []


def test_sync_every_keeps_the_store_fresh_for_the_watcher(feed, tmp_path):
    """`heliqa watch --sync-every 1s` pulls the storm's hours from a fake Helicone into the store it watches."""
    from tests.fake_helicone import FakeHelicone, RequestLog, helicone_row, serve_requests

    folder, hours = feed
    home = tmp_path / "home"
    home.mkdir()
    (home / "heliqa.duckdb").write_bytes((folder / "heliqa.duckdb").read_bytes())
    (home / "monitors.toml").write_text(
        MONITORS.split("[[monitor]]")[0] + "[[monitor]]" + MONITORS.split("[[monitor]]")[1]
    )
    served = [helicone_row(json.loads(line)) for path in hours for line in path.read_text().splitlines()]
    with FakeSlack() as slack, FakeHelicone() as helicone:
        serve_requests(helicone, RequestLog(rows=served))
        watch = Watch(home, slack)
        watch.env.update({"HELICONE_API_KEY": helicone.key, "HELICONE_BASE_URL": helicone.url, "HELIQA_ORG_ID": ORG})
        watch.set_clock(T0)
        args = [
            "watch",
            str(home / "monitors.toml"),
            "--clock",
            str(watch.clock),
            "--every",
            "1h",
            "--sync-every",
            "1s",
        ]
        watch.run(args)
        try:
            deadline = time.monotonic() + 60
            while not (home / "heliqa.sync.json").exists():
                assert time.monotonic() < deadline and watch.proc.poll() is None, watch.log()
                time.sleep(0.2)
            # the storm's last hour ends at T0+4h: calm at T0+5h (a dip) and again at T0+6h resolves it
            watch.set_clock(T0 + timedelta(hours=6))
            assert slack.wait_for(lambda s: any("Resolved" in (m["text"] or "") for m in s.messages), 60)
        finally:
            watch.kill()
    assert "sync: " in watch.log() and helicone.key not in watch.log() and "xoxb-test-token" not in watch.log()
    roots = [m for m in slack.messages if not m["thread_ts"]]
    assert len(roots) == 1 and roots[0]["text"].startswith(":rotating_light: Error rate reached")
    assert "since Nov 21 08:00 UTC" in roots[0]["text"] and "ANTHROPIC" in json.dumps(roots[0]["blocks"])


def test_a_second_watcher_on_the_same_store_is_refused_until_the_first_dies(feed, tmp_path):
    """Two watchers on one store would post every incident twice: the second is refused with the first's pid, and
    takes over once the first is killed with -9 (the kernel frees its lock)."""
    folder, _ = feed
    home = tmp_path / "home"
    home.mkdir()
    (home / "heliqa.duckdb").write_bytes((folder / "heliqa.duckdb").read_bytes())
    (home / "monitors.toml").write_text(MONITORS, encoding="utf-8")
    with FakeSlack() as slack:
        first = Watch(home, slack)
        first.set_clock(T0)
        first.start()
        try:
            first.wait_evaluated(T0)
            once = ["watch", str(home / "monitors.toml"), "--once", "--now", _iso(T0), "--org", ORG]
            second = subprocess.run(
                [sys.executable, "-m", "heliqa.cli", *once], env=first.env, capture_output=True, text=True, timeout=60
            )
            assert second.returncode == 2, second.stderr
            assert f"another heliqa watch (pid {first.proc.pid}) is already watching this store" in second.stderr
            assert "Traceback" not in second.stderr
            first.kill()
            again = subprocess.run(
                [sys.executable, "-m", "heliqa.cli", *once], env=first.env, capture_output=True, text=True, timeout=60
            )
            assert again.returncode == 0, again.stderr
        finally:
            if first.proc.poll() is None:
                first.kill()
