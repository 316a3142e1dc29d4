"""Monitors (what `heliqa watch` evaluates): the pydantic model, the TOML file they are declared in, the default set.

A monitor has what Helicone's alerts have — a measure, an aggregation, filters, an evaluation window, a minimum
request count and channels — and a kind: `threshold` (above or below a value, in the measure's unit: ms, USD,
percent, tokens, requests, score points) or `anomaly` (the default when no value is given: the value over the
last hour departs from its own 7-day baseline by the explanation detector's rule, nothing to tune). `by` splits a
monitor into one series per value of a dimension.

```toml
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
```
"""

from __future__ import annotations

import re
import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from heliqa.tools.errors import ConfigError
from heliqa.tools.filters import all_of, any_of, leaf
from heliqa.tools.query import MetricsQuery, TimeFilter
from heliqa.tools.results import Vocabulary, money
from heliqa.tools.zones import display_zone

_STRICT = ConfigDict(extra="forbid", frozen=True)
WatchMeasure = Literal[
    "latency", "ttft", "cost", "prompt_tokens", "completion_tokens", "total_tokens", "requests", "errors", "score"
]
DEFAULT_AGGREGATION = {"latency": "p90", "ttft": "p90", "errors": "rate", "requests": "count", "score": "avg"}
DIMENSIONS = ("model", "provider", "user", "status", "country")
ANOMALY_WINDOW = timedelta(hours=1)  # the detector's hourly buckets
_AGG = re.compile(r"^(sum|avg|min|max|count|rate|p(\d{1,2}(\.\d+)?|100))$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_QUIET = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_NAME = re.compile(r"^\w[\w .:/%()+-]{0,62}$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("a name is 1-63 letters, digits, spaces or . : / % ( ) + - _ (a letter or digit first)")
    return value


def _check_filters(value: dict) -> dict:
    for key in value:
        if key not in DIMENSIONS and not (key.startswith("property.") and len(key) > 9):
            raise ValueError(f"cannot filter on '{key}'; use {', '.join(DIMENSIONS)} or property.<key>")
    return value


# A monitor's or a digest's name: what posts, mutes and the state refer to
Name = Annotated[str, AfterValidator(_check_name)]

# The filters of a monitor or a digest: a dimension (or property.<key>) -> a value or a list of values (any of them)
Filters = Annotated[
    dict[str, str | int | list[str | int]],
    AfterValidator(_check_filters),
    Field(description="model, provider, user, status, country, property.<key>: a value or a list"),
]


def duration(text: str) -> timedelta:
    """`90m`, `1h`, `1h30m`, `2d` (whole minutes) -> timedelta; ValueError otherwise."""
    match = _DURATION.match(text.replace(" ", "").lower())
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration in whole minutes (e.g. 15m, 1h, 1h30m, 1d)")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes)
    if span <= timedelta(0):
        raise ValueError(f"{text!r} is not a positive duration")
    return span


def duration_text(span: timedelta) -> str:
    """timedelta -> `1h30m`, `2d`, `45m`."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{mins}m" if mins else "")
    return text or "0m"


class Monitor(BaseModel):
    """One watched measure: a threshold (`above`/`below`) or, with neither, an anomaly against its baseline."""

    model_config = _STRICT
    name: Name = Field(description="unique; what posts, mutes and `heliqa watch mute NAME` refer to")
    measure: WatchMeasure
    aggregation: str | None = Field(None, description="sum, avg, min, max, count, rate (errors) or pNN")
    score_key: str | None = Field(None, description="for measure = score")
    filters: Filters = {}
    by: str | None = Field(
        None, description="one series per value: model, provider, user, status, country, property.<key>"
    )
    window: str = Field("1h", description="the span each evaluation measures, ending at the evaluation instant")
    min_requests: int = Field(10, ge=0, description="a window with fewer requests is not judged")
    above: float | None = None
    below: float | None = None
    channels: tuple[str, ...] = ()
    cooldown: str = Field("1h", description="a series firing again this soon after resolving continues its incident")

    @field_validator("aggregation")
    @classmethod
    def _aggregation(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip().lower()
        if not _AGG.match(text):
            raise ValueError(f"'{value}' is not an aggregation; use sum, avg, min, max, count, rate or pNN (p95)")
        return text

    @field_validator("window", "cooldown")
    @classmethod
    def _duration(cls, value: str) -> str:
        span = duration(value)
        if span > timedelta(days=1):
            raise ValueError("at most 1d")
        return value

    @field_validator("by")
    @classmethod
    def _by(cls, value: str | None) -> str | None:
        if value is None or value in DIMENSIONS or (value.startswith("property.") and len(value) > 9):
            return value
        raise ValueError(f"'{value}' is not a dimension; use one of {', '.join(DIMENSIONS)} or property.<key>")

    @model_validator(mode="after")
    def _consistent(self) -> Monitor:
        agg = self.agg
        if (self.measure == "score") != (self.score_key is not None):
            raise ValueError("score_key is needed for measure = score, and only there")
        if agg == "rate" and self.measure != "errors":
            raise ValueError("aggregation rate applies to errors only (the share of failed requests)")
        if self.measure in ("errors", "requests") and agg not in ("rate", "count"):
            raise ValueError(f"{self.measure} is counted: aggregation count{' or rate' * (self.measure == 'errors')}")
        if self.above is not None and self.below is not None:
            raise ValueError("give above or below, not both")
        if self.kind == "anomaly" and duration(self.window) != ANOMALY_WINDOW:
            raise ValueError("an anomaly monitor compares hourly values with its baseline: window must be 1h")
        return self

    @property
    def agg(self) -> str:
        """The aggregation in force."""
        return self.aggregation or DEFAULT_AGGREGATION.get(self.measure, "sum")

    @property
    def kind(self) -> Literal["threshold", "anomaly"]:
        """`threshold` when a value is given, else `anomaly`."""
        return "anomaly" if self.above is None and self.below is None else "threshold"

    @property
    def span(self) -> timedelta:
        """The evaluation window."""
        return duration(self.window)

    @property
    def cooldown_span(self) -> timedelta:
        """The cool-down after a resolution."""
        return duration(self.cooldown)

    @property
    def up(self) -> bool:
        """Whether breaking means rising (a score breaks by falling; a `below` threshold too)."""
        if self.kind == "threshold":
            return self.above is not None
        return self.measure != "score"

    def series_filters(self, group: str | None = None) -> list[tuple[str, Any]]:
        """The monitor's filters and, for one series of a split, (its `by`, the series' value)."""
        return list(self.filters.items()) + ([(self.by, group)] if self.by and group is not None else [])

    def filter_node(self, group: str | None = None) -> Any:
        """The monitor's filters (and, for one series of a split, its value) as a Helicone filter node."""
        items = self.series_filters(group)
        return all_of([_condition(key, value) for key, value in items]) if items else "all"

    def query(self, start: str, end: str, bucket: str | None, tzd: int, count: bool = False) -> MetricsQuery:
        """The extended query of this monitor's value (or, with `count`, its request count) per series."""
        measure, agg, where = self.measure, self.agg, self.filter_node()
        if count and measure == "score":  # the requests that carry the key are the ones averaged
            where = all_of(
                [where, any_of([leaf("scores", op, "0", key=self.score_key) for op in ("equals", "not-equals")])]
            )
        if count or measure == "requests":
            measure, agg = "requests", None
        elif measure == "errors":
            measure, agg = ("error_rate" if agg == "rate" else "errors"), None
        return MetricsQuery(
            measure=measure,
            aggregation=agg,
            scoreKey=self.score_key if measure == "score" else None,
            groupBy=_group_by(self.by),
            timeFilter=TimeFilter(start=start, end=end),
            userFilter=where,
            dbIncrement=bucket,
            timeZoneDifference=tzd,
        )

    def describe(self) -> str:
        """'p95 latency (model = gpt-4) above 5,000 ms', 'error rate by provider (anomaly)'."""
        words = measure_words(self)
        scope = ", ".join(f"{k.removeprefix('property.')} = {_listed(v)}" for k, v in self.filters.items())
        text = (
            words + (f" ({scope})" if scope else "") + (f" by {self.by.removeprefix('property.')}" if self.by else "")
        )
        if self.kind == "anomaly":
            return text + " (anomaly vs its 7-day baseline)"
        value = self.above if self.above is not None else self.below
        return f"{text} {'above' if self.above is not None else 'below'} {format_value(self, value)} over {self.window}"


