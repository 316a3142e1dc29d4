"""Plain-text rendering of answers for the terminal (no heavy imports on the CLI path)."""

from __future__ import annotations

from heliqa.agent.answer import Answer, bucket_text, fmt


def table(answer: Answer, limit: int = 60) -> list[list[str]]:
    """Header + rows of the answer as text cells."""
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


def render_answer(answer: Answer) -> str:
    """Summary, interpreted query and table — or the question back / refusal / error."""
    if answer.status != "ok":
        return answer.message
    out = [answer.message, f"  {answer.interpretation}"]
    if answer.rows:
        out += ["", render_table(table(answer))]
        if len(answer.rows) > 60:
            out.append(f"... {len(answer.rows) - 60} more rows (use --json for all)")
    return "\n".join(out)
