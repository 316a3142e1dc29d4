"""A PNG chart of an answer's rows (matplotlib, Agg, object API only; imported lazily by callers)."""

from __future__ import annotations

import io
import threading
from collections import defaultdict
from datetime import datetime, timedelta

from heliqa.agent.answer import MEASURE_WORDS, Answer, interpret_head, unit_of

MAX_SERIES = 8
MAX_BARS = 15
# matplotlib's font cache and text layout are not guaranteed thread-safe; charts are rare, so serialize them.
_LOCK = threading.Lock()
_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")


def warm_up() -> None:
    """Import matplotlib now (≈1 s) so the first chart of a long-running app is fast."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401


def chartable(answer: Answer) -> bool:
    """True when the answer has something worth a picture: a time series, or two or more groups."""
    if answer.status != "ok" or answer.query is None:
        return False
    values = [r for r in answer.rows if r.value is not None]
    if any(r.bucket is not None for r in values):
        return len({r.bucket for r in values}) >= 2
    return len({r.group for r in values}) >= 2


def title_of(answer: Answer) -> str:
    """The chart title: 'P90 latency (ms)'."""
    q = answer.query
    words = f"{q.scoreKey} score" if q.scoreKey else MEASURE_WORDS[q.measure]
    unit = unit_of(q)
    return interpret_head(q, words) + (f" ({unit})" if unit else "")


def render_png(answer: Answer, width: float = 8.0, height: float = 3.6, dpi: int = 110) -> bytes | None:
    """The answer as a PNG (line chart for time series, bars for groups); None when there is nothing to draw."""
    if not chartable(answer):
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _LOCK:
        fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        if any(r.bucket is not None for r in answer.rows):
            _lines(ax, answer)
        else:
            _bars(ax, answer)
        ax.set_title(title_of(answer), loc="left", fontsize=11, fontweight="bold")
        fig.supxlabel(answer.interpretation, fontsize=7, color="#6b7280", x=0.01, ha="left")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_axisbelow(True)
        out = io.BytesIO()
        fig.savefig(out, format="png", facecolor="white")
        return out.getvalue()


def _series(answer: Answer) -> dict[str | None, list[tuple[datetime, float]]]:
    """Group -> [(local bucket start, value)], the largest series first, at most MAX_SERIES."""
    shift = timedelta(minutes=answer.query.timeZoneDifference)
    series: dict[str | None, list[tuple[datetime, float]]] = defaultdict(list)
    for r in answer.rows:
        if r.bucket is not None and r.value is not None:
            series[r.group].append((r.bucket - shift, r.value))
    ranked = sorted(series, key=lambda g: -sum(v for _, v in series[g]))
    return {g: sorted(series[g]) for g in ranked[:MAX_SERIES]}


def _lines(ax, answer: Answer) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    series = _series(answer)
    for n, (group, points) in enumerate(series.items()):
        xs, ys = zip(*points, strict=True)
        ax.plot(
            xs,
            ys,
            marker="o" if len(xs) <= 40 else None,
            markersize=3,
            linewidth=1.8,
            color=_PALETTE[n % len(_PALETTE)],
            label=group or None,
        )
    locator = AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if any(g is not None for g in series):
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    _thousands(ax.yaxis, max(v for points in series.values() for _, v in points))


def _bars(ax, answer: Answer) -> None:
    rows = [r for r in answer.rows if r.value is not None][:MAX_BARS]  # in the answer's order (answer.arrange)
    rows.reverse()  # barh draws bottom-up; keep the first row on top
    labels = [r.group or "(none)" for r in rows]
    ax.barh(labels, [r.value for r in rows], color=_PALETTE[0])
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
    _thousands(ax.xaxis, rows[-1].value)


def _thousands(axis, largest: float) -> None:
    """Show large values as 12,000 rather than 12000 (small ones keep matplotlib's decimals)."""
    if largest >= 1000:
        from matplotlib.ticker import StrMethodFormatter

        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
