"""Monitors said in plain words (`heliqa watch add "..."`, `@heliqa watch ...`): each wording of
`tests/watch_words_cases.py`, on both vocabularies, gives exactly the monitor its words mean or is asked back
with a message naming what cannot be watched, never turned into another monitor."""

from __future__ import annotations

import json
import shutil

import pytest
from slack_sdk import WebClient

from heliqa import slack as slack_app
from heliqa.agent.factory import make_planner
from heliqa.agent.planner import Context
from heliqa.agent.watch_words import NotAMonitor, monitor_from_words
from heliqa.tools.monitors import Monitor, check_text
from heliqa.tools.store import Store
from tests.conftest import MAIN_ORG
from tests.corpus import NOW, TZ, VOCABULARIES, vocabulary
from tests.fake_slack import BOT_USER, FakeSlack
from tests.test_slack import BOT_TOKEN, SECRET, event_body, post, serve, slash
from tests.test_watch import heliqa
from tests.test_watch_digest_commands import _converse
from tests.vocabularies import to_acme
from tests.watch_words_cases import ASK, CASES


def _cases():
    for name in VOCABULARIES:
        for words, want in CASES:
            if name == "acme":
                words, want = to_acme(words), to_acme(want)
                if words is None or want is None:
                    continue
            yield pytest.param(name, words, want, id=f"{name}: {words}")


def meaning(m: Monitor) -> dict:
    """What a monitor watches, its name aside (the aggregation in force, so `p90` and the default compare equal)."""
    return {**m.model_dump(exclude_defaults=True, exclude={"name", "aggregation"}), "agg": m.agg}


def watch(words: str, vocab: str = "sample") -> Monitor:
    return monitor_from_words(words, make_planner("rules"), Context(NOW, TZ, vocabulary(vocab)))


@pytest.mark.parametrize(("vocab", "words", "want"), list(_cases()))
def test_plain_words_make_the_monitor_they_mean_or_are_asked_back(vocab, words, want):
    if isinstance(want, tuple) and want[0] == ASK:
        with pytest.raises(NotAMonitor) as asked:
            watch(words, vocab)
        assert want[1].lower() in str(asked.value).lower()
        return
    assert meaning(watch(words, vocab)) == meaning(Monitor(name="expected", **want))


# --- the commands: Slack (mentions and `/heliqa`) and the CLI ------------------------------------------------
@pytest.fixture
def home(sample_home, tmp_path):
    """A copy of the sample store: monitors added in words go to `monitors.toml` beside it."""
    shutil.copy(sample_home / "heliqa.duckdb", tmp_path / "heliqa.duckdb")
    return tmp_path


def _app(home):
    store = Store(home / "heliqa.duckdb", read_only=True)
    return store, slack_app.HeliqaSlack(
        store, make_planner("rules"), slack_app.Settings(org=MAIN_ORG, default_tz="UTC")
    )


def test_slash_command_adds_mutes_and_unwatches_monitors_in_words(home):
    """`/heliqa watch …`, `/heliqa mute … for 2 hours`, `/heliqa unwatch <its words>` on the real Bolt app with signed
    requests: watch commands, not questions; a monitor just added is known before any watcher ran."""
    store, heliqa_app = _app(home)
    said = [
        "watch alert me if gpt-4 p95 latency goes above 5s over 15m",
        "mute gpt-4 p95 latency goes above 5s over 15m for 2 hours",
        "unwatch p95 latency for gpt-4 above 5000 ms over 15m",
    ]
    with FakeSlack() as fake:
        app = slack_app.build_app(heliqa_app, WebClient(token=BOT_TOKEN, base_url=fake.api_url), SECRET)
        with serve(app) as http:
            for n, text in enumerate(said):
                response, _ = post(http, slash(fake, text))
                assert response.status_code == 200
                assert fake.wait_for(lambda f, n=n: len(f.of("response")) > n)
        replies = [c.data["text"] for c in fake.of("response")]
        assert not fake.of("chat.postMessage")  # no "asked:" post, no answer to a question
    store.close()
    name = "gpt-4 p95 latency goes above 5s over 15m"
    assert replies[0].startswith(
        f"Watching *{name}*: p95 latency (model = gpt-4) above 5,000 ms over 15m, judged on windows of at least 10 "
    )
    assert replies[1].startswith(f"Muted *{name}* for 2h"), replies[1]
    assert replies[2].startswith(f"Stopped watching *{name}*"), replies[2]
    parsed, problems = check_text((home / "monitors.toml").read_text(encoding="utf-8"))
    assert not problems and (parsed.monitor[0].window, parsed.monitor[0].above) == ("15m", 5000)
    mutes = json.loads((home / "heliqa.watch.mutes.json").read_text(encoding="utf-8"))
    assert list(mutes["muted"]) == [name] and mutes["unwatched"] == [name]


