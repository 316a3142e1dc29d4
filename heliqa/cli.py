"""The `heliqa` command: a thin argparse layer over the library (no langchain on the ask path)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from heliqa.tools import logs
from heliqa.tools.errors import ConfigError, HeliqaError
from heliqa.tools.extras import require
from heliqa.tools.safetext import shown_text
from heliqa.tools.settings import redact, settings

EXIT_OK, EXIT_NO_ANSWER, EXIT_NOTHING_LOADED = 0, 3, 2
BACKENDS = ("embedded", "helicone", "clickhouse")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _print_json(data) -> None:
    from heliqa.tools.safetext import json_text

    sys.stdout.write(json_text(data) + "\n")


def cmd_ask(args: argparse.Namespace) -> int:
    from heliqa.agent.conversation import Conversation
    from heliqa.agent.factory import make_planner, narrator_for
    from heliqa.agent.timerange import instant, zone
    from heliqa.render import TextRenderer, terminal_text
    from heliqa.tools.backends import open_backend

    question = " ".join(args.question)
    planner = make_planner(args.planner)
    conversation = Conversation(
        open_backend(args.backend), planner, args.org, zone(args.tz), instant(args.now), narrator_for(planner)
    )
    answer = conversation.ask(question)
    if args.json:
        _print_json(answer.to_json())
    elif answer.status == "error":  # a failure, not an answer: stderr, in the one error format
        sys.stderr.write(f"heliqa: {terminal_text(answer.message)}\n")
    else:
        sys.stdout.write(TextRenderer().render(answer) + "\n")
    sys.stdout.flush()  # the answer is out before any chart work (matplotlib takes a second to import)
    if args.chart:
        try:
            require("slack", "--chart")  # matplotlib comes with the [slack] extra
        except ConfigError as error:  # the answer stands; the chart asked for is missing: exit 2
            sys.stderr.write(f"heliqa: {error}\n")
            return error.exit_code
        _write_chart(answer, args.chart)
    if answer.status == "ok":
        return EXIT_OK
    if answer.status == "error":
        return answer.exit_code or 1
    return EXIT_NO_ANSWER


def _write_chart(answer, path: str) -> None:
    """Write the answer's chart as a PNG (a note on stderr when the answer has nothing to draw)."""
    from heliqa.chart import render_png

    png = render_png(answer)
    if png is None:
        sys.stderr.write(f"heliqa: no chart for this answer; {path} not written\n")
        return
    try:
        with open(path, "wb") as out:
            out.write(png)
    except OSError as error:
        raise ConfigError(f"cannot write the chart to {path}: {error.strerror}") from None


