"""The scanner: the question normalised, then read by rules that each blank out the words they understood.

Whatever no rule took is left over; `leftover_spans` names the words that are not filler.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from heliqa.agent import orgwords
from heliqa.agent.rules.words import FILLER, NUMBER_WORDS


def hide_quotes(question: str) -> tuple[str, list[str]]:
    """Quoted text is kept byte for byte: each quote becomes a placeholder the rules cannot alter."""
    quotes: list[str] = []

    def hide(m: re.Match) -> str:
        quotes.append(next(g for g in m.groups() if g is not None))
        return f' "zq{len(quotes) - 1}zq" '

    text = re.sub(r'"([^"]+)"|“([^”]+)”|‘([^’]+)’|(?<!\w)\'([^\']+)\'(?!\w)', hide, question)
    return text, quotes


def unhide(text: str, quotes: list[str]) -> str:
    """Put the quoted text back in place of its placeholders."""
    return re.sub(r"zq(\d+)zq", lambda m: quotes[int(m.group(1))], text)


def normalise(question: str) -> tuple[str, list[str]]:
    """The lower-cased text the rules read (quotes hidden, punctuation and shorthand evened out), and the quotes."""
    text, quotes = hide_quotes(question)
    text = orgwords.spell_out_numbers(text)  # "the last twenty-four hours", "top five users"
    # a small number word counts only before another word ("top two users"), not in "quick one: ..."
    text = re.sub(
        rf"\b({'|'.join(NUMBER_WORDS)})\b(?=\s+\w)",
        lambda m: str(NUMBER_WORDS[m.group(1).lower()]),
        text,
        flags=re.I,
    )
    # "10k tokens", "1.5k requests": thousands (a name holding such a token, like gpt-4-32k, is left whole)
    text = re.sub(
        r"(?<![\w.-])(\d+(?:\.\d+)?)k(?![\w.-])",
        lambda m: format((Decimal(m.group(1)) * 1000).normalize(), "f"),
        text,
        flags=re.I,
    )
    # "status != 200", "model <> gpt-4": a negation of that name (never "status = 200" once "!" is dropped below)
    text = re.sub(r"(?<![\w.-])([a-z][\w.-]*)\s*(?:!=|<>|≠)\s*", r" not \1 ", text, flags=re.I)
    text = " " + text.strip().rstrip("?!.").replace("’", "'") + " "
    text = re.sub(r"(?<![\w/])w/o(?![\w/])", " without ", text)  # chat shorthand: "w/o staging", "w/ errors"
    text = re.sub(r"(?<![\w/])w/(?![\w/])", " with ", text)
    text = re.sub(r"(?<![\w.-])(?:excl|excld)\.(?=\s)", " excluding ", text, flags=re.I)  # "cost excl. gpt-4"
    text = _spoken_spans(text)
    text = re.sub(r"[?!;,()\[\]{}]", " ", text)
    text = re.sub(r"(?<![\w.])%", " percent ", text)  # "what % of requests": a word, never dropped as punctuation
    text = re.sub(r"(?<=\w)n't\b", " not", text)  # "weren't 200s": the negation is read, never dropped
    # "requests that time out": one word, which heliqa cannot filter on (never "time" and "out" ignored as filler)
    text = re.sub(r"(?<![\w-])time[\s-]+outs?(?![\w-])", "timeout", text, flags=re.I)
    # the same typed without the apostrophe: "didnt fail", "werent errors"
    text = re.sub(r"(?<![\w.-])(did|do|does|was|were|is|are|have|has|had)nt(?![\w-])", r"\1 not", text, flags=re.I)
    text = re.sub(r"'s\b", "", text)
    text = re.sub(r"(?<![\w-])non-(?=\w)", "non ", text, flags=re.I)  # "non-prod": a negation of the value after it
    return text.lower(), quotes


_HALF_HOUR = re.compile(r"(?<![\w-])(?:an?\s+)?(?:hour\s+and\s+a\s+half|half\s+(?:an\s+)?hour)(?![\w-])", re.I)
_DECIMAL_SPAN = re.compile(r"(?<![\w.-])(\d+\.\d+)\s*(hours?|hrs?|h|days?|d)(?![\w-])", re.I)


def _spoken_spans(text: str) -> str:
    """Spans said in words or with a fraction, in whole units: "the last half hour" = 30 minutes, "an hour and a
    half" = 90 minutes, "1.5 hours" = 90 minutes, "1.5 days" = 36 hours (a fraction of a smaller unit stays)."""
    text = _HALF_HOUR.sub(lambda m: " 90 minutes " if "and" in m.group(0).lower() else " 30 minutes ", text)

    def whole(m: re.Match) -> str:
        days = m.group(2).lower().startswith("d")
        n = Decimal(m.group(1)) * (24 if days else 60)
        return f" {int(n)} {'hours' if days else 'minutes'} " if n == int(n) else m.group(0)

    text = _DECIMAL_SPAN.sub(whole, text)
    # "everything but gpt-4" excludes it; "but only for X" is only X
    text = re.sub(r"(?<![\w-])(everything|anything|all)\s+but(?![\w-])", r"\1 except", text, flags=re.I)
    return re.sub(r"(?<![\w-])but\s+only(?![\w-])", "only", text, flags=re.I)


