"""Watch commands said to the Slack app: `watch <words>`, `mute <monitor> 2h`, `watches`, `unwatch <monitor>`,
`rewatch <monitor>`, and the same of a digest: `mute digest [LABEL] 1d`, `unmute|unwatch|rewatch digest [LABEL]`.
They act on the files `heliqa watch` reads beside the store, so a running watcher obeys them at its next evaluation.
`heliqa watch mute digest …` (heliqa/watch.py) runs the same digest commands (`digest_command`).

A digest is called by its label: its `name`, else how often it posts when no other digest posts as often
(`daily`), else how often and where (`daily C0123456`); with one digest the label may be left out."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from heliqa.tools.errors import ConfigError, HeliqaError
from heliqa.tools.monitors import duration, duration_text
from heliqa.tools.safetext import visible
from heliqa.tools.watch_state import Mutes, read_json, state_paths
from heliqa.watch_post import escape

_SPAN = r"(?:\d+\s*(?:m|mins?|minutes?|h|hrs?|hours?|d|days?)\b\s*)+|(?:an?|one)\s+(?:minute|hour|day)\b|\S+"
MUTE = re.compile(rf"^mute\s+(.+?)\s+(?:for\s+)?({_SPAN})$", re.IGNORECASE)
_ONE = re.compile(r"^(unmute|unwatch|rewatch|stop watching)\s+(.+)$", re.IGNORECASE)
_CHANNEL_REF = re.compile(r"<#(\w+)(?:\|[^>]*)?>")  # Slack sends a typed `#ops` as <#C0123|ops>
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
# "alert me if …", "page us when …": a monitor asked for without `watch` ("tell me when" may ask a question)
_ALERT = re.compile(
    r"^(?:please\s+)?(?:alert|page|notify|ping|warn)\s+(?:me|us|on-?call|the team)\s+(?:if|when|whenever)\b", re.I
)
LISTS = ("watches", "monitors", "list watches", "digests", "list digests")


def home_of(backend: Any) -> Path:
    """The folder holding the watcher's files: the embedded store's, else heliqa's home."""
    from heliqa.tools.store import default_home

    path = getattr(backend, "path", None)
    return Path(path).parent if path is not None else default_home()


def known_monitors(home: Path) -> dict[str, str]:
    """Monitor name -> description, as the watcher last recorded them, then those of `monitors.toml` beside the
    store it has not evaluated yet (one just added in words can be muted or unwatched at once)."""
    state_path, _ = state_paths(home)
    known = {m["name"]: m.get("describe", "") for m in read_json(state_path).get("monitors", [])}
    path = home / "monitors.toml"
    if path.exists():
        from heliqa.tools.monitors import load

        try:
            declared = load(path).monitors()
        except ConfigError:
            declared = []
        known.update({m.name: m.describe() for m in declared if m.name not in known})
    return known


def known_digests(home: Path) -> list[dict[str, str]]:
    """The digests as the watcher last recorded them (`digest_entries`), else as `monitors.toml` beside the store
    declares them (no watcher has run here yet)."""
    recorded = read_json(state_paths(home)[0]).get("digest_list")
    if isinstance(recorded, list):
        return recorded
    path = home / "monitors.toml"
    if not path.exists():
        return []
    from heliqa.tools.monitors import load
    from heliqa.watch_digest import digest_entries

    try:
        return digest_entries(load(path))
    except ConfigError:
        return []


_THIS = re.compile(r"^(?:this|it|this one|this (?:monitor|alert|incident))$", re.IGNORECASE)


def thread_monitor(home: Path, where: tuple[str, str] | None) -> str | None:
    """The monitor whose incident was posted as message `where` = (channel, ts), else None (`mute this 2h` in
    an incident's thread)."""
    if where is None:
        return None
    threads = read_json(state_paths(home)[0]).get("threads", {})
    channel, ts = where
    found = [incident for incident, posts in threads.items() if isinstance(posts, dict) and posts.get(channel) == ts]
    return found[0].split("|", 1)[0] if found else None


def _target(target: str, known: dict[str, str], meant, this: str | None) -> tuple[str | None, str]:
    """The monitor a command's object names: `this` in an incident's thread, else by name or words."""
    if _THIS.match(target.strip()):
        if this is not None:
            return this, ""
        return None, "Which monitor? In an incident's thread `mute this 2h` mutes its monitor; elsewhere say its name."
    return monitor_named(target, known, meant)


_CALLED = re.compile(r"^(?:the\s+)?(.+?)(?:\s+(?:monitor|alert|watch))?$", re.IGNORECASE)


