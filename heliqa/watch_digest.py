"""Digests in `heliqa watch`: when each is due, its Slack message and terminal text, and `heliqa watch --digest`.

A `[[digest]]` of the monitors file is due at its local time (`at`, in its channel's zone) every day, or every
week on its weekday; its period is the local day (or week) ending then. The watcher's cycle, after evaluating the
monitors, queues each due digest in the outbox and records its period in the state file (`digests`), both saved
at once before anything is sent, so a restart (a `kill -9` included) neither posts a period twice nor skips the
latest one: a watcher that was down at the scheduled time posts that period when it is back (only the latest
missed period: older ones are stale). A digest is first due at its first scheduled time after the watcher first
saw it. It goes out through the outbox like an incident post: retried after a 429 or a 5xx, and held through the
channel's quiet hours (a digest due inside them is posted when they end, still covering the period up to its
scheduled time). A muted digest's period falls due and is recorded as done without a post (not posted when the
mute ends); a stopped one (`unwatch digest`) likewise, until `rewatch digest`. The watcher records the digests it
watches in its state (`digest_list`), which the watch commands name them by (heliqa/watch_commands.py).
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from heliqa.agent.digest import DigestContent, content, last_scheduled, period_incidents
from heliqa.render import render_table, safe_cells
from heliqa.slack_render import LIMITS, capped, fenced, inert
from heliqa.tools.errors import HeliqaError
from heliqa.tools.monitors import Channel, Digest, Monitor, MonitorsFile, digest_labels, filter_words
from heliqa.tools.results import iso_z
from heliqa.tools.safetext import json_text, shown_text, visible
from heliqa.tools.watch_state import WatchState

log = logging.getLogger("heliqa.watch")
MAX_INCIDENTS = 15  # incidents a digest post lists (the rest counted)
_PERIOD = {"daily": ("this day", "the day before"), "weekly": ("this week", "the week before")}
_WORKSPACES: dict[str, str | None] = {}  # Slack API URL -> the workspace's URL (auth.test), for thread links


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", ""))


def _local(moment: datetime, tz: str) -> str:
    return f"{moment.replace(tzinfo=ZoneInfo('UTC')).astimezone(ZoneInfo(tz)):%b %d %H:%M}"


def _span(found: DigestContent) -> str:
    """'Nov 23 09:00 → Nov 24 09:00 Europe/Berlin'."""
    return f"{_local(found.period.start, found.tz)} → {_local(found.period.end, found.tz)} {found.tz}"


def _scope(filters: dict[str, Any]) -> str:
    return f" ({filter_words(filters)})" if filters else ""


# --- content -----------------------------------------------------------------------------------------------------
def build(
    backend: Any,
    org: str,
    every: str,
    end: datetime,
    tz: str,
    filters: dict,
    state: WatchState | None,
    monitors: dict[str, Monitor],
) -> DigestContent:
    """The digest of the period ending at `end`, with the incidents the watch state knows of in that period."""
    found = content(backend, org, every, end, tz, filters)
    if state is not None:
        found.incidents = period_incidents(state.series, state.ended, monitors, state.threads, found.period)
    found.watched = state is not None
    return found


def total_rows(found: DigestContent) -> list[list[str]]:
    """The totals table: a header, then each figure's current and previous values and its change."""
    now, before = _PERIOD[found.every]
    return [["", now, before, "change"]] + [[f.label, *f.texts()] for f in found.totals]


def mover_rows(found: DigestContent) -> list[list[str]]:
    """The biggest changes table: by, value, measure, both periods, change."""
    now, before = _PERIOD[found.every]
    return [["by", "value", "", now, before, "change"]] + [
        [f.dimension or "", f.group or "", f.label, *f.texts()] for f in found.movers
    ]


def _incident_words(incident: dict[str, Any], tz: str) -> tuple[str, str]:
    """(its headline, the rest: series, when, how long, impact) as plain text."""
    start = _parse(incident["start"])
    series = incident["monitor"] + (f" · {incident['group']}" if incident["group"] else "")
    until = "still open" if incident["open"] else f"until {_local(_parse(incident['end']), tz)}"
    rest = f"{series}, from {_local(start, tz)} {until}" + (
        f"; impact: {incident['impact']}" if incident["impact"] else ""
    )
    return incident["headline"], rest


def _headline(found: DigestContent) -> str:
    """'Daily digest · Nov 23 09:00 → Nov 24 09:00 UTC: 12,345 requests (+3.4%), cost $12.30 (+10.8%), 2 incidents'."""
    parts = []
    for f in found.totals:
        if f.label in ("requests", "cost"):
            # the change as the table shows it (delta_text), not the JSON's rounded change_pct
            pct = f.change / abs(f.previous) * 100 if f.change is not None and f.previous else None
            change = f" ({'+' if pct >= 0 else '−'}{abs(pct):.1f}%)" if pct is not None else ""
            value = f.texts()[0]
            parts.append(f"{value} requests{change}" if f.label == "requests" else f"cost {value}{change}")
    n = len(found.incidents)
    parts.append(f"{n} incident{'s' * (n != 1)}" if found.watched else "incidents not known (no watcher ran here)")
    title = "Daily digest" if found.every == "daily" else "Weekly digest"
    return f"{title}{_scope(found.filters)} · {_span(found)}: " + ", ".join(parts)


