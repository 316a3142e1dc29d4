"""`heliqa chat`: questions and follow-ups in a terminal (prompt_toolkit), or read line by line when scripted."""

from __future__ import annotations

import json
import sys
import threading
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from heliqa.agent.answer import Answer, bucket_text, fmt
from heliqa.agent.conversation import Conversation
from heliqa.agent.planner import EXAMPLES
from heliqa.render import clipped
from heliqa.tools.settings import redact

PROMPT = "heliqa> "
TABLE_ROWS = 40
MAX_SPARKLINES = 8
BARS = "▁▂▃▄▅▆▇█"
COMMANDS = {
    "/json": "the last answer in the --json shape",
    "/explain": "how the last question was understood: the query spec and the request that ran",
    "/reset": "forget the previous question (the next one is not a follow-up)",
    "/help": "this help",
    "/quit": "leave (also /exit, Ctrl-D)",
}
STYLES = {"clarify": "yellow", "unsupported": "yellow", "error": "bold red"}


def sparkline(values: list[float | None], width: int) -> str:
    """Values as block characters, averaged into at most `width` cells; gaps stay blank."""
    if len(values) > width > 0:
        size = len(values) / width
        bins = [values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)] for i in range(width)]
        values = [None if not (b := [v for v in chunk if v is not None]) else sum(b) / len(b) for chunk in bins]
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    return "".join(" " if v is None else BARS[round((v - low) / span * (len(BARS) - 1))] for v in values)


class Repl:
    """One chat session: runs questions through a Conversation and prints answers with rich."""

    def __init__(self, conversation: Conversation, console: Console, raw_out: TextIO | None = None):
        self.conversation = conversation
        self.console = console
        self.raw_out = raw_out or sys.stdout
        self.last: Answer | None = None

    def handle(self, line: str) -> bool:
        """Run one input line (a question or a /command); False when the session should end."""
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return self.command(line.split()[0].lower())
        try:
            self.last = self.conversation.ask(line)
        except KeyboardInterrupt:
            self.console.print("(interrupted)", style="dim")
            return True
        except Exception as error:  # never drop the user out of a session with a traceback
            self.console.print(
                f"internal error: {type(error).__name__}: {redact(str(error))}", style="bold red", markup=False
            )
            return True
        self.show(self.last)
        return True

    def command(self, name: str) -> bool:
        """Handle /json, /explain, /reset, /help and /quit."""
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/help":
            self.help()
        elif name == "/reset":
            self.conversation.reset()
            self.console.print("Forgot the previous question; the next one starts fresh.", style="dim")
        elif name in ("/json", "/explain"):
            if self.last is None:
                self.console.print("No answer yet: ask a question first.", style="yellow")
            elif name == "/json":
                self.json(self.last.to_json())
            else:
                self.explain(self.last)
        else:
            self.console.print(f"Unknown command {name}; /help lists the commands.", style="yellow", markup=False)
        return True

    def help(self) -> None:
        grid = Table.grid(padding=(0, 2))
        for name, what in COMMANDS.items():
            grid.add_row(Text(name, style="bold"), what)
        self.console.print("Ask about your LLM traffic, then follow up (e.g. 'now by hour', 'what about gpt-4o?').")
        self.console.print("Examples:\n" + "\n".join(f"  {e}" for e in EXAMPLES), markup=False)
        self.console.print(grid)

    def json(self, data: dict) -> None:
        """Pretty JSON on a terminal; plain, unwrapped JSON when scripted (so it can be parsed)."""
        if self.console.is_terminal:
            self.console.print_json(data=data)
        else:
            self.raw_out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            self.raw_out.flush()

    def explain(self, answer: Answer) -> None:
        if answer.query is None:
            self.console.print(f"The last question did not run a query ({answer.status}).", style="yellow")
            return
        self.console.print(Text(answer.interpretation, style="cyan"))
        self.console.print(f"planner: {answer.planner or 'rules'} · time zone: {answer.tz}", style="dim")
        self.console.print("query spec (what was understood):", style="bold")
        self.json(answer.spec.model_dump(mode="json", exclude_none=True) if answer.spec else {})
        self.console.print("request (what ran):", style="bold")
        self.json({k: v for k, v in answer.to_json().items() if k in ("request", "helicone_request")})

    def show(self, answer: Answer) -> None:
        """Summary, interpretation, sparklines for time series, and a table."""
        if answer.status != "ok":
            self.console.print(answer.message, style=STYLES.get(answer.status), markup=False)
            return
        self.console.print(Text(answer.message, style="bold"))
        self.console.print(Text(answer.interpretation, style="dim"))
        if answer.kind == "explain" and answer.detail is not None and answer.detail.window is not None:
            self.window_sparkline(answer)
        elif answer.kind in ("aggregate", "compare") and any(r.bucket is not None for r in answer.rows):
            self.sparklines(answer)
        if answer.rows:
            self.table(answer)

    def sparklines(self, answer: Answer) -> None:
        q = answer.query
        groups = sorted({r.group for r in answer.rows}, key=lambda g: (g is None, g or ""))
        label_width = min(max(len(g or "") for g in groups), 24)
        width = max(self.console.width - label_width - 30, 10)
        self.console.print()
        for group in groups[:MAX_SPARKLINES]:
            series = sorted((r for r in answer.rows if r.group == group and r.bucket), key=lambda r: r.bucket)
            known = [r.value for r in series if r.value is not None]
            if not known:
                continue
            line = Text((group or "")[:label_width].ljust(label_width) + " " if label_width else "")
            line.append(sparkline([r.value for r in series], width), style="green")
            line.append(f"  {fmt(min(known), q)} – {fmt(max(known), q)}", style="dim")
            self.console.print(line)
        if len(groups) > MAX_SPARKLINES:
            self.console.print(f"(+{len(groups) - MAX_SPARKLINES} more series in the table)", style="dim")
        first, last = answer.rows[0].bucket, max(r.bucket for r in answer.rows if r.bucket)
        span = f"{bucket_text(first, q)} → {bucket_text(last, q)}" if first else ""
        if span:
            self.console.print(Text((" " * (label_width + 1) if label_width else "") + span, style="dim"))

    def window_sparkline(self, answer: Answer) -> None:
        """The explained series over the range, with the window marked underneath."""
        e = answer.detail
        points = [p for p in e.series if p.in_range]
        width = max(self.console.width - 30, 10)
        self.console.print()
        self.console.print(Text(sparkline([p.value for p in points], width), style="green"))
        if len(points) <= width:  # one character per bucket: mark the window's under the line
            marks = "".join("^" if e.window[0] <= p.bucket < e.window[1] else " " for p in points)
            self.console.print(Text(marks.rstrip() + "  window", style="red"))

    def table(self, answer: Answer) -> None:
        header, body, note = clipped(answer, TABLE_ROWS)
        note = f"{note}; /json shows all" if note else ""
        grid = Table(show_edge=False, box=None, header_style="bold", pad_edge=False)
        for n, name in enumerate(header):
            grid.add_column(name, justify="right" if n == len(header) - 1 else "left")
        for row in body:
            grid.add_row(*row)
        self.console.print()
        self.console.print(grid)
        if note:
            self.console.print(note, style="dim")


