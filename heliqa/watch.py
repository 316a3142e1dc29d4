"""`heliqa watch`: check a monitors file, backtest monitors over history, or evaluate them on a schedule and post.

The loop evaluates every monitor at each multiple of `--every` (catching up, after a restart, every instant missed
since its last evaluation, up to 7 days), turns the checks into incident events (agent/watch.py), queues the posts
in the state file, saves it atomically, then delivers the outbox (heliqa/watch_post.py).
"""

from __future__ import annotations

import html
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from heliqa.agent.watch import (
    Check,
    Incident,
    Tracker,
    backtest,
    checks,
    duration_words,
    ended_entry,
    evaluation_instants,
    explain_incident,
    headline,
    impact,
    window_values,
)
from heliqa.tools.errors import ConfigError, HeliqaError
from heliqa.tools.filters import parse_instant
from heliqa.tools.monitors import (
    Channel,
    Monitor,
    MonitorsFile,
    check_text,
    default_monitors,
    duration,
    load,
    measure_words,
)
from heliqa.tools.results import iso_z
from heliqa.tools.safetext import visible
from heliqa.tools.watch_state import Mutes, WatchState, claim, lock_path, state_paths

log = logging.getLogger("heliqa.watch")
MAX_CATCH_UP = timedelta(days=7)
BACKTEST_EVERY = "15m"  # fine enough to time a post within half an hour, a third of the queries of 5m
CLOCK_POLL_S = 0.2
CHART_LOOKBACK = timedelta(hours=6)  # an incident's chart shows at least this much before it began
CHART_POINTS = 48  # values in an incident's chart at most (one backend read each for odd windows)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _option(name: str, text: str) -> timedelta:
    """A duration option, or ConfigError naming it."""
    try:
        return duration(text)
    except ValueError as error:
        raise ConfigError(f"{name}: {error}") from None


def _home(backend: Any) -> Path:
    from heliqa.tools.store import Store, default_home

    return backend.path.parent if isinstance(backend, Store) else default_home()


def _monitors_path(path: str | None, backend: Any) -> Path | None:
    """The monitors file given, else `monitors.toml` beside the store when there is one."""
    if path is None and (_home(backend) / "monitors.toml").exists():
        return _home(backend) / "monitors.toml"
    return Path(path) if path is not None else None


def _with_channels(files: MonitorsFile, channels: tuple[str, ...]) -> MonitorsFile:
    """The file with `channels` as its default channels (when given)."""
    if not channels:
        return files
    return files.model_copy(update={"defaults": files.defaults.model_copy(update={"channels": channels})})


def _monitors(path: Path | None, backend: Any, org: str, channels: tuple[str, ...]) -> MonitorsFile:
    """The monitors of the file, else the default anomaly monitors."""
    if path is not None:
        return _with_channels(load(path), channels)
    return MonitorsFile(monitor=default_monitors(backend.vocabulary(org), channels))


def reloader(path: Path | None, channels: tuple[str, ...]) -> Callable[[], MonitorsFile | None] | None:
    """A function giving the monitors file again when it changed since the last call (None when it did not, or
    when it is not valid: the watcher keeps its monitors and says why), so `watch add` takes effect while running."""
    if path is None:
        return None
    seen = {"mtime": path.stat().st_mtime_ns if path.exists() else None}

    def reload() -> MonitorsFile | None:
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        if mtime == seen["mtime"]:
            return None
        seen["mtime"] = mtime
        try:
            return _with_channels(load(path), channels)
        except ConfigError as error:
            log.warning("watch: %s changed but is not valid; watching as before: %s", path, error.message)
            return None

    return reload


