"""Ground a QuerySpec's names against what exists for the organization, or ask back.

`gpt-4` means exactly `gpt-4`; a family word is a contains; `prod` resolves to `production`;
`<key>` to `<key>-hcone-bool`; a name matching nothing known becomes a clarifying question.
"""

from __future__ import annotations

from heliqa.agent.spec import Condition, QuerySpec
from heliqa.tools.errors import Clarify
from heliqa.tools.results import Vocabulary

# Helicone's provider names (stored upper case), for backends that cannot list the providers they hold.
KNOWN_PROVIDERS = (
    "OPENAI",
    "ANTHROPIC",
    "GOOGLE",
    "TOGETHER",
    "AZURE",
    "BEDROCK",
    "MISTRAL",
    "GROQ",
    "DEEPSEEK",
    "OPENROUTER",
    "FIREWORKS",
    "PERPLEXITY",
    "COHERE",
    "XAI",
)
FAMILIES = (
    "gpt",
    "claude",
    "gemini",
    "llama",
    "mistral",
    "o1",
    "o3",
    "o4",
    "sonnet",
    "haiku",
    "opus",
    "flash",
    "embedding",
    "command",
    "deepseek",
    "qwen",
)
_SYNONYMS = {
    "prod": "production",
    "production": "production",
    "dev": "development",
    "stage": "staging",
    "stg": "staging",
    "feedback": "helicone-score-feedback",
    "thumbs": "helicone-score-feedback",
    "thumbs-up": "helicone-score-feedback",
}


def closest(name: str, known: list[str], n: int = 4) -> list[str]:
    """The known names closest to `name`, best first (rapidfuzz: fast on 20,000 user ids or 2,000 models)."""
    from rapidfuzz import fuzz, process

    found = [
        k for k, _, _ in process.extract(name, known, scorer=fuzz.WRatio, processor=str.lower, limit=n, score_cutoff=40)
    ]
    starts = [k for k in known if k.lower().startswith(name.lower()[:3]) and k not in found]
    return found + starts[: max(0, n - len(found))]


def providers_of(vocab: Vocabulary) -> list[str]:
    """The org's providers, or Helicone's well-known names when the backend cannot list them."""
    return list(vocab.providers) or list(KNOWN_PROVIDERS)


def match_model(name: str, vocab: Vocabulary) -> Condition | None:
    """A model word: exact (case-insensitive) name, else a family contains, else None."""
    for model in vocab.models:
        if model.lower() == name.lower():
            return Condition(field="model", op="equals", value=model)
    lowered = name.lower()
    if lowered in FAMILIES and any(lowered in m.lower() for m in vocab.models):
        return Condition(field="model", op="contains", value=lowered)
    return None


def match_score_key(name: str, vocab: Vocabulary) -> str | None:
    """`<key>` -> `<key>-hcone-bool`, `feedback` -> `helicone-score-feedback`, exact keys as they are."""
    candidates = [name, f"{name}-hcone-bool", _SYNONYMS.get(name.lower(), name)]
    for candidate in candidates:
        for key in vocab.score_keys:
            if key.lower() == candidate.lower():
                return key
    return None


def match_property_value(word: str, vocab: Vocabulary) -> tuple[str, str] | None:
    """A word that names a property value: exact, synonym, or a unique prefix/plural of one."""
    target = _SYNONYMS.get(word.lower(), word.lower())
    exact = [(k, v) for k, values in vocab.properties.items() for v in values if v.lower() == target]
    if len(exact) == 1:
        return exact[0]
    singular = target[:-1] if target.endswith("s") else target
    loose = [
        (k, v)
        for k, values in vocab.properties.items()
        for v in values
        if v.lower() == singular or (len(target) >= 4 and v.lower().startswith(target))
    ]
    return loose[0] if len(loose) == 1 else None


def ground(spec: QuerySpec, vocab: Vocabulary) -> QuerySpec:
    """Check every name in `spec` exists for the org (fixing case and synonyms), or raise Clarify."""
    conditions = []
    for c in spec.conditions:
        conditions.append(_ground_condition(c, vocab))
    score_key = spec.scoreKey
    if spec.measure == "score" and score_key is not None:
        found = match_score_key(score_key, vocab)
        if found is None:
            options = ", ".join(vocab.score_keys) or "none recorded"
            raise Clarify(f"I don't know a score called '{score_key}'. Known score keys: {options}.")
        score_key = found
    group = spec.groupBy
    if group and group.startswith("property:"):
        key = group.split(":", 1)[1]
        if key not in vocab.properties:
            match = [k for k in vocab.properties if k.lower() == key.lower()]
            if not match:
                raise Clarify(
                    f"No property '{key}' is recorded. Known properties: {', '.join(vocab.properties) or 'none'}."
                )
            group = f"property:{match[0]}"
    return spec.model_copy(update={"conditions": conditions, "scoreKey": score_key, "groupBy": group})


