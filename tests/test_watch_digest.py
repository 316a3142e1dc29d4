"""Digests: `[[digest]]` tables checked with their lines, the content equal to the same figures computed from the
generated rows, periods in the channel's zone, a watcher subprocess posting one digest at its local hour (held
through quiet hours, never twice after a kill -9), `--json`, and hostile names kept inert."""

from __future__ import annotations

import json
import shutil
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from heliqa.agent.digest import MOVERS, last_scheduled, periods
from heliqa.tools.monitors import Digest
from tests.conftest import MAIN_ORG
from tests.reference import Ask, created_at, measure
from tests.test_watch import heliqa

END = datetime(2026, 11, 21, 11)  # 12:00 in Berlin: where the digests of the content tests end

BAD = """[defaults]
channels = ["C1"]

[[monitor]]
name = "errors"
measure = "errors"

[[digest]]
channel = "C1"
every = "hourly"

[[digest]]
channel = "C1"
every = "daily"
at = "9am"

[[digest]]
every = "weekly"
weekday = "funday"
filters = { colour = "red" }

[[digest]]
channel = "C2"
every = "daily"
weekday = "monday"

[[digest]]
channel = "C3"
every = "weekly"
colour = 3
"""

GOOD = """[channel.C1]
tz = "Europe/Berlin"

[[monitor]]
name = "errors"
measure = "errors"
channels = ["C1"]

[[digest]]
channel = "C1"
every = "daily"

[[digest]]
channel = "C1"
every = "weekly"
weekday = "fri"
at = "8:30"
filters = { provider = "OPENAI" }
"""


def test_check_lists_every_digest_mistake_with_its_line(tmp_path):
    bad = tmp_path / "monitors.toml"
    bad.write_text(BAD, encoding="utf-8")
    done = heliqa("watch", "--check", str(bad))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    expected = [
        ("line 10:", "digest.0.every", "'daily' or 'weekly'"),
        ("line 15:", "digest.1.at", "'9am' is not a local time HH:MM"),
        ("line 17:", "digest.2.channel", "Field required"),
        ("line 19:", "digest.2.weekday", "'funday' is not a weekday"),
        ("line 20:", "digest.2.filters", "cannot filter on 'colour'"),
        ("line 25:", "digest.3", "weekday applies to a weekly digest only"),
        ("line 30:", "digest.4.colour", "unknown field"),
    ]
    for where, path, words in expected:
        assert any(where in x and path in x and words in x for x in lines), (where, lines)
    assert len(lines) == len(expected) and "Traceback" not in done.stderr

    twice = tmp_path / "twice.toml"
    twice.write_text('[[digest]]\nchannel = "C1"\nevery = "daily"\n\n[[digest]]\nchannel = "C1"\nevery = "daily"\n')
    done = heliqa("watch", "--check", str(twice))
    assert done.returncode == 2 and "line 6: digest.1.channel: another daily digest posts to C1" in done.stderr

    good = tmp_path / "good.toml"
    good.write_text(GOOD, encoding="utf-8")
    done = heliqa("watch", "--check", str(good))
    assert done.returncode == 0, done.stderr
    assert "digest: daily, every day at 09:00 Europe/Berlin → C1" in done.stdout
    assert "digest: weekly, every Friday at 08:30 Europe/Berlin (provider = OPENAI) → C1" in done.stdout
    assert "1 monitor(s), 2 digest(s), no mistakes" in done.stdout


def test_a_digest_is_due_at_its_local_time_and_covers_whole_local_days():
    daily = Digest(channel="C1", every="daily", at="09:00")
    # November: Berlin is UTC+1, so 09:00 there is 08:00 UTC
    assert last_scheduled(daily, "Europe/Berlin", datetime(2026, 11, 21, 8, 0)) == datetime(2026, 11, 21, 8, 0)
    assert last_scheduled(daily, "Europe/Berlin", datetime(2026, 11, 21, 7, 59)) == datetime(2026, 11, 20, 8, 0)
    weekly = Digest(channel="C1", every="weekly", weekday="friday", at="17:30")
    # Saturday Nov 21 2026: the last Friday 17:30 New York (UTC-5) is Nov 20 22:30 UTC
    assert last_scheduled(weekly, "America/New_York", datetime(2026, 11, 21, 12)) == datetime(2026, 11, 20, 22, 30)
    assert last_scheduled(weekly, "America/New_York", datetime(2026, 11, 20, 22, 29)) == datetime(2026, 11, 13, 22, 30)
    # the night Berlin leaves summer time (Oct 25 2026) the day ending at 09:00 lasts 25 hours; the one before 24
    now, before = periods("daily", datetime(2026, 10, 25, 8), "Europe/Berlin")
    assert (now.start, now.end) == (datetime(2026, 10, 24, 7), datetime(2026, 10, 25, 8))
    assert (before.start, before.end) == (datetime(2026, 10, 23, 7), datetime(2026, 10, 24, 7))
    week, previous = periods("weekly", datetime(2026, 11, 20, 22, 30), "America/New_York")
    assert week.end - week.start == timedelta(days=7) and previous.end == week.start


