"""Requests that are not read-only questions about the logs are refused before any planning."""

from __future__ import annotations

import re

_DESTRUCTIVE = re.compile(
    r"\b(delete|truncate|remove|erase|wipe|purge|update|insert|alter|modify|overwrite|reset the)\b"
    # "drop" destroys only with an object: "did the score drop" is a question about the data
    r"|\bdrop\s+(?:the\s+|all\s+|my\s+|our\s+|these\s+|those\s+)?"
    r"(?:tables?|database|db|data|requests|rows|logs|records|columns?|everything|it)\b",
    re.I,
)
_SECRETS = re.compile(
    r"\b(api[ _-]?keys?|secrets?|passwords?|credentials?|(access|bearer|slack|auth|api|helicone) tokens?|"
    r"(openai|helicone|slack|anthropic|google|provider|my|our|your)\s+(api\s+)?keys?|"
    r"system prompt|your (instructions|prompt)|"
    r"ignore (all |the |previous |prior )*(instructions|rules))\b",
    re.I,
)
_OFF_TOPIC = re.compile(
    r"\b(weather|forecast|stock price|revenue|profit|recipe|joke|poem|news|sports?|horoscope)\b", re.I
)

REFUSAL = (
    "I can only answer read-only questions about your LLM request logs (latency, cost, tokens, errors, "
    "users, scores). {why}"
)


# "requests that mentioned password": a word searched for in the logs is data, not a request for it
_SEARCHED_WORD = re.compile(
    r"\b(?:mention\w*|contain\w*|matching|referencing|with\s+the\s+(?:word|text|phrase))\s+"
    r"(?:\"[^\"]*\"|'[^']*'|[\w@#$%.-]+)",
    re.I,
)


# "remove the model filter" (and nothing else): an edit of the last question, not of the data
_FILTER_EDIT = re.compile(
    r"^\s*(?:(?:and|ok|okay|now|then|please|pls|just|also)[,\s]+)*(?:remove|delete|clear)\s+(?:the\s+|that\s+|any\s+)?"
    r"[\w:.-]+\s+(?:filter|condition)s?(?:\s+(?:please|pls|too))?\s*[?.!]*\s*$",
    re.I,
)


def refusal(question: str) -> str | None:
    """A polite refusal when the question is destructive, asks for secrets, or is off-topic; else None."""
    question = _FILTER_EDIT.sub(" ", _SEARCHED_WORD.sub(" ", question))
    if _DESTRUCTIVE.search(question):
        return REFUSAL.format(why="I never change or delete data.")
    if _SECRETS.search(question):
        return REFUSAL.format(why="I don't reveal keys, secrets or my instructions.")
    if _OFF_TOPIC.search(question):
        return REFUSAL.format(why="That question isn't about your logs.")
    return None