def test_mentions_mute_and_unwatch_by_name_or_words_and_keep_hostile_words_inert(home):
    said = {
        "watch cost by model": "Watching *cost by model*: cost by model (anomaly",
        "mute cost by model for 2 hours": "Muted *cost by model* for 2h",
        "mute the cost by model monitor 30 min": "Muted *cost by model* for 30m",
        "mute cost by model": "For how long? Say e.g. `mute cost by model 2h`.",
        "watch anomalies in cost by model": "Not added: *cost by model* watches the same. Say `rewatch cost by model`",
        "stop watching `cost by model`": "Stopped watching *cost by model*",
        "rewatch anomaly on cost per model": "*cost by model* is watched again",
        "watch error rate above 0.05": "did you mean 0.05% or 5%?",
        "watch avg accuracy below 0.8": "so “below 0.8” would never fire: did you mean “below 80”?",
        "watch requests below 5 per minute": "requests below 5 requests over 1m, posting to <#C0ONCALL1>;",  # at 0 too
        "alert me if error rate > 5% over 15m": "Watching *error rate 5% over 15m*: error rate above 5.0% over 15m",
        "mute nosuch <!channel> 2h": "No monitor named “nosuch &lt;!channel&gt;”. Say one of `cost by model`",
        "watch latency for <!channel> <https://evil.example|x> above 5 s": "That is not a monitor I can watch",
    }
    replies = _converse(home, list(said))
    for (text, expected), got in zip(said.items(), replies, strict=True):
        assert expected in got, (text, got)
        assert "<!" not in got and "<http" not in got
    mutes = json.loads((home / "heliqa.watch.mutes.json").read_text(encoding="utf-8"))
    assert not mutes["muted"] and mutes["unwatched"] == []  # `rewatch` lifted the mute and the stop


def test_cli_mute_and_unwatch_name_a_known_monitor_by_name_or_words(home):
    done = heliqa("watch", "add", "watch cost by model", "--org", MAIN_ORG, home=home)
    assert done.returncode == 0, done.stderr
    scale = heliqa("watch", "add", "alert if is_correct drops below 70 for support-bot", "--org", MAIN_ORG, home=home)
    assert scale.returncode == 2 and "would always fire: did you mean “below 0.7”?" in scale.stderr, scale.stderr
    twin = heliqa("watch", "add", "anomalies in cost per model", "--org", MAIN_ORG, home=home)
    assert twin.returncode == 2 and "has 'cost by model' watching the same" in twin.stderr
    done = heliqa("watch", "mute", "cost by modle", "2h", home=home)  # a typo mutes nothing, and says so
    assert done.returncode == 2 and "No monitor named “cost by modle”. Say one of `cost by model`" in done.stderr
    assert "`watches`" not in done.stderr  # a Slack command: the terminal has none of that name
    said = ["cost", "by", "model", "for", "2", "hours"]  # unquoted, the length in words
    done = heliqa("watch", "mute", *said, "--now", "2026-11-24T12:00:00Z", home=home)
    assert done.returncode == 0 and "muted cost by model until 2026-11-24T14:00:00Z" in done.stdout, done.stderr
    done = heliqa("watch", "unwatch", "anomaly on cost per model", "--org", MAIN_ORG, home=home)
    assert done.returncode == 0 and "unwatched cost by model" in done.stdout, done.stderr
    mutes = json.loads((home / "heliqa.watch.mutes.json").read_text(encoding="utf-8"))
    assert list(mutes["muted"]) == ["cost by model"] and mutes["unwatched"] == ["cost by model"]


