"""Posting incidents to Slack: one message per incident, updates and the resolution in its thread, via an outbox.

Every post is first queued in the state file's outbox with a stable id, then sent. Slack's 429 (its Retry-After
honoured) or a 5xx, or no answer, leaves the post queued for a later attempt (bounded backoff), so a post is delayed,
never lost. Each post carries its id in Slack's message metadata, and a post that was being sent when the process
died is looked up (conversations.history / replies) before it is sent again, so a restart never doubles one.
httpx rather than slack_sdk: its retry handlers sleep inside the call, and the loop must keep evaluating meanwhile.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from heliqa.agent.watch import Incident, duration_words, headline, impact
from heliqa.agent.watch_scope import incident_scope
from heliqa.chart import label as chart_label
from heliqa.slack_render import LIMITS, capped, fenced, inert, link
from heliqa.tools.helicone_lists import requests_page_link
from heliqa.tools.monitors import Channel, Monitor, format_value
from heliqa.tools.results import iso_z
from heliqa.tools.watch_state import WatchState

log = logging.getLogger("heliqa.watch")
METADATA_TYPE = "heliqa_watch_post"
MAX_BACKOFF = timedelta(minutes=5)
MAX_SCOPES = 1000  # incidents whose threads still follow up on their scope (a day's worth of a noisy setup)
PERMANENT = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive", "no_permission"}


def escape(text: str) -> str:
    """Text with names from data as Slack may show it (the Slack surface's safety layer), within a section."""
    return capped(inert(text), LIMITS["section_text"])


def _when(moment: datetime, tz: str) -> str:
    local = moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz))
    return f"{local:%b %d %H:%M} {tz}"


def driver_lines(incident: Incident) -> str:
    """The drivers as an aligned text table (or why there are none)."""
    if not incident.drivers:
        return incident.driver_note or "no driver found"
    rows = [["dimension", "value", "of bad requests", "of baseline", "lift"]]
    for d in incident.drivers:
        rows.append(
            [
                d["dimension"].removeprefix("property:"),
                d["value"],
                f"{d['current']:.0%}",
                f"{d['baseline']:.0%}",
                f"+{d['share'] * 100:.0f} pts",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def opening(
    m: Monitor, incident: Incident, now: datetime, tz: str, dashboard: str | None = None
) -> tuple[str, list[dict]]:
    """The incident's one message: headline with unit, duration and impact; drivers; monitor and how to mute it;
    links to Helicone's dashboard and its requests page over the incident's window when there is a dashboard."""
    lasted = duration_words(now - incident.start)
    head = (
        f":rotating_light: {headline(m, incident)} since {_when(incident.start, tz)} ({lasted} so far); "
        f"impact: {impact(m, incident)}"
    )
    if incident.reopened:
        head += f" (firing again, {incident.reopened}× since it opened)"
    name = inert(m.name)  # inside code spans: no backtick of the name can close them
    context = (
        f"monitor *{name}*: {inert(m.describe())} · mute: `@heliqa mute {name} 2h` or `heliqa watch mute "
        f'"{name}" 2h` · stop: `@heliqa unwatch {name}` · change: edit it in `monitors.toml` beside the store '
        "(taken up at the next evaluation; `heliqa watch --check` first)"
    )
    for extra in links(m, incident, now, dashboard) if dashboard else []:
        if len(context) + len(extra) + 3 <= LIMITS["context_text"]:  # a link is whole or absent, never cut
            context += f" · {extra}"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(head)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": fenced(inert(driver_lines(incident)), LIMITS["section_text"])},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": capped(context, LIMITS["context_text"])}]},
    ]
    return escape(head), blocks


def links(m: Monitor, incident: Incident, now: datetime, dashboard: str) -> list[str]:
    """The dashboard link, then Helicone's requests page over the incident's window so far with the monitor's
    filters and series; a filter the page cannot carry is named in the link text (the list is broader)."""
    end = incident.end or now
    url, broader = requests_page_link(dashboard, incident.start, end, m.series_filters(incident.group))
    text = "requests in this window"
    if broader:
        text += f" (not filtered by {', '.join(dict.fromkeys(k.removeprefix('property.') for k in broader))})"
    return [link(dashboard, "Helicone dashboard"), link(url, text)]


def update(m: Monitor, incident: Incident, now: datetime, tz: str) -> str:
    """A thread update while the incident lasts."""
    return escape(
        f"Still going at {_when(now, tz)}: {format_value(m, incident.last)} (peak {format_value(m, incident.peak)}), "
        f"{duration_words(now - incident.start)} so far; impact so far: {impact(m, incident)}"
    )


