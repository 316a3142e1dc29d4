"""A PNG chart of an answer's rows (matplotlib, Agg, object API only; imported lazily by callers)."""

from __future__ import annotations

import atexit
import io
import math
import threading
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from heliqa.agent.answer import MEASURE_WORDS, Answer, interpret_head, unit_of
from heliqa.tools.query import MetricsQuery
from heliqa.tools.safetext import elide, visible

MAX_SERIES = 8
MAX_BARS = 15
CHART_DEADLINE_S = 10.0  # wall-clock seconds a chart may take before the answer goes out without it
CHART_CPU_S = 5.0  # CPU seconds one chart may use in the chart process
LABEL_LIMIT = 40  # characters of a legend entry or axis label (a 100k-character name took 12 s to lay out)
TITLE_LIMIT = 120
CAPTION_LIMIT = 240
# matplotlib's font cache and text layout are not guaranteed thread-safe; charts are rare, so serialize them.
_LOCK = threading.Lock()
_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")


def label(text: str, limit: int = LABEL_LIMIT) -> str:
    """A name as a chart shows it: one line, controls and bidi visible, elided, and no mathtext (`$`)."""
    return visible(elide(text, limit), pictures=False).replace("$", r"\$")


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
    with _LOCK:
        fig = figure(answer, width, height, dpi)
        out = io.BytesIO()
        fig.savefig(out, format="png", facecolor="white")
        return out.getvalue()


def _draw_capped(draw: Any, payload: Any, cpu_seconds: float) -> bytes | None:
    """In the chart process: `draw(payload)` with at most `cpu_seconds` more CPU (SIGXCPU ends the process)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    return draw(payload)


class ChartProcess:
    """Charts drawn in one warm worker process, each within a deadline and a CPU cap.

    matplotlib's layout is Python work that holds the GIL: drawn on a request thread, one slow chart starves
    the threads that must acknowledge Slack within 3 s. In a process of its own it cannot, and a chart that
    runs past its deadline or its CPU cap is dropped (the process is replaced) instead of blocking anyone."""

    def __init__(self, deadline: float = CHART_DEADLINE_S, cpu_seconds: float = CHART_CPU_S):
        self.deadline = deadline
        self.cpu_seconds = cpu_seconds
        self._pool: Any = None
        self._lock = threading.Lock()

    def _executor(self) -> Any:
        with self._lock:
            if self._pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def warm_up(self) -> None:
        """Start the worker and import matplotlib in it now, so the first chart is fast."""
        self._executor().submit(warm_up).result(timeout=max(self.deadline, 60))

    def render(self, answer: Answer) -> bytes | None:
        """The answer's PNG, or None when there is nothing to draw or it took too long."""
        if not chartable(answer):
            return None
        return self.draw(render_png, answer)

    def draw(self, draw: Any, payload: Any) -> bytes | None:
        """`draw(payload)` (a module-level function returning PNG bytes) in the worker, or None when it took too
        long or failed."""
        from concurrent.futures import TimeoutError as Late
        from concurrent.futures.process import BrokenProcessPool

        pool = self._executor()
        try:
            return pool.submit(_draw_capped, draw, payload, self.cpu_seconds).result(timeout=self.deadline)
        except (Late, BrokenProcessPool):
            self._replace(pool)
            return None

    def _replace(self, pool: Any) -> None:
        """Kill a stuck or dead worker; the next chart starts a fresh one."""
        with self._lock:
            if self._pool is pool:
                self._pool = None
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker process."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


CHARTS = ChartProcess()  # the process's one chart worker (started on first use)
atexit.register(CHARTS.close)  # stopped before the interpreter tears down the modules its manager thread needs


