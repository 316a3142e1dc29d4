"""The Slack app: `/heliqa`, @heliqa mentions and DMs, answered in a thread with Block Kit and a chart.

Every listener acknowledges Slack first (access checks only, no query, no LLM import) and does the work
afterwards on Bolt's worker threads: the asker's time zone from `users.info`, one `Conversation` per
thread (follow-ups edit the thread's last query), the answer blocks, and a chart uploaded with
`files_upload_v2`. Slack's retries of an event already seen are dropped by event id.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from heliqa.agent.answer import Answer
from heliqa.agent.conversation import Conversation, Narrator
from heliqa.agent.planner import EXAMPLES, Planner
from heliqa.agent.timerange import zone
from heliqa.chart import CHARTS
from heliqa.slack_http import http_api  # noqa: F401  (the HTTP mode's ASGI app, part of this module's interface)
from heliqa.slack_render import (  # noqa: F401  (answer_blocks, request_json: the app's Block Kit, re-exported)
    LIMITS,
    OPEN_DASHBOARD,
    SHOW_REQUEST,
    SlackRenderer,
    answer_blocks,
    capped,
    dashboard_url,
    inert,
    redact,
    request_json,
    request_text,
)
from heliqa.tools import logs
from heliqa.tools.backends import Backend
from heliqa.tools.errors import ConfigError, HeliqaError
from heliqa.tools.safetext import shown_name
from heliqa.tools.settings import settings as heliqa_settings

log = logging.getLogger("heliqa.slack")

HELP = (
    "Ask me about your LLM traffic in plain words, e.g.\n"
    + "\n".join(f"• `{e}`" for e in EXAMPLES)
    + "\nIn a thread, follow up with things like `now by hour` or `what about gpt-4o?`; say `reset` to start over."
    + "\nWatch a measure: `watch p95 latency above 5 s over 15m`, `alert me if error rate > 5%`, `watch cost by model`;"
    + " then `watches`, `mute NAME 2h`, `unwatch NAME` (or its words)."
)
ANSWER_WORKERS = 4  # answers computed at once; more wait their turn
NOT_ALLOWED_USER = (
    "Sorry, heliqa isn't enabled for you yet. Ask whoever runs heliqa to add your Slack user id to "
    "HELIQA_SLACK_ALLOWED_USERS."
)


# --- secrets stay out of messages and logs -----------------------------------------------------------
class RedactingFilter(logs.RedactingFilter):
    """heliqa.tools.logs' filter with Slack's mask, for a handler of one's own."""

    def __init__(self) -> None:
        super().__init__(redact)


# --- settings ----------------------------------------------------------------------------------------
def _ids(text: str | None) -> frozenset[str]:
    return frozenset(part for part in re.split(r"[\s,]+", text or "") if part)


@dataclass(frozen=True)
class Settings:
    """How the app answers: organization, fallback zone, fixed clock (tests), allow-lists, dashboard link."""

    org: str | None = None
    default_tz: str | None = None
    now: datetime | None = None
    allowed_channels: frozenset[str] = field(default_factory=frozenset)  # channel ids; 'dm' allows DMs
    allowed_users: frozenset[str] = field(default_factory=frozenset)
    dashboard_url: str | None = None

    @classmethod
    def from_env(cls, org: str | None, tz: str | None, now: datetime | None, backend: str) -> Settings:
        """Settings from the CLI values plus HELIQA_SLACK_ALLOWED_* and, for Helicone, its dashboard URL."""
        dashboard = dashboard_url(backend)
        zone(tz)  # fail at startup, not on the first question, when the zone is misspelled
        return cls(
            org=org,
            default_tz=tz,
            now=now,
            allowed_channels=_ids(heliqa_settings().heliqa_slack_allowed_channels),
            allowed_users=_ids(heliqa_settings().heliqa_slack_allowed_users),
            dashboard_url=dashboard,
        )


class Bounded:
    """A thread-safe LRU map of at most `size` entries."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, make=None) -> Any:
        """The value for key (refreshing it), or `make()` stored under it, or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            if make is None:
                return None
            value = self._items[key] = make()
            if len(self._items) > self.size:
                self._items.popitem(last=False)
            return value

    def add_new(self, key: Any) -> bool:
        """Remember key; False when it was already there."""
        with self._lock:
            if key in self._items:
                return False
            self._items[key] = True
            if len(self._items) > self.size:
                self._items.popitem(last=False)
            return True


