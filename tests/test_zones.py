"""UTC shows as `UTC` on every surface, whichever of the zone database's aliases named it (a machine's
/etc/localtime is often `Etc/UTC`)."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient

from heliqa import slack as slack_app
from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.timerange import local_zone, zone
from heliqa.tools.monitors import Channel, Digest
from heliqa.tools.zones import display_zone
from tests.conftest import MAIN_ORG, SAMPLE_NOW
from tests.fake_slack import FakeSlack
from tests.test_cli import heliqa
from tests.test_slack import NOW

ALIASES = ("Etc/UTC", "Etc/Universal", "Etc/Zulu", "Etc/UCT", "UCT", "Universal", "Zulu", "UTC")


@pytest.mark.parametrize("name", ALIASES)
def test_utc_aliases_read_as_utc(name, monkeypatch):
    assert display_zone(name) == "UTC"
    assert zone(name).key == "UTC"
    monkeypatch.setenv("TZ", f":{name}")
    assert local_zone().key == "UTC" and zone(None).key == "UTC"


@pytest.mark.parametrize("name", ("Etc/GMT", "GMT", "Europe/London", "America/New_York"))
def test_other_zones_keep_their_names(name):
    assert display_zone(name) == name and zone(name).key == name


def test_a_channels_zone_alias_shows_as_utc():
    channel = Channel(tz="Etc/UTC")
    assert channel.tz == "UTC"
    assert Digest(every="daily", channel="C1").describe(channel.tz).endswith(" UTC")


def test_a_zone_named_in_the_question_by_its_alias(sample_store):
    conversation = Conversation(sample_store, make_planner("rules"), MAIN_ORG, zone("America/New_York"), NOW)
    answer = conversation.ask("total cost today in etc/utc")
    assert answer.status == "ok"
    assert answer.interpretation.endswith(" UTC") and "Etc/" not in answer.interpretation


def test_the_terminal_and_json_answers_say_utc_on_an_etc_utc_machine(sample_home):
    question = "p95 latency per provider over the past 3 days"
    text = heliqa(sample_home, "ask", "--org", MAIN_ORG, "--now", SAMPLE_NOW, question, TZ="Etc/UTC")
    assert text.returncode == 0, text.stderr
    assert " UTC · by provider" in text.stdout and "Etc/UTC" not in text.stdout
    raw = heliqa(sample_home, "ask", "--json", "--tz", "Etc/UTC", "--org", MAIN_ORG, "--now", SAMPLE_NOW, question)
    answer = json.loads(raw.stdout)
    assert answer["status"] == "ok" and answer["request"]["timeZoneDifference"] == 0
    assert answer["interpretation"].endswith(" UTC · by provider") and "Etc/UTC" not in raw.stdout


def test_a_slack_profile_in_etc_utc_is_answered_in_utc(sample_store):
    app = slack_app.HeliqaSlack(
        sample_store, make_planner("rules"), slack_app.Settings(org=MAIN_ORG, default_tz="Europe/Berlin", now=NOW)
    )
    with FakeSlack(users={"UETCUTC1": "Etc/UTC"}) as fake:
        assert app.user_zone(WebClient(token="xoxb-test", base_url=fake.api_url), "UETCUTC1").key == "UTC"