def cmd_query(args: argparse.Namespace) -> int:
    from heliqa.tools.backends import open_backend
    from heliqa.tools.errors import InvalidRequest
    from heliqa.tools.limits import MAX_BODY_BYTES, parse_json
    from heliqa.tools.query import ScoresRequest
    from heliqa.tools.timebuckets import check_buckets
    from heliqa.tools.validation import validate

    try:
        if args.file == "-":
            raw = sys.stdin.buffer.read(MAX_BODY_BYTES + 1)
        else:
            with open(args.file, "rb") as handle:
                raw = handle.read(MAX_BODY_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"cannot read {args.file}: {error.strerror}") from None
    try:
        body = parse_json(raw, args.file if args.file != "-" else "stdin")
    except InvalidRequest as error:
        _print_json({"data": None, "error": error.message})
        return 2
    try:
        request = validate(ScoresRequest, body)
        check_buckets(request.timeFilter, request.dbIncrement, request.timeZoneDifference)
    except InvalidRequest as error:
        _print_json({"data": None, "error": "Validation failed: " + "; ".join(error.problems)})
        return 2
    backend = open_backend(args.backend)
    rows = backend.scores(request, backend.resolve_org(args.org))
    _print_json({"data": rows, "error": None})
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    from heliqa.progress import Progress
    from heliqa.tools.store import Store

    store = Store()
    with Progress(enabled=not args.quiet) as progress:
        report = store.import_files(
            args.files, default_org=args.org, progress=progress.update, batch_rows=args.batch_rows
        )
    for bad in report.bad[:20]:
        sys.stderr.write(f"heliqa: skipped {bad}\n")
    if len(report.bad) > 20:
        sys.stderr.write(f"heliqa: ... and {len(report.bad) - 20:,} more bad lines\n")
    sys.stdout.write(
        f"imported {report.added:,} new requests from {len(report.files)} file(s) into {store.path} "
        f"({report.duplicates:,} already present, {len(report.bad):,} bad lines skipped)\n"
    )
    if report.bad and not (report.added or report.duplicates):
        sys.stderr.write("heliqa: no request loaded: every line was bad\n")
        return EXIT_NOTHING_LOADED
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from heliqa.progress import SyncProgress
    from heliqa.tools.store import Store
    from heliqa.tools.sync import MAX_CALLS_PER_SECOND, Syncer, client_from_env, parse_duration, parse_since

    if args.max_calls is not None and args.max_calls < 2:
        raise ConfigError("--max-calls must be at least 2 (a count and a page)")
    since = parse_since(args.since) if args.since else None
    overlap = parse_duration(args.overlap)
    if not 1 <= args.page_size <= 1000:
        raise ConfigError("--page-size must be between 1 and 1000 (Helicone's limit)")
    client = client_from_env(args.base_url)
    args.org = args.org or settings().heliqa_org_id
    store = Store()
    with SyncProgress(enabled=not args.quiet) as progress:
        syncer = Syncer(
            client,
            store,
            args.org,
            overlap,
            args.bodies,
            args.page_size,
            args.batch,
            progress=progress.update,
            max_calls_per_second=args.max_calls or MAX_CALLS_PER_SECOND,
        )
        report = syncer.run(since)
    for bad in report.bad[:20]:
        sys.stderr.write(f"heliqa: skipped {bad}\n")
    if len(report.bad) > 20:
        sys.stderr.write(f"heliqa: ... and {len(report.bad) - 20:,} more rows skipped\n")
    for missed in report.bodies_missed[:20]:
        sys.stderr.write(f"heliqa: no body for {missed}\n")
    if report.bodies_missed:
        sys.stderr.write(
            f"heliqa: {len(report.bodies_missed):,} bodies not fetched (their requests are stored without them)\n"
        )
    for note in report.notes:
        sys.stderr.write(f"heliqa: note: {note}\n")
    cursor = f"{report.cursor:%Y-%m-%dT%H:%M:%SZ}" if report.cursor else "none (no rows)"
    sys.stdout.write(
        f"synced {report.added:,} new requests of {report.fetched:,} fetched from {client.base_url} "
        f"(organization {report.org}) into {store.path} in {report.seconds:.1f} s "
        f"({report.rate:,.0f} rows/s, {report.pages:,} pages); cursor {cursor}\n"
    )
    return EXIT_OK  # skipped rows are reported above, as `heliqa import` does


def cmd_demo(args: argparse.Namespace) -> int:
    from heliqa.progress import Progress
    from heliqa.tools.demo import DEMO_ORG, demo_org, fill_demo
    from heliqa.tools.results import iso_z
    from heliqa.tools.store import Store

    store = Store()
    org = settings().heliqa_org_id or demo_org(args.vocabulary)
    if args.reset:
        removed = store.remove_org(org)
        sys.stdout.write(f"removed the {removed:,} requests of organization {org} from {store.path}\n")
    end = demo_end(args.now)
    with Progress() as bar:
        added = fill_demo(
            store,
            rows=args.rows,
            seed=args.seed,
            now=end,
            vocabulary=args.vocabulary,
            progress=lambda done, total: bar.update("demo", done, total, unit="requests"),
        )
    stamp = iso_z(end)
    again = "" if added else f" (it already held this data; `heliqa demo --reset --now {stamp}` starts over)"
    sys.stdout.write(
        f"demo data: {added:,} new requests in {store.path} (organization {org}){again}\n"
        f"the data ends at {stamp}; ask as of that moment with --now, e.g.\n"
        f"  heliqa ask --now {stamp}{'' if org == DEMO_ORG else f' --org {org}'} "
        '"p90 latency by model over the last 24 hours"\n'
    )
    return EXIT_OK


