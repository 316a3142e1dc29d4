"""A monitor said in plain words: "alert me if gpt-4 p95 latency goes above 5s over 15m, min 20 requests".

The monitor's own parts are read here, each by one rule of `_RULES`: the lead-in ("alert me if", "watch"), the
minimum ("with at least 50 requests"), the threshold with its unit ("above 5 s", "> 5%", "exceeds $20 an hour"),
the window ("over 15m", "in a 15 minute window", "per hour", "daily") and the anomaly words ("spikes", "unusual").
What is left is an ordinary question for the planner, whose spec gives the measure, aggregation, filters and split
("by model"). Anything a monitor cannot hold — a change against the past ("up 50%", "compared to last week"), a
calendar range ("today"), a top N, a filter other than equality, a unit that is not the measure's, a bare number
whose unit cannot be told — is asked back, naming it: never watched as some other monitor.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, get_args

from pydantic import ValidationError

from heliqa.agent.grounding import ground
from heliqa.agent.orgwords import spell_out_numbers
from heliqa.agent.planner import Context, Planner
from heliqa.agent.spec import QuerySpec
from heliqa.tools.errors import Clarify
from heliqa.tools.monitors import ANOMALY_WINDOW, DIMENSIONS, Monitor, WatchMeasure, duration, duration_text
from heliqa.tools.results import iso_z

_MEASURES = {  # the planner's measure -> (monitor measure, aggregation)
    "error_rate": ("errors", "rate"),
    "errors": ("errors", "count"),
    "requests": ("requests", None),
}
EXAMPLES = (
    "“p95 latency for MODEL above 5 s over 15m”, “error rate above 5% with at least 20 requests”, "
    "“cost above $20 an hour”, “error rate by provider” (no value: an anomaly against its own baseline)"
)
_UNITS = "m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?"
_UNIT_SPANS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(days=7)}
_LEAD = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?"
    r"(?:(?:alert|page|notify|ping|warn|tell|message|email)(?:\s+(?:me|us|on-?call|the team))?"
    r"|let\s+(?:me|us)\s+know|keep an eye on|watch(?:\s+out)?|monitor|track)"
    r"(?:\s+(?:if|when|whenever|once|on|about|for|of)\b)?[\s:,]*",
    re.IGNORECASE,
)
_NOT_A_TIME = r"(?!\s*(?:(?-i:m)|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)(?![\w-]))"
_THRESHOLD = re.compile(
    r"(?:\b(?:goes|go|gets|get|is|are|rises?|climbs?|spikes?|jumps?|stays?|remains?|falls?|drops?|dips?|sinks?|"
    r"creeps?|grows?|hits?)\s+)?"
    r"(?P<cmp>>=|=>|≥|>|<=|=<|≤|<|\b(?:above|over|exceeds?|exceeding|(?:more|greater|higher|larger|bigger) than"
    r"(?: or equal to)?|greater or equal to|at least|no less than|hits|hit|reaches|reach|beyond|past|crosses|tops|"
    r"below|under|at most|"
    r"no more than|(?:less|lower|fewer|smaller) than(?: or equal to)?))"
    r"\s*(?P<cur>\$)?\s*(?P<num>\d[\d,]*(?:\.\d+)?|\.\d+)(?!\d|\.\d)"
    + _NOT_A_TIME
    + r"(?:\s*(?P<mult>k|thousand|(?-i:M)|mm|mil|million)(?![\w-]))?"
    r"(?:\s*(?P<unit>ms|msecs?|milliseconds?|s|secs?|seconds?|%|percent|pct|usd|dollars?|cents?|¢|requests?|"
    r"reqs?|calls?|errors?|failures?|tokens?|points?|pts)(?![\w-]))?",
    re.IGNORECASE,
)
_FALLING = ("below", "under", "at most", "no more than", "less", "lower", "fewer", "smaller", "<", "<=", "=<", "≤")
_MINIMUM = re.compile(
    r"[\s,;(]*\b(?:(?P<with>with|having|if there are|when there are|given|for)\s+)?"
    r"(?:(?P<least>at least|min(?:imum)?(?: of)?|no fewer than|not less than|>=|≥)\s*(?P<n>\d[\d,]*)\+?"
    r"|(?P<more>more than|over)\s+(?P<m>\d[\d,]*)|(?P<plus>\d[\d,]*)\+)\s*(?:requests?|reqs?|calls?|samples?)\b\)?"
    r"|[\s,;(]*\bmin[_ ]?requests?\s*[=:]?\s*(?P<k>\d[\d,]*)\)?"
    r"|[\s,;(]*\bignor(?:e|ing)\s+(?:windows?\s+|hours?\s+)?(?:with\s+)?(?:fewer|less)\s+than\s+(?P<f>\d[\d,]*)\s+"
    r"requests?\b\)?",
    re.IGNORECASE,
)
_WINDOW = re.compile(
    r"\b(?:over|in|within|during|for|across|on|per|every|each)\s+(?:(?:more than|at least|longer than|over)\s+)?"
    rf"(?:the\s+)?(?:(?P<last>last|past|previous|trailing|rolling)\s+)?(?:(?P<n>\d+|an?|one)\s*-?\s*)?(?P<u>{_UNITS})\b"
    r"(?:\s+(?:window|period|span))?"
    rf"|\b(?:(?:in|over|with|on)\s+)?(?:an?\s+|the\s+)?(?P<wn>\d+|one)?\s*-?\s*(?P<wu>{_UNITS})\s+(?:window|period)\b"
    r"|(?<![\w.$])(?P<cn>\d+)(?P<cu>(?-i:m)|h|d|mins?|hrs?)\b",  # a bare "15m", "1h": a window
    re.IGNORECASE,
)
_RATE = re.compile(
    r"(?:\b(?:per|an?|each|every)\s+|/\s*)(?P<u>minute|min|hour|hr|h|day|d)\b|\b(?P<adj>hourly|daily)\b",
    re.IGNORECASE,
)
_CHANGE = re.compile(
    r"\b(?:(?:goes|went)\s+(?:up|down)|up|down|increases?|increased|decreases?|decreased|rises?|grows?|jumps?|"
    r"drops?|falls?|changes?|moves?)\s+(?:by\s+)?(?:more than\s+|over\s+|at least\s+)?\d+(?:\.\d+)?\s*"
    r"(?:%|percent|x\b|times\b|points?\b)"
    r"|\b\d+(?:\.\d+)?\s*(?:x|times)\s+(?:higher|more|larger|slower|faster|lower|the)\b"
    r"|\b(?:doubles?|doubled|triples?|tripled|halves|halved)\b"
    r"|\b(?:compared (?:to|with)|vs\.?|versus|week over week|day over day|wow|dod)\b"
    r"|\bthan\s+(?:last|yesterday|the previous|the day before|the week before)\b",
    re.IGNORECASE,
)
_USUAL = re.compile(
    r"\b(?P<way>higher|more|larger|slower|worse|greater|above|lower|fewer|less|smaller|faster|better|below)\s+"
    r"(?:than\s+)?(?:usual|normal|typical|expected|(?:its\s+)?baseline)\b",
    re.IGNORECASE,
)
_ANOMALY = re.compile(
    r"\b(?:(?:an?\s+)?anomal(?:y|ies|ous)(?:\s+detection)?|unusual(?:ly)?|abnormal(?:ly)?|weird|odd)"
    r"(?:\s+(?:on|in|of|for))?\b",
    re.IGNORECASE,
)
_RISING = re.compile(
    r"\b(?:spikes?|spiking|surges?|surging|increases?|increasing|rises?|rising|climbs?|climbing|jumps?|"
    r"goes up|going up|blows? up|regress(?:es|ions?)?)\b(?:\s+(?:on|in|of|for))?",
    re.IGNORECASE,
)
_FALLING_WORDS = re.compile(
    r"\b(?:drops?|dropping|dips?|falls?|falling|declines?|declining|decreases?|decreasing|goes down|going down|"
    r"sinks?|tanks?)\b(?:\s+(?:on|in|of|for))?",
    re.IGNORECASE,
)
_NONE = re.compile(r"\b(?:there (?:are|is) )?(?:no|zero)\s+(requests?|traffic|calls)\b", re.IGNORECASE)
_TO_ZERO = re.compile(r"\b(?:goes|go|drops?|falls?|gets?)\s+to\s+(?:zero|0)\b|\bstops?\b", re.IGNORECASE)
_EACH = re.compile(
    r"\b(?:for|across|over)\s+(?:each|every|all)\s+|\bany\s+(?=(?:model|provider|user|country|status)"
    r"(?:'s|s)?\b)|\b(?:split|broken down|grouped)\s+by\s+",
    re.I,
)
_RPM = re.compile(r"\b(?:rpm|requests?/min(?:ute)?)\b", re.IGNORECASE)
_PER_SECOND = re.compile(r"\b(?:rps|qps|(?:per|a|/)\s*sec(?:ond)?)\b", re.IGNORECASE)
_STATUS_SHARE = re.compile(
    r"\b(?:[1-5]xx|[1-5]\d\d)s?\s+(?:rate|ratio|share|percentage)\b|\b(?:rate|share|percentage|ratio)\s+of\s+"
    r"(?:[1-5]xx|[1-5]\d\d)s?\b",
    re.IGNORECASE,
)


# where the posts go: a Slack channel link (`<#C0123ABCD|oncall>`, as Slack writes a picked channel), a channel id
# after a word that says so ("to C0123ABCD"), or a channel's name ("#oncall"), with the words that lead to it
_CHANNEL = re.compile(
    r"[\s,;]*(?:\b(?:and|then)\s+)?(?:\b(?:notify|alert|ping|page|tell|message|post|send|report|share|route)"
    r"(?:\s+(?:it|them|this|that|us|me|the team))?\s+)?(?:\b(?:to|in|into|on|at|via)\s+(?:the\s+)?)?"
    r"(?:<#(?P<id>[CG][A-Z0-9]{2,})(?:\|[^>]*)?>|#(?P<name>[a-z][a-z0-9._-]*)"
    r"|(?<=\s)(?P<bare>(?-i:[CG][A-Z0-9]{8,}))(?=[\s,.;]|$))(?:\s+channel)?",
    re.IGNORECASE,
)


class NotAMonitor(ValueError):
    """The words do not make a monitor; the message says why and how to say it."""


@dataclass
class _Said:
    """What the words say of the monitor's own parts, and the rest (a question for the planner)."""

    rest: str
    threshold: re.Match | None = None
    windows: list[tuple[str, timedelta]] = field(default_factory=list)
    minimum: int | None = None
    unit: str | None = None  # the word right after the threshold's number when it is no unit ("20 euros")
    anomaly: str | None = None  # the words that asked for one ("spikes", "unusual")
    rising: str | None = None
    falling: str | None = None
    channels: list[str] = field(default_factory=list)  # channel ids the words name


