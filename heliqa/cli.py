"""The `heliqa` command: a thin argparse layer over the library (no langchain on the ask path)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime

from heliqa.tools.errors import ConfigError, HeliqaError

EXIT_OK, EXIT_NO_ANSWER = 0, 3


def _now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--now {text!r} is not an ISO 8601 instant", "e.g. --now 2026-11-24T12:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def cmd_ask(args: argparse.Namespace) -> int:
    from heliqa.agent.conversation import Conversation
    from heliqa.agent.planner import make_planner
    from heliqa.agent.timerange import zone
    from heliqa.render import render_answer
    from heliqa.tools.backends import open_backend

    question = " ".join(args.question)
    conversation = Conversation(
        open_backend(args.backend), make_planner(args.planner), args.org, zone(args.tz), _now(args.now)
    )
    answer = conversation.ask(question)
    if args.chart:
        _write_chart(answer, args.chart)
    if args.json:
        _print_json(answer.to_json())
    else:
        sys.stdout.write(render_answer(answer) + "\n")
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
    from heliqa.tools.query import ScoresRequest
    from heliqa.tools.validation import validate

    try:
        text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
    except OSError as error:
        raise ConfigError(f"cannot read {args.file}: {error.strerror}") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        _print_json({"data": None, "error": f"{args.file} is not valid JSON: {error.msg} at line {error.lineno}"})
        return 2
    try:
        request = validate(ScoresRequest, body)
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
        report = store.import_files(args.files, default_org=args.org, progress=progress.update)
    for bad in report.bad[:20]:
        sys.stderr.write(f"skipped {bad}\n")
    if len(report.bad) > 20:
        sys.stderr.write(f"... and {len(report.bad) - 20} more bad lines\n")
    sys.stdout.write(
        f"imported {report.added:,} new requests from {len(report.files)} file(s) into {store.path} "
        f"({report.duplicates:,} already present, {len(report.bad):,} bad lines skipped)\n"
    )
    return EXIT_OK if not report.bad else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from heliqa.tools.demo import DEMO_ORG, fill_demo
    from heliqa.tools.store import Store

    store = Store()
    added = fill_demo(store, rows=args.rows, seed=args.seed, now=_now(args.now))
    sys.stdout.write(
        f"demo data: {added:,} new requests in {store.path} "
        f"(organization {os.environ.get('HELIQA_ORG_ID') or DEMO_ORG})\n"
        'try: heliqa ask "p90 latency by model over the last 24 hours"\n'
    )
    return EXIT_OK


def cmd_orgs(args: argparse.Namespace) -> int:
    from heliqa.tools.store import Store

    for org, n in Store(read_only=True).organizations().items():
        sys.stdout.write(f"{org}\t{n}\n")
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    from heliqa.repl import main

    return main(args)


def cmd_slack(args: argparse.Namespace) -> int:
    from heliqa.slack import main

    return main(args)


def cmd_serve(args: argparse.Namespace) -> int:
    from heliqa.serve import main

    return main(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from heliqa.agent.llm import run_eval

    return run_eval(args)


def parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    p = argparse.ArgumentParser(prog="heliqa", description="Ask your LLM traffic a question; get a checked answer.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, planner: bool = True) -> None:
        sp.add_argument("--org", default=os.environ.get("HELIQA_ORG_ID"), help="organization id (HELIQA_ORG_ID)")
        sp.add_argument("--tz", default=os.environ.get("HELIQA_TZ"), help="IANA time zone (default: this machine's)")
        sp.add_argument("--now", help="answer as if it were this instant (ISO 8601)")
        sp.add_argument(
            "--backend", choices=("embedded", "helicone", "clickhouse"), help="default: HELIQA_BACKEND or embedded"
        )
        if planner:
            sp.add_argument(
                "--planner", choices=("auto", "rules", "llm"), default=os.environ.get("HELIQA_PLANNER", "auto")
            )

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question", nargs="+")
    ask.add_argument("--json", action="store_true", help="print the JSON answer shape")
    ask.add_argument("--chart", metavar="FILE.png", help="also write the answer's chart as a PNG")
    common(ask)
    ask.set_defaults(func=cmd_ask)

    query = sub.add_parser("query", help="run a raw Helicone scores request body (FILE or -)")
    query.add_argument("file")
    query.add_argument("--org", default=os.environ.get("HELIQA_ORG_ID"))
    query.add_argument("--backend", choices=("embedded", "helicone", "clickhouse"))
    query.set_defaults(func=cmd_query)

    imp = sub.add_parser("import", help="load JSONL / JSONL.gz request logs into the embedded store")
    imp.add_argument("files", nargs="+")
    imp.add_argument("--org", default=os.environ.get("HELIQA_ORG_ID"), help="organization for rows that lack one")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=cmd_import)

    demo = sub.add_parser("demo", help="fill the embedded store with a seeded, realistic generated dataset")
    demo.add_argument("--rows", type=int, default=50_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--now", help="end of the generated range (default: now)")
    demo.set_defaults(func=cmd_demo)

    orgs = sub.add_parser("orgs", help="list the organizations in the embedded store")
    orgs.set_defaults(func=cmd_orgs)

    chat = sub.add_parser("chat", help="interactive REPL with follow-up questions")
    common(chat)
    chat.set_defaults(func=cmd_chat)

    slack = sub.add_parser("slack", help="run the Slack app (Socket Mode or HTTP)")
    slack.add_argument("--http", action="store_true", help="serve HTTP events instead of Socket Mode")
    slack.add_argument("--host", default="127.0.0.1")
    slack.add_argument("--port", type=int, default=3000)
    common(slack)
    slack.set_defaults(func=cmd_slack)

    serve = sub.add_parser("serve", help="serve Helicone's API over the embedded store")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8585)
    serve.set_defaults(func=cmd_serve)

    ev = sub.add_parser("eval", help="score a question set through the LLM planner (needs an endpoint)")
    ev.add_argument("cases")
    common(ev, planner=False)
    ev.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `heliqa` console script."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except HeliqaError as error:
        if getattr(args, "json", False):
            _print_json({"status": "error", "message": str(error), "request": None, "data": []})
        else:
            sys.stderr.write(f"heliqa: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
