"""Slack's renderer: an `Answer` as Block Kit blocks plus the fallback text, every data string made inert.

Slack reads `<…>` in mrkdwn as mentions and links (`<!everyone>`, `<https://x|docs>`) and triple backticks as
a code fence, so every string that came from data or from the question is escaped (`&`, `<`, `>`), loses its
backticks to a lookalike (a name cannot close the table's fence), shows its control and bidi characters, and
is elided to fit: each block stays within Slack's documented limits (`LIMITS`), long names lose their middle.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from heliqa.agent.answer import Answer
from heliqa.render import clipped, names_shown, render_table
from heliqa.tools.safetext import ELLIPSIS, elide, long_words_elided, shown_name, visible
from heliqa.tools.settings import redact as redact_secrets
from heliqa.tools.settings import settings as heliqa_settings

TABLE_ROWS = 15
SHOW_REQUEST = "heliqa_show_request"
OPEN_DASHBOARD = "heliqa_open_dashboard"
# Block Kit's limits (api.slack.com/reference/block-kit): characters per text, items per container.
LIMITS = {
    "message_text": 4000,  # Slack truncates a message's `text` past 40,000; 4,000 is its advice for readability
    "section_text": 3000,
    "header_text": 150,
    "context_text": 3000,
    "context_elements": 10,
    "button_text": 75,
    "button_value": 2000,
    "button_url": 3000,
    "actions_elements": 25,
    "table_rows": 100,
    "table_columns": 20,
    "table_cell": 3000,
    "blocks": 50,
    "alt_text": 1000,
}
RIGHT_ALIGNED = {
    "value",
    "current",
    "previous",
    "change",
    "latency",
    "tokens",
    "cost",
    "of bad requests",
    "of baseline",
    "lift",
}
_LOOKALIKE_BACKTICK = "ˋ"  # U+02CB: reads as a backtick, never opens or closes a code span or fence
_LOOKALIKE_BAR = "\u2223"  # ∣ DIVIDES: reads as a bar inside a link's text
_URL_KEPT = ":/?#[]@!$&'()*+,;=%~-._"  # RFC 3986 reserved and unreserved (and %): the rest is percent-encoded


def dashboard_url(backend: str) -> str | None:
    """Helicone's dashboard for links: the configured URL, else (for the Helicone backend) its EU or US one."""
    configured = heliqa_settings().helicone_dashboard_url
    if backend != "helicone":
        return configured or None
    eu = "eu." in (heliqa_settings().helicone_base_url or "")
    return configured or ("https://eu.helicone.ai/dashboard" if eu else "https://us.helicone.ai/dashboard")


def redact(text: str) -> str:
    """heliqa.tools.settings.redact with Slack's mask, `[redacted]`."""
    return redact_secrets(text, "[redacted]")


def escape(text: str) -> str:
    """Slack mrkdwn escaping, so `<!channel>` in a question or a model name stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inert(text: str) -> str:
    """A string from data or the question as Slack may show it: no markup, no fence, no secret, no controls."""
    text = visible(long_words_elided(redact(text)), keep_newlines=True)
    return escape(text.replace("`", _LOOKALIKE_BACKTICK))


def link(url: str, text: str) -> str:
    """A mrkdwn link `<url|text>` that nothing in either can break or turn into a mention: the URL's spaces, `<`,
    `>`, `|` and other unsafe characters percent-encoded and its `&` written `&amp;`, as Slack asks; the text inert,
    on one line, its `|` a lookalike (the first `|` ends the URL; later ones are best not tested)."""
    safe = urllib.parse.quote(url, safe=_URL_KEPT).replace("&", "&amp;")
    shown = inert(" ".join(text.split())).replace("|", _LOOKALIKE_BAR)
    return f"<{safe}|{shown}>"


def capped(text: str, limit: int) -> str:
    """Escaped text cut to `limit` characters, never inside an entity (`&lt;` is kept whole or dropped)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def fenced(text: str, limit: int) -> str:
    """Code-fenced text of at most `limit` characters whose fence survives the cut."""
    return "```" + capped(text, limit - 6) + "```"


@dataclass
class SlackMessage:
    """What one Slack reply carries: the fallback text (notifications, screen readers) and the blocks."""

    text: str
    blocks: list[dict] | None = None


def request_json(answer: Answer) -> dict[str, Any]:
    """What the 'request JSON' button shows: the query that ran and, when there is one, Helicone's body."""
    data = answer.to_json()
    return {k: data[k] for k in ("request", "helicone_request") if data.get(k) is not None}


