"""Digests' noise control: `watches` lists them, `mute|unmute|unwatch|rewatch digest [LABEL]` in Slack and the CLI,
and the watcher skipping a muted or stopped digest's period for good."""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import pytest
from slack_sdk import WebClient

from heliqa import slack as slack_app
from heliqa.agent.factory import make_planner
from heliqa.tools.monitors import Digest, digest_labels
from heliqa.tools.store import Store
from tests.conftest import MAIN_ORG
from tests.fake_slack import BOT_USER, FakeSlack
from tests.test_slack import BOT_TOKEN, SECRET, event_body, post, serve
from tests.test_watch import heliqa

HOSTILE = "<!channel> <https://evil.example|x>"

SEVERAL = f"""
[defaults]
channels = ["C0WATCH"]

[[monitor]]
name = "daily"
measure = "errors"
filters = {{ model = "{HOSTILE}" }}

[[digest]]
channel = "C0OPS"
every = "daily"

[[digest]]
channel = "C0DEV"
every = "daily"
at = "08:00"
filters = {{ model = "<!here>" }}

[[digest]]
channel = "C0OPS"
every = "weekly"
name = "prod weekly"
"""

ONE = """
[[digest]]
channel = "C0DIGEST"
every = "daily"
"""


@pytest.fixture
def home(sample_home, tmp_path):
    """A copy of the sample store: the watcher writes its state beside it."""
    shutil.copy(sample_home / "heliqa.duckdb", tmp_path / "heliqa.duckdb")
    return tmp_path


