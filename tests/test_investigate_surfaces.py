"""The three forms on every surface: Slack threads (Block Kit tables, charts, follow-ups), the REPL, charts
and `heliqa ask --chart`, on the planted-incident data of test_investigate."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from heliqa import slack as slack_app
from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.chart import render_png
from heliqa.repl import Repl
from heliqa.tools.store import Store
from tests.fake_slack import BOT_USER, FakeSlack
from tests.test_investigate import END, LATENCY_INCIDENT, ORG, _rows
from tests.test_slack import ASKER, CHANNEL, PNG_MAGIC, blocks_of, event_body, make_app, post, serve, threaded_answers

EXPLAIN = "why did we spend so much yesterday?"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("investigate-surfaces")
    store = Store(path / "heliqa.duckdb")
    store.add_rows(_rows())
    store.close()
    return path


@pytest.fixture(scope="module")
def store(home):
    store = Store(home / "heliqa.duckdb", read_only=True)
    yield store
    store.close()


def _conversation(store, tz: str = "UTC") -> Conversation:
    return Conversation(store, make_planner("rules"), ORG, ZoneInfo(tz), END)


def test_slack_thread_explains_then_lists_those_requests_then_compares(store):
    expected = _conversation(store)
    want = [expected.ask(q) for q in (EXPLAIN, "show me those requests")]
    week = _conversation(store)
    week.ask("cost by model today")
    want_compare = week.ask("compare with last week")
    assert want_compare.kind == "compare" and {r.period for r in want_compare.rows} == {"current", "previous"}

    settings = slack_app.Settings(org=ORG, default_tz="UTC", now=END)
    heliqa = slack_app.HeliqaSlack(store, make_planner("rules"), settings)
    with FakeSlack(users={ASKER: "UTC"}) as fake:
        app = make_app(heliqa, fake)
        ts = "1700000200.000200"
        mention = {
            "type": "app_mention",
            "user": ASKER,
            "channel": CHANNEL,
            "ts": ts,
            "text": f"<@{BOT_USER}> {EXPLAIN}",
        }
        with serve(app) as http:
            post(http, event_body(mention, "Ev1001"), kind="application/json")
            assert fake.wait_for(lambda f: f.of("files.completeUploadExternal"), timeout=10)
            follow = {
                **mention,
                "ts": "1700000300.000300",
                "thread_ts": ts,
                "text": f"<@{BOT_USER}> show me those requests",
            }
            post(http, event_body(follow, "Ev1002"), kind="application/json")
            assert fake.wait_for(lambda f: len(threaded_answers(f, ts)) == 2, timeout=10)

            other = "1700000400.000400"
            first = {**mention, "ts": other, "text": f"<@{BOT_USER}> cost by model today"}
            post(http, event_body(first, "Ev1003"), kind="application/json")
            assert fake.wait_for(lambda f: len(threaded_answers(f, other)) == 1, timeout=10)
            again = {
                **mention,
                "ts": "1700000500.000500",
                "thread_ts": other,
                "text": f"<@{BOT_USER}> compare with last week",
            }
            post(http, event_body(again, "Ev1004"), kind="application/json")
            assert fake.wait_for(lambda f: len(threaded_answers(f, other)) == 2, timeout=10)
            # the explanation's chart, the aggregate's, the comparison's (a list has none)
            assert fake.wait_for(lambda f: len(f.of("files.completeUploadExternal")) == 3, timeout=10)
            time.sleep(0.3)
        assert len(fake.of("files.completeUploadExternal")) == 3

    explained, listed = threaded_answers(fake, ts)
    blocks = blocks_of(explained)
    assert blocks["summary"]["text"]["text"] == want[0].message
    table = blocks["table"]
    assert table["type"] == "table"
    header = [cell["text"] for cell in table["rows"][0]]
    assert header[:2] == ["dimension", "value"]
    drivers = [[cell["text"] for cell in row][:2] for row in table["rows"][1:]]
    assert drivers == [[d.dimension, d.value] for d in want[0].rows][: len(drivers)]  # the answer's, in its order
    assert ["user", "user_whale"] in drivers

    assert want[1].kind == "list"
    listed_ids = [cell["text"] for row in blocks_of(listed)["table"]["rows"][1:] for cell in row[-1:]]
    assert listed_ids == [r.request_id for r in want[1].rows][: len(listed_ids)] and listed_ids
    assert blocks_of(listed)["summary"]["text"]["text"] == want[1].message

    _, compared = threaded_answers(fake, other)
    assert blocks_of(compared)["summary"]["text"]["text"] == want_compare.message
    assert "vs 7 days earlier" in want_compare.interpretation


def test_repl_shows_each_form(store):
    out = io.StringIO()
    console = Console(file=out, width=140, force_terminal=False, color_system=None)
    repl = Repl(_conversation(store), console, raw_out=out)
    for line in (EXPLAIN, "show me those requests", "cost by model today vs yesterday", "/json"):
        assert repl.handle(line)
    text = out.getvalue()
    assert "user_whale" in text and "window" in text  # the explanation and its marked sparkline
    assert "most expensive first" in text
    assert "current" in text and "previous" in text and "change" in text
    payload = json.loads(text[text.rindex('{\n  "status"') :])
    assert payload["kind"] == "compare" and {d["period"] for d in payload["data"]} == {"current", "previous"}


def test_charts_for_each_form(store):
    conversation = _conversation(store)
    explained = conversation.ask(EXPLAIN)
    png = render_png(explained)
    assert png is not None and png.startswith(PNG_MAGIC)
    assert render_png(conversation.ask("show me those requests")) is None  # a list has no chart
    compared = _conversation(store).ask("requests per hour today vs yesterday")
    assert render_png(compared).startswith(PNG_MAGIC)
    scores = _conversation(store).ask("scores by day over the last 7 days")
    assert render_png(scores).startswith(PNG_MAGIC)


def test_chart_notes_series_left_out(store):
    from heliqa.chart import _series

    answer = _conversation(store).ask("requests per hour by user today")
    shown, total = _series(answer)
    assert total > len(shown) == 8


def test_ask_chart_writes_png(home, tmp_path):
    target = tmp_path / "why.png"
    now = (LATENCY_INCIDENT[1]).strftime("%Y-%m-%dT%H:%M:%SZ")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "heliqa.cli",
            "ask",
            "--json",
            "--now",
            now,
            "--tz",
            "UTC",
            "--org",
            ORG,
            "--chart",
            str(target),
            "--",
            "why is everything so slow",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HELIQA_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["kind"] == "explain" and answer["data"][0]["value"] == "gpt-4"
    assert target.read_bytes().startswith(PNG_MAGIC)