# --- Slack ---------------------------------------------------------------------------------------------------------
def _link(url: str | None, channel: str, ts: str | None) -> str | None:
    """A Slack message's permalink: the workspace's URL, /archives/CHANNEL/p + the ts without its dot."""
    if not url or not ts or not ts.replace(".", "").isdigit():
        return None
    link = f"{url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    return link.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def _incident_lines(found: DigestContent, channel: str, workspace: str | None, limit: int) -> str:
    """The incidents as mrkdwn bullets, each headline a link to its post (in this channel, else where it went) when
    known, within `limit` characters."""
    if not found.incidents:
        return "*Incidents*: none in this period"
    lines = [f"*Incidents* ({len(found.incidents)})"]
    for n, incident in enumerate(found.incidents):
        head, rest = _incident_words(incident, found.tz)
        posts = incident["threads"]  # its post in this channel, else in another one
        where = channel if channel in posts else next(iter(posts), channel)
        link = _link(workspace, where, posts.get(where))
        head, rest = capped(inert(visible(head)), 300), capped(inert(visible(rest)), 400)  # each on its one line
        line = f"• <{link}|{head}> — {rest}" if link else f"• {head} — {rest}"
        more = f"… and {len(found.incidents) - n} more"
        if n >= MAX_INCIDENTS or len("\n".join(lines + [line, more])) > limit:
            lines.append(more)
            break
        lines.append(line)
    return "\n".join(lines)