def _cut(said: _Said, match: re.Match, keep: str = " ") -> None:
    said.rest = said.rest[: match.start()] + keep + said.rest[match.end() :]


_HALF = re.compile(r"\bhalf\s+an?\s+hour\b|\bhalf-hour\b", re.IGNORECASE)


def _lead(said: _Said) -> None:
    if match := _LEAD.match(said.rest):
        _cut(said, match, "")
    # numbers in words ("five percent", "ten minutes") and "half an hour" read as digits
    said.rest = _HALF.sub("30 minutes", spell_out_numbers(said.rest))
    said.rest = _EACH.sub("by ", _RPM.sub("requests per minute", said.rest))
    # "no requests", "goes to zero": fewer than one request (a monitor of the requests below 1)
    said.rest = _TO_ZERO.sub(" below 1 ", _NONE.sub(r"\1 below 1 ", said.rest))
    if match := _STATUS_SHARE.search(said.rest):
        raise NotAMonitor(
            f"“{match[0]}” is the share of one kind of failure, which a monitor cannot watch: watch the error rate "
            "(every failed request: “error rate above 2%”), or count those requests (“429s above 20 in 10m”)"
        )
    if match := _PER_SECOND.search(said.rest):
        raise NotAMonitor(
            f"a monitor's window is whole minutes, so “{match[0]}” cannot be watched: say it per minute, e.g. "
            "“requests above 300 per minute”"
        )


