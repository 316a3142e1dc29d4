"""Hostile data for the output-safety tests: names that try to talk back, and checks of what each surface shows.

The rows come from the project's own generator with their model, user and property names replaced by strings
that would act if shown raw: Slack mentions and links, code fences, terminal escapes (clear screen, OSC window
titles and hyperlinks), bidi overrides, NUL, newlines that forge rows, and a 100,000-character name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from heliqa.tools.demo import generate

ORG = "00000000-0000-4000-8000-0000000bad01"
NOW = "2026-11-24T12:00:00Z"
HOSTILE = {
    "mention": "gpt-5<!everyone>",
    "link": "<https://evil.example|docs>",
    "fence": "x```<!here>```",
    "ansi": "\x1b[2J\x1b[Hcleared",
    "osc": "\x1b]0;owned\x07\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "bidi": "abc\u202eevil\u2066x",
    "nul": "nul\x00byte",
    "newline": "line\nFORGED ROW 999\rcr",
    "amp": "a&b <@U0HOSTILE> <#C0HOSTILE>",
    "long": "L" * 100_000,
}
# What a terminal must never receive from data: controls other than a newline, DEL, C1 and bidi characters.
TERMINAL_BAD = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
LONGEST_RUN = 200  # the 100k name shows at most this many of its characters in a row
SLACK_LIMITS = {
    "text": 4000,
    "section": 3000,
    "context": 3000,
    "header": 150,
    "button": 75,
    "value": 2000,
    "cell": 3000,
    "alt_txt": 1000,
    "title": 250,
}


def hostile_rows(count: int = 400, seed: int = 3, org: str = ORG) -> list[dict[str, Any]]:
    """Generated rows whose model, user and property names cycle through HOSTILE."""
    end = datetime.fromisoformat(NOW.replace("Z", ""))
    rows = list(generate(count, seed=seed, end=end, org=org, days=3))
    names = list(HOSTILE.values())
    for n, row in enumerate(rows):
        name = names[n % len(names)]
        row["model"] = name
        row["user_id"] = name
        row["properties"] = {"feature": name, name[:60]: "v"}
    return rows


def terminal_problems(text: str) -> list[str]:
    """What is wrong with terminal output: an interpretable character, a forged line, an unelided name."""
    problems = [f"raw {m.group()!r}" for m in TERMINAL_BAD.finditer(text)][:3]
    if re.search(r"(?m)^FORGED", text):
        problems.append("a name forged a line")
    if re.search(rf"L{{{LONGEST_RUN},}}", text):
        problems.append("the 100k name is not elided")
    return problems


def slack_text_problems(text: str, limit: int, own: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with one Slack string: markup that Slack would act on, a breakable fence, its length."""
    rest = text
    for span in own:  # heliqa's own mentions (the asker in "asked:")
        rest = rest.replace(span, "")
    problems = []
    if "<" in rest or ">" in rest:
        problems.append(f"unescaped <…> in {text[:80]!r}")
    if re.search(r"&(?!amp;|lt;|gt;)", rest):
        problems.append(f"unescaped & in {text[:80]!r}")
    if text.count("```") not in (0, 2):
        problems.append(f"{text.count('```')} fence marks in {text[:80]!r}")
    if len(text) > limit:
        problems.append(f"{len(text)} characters over {limit}")
    if TERMINAL_BAD.search(text):
        problems.append(f"control or bidi character in {text[:80]!r}")
    return problems


def slack_strings(data: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """Every shown string of one Slack message payload with its limit (text, blocks, buttons, table cells)."""
    if "text" in data:
        yield data["text"] or "", SLACK_LIMITS["text"]
    blocks = data.get("blocks") or []
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert len(blocks) <= 50, "more than 50 blocks"
    for block in blocks:
        kind = block["type"]
        if kind == "section":
            yield block["text"]["text"], SLACK_LIMITS["section"]
        elif kind == "header":
            yield block["text"]["text"], SLACK_LIMITS["header"]
        elif kind == "context":
            assert len(block["elements"]) <= 10
            for element in block["elements"]:
                yield element["text"], SLACK_LIMITS["context"]
        elif kind == "actions":
            for element in block["elements"]:
                yield element["text"]["text"], SLACK_LIMITS["button"]
                assert len(element.get("value", "")) <= SLACK_LIMITS["value"]
        elif kind == "table":
            assert len(block["rows"]) <= 100 and all(len(row) <= 20 for row in block["rows"])
            for row in block["rows"]:
                for cell in row:
                    yield cell["text"], SLACK_LIMITS["cell"]