def cmd_check(path: str) -> int:
    """`heliqa watch --check FILE`: every mistake with its line, or what the file watches."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    from heliqa.watch_digest import check_lines

    parsed, problems = check_text(text)
    if parsed is None:
        sys.stderr.write("".join(f"heliqa: {path}: {p}\n" for p in problems))
        return 2
    for m in parsed.monitors():
        where = ", ".join(m.channels) or "no channel"
        sys.stdout.write(f"{m.name}: {m.kind}, {m.describe()} → {where}\n")
    sys.stdout.write("".join(check_lines(parsed)))
    digests = f", {len(parsed.digest)} digest(s)" if parsed.digest else ""
    sys.stdout.write(f"{path}: {len(parsed.monitor)} monitor(s){digests}, no mistakes\n")
    return 0


# --- backtest ---------------------------------------------------------------------------------------------------
def incident_json(m: Monitor, incident: Incident) -> dict[str, Any]:
    """A backtested incident as `--json` gives it."""
    return {
        "monitor": m.name,
        "group": incident.group,
        "start": iso_z(incident.start),
        "end": iso_z(incident.end) if incident.end else None,
        "posted_at": iso_z(incident.opened),
        "headline": headline(m, incident),
        "impact": impact(m, incident),
        "peak": incident.peak,
        "typical": incident.typical,
        "drivers": incident.drivers,
    }


def cmd_backtest(args, backend, org: str, files: MonitorsFile, now: datetime) -> int:
    """Replay the monitors over the span and print what would have been posted, and when."""
    span, every = _option("--backtest", args.backtest), _option("--every", args.every or BACKTEST_EVERY)
    if not args.now:  # the current time (or a --clock file's)
        _data_ends(backend, org, span, now)
    monitors = {m.name: m for m in files.monitors()}
    found = backtest(backend, org, monitors.values(), now - span, now, every)
    if args.json:
        body = {
            "start": iso_z(now - span),
            "end": iso_z(now),
            "every": args.every or BACKTEST_EVERY,
            "monitors": [{"name": m.name, "kind": m.kind, "describe": m.describe()} for m in monitors.values()],
            "incidents": [incident_json(monitors[i.monitor], i) for i in found],
        }
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return 0
    out = [
        f"Backtest of {len(monitors)} monitor(s), {iso_z(now - span)} → {iso_z(now)}, evaluated every "
        f"{args.every or BACKTEST_EVERY}: {len(found)} incident(s) would have been posted"
    ]
    for i in found:
        m = monitors[i.monitor]
        lasted = f"lasted {duration_words(i.end - i.start)}" if i.end else "still open"
        top = i.drivers[0] if i.drivers else None
        driver = f"{top['dimension'].removeprefix('property:')} {top['value']}" if top else i.driver_note or "none"
        out.append(f"{iso_z(i.opened)}  [{m.name}{' · ' + i.group if i.group else ''}] {headline(m, i)}")
        out.append(f"    from {iso_z(i.start)}, {lasted}; impact: {impact(m, i)}; first driver: {driver}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _data_ends(backend, org: str, span: timedelta, now: datetime) -> None:
    """A backtest ending at the current time on a store whose data ended well before it (filled once by `heliqa
    demo` or an import) says where the data ends and how to replay up to there, as `heliqa demo` does."""
    from heliqa.agent.answer import duration_text, stale_after

    span_of = getattr(backend, "data_span", None)
    found = span_of(org) if span_of else None
    if not found or now - found[1] < stale_after(found):
        return
    gap, stamp = now - found[1], iso_z(found[1])
    empty = "all of this backtest replays" if gap >= span else f"the last {duration_text(gap)} of this backtest replay"
    sys.stderr.write(
        f"heliqa: the data ends at {stamp}, {duration_text(gap)} before now: {empty} no requests; "
        f"to replay up to where the data ends, add --now {stamp}\n"
    )


# --- the loop ---------------------------------------------------------------------------------------------------
@dataclass
class Watcher:
    """One watching process: its backend, monitors, state and where it posts."""

    backend: Any
    org: str
    files: MonitorsFile
    every: timedelta
    state: WatchState
    mutes: Mutes
    poster: Any  # SlackPoster, or None to print posts on stdout
    channels: dict[str, Channel] = field(default_factory=dict, init=False)
    baselines: dict = field(default_factory=dict)  # baseline hours per monitor, read incrementally
    reload: Callable[[], MonitorsFile | None] | None = None  # the monitors file again when it changed
    tz: str = "UTC"  # posts' times for channels whose [channel.ID] names no zone
    dashboard: str | None = None  # Helicone's dashboard, linked from each incident post
    lock: Any = None  # the store's watch lock file, held while this watcher lives

    def __post_init__(self) -> None:
        self.channels = self._channels(self.files)

    def _channels(self, files: MonitorsFile) -> dict[str, Channel]:
        named = {c for m in files.monitors() for c in m.channels}
        return {**{c: Channel(tz=self.tz) for c in named}, **files.channel}

    def cycle(self, now: datetime) -> datetime | None:
        """Evaluate every instant due up to `now`, queue the posts, save, deliver; returns a retry time."""
        if self.reload is not None and (fresh := self.reload()) is not None:
            self.files, self.channels = fresh, self._channels(fresh)
            log.info("watch: monitors file changed: %d monitor(s)", len(fresh.monitor))
        unwatched = self.mutes.unwatched()
        monitors = [m for m in self.files.monitors() if m.name not in unwatched]
        self.state.monitors = [{"name": m.name, "describe": m.describe()} for m in self.files.monitors()]
        for m in monitors:
            try:
                self._evaluate(m, now)
            except HeliqaError as error:  # one monitor the backend cannot answer must not stop the others
                log.warning("watch: %s not evaluated (retried next cycle): %s", m.name, error)
        self.state.digest_list = []  # what the watch commands name digests by
        if self.files.digest:
            from heliqa.watch_digest import digest_entries, queue_digests

            self.state.digest_list = digest_entries(self.files, self.tz)
            queue_digests(self, now)
        self.state.save()
        return self._deliver(now)

    def _evaluate(self, m: Monitor, now: datetime) -> None:
        last = self.state.last.get(m.name)
        start = max(datetime.fromisoformat(last.replace("Z", "")) if last else now - self.every, now - MAX_CATCH_UP)
        instants = evaluation_instants(start, now, self.every)
        if not instants:
            return
        tracker = Tracker(self.state.series)
        series = checks(self.backend, self.org, m, instants, self.baselines)
        for incident in tracker.open_incidents():  # a series with no requests left still ends its incident
            if incident.monitor == m.name and incident.group not in series:
                series[incident.group] = [Check(t, None, 0, None, None, False, False) for t in instants]
        for check, group in sorted(
            ((c, g) for g, cs in series.items() for c in cs), key=lambda x: (x[0].at, x[1] or "")
        ):
            for event in tracker.step(m, group, check, self.every):
                if event.kind == "resolve":
                    event.incident.last = check.value
                    self.state.remember_ended(ended_entry(m, event.incident))  # for the digests
                if event.kind in ("open", "reopen"):
                    explain_incident(self.backend, self.org, m, event.incident, check.at)
                    tracker.remember(event.incident)
                if self.mutes.muted_until(m.name, check.at) is None:
                    chart = self._chart(m, event.incident, check.at) if event.kind in ("open", "reopen") else None
                    self._queue(event.kind, m, event.incident, check.at, chart)
        self.state.last[m.name] = iso_z(instants[-1])

    def _queue(self, kind: str, m: Monitor, incident: Incident, at: datetime, chart: dict | None = None) -> None:
        from heliqa.watch_post import enqueue

        enqueue(self.state, kind, m, incident, at, self.channels, chart, self.dashboard)

    def _chart(self, m: Monitor, incident: Incident, at: datetime) -> dict[str, Any] | None:
        """The series the incident's chart draws (JSON, kept in the outbox): CHART_POINTS values of the monitor's
        window up to `at`, from well before the incident began; None when posts are printed or it can't be read."""
        from heliqa.watch_post import axis_unit

        if self.poster is None or incident.id in self.state.threads:  # printed, or its post is out already
            return None
        span = at - incident.start + max(CHART_LOOKBACK, 3 * (at - incident.start))
        step = self.every * math.ceil(span / self.every / CHART_POINTS)  # a multiple of the evaluation step
        instants = evaluation_instants(at - span, at, step)
        try:
            values = window_values(self.backend, self.org, m, instants).get(incident.group, {})
        except HeliqaError as error:  # the post goes out without its chart
            log.info("watch: no chart for %s: %s", incident.id, error)
            return None
        title = measure_words(m) + (f" · {incident.group}" if incident.group else "") + f" — {m.name}"
        return {
            "title": title,
            "unit": axis_unit(m),
            "points": [[iso_z(t), values.get(t, (None, 0))[0]] for t in instants],
            "window": [iso_z(incident.start), iso_z(at)],
            "typical": incident.typical,
            "typical_label": "threshold" if m.kind == "threshold" else "typical",
        }

    def _deliver(self, now: datetime) -> datetime | None:
        from heliqa.watch_post import deliver

        if self.poster is None:
            for item in list(self.state.outbox):
                lines = [html.unescape(item["text"])]
                for block in (item.get("blocks") or [])[1:]:  # the drivers table and the monitor line
                    text = block.get("text", {}).get("text") or block["elements"][0]["text"]
                    lines.append(html.unescape(text.removeprefix("```").removesuffix("```")))
                prefix = "  ↳ " if item["thread"] else ""
                sys.stdout.write(prefix + "\n".join(lines) + "\n")
                if not item["thread"]:  # its updates and resolution follow it
                    self.state.threads.setdefault(item["incident"], {})[item["channel"]] = "printed"
                self.state.outbox.remove(item)
                self.state.posted += 1
            sys.stdout.flush()
            self.state.save()
            return None
        return deliver(self.state, self.poster, self.channels, now, self.state.save)