def figure(answer: Answer, width: float = 8.0, height: float = 3.6, dpi: int = 110):
    """The matplotlib Figure of a chartable answer (callers hold _LOCK while drawing)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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
        fig.supylabel(_unit_label(answer), fontsize=8)
    else:
        ax = fig.add_subplot()
        axes = [ax]
        unit = _unit_label(answer)
        if any(r.bucket is not None for r in answer.rows):
            note = _lines(ax, answer)
            ax.set_ylabel(unit, fontsize=8)
        else:
            note = _bars(ax, answer)
            ax.set_xlabel(unit, fontsize=8)
    fig.suptitle(label(title_of(answer), TITLE_LIMIT), x=0.01, ha="left", fontsize=11, fontweight="bold")
    caption = label(answer.interpretation, CAPTION_LIMIT) + (f"  ·  {note}" if note else "")
    fig.supxlabel(caption, fontsize=7, color="#6b7280", x=0.01, ha="left")
    for ax in axes:
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_axisbelow(True)
    return fig


def _unit_label(answer: Answer) -> str:
    """The value axis: the unit and, for a bucketed series, what each point is ('ms, p90 of each day')."""
    q = metrics_query(answer)
    words = f"{q.scoreKey} score" if q.scoreKey else MEASURE_WORDS[q.measure]
    unit = {"USD": "$"}.get(unit_of(q), unit_of(q)) or words
    if q.dbIncrement:
        return f"{unit}, {q.agg} of each {q.dbIncrement}" if q.agg else f"{unit} per {q.dbIncrement}"
    return unit


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
            ax.plot(
                xs,
                ys,
                marker="o" if len(xs) <= 40 else None,
                markersize=2.5,
                linewidth=1.5,
                color=_PALETTE[n % len(_PALETTE)],
            )
        ax.set_title(label(group or ""), loc="left", fontsize=8)
        _date_axis(ax, 5)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
        axes.append(ax)
    return axes


def _explained(ax, answer: Answer) -> None:
    """The explained series in the range, its baseline median, and the window shaded."""
    e = answer.detail
    shift = timedelta(minutes=e.query.timeZoneDifference)
    points = sorted((p.bucket - shift, p.value) for p in e.series if p.in_range and p.value is not None)
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o" if len(xs) <= 48 else None, markersize=3, linewidth=1.8, color=_PALETTE[0])
    from heliqa.agent.investigate import axis_label, bucket_words

    if e.typical is not None:
        label = f"typical {bucket_words(e)} (median of the 7 days before)"
        ax.axhline(e.typical, color="#6b7280", linestyle="--", linewidth=1, label=label)
    if e.window is not None:
        ax.axvspan(e.window[0] - shift, e.window[1] - shift, color=_PALETTE[1], alpha=0.15, label="window")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_ylabel(axis_label(e), fontsize=8)
    if points:
        _thousands(ax.yaxis, max(ys))
    _date_axis(ax, 8)
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
            name = " · ".join(x for x in (r.group, period) if x) or ""
            moved = offset if period == "previous" else timedelta(0)
            series[name].append((r.bucket - shift + moved, r.value))
    ranked = sorted(series, key=lambda g: -sum(v for _, v in series[g]))
    return {g: sorted(series[g]) for g in ranked[:MAX_SERIES]}, len(series)


def _dated(answer: Answer, label: str) -> str:
    """A comparison's series label with its period's local dates: 'current (Nov 24 00:00 – Nov 24 12:00)'."""
    period = next((p for p in ("current", "previous") if label.endswith(p)), None)
    if answer.kind != "compare" or period is None:
        return label
    from heliqa.tools.filters import parse_instant

    window = getattr(answer.query, period).timeFilter
    shift = timedelta(minutes=metrics_query(answer).timeZoneDifference)
    start, end = (parse_instant(t).replace(tzinfo=None) - shift for t in (window.start, window.end))
    same_day = start.date() == end.date() or end == datetime.combine(
        start.date() + timedelta(days=1), datetime.min.time()
    )
    days = f"{start:%b %d}" if same_day and start.hour == 0 == end.hour else None
    return f"{label} ({days or f'{start:%b %d %H:%M} – {end:%b %d %H:%M}'})"


def _lines(ax, answer: Answer) -> str:
    """Draw the time series; returns a note when some series were left out."""
    series, total = _series(answer)
    colors: dict[str, str] = {}  # one color per group; a comparison's previous period is its dashed, grey twin
    for name, points in series.items():
        xs, ys = zip(*points, strict=True)
        previous = name.endswith("previous")
        group = name.removesuffix("previous").removesuffix("current").removesuffix(" · ")
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
            label=label(_dated(answer, name)) if name else None,
        )
    _date_axis(ax, 8)
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
        labels = [label(g or "(all)") for g in groups]
        ax.barh(
            [y + 0.2 for y in ys],
            [current[g] for g in groups],
            height=0.4,
            color=_PALETTE[0],
            label=_dated(answer, "current"),
        )
        ax.barh(
            [y - 0.2 for y in ys],
            [previous.get(g, 0) for g in groups],
            height=0.4,
            color="#9ca3af",
            label=_dated(answer, "previous"),
        )
        ax.set_yticks(list(ys), labels)
        ax.legend(fontsize=8, frameon=False)
        total, shown, largest = len(current), len(groups), max([*current.values(), *previous.values(), 0])
    else:
        rows = values[:MAX_BARS]  # in the answer's order (answer.arrange: largest first, or smallest for bottom N)
        rows.reverse()  # barh draws bottom-up; keep the first row on top
        # positions, not the names, on the axis: two names elided alike stay two bars
        ax.barh(range(len(rows)), [r.value for r in rows], color=_PALETTE[0])
        ax.set_yticks(range(len(rows)), [label(r.group or "(none)") for r in rows])
        total, shown, largest = len(values), len(rows), max((r.value for r in rows), default=0)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
    _thousands(ax.xaxis, largest)
    return f"showing the {shown} largest of {total} groups" if total > shown else ""


def _date_axis(ax, ticks: int) -> None:
    """Local dates on the x axis, each tick readable alone ('Nov 22', '04:00', 'Dec'), with no offset label: the
    concise formatter's offset names the last tick's date, which read as '2026-Dec' under November ticks."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    # minticks 3: with the default 5, a range of four days asks for hourly ticks no interval fits (a warning)
    locator = AutoDateLocator(minticks=3, maxticks=ticks)
    formats = ["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%S.%f"]
    zero_formats = ["", "%b %Y", "%b %d", "%b %d", "%H:%M", "%H:%M"]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(
        ConciseDateFormatter(locator, formats=formats, zero_formats=zero_formats, show_offset=False)
    )


