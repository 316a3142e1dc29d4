"""Names family: models (exact names and family words such as "claude sonnet"), providers, users and countries.

One name filters; a negated one ("not gpt-4", "excluding anthropic") excludes; several ("sonnet vs haiku") mean
either value, one group each. Property values are read in `properties.py`.
"""

from __future__ import annotations

import re

from heliqa.agent.grounding import FAMILIES, closest, providers_of
from heliqa.agent.rules.groups import BEFORE_A_NAME
from heliqa.agent.rules.scanner import Scanner, negation_before, widen
from heliqa.agent.rules.table import Env, Parse, rule
from heliqa.agent.rules.vocabulary import alternation, names_index, per_vocabulary
from heliqa.agent.rules.words import COUNTRIES, MODEL_LIKE, SHORT_COUNTRY_NAMES
from heliqa.agent.spec import Condition
from heliqa.agent.wording import zipf
from heliqa.tools.errors import Clarify
from heliqa.tools.results import Vocabulary

EVERYDAY_ZIPF = 4.0  # wordfreq's scale: 4 = ten times per million words ("text", "chat", "open")
Picked = list[tuple[str, bool, int]]  # (value, negated, where it was named)
_FAMILY_WORDS = "|".join(FAMILIES)
# words after a family word that belong to something else ("claude tier" is not a model)
_NOT_A_MODEL_PART = r"(?!\s+(?:tier|plan|customers?|users?|env|environment))"


def add_picked(p: Parse, field: str, picked: Picked) -> None:
    """Names picked as (value, negated, where): each negated one excludes; one wanted value filters; two or more
    ("user_1 and user_2", "anthropic vs openai") mean either value, one group each."""
    for value, negated, _ in picked:
        if negated:
            p.conditions.append(Condition(field=field, op="not-equals", value=value))
    wanted = [(v, at) for v, negated, at in picked if not negated]
    values = sorted({v for v, _ in wanted})
    if len(values) == 1:
        p.conditions.append(Condition(field=field, op="equals", value=values[0]))
    elif values:
        p.conditions.append(Condition(field=field, op="in", value=values))
        p.alternatives[field] = [at for _, at in wanted]


def _exact_models(s: Scanner, vocab: Vocabulary) -> Picked:
    index = names_index(vocab)
    exact: Picked = []

    def model(value, start, end):
        start, end = widen(s, start, end, before=r"model\s+", after=r"\s+models?")
        negated, start = negation_before(s, start)
        exact.append((value, negated, start))
        return start, end

    s.take_names(index.models, model, index.model_words)
    return exact


def _leading_words(vocab: Vocabulary) -> frozenset[str]:
    """The first word of each logged model's name (`phi` of phi-4, `mixtral` of mixtral-8x7b), not a known family
    and not an everyday English word ("text models" of text-embedding-3-small may mean the chat models)."""
    firsts = (re.match(r"[a-z]{3,}(?![a-z])", m.lower()) for m in vocab.models)
    return frozenset(f.group(0) for f in firsts if f and zipf(f.group(0)) < EVERYDAY_ZIPF) - set(FAMILIES)


def _model_families(s: Scanner, vocab: Vocabulary) -> list[tuple[list[str], bool, int]]:
    phrases: list[tuple[list[str], bool, int]] = []  # family words read together, e.g. "claude sonnet"

    providers = {pv.lower() for pv in providers_of(vocab)}
    leading = per_vocabulary(vocab, "leading model words", _leading_words)

    def family(m):
        words = [w for w in m.group(0).lower().split() if w in FAMILIES or w in leading]
        if not _family_stands(s, m, words, providers, vocab):
            return False
        negated, start = negation_before(s, m.start())
        # "gemini pro", "o3 mini": a word that names part of that family's models belongs to the model
        follow = re.match(rf"\s+([a-z][a-z\d]*)(?![\w.-]){_NOT_A_MODEL_PART}", s.text[m.end() :])
        if follow and not m.group(0).lower().rstrip().endswith(("model", "models", "family", "series")):
            part = follow.group(1)
            if any(
                all(w in name.lower() for w in words) and part in re.split(r"[-_.:/]", name.lower())
                for name in vocab.models
            ):
                words.append(part)
                s.blank(m.end(), m.end() + follow.end())
        phrases.append((words, negated, start))
        if start < m.start():
            s.blank(start, m.start())

    s.take(
        rf"(?:all\s+)?(?:the\s+)?(?:{_FAMILY_WORDS})(?:\s+(?:{_FAMILY_WORDS}))*(?:\s+(?:models?|family|series))?",
        family,
    )
    if leading:  # the first word of this organization's own model names, when it says "models": "phi models"
        s.take(rf"(?:all\s+)?(?:the\s+)?(?:{alternation(leading)})\s+(?:models|family|series)", family)
    return phrases