def slack_message(
    found: DigestContent, d: Digest, workspace: str | None = None, label: str | None = None
) -> tuple[str, list[dict]]:
    """The digest's message: headline, the totals table, the biggest changes, the incidents (with links to their
    threads), and which digest it is, with how to mute or stop it by its `label` (what the watch commands call it).
    Every value from data is made inert and each block capped."""
    head = capped(inert(visible(":bar_chart: " + _headline(found))), LIMITS["section_text"])
    table = LIMITS["section_text"]

    def section(text: str) -> dict:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    blocks = [section(head), section(fenced(inert(render_table(safe_cells(total_rows(found)))), table))]
    if found.movers:
        blocks.append(section(f"*Biggest changes* vs {_PERIOD[found.every][1]}, by model and provider"))
        blocks.append(section(fenced(inert(render_table(safe_cells(mover_rows(found)))), table)))
    blocks.append(section(_incident_lines(found, d.channel, workspace, LIMITS["section_text"])))
    name = f"*{inert(d.name)}* · " if d.name else ""
    called = inert(label if label is not None else digest_labels([d])[0])  # in code spans: no backtick closes them
    about = (
        f"digest {name}{inert(d.describe(found.tz))} · mute: `@heliqa mute digest {called} 1d` or `heliqa watch mute "
        f"digest {called} 1d` (a post due meanwhile is skipped) · stop: `@heliqa unwatch digest {called}` · change: "
        "edit its `[[digest]]` in the monitors file"
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": capped(about, LIMITS["context_text"])}]})
    return head, blocks


def workspace(poster: Any) -> str | None:
    """The Slack workspace's URL (auth.test), for links to incident threads; None when it cannot be had."""
    if poster is None:
        return None
    if poster.base_url not in _WORKSPACES:
        try:
            reply = httpx.post(
                poster.base_url.rstrip("/") + "/auth.test",
                headers={"Authorization": f"Bearer {poster.token}"},
                timeout=poster.timeout,
            )
            body = reply.json() if reply.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return None  # asked again next time
        url = body.get("url") if body.get("ok") else None
        _WORKSPACES[poster.base_url] = url if isinstance(url, str) and url.startswith("https://") else None
    return _WORKSPACES[poster.base_url]


# --- the schedule --------------------------------------------------------------------------------------------------
def digest_entries(files: MonitorsFile, tz: str = "UTC") -> list[dict[str, str]]:
    """Each digest as the watch commands know it: its key (what its mutes and state are kept under), label, how
    often, channel, name and schedule (in its channel's zone, else `tz`)."""
    out = []
    for d, label in zip(files.digest, digest_labels(files.digest), strict=True):
        zone_name = files.channel[d.channel].tz if d.channel in files.channel else tz
        entry = {"key": d.key, "label": label, "every": d.every, "channel": d.channel, "name": d.name or ""}
        out.append({**entry, "describe": d.describe(zone_name)})
    return out


def queue_digests(watcher: Any, now: datetime) -> None:
    """Queue each digest due at `now` (its latest scheduled time, not yet posted, not before the watcher first saw
    it) in the outbox, and record its period; the caller saves both at once. A muted or stopped digest's period is
    recorded without a post: it is skipped, not posted later."""
    state: WatchState = watcher.state
    mutes = watcher.mutes.digests()
    stopped = mutes.unwatched()
    monitors = {m.name: m for m in watcher.files.monitors()}
    for d, label in zip(watcher.files.digest, digest_labels(watcher.files.digest), strict=True):
        tz = watcher.channels.get(d.channel, Channel(tz=watcher.tz)).tz
        due = last_scheduled(d, tz, now)
        record = state.digests.setdefault(d.key, {"since": iso_z(now), "period": None})
        if due < _parse(record["since"]) or (record.get("period") and due <= _parse(record["period"])):
            continue
        if d.key in stopped or mutes.muted_until(d.key, due):
            record["period"] = iso_z(due)
            why = "stopped" if d.key in stopped else "muted"
            log.info("watch: %s digest for %s %s: period ending %s skipped", d.every, d.channel, why, iso_z(due))
            continue
        try:
            found = build(watcher.backend, watcher.org, d.every, due, tz, d.filters, state, monitors)
        except HeliqaError as error:  # tried again next cycle
            log.warning("watch: the %s digest for %s not computed yet: %s", d.every, d.channel, error)
            continue
        text, blocks = slack_message(found, d, workspace(watcher.poster), label)
        post_id = f"digest|{d.key}|{iso_z(due)}"
        if not any(item["id"] == post_id for item in state.outbox):
            item = {"id": post_id, "channel": d.channel, "text": text, "thread": None, "incident": post_id}
            state.outbox.append({**item, "blocks": blocks, "state": "queued", "attempts": 0, "after": None})
        record["period"] = iso_z(due)
        log.info("watch: %s digest for %s queued (period ending %s)", d.every, d.channel, iso_z(due))


# --- heliqa watch --digest -----------------------------------------------------------------------------------------
def terminal_text(found: DigestContent) -> str:
    """The digest for a terminal: headline, tables, incidents; every value shown safely."""
    before = _PERIOD[found.every][1]
    out = [shown_text(visible(_headline(found))), "", render_table(safe_cells(total_rows(found)))]
    if found.movers:
        out += ["", f"Biggest changes vs {before}, by model and provider", render_table(safe_cells(mover_rows(found)))]
    if not found.watched:
        out += ["", "Incidents: not known — no `heliqa watch` has kept its state beside this store"]
    else:
        out += ["", f"Incidents: {len(found.incidents) or 'none in this period'}"]
    for incident in found.incidents:
        head, rest = _incident_words(incident, found.tz)
        out.append(shown_text(visible(f"  • {head} — {rest}")))  # a newline in a name is shown, not followed
    return "\n".join(out) + "\n"


def _configured(files: MonitorsFile | None, every: str) -> Digest | None:
    return next((d for d in files.digest if d.every == every), None) if files else None


def cmd_digest(args, backend: Any, org: str, files: MonitorsFile | None, home: Path, now: datetime) -> int:
    """`heliqa watch --digest daily|weekly [FILE] [--json]`: the digest of the period ending now, printed (never
    posted); the file's first digest of that kind gives its filters and zone, the watch state its incidents."""
    from heliqa.agent.timerange import zone
    from heliqa.tools.watch_state import state_paths

    d = _configured(files, args.digest)
    tz = args.tz or (files.channel[d.channel].tz if d and files and d.channel in files.channel else None)
    tz = getattr(zone(tz), "key", None) or "UTC"
    path = state_paths(home)[0]
    state = WatchState(path) if path.exists() else None
    monitors = {m.name: m for m in files.monitors()} if files else {}
    found = build(backend, org, args.digest, now, tz, d.filters if d else {}, state, monitors)
    last, note = _data_through(backend, org, found, now)
    if args.json:
        sys.stdout.write(json_text({**found.to_json(), "data_through": last}) + "\n")
    else:
        text = terminal_text(found)
        sys.stdout.write(text.replace("\n", f"\n{note}\n", 1) if note else text)
    return 0


def _data_through(backend: Any, org: str, found: DigestContent, now: datetime) -> tuple[str | None, str]:
    """The organization's newest request (UTC ISO), and 'Data through …' when the period runs past it (a store
    filled once, `heliqa demo` or an import, and asked days later): its empty days are not a drop to zero."""
    from heliqa.agent.answer import data_through, stale_after

    span_of = getattr(backend, "data_span", None)
    span = span_of(org) if span_of else None
    if not span:
        return None, ""
    tzd = -ZoneInfo(found.tz).utcoffset(now.replace(tzinfo=None)).total_seconds() / 60
    note = data_through(found.period.end, span[1], tzd, found.tz, stale_after(span))
    return iso_z(span[1]), note.replace("the range ends", "the period ends")


def check_lines(files: MonitorsFile, tz: str = "UTC") -> list[str]:
    """`heliqa watch --check`: one line per digest."""
    out = []
    for d in files.digest:
        zone_name = files.channel[d.channel].tz if d.channel in files.channel else tz
        out.append(f"digest{' ' + d.name if d.name else ''}: {d.every}, {d.describe(zone_name)} → {d.channel}\n")
    return out