def watch_once(home, slack: FakeSlack, now: str) -> dict:
    env = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": slack.api_url}
    done = heliqa("watch", "--once", "--now", now, "--every", "1h", "--org", MAIN_ORG, home=home, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads((home / "heliqa.watch.json").read_text(encoding="utf-8"))


def digest_posts(slack: FakeSlack) -> list[dict]:
    return [m for m in slack.messages if m["channel"] == "C0DIGEST"]


def test_labels_are_the_name_else_how_often_else_how_often_and_where():
    daily, weekly = Digest(channel="C1", every="daily"), Digest(channel="C1", every="weekly")
    assert digest_labels([daily, weekly]) == ["daily", "weekly"]
    assert digest_labels([daily, Digest(channel="C2", every="daily"), weekly]) == ["daily C1", "daily C2", "weekly"]
    named = Digest(channel="C2", every="daily", name="weekly")  # a name like another's label takes it over
    assert digest_labels([named, weekly]) == ["weekly", "weekly C1"]


def test_slack_lists_mutes_and_stops_digests_by_label(home):
    """The real Bolt app on signed requests: `watches` lists the monitors (their hostile filter values escaped) and
    the digests the watcher recorded; a bare `daily` is ambiguous and the reply lists the labels; a channel
    reference picks one; the monitor named `daily` and the digests keep their own mutes."""
    (home / "monitors.toml").write_text(SEVERAL, encoding="utf-8")
    done = heliqa("watch", "--once", "--now", "2026-11-21T09:00:00Z", "--every", "1h", "--org", MAIN_ORG, home=home)
    assert done.returncode == 0, done.stderr
    said = [
        "watches",
        "mute digest daily 1d",
        "mute digest daily <#C0OPS|ops> for 1d",
        "mute daily 2h",
        "unwatch digest prod weekly",
        f"mute digest nosuch{HOSTILE} 1d",
        "unwatch digest",
        "watches",
        "rewatch digest `prod weekly`",
        "digests",
    ]
    replies = _converse(home, said)
    first = replies[0]
    assert "&lt;!channel&gt; &lt;https://evil.example|x&gt;" in first and "<!" not in first and "<http" not in first
    assert "• *daily*: error rate (model = &lt;!channel&gt;" in first
    for line in (
        "• *daily digest* `daily C0OPS` to <#C0OPS>: every day at 09:00 UTC",
        "• *daily digest* `daily C0DEV` to <#C0DEV>: every day at 08:00 UTC (model = &lt;!here&gt;)",
        "• *weekly digest* `prod weekly` to <#C0OPS>: every Monday at 09:00 UTC",
    ):
        assert line + "\n" in first + "\n", first
    assert "“daily” could be several digests. Say one of `daily C0OPS`, `daily C0DEV`, `prod weekly`" in replies[1]
    assert replies[2].startswith("Muted the daily digest `daily C0OPS` to C0OPS for 1d (until ")
    assert "skipped, not posted when the mute ends" in replies[2]
    assert replies[3].startswith("Muted *daily* for 2h")  # the monitor
    assert replies[4].startswith("Stopped the weekly digest `prod weekly` to C0OPS")
    assert replies[5].startswith("No digest called “nosuch&lt;!channel&gt; &lt;https://evil.example|x&gt;”. Say one")
    assert replies[6].startswith("Which digest? Say one of `daily C0OPS`")
    listed = replies[7]
    assert "• *daily*: error rate" in listed and "(muted until" in listed.split("\n")[1]
    assert "`daily C0OPS` to <#C0OPS>: every day at 09:00 UTC (muted until " in listed
    assert "`daily C0DEV` to <#C0DEV>: every day at 08:00 UTC (model = &lt;!here&gt;)\n" in listed
    assert "`prod weekly` to <#C0OPS>: every Monday at 09:00 UTC (stopped)" in listed
    assert replies[8].startswith("The weekly digest `prod weekly` to C0OPS is posted again")
    assert "`prod weekly` to <#C0OPS>: every Monday at 09:00 UTC\n" in replies[9]
    mutes = json.loads((home / "heliqa.watch.mutes.json").read_text(encoding="utf-8"))
    assert set(mutes["muted"]) == {"daily"} and set(mutes["digests"]["muted"]) == {"daily|C0OPS|"}
    assert mutes["digests"]["unwatched"] == []


def _converse(home, said: list[str]) -> list[str]:
    """Each text said to the bot in a channel, in turn; its replies in order."""
    store = Store(home / "heliqa.duckdb", read_only=True)
    heliqa_app = slack_app.HeliqaSlack(store, make_planner("rules"), slack_app.Settings(org=MAIN_ORG, default_tz="UTC"))
    with FakeSlack() as fake:
        app = slack_app.build_app(heliqa_app, WebClient(token=BOT_TOKEN, base_url=fake.api_url), SECRET)
        with serve(app) as http:
            for n, text in enumerate(said):
                ts = f"1700000{n:02d}0.000100"
                event = {"type": "app_mention", "user": "UASKER01", "channel": "C0ONCALL1", "ts": ts}
                event["text"] = f"<@{BOT_USER}> {text}"
                response, _ = post(http, event_body(event, f"EvD{n}"), kind="application/json")
                assert response.status_code == 200
                assert fake.wait_for(
                    lambda f, ts=ts: any(c.data.get("thread_ts") == ts for c in f.of("chat.postMessage"))
                )
        replies = {c.data["thread_ts"]: c.data["text"] for c in fake.of("chat.postMessage")}
    store.close()
    return [replies[f"1700000{n:02d}0.000100"] for n in range(len(said))]


def test_a_muted_digest_skips_its_period_for_good(home):
    """`heliqa watch mute digest 1d` (before any watcher ran: the file beside the store names it): the post due
    while muted is not made, nor made once the mute has ended; the next period's post is, and says how to mute."""
    (home / "monitors.toml").write_text(ONE, encoding="utf-8")
    done = heliqa("watch", "mute", "digest", "nosuch", "1d", home=home)
    assert done.returncode == 2 and "No digest called “nosuch”. Say one of `daily`" in done.stderr
    done = heliqa("watch", "mute", "digest", "1d", "--now", "2026-11-21T08:30:00Z", home=home)
    assert done.returncode == 0, done.stderr
    assert "Muted the daily digest `daily` to C0DIGEST for 1d (until Nov 22 08:30 UTC)" in done.stdout
    with FakeSlack() as slack:
        state = watch_once(home, slack, "2026-11-21T09:00:00Z")
        assert digest_posts(slack) == [] and state["outbox"] == []
        assert state["digests"]["daily|C0DIGEST|"]["period"] == "2026-11-21T09:00:00Z"  # done, without a post
        assert state["digest_list"][0]["label"] == "daily"
        watch_once(home, slack, "2026-11-22T08:45:00Z")  # the mute has ended: the skipped period stays skipped
        assert digest_posts(slack) == []
        watch_once(home, slack, "2026-11-22T09:00:00Z")
        posts = digest_posts(slack)
    assert len(posts) == 1 and "Nov 21 09:00 → Nov 22 09:00 UTC" in posts[0]["text"]
    footer = posts[0]["blocks"][-1]["elements"][0]["text"]
    assert "`@heliqa mute digest daily 1d`" in footer and "`@heliqa unwatch digest daily`" in footer


def test_a_stopped_digest_is_not_queued_until_rewatched(home):
    """`unwatch digest`: nothing queued at its time; `rewatch digest`: not the dropped period, the next one."""
    (home / "monitors.toml").write_text(ONE, encoding="utf-8")
    done = heliqa("watch", "unwatch", "digest", "daily", home=home)
    assert done.returncode == 0 and "Stopped the daily digest `daily`" in done.stdout, done.stderr
    with FakeSlack() as slack:
        state = watch_once(home, slack, "2026-11-21T09:00:00Z")
        assert digest_posts(slack) == [] and state["outbox"] == []
        done = heliqa("watch", "rewatch", "digest", home=home)
        assert done.returncode == 0 and "is posted again from its next scheduled time" in done.stdout
        watch_once(home, slack, "2026-11-21T10:00:00Z")
        assert digest_posts(slack) == []
        watch_once(home, slack, "2026-11-22T09:00:00Z")
        posts = digest_posts(slack)
    assert len(posts) == 1 and "Nov 21 09:00 → Nov 22 09:00 UTC" in posts[0]["text"]
    mutes = json.loads((home / "heliqa.watch.mutes.json").read_text(encoding="utf-8"))
    assert mutes["digests"]["unwatched"] == [] and "unwatched" not in mutes  # no monitor was touched


def test_the_digest_footer_keeps_a_hostile_label_inert(sample_store):
    """A label carries a channel from the file: in the post's code spans it can neither ping nor close them."""
    from datetime import datetime

    from heliqa.watch_digest import build, slack_message

    found = build(sample_store, MAIN_ORG, "daily", datetime(2026, 11, 24, 9), "UTC", {}, None, {})
    d = Digest(channel="<!here>`x", every="daily")
    _, blocks = slack_message(found, d, None, digest_labels([d, Digest(channel="C1", every="daily")])[0])
    footer = blocks[-1]["elements"][0]["text"]
    assert "<!here>" not in footer and "`@heliqa mute digest daily &lt;!here&gt;" in footer
    assert footer.count("`") % 2 == 0


def test_a_long_watch_list_stays_one_readable_message(tmp_path):
    """Hundreds of monitors with long, hostile descriptions: each line is shortened before escaping (no entity is
    cut), the list stops within Slack's advised size and says how many were left out."""
    from heliqa.tools.watch_state import Mutes, state_paths
    from heliqa.watch_commands import LINE_CHARS, LIST_CHARS, listing

    state, mutes = state_paths(tmp_path)
    long = "<!channel> & " * 100
    monitors = [{"name": f"m{i}", "describe": long} for i in range(300)]
    state.write_text(json.dumps({"monitors": monitors, "digest_list": []}), encoding="utf-8")
    text = listing(tmp_path, Mutes(mutes), datetime(2026, 11, 24))
    lines = text.splitlines()
    assert len(text) < LIST_CHARS + 200 and "<!channel>" not in text
    assert lines[1].startswith("• *m0*: &lt;!channel&gt; &amp;") and lines[1].endswith("…")
    assert len(lines[1]) < 2 * LINE_CHARS and not lines[1].endswith("&amp…")
    shown = sum(line.startswith("• ") for line in lines)
    assert 0 < shown < 300 and f"… and {300 - shown} more" in text