def monitor_named(
    text: str,
    known: dict[str, str],
    meant: Callable[[str], str | None] | None = None,
    show: Callable = escape,
    slack: bool = True,
) -> tuple[str | None, str]:
    """The monitor a command names (backticks or quotes around it allowed; `the NAME monitor` too), else the one
    whose description the words give (`meant`: the words' monitor described), or None and the reply saying why
    (each value passed through `show`: Slack's escaping, or the terminal's; `slack` False: the reply points at no
    Slack command)."""
    name = text.strip().strip("`\"'“”")
    if not known:
        return None, "No monitors yet: start `heliqa watch` first."
    folded = {k.lower(): k for k in known}
    for said in (name, _CALLED.match(name)[1].strip("`\"'“”") if name else name):
        if said in known:
            return said, ""
        if said.lower() in folded:
            return folded[said.lower()], ""
    described = meant(name) if meant is not None and name else None
    found = [k for k, text in known.items() if described and text == described]
    if len(found) == 1:
        return found[0], ""
    names = ", ".join(f"`{show(_flat(k))}`" for k in list(known)[:8]) + (", …" if len(known) > 8 else "")
    if len(found) > 1:
        return None, f"“{show(name)}” describes several monitors: say one of {names}."
    if not slack:
        return None, f"No monitor named “{show(name)}”. Say one of {names}" + (
            f" ({len(known)} in all)." if len(known) > 8 else "."
        )
    return None, f"No monitor named “{show(name)}”. Say one of {names}, or `watches` for the list."


def span_words(text: str) -> str:
    """A mute's length as said (`2h`, `2 hours`, `for an hour`, `30 min`) in the duration form (`2h`, `30m`)."""
    said = re.sub(r"^for\s+", "", text.strip(), flags=re.IGNORECASE)
    said = re.sub(r"^(?:an?|one)\s+(?=[a-z])", "1 ", said, flags=re.IGNORECASE)
    return re.sub(
        r"(\d+)\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?)\b",
        lambda m: m[1] + m[2][0].lower(),
        said,
        flags=re.IGNORECASE,
    )


# --- digests -------------------------------------------------------------------------------------------------
def _folded(text: str) -> str:
    """Lower case, single spaces, a channel reference (`<#C0123|ops>`, `#C0123`) as the bare channel."""
    return " ".join(_CHANNEL_REF.sub(r"\1", text).replace("#", "").lower().split())


def _calls(entry: dict[str, str]) -> set[str]:
    """What a command may call a digest: its label, its name, how often (several may answer), or how often and where."""
    names = (entry["label"], entry.get("name"), entry["every"], f"{entry['every']} {entry['channel']}")
    return {_folded(n) for n in names if n}


def digest_words(target: str, known: dict[str, str]) -> str | None:
    """The label after `digest` when a command's object (`digest daily`, `digest`) names a digest, else None. A
    monitor whose name begins with `digest` is meant when there is one so named."""
    words = target.split(maxsplit=1)
    if not words or words[0].lower() not in ("digest", "digests"):
        return None
    if _folded(target) in {_folded(name) for name in known}:
        return None
    return words[1] if len(words) > 1 else ""


def find_digest(
    said: str, digests: list[dict[str, str]], show: Callable[[str], str] = visible
) -> tuple[dict[str, str] | None, str]:
    """The digest `said` calls (nothing: the only one), or None and why, listing every label; each value in the
    reply passed through `show` (Slack's escaping, or the terminal's)."""
    if not digests:
        return None, "No digests are watched: add a `[[digest]]` to monitors.toml and start `heliqa watch`."
    wanted = _folded(said.strip().strip("`\"'“”"))
    if not wanted and len(digests) == 1:
        return digests[0], ""
    found = [e for e in digests if wanted and wanted in _calls(e)]
    if len(found) == 1:
        return found[0], ""
    shown = show(" ".join(said.split())[:80])
    why = f"“{shown}” could be several digests." if found else f"No digest called “{shown}”."
    labels = ", ".join(f"`{show(e['label'])}`" for e in digests)
    example = f"`mute digest {show(digests[0]['label'])} 1d`"
    return None, f"{why if wanted else 'Which digest?'} Say one of {labels}, e.g. {example}."