def filter_words(filters: dict[str, Any]) -> str:
    """'model = gpt-4, feature = a | b' ('' without filters)."""
    return ", ".join(f"{k.removeprefix('property.')} = {_listed(v)}" for k, v in filters.items())


def _listed(value: Any) -> str:
    return " | ".join(map(str, value)) if isinstance(value, list) else str(value)


def _group_by(by: str | None) -> str | None:
    return f"property:{by.split('.', 1)[1]}" if by and by.startswith("property.") else by


_FIELDS = {"model": "model", "provider": "provider", "user": "user_id", "status": "status", "country": "country_code"}


def _condition(key: str, value: Any) -> Any:
    if isinstance(value, list):
        return any_of([_condition(key, v) for v in value])
    if key.startswith("property."):
        return leaf("properties", "equals", str(value), key=key.split(".", 1)[1])
    if key == "status":
        return leaf("status", "equals", int(value))
    return leaf(_FIELDS[key], "equals", str(value).upper() if key == "provider" else str(value))


def measure_words(m: Monitor) -> str:
    """'p90 latency', 'error rate', 'score accuracy', 'cost', 'avg total tokens'."""
    if m.measure == "errors":
        return "error rate" if m.agg == "rate" else "failed requests"
    if m.measure == "requests":
        return "requests"
    if m.measure == "score":
        return f"score {m.score_key}" + ("" if m.agg == "avg" else f" ({m.agg})")
    name = {"ttft": "time to first token", "total_tokens": "total tokens"}.get(m.measure, m.measure.replace("_", " "))
    if m.measure == "cost" and m.agg == "sum":
        return "cost"
    return f"{m.agg} {name}"