def _ground_condition(c: Condition, vocab: Vocabulary) -> Condition:
    if c.field == "model" and c.op in ("equals", "in"):
        values = c.value if isinstance(c.value, list) else [c.value]
        fixed = []
        for value in values:
            match = match_model(str(value), vocab)
            if match is None or (c.op == "in" and match.op != "equals"):
                near = closest(str(value), list(vocab.models))
                raise Clarify(
                    f"I don't see a model called '{value}' in your logs. "
                    f"Closest known models: {', '.join(near) or ', '.join(list(vocab.models)[:6])}."
                )
            if c.op == "equals":
                return match
            fixed.append(match.value)
        return c.model_copy(update={"value": fixed})
    if c.field == "user" and c.op == "equals" and vocab.knows_every_user() and str(c.value) not in vocab.user_ids:
        same = [u for u in vocab.user_ids if u.lower() == str(c.value).lower()]
        if len(same) == 1:
            return c.model_copy(update={"value": same[0]})
        near = closest(str(c.value), list(vocab.user_ids))
        raise Clarify(
            f"No requests from a user '{c.value}' are recorded. Closest user ids: {', '.join(near) or 'none'}."
        )
    if c.field == "country" and c.op in ("equals", "in") and vocab.countries is not None:
        return _ground_country(c, vocab.countries)
    if c.field == "provider" and c.op == "equals":
        known = providers_of(vocab)
        for provider in known:
            if provider.lower() == str(c.value).lower():
                return c.model_copy(update={"value": provider})
        raise Clarify(f"No provider '{c.value}' is recorded. Known providers: {', '.join(known)}.")
    if c.field.startswith("property:") and c.op == "equals":
        key = c.field.split(":", 1)[1]
        values = vocab.properties.get(key)
        if values is None:
            raise Clarify(
                f"No property '{key}' is recorded. Known properties: {', '.join(vocab.properties) or 'none'}."
            )
        for value in values:
            if value.lower() == str(c.value).lower() or value == _SYNONYMS.get(str(c.value).lower()):
                return c.model_copy(update={"value": value})
        hit = match_property_value(str(c.value), Vocabulary(properties={key: values}))
        if hit:
            return c.model_copy(update={"value": hit[1]})
        raise Clarify(f"'{c.value}' is not a recorded value of {key}. Known values: {', '.join(values)}.")
    if c.field.startswith("score:"):
        key = match_score_key(c.field.split(":", 1)[1], vocab)
        if key is None:
            raise Clarify(f"No score '{c.field[6:]}' is recorded. Known score keys: {', '.join(vocab.score_keys)}.")
        return c.model_copy(update={"field": f"score:{key}"})
    return c


def _ground_country(c: Condition, countries: dict[str, int]) -> Condition:
    """A country code the organization has logged (any case), or ask back: a code never seen would answer 0 or
    null for a country that was never counted, where one seen with no request in the range truly answers 0."""
    known = {code.upper(): code for code in countries}
    values = c.value if isinstance(c.value, list) else [c.value]
    fixed = []
    for value in values:
        code = known.get(str(value).upper())
        if code is None:
            seen = ", ".join(_named(k) for k in list(countries)[:12]) or "none recorded"
            raise Clarify(f"No requests from {_named(str(value))} in this organization's data; countries seen: {seen}.")
        fixed.append(code)
    return c.model_copy(update={"value": fixed if c.op == "in" else fixed[0]})


def _named(code: str) -> str:
    name = country_name(code)
    return code.upper() if name == code.upper() else f"{name} ({code.upper()})"


def country_name(code: str) -> str:
    """A country's name for a two-letter code the question words know (`JP` -> Japan), else the code itself."""
    from heliqa.agent.rules.words import COUNTRIES

    names = [name for name, c in COUNTRIES.items() if c == code.upper() and len(name) > 3]
    return names[0].title() if names else code.upper()