def incident_of_thread(backend: Any, channel: str, ts: str, now: datetime | None = None):
    """The scope (a QuerySpec) of the incident posted as message `ts` in `channel` beside this backend's store,
    or None: a Slack thread under an incident post follows up on it, in the zone that post's times are in (its
    channel's), at `now` (aware; default the machine's clock)."""
    from heliqa.agent.spec import QuerySpec
    from heliqa.agent.watch_scope import in_zone
    from heliqa.watch_post import thread_scope

    path = state_paths(_home(backend))[0]
    if not path.exists():
        return None
    try:
        found = thread_scope(WatchState(path), channel, ts)
        if found is None:
            return None
        scope, tz = QuerySpec.model_validate(found[0]), found[1]
        return in_zone(scope, tz, now or datetime.now(UTC)) if tz else scope
    except (ConfigError, ValueError) as error:  # a damaged state file: the thread starts afresh
        log.warning("watch: no incident scope for thread %s: %s", ts, error)
        return None


class Clock:
    """The current instant: the machine's, or (`--clock FILE`) the instant written in a file, for replays and tests."""

    def __init__(self, path: str | None):
        self.path = Path(path) if path else None

    def now(self) -> datetime:
        """The current instant, naive UTC, whole seconds."""
        if self.path is None:
            return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        try:
            return _utc(parse_instant(self.path.read_text(encoding="utf-8").strip())).replace(microsecond=0)
        except (OSError, ValueError) as error:
            raise ConfigError(f"--clock {self.path}: no ISO instant in it ({error})") from None

    def sleep_until(self, moment: datetime, retry: datetime | None, stop: threading.Event | None = None) -> None:
        """Wait until the clock reaches `moment`, or real time reaches `retry` (a post to try again), or `stop`."""
        pause = stop.wait if stop is not None else time.sleep
        while self.now() < moment and not (stop is not None and stop.is_set()):
            wall = datetime.now(UTC).replace(tzinfo=None)
            if retry is not None and wall >= retry:
                return
            left = (moment - self.now()).total_seconds()
            if retry is not None:
                left = min(left, (retry - wall).total_seconds())
            pause(CLOCK_POLL_S if self.path else min(max(left, 0.05), 5.0))