def _thousands(axis, largest: float) -> None:
    """Show large values as 12,000 rather than 12000 (small ones keep matplotlib's decimals)."""
    if largest >= 1000:
        from matplotlib.ticker import StrMethodFormatter

        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def incident_png(series: dict[str, Any]) -> bytes | None:
    """A monitor's series around an incident as a PNG: the line, the incident's window shaded, the unit on the
    y axis. `series` is JSON: title, unit, points [[iso instant, value|None], ...], window [start, end], and
    optionally typical (a dashed line: the threshold or the baseline's median) with its typical_label."""
    if sum(v is not None for _, v in series["points"]) < 2:
        return None
    with _LOCK:
        fig = incident_figure(series)
        out = io.BytesIO()
        fig.savefig(out, format="png", facecolor="white")
        return out.getvalue()


def incident_figure(series: dict[str, Any]):
    """The Figure of incident_png (callers hold _LOCK while drawing)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = [(datetime.fromisoformat(t.replace("Z", "")), v) for t, v in series["points"] if v is not None]
    fig = Figure(figsize=(8.0, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([p[0] for p in points], [p[1] for p in points], color=_PALETTE[0], linewidth=1.6)
    start, end = (datetime.fromisoformat(t.replace("Z", "")) for t in series["window"])
    ax.axvspan(start, end, color=_PALETTE[1], alpha=0.15, label="incident")
    if series.get("typical") is not None:
        ax.axhline(series["typical"], color="#6b7280", linestyle="--", linewidth=1, label=series["typical_label"])
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_title(label(series["title"], TITLE_LIMIT), fontsize=10, loc="left")
    ax.set_ylabel(label(series["unit"]) if series.get("unit") else "", fontsize=8)
    ax.set_xlabel("UTC", fontsize=8)
    _date_axis(ax, len(points))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