def _channels(said: _Said) -> None:
    for match in list(_CHANNEL.finditer(said.rest))[::-1]:
        if match["bare"] and not re.search(
            r"\b(?:to|in|into|on|at|via|notify|ping|channel)\s+$", said.rest[: match.start("bare")], re.I
        ):
            continue  # an id with no word saying it is a channel may be a value ("user C12345678")
        if match["name"]:
            raise NotAMonitor(
                f"“#{match['name']}”: I post to a channel by its id. Pick the channel from Slack's list when you "
                "mention me (it arrives as a link), say the words in that channel, or give its id (channel details "
                "→ About, e.g. “to C0123ABCD”)"
            )
        said.channels.insert(0, match["id"] or match["bare"])
        _cut(said, match)
    if said.channels:  # "notify <#C…> when …": the lead-in's condition word is left once the channel is out
        said.rest = re.sub(r"^[\s,:]*(?:if|when|whenever|once)\b[\s,:]*", "", said.rest, flags=re.I)


def _unrouted(text: str) -> str:
    """The words without the channels they name (a monitor's name says what it watches, not where it posts)."""
    said = _Said(" ".join(text.split()))
    _channels(said)
    return said.rest


_CONSECUTIVE = re.compile(
    r"\b(?:for|over|in|on)\s+(?:\d+|two|three|four|five|several|multiple)\s+(?:consecutive\s+|straight\s+|successive\s+)?"
    r"(?:checks?|evaluations?|intervals?|runs?|cycles?|times)(?:\s+in\s+a\s+row)?\b|\b\d+\s+times\s+in\s+a\s+row\b",
    re.IGNORECASE,
)
_SOME_HOURS = re.compile(
    r"\b(?:on|during|over|in|at)\s+(?:the\s+)?(?:weekdays?|weekends?|business\s+hours|working\s+hours|office\s+hours|"
    r"nights?|night\s*time|(?:mon|tues|wednes|thurs|fri|satur|sun)days)\b|\b(?:only\s+)?(?:on\s+)?weekdays\s+only\b",
    re.IGNORECASE,
)


