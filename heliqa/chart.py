"""A PNG chart of an answer's rows (matplotlib, Agg, object API only; imported lazily by callers)."""

from __future__ import annotations

import io
import threading
from collections import defaultdict
from datetime import datetime, timedelta

from heliqa.agent.answer import MEASURE_WORDS, Answer, interpret_head, unit_of
from heliqa.tools.query import MetricsQuery

MAX_SERIES = 8
MAX_BARS = 15
# matplotlib's font cache and text layout are not guaranteed thread-safe; charts are rare, so serialize them.
_LOCK = threading.Lock()
_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")


def warm_up() -> None:
    """Import matplotlib now (≈1 s) so the first chart of a long-running app is fast."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401


def metrics_query(answer: Answer) -> MetricsQuery | None:
    """The aggregate an answer charts: its query, or a comparison's current period (None for lists)."""
    if isinstance(answer.query, MetricsQuery):
        return answer.query
    return getattr(answer.query, "current", None)


def chartable(answer: Answer) -> bool:
    """True when the answer has something worth a picture: a time series, two or more groups, an explanation."""
    if answer.status != "ok" or answer.query is None:
        return False
    if answer.kind == "explain":
        return answer.detail is not None and any(p.in_range for p in answer.detail.series)
    if metrics_query(answer) is None:
        return False
    values = [r for r in answer.rows if r.value is not None]
    if any(r.bucket is not None for r in values):
        return len({r.bucket for r in values}) >= 2
    return len({r.group for r in values}) >= 2


def title_of(answer: Answer) -> str:
    """The chart title: 'P90 latency (ms)'."""
    if answer.kind == "explain":
        from heliqa.agent.investigate import measure_words

        words = measure_words(answer.detail)
        return words[:1].upper() + words[1:] + " — what changed"
    q = metrics_query(answer)
    words = f"{q.scoreKey} score" if q.scoreKey else MEASURE_WORDS[q.measure]
    unit = unit_of(q)
    return interpret_head(q, words) + (f" ({unit})" if unit else "")


