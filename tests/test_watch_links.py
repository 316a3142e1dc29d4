"""Links in an incident post: Helicone's requests page over the incident's window with the filters the page can
carry, written so that no value from data or the monitors file can break the link or mention anyone."""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse
from datetime import datetime

import pytest

from tests.conftest import MAIN_ORG
from tests.fake_slack import FakeSlack
from tests.test_watch import heliqa

DASHBOARD = "https://helicone.example.com/dashboard"
MONITORS = """
[defaults]
channels = ["C0LINK"]

[[monitor]]
name = "busy providers"
measure = "requests"
by = "provider"
filters = { country = "US", "property.environment" = "production", status = 200 }
above = 1
min_requests = 1
"""


def page_reads(url: str) -> tuple[str, list[str], list]:
    """What Helicone's requests page reads from `url`, as its code does: Next's router query (decoded once), `t`
    split on `_`, `filters` URI-decoded again, JSON-parsed and each leaf split on `:` (first three parts)."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    _, start, end = query["t"][0].split("_")

    def rows(node: dict):
        if node["type"] == "node":
            return [node["operator"], [rows(r) for r in node["rows"]]]
        return tuple(node["filter"].split(":")[:3])

    tree = json.loads(urllib.parse.unquote(query["filters"][0]).strip('"')) if "filters" in query else None
    return parts.path, [start, end], rows(tree) if tree else []


@pytest.fixture
def home(sample_home, tmp_path):
    shutil.copy(sample_home / "heliqa.duckdb", tmp_path / "heliqa.duckdb")
    (tmp_path / "monitors.toml").write_text(MONITORS, encoding="utf-8")
    return tmp_path


LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>")


def links_of(mrkdwn: str) -> list[tuple[str, str]]:
    """The (URL, text) of every `<…>` in a mrkdwn text, the URL as Slack opens it; fails on any other `<…>`."""
    assert mrkdwn.count("<") == mrkdwn.count(">") == len(LINK.findall(mrkdwn)), mrkdwn
    return [(url.replace("&amp;", "&"), text) for url, text in LINK.findall(mrkdwn)]


def test_the_post_links_the_requests_page_over_the_incident_window_with_its_filters(home):
    env = {"HELICONE_DASHBOARD_URL": DASHBOARD}
    with FakeSlack() as slack:
        env |= {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_API_URL": slack.api_url}
        for now in ("2026-11-21T08:00:00Z", "2026-11-21T09:00:00Z"):
            done = heliqa("watch", "--once", "--now", now, "--every", "1h", "--org", MAIN_ORG, home=home, env=env)
            assert done.returncode == 0, done.stderr
        roots = [m for m in slack.messages if not m["thread_ts"]]
    state = json.loads((home / "heliqa.watch.json").read_text(encoding="utf-8"))
    assert len(roots) >= 2  # one post per provider's series
    for root in roots:
        (incident,) = [i for i, posts in state["threads"].items() if posts["C0LINK"] == root["ts"]]
        start = state["scopes"][incident]["range"]["start"]
        _, provider, opened = incident.split("|")
        (dashboard, dashboard_text), (url, text) = links_of(root["blocks"][-1]["elements"][0]["text"])
        assert (dashboard, dashboard_text) == (DASHBOARD, "Helicone dashboard")
        assert url.startswith("https://helicone.example.com/requests?")
        path, span, rows = page_reads(url)
        assert span == [start + ".000Z", opened.replace("Z", ".000Z")]  # the incident's window when posted
        assert rows == [
            "and",
            [("environment", "equals", "production"), ("Status", "equals", "200"), ("Provider", "equals", provider)],
        ]
        assert text == "requests in this window (not filtered by country)"  # the page has no country filter


HOSTILE = 'gpt-4 <!channel> a>b|c & "d" \\ `e` %41'


def test_hostile_values_are_carried_exactly_and_what_the_page_cannot_read_is_left_out():
    from heliqa.tools.helicone_lists import requests_page_link

    start, end = datetime(2026, 11, 21, 7), datetime(2026, 11, 21, 9, 30)
    filters = [
        ("model", ["gpt-4", HOSTILE]),
        ("status", 429),
        ("provider", "anthropic"),  # Helicone keeps providers upper case, as monitors filter them
        ("user", "bob"),
        ("property.feature", HOSTILE),
        ("country", "US"),  # no such row on the page
        ("property.env", "a:b"),  # the page splits a row on ':'
        ("property.Model ", "x"),  # the page would read it as its own Model row
        ("property.tier", ""),  # an empty value filters nothing there
    ]
    url, broader = requests_page_link("https://eu.helicone.ai/dashboard", start, end, filters)
    assert url.startswith("https://eu.helicone.ai/requests?")
    assert not set(url) & set(' <>|"\\`') and url.isascii()
    path, span, rows = page_reads(url)
    assert (path, span) == ("/requests", ["2026-11-21T07:00:00.000Z", "2026-11-21T09:30:00.000Z"])
    assert rows == [
        "and",
        [
            ["or", [("Model", "equals", "gpt-4"), ("Model", "equals", HOSTILE)]],
            ("Status", "equals", "429"),
            ("Provider", "equals", "ANTHROPIC"),
            ("User", "equals", "bob"),
            ("feature", "equals", HOSTILE),
        ],
    ]
    assert broader == ["country", "property.env", "property.Model ", "property.tier"]
    url, broader = requests_page_link(DASHBOARD, start, end, [("model", ["m" * 150] * 20)])  # too long a URL
    assert page_reads(url)[2] == [] and broader == ["model"] and len(url) < 200


def test_a_post_with_hostile_names_keeps_its_links_whole_and_mentions_no_one():
    from heliqa.agent.watch import Incident
    from heliqa.tools.monitors import Monitor
    from heliqa.watch_post import opening

    m = Monitor(name="slow", measure="latency", by="model", filters={"property.feature": HOSTILE}, above=5000)
    start, now = datetime(2026, 11, 21, 7), datetime(2026, 11, 21, 8)
    incident = Incident("slow", HOSTILE, start, now, 1.0, 9000.0, 9000.0)
    text, blocks = opening(m, incident, now, "UTC", DASHBOARD)
    context = blocks[-1]["elements"][0]["text"]
    assert "<!" not in context and "<!" not in text
    (_, _), (url, words) = links_of(context)  # exactly two links: the dashboard and the requests page
    assert words == "requests in this window"
    path, span, rows = page_reads(url)
    assert span == ["2026-11-21T07:00:00.000Z", "2026-11-21T08:00:00.000Z"]
    assert rows == ["and", [("feature", "equals", HOSTILE), ("Model", "equals", HOSTILE)]]
    long = Incident("slow", "x" * 500, start, now, 1.0, 9000.0, 9000.0)  # a series' value from data, too long
    (_, _), (url, words) = links_of(opening(m, long, now, "UTC", DASHBOARD)[1][-1]["elements"][0]["text"])
    assert words == "requests in this window (not filtered by model)" and "x" * 500 not in url
    assert "/requests" not in json.dumps(opening(m, incident, now, "UTC", None)[1])  # no dashboard: no links


def test_slack_link_escapes_its_url_and_text():
    from heliqa.slack_render import link

    made = link("https://h.example/a b?x=<!here>|y&z=`1`", "see | <!channel> & `this`\nnow")
    url = "https://h.example/a%20b?x=%3C!here%3E%7Cy&z=%601%60"
    assert made == f"<{url.replace('&', '&amp;')}|see \u2223 &lt;!channel&gt; &amp; ˋthisˋ now>"
    assert links_of(made) == [(url, "see \u2223 &lt;!channel&gt; &amp; ˋthisˋ now")]