def _change(said: _Said) -> None:
    if match := _CONSECUTIVE.search(said.rest):
        raise NotAMonitor(
            f"“{match[0].strip()}”: a monitor has no count of checks in a row. A threshold opens on the first "
            "evaluation past its line; to need longer, widen its window (“above 5% over 15m”) or raise its minimum "
            "(“with at least 50 requests”)"
        )
    if match := _SOME_HOURS.search(said.rest):
        raise NotAMonitor(
            f"“{match[0].strip()}”: a monitor watches around the clock. To keep a channel quiet at some hours, give "
            'it quiet hours in the monitors file ([channel.ID] quiet_hours = "22:00-07:00"); `mute NAME 2h` silences '
            "one for a while"
        )
    if match := _CHANGE.search(said.rest):
        raise NotAMonitor(
            f"“{match[0]}” is a change against the past, which a monitor does not compare with: give a line to "
            "cross (“p95 latency above 5 s”), or leave the value out for an anomaly monitor, which fires when the "
            "measure departs from its own 7-day baseline (“p95 latency for MODEL”)"
        )


def _minimum(said: _Said) -> None:
    found = list(_MINIMUM.finditer(said.rest))
    if len(found) > 1:
        raise NotAMonitor("two minimum request counts: say one, e.g. “with at least 20 requests”")
    if found:
        match = found[0]
        rest = said.rest[: match.start()] + " " + said.rest[match.end() :]
        if (match["least"] or match["more"]) and not match["with"] and not _THRESHOLD.search(rest):
            return  # "alert if more than 1000 requests in 5 minutes": the line itself, not a minimum
        n = next(match[g] for g in ("n", "m", "plus", "k", "f") if match[g])
        said.minimum = int(n.replace(",", "")) + (1 if match["more"] else 0)
        _cut(said, match)