def cmd_add(words: list[str], backend: Any, org: str, now: datetime) -> int:
    """`heliqa watch add "p95 latency for gpt-4 over 1h above 5 s" [FILE]`: append the monitor to the file."""
    from zoneinfo import ZoneInfo

    from heliqa.agent.factory import make_planner
    from heliqa.agent.planner import Context
    from heliqa.agent.watch_words import NotAMonitor, check_scale, monitor_from_words, to_toml

    if len(words) not in (1, 2):
        raise ConfigError('usage: heliqa watch add "WORDS" [FILE]', 'e.g. heliqa watch add "error rate by provider"')
    path = Path(words[1]) if len(words) == 2 else _home(backend) / "monitors.toml"
    ctx = Context(now.replace(tzinfo=UTC), ZoneInfo("UTC"), backend.vocabulary(org))
    try:
        monitor = monitor_from_words(words[0], make_planner("rules"), ctx)
        check_scale(monitor, backend, org, now.replace(tzinfo=None))
    except NotAMonitor as error:
        raise ConfigError(f"not a monitor: {error}") from None
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    declared, _ = check_text(before)
    twin = next((m.name for m in (declared.monitor if declared else []) if m.describe() == monitor.describe()), None)
    if twin is not None:
        raise ConfigError(f"not added: {path} has {twin!r} watching the same ({monitor.describe()})")
    text = before + ("\n" if before and not before.endswith("\n") else "") + ("\n" if before else "") + to_toml(monitor)
    parsed, problems = check_text(text)
    if parsed is None:
        raise ConfigError(f"{path} would not be valid: " + "; ".join(problems))
    path.write_text(text, encoding="utf-8")
    said = f"added to {path}: {monitor.name}: {monitor.kind}, {monitor.describe()}\n{to_toml(monitor)}"
    sys.stdout.write(visible(said, keep_newlines=True))  # filter values come from data
    return 0