def demo_end(now: str | None):
    """The instant the demo's 30 days end at: `--now`, or the current time to the whole second."""
    from datetime import UTC, datetime

    from heliqa.agent.timerange import instant

    return (instant(now) or datetime.now(UTC)).replace(microsecond=0)


def cmd_repair(args: argparse.Namespace) -> int:
    from heliqa.tools.store import Store

    store = Store()
    if not store.path.exists():
        raise ConfigError(f"no heliqa store at {store.path}", "HELIQA_HOME moves the store")
    found = store.repair()
    sys.stdout.write(
        f"repaired {store.path}: scores, per-minute sums, vocabulary and organization counts re-derived from "
        f"{found['requests']:,} requests in {found['organizations']:,} organization(s)\n"
    )
    return EXIT_OK


def cmd_orgs(args: argparse.Namespace) -> int:
    from heliqa.tools.results import iso_z
    from heliqa.tools.store import Store

    store = Store(read_only=True)
    for org, n in store.organizations().items():
        span = store.data_span(org)
        first, last = (iso_z(t) for t in span[:2]) if span else ("-", "-")
        sys.stdout.write(f"{org}\t{n}\t{first}\t{last}\n")
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    from heliqa.repl import main

    return main(args)


def cmd_slack(args: argparse.Namespace) -> int:
    require("slack", "heliqa slack")
    from heliqa.slack import main

    return main(args)


def cmd_serve(args: argparse.Namespace) -> int:
    require("serve", "heliqa serve")
    from heliqa.serve import main

    return main(args)


def cmd_watch(args: argparse.Namespace) -> int:
    from heliqa.watch import main

    return main(args)


def cmd_eval(args: argparse.Namespace) -> int:
    require("llm", "heliqa eval")
    from heliqa.agent.evaluate import run_eval

    return run_eval(args)


EXAMPLES = {
    "ask": """examples:
  heliqa ask "p90 latency for gpt-4 last week by day"
  heliqa ask --json --tz Europe/Berlin "error rate by model yesterday"
  heliqa ask --backend helicone "top 5 users by cost this month"
  heliqa ask --now 2026-11-24T12:00:00Z --tz UTC "how many 429s from anthropic yesterday by hour\"""",
    "query": """examples:
  heliqa query body.json
  echo '{"timeFilter": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-24T00:00:00Z"},
         "userFilter": "all", "dbIncrement": "day", "timeZoneDifference": 0}' | heliqa query -""",
    "import": """examples:
  heliqa import requests.jsonl.gz
  heliqa import --org 8f2c1a4e-6b7d-4c3e-9a1f-2d5e8b7c6a01 export-*.jsonl
  heliqa import helicone-export.csv.gz

Formats: JSONL, a JSON array or CSV, gzipped or not: the sample shape, or Helicone's export files exactly as
`npx @helicone/export --format jsonl|json|csv` writes them. Idempotent on request_id: a file imported again adds
nothing.
Bad lines are reported on stderr and skipped; the exit code is 0 when anything loaded, 2 when nothing did.""",
    "sync": """examples:
  heliqa sync --org 8f2c1a4e-6b7d-4c3e-9a1f-2d5e8b7c6a01 --since 30d
  HELICONE_BASE_URL=https://eu.api.helicone.ai heliqa sync --org ID --bodies
  heliqa sync --org ID --base-url http://127.0.0.1:8585     # from another heliqa serve

Incremental: each run starts at the saved cursor less --overlap, so late rows are not missed.""",
    "demo": """examples:
  heliqa demo --now 2026-11-24T12:00:00Z
  heliqa demo --reset --now 2026-11-24T12:00:00Z
  heliqa demo --rows 200000 --now 2026-11-24T12:00:00Z
  heliqa demo --vocabulary acme --now 2026-11-24T12:00:00Z""",
    "repair": """examples:
  heliqa repair                  # after a crash or a full disk: vocabulary and organization counts from the rows""",
    "orgs": """prints one line per organization: its id, requests, first and last request (UTC)

examples:
  heliqa orgs""",
    "chat": """examples:
  heliqa chat --tz America/New_York
  printf 'p90 latency for gpt-4 last week\\nnow by hour\\n' | heliqa chat""",
    "slack": """examples:
  heliqa slack                                     # Socket Mode (SLACK_BOT_TOKEN, SLACK_APP_TOKEN)
  heliqa slack --http --host 0.0.0.0 --port 3000   # HTTP mode (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)
  heliqa slack --watch monitors.toml --watch-every 5m  # also post incidents (see heliqa watch)

needs the [slack] extra: pip install 'heliqa[slack]'""",
    "serve": """examples:
  HELIQA_SERVE_KEYS="key1=ORG_ID" heliqa serve
  HELIQA_SERVE_KEYS="key1=ORG_ID" heliqa serve --host 0.0.0.0 --port 8585

needs the [serve] extra: pip install 'heliqa[serve]'""",
    "watch": """examples:
  heliqa watch --check monitors.toml                 # every mistake, with its line
  heliqa watch --backtest 30d                        # what the default anomaly monitors would have posted
  heliqa watch --backtest 30d --json monitors.toml
  heliqa watch --every 5m --channel C0123456         # post incidents to Slack (SLACK_BOT_TOKEN)
  heliqa watch --digest daily                        # the digest of the last 24 hours, printed
  heliqa watch mute "latency by model" 2h
  heliqa watch mute digest daily 1d                  # skip the daily digest's posts for a day (unwatch: stop it)
  heliqa watch add "p95 latency for gpt-4 over 1h above 5 s with at least 50 requests"

With no FILE: monitors.toml beside the store, else anomaly monitors of p90 latency, error rate, cost and each
score key, overall and by model and provider.""",
    "eval": """examples:
  OPENAI_API_KEY=... heliqa eval cases.jsonl
  OPENAI_BASE_URL=http://localhost:8000/v1 HELIQA_LLM_MODEL=qwen2.5-7b-instruct heliqa eval cases.jsonl

needs the [llm] extra: pip install 'heliqa[llm]'""",
}