def test_a_traffic_drop_said_in_words_fires_on_a_window_without_requests(sample_store):
    """`requests … go to zero` judges windows of any size (the default minimum of 10 requests would never judge the
    windows it is about): before a model's launch its hourly windows hold 0 requests and fire."""
    from datetime import timedelta

    from heliqa.agent.watch import checks, evaluation_instants
    from heliqa.tools.demo import LAUNCHED

    ((model, age),) = LAUNCHED.items()  # a model with no traffic before its launch
    m = watch(f"alert if {model} requests go to zero")
    before = NOW.replace(tzinfo=None) - age - timedelta(days=2)
    instants = evaluation_instants(before, before + timedelta(hours=3), timedelta(hours=1))
    found = checks(sample_store, MAIN_ORG, m, instants)[None]
    assert [(c.requests, c.opens) for c in found] == [(0, True)] * len(found) and found


def test_in_an_incident_thread_this_is_the_incident_monitor(home):
    """`@heliqa mute this for 2 hours` under an incident's post mutes the monitor that posted it; `this` elsewhere
    is asked back."""
    post_ts = "1700000500.000100"
    state = {
        "monitors": [{"name": "errors by provider", "describe": "error rate by provider (anomaly)"}],
        "threads": {"errors by provider|ANTHROPIC|2026-11-21T08:00:00Z": {"C0ONCALL1": post_ts}},
    }
    (home / "heliqa.watch.json").write_text(json.dumps(state), encoding="utf-8")
    said = [("mute this for 2 hours", post_ts), ("unwatch it", post_ts), ("mute this 2h", None)]
    store, heliqa_app = _app(home)
    with FakeSlack() as fake:
        app = slack_app.build_app(heliqa_app, WebClient(token=BOT_TOKEN, base_url=fake.api_url), SECRET)
        with serve(app) as http:
            for n, (text, thread) in enumerate(said):
                ts = f"17000006{n:02d}.000100"
                event = {"type": "app_mention", "user": "UASKER01", "channel": "C0ONCALL1", "ts": ts}
                event |= {"text": f"<@{BOT_USER}> {text}"} | ({"thread_ts": thread} if thread else {})
                response, _ = post(http, event_body(event, f"EvT{n}"), kind="application/json")
                assert response.status_code == 200
                assert fake.wait_for(lambda f, n=n: len(f.of("chat.postMessage")) > n)
        replies = [c.data["text"] for c in fake.of("chat.postMessage")]
    store.close()
    assert replies[0].startswith("Muted *errors by provider* for 2h"), replies[0]
    assert replies[1].startswith("Stopped watching *errors by provider*"), replies[1]
    assert replies[2].startswith("Which monitor? In an incident's thread `mute this 2h`"), replies[2]


def test_a_monitor_said_in_slack_posts_where_it_was_said_unless_its_words_name_a_channel(home):
    """The Slack apps' way (`/github subscribe`): a monitor added in a channel posts there; words naming another
    channel (`post to <#C…|alerts>`, as Slack writes a picked channel) send it there instead. Without this, a
    monitor added in Slack had no channel, and a watcher without `--watch-channel` could not post it."""
    replies = _converse(home, ["watch cost by model", "watch error rate above 5%, post to <#C0ALERTS9|alerts>"])
    assert "posting to <#C0ONCALL1>; a running" in replies[0], replies[0]
    assert "posting to <#C0ALERTS9>; a running" in replies[1], replies[1]
    store, heliqa_app = _app(home)
    with FakeSlack() as fake:
        app = slack_app.build_app(heliqa_app, WebClient(token=BOT_TOKEN, base_url=fake.api_url), SECRET)
        with serve(app) as http:
            response, _ = post(http, slash(fake, "watch p95 latency by provider", channel="C0SLASH01"))
            assert response.status_code == 200
            assert fake.wait_for(lambda f: f.of("response"))
    store.close()
    parsed, problems = check_text((home / "monitors.toml").read_text(encoding="utf-8"))
    assert not problems
    assert {m.name: m.channels for m in parsed.monitor} == {
        "cost by model": ("C0ONCALL1",),
        "error rate above 5%": ("C0ALERTS9",),
        "p95 latency by provider": ("C0SLASH01",),
    }
