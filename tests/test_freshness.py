"""Answers know where the data ends: a range past the newest request says 'Data through …' and shows no empty
trailing buckets as a drop; `heliqa orgs` shows each organization's first and last request; `heliqa demo` says
what `now` its data ends at and `--reset` starts over; `--chart` without matplotlib still prints the answer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from tests.conftest import MAIN_ORG, NOW
from tests.test_package import run

DEMO_NOW = "2026-11-24T12:00:00Z"


def _last_request(sample_rows) -> datetime:
    return max(
        datetime.fromisoformat(r["request_created_at"]).replace(tzinfo=None)
        for r in sample_rows
        if r["organization_id"] == MAIN_ORG
    )


def test_a_range_past_the_data_says_where_it_ends_and_shows_no_drop(sample_store, sample_rows):
    later = Conversation(sample_store, make_planner("rules"), MAIN_ORG, ZoneInfo("UTC"), NOW + timedelta(hours=3))
    answer = later.ask("requests per hour over the last 12 hours")
    last = _last_request(sample_rows)
    assert answer.status == "ok"
    assert all(r.bucket <= last for r in answer.rows)  # the three hours nobody logged yet are left out
    assert len(answer.rows) == 9 and all(r.value > 0 for r in answer.rows)
    assert "Latest 0" not in answer.message and "-100%" not in answer.message
    assert f"Data through {last:%b %d %H:%M} UTC, 3 hours before the range ends." in answer.message
    assert answer.to_json()["data_through"] == f"{last:%Y-%m-%dT%H:%M:%S}Z"
    explained = later.ask("why are we getting so many errors?")
    assert "Data through" in explained.message and explained.to_json()["data_through"]


def test_a_range_within_the_data_says_nothing_about_it(sample_store):
    answer = Conversation(sample_store, make_planner("rules"), MAIN_ORG, ZoneInfo("UTC"), NOW).ask(
        "requests per hour over the last 12 hours"
    )
    assert "Data through" not in answer.message and len(answer.rows) == 12
    assert answer.to_json()["data_through"].startswith("2026-11-24T11:")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("fresh-home")
    done = run(home, "demo", "--rows", "2000", "--now", DEMO_NOW)
    assert done.returncode == 0, done.stderr
    return home


def test_demo_says_where_its_data_ends_and_reset_starts_over(home):
    again = run(home, "demo", "--rows", "2000", "--now", DEMO_NOW)
    assert "0 new requests" in again.stdout and f"heliqa demo --reset --now {DEMO_NOW}" in again.stdout
    assert f"the data ends at {DEMO_NOW}" in again.stdout
    moved = run(home, "demo", "--reset", "--rows", "1000", "--now", "2026-11-20T12:00:00Z")
    assert moved.returncode == 0, moved.stderr
    assert "removed the 2,000 requests" in moved.stdout and "1,000 new requests" in moved.stdout
    org, count, first, last = run(home, "orgs").stdout.strip().split("\t")
    assert count == "1000" and first.startswith("2026-10-21T") and last.startswith("2026-11-20T11:")
    run(home, "demo", "--reset", "--rows", "2000", "--now", DEMO_NOW)  # as the other tests expect it


def test_chart_without_matplotlib_prints_the_answer_and_names_the_extra(home, tmp_path):
    png = tmp_path / "x.png"
    done = run(
        home, "ask", "--json", "--now", DEMO_NOW, "--chart", str(png), "requests per hour today", block=["matplotlib"]
    )
    assert json.loads(done.stdout)["status"] == "ok"  # the answer, whole
    assert done.returncode == 2 and "pip install 'heliqa[slack]'" in done.stderr and not png.exists()


def test_a_sparse_organizations_quiet_half_hour_is_not_missing_data():
    from heliqa.agent.answer import STALE_AFTER, data_through, stale_after

    start = datetime(2026, 11, 17, 12)
    sparse = stale_after((start, start + timedelta(days=7), 300))  # a request every 34 minutes
    assert sparse == 5 * timedelta(days=7) / 299 > STALE_AFTER
    last = start + timedelta(days=7)
    assert data_through(last + timedelta(minutes=30), last, 0, "UTC", sparse) == ""
    assert data_through(last + timedelta(hours=4), last, 0, "UTC", sparse).startswith("Data through Nov 24 12:00")
    assert stale_after((start, start + timedelta(days=30), 50_000)) == STALE_AFTER  # a busy org: 10 minutes
