"""Filter family: quoted or mentioned text in the bodies, thresholds ("longer than 10 s", "over 1000 tokens",
"costing more than $0.05") and status codes ("429s", "5xx", "rate limited", "successful")."""

from __future__ import annotations

import re

from heliqa.agent.rules.scanner import Fake, Scanner, negation_before, unhide
from heliqa.agent.rules.table import CLARIFY, Env, Parse, ordered, rule
from heliqa.agent.rules.vocabulary import rank_alternation
from heliqa.agent.spec import Condition
from heliqa.tools.errors import Clarify

_QUOTED = r"(?:\"(?P<q1>[^\"]+)\"|'(?P<q2>[^']+)'|(?P<w>[\w@#$%.-]+))"
_PLACES = (
    r"prompts?|requests?|request\s+bod(?:y|ies)|inputs?|responses?|outputs?|answers?|response\s+bod(?:y|ies)|"
    r"completions?"
)
_NAMED_PLACE = rf"\s+in\s+(?:the\s+)?(?P<where>{_PLACES})"
_AT = (
    r"at\s+least|at\s+most|>=|<=|longer|slower|shorter|faster|quicker|more|fewer|less|over|above|under|below|"
    r"greater|>|<"
)
_SCALE = {"ms": 1, "millisecond": 1, "milliseconds": 1, "s": 1000, "sec": 1000, "secs": 1000, "second": 1000}
_SCALE |= {"seconds": 1000, "min": 60000, "mins": 60000, "minute": 60000, "minutes": 60000}
_TOKEN_FIELDS = {
    "prompt": "prompt_tokens",
    "input": "prompt_tokens",
    "completion": "completion_tokens",
    "output": "completion_tokens",
}


def _body(p: Parse, m) -> None:
    value = unhide(m.group("q1") or m.group("q2") or m.group("w"), p.quotes)
    where = m.group("where") or ""
    column = "response_body" if "response" in where or "output" in where or "answer" in where else "request_body"
    negate = bool(m.group("neg"))
    p.conditions.append(Condition(field=column, op="not-contains" if negate else "contains", value=value))