def format_value(m: Monitor, value: float | None) -> str:
    """A value in the measure's unit: '4,512 ms', '$12.30', '3.1%', '1,204 tokens', '82.5'."""
    if value is None:
        return "–"
    if m.measure in ("latency", "ttft") and m.agg != "count":
        return f"{value:,.0f} ms"
    if m.measure == "cost" and m.agg != "count":
        return money(value)
    if m.measure == "errors" and m.agg == "rate":
        return f"{value:.1f}%"
    if m.measure in ("requests", "errors") or m.agg == "count":
        return f"{value:,.0f} requests"
    if m.measure.endswith("tokens"):
        return f"{value:,.0f} tokens"
    return f"{value:,.2f}"


class Channel(BaseModel):
    """Per-channel delivery: quiet hours (posts held until they end) in a time zone."""

    model_config = _STRICT
    quiet_hours: str | None = Field(None, description="HH:MM-HH:MM, may wrap midnight")
    tz: str = "UTC"

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _QUIET.match(value.strip())
        if not match or int(match[1]) > 23 or int(match[3]) > 23 or int(match[2]) > 59 or int(match[4]) > 59:
            raise ValueError(f"'{value}' is not HH:MM-HH:MM (e.g. 22:00-07:00)")
        return value

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Berlin)") from None
        return display_zone(value)

    def quiet(self) -> tuple[time, time] | None:
        """(start, end) local times of the quiet hours, or None."""
        if not self.quiet_hours:
            return None
        a, b = self.quiet_hours.split("-")
        return time.fromisoformat(a.strip().zfill(5)), time.fromisoformat(b.strip().zfill(5))