def table_text(answer: Answer, limit: int = TABLE_ROWS) -> str:
    """A compact monospace table: the latest rows of a time series, the first rows otherwise."""
    header, body, note = clipped(answer, limit)
    note = f"\n{note}; the request JSON has the query" if note else ""
    # aligned on what Slack shows (an entity is one character wide), then escaped
    plain = [[shown_name(redact(c or "")).replace("`", _LOOKALIKE_BACKTICK) for c in row] for row in [header, *body]]
    return fenced(escape(render_table(plain)), LIMITS["section_text"] - len(note)) + note


def table_block(cells: list[list[str]], limit: int = TABLE_ROWS) -> dict:
    """A Block Kit table (header row first): the drivers of an explanation, the requests of a list, a comparison."""
    width = min(len(cells[0]), LIMITS["table_columns"])
    rows = [
        [
            {"type": "raw_text", "text": capped(inert(shown_name(cell or "")), LIMITS["table_cell"]) or " "}
            for cell in row[:width]
        ]
        for row in cells[: min(limit, LIMITS["table_rows"] - 1) + 1]
    ]
    return {
        "type": "table",
        "block_id": "table",
        "rows": rows,
        "column_settings": [{"align": "right" if name in RIGHT_ALIGNED else "left"} for name in cells[0][:width]],
    }


def button(action_id: str, text: str, **more: str) -> dict:
    """A button whose text, value and URL fit Slack's limits."""
    out = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": elide(text, 75)}}
    if "value" in more:
        out["value"] = more["value"][: LIMITS["button_value"]]
    if "url" in more:
        out["url"] = more["url"][: LIMITS["button_url"]]
    return out


class SlackRenderer:
    """An answer as a Slack message: summary, interpretation, table and buttons (or plain text when not ok)."""

    def __init__(self, backend: str, dashboard_url: str | None = None):
        self.backend = backend
        self.dashboard_url = dashboard_url

    def render(self, answer: Answer, request_value: str = "") -> SlackMessage:
        """The whole message for an answer; a question back, a refusal and an error are plain text."""
        if answer.status == "error":
            return SlackMessage(
                capped(
                    f":warning: I couldn't answer that: {inert(answer.message)}\n"
                    "Check the names and the time range, or send `help` for example questions.",
                    LIMITS["message_text"],
                )
            )
        if answer.status != "ok":
            return SlackMessage(self.text(answer.message))
        return SlackMessage(self.text(names_shown(answer.message, answer)), self.blocks(answer, request_value))

    def text(self, text: str) -> str:
        """A data-bearing text as a message's `text` (or a reply of its own)."""
        return capped(inert(text), LIMITS["message_text"])

    def blocks(self, answer: Answer, request_value: str) -> list[dict]:
        """Headline summary, interpreted query as context, a compact table, and the buttons."""
        planner = answer.planner or "rules"
        summary = capped(inert(names_shown(answer.message, answer)), LIMITS["section_text"])
        interpretation = inert(names_shown(answer.interpretation, answer))
        context = f":mag: {interpretation}  ·  {planner} planner · {self.backend} backend"
        blocks: list[dict] = [
            {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": summary}},
            {
                "type": "context",
                "block_id": "interpretation",
                "elements": [{"type": "mrkdwn", "text": capped(context, LIMITS["context_text"])}],
            },
        ]
        if answer.cells is not None and len(answer.cells) > 1:
            blocks.append(table_block(answer.cells))
        elif answer.rows:
            text = {"type": "mrkdwn", "text": table_text(answer)}
            blocks.append({"type": "section", "block_id": "table", "text": text})
        buttons = [button(SHOW_REQUEST, "Show request JSON", value=request_value)]
        if self.dashboard_url:
            buttons.append(button(OPEN_DASHBOARD, "Open Helicone dashboard", url=self.dashboard_url))
        blocks.append({"type": "actions", "block_id": "actions", "elements": buttons})
        return blocks


def request_text(value: str) -> str:
    """The 'Show request JSON' reply: the stored request, pretty-printed, escaped and fenced within limits."""
    text = json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    return fenced(inert(text), LIMITS["message_text"])


def answer_blocks(answer: Answer, backend: str, request_value: str, dashboard_url: str | None) -> list[dict]:
    """The blocks of an ok answer (SlackRenderer's, kept as a function for callers that have no renderer)."""
    return SlackRenderer(backend, dashboard_url).blocks(answer, request_value)