@dataclass
class SlackThread:
    """One Slack thread's conversation; the lock keeps its follow-ups in order."""

    conversation: Conversation
    lock: threading.Lock = field(default_factory=threading.Lock)


# --- the listeners ----------------------------------------------------------------------------------
class HeliqaSlack:
    """Slack listeners around one backend and planner: access checks, a conversation per thread, answers."""

    def __init__(
        self,
        backend: Backend,
        planner: Planner,
        settings: Settings,
        max_threads: int = 500,
        narrator: Narrator | None = None,
    ):
        self.backend = backend
        self.planner = planner
        self.narrator = narrator
        self.settings = settings
        self.threads = Bounded(max_threads)
        self.seen_events = Bounded(10_000)
        self.seen_signatures = Bounded(20_000)  # signed requests of the last 5 minutes (Bolt refuses older ones)
        self.zones = Bounded(5_000)
        self.requests = Bounded(2_000)  # request JSON too long for a button value
        self.renderer = SlackRenderer(getattr(backend, "name", ""), settings.dashboard_url)
        self.charts = CHARTS  # off the request threads, with a deadline and a CPU cap
        # Bolt runs acks and lazy listeners on one pool of 10 threads: answers queue here instead, so a burst
        # of slow answers never leaves an ack without a thread (Slack gives up after 3 s).
        self.workers = ThreadPoolExecutor(max_workers=ANSWER_WORKERS, thread_name_prefix="heliqa-answer")

    def register(self, app: App) -> None:
        """Attach the middleware and listeners to a Bolt app."""
        app.middleware(self.drop_retries)
        app.command("/heliqa")(ack=self.ack_command, lazy=[self.answer_command])
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(SHOW_REQUEST)(self.show_request)
        app.action(OPEN_DASHBOARD)(self.ack_link)

    def warm_up(self) -> None:
        """Open the backend, import matplotlib and the LLM client (if configured) now, so first answers are fast."""
        from heliqa.agent.factory import warm_up as warm_up_planner

        try:
            self.backend.vocabulary(self.backend.resolve_org(self.settings.org))
        except HeliqaError as error:
            log.warning("backend not ready: %s", redact(str(error)))
        try:
            self.charts.warm_up()
        except Exception as error:  # noqa: BLE001  (answers still go out, without charts being fast)
            log.warning("chart process not ready: %s", redact(str(error)))
        try:
            warm_up_planner(self.planner)
        except HeliqaError as error:
            log.warning("LLM planner not ready: %s", redact(str(error)))

    # access ------------------------------------------------------------------------------------------
    def refusal(self, user: str, channel: str) -> str | None:
        """A polite refusal when the user or the channel is not on an allow-list, else None."""
        s = self.settings
        if s.allowed_users and user not in s.allowed_users:
            return NOT_ALLOWED_USER
        if s.allowed_channels:
            dm = channel.startswith("D")
            if (dm and "dm" not in s.allowed_channels) or (not dm and channel not in s.allowed_channels):
                places = ", ".join(f"<#{c}>" for c in sorted(s.allowed_channels) if c != "dm")
                where = f" Try me in {places}." if places else ""
                return f"Sorry, I only answer in approved channels.{where}"
        return None

    def drop_retries(self, body: dict, request, next) -> BoltResponse | None:  # noqa: A002 (Bolt's name)
        """Answer each request once: a replay of a signed request (same signature, inside Slack's 5-minute
        window) and a retry of an event id already seen are acknowledged and dropped."""
        signature = (request.headers.get("x-slack-signature") or [None])[0]
        if signature and not self.seen_signatures.add_new(signature):
            log.info("dropped a replayed Slack request")
            return BoltResponse(status=200, body="")
        event_id = body.get("event_id")
        if event_id and not self.seen_events.add_new(event_id):
            retry = (request.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("dropped Slack retry %s of event %s", retry, event_id)
            return BoltResponse(status=200, body="")
        next()
        return None

    # slash command -------------------------------------------------------------------------------------
    def _command_reply(self, command: dict) -> str | None:
        """The immediate reply that ends a slash command (refusal or help), or None to go on and answer."""
        refused = self.refusal(command.get("user_id", ""), command.get("channel_id", ""))
        if refused:
            return refused
        text = (command.get("text") or "").strip()
        return HELP if text.lower() in ("", "help", "?") else None

    def ack_command(self, ack, command: dict) -> None:
        """Acknowledge `/heliqa` at once: a refusal or help, or 'looking into it' (the answer follows)."""
        reply = self._command_reply(command)
        looking = capped(f"Looking into “{inert(command['text'].strip())}”…", LIMITS["message_text"])
        ack(text=reply or looking, response_type="ephemeral")

    def answer_command(self, client: WebClient, command: dict, respond) -> None:
        """After the ack: post the question in the channel and answer it in that message's thread."""
        if self._command_reply(command):
            return
        question = command["text"].strip()
        user, channel = command["user_id"], command["channel_id"]
        from heliqa.watch_commands import reply  # `/heliqa watch <words>`, `/heliqa mute <monitor> 2h`, ...

        if (said := reply(question, self.backend, self.planner, self.settings.org, channel=channel)) is not None:
            self._say(client, channel, None, said, respond=respond)  # a change to what the channel is told
            return
        try:
            parent = client.chat_postMessage(channel=channel, text=f"<@{user}> asked: {self.renderer.text(question)}")
        except SlackApiError as error:
            # Not a member (or someone else's DM): answer through the command's response_url instead.
            log.info("cannot post in %s (%s); answering via response_url", channel, error.response.get("error"))
            self.answer(client, channel, None, user, question, respond=respond)
            return
        self.answer(client, channel, parent["ts"], user, question)

    # mentions and DMs ------------------------------------------------------------------------------------
    def on_mention(self, event: dict, client: WebClient, context) -> None:
        """`@heliqa question` in a channel: answer in the mention's thread."""
        if event.get("bot_id") or event.get("subtype"):
            return
        question = re.sub(rf"<@{context.bot_user_id}(\|[^>]*)?>", "", event.get("text", "")).strip()
        self._converse(client, event, question, event.get("thread_ts") or event["ts"])

    def on_message(self, event: dict, client: WebClient) -> None:
        """A direct message: answer in the DM (in its thread when it was written in one)."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        self._converse(client, event, event.get("text", "").strip(), event.get("thread_ts"))

    def _converse(self, client: WebClient, event: dict, question: str, thread_ts: str | None) -> None:
        user, channel = event.get("user", ""), event["channel"]
        refused = self.refusal(user, channel)
        if refused:
            if channel.startswith("D"):
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=refused)
            else:
                client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=refused)
            return
        if question.lower() in ("", "help", "?"):
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=HELP)
            return
        from heliqa.watch_commands import reply  # `watch <words>`, `mute <monitor> 2h`, `watches`, `unwatch …`

        where = (channel, thread_ts) if thread_ts else None  # `mute this 2h` under an incident's post
        said = reply(question, self.backend, self.planner, self.settings.org, where=where, channel=channel)
        if said is not None:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=said)
            return
        if question.lower() in ("reset", "start over", "new question"):
            thread = self.threads.get((channel, thread_ts or ""))
            if thread:
                thread.conversation.reset()
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text="Okay, starting fresh.")
            return
        self.answer(client, channel, thread_ts, user, question)

    # answering ---------------------------------------------------------------------------------------------
    def user_zone(self, client: WebClient, user: str):
        """The asker's time zone from their Slack profile (cached), else the configured default."""
        name = self.zones.get(user)
        if name is None:
            try:
                name = client.users_info(user=user)["user"].get("tz") or ""
            except SlackApiError as error:
                log.info("users.info failed for %s (%s); using the default zone", user, error.response.get("error"))
                name = ""
            self.zones.get(user, lambda: name)
        try:
            return zone(name or self.settings.default_tz)
        except ConfigError:
            return zone(self.settings.default_tz)

    def answer(
        self, client: WebClient, channel: str, thread_ts: str | None, user: str, question: str, respond=None
    ) -> None:
        """Answer on heliqa's own workers: Bolt's threads stay free to acknowledge the next request in time."""
        self.workers.submit(self._answer, client, channel, thread_ts, user, question, respond)

    def _answer(
        self, client: WebClient, channel: str, thread_ts: str | None, user: str, question: str, respond=None
    ) -> None:
        """Ask the thread's conversation and post the answer (blocks + chart, or plain text)."""
        try:
            tz = self.user_zone(client, user)
            if respond is None:
                thread = self.threads.get(
                    (channel, thread_ts or ""), lambda: SlackThread(self._conversation(tz, channel, thread_ts))
                )
            else:
                thread = SlackThread(self._conversation(tz))  # no thread to follow up in
            with thread.lock:
                thread.conversation.tz = tz
                answer = thread.conversation.ask(question)
            self._post(client, channel, thread_ts, answer, respond)
        except Exception as error:  # a bug or Slack failure must still leave the asker a useful reply
            ref = uuid.uuid4().hex[:8]
            log.exception("answering %r failed (ref %s): %s", question, ref, redact(str(error)))
            text = (
                f":warning: Something went wrong on my side (ref `{ref}`). Try again in a minute or rephrase, "
                f"e.g. `{EXAMPLES[0]}`. If it keeps happening, send the ref to whoever runs heliqa."
            )
            try:
                self._say(client, channel, thread_ts, text, respond=respond)
            except Exception:
                log.exception("could not report the failure (ref %s)", ref)

    def _conversation(self, tz, channel: str = "", thread_ts: str | None = None) -> Conversation:
        """A new conversation; in the thread of an incident post, its previous answer is the incident's scope."""
        conversation = Conversation(self.backend, self.planner, self.settings.org, tz, self.settings.now, self.narrator)
        if thread_ts:
            from heliqa.watch import incident_of_thread

            conversation.last = incident_of_thread(self.backend, channel, thread_ts, conversation.now())
        return conversation

    def _say(
        self, client: WebClient, channel: str, thread_ts: str | None, text: str, blocks=None, respond=None
    ) -> None:
        text = redact(text)
        if respond is not None:
            respond(text=text, blocks=blocks, response_type="in_channel", replace_original=False)
        else:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)

    def _post(self, client: WebClient, channel: str, thread_ts: str | None, answer: Answer, respond) -> None:
        value = json.dumps(request_json(answer), separators=(",", ":")) if answer.status == "ok" else ""
        if len(value) > LIMITS["button_value"]:
            ref = uuid.uuid4().hex
            self.requests.get(ref, lambda: value)
            value = f"ref:{ref}"
        message = self.renderer.render(answer, value)
        if message.blocks is None:  # a question back, a refusal or an error: plain text, no chart
            self._say(client, channel, thread_ts, message.text, respond=respond)
            return
        if respond is not None:
            message.blocks.append(
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": "Invite @heliqa to this channel for threads, follow-ups and charts."}
                    ],
                }
            )
            self._say(client, channel, None, message.text, blocks=message.blocks, respond=respond)
            return
        self._say(client, channel, thread_ts, message.text, blocks=message.blocks)
        self._upload_chart(client, channel, thread_ts, answer)

    def _upload_chart(self, client: WebClient, channel: str, thread_ts: str | None, answer: Answer) -> None:
        from heliqa.chart import title_of

        png = self.charts.render(answer)
        if png is None:
            return
        try:
            client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=png,
                filename="heliqa-chart.png",
                title=shown_name(title_of(answer), 250),
                alt_txt=shown_name(answer.interpretation, LIMITS["alt_text"]),
            )
        except SlackApiError as error:
            log.warning("chart upload failed (%s); is the files:write scope granted?", error.response.get("error"))

    # buttons ----------------------------------------------------------------------------------------------
    def show_request(self, ack, body: dict, action: dict, respond) -> None:
        """'Show request JSON': reply to the clicker only with the query that ran."""
        ack()
        refused = self.refusal(body.get("user", {}).get("id", ""), (body.get("channel") or {}).get("id", ""))
        if refused:
            respond(text=refused, response_type="ephemeral", replace_original=False)
            return
        value = action.get("value")
        value = value if isinstance(value, str) else ""
        if value.startswith("ref:"):
            value = self.requests.get(value[4:])
            if value is None:
                respond(
                    text="That request is no longer in memory; ask the question again to see it.",
                    response_type="ephemeral",
                    replace_original=False,
                )
                return
        try:
            text = request_text(value)
        except (ValueError, RecursionError):  # not a value heliqa wrote: a forged or mangled click
            respond(
                text="Sorry, I can't show that request: the button's value is not one I wrote. "
                "Ask the question again for a fresh button.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        respond(text=text, response_type="ephemeral", replace_original=False)

    def ack_link(self, ack) -> None:
        """Link buttons still send an action; acknowledge it so Slack shows no error."""
        ack()


# --- wiring ------------------------------------------------------------------------------------------
def build_app(heliqa: HeliqaSlack, client: WebClient, signing_secret: str | None) -> App:
    """The Bolt app (signature checks on when a signing secret is given, i.e. HTTP mode)."""
    try:
        app = App(
            client=client,
            signing_secret=signing_secret,
            request_verification_enabled=signing_secret is not None,
            logger=logging.getLogger("heliqa.bolt"),
        )
    except Exception as error:  # auth.test failed: a wrong or revoked token, or no route to Slack
        raise ConfigError(
            f"Slack rejected the bot token or could not be reached: {redact(str(error))[:200]}",
            "check SLACK_BOT_TOKEN (xoxb-…) and that the app is installed in the workspace",
        ) from None
    heliqa.register(app)
    return app


def _secret(name: str, prefix: str, hint: str) -> str:
    value = (heliqa_settings().secret(name.lower()) or "").strip()
    if not value:
        raise ConfigError(f"{name} is not set", hint)
    if prefix and not value.startswith(prefix):
        raise ConfigError(f"{name} does not look like a {prefix}… token", hint)
    return value


def configure_logging() -> None:
    """INFO logs on stderr, every line redacted (Slack tokens too), whichever handler prints it."""
    logs.install(redact)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(args) -> int:
    """`heliqa slack`: Socket Mode with SLACK_APP_TOKEN, or HTTP mode (`--http`) with SLACK_SIGNING_SECRET."""
    from heliqa.agent.factory import make_planner, narrator_for
    from heliqa.agent.timerange import instant
    from heliqa.tools.backends import open_backend

    token = _secret("SLACK_BOT_TOKEN", "xoxb-", "create the app from docs/slack.md and copy its Bot User OAuth Token")
    if args.http:
        secret = _secret("SLACK_SIGNING_SECRET", "", "copy the Signing Secret from the app's Basic Information page")
    else:
        app_token = _secret(
            "SLACK_APP_TOKEN",
            "xapp-",
            "create an app-level token with connections:write (or pass --http to receive events over HTTP)",
        )
    configure_logging()
    backend = open_backend(args.backend)
    if getattr(args, "sync_every", None):
        from heliqa.tools.sync import live_store, start_live_sync

        backend = live_store(backend)
        start_live_sync(backend, args.org or heliqa_settings().heliqa_org_id, args.sync_every, log.info)
    settings = Settings.from_env(args.org, args.tz, instant(args.now), backend.name)
    planner = make_planner(args.planner)
    heliqa = HeliqaSlack(backend, planner, settings, narrator=narrator_for(planner))
    client = WebClient(token=token, base_url=heliqa_settings().slack_api_url or WebClient.BASE_URL)
    app = build_app(heliqa, client, secret if args.http else None)
    threading.Thread(target=heliqa.warm_up, name="heliqa-warm-up", daemon=True).start()
    stop_watch = _start_watch(args, backend)
    try:
        if args.http:
            import uvicorn

            log.info("serving Slack events on http://%s:%s/slack/events", args.host, args.port)
            uvicorn.run(http_api(app, secret), host=args.host, port=args.port, log_config=None, proxy_headers=True)
        else:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            log.info("connecting to Slack in Socket Mode")
            SocketModeHandler(app, app_token).start()
    finally:
        stop_watch()
    return 0


def _start_watch(args, backend: Backend):
    """`--watch [FILE]`: the watch loop on a thread of this app (stopped with it); a no-op stop otherwise."""
    if getattr(args, "watch", None) is None:
        return lambda: None
    from heliqa.watch import in_background

    return in_background(args, backend)
