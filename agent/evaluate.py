"""`heliqa eval`: answer a question set through the LLM planner and compare the rows with the expected ones."""

from __future__ import annotations

import json
import math
import sys
import time
from datetime import UTC
from typing import Any

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import narrator_for
from heliqa.agent.llm import LLMPlanner
from heliqa.agent.timerange import instant, zone
from heliqa.tools.backends import open_backend
from heliqa.tools.errors import ConfigError
from heliqa.tools.filters import parse_instant


def _table(rows: list[dict[str, Any]]) -> dict[tuple[str | None, str | None], Any]:
    out = {}
    for r in rows:
        bucket = r.get("bucket")
        if bucket:
            bucket = parse_instant(str(bucket)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if r.get("period"):  # a comparison's periods are told apart like buckets
            bucket = f"{r['period']}:{bucket or ''}"
        group = r.get("group")
        out[(bucket or None, None if group is None else str(group))] = r.get("value")
    return out


def compare_list(want_rows: list[dict[str, Any]], got_rows: list[dict[str, Any]]) -> list[str]:
    """A request list passes with the same request ids in the same order (score.py's rule)."""
    want = [str(r.get("request_id")).lower() for r in want_rows]
    got = [str(r.get("request_id")).lower() for r in got_rows]
    return [] if want == got else [f"want request ids {want[:3]}... got {got[:3]}..."]


def compare_explain(case: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    """An explanation passes when its first driver is an accepted one and its window overlaps the incident's by
    half its length, at most 4x as long (score.py's rule)."""

    def norm(dimension: Any) -> str:
        text = str(dimension).strip().lower().removeprefix("property:").replace(" ", "_")
        return {"user": "user_id", "country": "country_code"}.get(text, text)

    problems = []
    first = (answer.get("data") or [{}])[0]
    accepted = {(norm(d), str(v).strip().lower()) for d, v in case.get("drivers", [])}
    if (norm(first.get("dimension")), str(first.get("value")).strip().lower()) not in accepted:
        problems.append(f"first driver {first.get('dimension')}={first.get('value')}")
    window, want = answer.get("window") or {}, case.get("window") or {}
    try:
        got_span = [parse_instant(window[k]) for k in ("start", "end")]
        want_span = [parse_instant(want[k]) for k in ("start", "end")]
    except (KeyError, ValueError, TypeError):
        return problems + ["no window"]
    overlap = (min(got_span[1], want_span[1]) - max(got_span[0], want_span[0])).total_seconds()
    length = (want_span[1] - want_span[0]).total_seconds()
    if overlap < 0.5 * length or (got_span[1] - got_span[0]).total_seconds() > 4 * length:
        problems.append(f"window {window.get('start')}..{window.get('end')}")
    return problems


EXPECT = ("ok", "clarify", "list", "explain")


def compare_rows(want_rows: list[dict[str, Any]], got_rows: list[dict[str, Any]]) -> list[str]:
    """Differences between expected and answered rows (score.py's rule: 1e-6 relative, missing = 0)."""
    want, got = _table(want_rows), _table(got_rows)
    want_groups, got_groups = {g for _, g in want}, {g for _, g in got}
    # One series asked for, answered with or without its group name: the same answer.
    if len(want_groups) == 1 and got_groups == {None} and None not in want_groups:
        got = {(b, next(iter(want_groups))): v for (b, _), v in got.items()}
    elif len(got_groups) == 1 and want_groups == {None} and None not in got_groups:
        got = {(b, None): v for (b, _), v in got.items()}
    problems = []
    for key in sorted(set(want) | set(got), key=lambda k: (k[0] or "", k[1] or "")):
        a, b = want.get(key) or 0, got.get(key) or 0
        if not math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6):
            problems.append(f"{key}: want {want.get(key)!r} got {got.get(key)!r}")
    return problems


def _load_cases(path: str) -> list[dict[str, Any]]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}:{number} is not valid JSON: {error.msg}") from None
        if not isinstance(case, dict) or "question" not in case or case.get("expect") not in EXPECT:
            raise ConfigError(f"{path}:{number}: a case needs 'question' and 'expect' ({', '.join(EXPECT)})")
        cases.append(case)
    return cases


def run_eval(args: Any) -> int:
    """`heliqa eval CASES`: answer each case through the LLM planner and print 'N passed, M failed'."""
    cases = _load_cases(args.cases)
    planner = LLMPlanner.from_env()
    backend = open_backend(args.backend)
    org = backend.resolve_org(args.org)
    passed = failed = 0
    times = []
    default_now = instant(args.now)
    for case in cases:
        now = instant(case.get("now"), f"case {case.get('id')}: 'now'") or default_now
        conversation = Conversation(backend, planner, org, zone(case.get("tz") or args.tz), now, narrator_for(planner))
        started = time.perf_counter()
        answer = conversation.ask(case["question"])
        times.append(time.perf_counter() - started)
        if answer.status == "error":
            why = [f"error: {answer.message}"]
        elif case["expect"] == "clarify":
            why = [f"answered where it should ask back: {answer.message}"[:240]] if answer.status == "ok" else []
        elif answer.status != "ok":
            why = [f"status {answer.status}: {answer.message}"[:240]]
        elif case["expect"] == "list":
            why = compare_list(case.get("data") or [], answer.to_json()["data"])
        elif case["expect"] == "explain":
            why = compare_explain(case, answer.to_json())
        else:
            why = compare_rows(case.get("data") or [], answer.to_json()["data"])
        if why:
            failed += 1
            print(f"FAIL {case.get('id', '?')}: {case['question']}")
            for line in why[:2]:
                print(f"     {line}")
        else:
            passed += 1
    if times:
        times.sort()
        print(f"planner {planner.settings.model}: median {times[len(times) // 2]:.2f}s per question", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