def _history_session():
    """A prompt_toolkit session with persistent history under HELIQA_HOME, suggestions and /command completion."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    from heliqa.tools.store import default_home

    try:
        home = default_home()
        home.mkdir(parents=True, exist_ok=True)
        history = FileHistory(str(home / "chat_history"))
    except OSError:  # a read-only home still gets a working session
        history = InMemoryHistory()
    commands = WordCompleter(list(COMMANDS) + ["/exit"], sentence=True, pattern=None)
    return PromptSession(
        history=history,
        auto_suggest=AutoSuggestFromHistory(),
        completer=commands,
        complete_while_typing=False,
        enable_history_search=True,
    )


def main(args) -> int:
    """`heliqa chat`: interactive on a terminal, line by line from a pipe."""
    from heliqa.agent.factory import make_planner, narrator_for, warm_up
    from heliqa.agent.timerange import instant, zone
    from heliqa.tools.backends import open_backend

    planner = make_planner(args.planner)
    conversation = Conversation(
        open_backend(args.backend), planner, args.org, zone(args.tz), instant(args.now), narrator_for(planner)
    )
    org = conversation.org  # fail now, with the store's own hint, rather than on the first question
    # the LLM client (when configured) loads while the user types the first question
    threading.Thread(target=warm_up, args=(conversation.planner,), name="heliqa-warm-up", daemon=True).start()
    console = Console(highlight=False)
    repl = Repl(conversation, console)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        for line in sys.stdin:
            if not repl.handle(line):
                break
            if line.strip():
                console.print()
        return 0
    tz = getattr(conversation.tz, "key", str(conversation.tz))
    console.print(f"heliqa chat · organization {org} · {tz} · /help for commands, Ctrl-D to leave", style="dim")
    session = _history_session()
    while True:
        try:
            line = session.prompt(PROMPT)
        except KeyboardInterrupt:  # Ctrl-C clears the line, as in a shell
            continue
        except EOFError:
            return 0
        if not repl.handle(line):
            return 0
        console.print()
