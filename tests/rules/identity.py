"""The rules planner's full output over every question the tests know, recorded and compared: a wording change's
blast radius.

    python -m tests.rules.identity record FILE [--store HOME] [--questions JSONL ...]
    python -m tests.rules.identity check FILE

`record` collects every string literal of the tests and benchmarks and every rule's examples (plus the
`question` of each line of the given JSONL files, with their own `now` and `tz`), plans each one in every
vocabulary context (the tests' hand-written vocabulary, with and without a previous question; the demo
generator's; a store's when `--store` names a HELIQA_HOME) with the rules planner alone and with the forms
planner over it, and writes the whole output (status, spec, message, notes, leftover words) to FILE, together
with the vocabularies and questions used.
`check` replays FILE and prints, question by question, every output that changed; it exits 1 when one did.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from heliqa.agent.forms import FormsPlanner
from heliqa.agent.planner import Context, Plan
from heliqa.agent.rules import RULES, RulesPlanner
from heliqa.tools.errors import Clarify
from heliqa.tools.results import Vocabulary

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-24T12:00:00+00:00"
PREVIOUS = "cost by model over the last 7 days"  # the earlier question of the follow-up context


def collect_strings(*dirs: Path) -> list[str]:
    """Every one-line string literal (with a letter in it) of the Python files under `dirs`, in file order."""
    found: dict[str, None] = {}
    for folder in dirs:
        for path in sorted(folder.rglob("*.py")):
            if "identity" in path.name:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    text = node.value
                    if 1 < len(text) <= 300 and "\n" not in text and any(c.isalpha() for c in text):
                        found.setdefault(text)
    return list(found)


def demo_vocabulary() -> Vocabulary:
    """The vocabulary of the tests' generated sample (main organization), through a real store."""
    from heliqa.tools.demo import generate_orgs
    from heliqa.tools.store import Store
    from tests.conftest import MAIN_ORG, SAMPLE_DAYS, SAMPLE_ORGS, SAMPLE_SEED
    from tests.conftest import NOW as SAMPLE_NOW

    with tempfile.TemporaryDirectory() as home:
        store = Store(Path(home) / "heliqa.duckdb")
        store.add_rows(generate_orgs(SAMPLE_ORGS, SAMPLE_SEED, SAMPLE_NOW, SAMPLE_DAYS))
        vocab = store.load_vocabulary(MAIN_ORG)
        store.close()
    return vocab


def store_vocabulary(home: str) -> Vocabulary:
    """The main organization's vocabulary in the store of HELIQA_HOME `home` (opened read-only)."""
    from heliqa.tools.store import Store
    from tests.conftest import MAIN_ORG

    store = Store(Path(home) / "heliqa.duckdb", read_only=True)
    try:
        return store.load_vocabulary(MAIN_ORG)
    finally:
        store.close()


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "model_dump"):
        return {"type": type(value).__name__, **value.model_dump(mode="json")}
    return repr(value)


def _plan_json(plan: Plan) -> dict:
    return {
        "status": plan.status,
        "spec": _jsonable(plan.spec),
        "message": plan.message,
        "notes": list(plan.notes),
        "query": _jsonable(plan.query),
    }


class Observer:
    """Plans questions with the rules planner alone and with the forms planner over it."""

    def __init__(self) -> None:
        self.rules = RulesPlanner()
        self.forms = FormsPlanner(self.rules)

    def observe(self, question: str, ctx: Context) -> dict:
        """The full output for one question in one context."""
        out = {"rules": _plan_json(self.rules.plan(question, ctx))}
        try:
            _, scanner = self.rules.scan(question, ctx)
            out["leftovers"] = scanner.leftovers()
        except Clarify as ask:
            out["leftovers"] = f"clarify: {ask.message}"
        out["forms"] = _plan_json(self.forms.plan(question, ctx))
        return out