def _family_stands(s: Scanner, m: re.Match, words: list[str], providers: set[str], vocab: Vocabulary) -> bool:
    """Whether family words name models here. A family no logged model belongs to is asked back, and so is one
    after "a" ("write me a haiku about our latency"); a family word that is also a provider's name is the provider
    before "provider"/"api", the family before "models", and asked back otherwise ("mistral" may be either)."""
    if vocab.models and not any(all(w in name.lower() for w in words) for name in vocab.models):
        near = [name for name in vocab.models if any(w in name.lower() for w in words)]
        near = near or closest(words[0], list(vocab.models)) or list(vocab.models)
        raise Clarify(f"No logged model matches '{' '.join(words)}'. Known models: {', '.join(near[:6])}.")
    names_models = m.group(0).lower().rstrip().endswith(("model", "models"))
    if len(words) == 1 and not names_models and re.search(r"(?<![\w-])an?\s+$", s.text[: m.start()]):
        raise Clarify(  # "write me a haiku about our latency": the English word, not the models
            f"'a {words[0]}' reads as the word, not the {words[0]} models; ask about '{words[0]} models' for those."
        )
    if len(words) != 1 or words[0] not in providers or names_models:
        return True
    if re.match(r"\s+(?:provider|api|ai)(?![\w-])", s.text[m.end() :]) or re.search(
        r"(?<![\w-])provider\s+$", s.text[: m.start()]
    ):
        return False  # "mistral provider": left for the provider rule
    raise Clarify(
        f"'{words[0]}' is both a provider and a model family here; say '{words[0]} provider' or '{words[0]} models'."
    )


def _unknown_model(s: Scanner, vocab: Vocabulary) -> None:
    def unknown(m):
        word = m.group(0)
        if not MODEL_LIKE.match(word.lower()):
            return False
        near = closest(word, list(vocab.models))
        raise Clarify(
            f"I don't see a model called '{word}' in your logs. Closest known models: "
            f"{', '.join(near) or ', '.join(list(vocab.models)[:6])}."
        )

    s.take(r"[a-z][\w.:/-]*\d[\w.:/-]*", unknown)


def _model_conditions(p: Parse, exact: Picked, phrases: list[tuple[list[str], bool, int]], vocab: Vocabulary) -> None:
    for value, negated, _ in exact:
        if negated:
            p.conditions.append(Condition(field="model", op="not-equals", value=value))
    for words, negated, _ in phrases:
        if negated:
            p.conditions.extend(Condition(field="model", op="not-contains", value=w) for w in words)
    wanted = [(v, at) for v, negated, at in exact if not negated]
    wanted_families = [(words, at) for words, negated, at in phrases if not negated]
    if len(wanted) + len(wanted_families) == 1:
        if wanted:
            p.conditions.append(Condition(field="model", op="equals", value=wanted[0][0]))
        for word in dict.fromkeys(wanted_families[0][0] if wanted_families else []):
            p.conditions.append(Condition(field="model", op="contains", value=word))
        return
    if wanted or wanted_families:
        _several_models(p, wanted, wanted_families, vocab)


def _several_models(p: Parse, wanted, wanted_families, vocab: Vocabulary) -> None:
    """Two or more models named: "sonnet vs haiku" is either model, one group each."""
    values = [v for v, _ in wanted]
    for words, _ in wanted_families:
        matches = [m for m in vocab.models if all(w in m.lower() for w in words)]
        if len(matches) != 1:
            raise Clarify(
                f"'{' '.join(words)}' matches {len(matches)} models"
                + (f" ({', '.join(matches[:8])})" if matches else "")
                + "; name the models to compare exactly."
            )
        values.append(matches[0])
    values = sorted(set(values))
    if len(values) == 1:
        p.conditions.append(Condition(field="model", op="equals", value=values[0]))
        return
    p.conditions.append(Condition(field="model", op="in", value=values))
    p.alternatives["model"] = [at for _, at in wanted] + [at for _, at in wanted_families]


_GPT4 = [{"field": "model", "op": "equals", "value": "gpt-4"}]


@rule(
    1000,
    "models",
    {
        "latency for gpt-4": {"conditions": _GPT4},
        "claude cost": {"conditions": [{"field": "model", "op": "contains", "value": "claude"}]},
    },
)
def models(s: Scanner, p: Parse, env: Env) -> None:
    """Model names, family words ("claude sonnet"), and a model-like name nobody logged (asked back)."""
    exact = _exact_models(s, env.vocab)
    phrases = _model_families(s, env.vocab)
    _unknown_model(s, env.vocab)
    _model_conditions(p, exact, phrases, env.vocab)