@rule(
    200,
    "mentioned text",
    {'requests mentioning "refund"': {"conditions": [{"field": "request_body", "op": "contains", "value": "refund"}]}},
)
def mentioned_text(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "mentioning "refund"", "not containing 'sorry' in the response": a body search, byte for byte."""
    s.take(
        rf"(?:that\s+|which\s+)?(?P<neg>not\s+|without\s+|don't\s+|do\s+not\s+)?"
        rf"(?:mentioning|mentioned|mention|mentions|referencing|containing|contained|contain|contains|"
        rf"with\s+the\s+(?:word|text|phrase)|about\s+the\s+(?:word|topic)|matching|including\s+the\s+text)"
        rf"\s+{_QUOTED}(?:{_NAMED_PLACE})?",
        lambda m: _body(p, m),
    )


@rule(
    210,
    "text in a named place",
    {
        "requests with refund in the prompt": {
            "conditions": [{"field": "request_body", "op": "contains", "value": "refund"}]
        }
    },
)
def text_in_place(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "with refund in the prompt": a bare "with" only counts when the place searched is named."""

    def handle(m):
        negated = m.group("neg").startswith("without") or None
        _body(p, Fake(q1=m.group("q1"), q2=m.group("q2"), w=m.group("w"), where=m.group("where"), neg=negated))

    s.take(rf"(?P<neg>without\s+|with\s+)(?:the\s+(?:word|text)\s+)?{_QUOTED}{_NAMED_PLACE}", handle)


def direction(word: str, upward: tuple[str, ...]) -> str:
    """gt/lt for `longer than`, `under`...; gte/lte for `at least`, `at most`, `>=`, `<=`."""
    word = " ".join(word.lower().split())
    if word in ("at least", ">="):
        return "gte"
    if word in ("at most", "<="):
        return "lte"
    return "gt" if word in upward else "lt"


def _latency_field(word: str) -> str:
    return "ttft" if word.lower() in ("ttft",) or "first" in word.lower() else "latency"


@rule(
    400,
    "latency threshold",
    {"requests longer than 10 seconds": {"conditions": [{"field": "latency", "op": "gt", "value": 10000}]}},
)
def latency_threshold(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "longer than 10 seconds", "ttft over 500 ms", "above 5 s latency"."""

    def handle(m):
        op = direction(m.group("dir"), ("longer", "slower", "more", "over", "above", "greater", ">"))
        if m.group("eq") and op in ("gt", "lt"):
            op += "e"
        value = float(m.group("n")) * _SCALE[m.group("u").lower()]
        field = _latency_field(m.group("f") or m.group("f2") or "latency")
        p.conditions.append(Condition(field=field, op=op, value=int(value) if value.is_integer() else value))

    s.take(
        rf"(?:that\s+took\s+|taking\s+|which\s+took\s+|with\s+|where\s+|whose\s+)?(?:(?P<f>latency|duration|ttft|time\s+to\s+first\s+token)\s+)?"
        rf"(?P<dir>{_AT})"
        r"(?:\s+than)?(?P<eq>\s+or\s+equal\s+to)?\s+(?P<n>\d+(?:\.\d+)?)\s*(?P<u>ms|milliseconds?|s|secs?|seconds?|mins?|minutes?)"
        r"(?:\s+(?:of\s+)?(?P<f2>latency|duration|ttft|time\s+to\s+first\s+token))?",  # "above 5 s latency"
        handle,
    )


@rule(
    410,
    "token threshold",
    {
        "requests with more than 1000 prompt tokens": {
            "conditions": [{"field": "prompt_tokens", "op": "gt", "value": 1000}]
        }
    },
)
def token_threshold(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "more than 1000 tokens", "under 50 output tokens"."""

    def handle(m):
        op = direction(m.group("dir"), ("more", "over", "above", "greater", ">"))
        field = _TOKEN_FIELDS.get((m.group("k") or "total").lower(), "total_tokens")
        p.conditions.append(Condition(field=field, op=op, value=int(m.group("n"))))

    s.take(
        rf"(?:with\s+)?(?P<dir>{_AT})(?:\s+than)?\s+(?P<n>\d+)\s+"
        r"(?:(?P<k>prompt|input|completion|output|total)\s+)?tokens",
        handle,
    )


@rule(
    420,
    "cost threshold",
    {"requests costing more than $0.05": {"conditions": [{"field": "cost", "op": "gt", "value": 0.05}]}},
)
def cost_threshold(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "costing more than $0.05", "that cost over 1 dollar"."""

    def handle(m):
        op = direction(m.group("dir"), ("more", "over", "above", "greater", ">"))
        p.conditions.append(Condition(field="cost", op=op, value=float(m.group("n"))))

    s.take(
        rf"(?:costing|that\s+cost|cost|(?:with|where|whose)\s+(?:the\s+)?cost)\s+(?P<dir>{_AT})"
        r"(?:\s+than)?\s+\$?(?P<n>\d+(?:\.\d+)?)(?:\s*(?:usd|dollars?))?",
        handle,
    )


def _status(p: Parse, *conditions: Condition) -> None:
    p.conditions.extend(conditions)
    if p.measure is None:
        p.measure = "requests"


def _code(p: Parse, code: str | int, negated: bool = False) -> None:
    _status(p, Condition(field="status", op="not-equals" if negated else "equals", value=int(code)))


def class_conditions(digit: str) -> list[Condition]:
    """A status class ("5" of "5xx") as the range of its codes."""
    low = int(digit) * 100
    return [Condition(field="status", op="gte", value=low), Condition(field="status", op="lt", value=low + 100)]


def _status_class(p: Parse, digit: str) -> None:
    _status(p, *class_conditions(digit))


_429 = {"conditions": [{"field": "status", "op": "equals", "value": 429}]}
_STATUS_OPS = {">=": "gte", "=>": "gte", "≥": "gte", ">": "gt", "<=": "lte", "=<": "lte", "≤": "lte", "<": "lt"}


@rule(
    500,
    "status code",
    {
        "how many 429s today": {"measure": "requests", **_429},
        "requests by status code 500": {"conditions": [{"field": "status", "op": "equals", "value": 500}]},
        "requests with status >= 500": {"conditions": [{"field": "status", "op": "gte", "value": 500}]},
    },
)
def status_code(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "status 500", "429s", "404 errors"; a negation before the code excludes it ("that were not 200s")."""

    def code(m):
        negated, start = negation_before(s, m.start())
        if start < m.start():
            s.blank(start, m.start())
        _code(p, m["c"], negated)

    def compared(m):
        _status(p, Condition(field="status", op=_STATUS_OPS[m["op"]], value=int(m["c"])))

    s.take(
        r"(?:with\s+)?(?:http\s+)?(?:status(?:\s+code)?|code)\s*(?P<op>>=|<=|=>|=<|>|<|≥|≤)\s*(?P<c>[1-5]\d\d)",
        compared,
    )
    s.take(
        r"(?:with\s+)?(?:http\s+)?(?:status|code|status\s+code)\s+(?:=\s*|(?:is|was|were|equals|of)\s+)?(?P<c>[1-5]\d\d)",
        code,
    )
    s.take(r"(?P<c>[1-5]\d\d)s", code)
    s.take(r"(?:http\s+)?(?P<c>[1-5]\d\d)(?:\s+(?:errors?|responses?|status(?:es)?|codes?))", code)


@rule(510, "status returned", {"requests that returned 429": _429})
def status_returned(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "that returned 429", "got a 503" (not "returned 500 tokens")."""
    s.take(
        r"(?:that\s+|which\s+)?(?:returned|returning|return|got|gave|answered|with)\s+(?:an?\s+)?(?:http\s+)?"
        r"(?:status\s+)?(?P<c>[1-5]\d\d)"
        r"(?!\s*(?:prompt|completion|total|input|output)?\s*(?:tokens?|ms|s|secs?|seconds?|minutes?|users?|requests?|%|percent))",
        lambda m: _code(p, m["c"]),
    )


@rule(
    520,
    "status class",
    {
        "5xx errors today": {
            "conditions": [
                {"field": "status", "op": "gte", "value": 500},
                {"field": "status", "op": "lt", "value": 600},
            ]
        }
    },
)
def status_class(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "4xx", "5xx errors", "server errors", "client errors"."""
    s.take(r"(?P<k>[45])xx(?:\s+(?:errors?|responses?))?", lambda m: _status_class(p, m["k"]))
    s.take(r"server\s+errors?", lambda m: _status_class(p, "5"))
    s.take(r"client\s+errors?", lambda m: _status_class(p, "4"))


@rule(530, "rate limited", {"rate limited requests by provider": {"groupBy": "provider", **_429}})
def rate_limited(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "rate limited", "rate-limit errors", "throttled": status 429."""
    s.take(
        r"rate[\s-]?limit(?:ed|s|ing)?(?:\s+(?:errors?|responses?|hits?))?|throttled(?:\s+requests)?",
        lambda m: _code(p, 429),
    )


@rule(
    540,
    "successful",
    {"successful requests today": {"conditions": [{"field": "status", "op": "equals", "value": 200}]}},
)
def successful(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "successful requests", "succeeded": status 200."""
    s.take(r"successful(?:\s+requests?)?|succeeded|success(?:es)?", lambda m: _code(p, 200))


_NOT_FAILED = (
    r"(?:that\s+|which\s+)?(?:did|do|does|have|has|had|were|was|are|is)\s+not\s+(?:fail(?:ed)?|error(?:ed)?(?:\s+out)?|"
    r"errors?|failures?|(?:an?\s+)?error\s+responses?)|(?:that\s+|which\s+)?never\s+(?:failed|errored)|"
    r"(?:without|with\s+no)\s+(?:an?\s+)?(?:errors?|failures?)"
)
_REQUESTS = r"(?:requests?|reqs|calls?)"


@rule(
    545,
    "not failed",
    {
        "requests that did not fail yesterday": {"conditions": [{"field": "status", "op": "lt", "value": 400}]},
        "non-failed requests": {"conditions": [{"field": "status", "op": "lt", "value": 400}]},
        "models that did not fail yesterday": CLARIFY,
    },
)
def not_failed(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "requests that did not fail", "calls that didn't error", "non-failed requests", "requests without
    errors": the requests that are not errors, status < 400. Only requests: "models that did not fail" (no failed
    request at all) is another question, asked back."""

    def after_requests(m):
        if re.match(r"\s+(?:or|nor)(?![\w-])", s.text[m.end() :]):
            return False  # "did not fail or time out": what else it excludes is unknown, so it is asked back
        s.fired.append(s.rule)
        s.blank(m.start("n"), m.end())  # the requests word is left for the measure
        p.conditions.append(Condition(field="status", op="lt", value=400))
        return False

    s.take(rf"{_REQUESTS}\s+(?P<n>{_NOT_FAILED})", after_requests)
    words, groups = rank_alternation(env.vocab)

    def of_groups(m):
        name = m.group("g").lower()
        one = words[name].removeprefix("property:")
        raise Clarify(
            f"Do you mean the {name} with no failed request at all? Ask 'errors by {one}' for each one's failures, "
            f"or 'requests that did not fail by {one}'."
        )

    s.take(rf"(?P<g>{groups})\s+(?:that\s+|which\s+|who\s+)?(?:{_NOT_FAILED})", of_groups)
    s.take(
        r"non\s+(?:failed|failing|error|errored|erroring)(?=\s+(?:requests?|reqs|calls?)(?![\w-]))",
        lambda m: p.conditions.append(Condition(field="status", op="lt", value=400)),
    )
    s.take(
        r"error[\s-]?free(?=\s+(?:requests?|reqs|calls?)(?![\w-]))",
        lambda m: p.conditions.append(Condition(field="status", op="lt", value=400)),
    )


_CONDITION_FAMILIES = ("filters", "names", "properties")  # the rule modules whose words filter the rows
# which rules may read the value after "where <dimension> is" ("where model is gpt-4"): that dimension's own
_DIMENSION_RULES = {"model": ("models",), "provider": ("providers",), "user": ("users",), "country": ("countries",)}
_DIMENSION_RULES |= {"status": ("status code", "status returned", "status class")}


@rule(
    1650,
    "where",
    {
        "requests by model where status < 300": {
            "groupBy": "model",
            "conditions": [{"field": "status", "op": "lt", "value": 300}],
        },
        "cost where the model is gpt-4": {"conditions": [{"field": "model", "op": "equals", "value": "gpt-4"}]},
    },
)
def where(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "where" (or "whose") leading a filter another rule understood ("where status < 300", "where the model
    is gpt-4"); before anything else ("where did errors come from") it stays, and is asked back."""
    families = {r.name: r.module for r in ordered()}
    words, alt = rank_alternation(env.vocab)

    def understood_after(m: re.Match, dimension: str | None) -> bool | None:
        after = re.match(r"\s*(?:the\s+)?", s.original[m.end() :])  # the next word, understood or not
        by = s.rule_at(m.end() + after.end()) or ""
        if dimension is None:
            return None if families.get(by) in _CONDITION_FAMILIES else False
        wanted = ("properties",) if dimension.startswith("property:") else _DIMENSION_RULES.get(dimension, ())
        return None if by in wanted else False

    s.take(
        rf"(?:where|whose)\s+(?:the\s+)?(?P<g>{alt})\s+(?:is|was|were|are|equals|=|==)",
        lambda m: understood_after(m, words[m.group("g").lower()]),
    )
    s.take(r"where|whose", lambda m: understood_after(m, None))