def cmd_mute(words: list[str], home: Path, now: datetime, meant=None) -> int:
    """`heliqa watch mute NAME 2h` / `unmute NAME` / `unwatch NAME` / `rewatch NAME`, and the same of a digest
    (`mute digest [LABEL] 1d`, `unwatch digest [LABEL]`, ...: the Slack commands' own code). NAME may be the monitor's
    words (`unwatch p95 latency for MODEL above 5 s`: `meant` describes them) and the length `for 2 hours`."""
    from heliqa.watch_commands import MUTE, digest_command, digest_words, known_monitors, monitor_named, span_words

    action, rest = words[0], words[1:]
    said = digest_words(" ".join(rest[:-1] if action == "mute" else rest), known_monitors(home)) if rest else None
    if said is not None:
        done, text = digest_command(action, said, rest[-1] if action == "mute" else None, home, now)
        if not done:
            raise ConfigError(text)
        sys.stdout.write(text + "\n")
        return 0
    mutes = Mutes(state_paths(home)[1])
    found = MUTE.match("mute " + " ".join(rest)) if action == "mute" else None
    if action == "mute" and (len(rest) < 2 or found is None):
        raise ConfigError("usage: heliqa watch mute NAME DURATION", 'e.g. heliqa watch mute "latency by model" 2h')
    if not rest:
        raise ConfigError(f"usage: heliqa watch {action} NAME", f"or: heliqa watch {action} digest [LABEL]")
    target = found[1] if found else " ".join(rest)
    known = known_monitors(home)
    name, problem = monitor_named(target, known, meant, visible, slack=False) if known else (target, "")
    if name is None:
        raise ConfigError(problem)
    if found:
        try:
            span = duration(span_words(found[2]))
        except ValueError as error:
            raise ConfigError(str(error)) from None
        mutes.mute(name, now + span)
        sys.stdout.write(f"muted {visible(name)} until {iso_z(now + span)}\n")
        return 0
    (mutes.unwatch if action == "unwatch" else mutes.rewatch)(name)
    sys.stdout.write(f"{action}{'d' if action.endswith('e') else 'ed'} {visible(name)}\n")
    return 0