class Scanner:
    """The question text with the words already understood blanked out."""

    def __init__(self, text: str):
        self.text = text
        self.original = text
        self.rule = ""  # the rule now scanning, recorded for every match it takes
        self.fired: list[str] = []
        self.negated: dict[int, str] = {}  # where each negated name begins -> the rule that read it
        self.spans: list[tuple[int, int, str]] = []  # every blanked span and the rule that understood it

    def take(self, pattern: str, handle=None) -> list[re.Match]:
        """Find every match of `pattern` (word-bounded), call `handle(match)`; blank it unless handle returns False."""
        found = []
        regex = re.compile(rf"(?<![\w.-])(?:{pattern})(?![\w-]|\.\w)", re.I)
        pos = 0
        while True:
            m = regex.search(self.text, pos)
            if not m:
                break
            keep = handle(m) if handle else True
            if keep is False:
                pos = m.end()
                continue
            found.append(m)
            self.fired.append(self.rule)
            self.blank(m.start(), m.end())
            pos = m.end()
        return found

    def blank(self, start: int, end: int) -> None:
        """Blank out text[start:end] (the words are understood)."""
        self.spans.append((start, end, self.rule))
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]

    def tokens(self) -> list[tuple[str, int, int]]:
        """The words not yet understood, as (word, start, end); a trailing '.' or ':' is not part of a word."""
        out = []
        for m in re.finditer(r"\S+", self.text):
            word, end = m.group(0), m.end()
            while word and word[-1] in ".:":
                word, end = word[:-1], end - 1
            if word:
                out.append((word, m.start(), end))
        return out

    def take_names(self, names: dict[str, Any], handle, longest: int) -> None:
        """Look every run of up to `longest` whole words up in `names` (lower-cased keys), longest runs first.

        One dictionary look-up per run, so the cost does not grow with the vocabulary, and a name matches only
        whole words whatever characters it holds (`team_` never matches inside `the`).
        `handle(value, start, end)` returns the span it consumed (it may widen it), or False to skip the match.
        """
        tokens = self.tokens()
        i = 0
        while i < len(tokens):
            for n in range(min(longest, len(tokens) - i), 0, -1):
                run = tokens[i : i + n]
                if any(run[k + 1][1] - run[k][2] > 1 for k in range(n - 1)):
                    continue  # words separated by blanked text are not one name
                key = " ".join(t[0] for t in run)
                if key in names:
                    span = handle(names[key], run[0][1], run[-1][2])
                    if span is not False:
                        self.fired.append(self.rule)
                        self.blank(*span)
                        i += n
                        break
            else:
                i += 1

    def rule_at(self, position: int) -> str | None:
        """The rule that understood the word at `position`, if one did."""
        return next((rule for start, end, rule in reversed(self.spans) if start <= position < end), None)

    def leftover_spans(self) -> list[tuple[str, int]]:
        """Words nobody understood and that are not filler, with where they start."""
        out = []
        for m in re.finditer(r"[\w'.:/@$%-]+", self.text):
            w = m.group(0)
            stripped = w.strip(".'-:")
            if stripped and stripped not in FILLER and not re.fullmatch(r"[\W_]+", stripped):
                out.append((stripped, m.start() + w.index(stripped[0])))
        return out

    def leftovers(self) -> list[str]:
        """Words nobody understood and that are not filler."""
        return [w for w, _ in self.leftover_spans()]


class Fake:
    """A stand-in match object for rules that reuse another rule's handler."""

    def __init__(self, **groups: Any):
        self._groups = groups

    def group(self, name: str | int = 0) -> Any:
        """The named group, as re.Match.group."""
        return self._groups.get(name)


_NEGATION = re.compile(
    r"(?<![\w.-])(?:not|except|excluding|exclude|excluded|without|other\s+than|besides|but\s+not|minus|"
    r"apart\s+from|aside\s+from|ignoring|excl|non)\s+(?:(?:for|from|on|in|the|any|of|to|by)\s+)*$"
)
_JOINERS_ONLY = re.compile(r"(?:\s|,|(?<![\w.-])(?:and|or|nor|the)(?![\w-]))*", re.I)


def negation_before(s: Scanner, start: int) -> tuple[bool, int]:
    """Whether a negation (`not`, `excluding`, `other than`...) directly precedes `start`, and where it begins.

    A name joined to a negated name of the same rule is negated too: `excluding staging and development` keeps
    neither, never `environment = development`."""
    m = _NEGATION.search(s.text, 0, start)
    if m and m.end() == start:
        s.fired.append(s.rule)
        s.negated[m.start()] = s.rule
        return True, m.start()
    before = [at for at, rule in s.negated.items() if rule == s.rule and at < start]
    if before:
        between = max(before), start  # the last negated name, then only list joiners (or nothing) up to this one
        if _JOINERS_ONLY.fullmatch(s.text[slice(*between)]):
            s.fired.append(s.rule)
            s.negated[start] = s.rule
            return True, start
    return False, start


def widen(s: Scanner, start: int, end: int, before: str | None = None, after: str | None = None) -> tuple[int, int]:
    """Widen a span over an optional word pattern directly before and/or after it (still unconsumed text)."""
    if before:
        m = re.search(rf"(?<![\w.-])(?:{before})$", s.text[:start])
        if m:
            start = m.start()
    if after:
        m = re.match(rf"(?:{after})(?![\w-])", s.text[end:])
        if m:
            end += m.end()
    return start, end
