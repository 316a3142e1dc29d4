"""A monitor said in plain words: "p95 latency for gpt-4 over 1h above 5 s with at least 50 requests".

The threshold ("above 5 s", "below 80") and the minimum ("with at least 50 requests") are read here; the rest is
an ordinary question for the planner, whose spec gives the measure, aggregation, filters, split ("by model") and,
from its time range ("over 1h"), the evaluation window.
"""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from pydantic import ValidationError

from heliqa.agent.planner import Context, Planner
from heliqa.agent.spec import QuerySpec
from heliqa.tools.monitors import DIMENSIONS, Monitor, WatchMeasure

_TIME_WORD = r"(?!\s*(?:h|hr|hrs|hours?|d|days?|w|weeks?|min|mins|minutes?)\b)"
_THRESHOLD = re.compile(
    r"\b(above|over|exceeds?|more than|greater than|below|under|less than|falls? below|drops? below)\s+"
    rf"(\$)?(\d[\d,]*(?:\.\d+)?){_TIME_WORD}\s*(ms|milliseconds?|s|secs?|seconds?|%|percent|usd|dollars?)?\b",
    re.IGNORECASE,
)
_MINIMUM = re.compile(r"\b(?:with\s+)?(?:at least|min(?:imum)?(?: of)?)\s+(\d[\d,]*)\s+requests?\b", re.IGNORECASE)
_WINDOW_UNITS = {"minutes": "m", "hours": "h", "days": "d"}
_MEASURES = {  # the planner's measure -> (monitor measure, aggregation)
    "error_rate": ("errors", "rate"),
    "errors": ("errors", "count"),
    "requests": ("requests", None),
}


class NotAMonitor(ValueError):
    """The words do not make a monitor; the message says why and how to say it."""


def _threshold(text: str, measure: str) -> tuple[str, dict[str, Any]]:
    """The text without its threshold, and `{"above": v}` / `{"below": v}` in the measure's unit."""
    found = list(_THRESHOLD.finditer(text))
    if not found:
        return text, {}
    if len(found) > 1:
        said = ", ".join(f"“{m[0]}”" for m in found)
        raise NotAMonitor(f"two thresholds ({said}): say one, e.g. “p90 latency above 5 s”")
    match = found[0]
    side = "below" if match[1].lower() in ("below", "under", "less than") or "below" in match[1].lower() else "above"
    value = float(match[3].replace(",", ""))
    unit = (match[4] or "").lower()
    if measure in ("latency", "ttft") and unit in ("s", "sec", "secs", "second", "seconds"):
        value *= 1000
    return (text[: match.start()] + text[match.end() :]).strip(), {side: value}


def _filters(spec: QuerySpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in spec.conditions:
        key = c.field.replace("property:", "property.", 1)
        if (key not in DIMENSIONS and not key.startswith("property.")) or c.op not in ("equals", "in"):
            raise NotAMonitor(
                f"a monitor filters by equality on {', '.join(DIMENSIONS)} or a property, not “{c.describe()}”"
            )
        out[key] = c.value
    return out


def _name(text: str) -> str:
    """The words as a monitor name: the characters names allow, at most 63, cut at a word."""
    name = " ".join(re.sub(r"[^\w .:/%()+-]", " ", text).split())
    if len(name) > 63:
        name = name[:64].rsplit(" ", 1)[0]
    return name or "monitor"


def monitor_from_words(text: str, planner: Planner, ctx: Context, name: str | None = None) -> Monitor:
    """The monitor the words describe (NotAMonitor with the reason otherwise)."""
    rest = text.strip()
    minimum = _MINIMUM.search(rest)
    if minimum:
        rest = (rest[: minimum.start()] + rest[minimum.end() :]).strip()
    probe = planner.plan(_THRESHOLD.sub(" ", rest), ctx)
    if probe.status != "ok" or not isinstance(probe.spec, QuerySpec):
        raise NotAMonitor(probe.message or f"I could not read a measure in “{text}”")
    rest, threshold = _threshold(rest, probe.spec.measure)
    spec = probe.spec
    measure, aggregation = _MEASURES.get(spec.measure, (spec.measure, spec.aggregation))
    if spec.measure not in _MEASURES and spec.measure not in get_args(WatchMeasure):
        raise NotAMonitor(
            f"{spec.measure} cannot be watched; watch latency, ttft, cost, tokens, requests, errors or a score"
        )
    window = "1h"
    if spec.range is not None and getattr(spec.range, "kind", None) == "last" and spec.range.unit in _WINDOW_UNITS:
        window = f"{spec.range.n}{_WINDOW_UNITS[spec.range.unit]}"
    fields: dict[str, Any] = {
        "name": name or _name(text),
        "measure": measure,
        "aggregation": aggregation,
        "score_key": spec.scoreKey if measure == "score" else None,
        "filters": _filters(spec),
        "by": spec.groupBy.replace("property:", "property.", 1) if spec.groupBy else None,
        "window": window,
        **threshold,
    }
    if minimum:
        fields["min_requests"] = int(minimum[1].replace(",", ""))
    try:
        return Monitor(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as error:
        raise NotAMonitor("; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())) from None


def to_toml(m: Monitor) -> str:
    """The monitor as a `[[monitor]]` table of a monitors file."""
    lines = ["[[monitor]]"]
    for key, value in m.model_dump(exclude_defaults=True).items():
        if isinstance(value, dict):
            inner = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        else:
            lines.append(f"{key} = {json.dumps(list(value) if isinstance(value, tuple) else value)}")
    return "\n".join(lines) + "\n"
