"""Text that came from data or from a question, made safe to show: never interpreted, never unbounded.

A model, user or property name is whatever an organization's traffic put there: a terminal escape, a bidi
override, a NUL, a newline, 100,000 characters. Each surface shows such a string through these helpers (the
Slack and terminal renderers, the chart labels, the LLM prompt), so nothing in it acts as a control sequence
and nothing in it outgrows its place.
"""

from __future__ import annotations

import json
import re

NAME_LIMIT = 80  # characters of a name shown in a message, a table cell, a chart label or a prompt
LINE_LIMIT = 1000  # characters of one line of a message (a sentence naming many long names)
ELLIPSIS = "…"
# Bidi embeddings, overrides and isolates, the marks, and the line/paragraph separators: shown, never applied.
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
_BIDI = re.compile(f"[{BIDI}]")
# C0 and C1 controls and DEL; a newline is kept only where a caller allows it (a multi-line message).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_LONG_WORD = re.compile(rf"\S{{{NAME_LIMIT + 1},}}")


def elide(text: str, limit: int = NAME_LIMIT) -> str:
    """`text` cut to at most `limit` characters by dropping its middle (`gpt-4o-…-2024-08-06`)."""
    if len(text) <= limit:
        return text
    keep = max(limit - len(ELLIPSIS), 2)
    head = (keep + 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (keep - head) :]


def _shown(char: str, pictures: bool = True) -> str:
    code = ord(char)
    if not pictures and (code < 0x20 or 0x7F <= code <= 0x9F):
        return f"\\x{code:02x}"  # for fonts without the Control Pictures block (charts)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␛ for ESC, ␊ for a newline, ␀ for NUL
    if code == 0x7F:
        return "␡"
    return f"⟨U+{code:04X}⟩"


def visible(text: str, keep_newlines: bool = False, pictures: bool = True) -> str:
    """`text` with control and bidi characters replaced by visible stand-ins (ESC becomes ␛, or `\\x1b` without
    `pictures`; U+202E becomes `⟨U+202E⟩`)."""
    pattern = _CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL
    text = pattern.sub(lambda m: _shown(m.group(), pictures), text)
    return _BIDI.sub(lambda m: _shown(m.group()), text)


def long_words_elided(text: str, limit: int = NAME_LIMIT) -> str:
    """`text` with every run of more than `limit` non-space characters elided in its middle (a name in a sentence)."""
    return _LONG_WORD.sub(lambda m: elide(m.group(), limit), text)


def shown_name(name: str, limit: int = NAME_LIMIT) -> str:
    """One name as a cell or a label shows it: on one line, controls visible, at most `limit` characters."""
    return visible(elide(name, limit))


def shown_text(text: str, limit: int | None = None) -> str:
    """A message that may carry names: lines kept, controls visible, long names (and past `limit`, the text) elided."""
    lines = [elide(line, LINE_LIMIT) for line in visible(long_words_elided(text), keep_newlines=True).split("\n")]
    text = "\n".join(lines)
    return text if limit is None else elide(text, limit)


def quoted(name: str, limit: int = NAME_LIMIT) -> str:
    """A name as data inside a prompt: a JSON string (newlines and quotes escaped), elided, bidi escaped."""
    text = json.dumps(elide(name, limit), ensure_ascii=False)
    return _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_text(data: object, indent: int | None = 2) -> str:
    """`data` as JSON for a terminal: the values exact, bidi characters written as `\\u` escapes (JSON escapes
    control characters itself), so a name cannot reorder what is shown around it."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    return _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