def _threshold(said: _Said) -> None:
    found = list(_THRESHOLD.finditer(said.rest))
    if len(found) > 1:
        shown = ", ".join(f"“{m[0].strip()}”" for m in found)
        raise NotAMonitor(f"two thresholds ({shown}): a monitor has one line, say one, e.g. “p90 latency above 5 s”")
    if found:
        said.threshold = found[0]
        if not found[0]["unit"] and (word := re.match(r"\s*([^\W\d_]+)", said.rest[found[0].end() :])):
            said.unit = word[1]
        unit = (found[0]["unit"] or "").lower()
        # a unit naming the measure ("50 errors", "10 requests") stays for the planner
        _cut(said, found[0], f" {unit} " if unit.startswith(("request", "error", "failure", "token")) else " ")


def _span(n: str | None, unit: str) -> timedelta:
    count = 1 if not n or n.lower() in ("a", "an", "one") else int(n)
    return count * _UNIT_SPANS[unit[0].lower()]


def _windows(said: _Said) -> None:
    for match in list(_WINDOW.finditer(said.rest))[::-1]:
        if match["u"] and not (match["n"] or match["last"]):
            continue  # "for d" or "in h": not a span
        n, unit = match["n"] or match["wn"] or match["cn"], match["u"] or match["wu"] or match["cu"]
        said.windows.append((match[0].strip(), _span(n, unit)))
        _cut(said, match)
    for match in list(_RATE.finditer(said.rest))[::-1]:
        unit = (match["u"] or {"hourly": "h", "daily": "d"}[match["adj"].lower()]).lower()
        said.windows.append((match[0].strip(), _span(None, "m" if unit.startswith("min") else unit)))
        _cut(said, match)


def _kind_words(said: _Said) -> None:
    if match := _USUAL.search(said.rest):
        way = match["way"].lower()
        rises = way in ("higher", "more", "larger", "slower", "worse", "greater", "above")
        setattr(said, "rising" if rises else "falling", match[0])
        said.anomaly = match[0]
        _cut(said, match)
    for pattern, attr in ((_ANOMALY, "anomaly"), (_RISING, "rising"), (_FALLING_WORDS, "falling")):
        if match := pattern.search(said.rest):
            setattr(said, attr, match[0].strip())
            _cut(said, match)


# The rules that read the monitor's own parts, in order: each takes its words out of the rest.
_RULES = (_lead, _channels, _change, _minimum, _threshold, _windows, _kind_words)


def _percent(said: _Said) -> bool:
    unit = (said.threshold["unit"] or "").lower() if said.threshold else ""
    return unit in ("%", "percent", "pct")


def _value(said: _Said, measure: str, aggregation: str | None) -> dict[str, float]:
    """`{"above": v}` / `{"below": v}` in the monitor's unit (ms, USD, percent, count, score points)."""
    match = said.threshold
    if match is None:
        return {}
    value = float(match["num"].replace(",", ""))
    mult = (match["mult"] or "").lower()
    value *= 1000 if mult in ("k", "thousand") else 1_000_000 if mult in ("m", "mm", "mil", "million") else 1
    unit = "$" if match["cur"] else (match["unit"] or "").lower()
    side = "below" if match["cmp"].lower().startswith(_FALLING) else "above"
    shown = (match["cur"] or "") + match["num"] + (match["mult"] or "") + (match["unit"] or "")
    bar = _in_unit(value, unit, measure, aggregation, shown)
    cmp = match["cmp"].lower()
    if _counted(measure, aggregation) and bar == int(bar) and ("equal" in cmp or cmp.startswith(_INCLUSIVE)):
        bar += 1 if side == "below" else -1  # a count: "at least 500" is above 499 (a monitor's line is strict)
    return {side: bar}


_INCLUSIVE = (">=", "=>", "≥", "<=", "=<", "≤", "at least", "at most", "no less", "no more", "hit", "reach")


def _counted(measure: str, aggregation: str | None) -> bool:
    return (
        measure == "requests"
        or (measure == "errors" and aggregation == "count")
        or (measure.endswith("tokens") and aggregation in (None, "sum"))
    )


