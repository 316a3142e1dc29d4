"""`heliqa watch`: monitors files, the incident rules, and backtests on the generated sample's planted incidents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from heliqa.agent.watch import HOUR, Check, Tracker, evaluation_instants
from heliqa.tools.demo import Incidents
from heliqa.tools.monitors import Monitor, check_text
from tests.conftest import MAIN_ORG, NOW

GOOD = """
[defaults]
channels = ["C0123456"]

[channel.C0123456]
quiet_hours = "22:00-07:00"
tz = "Europe/Berlin"

[[monitor]]
name = "gpt-4 latency"
measure = "latency"
aggregation = "p95"
filters = { model = "gpt-4" }
window = "1h"
min_requests = 50
above = 5000

[[monitor]]
name = "errors by provider"
measure = "errors"
by = "provider"
"""

BAD = """[defaults]
channels = ["C1"]

[channel.C1]
quiet_hours = "25:00-07:00"

[[monitor]]
name = "fine"
measure = "latency"

[[monitor]]
name = "typos"
measure = "latency"
aggregation = "p999x"
colour = 3

[[monitor]]
name = "both"
measure = "errors"
above = 5
below = 3

[[monitor]]
name = "anomaly over a day"
measure = "cost"
window = "1d"
"""


def heliqa(*args: str, home=None, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`heliqa ARGS` as a subprocess."""
    environ = {**os.environ, **(env or {})}
    if home is not None:
        environ["HELIQA_HOME"] = str(home)
    if "SLACK_BOT_TOKEN" not in (env or {}):
        environ.pop("SLACK_BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "heliqa.cli", *args], capture_output=True, text=True, env=environ, timeout=timeout
    )


def test_check_lists_every_mistake_with_its_line(tmp_path):
    bad = tmp_path / "monitors.toml"
    bad.write_text(BAD, encoding="utf-8")
    done = heliqa("watch", "--check", str(bad))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert any("line 5:" in x and "quiet_hours" in x and "HH:MM-HH:MM" in x for x in lines), lines
    assert any("line 14:" in x and "aggregation" in x and "p999x" in x for x in lines), lines
    assert any("line 15:" in x and "colour" in x and "unknown field" in x for x in lines), lines
    assert any("line 20:" in x and "above or below, not both" in x for x in lines), lines
    assert any("line 26:" in x and "window must be 1h" in x for x in lines), lines
    assert len(lines) == 5 and "Traceback" not in done.stderr

    good = tmp_path / "good.toml"
    good.write_text(GOOD, encoding="utf-8")
    done = heliqa("watch", "--check", str(good))
    assert done.returncode == 0, done.stderr
    assert "gpt-4 latency: threshold, p95 latency (model = gpt-4) above 5,000 ms over 1h → C0123456" in done.stdout
    assert "errors by provider: anomaly, error rate by provider" in done.stdout


