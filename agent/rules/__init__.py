"""The offline rules planner: a real parser for the question vocabulary (see the README).

The question is normalised and scanned by a table of rules, each a small function registered with `@rule` in the
module of its family: `time` and `dates` (ranges), `filters` (quoted text, thresholds, status), `measures`,
`scores`, `aggregation`, `buckets`, `groups` and `shape` (ranking), `names` and `properties`. Each rule records what
it understood and blanks out the words it used. Whatever is left must be filler words; otherwise the planner
reports `unparsed` and names the words it did not understand, so heliqa never answers a different question than
the one asked. `python -m heliqa.agent.rules` prints the table.
"""

from heliqa.agent.rules import (  # noqa: F401  (importing a family module registers its rules)
    aggregation,
    buckets,
    dates,
    filters,
    groups,
    measures,
    names,
    properties,
    scores,
    shape,
    time,
)
from heliqa.agent.rules.planner import RulesPlanner
from heliqa.agent.rules.scanner import Scanner
from heliqa.agent.rules.table import Parse, Rule, ordered

RULES: tuple[Rule, ...] = ordered()

__all__ = ["RULES", "Parse", "Rule", "RulesPlanner", "Scanner"]