def _in_unit(value: float, unit: str, measure: str, aggregation: str | None, said: str) -> float:
    kind = {"ms": "ms", "msec": "ms", "msecs": "ms", "s": "s", "%": "%", "$": "$", "¢": "¢"}.get(unit)
    kind = kind or next((k for k, words in _UNIT_WORDS.items() if unit.startswith(words)), "" if not unit else unit)
    if measure in ("latency", "ttft"):
        if kind == "s":
            return value * 1000
        if kind == "ms" or (kind == "" and value >= 100):
            return value
        if kind == "":
            raise NotAMonitor(f"{said} seconds or milliseconds? say e.g. “above {said} s” or “above {said} ms”")
    elif measure == "cost" and kind in ("$", "", "¢"):
        return value / 100 if kind == "¢" else value
    elif measure == "errors" and aggregation == "rate" and kind in ("%", ""):
        if kind == "" and value < 1:
            raise NotAMonitor(
                f"an error rate is in percent: did you mean {said}% or {value * 100:g}%? say it with %, e.g. "
                f"“error rate above {value * 100:g}%”"
            )
        return value
    elif measure in ("requests", "errors") and kind in ("", "count"):
        return value
    elif measure.endswith("tokens") and kind in ("", "tokens"):
        return value
    elif measure == "score" and kind in ("", "points"):
        return value
    if kind == "%" and measure in ("requests", "errors"):
        raise NotAMonitor(
            f"“{said}” is a share of requests: the share of failed requests is the error rate (“error rate above "
            f"{said}”); a share of some other requests cannot be watched, count them instead (“above 20 in 10m”)"
        )
    if kind == "%" and measure == "score":
        raise NotAMonitor(f"a score's line is in its own points, not percent: say e.g. “below {value:g}” or "
                          f"“below {value / 100:g}”, as the score is recorded")  # fmt: skip
    raise NotAMonitor(f"“{said}” is not in a unit of {measure.replace('_', ' ')}: {_UNIT_HINT.get(measure, '')}")


_UNIT_WORDS = {
    "ms": ("msec", "millisecond"),
    "s": ("sec",),
    "%": ("percent", "pct"),
    "$": ("usd", "dollar"),
    "¢": ("cent",),
    "count": ("request", "req", "call", "error", "failure"),
    "tokens": ("token",),
    "points": ("point", "pt"),
}
_UNIT_HINT = {
    "latency": "say seconds or milliseconds, e.g. “above 5 s”",
    "ttft": "say seconds or milliseconds, e.g. “above 2 s”",
    "cost": "say dollars, e.g. “above $20”",
    "errors": "say percent for the error rate (“above 5%”) or a count (“more than 50 errors”)",
    "requests": "say a count, e.g. “below 100 requests per hour”",
}


def _window(said: _Said, spec: QuerySpec) -> str | None:
    """The evaluation window the words give (None: the default), or NotAMonitor."""
    spans = list(said.windows)
    if spec.range is not None:
        rng = spec.range
        if getattr(rng, "kind", None) != "last" or rng.unit not in ("minutes", "hours", "days"):
            raise NotAMonitor(
                f"a monitor watches a rolling window ending at each evaluation, not “{rng.describe()}”: say e.g. "
                "“over 1h” or “over 1d”"
            )
        spans.append((rng.describe(), rng.n * _UNIT_SPANS[rng.unit[0]]))
    if spec.bucket is not None:
        if spec.bucket not in ("min", "hour", "day"):
            raise NotAMonitor(f"a monitor's window is at most a day, not a {spec.bucket}: say e.g. “over 1d”")
        spans.append((f"by {spec.bucket}", _UNIT_SPANS[spec.bucket[0]]))
    if len({span for _, span in spans}) > 1:
        shown = ", ".join(f"“{words}”" for words, _ in spans)
        raise NotAMonitor(f"two windows ({shown}): say one, e.g. “over 15m”")
    if not spans:
        return None
    words, span = spans[0]
    if span > timedelta(days=1) or span < timedelta(minutes=1):
        raise NotAMonitor(f"a monitor's window is 1m to 1d, not “{words}”: say e.g. “over 1h” or “over 1d”")
    return duration_text(span)