class Digest(BaseModel):
    """A summary posted to one channel every day or week at a local time: the period's totals against the period
    before, the biggest changes by model and provider, and the incidents of the period."""

    model_config = _STRICT
    channel: str = Field(min_length=1, description="the Slack channel it is posted to")
    every: Literal["daily", "weekly"]
    at: str = Field("09:00", description="HH:MM in the channel's zone: the period ends, and the post goes out, then")
    weekday: str | None = Field(None, description="weekly: the day of the post (default monday)")
    name: Name | None = Field(None, description="tells two digests of one channel apart")
    filters: Filters = {}

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        match = _CLOCK.match(value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"'{value}' is not a local time HH:MM (e.g. 09:00)")
        return value

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip().lower()
        full = [day for day in WEEKDAYS if len(text) >= 3 and day.startswith(text)]
        if not full:
            raise ValueError(f"'{value}' is not a weekday; use monday ... sunday")
        return full[0]

    @model_validator(mode="after")
    def _weekly(self) -> Digest:
        if self.weekday is not None and self.every != "weekly":
            raise ValueError("weekday applies to a weekly digest only")  # names no other key: its line is found
        return self

    @property
    def key(self) -> str:
        """What the watch state records its last period under: how often, where, and its name."""
        return f"{self.every}|{self.channel}|{self.name or ''}"

    @property
    def clock(self) -> time:
        """The local time of day the period ends."""
        return time.fromisoformat(self.at.strip().zfill(5))

    @property
    def day(self) -> int:
        """The weekday of a weekly digest (Monday = 0)."""
        return WEEKDAYS.index(self.weekday or "monday")

    def describe(self, tz: str) -> str:
        """'every day at 09:00 Europe/Berlin', 'every Monday at 08:30 UTC (model = gpt-4)'."""
        when = "every day" if self.every == "daily" else f"every {WEEKDAYS[self.day].capitalize()}"
        scope = filter_words(self.filters)
        return f"{when} at {self.clock:%H:%M} {tz}" + (f" ({scope})" if scope else "")


def digest_labels(digests: list[Digest]) -> list[str]:
    """What the watch commands call each digest: its name, else how often it posts when no other digest posts as
    often nor is named so (`daily`), else how often and where (`daily C0123456`)."""
    names = {d.name.lower() for d in digests if d.name}
    out = []
    for d in digests:
        alone = sum(e.every == d.every for e in digests) == 1 and d.every not in names
        out.append(d.name or (d.every if alone else f"{d.every} {d.channel}"))
    return out


class Defaults(BaseModel):
    """Values every monitor takes unless it sets its own."""

    model_config = _STRICT
    channels: tuple[str, ...] = ()


class MonitorsFile(BaseModel):
    """A monitors file: defaults, channels and the monitors."""

    model_config = _STRICT
    defaults: Defaults = Defaults()
    channel: dict[str, Channel] = Field(default_factory=dict)
    monitor: list[Monitor] = Field(default_factory=list)
    digest: list[Digest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> MonitorsFile:
        seen: set[str] = set()
        for m in self.monitor:
            if m.name in seen:
                raise ValueError(f"two monitors are named '{m.name}'")
            seen.add(m.name)
        return self

    def monitors(self) -> list[Monitor]:
        """The monitors, each with the default channels when it names none."""
        return [m if m.channels else m.model_copy(update={"channels": self.defaults.channels}) for m in self.monitor]

    def clashes(self) -> list[tuple[tuple, str]]:
        """(location, mistake) of each digest posting as often to the same channel as an earlier one, unnamed."""
        seen: set[str] = set()
        out = []
        for i, d in enumerate(self.digest):
            if d.key in seen:
                where = "name" if d.name else "channel"
                out.append((("digest", i, where), f"another {d.every} digest posts to {d.channel}: name them apart"))
            seen.add(d.key)
        return out


def check_text(text: str) -> tuple[MonitorsFile | None, list[str]]:
    """Parse and validate a monitors file's text: (the file, []) or (None, every mistake with its line)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        return None, [f"not TOML: {error}"]
    try:
        parsed = MonitorsFile.model_validate(data)
    except ValidationError as error:
        found = []
        for item in error.errors():
            message = item["msg"].removeprefix("Value error, ")
            found.append((tuple(item["loc"]), "unknown field" if item["type"] == "extra_forbidden" else message))
        return None, [_located(text, loc, message) for loc, message in found]
    problems = [_located(text, loc, message) for loc, message in parsed.clashes()]
    return (None, problems) if problems else (parsed, [])


def _located(text: str, loc: tuple, message: str) -> str:
    """'line 14: monitor.1.aggregation: <the mistake>' (without the line when it cannot be told)."""
    where = _line_of(text, loc, message)
    path = ".".join(str(p) for p in loc) or "file"
    return f"line {where}: {path}: {message}" if where else f"{path}: {message}"


def _line_of(text: str, loc: tuple, message: str = "") -> int | None:
    """The line a validation error's location points at: its table (`[[monitor]]` or `[[digest]]` by index,
    `[channel.ID]`, `[defaults]`), then the key's line inside it (for a mistake between keys, the first key the
    message names)."""
    lines = text.splitlines()
    if not loc or loc[0] not in ("monitor", "digest", "channel", "defaults"):
        return None
    if loc[0] in ("monitor", "digest"):
        header = rf"\[\[\s*{loc[0]}\s*\]\]"
        index, key = loc[1] if len(loc) > 1 else 0, loc[2] if len(loc) > 2 else None
    elif loc[0] == "channel":
        name = re.escape(str(loc[1])) if len(loc) > 1 else ""
        header, index, key = rf"\[\s*channel\.\"?{name}\"?\s*\]", 0, loc[2] if len(loc) > 2 else None
    else:
        header, index, key = r"\[\s*defaults\s*\]", 0, loc[1] if len(loc) > 1 else None
    starts = [i for i, line in enumerate(lines) if re.match(rf"^\s*{header}", line)]
    if not isinstance(index, int) or index >= len(starts):
        return None
    start = starts[index]
    later = [i for i in range(start + 1, len(lines)) if re.match(r"^\s*\[", lines[i])]
    for i in range(start, later[0] if later else len(lines)):
        found = re.match(r"^\s*\"?([\w.-]+)\"?\s*=", lines[i])
        if found and (found[1] == key or (key is None and re.search(rf"\b{re.escape(found[1])}\b", message))):
            return i + 1
    return start + 1


def load(path: str | Path) -> MonitorsFile:
    """Read a monitors file; ConfigError listing every mistake with its line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"cannot read the monitors file {path}: {getattr(error, 'strerror', None) or error}"
        ) from None
    parsed, problems = check_text(text)
    if parsed is None:
        raise ConfigError(f"{path} has {len(problems)} mistake(s):\n  " + "\n  ".join(problems))
    return parsed


