"""Aggregation family: "p90", "95th percentile", "median", "average", "max", "per request", "sum"."""

from __future__ import annotations

from heliqa.agent.rules.scanner import Scanner
from heliqa.agent.rules.table import Env, Parse, rule
from heliqa.tools.errors import Clarify


def _aggregate(p: Parse, value: str) -> None:
    if p.aggregation and p.aggregation != value:
        raise Clarify("That question names two aggregations; ask for one (e.g. p90 or average).")
    p.aggregation = value


@rule(800, "percentile", {"p90 latency": {"aggregation": "p90"}, "95th percentile latency": {"aggregation": "p95"}})
def percentile(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "p90", "the 95th percentile of", "percentile 99"."""
    s.take(r"p(?P<n>\d{1,2}(?:\.\d+)?)", lambda m: _aggregate(p, f"p{m.group('n')}"))
    s.take(
        r"(?:the\s+)?(?P<n>\d{1,2}(?:\.\d+)?)(?:st|nd|rd|th)?[\s-]+percentile(?:\s+of)?",
        lambda m: _aggregate(p, f"p{m.group('n')}"),
    )
    s.take(r"percentile\s+(?P<n>\d{1,2})", lambda m: _aggregate(p, f"p{m.group('n')}"))


@rule(810, "median", {"median latency": {"aggregation": "p50"}})
def median(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "median": p50."""
    s.take(r"median", lambda m: _aggregate(p, "p50"))


@rule(820, "average", {"average cost": {"aggregation": "avg", "measure": "cost"}})
def average(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "avg", "average", "mean", "typical"."""
    s.take(r"avg|average|mean|typical", lambda m: _aggregate(p, "avg"))


@rule(830, "maximum", {"peak latency today": {"aggregation": "max"}})
def maximum(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "max", "maximum", "peak", "worst case"."""
    s.take(r"max(?:imum)?|peak|worst[\s-]case", lambda m: _aggregate(p, "max"))


@rule(840, "minimum", {"minimum latency": {"aggregation": "min"}})
def minimum(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "min", "minimum", "best case"."""
    s.take(r"min(?:imum)?|best[\s-]case", lambda m: _aggregate(p, "min"))


@rule(850, "per request", {"cost per request by model": {"aggregation": "avg", "measure": "cost", "groupBy": "model"}})
def per_request(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "per request", "of a single call": the mean over requests of a summed measure."""
    s.take(
        r"per\s+(?:single\s+|individual\s+)?(?:request|call)|(?:of\s+)?(?:a|one|any|an)\s+(?:single|individual)\s+(?:request|call)",
        lambda m: setattr(p, "per_request", True),
    )


@rule(860, "sum", {"sum of tokens by model": {"aggregation": "sum", "measure": "total_tokens"}})
def total(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "sum of", "summed"."""
    s.take(r"(?:the\s+)?(?:sum|summed)(?:\s+of)?", lambda m: _aggregate(p, "sum"))