def _filters(spec: QuerySpec, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in spec.conditions:
        key = c.field.replace("property:", "property.", 1)
        if (key not in DIMENSIONS and not key.startswith("property.")) or c.op not in ("equals", "in"):
            raise NotAMonitor(
                f"a monitor filters by exact values of {', '.join(DIMENSIONS)} or a property, not “{c.describe()}”"
                + _matching(c, ctx)
            )
        out[key] = c.value
    return out


def _matching(condition: Any, ctx: Context) -> str:
    """For a partial name (`model contains "x"`): the known names it matches, to list instead."""
    names = {"model": ctx.vocabulary.models, "provider": ctx.vocabulary.providers}.get(condition.field, {})
    if condition.op != "contains" or not names:
        return ""
    found = sorted(n for n in names if str(condition.value).lower() in n.lower())
    if not found:
        return ""
    shown = ", ".join(found[:6]) + (", …" if len(found) > 6 else "")
    return f": name the {condition.field} (or several, “for A and B”): {shown}"


def _measure(spec: QuerySpec, ctx: Context) -> tuple[str, str | None]:
    if spec.measure not in _MEASURES and spec.measure not in get_args(WatchMeasure):
        raise NotAMonitor(
            f"{spec.measure} cannot be watched; watch latency, ttft, cost, tokens, requests, errors or a score"
        )
    if spec.measure == "score" and not spec.scoreKey:
        keys = ", ".join(sorted(ctx.vocabulary.score_keys)) or "none recorded yet"
        raise NotAMonitor(f"which score? a monitor watches one score key: {keys}")
    if spec.top is not None:
        raise NotAMonitor(
            f"a monitor watches every value of a split, not the top {spec.top}: say e.g. “cost by user above $10”"
        )
    return _MEASURES.get(spec.measure, (spec.measure, spec.aggregation))


def _kind(said: _Said, measure: str, window: str | None, threshold: dict[str, float]) -> None:
    """Anomaly words against a value, a window or a direction the detector does not watch: NotAMonitor."""
    if threshold:
        if said.anomaly:
            raise NotAMonitor(
                f"“{said.anomaly}” and a value: an anomaly monitor has no value. Say one: the value "
                f"(“{said.threshold[0].strip()}”) or the anomaly alone"
            )
        return
    if window is not None and duration(window) != ANOMALY_WINDOW:
        raise NotAMonitor(
            "without a value this is an anomaly monitor, which compares hourly values with its 7-day baseline: its "
            f"window is 1h, not {window}. Leave the window out, or give a line to cross (“above 5 s over {window}”)"
        )
    rises = measure != "score"
    wrong = said.falling if rises else said.rising
    if wrong:
        way, other = ("rises", "falls") if rises else ("falls", "rises")
        raise NotAMonitor(
            f"an anomaly monitor of {measure.replace('_', ' ')} fires when it {way}, so “{wrong}” (it {other}) "
            f"cannot be watched as one: give a line to cross, e.g. “{'below' if rises else 'above'} …”"
        )


def _name(text: str) -> str:
    """The words as a monitor name: the characters names allow, at most 63, cut at a word."""
    name = " ".join(re.sub(r"[^\w .:/%()+-]", " ", text).split())
    if len(name) > 63:
        name = name[:64].rsplit(" ", 1)[0]
    return name or "monitor"


def _plan(said: _Said, planner: Planner, ctx: Context, text: str) -> QuerySpec:
    question = " ".join(said.rest.replace(",", " ").split()).strip(" .;:-")
    if not question:
        raise NotAMonitor(f"which measure? {EXAMPLES}")
    probe = planner.plan(question, ctx)
    if probe.status != "ok":
        lead = (probe.message or "").split("\nTry questions like")[0].strip()
        raise NotAMonitor(f"{lead or f'I could not read a measure in “{text}”'} Say a monitor like {EXAMPLES}")
    ignored = [w for note in probe.notes if note.startswith("ignored: ") for w in note[9:].split(", ")]
    if said.unit and said.unit.lower() in (w.lower() for w in ignored):
        value = said.threshold["num"]
        raise NotAMonitor(f"“{value} {said.unit}”: “{said.unit}” is not a unit I know. Say it in the measure's unit "
                          "(s or ms, $, %, a count), e.g. “above $20”")  # fmt: skip
    if ignored:  # a question may skip a word it cannot read; a monitor holds every word said ("exceeds budget")
        shown = ", ".join(f"“{w}”" for w in ignored)
        raise NotAMonitor(f"I did not understand {shown}. Say a monitor like {EXAMPLES}")
    if not isinstance(probe.spec, QuerySpec):
        raise NotAMonitor(f"a monitor watches one measure over a window, not a comparison or a list: {EXAMPLES}")
    if not ctx.vocabulary.models:  # nothing logged yet (a watch set up before the first sync): nothing to check
        return probe.spec
    try:  # a value the logs do not hold would be watched forever with nothing to see
        return ground(probe.spec, ctx.vocabulary)
    except Clarify as error:
        raise NotAMonitor(str(error)) from None


def monitor_from_words(
    text: str, planner: Planner, ctx: Context, name: str | None = None, here: str | None = None
) -> Monitor:
    """The monitor the words describe (NotAMonitor with the reason otherwise), posting to the channels they name,
    else to `here` (the Slack channel they were said in), else to the watcher's default channels."""
    said = _Said(" ".join(text.split()))
    for rule in _RULES:
        rule(said)
    spec = _plan(said, planner, ctx, text)
    measure, aggregation = _measure(spec, ctx)
    window = _window(said, spec)
    if (measure, aggregation) == ("errors", "count") and _percent(said):
        aggregation = "rate"  # "errors above 10%": the share of failed requests
    threshold = _value(said, measure, aggregation)
    _kind(said, measure, window, threshold)
    minimum = said.minimum
    if minimum is None and measure == "requests" and "below" in threshold:
        minimum = 0  # a traffic drop to under the default minimum (an outage) must still fire
    fields: dict[str, Any] = {
        "name": name or _name(_LEAD.sub("", _unrouted(text), count=1)),
        "measure": measure,
        "aggregation": aggregation,
        "score_key": spec.scoreKey if measure == "score" else None,
        "filters": _filters(spec, ctx),
        "by": spec.groupBy.replace("property:", "property.", 1) if spec.groupBy else None,
        "window": window,
        "min_requests": minimum,
        "channels": tuple(dict.fromkeys(said.channels)) or ((here,) if here else None),
        **threshold,
    }
    try:
        return Monitor(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as error:
        raise NotAMonitor("; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())) from None


SCALE_DAYS = 30  # how far back a score's recorded range is read


def check_scale(m: Monitor, backend: Any, org: str, now: datetime) -> None:
    """NotAMonitor when a score's line is on another scale than the score is recorded on (`below 0.8` of a score
    recorded 0 to 100, `below 70` of one recorded 0 or 1): such a monitor would never fire, or always."""
    bar = m.above if m.above is not None else m.below
    if m.measure != "score" or bar is None or bar < 0:
        return
    plain = m.model_copy(update={"filters": {}, "by": None})
    start, end = iso_z(now - timedelta(days=SCALE_DAYS)), iso_z(now)
    seen = [
        r.value
        for agg in ("min", "max")
        for r in backend.run(plain.model_copy(update={"aggregation": agg}).query(start, end, None, 0), org)
        if r.value is not None
    ]
    if not seen:
        return
    low, high = min(seen), max(seen)
    scale = 100 if high > 10 else 10 if high > 1 else 1
    meant = bar * scale if bar <= 1 < high else bar / 100 if high <= 1 < bar <= 100 else None
    if meant is not None:
        side = "above" if m.above is not None else "below"
        raise NotAMonitor(
            f"{m.score_key} is recorded from {low:g} to {high:g} (the last {SCALE_DAYS} days), so “{side} {bar:g}” "
            f"would {'never' if (side == 'below') == (bar < low) else 'always'} fire: did you mean “{side} {meant:g}”?"
        )


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