def render_png(answer: Answer, width: float = 8.0, height: float = 3.6, dpi: int = 110) -> bytes | None:
    """The answer as a PNG (lines for time series, bars for groups, small panels for scores on different
    scales, two periods overlaid for a comparison, the window shaded for an explanation); None when there is
    nothing to draw."""
    if not chartable(answer):
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _LOCK:
        panels = _panels(answer)
        tall = height if len(panels) <= 1 else max(height, 1.6 * ((len(panels) + 1) // 2) + 0.8)
        fig = Figure(figsize=(width, tall), dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        note = ""
        if answer.kind == "explain":
            ax = fig.add_subplot()
            _explained(ax, answer)
            axes = [ax]
        elif panels:
            axes = _small_multiples(fig, answer, panels)
        else:
            ax = fig.add_subplot()
            axes = [ax]
            if any(r.bucket is not None for r in answer.rows):
                note = _lines(ax, answer)
            else:
                note = _bars(ax, answer)
        fig.suptitle(title_of(answer), x=0.01, ha="left", fontsize=11, fontweight="bold")
        caption = answer.interpretation + (f"  ·  {note}" if note else "")
        fig.supxlabel(caption, fontsize=7, color="#6b7280", x=0.01, ha="left")
        for ax in axes:
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            ax.set_axisbelow(True)
        out = io.BytesIO()
        fig.savefig(out, format="png", facecolor="white")
        return out.getvalue()


def _panels(answer: Answer) -> list[str | None]:
    """Score keys on different scales (accuracy 0–100 beside 0/1 rates) get one small panel each."""
    q = metrics_query(answer)
    if q is None or q.measure != "score" or answer.kind != "aggregate" or q.dbIncrement is None:
        return []
    peaks: dict[str | None, float] = {}
    for r in answer.rows:
        if r.value is not None:
            peaks[r.group] = max(peaks.get(r.group, 0.0), abs(r.value))
    if len(peaks) < 2:
        return []
    low, high = min(peaks.values()), max(peaks.values())
    if high <= 3 * max(low, 1e-9):
        return []  # one scale: one axis reads fine
    return sorted(peaks, key=lambda g: g or "")[:MAX_SERIES]


def _small_multiples(fig, answer: Answer, groups: list[str | None]) -> list:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    q = metrics_query(answer)
    shift = timedelta(minutes=q.timeZoneDifference)
    cols = 2 if len(groups) > 1 else 1
    rows = (len(groups) + cols - 1) // cols
    axes = []
    for n, group in enumerate(groups):
        ax = fig.add_subplot(rows, cols, n + 1)
        points = sorted((r.bucket - shift, r.value) for r in answer.rows if r.group == group and r.value is not None)
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o" if len(xs) <= 40 else None, markersize=2.5, linewidth=1.5,
                    color=_PALETTE[n % len(_PALETTE)])
        ax.set_title(group or "", loc="left", fontsize=8)
        locator = AutoDateLocator(maxticks=5)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
        axes.append(ax)
    return axes


def _explained(ax, answer: Answer) -> None:
    """The explained series in the range, its baseline median, and the window shaded."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    e = answer.detail
    shift = timedelta(minutes=e.query.timeZoneDifference)
    points = sorted((p.bucket - shift, p.value) for p in e.series if p.in_range and p.value is not None)
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o" if len(xs) <= 48 else None, markersize=3, linewidth=1.8, color=_PALETTE[0])
    if e.typical is not None:
        ax.axhline(e.typical, color="#6b7280", linestyle="--", linewidth=1, label="typical (7-day median)")
    if e.window is not None:
        ax.axvspan(e.window[0] - shift, e.window[1] - shift, color=_PALETTE[1], alpha=0.15, label="window")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    locator = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)


def _series(answer: Answer) -> tuple[dict[str, list[tuple[datetime, float]]], int]:
    """Label -> [(local bucket start, value)], the largest series first, at most MAX_SERIES; and how many there were.

    A comparison's previous period is drawn shifted forward onto the current period's time axis."""
    q = metrics_query(answer)
    shift = timedelta(minutes=q.timeZoneDifference)
    offset = timedelta(0)
    if answer.kind == "compare":
        from heliqa.tools.filters import parse_instant

        offset = parse_instant(answer.query.current.timeFilter.start) - parse_instant(
            answer.query.previous.timeFilter.start
        )
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for r in answer.rows:
        if r.bucket is not None and r.value is not None:
            period = getattr(r, "period", None)
            label = " · ".join(x for x in (r.group, period) if x) or ""
            moved = offset if period == "previous" else timedelta(0)
            series[label].append((r.bucket - shift + moved, r.value))
    ranked = sorted(series, key=lambda g: -sum(v for _, v in series[g]))
    return {g: sorted(series[g]) for g in ranked[:MAX_SERIES]}, len(series)


def _lines(ax, answer: Answer) -> str:
    """Draw the time series; returns a note when some series were left out."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    series, total = _series(answer)
    colors: dict[str, str] = {}  # one color per group; a comparison's previous period is its dashed, grey twin
    for label, points in series.items():
        xs, ys = zip(*points, strict=True)
        previous = label.endswith("previous")
        group = label.removesuffix("previous").removesuffix("current").removesuffix(" · ")
        color = colors.setdefault(group, _PALETTE[len(colors) % len(_PALETTE)])
        ax.plot(
            xs,
            ys,
            marker="o" if len(xs) <= 40 else None,
            markersize=3,
            linewidth=1.8,
            linestyle="--" if previous else "-",
            alpha=0.55 if previous else 1.0,
            color=color,
            label=label or None,
        )
    locator = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if any(series):
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    _thousands(ax.yaxis, max(v for points in series.values() for _, v in points))
    return f"showing the {len(series)} largest of {total} series" if total > len(series) else ""


def _bars(ax, answer: Answer) -> str:
    """Bars per group (current beside previous for a comparison); returns a note when groups were left out."""
    values = [r for r in answer.rows if r.value is not None]
    if answer.kind == "compare":
        current = {r.group: r.value for r in values if r.period == "current"}
        previous = {r.group: r.value for r in values if r.period == "previous"}
        groups = sorted(current, key=lambda g: -current[g])[:MAX_BARS]
        groups.reverse()
        ys = range(len(groups))
        labels = [g or "(all)" for g in groups]
        ax.barh([y + 0.2 for y in ys], [current[g] for g in groups], height=0.4, color=_PALETTE[0], label="current")
        ax.barh([y - 0.2 for y in ys], [previous.get(g, 0) for g in groups], height=0.4, color="#9ca3af",
                label="previous")
        ax.set_yticks(list(ys), labels)
        ax.legend(fontsize=8, frameon=False)
        total, shown, largest = len(current), len(groups), max([*current.values(), *previous.values(), 0])
    else:
        rows = values[:MAX_BARS]  # in the answer's order (answer.arrange: largest first, or smallest for bottom N)
        rows.reverse()  # barh draws bottom-up; keep the first row on top
        ax.barh([r.group or "(none)" for r in rows], [r.value for r in rows], color=_PALETTE[0])
        total, shown, largest = len(values), len(rows), max((r.value for r in rows), default=0)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
    _thousands(ax.xaxis, largest)
    return f"showing the {shown} largest of {total} groups" if total > shown else ""


def _thousands(axis, largest: float) -> None:
    """Show large values as 12,000 rather than 12000 (small ones keep matplotlib's decimals)."""
    if largest >= 1000:
        from matplotlib.ticker import StrMethodFormatter

        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