def digest_command(
    action: str, said: str, span: str | None, home: Path, now: datetime, show: Callable[[str], str] = visible
) -> tuple[bool, str]:
    """`mute digest [LABEL] 1d` (`span` its duration), `unmute|unwatch|rewatch digest [LABEL]`, for Slack and the CLI
    alike: (done, what to say, each value passed through `show`). A mute or a stop drops the periods falling due
    meanwhile (the watcher records them as done); `unmute` and `rewatch` both lift either, as for a monitor."""
    entry, problem = find_digest(said, known_digests(home), show)
    if entry is None:
        return False, problem
    mutes, label = Mutes(state_paths(home)[1]).digests(), show(entry["label"])
    called = f"the {entry['every']} digest `{label}` to {show(entry['channel'])}"
    if action == "mute":
        try:
            length = duration(span or "")
        except ValueError as error:
            return False, f"{show(str(error))}. Say e.g. `mute digest {label} 1d`."
        mutes.mute(entry["key"], now + length)
        return True, (
            f"Muted {called} for {duration_text(length)} (until {now + length:%b %d %H:%M} UTC): a post falling due "
            f"meanwhile is skipped, not posted when the mute ends. `unmute digest {label}` lifts it."
        )
    if action == "unwatch":
        mutes.unwatch(entry["key"])
        return True, f"Stopped {called}: nothing is posted until `rewatch digest {label}`."
    mutes.rewatch(entry["key"])
    return True, f"{called[0].upper()}{called[1:]} is posted again from its next scheduled time, unmuted."


# --- Slack ---------------------------------------------------------------------------------------------------
LINE_CHARS = 200  # a name, description or label in the `watches` list, before escaping
LIST_CHARS = 3500  # the whole list (Slack advises 4,000 characters a message)


