"""Renderers: one interface turns an `Answer` into what a surface shows (no heavy imports on the CLI path).

`TextRenderer` writes `heliqa ask`'s plain text, `heliqa.repl.ReplRenderer` the chat's rich output and
`heliqa.slack_render.SlackRenderer` Slack's Block Kit message. Each shows every string that came from data or
from the question through its surface's safety layer (`tools.safetext` for terminals and charts, Slack's
escaping and limits for Slack), so a name is only ever text: never an escape, a mention, a link or a new row.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from heliqa.agent.answer import Answer, bucket_text, fmt
from heliqa.tools.safetext import NAME_LIMIT, shown_name, shown_text, visible
from heliqa.tools.settings import redact

Output = TypeVar("Output", covariant=True)
TEXT_ROWS = 60


class Renderer(Protocol[Output]):
    """Turns an answer into one surface's output."""

    def render(self, answer: Answer) -> Output:
        """The answer as this surface shows it (a question back, a refusal and an error included)."""
        ...


def table(answer: Answer, limit: int = TEXT_ROWS) -> list[list[str]]:
    """Header + rows of the answer as text cells (raw: each surface makes them safe to show)."""
    if answer.cells is not None:
        return answer.cells[: limit + 1]
    q = answer.query
    has_bucket = any(r.bucket is not None for r in answer.rows)
    has_group = any(r.group is not None for r in answer.rows)
    header = (["bucket"] if has_bucket else []) + (["group"] if has_group else []) + ["value"]
    body = []
    for r in answer.rows[:limit]:
        cells = []
        if has_bucket:
            cells.append(bucket_text(r.bucket, q) if r.bucket else "")
        if has_group:
            cells.append(r.group or "")
        cells.append(fmt(r.value, q))
        body.append(cells)
    return [header] + body


def clipped(answer: Answer, limit: int) -> tuple[list[str], list[list[str]], str]:
    """Header, at most `limit` rows (the latest of a time series, else the first), and what was left out."""
    cells = table(answer, limit=len(answer.rows))
    header, body = cells[0], cells[1:]
    if len(body) <= limit:
        return header, body, ""
    series = answer.kind == "aggregate" and any(r.bucket is not None for r in answer.rows)
    kept = body[-limit:] if series else body[:limit]
    return header, kept, f"{'latest' if series else 'first'} {limit} of {len(body)} rows"


def safe_cells(rows: list[list[str]]) -> list[list[str]]:
    """Every cell on one line, controls and bidi visible, long names elided: a cell can't forge a row."""
    return [[shown_name(cell or "") for cell in row] for row in rows]


def render_table(rows: list[list[str]]) -> str:
    """Align cells in columns (values right-aligned)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [c.ljust(w) if i < len(r) - 1 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def data_names(answer: Answer) -> list[str]:
    """The names from data an answer's text may quote (its groups and table cells), longest first."""
    groups = {getattr(r, "group", None) for r in answer.rows}  # a list's rows are requests, not groups
    names = {g for g in groups if isinstance(g, str) and g} | {c for row in answer.cells or [] for c in row if c}
    return sorted(names, key=len, reverse=True)


def names_shown(text: str, answer: Answer) -> str:
    """`text` with each data name in it shown as a cell shows it: a newline inside a name is made visible here,
    where it is still known to be the name's (the message's own newlines stay)."""
    for name in data_names(answer):
        if name in text and (len(name) > NAME_LIMIT or visible(name) != name):
            text = text.replace(name, shown_name(name))
    return text


def terminal_text(text: str, answer: Answer | None = None) -> str:
    """A message for a terminal: secrets hidden, controls and bidi visible (newlines kept), long names elided."""
    return shown_text(redact(names_shown(text, answer) if answer is not None else text))


class TextRenderer:
    """`heliqa ask`: summary, interpreted query and an aligned table, as plain text safe for any terminal."""

    def render(self, answer: Answer) -> str:
        """Summary, interpreted query and table — or the question back / refusal / error."""
        if answer.status != "ok":
            return terminal_text(answer.message)
        out = [terminal_text(answer.message, answer), f"  {terminal_text(answer.interpretation, answer)}"]
        if answer.rows:
            out += ["", render_table(safe_cells(table(answer)))]
            if len(answer.rows) > TEXT_ROWS:
                out.append(f"... {len(answer.rows) - TEXT_ROWS} more rows (use --json for all)")
        return "\n".join(out)