def _within(rows: list[dict], start: datetime, end: datetime, where=lambda r: True) -> list[dict]:
    """The main organization's rows in [start, end) (naive UTC) matching `where`."""
    a, b = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    return [
        r
        for r in rows
        if r["organization_id"] == MAIN_ORG and a <= created_at(r["request_created_at"]) < b and where(r)
    ]


def _reference_totals(rows: list[dict], start: datetime, end: datetime) -> dict[str, float | None]:
    ask = Ask("requests", start, end)
    out = {
        "requests": measure(rows, ask),
        "cost": measure(rows, Ask("cost", start, end, agg="sum")),
        "error rate": measure(rows, Ask("error_rate", start, end)),
        "p90 latency": measure(rows, Ask("latency", start, end, agg="p90")),
    }
    for key in {k for r in rows for k in r["scores"]}:
        out[f"score {key}"] = measure(rows, Ask("score", start, end, agg="avg"), key)
    return out


ANY = (datetime.min, datetime.max)  # the rows are chosen already


def _reference_movers(now: list[dict], before: list[dict]) -> list[tuple]:
    """(dimension, measure, group, change) of the MOVERS largest changes per dimension and measure."""
    out = []
    for dimension in ("model", "provider"):
        for label, ask in (("cost", Ask("cost", *ANY, agg="sum")), ("requests", Ask("requests", *ANY))):
            groups: dict[str, list[list[dict]]] = defaultdict(lambda: [[], []])
            for i, rows in enumerate((now, before)):
                for r in rows:
                    groups[r[dimension]][i].append(r)
            changes = [(g, (measure(a, ask) or 0.0) - (measure(b, ask) or 0.0)) for g, (a, b) in groups.items()]
            changes = sorted((c for c in changes if c[1]), key=lambda c: (-abs(c[1]), c[0]))[:MOVERS]
            out += [(dimension, label, g, change) for g, change in changes]
    return out


@pytest.mark.parametrize("filtered", [False, True])
def test_digest_json_equals_the_figures_computed_from_the_rows(sample_home, sample_rows, tmp_path, filtered):
    """`heliqa watch --digest daily --json`: the day ending now in Berlin and the day before, each total and each
    of the biggest changes equal to the same figure computed from the generated rows (a filter included)."""
    args = ["watch", "--digest", "daily", "--json", "--now", "2026-11-21T11:00:00Z", "--org", MAIN_ORG]
    if filtered:
        path = tmp_path / "monitors.toml"
        path.write_text(
            '[channel.C1]\ntz = "Europe/Berlin"\n\n[[digest]]\nchannel = "C1"\nevery = "daily"\n'
            'filters = { provider = ["OPENAI", "ANTHROPIC"] }\n',
            encoding="utf-8",
        )
        args.append(str(path))
    else:
        args += ["--tz", "Europe/Berlin"]
    done = heliqa(*args, home=sample_home)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    keys = {"every", "tz", "period", "previous", "filters", "totals", "movers", "incidents", "data_through"}
    assert set(body) == keys
    assert body["period"] == {"start": "2026-11-20T11:00:00Z", "end": "2026-11-21T11:00:00Z"}
    assert body["previous"] == {"start": "2026-11-19T11:00:00Z", "end": "2026-11-20T11:00:00Z"}
    assert body["tz"] == "Europe/Berlin" and body["incidents"] is None  # no watcher ran beside the sample store
    keep = (lambda r: r["provider"] in ("OPENAI", "ANTHROPIC")) if filtered else (lambda r: True)
    assert body["filters"] == ({"provider": ["OPENAI", "ANTHROPIC"]} if filtered else {})
    day = timedelta(days=1)
    spans = [(END - day, END), (END - 2 * day, END - day)]
    now_rows, before_rows = (_within(sample_rows, a, b, keep) for a, b in spans)
    want_now, want_before = _reference_totals(now_rows, *spans[0]), _reference_totals(before_rows, *spans[1])
    labels = [t["label"] for t in body["totals"]]
    assert labels[:4] == ["requests", "cost", "error rate", "p90 latency"]
    assert set(labels[4:]) == {k for k in want_now if k.startswith("score ")} and len(labels) == 8
    for total in body["totals"]:
        label = total["label"]
        assert total["current"] == pytest.approx(want_now[label]), label
        assert total["previous"] == pytest.approx(want_before[label]), label
        assert total["change"] == pytest.approx(want_now[label] - want_before[label]), label
    assert body["totals"][0]["change_pct"] == pytest.approx(
        round((want_now["requests"] - want_before["requests"]) / want_before["requests"] * 100, 2)
    )
    assert body["totals"][2]["unit"] == "%" and body["totals"][2]["change_pct"] is None  # a rate moves in points
    got = [(m["dimension"], m["label"], m["group"], m["change"]) for m in body["movers"]]
    want = _reference_movers(now_rows, before_rows)
    assert [g[:3] for g in got] == [w[:3] for w in want]
    assert all(g[3] == pytest.approx(w[3]) for g, w in zip(got, want, strict=True))
    if filtered:
        assert {m["group"] for m in body["movers"] if m["dimension"] == "provider"} <= {"OPENAI", "ANTHROPIC"}