class _Help(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; every option with a default shows it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "%(default)" not in text
            and action.option_strings
            and action.default not in (None, False, argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """Usage errors in heliqa's one error format: `heliqa: ...` on stderr, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"heliqa: {message}\n  hint: {self.prog} --help shows the options and examples\n")


def version() -> str:
    """The installed distribution's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("heliqa")
    except PackageNotFoundError:  # run from a checkout without installing
        return "unknown (not installed)"


def _common(sp: argparse.ArgumentParser, planner: bool = True) -> None:
    """The options of every command that answers questions: organization, zone, instant, backend, planner."""
    sp.add_argument("--org", metavar="ID", help="organization id (default: HELIQA_ORG_ID, else the only one)")
    sp.add_argument(
        "--tz",
        metavar="ZONE",
        help="IANA time zone, e.g. America/New_York (default: HELIQA_TZ, else this machine's)",
    )
    sp.add_argument("--now", metavar="ISO", help="answer as if it were this instant (default: the current time)")
    sp.add_argument("--backend", choices=BACKENDS, help="where the logs are (default: HELIQA_BACKEND, else embedded)")
    if planner:
        sp.add_argument(
            "--planner",
            choices=("auto", "rules", "llm"),
            help="who reads the question (default: HELIQA_PLANNER, else auto)",
        )


def _question_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """ask and query: one question, or one raw request body."""
    ask = command("ask", "answer one question")
    ask.add_argument("question", nargs="+", help="the question, in plain words")
    ask.add_argument("--json", action="store_true", help="print the JSON answer shape")
    ask.add_argument("--chart", metavar="FILE.png", help="also write the answer's chart as a PNG")
    _common(ask)
    ask.set_defaults(func=cmd_ask)

    query = command("query", "run a raw Helicone scores request body (FILE, or - for stdin)")
    query.add_argument("file", help="JSON body of POST /v1/dashboard/scores/query, or - for stdin")
    query.add_argument("--org", metavar="ID", help="organization id (default: HELIQA_ORG_ID, else the only one)")
    query.add_argument(
        "--backend", choices=BACKENDS, help="where the logs are (default: HELIQA_BACKEND, else embedded)"
    )
    query.set_defaults(func=cmd_query)


def _data_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """import, sync, demo, repair and orgs: what the embedded store holds."""
    imp = command("import", "load request logs (JSONL, a JSON array or CSV, gzipped or not) into the embedded store")
    imp.add_argument("files", nargs="+", metavar="FILE", help="JSONL, JSON or CSV files, gzipped (.gz) or not")
    imp.add_argument("--org", metavar="ID", help="organization for rows that lack one (default: HELIQA_ORG_ID)")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.add_argument(
        "--batch-rows",
        type=_positive,
        default=50_000,
        help="rows per transaction (fewer: shorter waits for questions asked meanwhile)",
    )
    imp.set_defaults(func=cmd_import)

    sync = command("sync", "copy an organization's requests from Helicone's API into the embedded store")
    sync.add_argument("--org", metavar="ID", help="organization id the rows belong to (default: HELIQA_ORG_ID)")
    sync.add_argument("--base-url", help="default: HELICONE_BASE_URL or https://api.helicone.ai (EU: eu.api...)")
    sync.add_argument(
        "--since",
        help="start of the first run, or re-read from here (ISO 8601, or a duration back: 30d)",
    )
    sync.add_argument("--overlap", default="15m", help="re-read this much before the saved cursor (late rows)")
    sync.add_argument("--bodies", action="store_true", help="also fetch request/response bodies (signed URLs)")
    sync.add_argument("--page-size", type=int, default=1000, help="rows per request (Helicone allows 1000)")
    sync.add_argument("--batch", type=int, default=50_000, help="rows written (and cursor saved) per transaction")
    sync.add_argument(
        "--max-calls",
        type=int,
        metavar="N",
        help="most calls one second of data may take before the run stops (a server whose pages never end; "
        "default 200)",
    )
    sync.add_argument("--quiet", action="store_true", help="no progress line")
    sync.set_defaults(func=cmd_sync)

    from heliqa.tools.demo import DEMO_ROWS, VOCABULARIES

    demo = command("demo", "fill the embedded store with a seeded, realistic generated dataset")
    demo.add_argument("--rows", type=int, default=DEMO_ROWS, help="how many requests")
    demo.add_argument("--seed", type=int, default=7, help="random seed (same seed and --now, same data)")
    demo.add_argument("--now", metavar="ISO", help="end of the generated 30 days (default: the current time)")
    demo.add_argument(
        "--reset", action="store_true", help="remove the demo organization's requests first, then generate"
    )
    demo.add_argument(
        "--vocabulary",
        choices=VOCABULARIES,
        default="sample",
        help="whose words: the sample organization, or 'acme', one that names everything differently",
    )
    demo.set_defaults(func=cmd_demo)

    repair = command("repair", "re-derive the embedded store's vocabulary and counts from its rows")
    repair.set_defaults(func=cmd_repair)

    orgs = command("orgs", "list the organizations in the embedded store")
    orgs.set_defaults(func=cmd_orgs)


def _watch_options(sp: argparse.ArgumentParser) -> None:
    """`--watch [FILE]`: run `heliqa watch` inside a long-running app (slack, serve)."""
    sp.add_argument(
        "--watch",
        nargs="?",
        const="",
        metavar="FILE",
        help="also watch the monitors of FILE (default: monitors.toml beside the store, else the default set)",
    )
    sp.add_argument("--watch-every", metavar="DURATION", help="--watch: evaluation interval (default 5m)")
    sp.add_argument("--watch-channel", action="append", metavar="ID", help="--watch: channel for monitors naming none")


def _app_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """chat, slack and serve (the long-running surfaces), and eval."""
    chat = command("chat", "interactive REPL with follow-up questions")
    _common(chat)
    chat.set_defaults(func=cmd_chat)

    slack = command("slack", "run the Slack app (Socket Mode, or HTTP with --http)")
    slack.add_argument("--http", action="store_true", help="serve HTTP events instead of Socket Mode")
    slack.add_argument("--host", default="127.0.0.1", help="HTTP mode: address to listen on")
    slack.add_argument("--port", type=int, default=3000, help="HTTP mode: port")
    slack.add_argument(
        "--sync-every", metavar="DURATION", help="keep the embedded store fresh: `heliqa sync` every e.g. 5m"
    )
    _watch_options(slack)
    _common(slack)
    slack.set_defaults(func=cmd_slack)

    serve = command("serve", "serve Helicone's API over the embedded store")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8585, help="port")
    serve.add_argument("--org", metavar="ID", help="organization --sync-every copies (default: HELIQA_ORG_ID)")
    serve.add_argument(
        "--sync-every",
        metavar="DURATION",
        help="keep the store fresh: `heliqa sync` from HELICONE_BASE_URL every e.g. 5m",
    )
    _watch_options(serve)
    serve.add_argument("--tz", metavar="ZONE", help="--watch: time zone of posts whose channel names none")
    serve.add_argument("--now", metavar="ISO", help="--watch: evaluate as if it were this instant (tests, replays)")
    serve.set_defaults(func=cmd_serve)

    watch = command("watch", "post an alert with its explanation when a monitored measure breaks")
    watch.add_argument(
        "words",
        nargs="*",
        metavar="FILE | add WORDS [FILE] | mute NAME DURATION | unmute|unwatch|rewatch NAME | mute digest [LABEL] "
        "DURATION | unmute|unwatch|rewatch digest [LABEL]",
    )
    watch.add_argument("--check", action="store_true", help="validate FILE and exit")
    watch.add_argument("--backtest", metavar="DURATION", help="replay the monitors over this much history (30d)")
    watch.add_argument("--every", metavar="DURATION", help="evaluation interval (default 5m; backtests 15m)")
    watch.add_argument("--json", action="store_true", help="backtest: each incident as JSON; digest: the numbers")
    watch.add_argument(
        "--digest",
        choices=("daily", "weekly"),
        help="print the digest of the day (week) ending now: totals, biggest changes, incidents (never posted)",
    )
    watch.add_argument("--channel", action="append", metavar="ID", help="Slack channel for monitors naming none")
    watch.add_argument("--once", action="store_true", help="evaluate what is due once, deliver, exit")
    watch.add_argument("--clock", metavar="FILE", help="read the current instant from FILE (replays, tests)")
    watch.add_argument("--sync-every", metavar="DURATION", help="keep the embedded store fresh: sync every e.g. 5m")
    _common(watch, planner=False)
    watch.set_defaults(func=cmd_watch)

    ev = command("eval", "score a question set through the LLM planner (needs an endpoint)")
    ev.add_argument("cases", help="JSONL of {id, question, expect, data, now?, tz?} cases")
    _common(ev, planner=False)
    ev.set_defaults(func=cmd_eval)


def parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    p = _Parser(
        prog="heliqa",
        description="Ask your LLM traffic a question in plain words; get a checked answer.",
        epilog='start with: heliqa demo && heliqa ask "p90 latency by model over the last 24 hours"\n'
        "every command has --help with examples; configuration variables are listed in the README",
        formatter_class=_Help,
    )
    p.add_argument("--version", action="version", version=f"heliqa {version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, epilog=EXAMPLES[name], formatter_class=_Help)

    for add in (_question_commands, _data_commands, _app_commands):  # the order of `heliqa --help`
        add(command)
    return p


def _with_settings(args: argparse.Namespace) -> argparse.Namespace:
    """Options not given on the command line take their value from the environment's settings."""
    s = settings()
    if getattr(args, "org", None) is None and hasattr(args, "org"):
        args.org = s.heliqa_org_id
    if getattr(args, "tz", None) is None and hasattr(args, "tz"):
        args.tz = s.heliqa_tz
    if getattr(args, "planner", None) is None and hasattr(args, "planner"):
        args.planner = s.heliqa_planner
    return args


def _run(argv: list[str] | None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command is None:
        p.print_help()
        return EXIT_OK
    try:
        return args.func(_with_settings(args))
    except HeliqaError as error:
        message = shown_text(redact(str(error)))  # an error may quote a name from data or the question
        if getattr(args, "json", False):
            _print_json({"status": "error", "message": message, "request": None, "data": []})
        else:
            sys.stderr.write(f"heliqa: {message}\n")
        return error.exit_code
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `heliqa` console script."""
    logs.install()  # every surface (ask, chat, query, serve, slack) logs through it: no secret in any log line
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader went away (`heliqa ask ... | head`): stop quietly, and point stdout at /dev/null so the
        # interpreter's final flush does not complain either. Exit 1, as rich's console does in `heliqa chat`.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
