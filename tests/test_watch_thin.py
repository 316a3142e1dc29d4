"""`heliqa watch` on thin series: the early slice's far-tail count of a score, the early count of a thin error rate."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from heliqa.agent.watch import checks
from heliqa.tools.demo import generate
from heliqa.tools.monitors import Monitor
from heliqa.tools.store import Store
from tests.conftest import MAIN_ORG, NOW

T0 = datetime(2026, 11, 24, 4, 30)  # the evaluation instant (naive UTC)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _series(tmp_path, recent: list[dict], every: timedelta, **row) -> Store:
    """A store of one series: a request every `every` over the 8 days before T0 − 30 min (seeded, the generator's
    rows with `row`'s fields), then the `recent` requests of the newest half hour, spread over it."""
    rng = random.Random(11)
    start, calm_end = T0 - timedelta(days=8), T0 - timedelta(minutes=30)
    count = int((calm_end - start) / every)
    rows = list(generate(count + len(recent), 5, NOW, MAIN_ORG, days=1))
    times = [start + i * every for i in range(count)]
    times += [calm_end + (i + 0.5) * timedelta(minutes=30) / len(recent) for i in range(len(recent))]
    for i, (template, at) in enumerate(zip(rows, times, strict=True)):
        extra = recent[i - count] if i >= count else row["calm"](rng)
        template.update(row["fixed"], **extra)
        template["request_created_at"] = _iso(at)
        template["response_created_at"] = _iso(at + timedelta(milliseconds=template["latency"]))
    store = Store(tmp_path / "heliqa.duckdb")
    store.add_rows(rows)
    return store


def _instants() -> list[datetime]:
    return [T0 - timedelta(minutes=15), T0]


@pytest.mark.parametrize(
    "recent, opens",
    [
        # 4 of 9 scores far below anything usual (the canary's docs-qa share): opens at T0
        ([88, 92, 70, 55, 87, 97, 50, 69, 100], True),
        # the same average with no score below the baseline's 1st percentile: the early slice alone stays under 2K
        ([79, 78, 80, 79, 78, 79, 80, 78, 77], False),
    ],
)
def test_a_score_drop_in_part_of_a_series_opens_from_its_far_tail(tmp_path, recent, opens):
    """Scores of a series spread 88 ± 6 (one every 4 minutes for 8 days). A half hour of 9 scores averaging 78.6
    lies 3.7 spreads below (its early slice: under 2K), its window under 2K too; 4 of those 9 below the baseline's
    1st percentile (where 1% of scores lie) is a binomial tail of ~1e-6, past 1.5K: it opens. The same average
    made of scores at 77–80 has none below: it does not."""
    calm = lambda rng: {"scores": {"quality": max(0, min(100, round(rng.gauss(88, 6))))}, "status": 200}  # noqa: E731
    fixed = {"properties": {"stage": "canary"}}
    recent_rows = [{"scores": {"quality": v}, "status": 200} for v in recent]
    store = _series(tmp_path, recent_rows, timedelta(minutes=4), calm=calm, fixed=fixed)
    m = Monitor(name="q", measure="score", score_key="quality", by="property.stage", min_requests=5)
    found = checks(store, MAIN_ORG, m, _instants())["canary"][-1]
    assert found.firing and found.early is not None and 3.0 < found.early <= 6.0
    assert found.spreads < 6.0
    assert found.opens is opens
    store.close()


def test_a_thin_error_rate_opens_on_its_newest_half_hour(tmp_path):
    """A provider sending 15 requests an hour, 1 in 70 failing: an outage failing 6 of the 7 requests of its
    first half hour departs in the window (6 of 14: under 2K, diluted by the calm half hour before) but opens on
    its newest two quarter hours (6 of 7: a binomial tail past 2K). 2 failures of 7 open nothing."""

    def calm(rng):
        return {"status": 503 if rng.random() < 1 / 70 else 200}

    fixed = {"provider": "GROQ"}
    m = Monitor(name="e", measure="errors", by="provider", min_requests=5)
    outage = [{"status": 503}] * 3 + [{"status": 200}] + [{"status": 503}] * 3
    store = _series(tmp_path, outage, timedelta(minutes=4), calm=calm, fixed=fixed)
    found = checks(store, MAIN_ORG, m, _instants())["GROQ"][-1]
    assert found.firing and found.spreads < 6.0 and found.opens
    store.close()
    (tmp_path / "few").mkdir()
    few = [{"status": 503}, {"status": 200}, {"status": 200}, {"status": 503}] + [{"status": 200}] * 3
    store = _series(tmp_path / "few", few, timedelta(minutes=4), calm=calm, fixed=fixed)
    assert not checks(store, MAIN_ORG, m, _instants())["GROQ"][-1].opens
    store.close()


def test_a_yes_no_score_departs_from_its_requests_own_mean():
    """A yes/no score whose judged hours (5 requests) were all yes, while a third of its one-request hours were no
    (1 in 18 is no): the median of hourly averages is 1.0 with no spread, so one no among five would be 10
    spreads; against the requests' own mean (0.94) and standard error (0.23 / √5) it is 1.4: calm. Five noes of
    five still open."""
    from heliqa.agent.watch import Baseline
    from heliqa.agent.watch import _check as judge

    m = Monitor(name="c", measure="score", score_key="correct", by="provider", min_requests=5)
    t0 = datetime(2026, 11, 20)
    hours = {}
    for h in range(2, 24 * 8):
        at = t0 - timedelta(hours=h)
        hours[at] = (1.0, 5, 0.0) if h % 2 == 0 else ((0.0 if h % 3 == 0 else 1.0), 1, None)
    baseline = Baseline(m, hours)
    assert baseline.at(t0).typical == 1.0 and baseline.at(t0).pooled[0] == pytest.approx(0.944, abs=0.01)
    one_no = judge(m, t0, 0.8, 5, baseline)
    assert one_no.spreads == pytest.approx(1.4, abs=0.1) and not one_no.firing
    assert judge(m, t0, 0.0, 5, baseline).opens