def _provider_names(vocab: Vocabulary) -> dict[str, str]:
    known = providers_of(vocab)
    names = {pv.lower(): pv for pv in known}
    names.update(
        {
            "open ai": names.get("openai", "OPENAI"),
            "gcp": names.get("google", "GOOGLE"),
            "vertex": names.get("google", "GOOGLE"),
            "together ai": names.get("together", "TOGETHER"),
            "togetherai": names.get("together", "TOGETHER"),
        }
    )
    return {k: v for k, v in names.items() if v in known}


@rule(
    1100,
    "providers",
    {"requests from anthropic": {"conditions": [{"field": "provider", "op": "equals", "value": "ANTHROPIC"}]}},
)
def providers(s: Scanner, p: Parse, env: Env) -> None:
    """Provider names ("anthropic", "open ai", "vertex"), with "provider"/"api" around them."""
    picked: Picked = []

    def provider(value, start, end):
        start, end = widen(s, start, end, before=r"provider\s+", after=r"\s+(?:provider|api|models?|requests|calls)")
        negated, start = negation_before(s, start)
        picked.append((value, negated, start))
        return start, end

    s.take_names(_provider_names(env.vocab), provider, 2)
    add_picked(p, "provider", picked)


@rule(1500, "users", {"cost for user id 17": {"conditions": [{"field": "user", "op": "equals", "value": "17"}]}})
def users(s: Scanner, p: Parse, env: Env) -> None:
    """User ids: any listed user by its id ("bob", "carol.smith"), and id shapes ("user id 17", "user a@b.io")."""
    picked: Picked = []

    def user(m):
        negated, start = negation_before(s, m.start())
        if start < m.start():
            s.blank(start, m.start())
        picked.append((m.group("u"), negated, start))

    def listed(user_id, start, end):  # a listed user, whatever its id looks like ("bob", "carol.smith")
        lead = re.search(r"(?<![\w.-])(?:(?:for|by|from|of)\s+)?(?:the\s+)?user(?:\s+id)?\s+$", s.text[:start])
        if lead:
            start = lead.start()
        negated, start = negation_before(s, start)
        picked.append((user_id, negated, start))
        return start, end

    s.take_names(names_index(env.vocab).users, listed, 1)
    s.take(r"(?:for\s+|by\s+|from\s+|of\s+)?(?:the\s+)?(?P<u>user[_-][\w.@-]+)", user)
    s.take(
        r"(?:for\s+|by\s+|from\s+|of\s+)?(?:the\s+)?user(?:\s+id|_id)?\s*(?:=|:|is)?\s*"
        r"(?P<u>[\w.@+-]*\d[\w.@+-]*|[\w.+-]+@[\w.-]+)",
        user,
    )
    add_picked(p, "user", picked)


@rule(
    1600, "countries", {"requests from Brazil": {"conditions": [{"field": "country", "op": "equals", "value": "BR"}]}}
)
def countries(s: Scanner, p: Parse, env: Env) -> None:
    """Country names ("from Brazil", "UK vs US") and codes ("country DE")."""
    picked: Picked = []

    def country(code, start, end):
        if re.match(r"\s+time(?![\w-])", s.text[end:]):
            return False  # "in India time" is a time zone
        # "latency for users in the Netherlands": the users' country, not a second measure
        lead = re.search(
            r"(?<![\w.-])(?:(?:for|of|from|among|by)\s+(?:the\s+|our\s+)?(?:users|customers|people)\s+)?"
            r"(?:from|in)\s+(?:the\s+)?$",
            s.text[:start],
        )
        if lead:
            start = lead.start()
        elif s.text[start:end].lower() in SHORT_COUNTRY_NAMES and not BEFORE_A_NAME.search(s.original[:start]):
            # "us" names a country only where a name stands ("from the US", "UK vs US"), judged on the words as
            # written: "the free tier cost us" is not "the us" once the words between are read
            return False
        negated, start = negation_before(s, start)
        picked.append((code, negated, start))
        return start, end

    s.take_names(COUNTRIES, country, 3)

    def code(m):
        negated, _ = negation_before(s, m.start())
        picked.append((m.group("cc").upper(), negated, m.start()))

    # "country is brazil": "is" is the verb, never Iceland's code
    s.take(r"country(?:\s+code)?\s*(?:=|:|is)?\s*(?P<cc>(?!is(?![\w-]))[a-z]{2})", code)
    add_picked(p, "country", picked)