def resolution(m: Monitor, incident: Incident, tz: str) -> str:
    """The resolution in the thread: how long, total impact."""
    end = incident.end or incident.resolved
    return escape(
        f":white_check_mark: Resolved at {_when(end, tz)}: back to {format_value(m, incident.last)}; it lasted "
        f"{duration_words(end - incident.start)} (peak {format_value(m, incident.peak)}); "
        f"total impact: {impact(m, incident)}"
    )


def axis_unit(m: Monitor) -> str:
    """The monitor's unit as a chart axis shows it: 'ms', 'USD', '%', 'requests', 'tokens' or ''."""
    if m.agg == "count" or m.measure == "requests" or (m.measure == "errors" and m.agg != "rate"):
        return "requests"
    if m.measure == "errors":
        return "%"
    return {"latency": "ms", "ttft": "ms", "cost": "USD"}.get(m.measure, "tokens" if "tokens" in m.measure else "")


def enqueue(
    state: WatchState,
    kind: str,
    m: Monitor,
    incident: Incident,
    now: datetime,
    channels: dict,
    chart: dict | None = None,
    dashboard: str | None = None,
) -> None:
    """Queue this event's post for each of the monitor's channels (ids stable, so a replay queues nothing twice);
    an opening post is followed by its chart (`chart`: incident_png's JSON) in its thread, an item of its own."""
    remember_scope(state, m, incident, now)
    for channel in m.channels:
        tz = channels.get(channel, Channel()).tz
        post_id = f"{incident.id}|{kind}|{iso_z(now)}|{channel}"
        if any(item["id"] == post_id for item in state.outbox):
            continue
        announced = state.threads.get(incident.id, {}).get(channel) or any(
            item["incident"] == incident.id and item["channel"] == channel for item in state.outbox
        )
        if kind in ("update", "resolve") and not announced:
            continue  # opened while muted: its news would come without the post it belongs to
        if kind in ("open", "reopen") and not state.threads.get(incident.id, {}).get(channel):
            text, blocks = opening(m, incident, now, tz, dashboard)
            thread = None
            state.zones.setdefault(incident.id, {})[channel] = tz  # its thread's follow-ups are asked in it
        else:
            thread, blocks = incident.id, None
            text = resolution(m, incident, tz) if kind == "resolve" else update(m, incident, now, tz)
            if kind == "reopen":
                text = escape(f"Firing again at {_when(now, tz)}: {headline(m, incident)}")
        item = {"id": post_id, "channel": channel, "text": text, "thread": thread, "incident": incident.id}
        state.outbox.append({**item, "blocks": blocks, "state": "queued", "attempts": 0, "after": None})
        chart_id = f"{incident.id}|chart|{channel}"
        if thread is None and chart and not any(i["id"] == chart_id for i in state.outbox):
            state.outbox.append(
                {**item, "id": chart_id, "text": "", "thread": incident.id, "chart": chart, "blocks": None}
                | {"state": "queued", "attempts": 0, "after": None}
            )


def remember_scope(state: WatchState, m: Monitor, incident: Incident, now: datetime) -> None:
    """Keep the incident's scope up to date (its window so far) for follow-ups in its thread; the newest
    MAX_SCOPES incidents are kept (with their posts' zones)."""
    spec = incident_scope(m, incident.group, incident.start, incident.end or now)
    state.scopes.pop(incident.id, None)
    state.scopes[incident.id] = spec.model_dump(mode="json", exclude_none=True)
    for old in list(state.scopes)[:-MAX_SCOPES]:
        del state.scopes[old]
        state.zones.pop(old, None)


def thread_scope(state: WatchState, channel: str, ts: str) -> tuple[dict[str, Any], str | None] | None:
    """The scope (range in UTC) of the incident posted as message `ts` in `channel`, and the zone that post's
    times are in (None for a post queued before zones were kept); None when `ts` is no incident's post."""
    for incident, posts in state.threads.items():
        if posts.get(channel) == ts and incident in state.scopes:
            return state.scopes[incident], state.zones.get(incident, {}).get(channel)
    return None


def in_quiet_hours(channel: Channel, now: datetime) -> bool:
    """Whether `now` (naive UTC) falls in the channel's quiet hours."""
    span = channel.quiet()
    if span is None:
        return False
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(channel.tz)).time().replace(tzinfo=None)
    start, end = span
    return start <= local < end if start < end else (local >= start or local < end)


