"""The rules planner: runs the rule table over a question, then builds the spec or says what it did not understand.

A remark before an explicit query ("why is spend spiking? cost by model in the last 4 hours") is ignored when it
names nothing that filters, groups or times the rows; misspelled measure words are read as the word they stand for.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone

from heliqa.agent.planner import Context, Plan
from heliqa.agent.rules.build import asks_for_rows, build
from heliqa.agent.rules.scanner import Scanner, normalise, unhide
from heliqa.agent.rules.shape import settle
from heliqa.agent.rules.table import Env, Parse, Rule, ordered
from heliqa.agent.rules.words import FILLER, GROUP_WORDS
from heliqa.agent.timerange import tz_difference
from heliqa.agent.wording import COMMON_ZIPF, classify, shorthand_fixes, typo_fixes, vocabulary_names, zipf
from heliqa.prompts.lexicon import BLOCKING, CHANGE_WORDS
from heliqa.tools.errors import Clarify

# where a remark may end: a sentence break, a comma (a list's comma never heads a remark: that names values), a dash
_SEPARATOR = re.compile(r"[.?!;:]\s+|,\s+(?:(?:so|but|anyway|and\s+so)\b)?|\s+[-–—]+\s+", re.I)
_NOTHING_MEASURED = "I couldn't tell what to measure (latency, cost, tokens, requests, errors, users, scores...)."
_ROWS = "That asks for individual requests, not a number; I can count them ('how many ...')."


def _remark_splits(question: str) -> list[tuple[str, str]]:
    """(remark, query) pairs at each sentence break, shortest remark first."""
    return [
        (question[: m.start()], question[m.end() :])
        for m in _SEPARATOR.finditer(question)
        if question[m.end() :].strip()
    ]


def _remark_word(word: str, remark: str) -> bool:
    """Whether a word asked back elsewhere may stand in a remark: a why-and-what-changed word, or a common English
    word written in lower case that neither negates, compares nor names a time; a name-like or capitalized word
    ("Acme is complaining") may filter, so it may not."""
    low = word.lower()
    if low in CHANGE_WORDS:
        return True
    written = re.search(rf"(?<![\w-]){re.escape(low)}(?![\w-])", remark)
    return low.isalpha() and low not in BLOCKING and written is not None and zipf(low) >= COMMON_ZIPF


def _apply_fixes(question: str, fixes: dict[str, str]) -> str:
    for wrong, right in fixes.items():
        question = re.sub(rf"(?<![\w.-]){re.escape(wrong)}(?![\w-])", right, question, flags=re.I)
    return question


class RulesPlanner:
    """Parses the question vocabulary into a QuerySpec, or says what it did not understand."""

    name = "rules"

    def __init__(self, rules: tuple[Rule, ...] | None = None):
        self.rules = rules if rules is not None else ordered()

    def plan(self, question: str, ctx: Context) -> Plan:
        """Plan one question (a follow-up edits `ctx.previous`); a remark before an explicit query is ignored."""
        whole = self._plan_text(question, ctx)
        if whole.status == "ok":
            return whole
        for remark, query in _remark_splits(question):
            if not self._is_remark(remark, ctx):
                continue
            result = self._plan_text(query, ctx)
            if result.status == "ok":
                result.notes.insert(0, f"ignored the remark '{remark.strip()}'")
                return result
        return whole

    def _is_remark(self, text: str, ctx: Context) -> bool:
        """A remark names nothing that filters, groups or times the rows (a measure word at most); of the words
        that are otherwise asked back it may hold only why-and-what-changed words ("why is spend spiking") and
        common lower-case English words ("customer says it's slow", "sorry to bug you")."""
        try:
            p, s = self.scan(text, ctx)
        except Clarify:
            return False
        if p.conditions or p.range or p.group or p.top or p.bucket or p.zone or p.quotes or p.alternatives:
            return False
        verdict = classify(s.leftover_spans(), s.original, text, ctx.vocabulary, FILLER)
        return all(_remark_word(w, text) for w in verdict.blocking + p.unresolved)

    def _read(self, question: str, ctx: Context, notes: list[str]) -> tuple[str, Parse, Scanner]:
        """Scan the question; when words are left over, read likely typos as the words they stand for and rescan."""
        try:
            parse, s = self.scan(question, ctx)
        except Clarify:
            # a rule asked back, perhaps for want of a word typed as shorthand ("after 5pm yday"): read it, rescan
            vocab = ctx.vocabulary  # a name spelled like shorthand (a user "mo") stays a name
            known = {n.lower() for n in vocabulary_names(vocab)} | {u.lower() for u in vocab.user_ids or ()}
            fixes = shorthand_fixes([w for w in re.findall(r"[\w'.@-]+", question) if w.lower() not in known])
            if not fixes:
                raise
            question = _apply_fixes(question, fixes)
            notes.append("read " + ", ".join(f"'{a}' as '{b}'" for a, b in fixes.items()))
            parse, s = self.scan(question, ctx)
        leftovers = s.leftover_spans()
        words = [w for w, _ in leftovers]
        fixes = shorthand_fixes(words)
        fixes |= typo_fixes([w for w in words if w.lower() not in fixes]) if leftovers else {}
        if fixes:
            question = _apply_fixes(question, fixes)
            notes.append("read " + ", ".join(f"'{a}' as '{b}'" for a, b in fixes.items()))
            parse, s = self.scan(question, ctx)
        return question, parse, s

    def _plan_text(self, question: str, ctx: Context) -> Plan:
        notes: list[str] = []
        try:
            question, parse, s = self._read(question, ctx, notes)
        except Clarify as ask:
            return Plan("clarify", message=ask.message, planner=self.name)
        verdict = classify(s.leftover_spans(), s.original, question, ctx.vocabulary, FILLER)
        # a grouping word nobody placed ("worst model by error rate"): the answer would drop the grouping
        stray_groups = [w for w in verdict.ignored if w.lower() in GROUP_WORDS]
        verdict.ignored = [w for w in verdict.ignored if w not in stray_groups]
        blocking = verdict.blocking + parse.unresolved + stray_groups
        if blocking:
            words = ", ".join(f"'{unhide(w, parse.quotes)}'" for w in dict.fromkeys(blocking))
            near = f" Closest known names: {', '.join(verdict.near[:6])}." if verdict.near else ""
            return Plan("unparsed", message=f"I didn't understand {words} in that question.{near}", planner=self.name)
        if verdict.ignored:
            notes.append("ignored: " + ", ".join(dict.fromkeys(verdict.ignored)))
        try:
            spec = build(parse, question, ctx)
        except Clarify as ask:
            return Plan("clarify", message=ask.message, planner=self.name)
        if spec is None:
            return Plan("unparsed", message=_NOTHING_MEASURED, planner=self.name)
        if asks_for_rows(question, spec):
            return Plan("unparsed", message=_ROWS, planner=self.name)
        edit = ctx.previous is not None and parse.measure is None and parse.range is None and parse.zone is None
        return Plan("ok", spec=spec, planner=self.name, notes=notes, edit=edit)

    def scan(self, question: str, ctx: Context) -> tuple[Parse, Scanner]:
        """Run the rule table over the question, in priority order; the scanner keeps what is left over."""
        text, quotes = normalise(question)
        s = Scanner(text)
        p = Parse(quotes=quotes)
        local_now = ctx.now.astimezone(timezone(timedelta(minutes=-tz_difference(ctx.now, ctx.tz))))
        env = Env(vocab=ctx.vocabulary, today=local_now.date(), now=local_now)
        for rule in self.rules:
            s.rule = rule.name
            try:
                rule.run(s, p, env)
            except Clarify as ask:
                ask.add_note(f"rule: {rule.name}")  # which rule asked back (the rule table's tests read it)
                raise
        s.rule = "resolve"
        settle(s, p)
        p.fired = s.fired
        return p, s