def test_digest_text_in_the_terminal(sample_home, tmp_path):
    """The headline's changes are the table's (same rounding); incidents are "not known" without a watcher's state
    beside the store, and counted (none here) with one."""
    import re

    from heliqa.tools.watch_state import WatchState, state_paths

    args = ["watch", "--digest", "weekly", "--now", "2026-11-24T12:00:00Z", "--tz", "UTC", "--org", MAIN_ORG]
    done = heliqa(*args, home=sample_home)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("Weekly digest · Nov 17 12:00 → Nov 24 12:00 UTC: ")
    assert "this week" in out and "the week before" in out and "p90 latency" in out
    assert "Biggest changes vs the week before, by model and provider" in out
    assert "incidents not known (no watcher ran here)" in out.splitlines()[0]
    assert "Incidents: not known" in out
    head = out.splitlines()[0]
    for label in ("requests", "cost"):
        row = next(line for line in out.splitlines() if line.startswith(label + " "))
        table_pct = re.findall(r"\(([+−][\d.]+%)\)", row)[-1]
        assert f"({table_pct})" in head, (head, row)
    shutil.copy(sample_home / "heliqa.duckdb", tmp_path / "heliqa.duckdb")
    WatchState(state_paths(tmp_path)[0]).save()  # a watcher ran here and saw nothing
    watched = heliqa(*args, home=tmp_path)
    assert watched.returncode == 0, watched.stderr
    assert "Incidents: none in this period" in watched.stdout and ", 0 incidents" in watched.stdout
    bad = heliqa("watch", "--digest", "daily", "--backtest", "7d", "--org", MAIN_ORG, home=sample_home)
    assert bad.returncode == 2 and "--digest prints one digest" in bad.stderr


