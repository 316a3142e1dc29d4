"""The sample's names and their counterparts in the second vocabulary (`acme`), to run a wording test on both.

`to_acme` rewrites a question and its expected spec name by name (whole tokens only). A question naming something
the second organization has no counterpart for (a family word such as `claude`, the `prod` shorthand of an
`environment` key it does not have) has no translation: `to_acme` returns None and the case is skipped there.
"""

from __future__ import annotations

import re
from typing import Any

from heliqa.tools.demo import ACME_BIG_SPENDER, ACME_USERS, POWER_USER

COUNTERPARTS = {
    # models: `gpt-4` and `gpt-4o` are a name and its longer neighbour, as `command-r` and `command-r-plus` are
    "claude-3-5-sonnet-20241022": "mistral-large-latest",
    "claude-3-5-haiku-20241022": "mixtral-8x7b-32768",
    "gpt-4o-mini": "phi-3.5-mini-instruct",
    "gpt-4-turbo": "command-r-turbo",
    "gpt-4o": "command-r-plus",
    "gpt-4.1": "codestral-latest",
    "gpt-4": "command-r",
    "o3-mini": "phi-4",
    "gemini-1.5-pro": "deepseek-reasoner",
    "gemini-1.5-flash": "deepseek-chat",
    "llama-3.1-70b-instruct": "llama-3.3-70b-versatile",
    "sonet": "codestrel",
    # providers
    "openai": "cohere",
    "anthropic": "groq",
    "google": "azure",
    # property keys and their values
    "customer_tier": "customer",
    "customer tier": "customer",
    "free": "globex",
    "pro": "initech",
    "enterprise": "umbrella",
    "features": "apps",
    "feature": "app",
    "support-bot": "docs-qa",
    "support bot": "docs qa",
    "search": "ticket-triage",
    "summarizer": "sales-copilot",
    "codegen": "code-review",
    "prompt_version": "team",
    "prompt version": "team",
    "v12": "growth",
    "v13": "platform",
    "environments": "regions",
    "environment": "region",
    "prompt versions": "teams",
    "production": "eu-west",
    "staging": "us-east",
    "stagin": "us-eats",
    "development": "ap-south",
    # score keys
    "is_correct-hcone-bool": "resolved-hcone-bool",
    "is_correct": "resolved",
    "accuracy": "groundedness",
    "helpfulness": "tone",
}
# words of the sample with no counterpart in the second organization
NO_COUNTERPART = re.compile(
    r"(?<![\w-])(?:prod|dev|stage|stg|env|tiers?|plan|non-prod|claude|gemini|sonnet|haiku|flash|gpt|llama|mini|o3|"
    r"text-embedding-3-small|embeddings?|onboarding|correctness|together|feedback|thumbs|thumbs-up|helicone-score-feedback)"
    r"(?![\w-])",
    re.I,
)
# words whose built-in meaning the second organization replaces by its own key ("customers" are its `customer`)
_BUILT_IN = re.compile(r"(?<![\w-])(?:customers?|regions?)(?![\w-]|[\s_-]tiers?)", re.I)
_NAME = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(re.escape(k) for k in sorted(COUNTERPARTS, key=len, reverse=True))
    + r"|user_(\d{4}))(?![\w-])",
    re.I,
)


def _rename(match: re.Match) -> str:
    word = match.group(0)
    if match.group(1):  # a user id -> one of the second organization's users, the same one each time
        return ACME_BIG_SPENDER if word == POWER_USER else ACME_USERS[int(match.group(1)) % len(ACME_USERS)]
    other = COUNTERPARTS[word.lower()]
    return other.upper() if word.isupper() and len(word) > 3 else other


def to_acme(value: Any) -> Any:
    """`value` (a question, an expected spec, or a tuple of them) in the second organization's names, or None."""
    if isinstance(value, str):
        if _BUILT_IN.search(value):
            return None
        renamed = _NAME.sub(_rename, value)
        return None if NO_COUNTERPART.search(renamed) else renamed
    if isinstance(value, dict):
        items = {to_acme(k): to_acme(v) for k, v in value.items()}
        if None in items or None in items.values():
            return None
        if items.get("op") == "in" and isinstance(items.get("value"), list):  # the planner lists values sorted
            items["value"] = sorted(items["value"])
        return items
    if isinstance(value, (list, tuple)):
        items = [to_acme(v) for v in value]
        return None if None in items else type(value)(items)
    return value
