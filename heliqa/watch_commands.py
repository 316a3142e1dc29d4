"""Watch commands said to the Slack app: `watch <words>`, `mute <monitor> 2h`, `watches`, `unwatch <monitor>`,
`rewatch <monitor>`. They act on the files `heliqa watch` reads beside the store, so a running watcher obeys them
at its next evaluation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from heliqa.tools.monitors import duration, duration_text
from heliqa.tools.watch_state import Mutes, read_json, state_paths
from heliqa.watch_post import escape

_MUTE = re.compile(r"^mute\s+(.+?)\s+(?:for\s+)?(\S+)$", re.IGNORECASE)
_ONE = re.compile(r"^(unmute|unwatch|rewatch)\s+(.+)$", re.IGNORECASE)


def home_of(backend: Any) -> Path:
    """The folder holding the watcher's files: the embedded store's, else heliqa's home."""
    from heliqa.tools.store import default_home

    path = getattr(backend, "path", None)
    return Path(path).parent if path is not None else default_home()


def _known(home: Path) -> dict[str, str]:
    """Monitor name -> description, as the watcher last recorded them."""
    state_path, _ = state_paths(home)
    return {m["name"]: m.get("describe", "") for m in read_json(state_path).get("monitors", [])}


def _name(text: str, known: dict[str, str]) -> tuple[str | None, str]:
    """The monitor a command names (backticks or quotes around it allowed), or None and the reply saying why."""
    name = text.strip().strip("`\"'“”")
    if not known:
        return None, "No monitors yet: start `heliqa watch` first."
    if name in known:
        return name, ""
    folded = {k.lower(): k for k in known}
    if name.lower() in folded:
        return folded[name.lower()], ""
    return None, f"No monitor named “{escape(name)}”. Say `watches` for the list."


def add(words: str, backend: Any, planner: Any, org: str | None) -> str:
    """`watch p95 latency for gpt-4 above 5 s`: the monitor appended to `monitors.toml` beside the store."""
    from zoneinfo import ZoneInfo

    from heliqa.agent.planner import Context
    from heliqa.agent.watch_words import NotAMonitor, monitor_from_words, to_toml
    from heliqa.tools.monitors import check_text

    path = home_of(backend) / "monitors.toml"
    ctx = Context(datetime.now(UTC), ZoneInfo("UTC"), backend.vocabulary(backend.resolve_org(org)))
    try:
        monitor = monitor_from_words(words, planner, ctx)
    except NotAMonitor as error:
        return f"That is not a monitor I can watch: {escape(str(error))}"
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    text = before + ("\n\n" if before else "") + to_toml(monitor)
    _, problems = check_text(text)
    if problems:
        return f"Not added: {escape('; '.join(problems))}"
    path.write_text(text, encoding="utf-8")
    described = f"*{escape(monitor.name)}*: {escape(monitor.describe())}"
    return f"Watching {described}; a running `heliqa watch` takes it up at its next cycle."


def reply(
    text: str, backend: Any, planner: Any = None, org: str | None = None, now: datetime | None = None
) -> str | None:
    """The reply to a watch command, or None when `text` is not one (then it is a question). With a planner,
    `watch WORDS` adds a monitor."""
    text = text.strip()
    home = home_of(backend)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    mutes = Mutes(state_paths(home)[1])
    if planner is not None and text.lower().startswith("watch "):
        return add(text[6:], backend, planner, org)
    if text.lower() in ("watches", "monitors", "list watches"):
        known = _known(home)
        if not known:
            return "No monitors yet: start `heliqa watch` first."
        off = mutes.unwatched()
        lines = []
        for name, text_ in known.items():
            until = mutes.muted_until(name, now)
            note = " (unwatched)" if name in off else f" (muted until {until:%b %d %H:%M} UTC)" if until else ""
            lines.append(f"• *{name}*: {text_}{note}")
        return "Watching:\n" + "\n".join(lines)
    if match := _MUTE.match(text):
        name, problem = _name(match[1], _known(home))
        if name is None:
            return problem
        try:
            span = duration(match[2])
        except ValueError as error:
            return f"{escape(str(error))}. Say e.g. `mute {name} 2h`."
        mutes.mute(name, now + span)
        return f"Muted *{name}* for {duration_text(span)} (until {now + span:%b %d %H:%M} UTC)."
    if match := _ONE.match(text):
        action = match[1].lower()
        name, problem = _name(match[2], _known(home))
        if name is None:
            return problem
        if action == "unwatch":
            mutes.unwatch(name)
            return f"Stopped watching *{name}*. Say `rewatch {name}` to start again."
        mutes.rewatch(name)
        return f"*{name}* is watched again, unmuted."
    return None
