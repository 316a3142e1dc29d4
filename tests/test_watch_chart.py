"""An incident post's chart (its own outbox item, uploaded once into the thread) and its Helicone dashboard link."""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import pytest

from heliqa import chart
from heliqa.slack_render import dashboard_url
from heliqa.tools.watch_state import WatchState
from heliqa.watch_post import SlackPoster, deliver
from tests.conftest import MAIN_ORG
from tests.fake_slack import FakeSlack
from tests.test_watch import heliqa

MONITORS = """
[defaults]
channels = ["C0CHART"]

[[monitor]]
name = "errors"
measure = "errors"
"""


@pytest.fixture
def home(sample_home, tmp_path):
    """A copy of the sample store with a monitors file posting to one channel."""
    shutil.copy(sample_home / "heliqa.duckdb", tmp_path / "heliqa.duckdb")
    (tmp_path / "monitors.toml").write_text(MONITORS, encoding="utf-8")
    return tmp_path


def watch_once(home, slack: FakeSlack, now: str, **env: str) -> dict:
    env = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": slack.api_url, **env}
    done = heliqa("watch", "--once", "--now", now, "--every", "1h", "--org", MAIN_ORG, home=home, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads((home / "heliqa.watch.json").read_text(encoding="utf-8"))


def test_the_chart_goes_once_into_the_incident_thread_across_restarts(home):
    with FakeSlack() as slack:
        for now in ("2026-11-21T08:00:00Z", "2026-11-21T09:00:00Z", "2026-11-21T10:00:00Z"):
            state = watch_once(home, slack, now)  # each run a new process: a restart between cycles
        roots = [m for m in slack.messages if not m["thread_ts"]]
        assert len(roots) == 1 and state["outbox"] == []
        completed = slack.of("files.completeUploadExternal")
        assert len(completed) == 1, [c.data for c in completed]  # once per incident, not once per run
        assert completed[0].data["thread_ts"] == roots[0]["ts"] and completed[0].data["channel_id"] == "C0CHART"
        assert "error rate" in json.loads(completed[0].data["files"])[0]["title"]
        (png,) = slack.uploads.values()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
        assert "Helicone dashboard" not in json.dumps(roots[0]["blocks"])  # the store, no URL configured


def test_a_refused_chart_upload_leaves_the_post_standing(home):
    with FakeSlack() as slack:
        slack.overrides["files.getUploadURLExternal"] = {"ok": False, "error": "missing_scope"}
        watch_once(home, slack, "2026-11-21T08:00:00Z")
        state = watch_once(home, slack, "2026-11-21T09:00:00Z")
        assert len([m for m in slack.messages if not m["thread_ts"]]) == 1
        assert slack.of("files.getUploadURLExternal") and not slack.of("files.completeUploadExternal")
        assert state["outbox"] == []  # dropped for good, not retried forever


def test_a_configured_dashboard_is_linked_from_the_post(home):
    with FakeSlack() as slack:
        url = "https://helicone.example.com/dashboard"
        watch_once(home, slack, "2026-11-21T08:00:00Z", HELICONE_DASHBOARD_URL=url)
        watch_once(home, slack, "2026-11-21T09:00:00Z", HELICONE_DASHBOARD_URL=url)
        (root,) = [m for m in slack.messages if not m["thread_ts"]]
        assert f"<{url}|Helicone dashboard>" in json.dumps(root["blocks"])


def test_dashboard_url_for_helicone_defaults_to_its_region(monkeypatch):
    monkeypatch.delenv("HELICONE_DASHBOARD_URL", raising=False)
    monkeypatch.setenv("HELICONE_BASE_URL", "https://eu.api.helicone.ai")
    assert dashboard_url("helicone") == "https://eu.helicone.ai/dashboard"
    assert dashboard_url("store") is None


def chart_item(points: list, state: str = "queued") -> dict:
    series = {"title": "error rate", "unit": "%", "points": points, "window": ["2026-11-21T06:00:00Z"] * 2}
    return {
        "id": "errors||2026-11-21T08:00:00Z|chart|C0CHART",
        "channel": "C0CHART",
        "text": "",
        "thread": "errors||2026-11-21T08:00:00Z",
        "incident": "errors||2026-11-21T08:00:00Z",
        "chart": series,
        "blocks": None,
        "state": state,
        "attempts": 0,
        "after": None,
    }


@pytest.mark.parametrize(
    "item",
    [
        chart_item([["2026-11-21T05:00:00Z", 1.0], ["2026-11-21T06:00:00Z", 9.0]], state="sending"),  # crash
        chart_item([["2026-11-21T05:00:00Z", None]]),  # nothing to draw
    ],
    ids=["uploading-at-a-crash", "nothing-to-draw"],
)
def test_a_chart_that_may_have_gone_or_cannot_be_drawn_is_dropped_without_an_upload(tmp_path, item):
    state = WatchState(tmp_path / "heliqa.watch.json")
    state.threads[item["incident"]] = {"C0CHART": "1700000000.000001"}
    state.outbox.append(item)
    with FakeSlack() as slack:
        deliver(state, SlackPoster("xoxb-test-token", slack.api_url), {}, datetime(2026, 11, 21, 9), state.save)
        assert state.outbox == [] and not slack.of("files.getUploadURLExternal")


def test_the_incident_chart_shades_the_window_with_the_unit_and_an_elided_title():
    from matplotlib.dates import date2num

    series = {
        "title": "p90 latency · " + "$x$\u202e" * 200,  # a name from data: mathtext, bidi, far too long
        "unit": "ms",
        "points": [[f"2026-11-21T{h:02d}:00:00Z", float(h)] for h in range(12)],
        "window": ["2026-11-21T08:00:00Z", "2026-11-21T10:00:00Z"],
        "typical": 3.0,
        "typical_label": "threshold",
    }
    ax = chart.incident_figure(series).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["incident", "threshold"]
    (shade,) = ax.patches
    left, right = shade.get_x(), shade.get_x() + shade.get_width()
    assert (left, right) == pytest.approx((date2num(datetime(2026, 11, 21, 8)), date2num(datetime(2026, 11, 21, 10))))
    assert ax.get_ylabel() == "ms"
    title = ax.get_title(loc="left")
    assert title.count("$x") < 40 and "\u202e" not in title and "U+202E" in title  # elided, controls shown
    assert "$x$" not in title  # no mathtext
    png = chart.incident_png(series)
    assert png is not None and png.startswith(b"\x89PNG")
