"""Charts say what they show: dates under the ticks that match them, a unit on every value axis, and the
comparison's periods by date in the legend."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("matplotlib")

from matplotlib.dates import num2date  # noqa: E402

from heliqa.agent.answer import Answer  # noqa: E402
from heliqa.agent.conversation import Conversation  # noqa: E402
from heliqa.agent.factory import make_planner  # noqa: E402
from heliqa.agent.spec import QuerySpec  # noqa: E402
from heliqa.agent.timerange import TimeRange  # noqa: E402
from heliqa.chart import figure  # noqa: E402
from heliqa.tools.results import Row  # noqa: E402
from tests.conftest import MAIN_ORG, NOW  # noqa: E402


@pytest.fixture
def chat(sample_store):
    return Conversation(sample_store, make_planner("rules"), MAIN_ORG, ZoneInfo("UTC"), NOW)


def _ticks(ax) -> list[tuple[datetime, str]]:
    ax.figure.canvas.draw()
    return [(num2date(t.get_loc()), t.label1.get_text()) for t in ax.xaxis.get_major_ticks() if t.label1.get_text()]


@pytest.mark.parametrize("bucket", ["day", "hour"])
def test_tick_labels_name_their_own_dates_across_a_month_end(bucket):
    start, end = datetime(2026, 11, 27), datetime(2026, 12, 2)
    spec = QuerySpec(measure="requests", bucket=bucket, range=TimeRange(kind="between", start=start, end=end))
    query = spec.to_query(datetime(2026, 12, 2, 12, tzinfo=ZoneInfo("UTC")), ZoneInfo("UTC"))
    step = timedelta(days=1) if bucket == "day" else timedelta(hours=1)
    rows = [Row(start + i * step, None, 10.0 + i % 3) for i in range((end - start) // step)]
    ax = figure(Answer("ok", "", query=query, rows=rows, interpretation="x")).axes[0]
    ticks = _ticks(ax)
    assert ax.xaxis.get_offset_text().get_text() == ""  # no '2026-Dec' under November ticks
    for moment, label in ticks:
        month = next((m for m in ("Nov", "Dec") if m in label), None)
        if month:  # a label naming a month names the tick's own month and day
            assert label == moment.strftime("%b %d"), (label, moment)
    assert any("Nov 2" in label or "Nov 3" in label for _, label in ticks)
    assert any(label.startswith("Dec") for _, label in ticks)
    assert ax.get_ylabel() == f"requests per {bucket}"


def test_every_chart_kind_has_units(chat):
    explained = chat.ask("why did we spend so much on nov 22?")
    assert figure(explained).axes[0].get_ylabel() == "$ an hour"
    latency = chat.ask("p90 latency for gpt-4 last week by day")
    assert figure(latency).axes[0].get_ylabel() == "ms, p90 of each day"
    bars = chat.ask("total cost by model last week")
    assert figure(bars).axes[0].get_xlabel() == "$"


def test_a_comparison_legend_dates_its_periods(chat):
    compared = chat.ask("requests per hour today vs yesterday")
    legend = [t.get_text() for t in figure(compared).axes[0].get_legend().get_texts()]
    assert "current (Nov 24 00:00 – Nov 24 12:00)" in legend
    assert "previous (Nov 23 00:00 – Nov 23 12:00)" in legend