def test_a_digest_past_the_newest_request_says_where_the_data_ends(sample_home):
    """A store filled once (`heliqa demo`, an import) and digested days later: the empty days are not a drop to
    zero, so the digest says where the data ends (the text under the headline, `data_through` in JSON)."""
    from heliqa.tools.store import Store

    store = Store(sample_home / "heliqa.duckdb", read_only=True)
    last = store.data_span(MAIN_ORG)[1]
    store.close()
    late = ["watch", "--digest", "daily", "--now", "2026-12-06T00:00:00Z", "--tz", "UTC", "--org", MAIN_ORG]
    done = heliqa(*late, home=sample_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == f"Data through {last:%b %d %H:%M} UTC, {_days(last)} before the period ends."
    said = json.loads(heliqa(*late, "--json", home=sample_home).stdout)
    assert said["data_through"] == f"{last:%Y-%m-%dT%H:%M:%S}Z"
    on_time = heliqa(
        "watch", "--digest", "daily", "--now", f"{last:%Y-%m-%dT%H:%M:%S}Z", "--org", MAIN_ORG, home=sample_home
    )
    assert "Data through" not in on_time.stdout


def test_an_empty_digest_spends_0_dollars(sample_home):
    """A period with no request costs `$0`, in the headline, the table and the change: never `$0.0000`."""
    late = ["watch", "--digest", "daily", "--now", "2026-12-06T00:00:00Z", "--tz", "UTC", "--org", MAIN_ORG]
    done = heliqa(*late, home=sample_home)
    assert done.returncode == 0, done.stderr
    assert ": 0 requests, cost $0, " in done.stdout.splitlines()[0]
    row = next(line for line in done.stdout.splitlines() if line.startswith("cost "))
    assert row.split() == ["cost", "$0", "$0", "+$0"]
    assert "0.0000" not in done.stdout


def test_one_money_format():
    """Every surface's amounts: `$0` for nothing, cents from a dollar (or the caller's bound), four decimals below."""
    from heliqa.agent.investigate import dollars
    from heliqa.tools.results import money

    assert [money(v) for v in (0, -0.0, 0.0078, 0.5, 12.3)] == ["$0", "$0", "$0.0078", "$0.5000", "$12.30"]
    assert [dollars(v) for v in (0.0, 0.0078, 0.3, 21.19)] == ["$0", "$0.0078", "$0.30", "$21.19"]


def _days(last: datetime) -> str:
    return f"{(datetime(2026, 12, 6) - last).total_seconds() / 86400:.1f} days"


# --- the watcher posts it ------------------------------------------------------------------------------------------
DIGESTS = """
[channel.C0DIGEST]
tz = "Europe/Berlin"

[channel.C0QUIET]
tz = "Europe/Berlin"
quiet_hours = "22:00-08:00"

[[digest]]
channel = "C0DIGEST"
every = "daily"
at = "12:00"

[[digest]]
channel = "C0QUIET"
every = "daily"
at = "07:00"
"""


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """A store holding 12 generated days up to the storm's end and after (the watcher's clock decides what it sees),
    and the requests of the day the Berlin noon digest covers."""
    from heliqa.tools.demo import generate
    from heliqa.tools.query import HalfOpenTimeFilter, MetricsQuery
    from heliqa.tools.store import Store
    from tests.test_watch_loop import END as FEED_END
    from tests.test_watch_loop import ORG

    folder = tmp_path_factory.mktemp("digest-watch")
    store = Store(folder / "heliqa.duckdb")
    store.add_rows(list(generate(12_000, 5, FEED_END.replace(tzinfo=UTC), ORG, days=12)))
    day = HalfOpenTimeFilter(start="2026-11-20T11:00:00Z", end="2026-11-21T11:00:00Z")
    requests = store.run(MetricsQuery(measure="requests", timeFilter=day), ORG)[0].value
    store.close()
    return folder, int(requests)


def _digests(slack, channel: str) -> list[dict]:
    return [m for m in slack.messages if m["channel"] == channel and "digest" in (m["text"] or "")]


def test_the_watcher_posts_each_digest_once_at_its_local_time(watched, tmp_path):
    """A watcher subprocess on a clock file: the Berlin noon digest goes out when the clock reaches 11:00 UTC, not
    before, once, with the day's requests and links to the incidents' posts; killed with -9 while Slack is taking
    it, restarted, it does not post it again, nor on the next hours. The 07:00 digest of a channel whose quiet hours
    end at 08:00 is held until then."""
    from tests.fake_slack import FakeSlack
    from tests.test_watch_loop import MONITORS, STORM, Watch

    folder, requests = watched
    home = tmp_path / "home"
    home.mkdir()
    (home / "heliqa.duckdb").write_bytes((folder / "heliqa.duckdb").read_bytes())
    (home / "monitors.toml").write_text(MONITORS + DIGESTS, encoding="utf-8")
    t0 = STORM[0] - timedelta(hours=2)  # Nov 21 06:00 UTC: 07:00 in Berlin
    with FakeSlack() as slack:
        watch = Watch(home, slack)
        watch.set_clock(t0)
        watch.start()
        try:
            watch.wait_evaluated(t0)
            assert watch.state()["digests"]["daily|C0QUIET|"]["period"] == "2026-11-21T06:00:00Z"  # queued, held
            time.sleep(1.0)
            assert not _digests(slack, "C0QUIET")
            for hour in range(1, 5):  # 07:00 .. 10:00 UTC
                watch.set_clock(t0 + timedelta(hours=hour))
                watch.wait_evaluated(t0 + timedelta(hours=hour))
                if hour == 1:  # 08:00 in Berlin: the quiet hours are over
                    assert slack.wait_for(lambda s: len(_digests(s, "C0QUIET")) == 1, 30)
            assert not _digests(slack, "C0DIGEST")  # 11:00 in Berlin: not yet
            slack.delays["chat.postMessage"] = 3.0  # Slack takes the digest, the process dies before it hears back
            watch.set_clock(t0 + timedelta(hours=5))
            assert slack.wait_for(lambda s: len(_digests(s, "C0DIGEST")) == 1, 60), slack.messages
            watch.kill()
            slack.delays.clear()
            watch.start()
            for hour in (5, 6, 7):
                watch.set_clock(t0 + timedelta(hours=hour))
                watch.wait_evaluated(t0 + timedelta(hours=hour))
            deadline = time.monotonic() + 30
            while watch.state().get("outbox") and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            watch.kill()
    assert len(_digests(slack, "C0DIGEST")) == 1 and len(_digests(slack, "C0QUIET")) == 1
    assert slack.of("conversations.history")  # the restart asked Slack whether the digest went out
    posted = _digests(slack, "C0DIGEST")[0]
    assert posted["text"].startswith(":bar_chart: Daily digest · Nov 20 12:00 → Nov 21 12:00 Europe/Berlin: ")
    assert f"{requests:,} requests" in posted["text"]
    blocks = json.dumps(posted["blocks"], ensure_ascii=False)
    assert "Error rate reached" in blocks and "*Incidents* (2)" in blocks
    roots = {m["ts"] for m in slack.messages if m["channel"] == "C0WATCH" and not m["thread_ts"]}
    links = {f"https://fake.slack.com/archives/C0WATCH/p{ts.replace('.', '')}" for ts in roots}
    assert len(roots) == 2 and all(link in blocks for link in links)  # each incident links to its post
    state = watch.state()
    assert state["digests"]["daily|C0DIGEST|"]["period"] == "2026-11-21T11:00:00Z" and state["outbox"] == []
    assert {i["monitor"] for i in state["ended"]} == {"errors", "error rate above 20%"}  # resolved at 12:00


def test_hostile_names_stay_inert_in_the_digest(tmp_path):
    """Models, providers and an incident's series named to act (mentions, links, fences, escapes, a 100k name): the
    Slack message shows them as text within Slack's limits, with only the digest's own link markup, and the
    terminal shows no control character or forged line."""
    import re

    from heliqa.agent.watch import Incident, ended_entry
    from heliqa.tools.monitors import Monitor
    from heliqa.tools.store import Store
    from heliqa.tools.watch_state import WatchState
    from heliqa.watch_digest import build, slack_message
    from tests.hostile import HOSTILE, ORG, hostile_rows, slack_strings, slack_text_problems, terminal_problems

    rows = hostile_rows()
    for n, row in enumerate(rows):
        row["provider"] = list(HOSTILE.values())[n % len(HOSTILE)]
    store = Store(tmp_path / "heliqa.duckdb")
    store.add_rows(rows)
    m = Monitor(name="errors by model", measure="errors", by="model")
    state = WatchState(tmp_path / "heliqa.watch.json")
    for n, name in enumerate(HOSTILE.values()):
        start = datetime(2026, 11, 24, 2) + timedelta(minutes=5 * n)
        incident = Incident(m.name, name, start, start + timedelta(hours=1), 1.0, 40.0, 2.0, start + timedelta(hours=2))
        state.remember_ended(ended_entry(m, incident))
        state.threads[incident.id] = {"C1": f"1700000000.{n:06d}"}
    state.save()
    found = build(store, ORG, "daily", datetime(2026, 11, 24, 12), "UTC", {}, state, {m.name: m})
    store.close()
    assert len(found.incidents) == len(HOSTILE) and {f.group for f in found.movers} & set(HOSTILE.values())
    text, blocks = slack_message(found, Digest(channel="C1", every="daily"), "https://fake.slack.com/")
    own = re.compile(r"<https://fake\.slack\.com/archives/C1/p\d{16}\|([^<>]*)>")
    shown = [(own.sub(r"\1", s), limit) for s, limit in slack_strings({"text": text, "blocks": blocks})]
    assert [p for s, limit in shown for p in slack_text_problems(s, limit)] == []
    assert not any(re.search(r"(?m)^\W*FORGED", s) for s, _ in shown)  # a newline in a name starts no line
    assert len(own.findall(json.dumps(blocks))) >= 3  # the first incidents link to their posts; the rest counted

    done = heliqa("watch", "--digest", "daily", "--now", "2026-11-24T12:00:00Z", "--tz", "UTC", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert terminal_problems(done.stdout) == [] and "Incidents: 10" in done.stdout