@dataclass
class SlackPoster:
    """chat.postMessage through httpx, with the answers that matter: ok, rate limited, failed for now, refused."""

    token: str
    base_url: str = "https://slack.com/api/"
    timeout: float = 10.0

    def _call(self, method: str, payload: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            self.base_url.rstrip("/") + "/" + method,
            json=payload,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.timeout,
        )

    def find(self, item: dict[str, Any], thread_ts: str | None) -> str | None:
        """The ts of a message already posted for this outbox item, if Slack has one (after a crash mid-send)."""
        method, payload = "conversations.history", {"channel": item["channel"], "limit": 200}
        if thread_ts:
            method, payload = "conversations.replies", {**payload, "ts": thread_ts}
        reply = self._call(method, {**payload, "include_all_metadata": True})
        if reply.status_code != 200:
            raise httpx.TransportError(f"{method} answered HTTP {reply.status_code}")
        data = reply.json()
        if not data.get("ok"):
            # e.g. missing_scope (channels:history): better a post twice than never
            log.warning(
                "watch: cannot look for %s in %s (%s); posting it", item["id"], item["channel"], data.get("error")
            )
            return None
        for message in data.get("messages", []) or []:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == METADATA_TYPE and meta.get("event_payload", {}).get("id") == item["id"]:
                return message.get("ts")
        return None

    def post(self, item: dict[str, Any], thread_ts: str | None) -> tuple[str, Any]:
        """('ok', ts) | ('later', seconds) | ('refused', error)."""
        payload = {
            "channel": item["channel"],
            "text": item["text"],
            "unfurl_links": False,
            "metadata": {"event_type": METADATA_TYPE, "event_payload": {"id": item["id"]}},
        }
        if item.get("blocks"):
            payload["blocks"] = item["blocks"]
        if thread_ts:
            payload["thread_ts"] = thread_ts
        try:
            reply = self._call("chat.postMessage", payload)
        except httpx.HTTPError as error:
            return "later", f"no answer ({type(error).__name__})"
        outcome, detail = _outcome(reply, refuse_all=False)
        return outcome, detail.get("ts") if outcome == "ok" else detail

    def upload(self, item: dict[str, Any], thread_ts: str, png: bytes) -> tuple[str, Any]:
        """The chart into the incident's thread (files upload v2: get a URL, send the bytes, complete); answers
        like post()."""
        try:
            reply = self._call_form("files.getUploadURLExternal", {"filename": "incident.png", "length": len(png)})
            if reply[0] != "ok":
                return reply
            sent = httpx.post(reply[1]["upload_url"], content=png, timeout=self.timeout)
            if sent.status_code >= 400:
                return "later", f"upload answered HTTP {sent.status_code}"
            title = chart_label(item["chart"]["title"], 250)
            files = json.dumps([{"id": reply[1]["file_id"], "title": title}])
            done = self._call_form(
                "files.completeUploadExternal", {"files": files, "channel_id": item["channel"], "thread_ts": thread_ts}
            )
            return done[0], done[1] if done[0] != "ok" else None
        except httpx.HTTPError as error:
            return "later", f"no answer ({type(error).__name__})"

    def _call_form(self, method: str, data: dict[str, Any]) -> tuple[str, Any]:
        reply = httpx.post(
            self.base_url.rstrip("/") + "/" + method,
            data=data,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.timeout,
        )
        return _outcome(reply, refuse_all=True)