def _poster():
    """The Slack poster from SLACK_BOT_TOKEN (and SLACK_API_URL), or None: posts then go to stdout."""
    from heliqa.tools.settings import settings
    from heliqa.watch_post import SlackPoster

    s = settings()
    token = s.secret("slack_bot_token")
    if not token:
        return None
    return SlackPoster(token, s.slack_api_url or "https://slack.com/api/")


def make_watcher(backend, org: str, path: Path | None, every: timedelta, channels: tuple[str, ...], tz: str | None):
    """The watcher of `path` (else the default monitors), posting to Slack when SLACK_BOT_TOKEN is set."""
    from heliqa.agent.timerange import zone

    poster = _poster()
    if poster is None:
        sys.stderr.write("heliqa: SLACK_BOT_TOKEN is not set: posts are printed here instead\n")
        channels = ("terminal",)
    files = _monitors(path, backend, org, channels)
    if poster is not None and not all(m.channels for m in files.monitors()):
        missing = ", ".join(m.name for m in files.monitors() if not m.channels)
        raise ConfigError(
            f"no Slack channel for {missing}", "pass --channel C0123 or set channels in the monitors file"
        )
    state_path, mutes_path = state_paths(_home(backend))
    held = claim(lock_path(_home(backend)))
    name = getattr(zone(tz), "key", "UTC") if tz else "UTC"
    watcher = Watcher(backend, org, files, every, WatchState(state_path), Mutes(mutes_path), poster, tz=name)
    if poster is not None:
        from heliqa.slack_render import dashboard_url

        watcher.dashboard = dashboard_url(getattr(backend, "name", ""))
    watcher.reload = reloader(path, channels)
    watcher.lock = held
    log.info("watching %d monitor(s) every %s; state in %s", len(files.monitor), duration_words(every), state_path)
    return watcher


def watch_forever(watcher: Watcher, clock: Clock, once: bool = False, stop: threading.Event | None = None) -> None:
    """Evaluate on schedule until `stop` is set (or once). Inside another app (`stop` given) a failing cycle is
    logged and tried again at the next instant: the app goes on answering."""
    while stop is None or not stop.is_set():
        now = clock.now()
        try:
            retry = watcher.cycle(now)
        except Exception as error:  # noqa: BLE001  (only inside an app: alone, the error ends `heliqa watch`)
            if stop is None:
                raise
            log.exception("watch: cycle at %s failed (tried again next cycle): %s", iso_z(now), error)
            retry = None
        if once:
            return
        clock.sleep_until(evaluation_instants(now, now + watcher.every, watcher.every)[0], retry, stop)


def run_loop(args, backend, org: str, path: Path | None, clock: Clock) -> int:
    """Evaluate on schedule until interrupted (or once, with --once)."""
    every = _option("--every", args.every or "5m")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    watcher = make_watcher(backend, org, path, every, tuple(args.channel or ()), args.tz)
    watch_forever(watcher, clock, once=args.once)
    if args.once and watcher.poster is not None:
        from heliqa.watch_post import undelivered

        late = undelivered(watcher.state, watcher.channels, clock.now())
        if late:  # a run from cron must not look fine while its posts wait: they are kept for the next run
            raise HeliqaError(
                f"{late}; kept in {watcher.state.path} and sent by the next run",
                "check that this machine reaches Slack (slack.com, or SLACK_API_URL when set)",
            )
    return 0