def _contexts(vocabs: dict[str, Vocabulary], observer: Observer) -> dict[str, tuple[Vocabulary, Any]]:
    """Every context: each vocabulary without a previous question, and the tests' one after PREVIOUS."""
    out: dict[str, tuple[Vocabulary, Any]] = {name: (v, None) for name, v in vocabs.items()}
    first = observer.rules.plan(
        PREVIOUS, Context(now=datetime.fromisoformat(NOW), tz=ZoneInfo("UTC"), vocabulary=vocabs["tests"])
    )
    out["tests+previous"] = (vocabs["tests"], first.spec)
    return out


def run_all(questions: list[dict], vocabs: dict[str, Vocabulary]) -> dict[str, dict]:
    """{context: {question key: output}} for every question in every context."""
    observer = Observer()
    results: dict[str, dict] = {}
    for name, (vocab, previous) in _contexts(vocabs, observer).items():
        per = results[name] = {}
        for q in questions:
            ctx = Context(
                now=datetime.fromisoformat(q["now"]), tz=ZoneInfo(q["tz"]), vocabulary=vocab, previous=previous
            )
            per[f"{q['question']}  [{q['tz']} {q['now']}]"] = observer.observe(q["question"], ctx)
    return results


def gather_questions(extra: list[str]) -> list[dict]:
    """The tests' and benchmarks' strings at the tests' clock, then each JSONL file's questions at their own."""
    strings = collect_strings(ROOT / "tests", ROOT / "benchmarks") + [q for r in RULES for q in r.examples]
    questions = [{"question": s, "now": NOW, "tz": "UTC"} for s in dict.fromkeys(strings)]
    for path in extra:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                now = case.get("now", NOW).replace("Z", "+00:00")
                questions.append({"question": case["question"], "now": now, "tz": case.get("tz", "UTC")})
    return questions


def record(path: str, store: str | None, extra: list[str]) -> None:
    """Plan every question in every context and write the outputs, vocabularies and questions to `path`."""
    from tests.rules.common import VOCAB

    vocabs = {"tests": VOCAB, "demo": demo_vocabulary()}
    if store:
        vocabs["store"] = store_vocabulary(store)
    questions = gather_questions(extra)
    results = run_all(questions, vocabs)
    data = {"vocabularies": {k: v.to_json() for k, v in vocabs.items()}, "questions": questions, "results": results}
    Path(path).write_text(json.dumps(data, indent=1), encoding="utf-8")
    print(f"recorded {len(questions)} questions x {len(results)} contexts into {path}")


def differences(before: dict, after: dict) -> list[str]:
    """One line per changed output: context, question, which part, before -> after."""
    lines = []
    for context, outputs in before.items():
        for key, old in outputs.items():
            new = after.get(context, {}).get(key)
            if new == old:
                continue
            for part in sorted(set(old) | set(new or {})):
                if (new or {}).get(part) != old.get(part):
                    lines.append(
                        f"[{context}] {key}\n    {part}: {json.dumps(old.get(part))}\n"
                        f"    now: {json.dumps((new or {}).get(part))}"
                    )
    return lines


def check(path: str) -> int:
    """Replay a recording; print every changed output and return how many changed."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    vocabs = {k: Vocabulary(**v) for k, v in data["vocabularies"].items()}
    lines = differences(data["results"], run_all(data["questions"], vocabs))
    print("\n".join(lines))
    total = sum(len(v) for v in data["results"].values())
    print(f"{len(lines)} differences over {total} recorded outputs")
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    """The command line: record or check."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("record", "check"))
    ap.add_argument("file")
    ap.add_argument("--store", help="a HELIQA_HOME whose store's vocabulary is one more context (record only)")
    ap.add_argument("--questions", action="append", default=[], help="a JSONL file of questions (record only)")
    args = ap.parse_args(argv)
    if args.action == "record":
        record(args.file, args.store, args.questions)
        return 0
    return 1 if check(args.file) else 0


if __name__ == "__main__":
    sys.exit(main())