# A property key splits the default score monitors when it has at most this many values (a feature, a version, a
# deployment: where a score drop lives) and is set on at least this share of requests; at most this many keys.
SPLIT_VALUES, SPLIT_SHARE, SPLIT_KEYS = 12, 0.1, 4


def split_properties(vocab: Vocabulary) -> list[str]:
    """The organization's low-cardinality property keys, most used first (the default score monitors split by them)."""
    total = max(sum(vocab.models.values()), 1)
    keys = [
        (sum(values.values()), key)
        for key, values in vocab.properties.items()
        if 2 <= len(values) <= SPLIT_VALUES and sum(values.values()) >= SPLIT_SHARE * total
    ]
    return [f"property.{key}" for _, key in sorted(keys, key=lambda kv: (-kv[0], kv[1]))[:SPLIT_KEYS]]


def _split_name(by: str) -> str:
    # a property key is named bare unless it is also a dimension's name (a property called "model")
    key = by.removeprefix("property.")
    return by if key in DIMENSIONS else key


def default_monitors(vocab: Vocabulary, channels: tuple[str, ...] = ()) -> list[Monitor]:
    """The out-of-the-box anomaly monitors: p90 latency, error rate, cost and each score key, overall and by model
    and by provider; each score key also by each low-cardinality property key (`split_properties`)."""
    bases: list[dict[str, Any]] = [
        {"name": "latency", "measure": "latency"},
        {"name": "errors", "measure": "errors"},
        {"name": "cost", "measure": "cost"},
    ]
    bases += [{"name": f"score {key}", "measure": "score", "score_key": key} for key in sorted(vocab.score_keys)]
    properties = split_properties(vocab)
    out = []
    for base in bases:
        splits = [None, "model", "provider"] + (properties if base["measure"] == "score" else [])
        for by in splits:
            name = base["name"] + (f" by {_split_name(by)}" if by else "")
            # a score's spread is its requests' standard error and an error rate's failures are counted: those judge
            # a window from 5 requests, as the explanations judge a bucket; a p90 of under 10 requests is their
            # slowest one or two (judged from 5, it added false alarms on thin models and found no more incidents)
            least = {"min_requests": 5} if base["measure"] in ("score", "errors") else {}
            out.append(Monitor(**{**base, "name": name, "by": by, "channels": channels, **least}))
    return out