def in_background(args, backend) -> Callable[[], None]:
    """`heliqa slack|serve --watch [FILE] [--watch-every 5m]`: the watch loop on a thread of this process, with
    this process's backend and `--now` (a fixed instant) as its clock; returns the function that stops it."""
    from heliqa.agent.timerange import instant

    every = _option("--watch-every", args.watch_every or "5m")
    if not logging.getLogger().handlers and not log.handlers:  # `heliqa serve` logs through uvicorn's only
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    org = backend.resolve_org(args.org)
    path = _monitors_path(args.watch or None, backend)
    watcher = make_watcher(backend, org, path, every, tuple(args.watch_channel or ()), getattr(args, "tz", None))
    clock = _Fixed(_utc(instant(args.now))) if getattr(args, "now", None) else Clock(None)
    stop = threading.Event()
    thread = threading.Thread(target=watch_forever, args=(watcher, clock, False, stop), name="heliqa-watch")
    thread.daemon = True  # a cycle still querying must not keep a stopped app alive
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(30)
        if thread.is_alive():
            log.info("watch: a cycle is still running; leaving it")
            return
        watcher.lock.close()  # another watcher may take this store over now
        log.info("watch: stopped")

    return halt


def main(args) -> int:
    """`heliqa watch ...`."""
    from heliqa.agent.timerange import instant
    from heliqa.tools.backends import open_backend

    words = list(args.words)
    if args.check:
        if len(words) != 1:
            raise ConfigError("usage: heliqa watch --check FILE")
        return cmd_check(words[0])
    if args.now and args.clock:
        raise ConfigError("give --now or --clock, not both")
    clock = Clock(args.clock)
    now = _utc(instant(args.now)) if args.now else clock.now()
    backend = open_backend(args.backend)
    if words and words[0] in ("mute", "unmute", "unwatch", "rewatch"):
        from heliqa.agent.factory import make_planner
        from heliqa.watch_commands import described

        return cmd_mute(words, _home(backend), now, described(backend, make_planner("rules"), args.org))
    if words and words[0] == "add":
        return cmd_add(words[1:], backend, backend.resolve_org(args.org), now)
    if len(words) > 1:
        raise ConfigError(
            f"unexpected {' '.join(words[1:])!r}",
            "heliqa watch [FILE] (or: mute NAME 2h, unwatch NAME, mute digest LABEL 1d)",
        )
    if args.sync_every:
        from heliqa.tools.settings import settings
        from heliqa.tools.sync import live_store, start_live_sync

        backend = live_store(backend)
        start_live_sync(backend, args.org or settings().heliqa_org_id, args.sync_every, log.info)
    org = backend.resolve_org(args.org)
    path = _monitors_path(words[0] if words else None, backend)
    if args.digest:
        return _digest(args, backend, org, path, now)
    if args.backtest:
        return cmd_backtest(args, backend, org, _monitors(path, backend, org, tuple(args.channel or ())), now)
    if args.now and not args.once:
        raise ConfigError("--now evaluates one instant: add --once (or drive a clock with --clock FILE)")
    if args.now:
        clock = _Fixed(now)
    return run_loop(args, backend, org, path, clock)


def _digest(args, backend: Any, org: str, path: Path | None, now: datetime) -> int:
    """`heliqa watch --digest daily|weekly [FILE]`: print the digest of the period ending now."""
    from heliqa.watch_digest import cmd_digest

    if args.backtest or args.once or args.clock:
        raise ConfigError("--digest prints one digest: no --backtest, --once or --clock with it")
    return cmd_digest(args, backend, org, load(path) if path else None, _home(backend), now)


class _Fixed(Clock):
    """A clock stopped at one instant (`--now ... --once`)."""

    def __init__(self, moment: datetime):
        super().__init__(None)
        self.moment = moment

    def now(self) -> datetime:
        """The fixed instant."""
        return self.moment