def test_not_toml_names_the_line(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[[monitor]]\nname = "x"\nmeasure = latency\n', encoding="utf-8")
    done = heliqa("watch", "--check", str(path))
    assert done.returncode == 2 and "line 3" in done.stderr and "Traceback" not in done.stderr


def test_monitor_queries_follow_the_fields():
    parsed, problems = check_text(GOOD)
    assert not problems
    latency, errors = parsed.monitors()
    assert latency.kind == "threshold" and errors.kind == "anomaly" and errors.channels == ("C0123456",)
    q = latency.query("2026-11-24T00:00:00Z", "2026-11-24T01:00:00Z", None, 0)
    assert q.measure == "latency" and q.aggregation == "p95" and q.groupBy is None
    assert "gpt-4" in json.dumps(q.to_json()["userFilter"])
    q = errors.query("2026-11-24T00:00:00Z", "2026-11-24T01:00:00Z", "hour", 15)
    assert q.measure == "error_rate" and q.groupBy == "provider" and q.timeZoneDifference == 15
    assert errors.query("2026-11-24T00:00:00Z", "2026-11-24T01:00:00Z", None, 0, count=True).measure == "requests"


def _check(at: datetime, spreads: float, value: float = 10.0) -> Check:
    return Check(at, value, 100, 1.0, spreads, spreads > 1.5, spreads > 6)


def test_incident_opens_at_twice_the_bar_or_when_sustained_and_ends_below_half():
    m = Monitor(name="e", measure="errors")
    t0, every = datetime(2026, 11, 20), timedelta(minutes=15)
    tracker = Tracker()
    # beyond K = 3 but not 2K: opens only after a whole window (1h) of it
    kinds = [e.kind for i in range(5) for e in tracker.step(m, None, _check(t0 + i * every, 4.0), every)]
    assert kinds == ["open"]
    assert [e.kind for e in tracker.step(m, None, _check(t0 + 5 * every, 2.0), every)] == []  # still beyond K/2
    assert tracker.step(m, None, _check(t0 + 6 * every, 1.0), every) == []  # one calm evaluation is a dip
    resolved = tracker.step(m, None, _check(t0 + 7 * every, 1.0), every)  # the second in a row ends it
    assert [e.kind for e in resolved] == ["resolve"] and resolved[0].incident.resolved == t0 + 7 * every
    incident = resolved[0].incident
    # it started an interval before the first firing evaluation, and ended about a window before the first calm one
    assert incident.start == t0 + 3 * every and incident.end == t0 + 4 * every
    # a jump beyond 2K opens at once; within the cool-down it continues the same incident
    again = tracker.step(m, None, _check(t0 + 8 * every, 7.0), every)
    assert [e.kind for e in again] == ["reopen"] and again[0].incident.id == incident.id
    assert tracker.step(m, None, _check(t0 + 9 * every, 0.0), every) == []
    assert tracker.step(m, None, _check(t0 + 10 * every, 0.0), every)[0].kind == "resolve"
    later = tracker.step(m, None, _check(t0 + 10 * every + timedelta(hours=2), 7.0), every)
    assert [e.kind for e in later] == ["open"] and later[0].incident.id != incident.id


def test_a_dip_between_firing_evaluations_keeps_the_incident_and_no_requests_end_it_at_once():
    m = Monitor(name="e", measure="errors")
    t0, every = datetime(2026, 11, 20), timedelta(minutes=15)
    tracker = Tracker()
    assert [e.kind for e in tracker.step(m, None, _check(t0, 7.0), every)] == ["open"]
    assert tracker.step(m, None, _check(t0 + every, 1.0), every) == []  # a dip
    assert tracker.step(m, None, _check(t0 + 2 * every, 4.0), every) == []  # firing again: the same incident
    assert tracker.step(m, None, _check(t0 + 3 * every, 1.0), every) == []  # the calm count starts over
    assert len(tracker.open_incidents()) == 1 and tracker.open_incidents()[0].checks == 2
    silent = Check(t0 + 4 * every, None, 0, None, None, False, False)  # the series received nothing
    assert [e.kind for e in tracker.step(m, None, silent, every)] == ["resolve"]


def test_a_thin_score_series_floor_is_half_one_zero_scores_move():
    """A score window of 20 requests: one zero score (a mean 4.4 lower) stays under K; a drop of 14 opens at once."""
    from heliqa.agent.watch import Baseline
    from heliqa.agent.watch import _check as judge

    m = Monitor(name="s", measure="score", score_key="quality", by="property.stage")
    t0 = datetime(2026, 11, 20)
    hours = {t0 - timedelta(hours=h): (88.0 + (h % 3 - 1) * 0.5, 20) for h in range(2, 24 * 7)}
    baseline = Baseline(m, hours)
    one_zero = judge(m, t0, 88.0 * 19 / 20, 20, baseline)
    assert one_zero.spreads == pytest.approx(2.0) and not one_zero.opens  # the floor: 2 spreads, under K
    dropped = judge(m, t0, 74.0, 20, baseline)
    assert dropped.opens  # beyond 2K spreads (a whole spread of one zero score would make it 3.2)


def _steady_hours(t0: datetime, value: float, requests: int, variance: float | None = None, wobble=0.005) -> dict:
    """A week and a day of baseline hours before t0 wobbling ±`wobble` around `value`."""
    return {t0 - timedelta(hours=h): (value * (1 + (h % 3 - 1) * wobble), requests, variance) for h in range(2, 24 * 8)}


def test_a_window_with_fewer_requests_than_usual_is_judged_with_a_wider_spread():
    """A p90 of 11 requests where 40 are usual is noisier by √(40/11): the same value opens at 40, not at 11. The
    floor (2% of the median) is what counts as news whatever the requests: it is not grown."""
    from heliqa.agent.watch import Baseline
    from heliqa.agent.watch import _check as judge

    m = Monitor(name="l", measure="latency", by="model")
    t0 = datetime(2026, 11, 20)
    baseline = Baseline(m, _steady_hours(t0, 1000.0, 40, wobble=0.05))
    stats = baseline.at(t0)
    assert stats.spread == pytest.approx(1.4826 * 50) and stats.floor == pytest.approx(20.0)
    value = stats.typical + 6.6 * stats.spread
    usual, thin = judge(m, t0, value, 40, baseline), judge(m, t0, value, 11, baseline)
    assert usual.opens and usual.spreads == pytest.approx(6.6)
    assert not thin.opens and thin.spreads == pytest.approx(6.6 / (40 / 11) ** 0.5)
    calm = Baseline(m, _steady_hours(t0, 1000.0, 40))  # ±0.5 %: the floor, 20 ms, is the spread at any n
    assert judge(m, t0, 1130.0, 11, calm).spreads == pytest.approx(6.5)


def test_a_score_drop_opens_from_the_newest_half_hour():
    """A score whose requests spread by 6 points: the window half filled with a drop departs under 2K, but its
    newest two quarter hours (10 requests at 70 against 88) open the incident; the same slice opens nothing while
    the whole window does not depart; one zero score among 20 stays under 2K on the requests' own spread."""
    from heliqa.agent.watch import Baseline
    from heliqa.agent.watch import _check as judge

    m = Monitor(name="s", measure="score", score_key="quality", by="property.stage")
    t0 = datetime(2026, 11, 20)
    baseline = Baseline(m, _steady_hours(t0, 88.0, 20, variance=36.0))
    assert baseline.at(t0).sd == pytest.approx(6.0)
    half = judge(m, t0, 79.0, 20, baseline)
    assert half.firing and not half.opens  # 9 points over a spread of 2 % of 88: 5.1 spreads
    assert judge(m, t0, 79.0, 20, baseline, early=(70.0, 10)).opens  # 18 over 1.76·√2: 7.2 spreads
    assert not judge(m, t0, 87.5, 20, baseline, early=(70.0, 10)).opens
    assert not judge(m, t0, 79.0, 20, baseline, early=(70.0, 4)).opens  # too few requests to say anything
    one_zero = judge(m, t0, 88.0 * 19 / 20, 20, baseline)
    assert one_zero.spreads < 2 * 3.0 and not one_zero.opens


def test_a_thin_error_rate_is_judged_by_its_count_of_failures():
    """A provider sending 6 requests an hour, 1 in 60 failing, watched from 5 requests (as the default monitors): a
    window of 7 with 6 failures opens (their binomial tail is under 1e-9); 3 of 7 keeps an incident open without
    opening one; 1 of 5 is calm. With baseline hours too thin to judge on their own, the pooled share of failures
    still judges the window. A monitor's own minimum (10 by default) still leaves fewer requests unjudged."""
    from heliqa.agent.watch import Baseline
    from heliqa.agent.watch import _check as judge

    m = Monitor(name="e", measure="errors", by="provider", min_requests=5)
    t0 = datetime(2026, 11, 20)
    hours = {t0 - timedelta(hours=h): (100 / 6 if h % 10 == 0 else 0.0, 6) for h in range(2, 24 * 8)}
    baseline = Baseline(m, hours)
    assert baseline.at(t0).failing == pytest.approx(1 / 60, rel=0.1)
    storm = judge(m, t0, 600 / 7, 7, baseline)
    assert storm.opens and storm.spreads > 6
    some = judge(m, t0, 300 / 7, 7, baseline)
    assert some.firing and not some.opens
    one = judge(m, t0, 100 / 5, 5, baseline)
    assert one.spreads < 1.5 and not one.firing
    thin = Baseline(m, {h: (v, 3) for h, v in ((h, row[0]) for h, row in hours.items())})
    assert thin.at(t0).thin and judge(m, t0, 600 / 7, 7, thin).opens
    declared = Monitor(name="e", measure="errors", by="provider")  # min_requests 10: its minimum binds
    assert judge(declared, t0, 600 / 7, 7, Baseline(declared, hours)).spreads is None


def test_an_incident_holds_through_windows_too_thin_to_judge_and_starts_after_the_last_calm_evaluation():
    """An unjudged window (a few requests) neither fires nor calms: the incident holds for up to a window, then
    ends where the holding began. A departure that builds up before opening starts after the last calm check."""
    m = Monitor(name="e", measure="errors", by="model")
    t0, every = datetime(2026, 11, 20), timedelta(minutes=15)
    thin = lambda at: Check(at, 50.0, 4, 1.0, None, False, False)  # noqa: E731
    tracker = Tracker()
    assert tracker.step(m, "gpt-4", _check(t0 - 2 * every, 0.5), every) == []
    assert tracker.step(m, "gpt-4", _check(t0 - every, 2.0), every) == []  # past K/2, not yet past K
    opened = tracker.step(m, "gpt-4", _check(t0, 7.0), every)
    assert [e.kind for e in opened] == ["open"] and opened[0].incident.start == t0 - 2 * every
    for i in range(1, 4):  # 45 minutes of too few requests: held
        assert tracker.step(m, "gpt-4", thin(t0 + i * every), every) == []
    # firing again an hour after it opened: the same incident, its hourly update
    assert [e.kind for e in tracker.step(m, "gpt-4", _check(t0 + 4 * every, 4.0), every)] == ["update"]
    assert tracker.open_incidents()[0].checks == 2
    for i in range(5, 9):
        assert tracker.step(m, "gpt-4", thin(t0 + i * every), every) == []
    ended = tracker.step(m, "gpt-4", thin(t0 + 9 * every), every)  # a whole window unjudged: over
    assert [e.kind for e in ended] == ["resolve"] and ended[0].incident.end == t0 + 5 * every


def test_a_window_too_thin_to_judge_breaks_a_sustained_run_but_is_no_calm_start():
    """Past K (not 2K) for over an hour with windows too thin to judge between: not sustained (nothing says it went
    on); a whole window of judged evaluations past K after them opens it, its start the last calm evaluation
    before the thin ones."""
    m = Monitor(name="e", measure="errors", by="model")
    t0, every = datetime(2026, 11, 20), timedelta(minutes=15)
    thin = lambda at: Check(at, 50.0, 3, 1.0, None, False, False)  # noqa: E731
    tracker = Tracker()
    steps = [_check(t0, 0.5), _check(t0 + every, 4.0), thin(t0 + 2 * every), _check(t0 + 3 * every, 4.0)]
    steps += [thin(t0 + 4 * every)] + [_check(t0 + i * every, 4.0) for i in range(5, 9)]
    assert [e for c in steps for e in tracker.step(m, "m", c, every)] == []
    opened = tracker.step(m, "m", _check(t0 + 9 * every, 4.0), every)
    assert [e.kind for e in opened] == ["open"] and opened[0].incident.start == t0


def test_a_quantile_jump_opens_only_after_an_evaluation_past_the_bar_or_at_three_times_it():
    """A p90 over a mix of fast and slow models jumps when the slow one's share tips over a tenth: 7 spreads out of
    calm opens nothing; 7 spreads after an evaluation past K opens; 10 spreads opens at once. An average opens at
    2K whatever came before."""
    t0, every = datetime(2026, 11, 20), timedelta(minutes=15)
    p90 = Monitor(name="l", measure="latency")
    tracker = Tracker()
    assert tracker.step(p90, None, _check(t0, 0.5), every) == []
    assert tracker.step(p90, None, _check(t0 + every, 7.0), every) == []
    assert [e.kind for e in tracker.step(p90, None, _check(t0 + 2 * every, 7.0), every)] == ["open"]
    assert [e.kind for e in Tracker().step(p90, None, _check(t0, 10.0), every)] == ["open"]
    mean = Monitor(name="a", measure="latency", aggregation="avg")
    assert [e.kind for e in Tracker().step(mean, None, _check(t0, 7.0), every)] == ["open"]


def test_a_quantile_departure_under_three_times_the_bar_needs_its_requests_beyond_the_baseline(tmp_path):
    """A p90 past 2K whose window holds a few requests beyond the baseline's p90 (the slowest three of 25, as a
    usual hour holds two or three) is the shape of its tail, not a shift: it does not open, and is judged by the
    count's deviate. Twenty of 25 beyond opens. Past 3K the value opens alone; the confirmation reads the
    window the check names, for its own series only."""
    from heliqa.agent.watch import _confirmed, _one_model
    from heliqa.tools.demo import generate
    from heliqa.tools.store import Store

    t0 = datetime(2026, 11, 24, 2, 0)
    rows = list(generate(75, 3, t0.replace(tzinfo=NOW.tzinfo), MAIN_ORG, days=3 / 24))
    for i, row in enumerate(sorted(rows, key=lambda r: r["request_created_at"])):
        hour = (
            0
            if row["request_created_at"] < "2026-11-24T00"
            else 1
            if row["request_created_at"] < "2026-11-24T01"
            else 2
        )
        slow = (hour == 1 and i % 25 < 3) or (hour == 2 and i % 25 < 20)  # hour 0: another model, all slow
        row.update(model="model-b" if hour == 0 else "model-a", latency=5000 if slow or hour == 0 else 900)
    store = Store(tmp_path / "heliqa.duckdb")
    store.add_rows(rows)
    m = Monitor(name="l", measure="latency", by="model")
    counts = store.run(m.query("2026-11-24T00:00:00Z", "2026-11-24T02:00:00Z", "hour", 0, count=True), MAIN_ORG)
    assert sorted(int(r.value) for r in counts if r.group == "model-a") == [25, 25]
    tail = _confirmed(store, MAIN_ORG, m, "model-a", Check(t0 - HOUR, 5000.0, 25, 1000.0, 7.0, True, True))
    assert not tail.opens and tail.spreads < 3.0  # 3 of 25 where 2.5 are usual
    shift = _confirmed(store, MAIN_ORG, m, "model-a", Check(t0, 5000.0, 25, 1000.0, 7.0, True, True))
    assert shift.opens and shift.spreads == 7.0  # 20 of 25: the value's own deviate, the lesser
    far = Check(t0 - HOUR, 5000.0, 25, 1000.0, 9.5, True, True)
    assert _confirmed(store, MAIN_ORG, m, "model-a", far) == far
    # over a mix of models, one model's slowdown moves the p90 with its few requests: no count confirms it there
    assert _one_model(m, "model-a") and not _one_model(Monitor(name="o", measure="latency"), None)
    store.close()


def test_a_mix_departure_needs_a_model_slower_than_usual(tmp_path):
    """A latency p90 over a mix of models, past 2K but not 3K, is confirmed by the models' own series: a burst of a
    slow model's usual requests (no model slower than usual) does not open and stops counting past K; one model
    slowed opens as before; models too thin to judge leave the mix's own departure standing. A split series (one
    provider's) is confirmed over its own requests."""
    import random

    from heliqa.agent.watch import _mix_confirmed
    from heliqa.tools.demo import generate
    from heliqa.tools.store import Store

    start, t_burst, t_slow = datetime(2026, 11, 16), datetime(2026, 11, 24, 1), datetime(2026, 11, 24, 3)
    rnd, plan = random.Random(5), []
    hour = start
    while hour < t_slow:
        slow_b = 20 if hour == t_burst - HOUR else 5  # the burst: a fifth of the hour's requests, not a twentieth
        slow_a = hour == t_slow - HOUR
        plan += [("model-a", rnd.uniform(1500, 1600) if slow_a else rnd.uniform(900, 1100), hour) for _ in range(95)]
        plan += [("model-b", rnd.uniform(4500, 5500), hour) for _ in range(slow_b)]
        hour += HOUR
    rows = list(generate(len(plan), 3, t_slow.replace(tzinfo=NOW.tzinfo), MAIN_ORG, days=1))
    for i, (row, (model, latency, at)) in enumerate(zip(rows, plan, strict=True)):
        stamp = (at + timedelta(seconds=60 * (i % 59) + 1)).isoformat() + ".000Z"
        row.update(model=model, provider="P", latency=int(latency), request_created_at=stamp)
    store = Store(tmp_path / "heliqa.duckdb")
    store.add_rows(rows)
    overall, split = Monitor(name="l", measure="latency"), Monitor(name="p", measure="latency", by="provider")
    burst = _mix_confirmed(store, MAIN_ORG, overall, None, Check(t_burst, 5000.0, 115, 1100.0, 7.0, True, True), {})
    assert not burst.opens and burst.spreads < 3.0
    slowed = Check(t_slow, 1600.0, 100, 1100.0, 7.0, True, True)
    assert _mix_confirmed(store, MAIN_ORG, overall, None, slowed, {}) == slowed
    thin = Check(t_burst, 5000.0, 1000, 1100.0, 7.0, True, True)  # the models hold 115 of its 1,000 requests
    assert _mix_confirmed(store, MAIN_ORG, overall, None, thin, {}) == thin
    by_provider = _mix_confirmed(store, MAIN_ORG, split, "P", Check(t_burst, 5000.0, 115, 1100.0, 7.0, True, True), {})
    assert by_provider == burst
    none = _mix_confirmed(store, MAIN_ORG, split, "Q", Check(t_burst, 5000.0, 115, 1100.0, 7.0, True, True), {})
    assert none.opens  # no requests of another provider: nothing judged, the departure stands
    store.close()


def test_a_split_cost_counts_cents_against_the_whole_organizations_spend():
    """One model's cost is judged with a floor of 2% of every model's hourly total: its extra cents an hour are
    not news where the organization spends a dollar an hour; its extra dollars are."""
    from heliqa.agent.watch import Baseline
    from heliqa.agent.watch import _check as judge

    m = Monitor(name="c", measure="cost", by="model")
    t0 = datetime(2026, 11, 20)
    cheap = _steady_hours(t0, 0.01, 30, wobble=0.1)
    whole = {h: 1.0 for h in cheap}
    assert Baseline(m, cheap).at(t0).floor == pytest.approx(0.0002)  # alone: 2% of its own 1 cent
    baseline = Baseline(m, cheap, whole)
    assert baseline.at(t0).floor == pytest.approx(0.02)
    assert not judge(m, t0, 0.04, 30, baseline).firing  # 4x its own cost: 3 cents, 1.5 floors
    assert judge(m, t0, 0.5, 30, baseline).opens


def test_evaluation_instants_are_multiples_of_the_interval():
    start = datetime(2026, 11, 20, 0, 7)
    got = evaluation_instants(start, start + timedelta(hours=1), timedelta(minutes=15))
    assert got[0] == datetime(2026, 11, 20, 0, 15) and got[-1] == datetime(2026, 11, 20, 1, 0) and len(got) == 4


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    inter = (min(a[1], b[1]) - max(a[0], b[0])).total_seconds()
    union = (max(a[1], b[1]) - min(a[0], b[0])).total_seconds()
    return max(inter, 0) / union


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", ""))


@pytest.fixture(scope="module")
def backtested(sample_home) -> dict:
    done = heliqa(
        "watch", "--backtest", "10d", "--every", "1h", "--json", "--org", MAIN_ORG, "--now", "2026-11-24T12:00:00Z",
        home=sample_home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_backtest_finds_the_planted_incidents(backtested):
    """The default anomaly monitors on the generated sample: the 429 storm and the power user's spend are each found
    (window overlap >= 80%, first post within two evaluation intervals, the right first driver)."""
    planted = Incidents(NOW.replace(tzinfo=None))
    every = timedelta(hours=1)
    by_monitor: dict[str, list[dict]] = {}
    for incident in backtested["incidents"]:
        by_monitor.setdefault(incident["monitor"], []).append(incident)
    # the spend is one user calling gpt-4 with long prompts: either is a right first driver
    expected = [
        ("errors", planted.storm, {("provider", "ANTHROPIC")}),
        ("cost", planted.spend, {("model", "gpt-4"), ("user", "user_0042")}),
    ]
    for monitor, window, drivers in expected:
        hit = [i for i in by_monitor.get(monitor, []) if _overlap((_at(i["start"]), _at(i["end"])), window) >= 0.8]
        assert hit, (monitor, by_monitor.get(monitor))
        assert _at(hit[0]["posted_at"]) - window[0] <= 2 * every
        assert (hit[0]["drivers"][0]["dimension"], hit[0]["drivers"][0]["value"]) in drivers
    slow = [i for i in by_monitor.get("latency", []) if _overlap((_at(i["start"]), _at(i["end"])), planted.slow_gpt4)]
    assert slow and slow[0]["drivers"][0]["value"] == "gpt-4"


def test_default_score_monitors_split_by_the_low_cardinality_properties():
    """Property keys with few values, set on enough requests, split the score monitors; at most SPLIT_KEYS of them."""
    from heliqa.tools.monitors import SPLIT_KEYS, default_monitors, split_properties
    from heliqa.tools.results import Vocabulary

    many = {f"v{i}": 10 for i in range(50)}
    vocab = Vocabulary(
        models={"m": 1000},
        score_keys={"quality": 300},
        properties={
            "stage": {"a": 600, "b": 400},  # two values, on every request
            "session": many,  # too many values
            "rare": {"x": 40, "y": 40},  # on 8% of requests
            "lone": {"only": 1000},  # one value splits nothing
            **{f"k{i}": {"a": 100 - i, "b": 100} for i in range(6)},
        },
    )
    assert "score quality by property.model" in [
        m.name for m in default_monitors(Vocabulary(score_keys={"quality": 1}, properties={"model": {"a": 1, "b": 1}}))
    ]  # a property named like a dimension keeps its monitor's name apart
    keys = split_properties(vocab)
    assert keys[0] == "property.stage" and len(keys) == SPLIT_KEYS
    assert not {"property.session", "property.rare", "property.lone"} & set(keys)
    names = [m.name for m in default_monitors(vocab)]
    assert "score quality by stage" in names and "latency by stage" not in names
    assert len(names) == 3 * 3 + 3 + SPLIT_KEYS


def test_backtest_false_alarms(backtested):
    """No default monitor fires outside the planted incidents over the 10 days (goal: at most 1 per 30 days)."""
    planted = Incidents(NOW.replace(tzinfo=None))
    windows = [planted.slow_gpt4, planted.storm, planted.prompt, planted.spend]
    false = [
        i
        for i in backtested["incidents"]
        if not any(_at(i["start"]) < b and _at(i["end"] or i["posted_at"]) > a for a, b in windows)
    ]
    # latency, errors, cost, 4 score keys; overall, by model, by provider; each score key by 4 property keys
    assert len(backtested["monitors"]) == 37
    assert false == []


def test_backtest_timeline_says_what_would_have_been_posted(sample_home):
    done = heliqa(
        "watch", "--backtest", "4d", "--every", "1h", "--org", MAIN_ORG, "--now", "2026-11-24T12:00:00Z",
        home=sample_home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2026-11-21T09:00:00Z  [errors] Error rate reached" in done.stdout
    assert "first driver: provider ANTHROPIC" in done.stdout


def test_a_backtest_up_to_now_on_data_that_ended_days_ago_says_where_it_ends(sample_home, tmp_path):
    """Without --now, on a store filled once and replayed days later: the data's end and the --now that replays up
    to it are said (stderr; the JSON stays the same), as `heliqa demo` says them; with --now, nothing is said."""
    from heliqa.tools.store import Store

    store = Store(sample_home / "heliqa.duckdb", read_only=True)
    last = store.data_span(MAIN_ORG)[1]
    store.close()
    clock = tmp_path / "clock"
    clock.write_text("2026-12-06T00:00:00Z", encoding="utf-8")  # the current time, 11.5 days after the data
    stamp, days = f"{last:%Y-%m-%dT%H:%M:%S}Z", f"{(datetime(2026, 12, 6) - last).total_seconds() / 86400:.1f} days"
    args = ["watch", "--every", "6h", "--org", MAIN_ORG, "--clock", str(clock)]
    partly = heliqa(*args, "--backtest", "30d", "--json", home=sample_home)
    assert partly.returncode == 0, partly.stderr
    assert json.loads(partly.stdout)["end"] == "2026-12-06T00:00:00Z"
    assert (
        f"heliqa: the data ends at {stamp}, {days} before now: the last {days} of this backtest replay no requests; "
        f"to replay up to where the data ends, add --now {stamp}"
    ) in partly.stderr
    wholly = heliqa(*args, "--backtest", "2d", home=sample_home)
    assert wholly.returncode == 0, wholly.stderr
    assert f"all of this backtest replays no requests; to replay up to where the data ends, add --now {stamp}" in (
        wholly.stderr
    )
    fresh = heliqa(*args[:-2], "--backtest", "2d", "--now", stamp, home=sample_home)
    assert fresh.returncode == 0 and "data ends" not in fresh.stderr, fresh.stderr


def test_a_live_cycle_reads_only_new_baseline_hours_and_agrees_with_a_backtest(sample_store):
    """The watcher keeps baseline hours between cycles; its checks equal those computed in one go."""
    from heliqa.agent.watch import checks

    m = Monitor(name="latency by provider", measure="latency", by="provider")
    instants = evaluation_instants(datetime(2026, 11, 19, 0), datetime(2026, 11, 19, 6), timedelta(minutes=30))
    at_once = checks(sample_store, MAIN_ORG, m, instants)
    cache: dict = {}
    one_by_one: dict = {}
    for t in instants:
        for group, found in checks(sample_store, MAIN_ORG, m, [t], cache).items():
            one_by_one.setdefault(group, []).extend(found)
    assert one_by_one == at_once
    assert any(c.opens for c in at_once["OPENAI"])  # the slow gpt-4 hours
    hours = next(iter(cache.values()))["hours"]["OPENAI"]
    assert min(hours) >= instants[-1] - timedelta(days=7, hours=3)  # what no baseline needs is forgotten


def test_monitors_added_in_plain_words(sample_home, tmp_path):
    path = tmp_path / "monitors.toml"
    said = "p95 latency for gpt-4 over 1h above 5 s with at least 50 requests"
    done = heliqa("watch", "add", said, str(path), "--org", MAIN_ORG, home=sample_home)
    assert done.returncode == 0, done.stderr
    assert (
        heliqa("watch", "add", "error rate by provider", str(path), "--org", MAIN_ORG, home=sample_home).returncode == 0
    )
    parsed, problems = check_text(path.read_text(encoding="utf-8"))
    assert not problems
    latency, errors = parsed.monitors()
    assert (latency.measure, latency.agg, latency.filters, latency.above, latency.min_requests, latency.window) == (
        "latency", "p95", {"model": "gpt-4"}, 5000, 50, "1h",
    )  # fmt: skip
    assert (errors.kind, errors.measure, errors.agg, errors.by) == ("anomaly", "errors", "rate", "provider")

    again = heliqa("watch", "add", "error rate by provider", str(path), "--org", MAIN_ORG, home=sample_home)
    assert again.returncode == 2 and "has 'error rate by provider' watching the same" in again.stderr
    two = heliqa(
        "watch", "add", "latency above 5 s for requests over 3 s", str(path), "--org", MAIN_ORG, home=sample_home
    )
    assert two.returncode == 2 and "two thresholds" in two.stderr and "Traceback" not in two.stderr
    assert len(parsed.monitor) == 2 == len(check_text(path.read_text(encoding="utf-8"))[0].monitor)


@pytest.mark.parametrize(
    "monitor",
    [
        Monitor(name="a", measure="score", score_key="accuracy", by="model"),
        Monitor(name="b", measure="score", score_key="is_correct-hcone-bool", aggregation="p50",
                filters={"property.feature": ["support-bot", "search"]}),
        Monitor(name="c", measure="score", score_key="helpfulness", by="property.feature"),
    ],
)  # fmt: skip
def test_score_series_in_one_pass_equal_the_extended_query(sample_store, monitor):
    """Scores are read from the requests' score maps in one pass (the scores table's join is slow on a large
    store); the values and scored counts are the extended query's."""
    from heliqa.agent.watch import _score_rows

    start, end = "2026-11-10T00:00:00Z", "2026-11-20T00:00:00Z"
    values, counts = _score_rows(sample_store, MAIN_ORG, monitor, start, end, "hour", 15)
    expected = {(r.bucket, r.group): r.value for r in sample_store.run(monitor.query(start, end, "hour", 15), MAIN_ORG)}
    scored = sample_store.run(monitor.query(start, end, "hour", 15, count=True), MAIN_ORG)
    assert values.keys() == expected.keys() and len(values) > 100
    assert all(values[k] == pytest.approx(expected[k]) for k in values)
    assert {k: n for k, n in counts.items()} == {(r.bucket, r.group): int(r.value) for r in scored if r.value}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backtest", "soon"], "--backtest: 'soon' is not a duration"),
        (["--backtest", "7d", "--every", "0m"], "--every: '0m' is not a positive duration"),
        (["--now", "2026-11-24T12:00:00Z"], "--now evaluates one instant: add --once"),
        (["--check"], "usage: heliqa watch --check FILE"),
        (["a.toml", "b.toml"], "unexpected 'b.toml'"),
        (["add"], 'usage: heliqa watch add "WORDS" [FILE]'),
        (["nosuch.toml", "--once"], "cannot read the monitors file nosuch.toml"),
    ],
)
def test_bad_watch_options_get_one_clear_error(sample_home, args, message):
    done = heliqa("watch", *args, "--org", MAIN_ORG, home=sample_home)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_series_that_stops_receiving_requests_ends_its_incident(tmp_path, capsys):
    """A split threshold monitor: the model whose requests all failed, then stopped, has its incident resolved."""
    from heliqa.tools.demo import generate
    from heliqa.tools.monitors import MonitorsFile
    from heliqa.tools.store import Store
    from heliqa.tools.watch_state import Mutes, WatchState
    from heliqa.watch import Watcher

    start = datetime(2026, 11, 24, 0, 0)
    rows = list(generate(40, 1, (start + timedelta(hours=2)).replace(tzinfo=NOW.tzinfo), MAIN_ORG, days=2 / 24))
    for row in rows:  # the first hour: model-a, all failing; the second: model-b, all fine
        first_hour = row["request_created_at"] < "2026-11-24T01"
        row.update(model="model-a" if first_hour else "model-b", status=500 if first_hour else 200)
    store = Store(tmp_path / "heliqa.duckdb")
    store.add_rows(rows)
    monitor = Monitor(name="failing models", measure="errors", by="model", above=50, min_requests=3)
    files = MonitorsFile(monitor=[monitor.model_copy(update={"channels": ("terminal",)})])
    state = WatchState(tmp_path / "heliqa.watch.json")
    watcher = Watcher(store, MAIN_ORG, files, timedelta(hours=1), state, Mutes(tmp_path / "m.json"), None)
    watcher.cycle(start + timedelta(hours=1))
    assert state.series["failing models|model-a"]["open"]
    watcher.cycle(start + timedelta(hours=2))
    assert state.series["failing models|model-a"]["open"] is None
    printed = capsys.readouterr().out
    assert "Error rate for model model-a reached 100.0% above 50.0%" in printed and "↳ :white_check_mark:" in printed
    store.close()


def test_the_watcher_takes_up_a_changed_monitors_file_and_keeps_its_monitors_when_it_breaks(sample_store, tmp_path):
    """`heliqa watch add` (or an edit) while watching: the next cycle evaluates the new monitor."""
    import os
    import time

    from heliqa.tools.watch_state import Mutes, WatchState
    from heliqa.watch import Watcher, reloader

    path = tmp_path / "monitors.toml"
    path.write_text('[[monitor]]\nname = "errors"\nmeasure = "errors"\n', encoding="utf-8")
    reload = reloader(path, ("terminal",))
    state = WatchState(tmp_path / "heliqa.watch.json")
    files = check_text(path.read_text(encoding="utf-8"))[0]
    watcher = Watcher(sample_store, MAIN_ORG, files, timedelta(hours=1), state, Mutes(tmp_path / "m.json"), None)
    watcher.reload = reload
    watcher.cycle(datetime(2026, 11, 20, 1))
    assert set(state.last) == {"errors"}
    path.write_text(path.read_text() + '\n[[monitor]]\nname = "cost"\nmeasure = "cost"\n', encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a later modification time, whatever the clock
    watcher.cycle(datetime(2026, 11, 20, 2))
    assert set(state.last) == {"errors", "cost"} and state.last["cost"] == "2026-11-20T02:00:00Z"
    path.write_text("[[monitor]]\nname = 3\n", encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    watcher.cycle(datetime(2026, 11, 20, 3))
    assert state.last == {"errors": "2026-11-20T03:00:00Z", "cost": "2026-11-20T03:00:00Z"}


@pytest.mark.parametrize(
    ("excess", "failed", "breaching"),
    [
        (1.2, "about 1 more failed request than usual", "1 request in the breaching windows"),
        (0.6, "about 1 more failed request than usual", "1 request in the breaching windows"),
        (2.0, "about 2 more failed requests than usual", "2 requests in the breaching windows"),
        (1234.0, "about 1,234 more failed requests than usual", "1,234 requests in the breaching windows"),
    ],
)
def test_an_incident_s_impact_counts_its_requests_in_the_right_number(excess, failed, breaching):
    from heliqa.agent.watch import Incident, impact

    t0 = datetime(2026, 11, 20)
    incident = Incident("e", None, t0, t0, typical=1.0, peak=20.0, last=20.0, excess=excess)
    assert impact(Monitor(name="e", measure="errors"), incident) == failed
    assert impact(Monitor(name="l", measure="latency", aggregation="p95", above=5000), incident) == breaching