def _flat(text: str) -> str:
    """A value on its one line, shortened."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= LINE_CHARS else flat[: LINE_CHARS - 1] + "…"


def _line(text: str) -> str:
    """A value on its one line of a list, shortened, escaped (cut before escaping: no entity is split)."""
    return escape(_flat(text))


def _capped(lines: list[str], budget: int = LIST_CHARS) -> list[str]:
    """The lines that fit the budget, then how many did not (a list of hundreds of monitors stays one message)."""
    kept, used = [], 0
    for i, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            return kept + [f"… and {len(lines) - i} more: see `monitors.toml` beside the store."]
        kept.append(line)
        used += len(line) + 1
    return kept


def _note(stopped: str | None, until: datetime | None) -> str:
    return f" ({stopped})" if stopped else f" (muted until {until:%b %d %H:%M} UTC)" if until else ""


def listing(home: Path, mutes: Mutes, now: datetime) -> str:
    """`watches`: the monitors and the digests, each with its mute or stop."""
    known, digests = known_monitors(home), known_digests(home)
    if not known and not digests:
        return "No monitors yet: start `heliqa watch` first."
    lines, off = ["Watching:"] if known else [], mutes.unwatched()
    for name, text in known.items():
        note = _note("unwatched" if name in off else None, mutes.muted_until(name, now))
        lines.append(f"• *{_line(name)}*: {_line(text)}{note}")
    muted = mutes.digests()
    stopped = muted.unwatched()
    lines += ["Digests:"] if digests else []
    for e in digests:
        where = _channel_link(e["channel"])
        note = _note("stopped" if e["key"] in stopped else None, muted.muted_until(e["key"], now))
        lines.append(f"• *{e['every']} digest* `{_line(e['label'])}` to {where}: {_line(e['describe'])}{note}")
    hint = "Say `mute NAME 2h`, `unwatch NAME`, `rewatch NAME`"
    return "\n".join(_capped(lines)) + f"\n{hint}" + (" (of a digest: `mute digest LABEL 1d`)." if digests else ".")


def add(words: str, backend: Any, planner: Any, org: str | None, here: str | None = None) -> str:
    """`watch p95 latency for gpt-4 above 5 s`: the monitor appended to `monitors.toml` beside the store, posting
    to the channels the words name, else to `here` (the channel it was said in)."""
    from zoneinfo import ZoneInfo

    from heliqa.agent.planner import Context
    from heliqa.agent.watch_words import NotAMonitor, check_scale, monitor_from_words, to_toml
    from heliqa.tools.monitors import check_text

    path = home_of(backend) / "monitors.toml"
    org = backend.resolve_org(org)
    ctx = Context(datetime.now(UTC), ZoneInfo("UTC"), backend.vocabulary(org))
    try:
        monitor = monitor_from_words(words, planner, ctx, here=here)
        check_scale(monitor, backend, org, ctx.now.replace(tzinfo=None))
    except NotAMonitor as error:
        return f"That is not a monitor I can watch: {escape(str(error))}"
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    known = known_monitors(home_of(backend))
    twin = next((k for k, text in known.items() if text == monitor.describe()), None)
    if twin is not None or monitor.name in known:
        name = escape(twin or monitor.name)
        what = "watches the same" if twin is not None else f"is named so ({escape(known[monitor.name])})"
        return f"Not added: *{name}* {what}. Say `rewatch {name}` if it was stopped, or say the new one in other words."
    text = before + ("\n\n" if before else "") + to_toml(monitor)
    _, problems = check_text(text)
    if problems:
        return f"Not added: {escape('; '.join(problems))}"
    path.write_text(text, encoding="utf-8")
    described = f"*{escape(monitor.name)}*: {escape(monitor.describe())}"
    least = f", judged on windows of at least {monitor.min_requests} requests" if monitor.min_requests else ""
    where = f", posting to {', '.join(_channel_link(c) for c in monitor.channels)}" if monitor.channels else ""
    return f"Watching {described}{least}{where}; a running `heliqa watch` takes it up at its next cycle."


def _channel_link(channel: str) -> str:
    """A channel as Slack links it (`<#C0123>`), else its name as text."""
    if channel.startswith("D"):
        return "this direct message"
    return f"<#{channel}>" if _CHANNEL_ID.match(channel) else _line(channel)


def _mute(target: str, span: str, home: Path, mutes: Mutes, now: datetime, meant=None, this=None) -> str:
    known = known_monitors(home)
    if (said := digest_words(target, known)) is not None:
        return digest_command("mute", said, span, home, now, escape)[1]
    whole, _ = monitor_named(f"{target} {span}", known) if known else (None, "")
    if whole is not None:  # `mute cost by model`: a name, no length
        return f"For how long? Say e.g. `mute {escape(whole)} 2h`."
    name, problem = _target(target, known, meant, this)
    if name is None:
        return problem
    try:
        length = duration(span_words(span))
    except ValueError as error:
        return f"{escape(str(error))}. Say e.g. `mute {escape(name)} 2h`."
    mutes.mute(name, now + length)
    return f"Muted *{escape(name)}* for {duration_text(length)} (until {now + length:%b %d %H:%M} UTC)."


def _one(action: str, target: str, home: Path, mutes: Mutes, now: datetime, meant=None, this=None) -> str:
    known = known_monitors(home)
    if (said := digest_words(target, known)) is not None:
        return digest_command(action, said, None, home, now, escape)[1]
    name, problem = _target(target, known, meant, this)
    if name is None:
        return problem
    if action == "unwatch":
        mutes.unwatch(name)
        return f"Stopped watching *{escape(name)}*. Say `rewatch {escape(name)}` to start again."
    mutes.rewatch(name)
    return f"*{escape(name)}* is watched again, unmuted."


def described(backend: Any, planner: Any, org: str | None) -> Callable[[str], str | None]:
    """Words -> the description of the monitor they say (None when they say none): how `unwatch p95 latency for
    MODEL above 5 s` finds the monitor it describes whatever its name."""
    from zoneinfo import ZoneInfo

    from heliqa.agent.planner import Context
    from heliqa.agent.watch_words import NotAMonitor, monitor_from_words

    def meant(words: str) -> str | None:
        try:
            ctx = Context(datetime.now(UTC), ZoneInfo("UTC"), backend.vocabulary(backend.resolve_org(org)))
            return monitor_from_words(words, planner, ctx).describe()
        except (NotAMonitor, HeliqaError):  # words that say no monitor (or no organization to read them in)
            return None

    return meant


def reply(
    text: str,
    backend: Any,
    planner: Any = None,
    org: str | None = None,
    now: datetime | None = None,
    where: tuple[str, str] | None = None,
    channel: str | None = None,
) -> str | None:
    """The reply to a watch command, or None when `text` is not one (then it is a question). With a planner,
    `watch WORDS` (or `alert me if WORDS`, `page us when WORDS`) adds a monitor. Said in the thread of an incident
    post (`where`: its channel and ts), `mute this 2h` / `unwatch it` act on that incident's monitor. A monitor
    added in a `channel` posts there unless its words name another."""
    text = text.strip()
    home = home_of(backend)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    mutes = Mutes(state_paths(home)[1])
    if planner is not None and (text.lower().startswith("watch ") or _ALERT.match(text)):
        return add(text[6:] if text.lower().startswith("watch ") else text, backend, planner, org, channel)
    if text.lower() in LISTS:
        return listing(home, mutes, now)
    meant = described(backend, planner, org) if planner is not None else None
    this = thread_monitor(home, where)
    if match := MUTE.match(text):
        return _mute(match[1], match[2], home, mutes, now, meant, this)
    if match := _ONE.match(text):
        action = match[1].lower()
        return _one("unwatch" if action.startswith("stop") else action, match[2], home, mutes, now, meant, this)
    return None