def _backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s, ... up to 5 minutes between attempts at a post Slack could not take."""
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)


def deliver(
    state: WatchState, poster: SlackPoster, channels: dict[str, Channel], now: datetime, save
) -> datetime | None:
    """Send what the outbox holds, in order per incident and channel; returns when to try again (wall clock, naive
    UTC), or None. `now` is the evaluation clock, for quiet hours; retries wait in real time."""
    wall = datetime.now(UTC).replace(tzinfo=None)
    waiting: list[datetime] = []
    blocked: set[tuple[str, str]] = set()  # (incident, channel) whose earlier post is still queued
    for item in list(state.outbox):
        key = (item["incident"], item["channel"])
        after = datetime.fromisoformat(item["after"].replace("Z", "")) if item.get("after") else None
        if key in blocked or in_quiet_hours(channels.get(item["channel"], Channel()), now) or (after and after > wall):
            blocked.add(key)
            if after and after > wall:
                waiting.append(after)
            continue
        thread_ts = None
        if item["thread"]:
            thread_ts = state.threads.get(item["thread"], {}).get(item["channel"])
            if thread_ts is None:  # the opening post never went out (muted then, or refused): post on its own
                item["thread"] = None
        outcome = _send(state, poster, item, thread_ts, save)
        if outcome is not None:
            blocked.add(key)
            item["attempts"] += 1
            retry = outcome if isinstance(outcome, float) else _backoff(item["attempts"]).total_seconds()
            item["after"] = iso_z(wall + timedelta(seconds=retry), millis=True)
            waiting.append(wall + timedelta(seconds=retry))
            save()
            if isinstance(outcome, float):  # rate limited: every call waits for Retry-After
                break
    return min(waiting) if waiting else None


def _send(state: WatchState, poster: SlackPoster, item: dict, thread_ts: str | None, save) -> float | str | None:
    """Post one item; None when it is done (posted, found already posted, or refused for good)."""
    if item.get("chart"):
        return _send_chart(state, poster, item, thread_ts, save)
    if item["state"] == "sending":  # it may have gone out just before a crash: ask Slack before sending again
        try:
            found = poster.find(item, thread_ts)
        except httpx.HTTPError as error:
            log.info("watch: cannot check whether %s was posted yet: %s", item["id"], error)
            item["error"] = f"no answer ({type(error).__name__})"
            return "unknown"
        if found:
            _done(state, item, found)
            save()
            return None
    item["state"] = "sending"
    save()
    outcome, detail = poster.post(item, thread_ts)
    if outcome == "ok":
        _done(state, item, detail)
        save()
        return None
    item["state"] = "queued"
    if outcome == "refused":
        log.warning("watch: Slack refused the post to %s for good (%s); dropped", item["channel"], detail)
        state.outbox.remove(item)
        save()
        return None
    log.info("watch: post to %s delayed (%s)", item["channel"], detail)
    item["error"] = _why(detail)
    return detail if isinstance(detail, float) else "later"


def _send_chart(state: WatchState, poster: SlackPoster, item: dict, thread_ts: str | None, save) -> str | None:
    """Draw and upload an incident's chart; at most once: one that was being uploaded when the process died is
    dropped (an upload cannot be looked up), and one that cannot be drawn or is refused is dropped too — the
    post it belongs to has gone out already and stands without it."""
    from heliqa.chart import CHARTS, incident_png

    if item["state"] == "sending" or thread_ts is None:
        state.outbox.remove(item)
        save()
        return None
    png = CHARTS.draw(incident_png, item["chart"])
    if png is None:
        log.info("watch: no chart for %s (nothing to draw, or it took too long)", item["incident"])
        state.outbox.remove(item)
        save()
        return None
    item["state"] = "sending"
    save()
    outcome, detail = poster.upload(item, thread_ts, png)
    if outcome == "later":
        item["state"] = "queued"
        log.info("watch: chart upload to %s delayed (%s)", item["channel"], detail)
        item["error"] = _why(detail)
        return detail if isinstance(detail, float) else "later"
    if outcome == "refused":
        log.warning("watch: Slack refused the chart for %s (%s; files:write scope?)", item["channel"], detail)
    state.outbox.remove(item)
    save()
    return None


def _why(detail: Any) -> str:
    """Why Slack did not take a post, as its outbox item keeps it: 'no answer (ConnectError)', 'HTTP 503',
    'rate limited (retry after 30 s)'."""
    return f"rate limited (retry after {detail:g} s)" if isinstance(detail, float) else str(detail)


def undelivered(state: WatchState, channels: dict[str, Channel], now: datetime) -> str | None:
    """What the outbox still holds that Slack should have had by now (posts held for a channel's quiet hours are
    not late), as one line naming the channels and why; None when everything went out."""
    late = [i for i in state.outbox if not in_quiet_hours(channels.get(i["channel"], Channel()), now)]
    if not late:
        return None
    posts, charts = sum(not i.get("chart") for i in late), sum(bool(i.get("chart")) for i in late)
    counted = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((posts, "post"), (charts, "chart")) if n]
    why: dict[str, str] = {}
    for i in late:  # a channel's reason is its failed post's; the posts queued behind it were not tried
        if i.get("error") or i["channel"] not in why:
            why[i["channel"]] = i.get("error") or "queued behind an earlier post"
    return f"{' and '.join(counted)} not delivered to Slack ({'; '.join(f'{c}: {w}' for c, w in why.items())})"


def _done(state: WatchState, item: dict, ts: str) -> None:
    if item["thread"] is None:
        state.threads.setdefault(item["incident"], {})[item["channel"]] = ts
    state.outbox.remove(item)
    state.posted += 1


def _outcome(reply: httpx.Response, refuse_all: bool) -> tuple[str, Any]:
    """A Slack Web API answer as ("ok", body), ("later", Retry-After seconds or why) or ("refused", error).

    A rate limit or a server error is always "later"; any other error is refused when `refuse_all` (an upload
    that cannot succeed), else only when it is PERMANENT (a post is kept and tried again)."""
    if reply.status_code == 429:
        return "later", float(reply.headers.get("Retry-After", "30") or 30)
    if reply.status_code >= 500:
        return "later", f"HTTP {reply.status_code}"
    try:
        body = reply.json()
    except ValueError:
        return "later", f"HTTP {reply.status_code} without JSON"
    if body.get("ok"):
        return "ok", body
    error = body.get("error", "unknown error")
    if error == "ratelimited":
        return "later", float(reply.headers.get("Retry-After", "30") or 30)
    return ("refused" if refuse_all or error in PERMANENT else "later"), error
