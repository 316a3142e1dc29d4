"""`heliqa chat`: a real pseudo-terminal session (pexpect), a scripted pipe, and the commands in process."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from heliqa.agent.answer import fmt
from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.repl import Repl, sparkline
from tests.conftest import MAIN_ORG, SAMPLE_NOW

QUESTION = "p90 latency for gpt-4 last week by day"
FOLLOW_UP = "now by hour"
ARGS = ["chat", "--now", SAMPLE_NOW, "--tz", "UTC", "--org", MAIN_ORG, "--planner", "rules"]
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|\r")


def flat(text: str) -> str:
    """Terminal output without escape codes, with line wrapping undone."""
    return " ".join(ANSI.sub("", text).split())


def until_prompt(child, timeout: float = 30.0) -> str:
    """Everything the session prints until it shows an empty prompt again (flattened)."""
    import pexpect

    out, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            out += child.read_nonblocking(65536, timeout=0.3)
        except pexpect.TIMEOUT:
            if flat(out).endswith("heliqa>"):
                return flat(out)
    raise AssertionError(f"no prompt within {timeout} s; got: {flat(out)[-500:]}")


def ask(child, line: str) -> str:
    child.sendline(line)
    return until_prompt(child)


@pytest.fixture
def home(tmp_path, sample_home):
    """A HELIQA_HOME of its own (for the history file) that sees the sample store."""
    (tmp_path / "heliqa.duckdb").symlink_to(sample_home / "heliqa.duckdb")
    return tmp_path


@pytest.fixture
def answers(sample_store):
    """The agent's own answers to a sequence of questions (UTC, the sample's clock): what chat must show."""

    def run(*questions: str):
        now = datetime.fromisoformat(SAMPLE_NOW.replace("Z", "+00:00"))
        conversation = Conversation(sample_store, make_planner("rules"), MAIN_ORG, ZoneInfo("UTC"), now)
        return [conversation.ask(q) for q in questions]

    return run


def test_chat_in_a_pseudo_terminal_answers_a_question_and_a_follow_up(home, answers):
    import pexpect

    first, second = answers(QUESTION, FOLLOW_UP)
    assert "daily" in first.interpretation and "hourly" in second.interpretation
    assert "model = gpt-4" in second.interpretation and len(second.rows) > 100
    env = {**os.environ, "HELIQA_HOME": str(home), "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
    child = pexpect.spawn(
        sys.executable, ["-m", "heliqa.cli", *ARGS], env=env, encoding="utf-8", timeout=30, dimensions=(50, 140)
    )
    try:
        assert "/help for commands" in until_prompt(child)
        shown = ask(child, QUESTION)
        assert first.message in shown and first.interpretation in shown
        assert all(fmt(r.value, first.query) in shown for r in first.rows)  # the table

        shown = ask(child, FOLLOW_UP)
        assert second.message in shown and second.interpretation in shown
        assert any(ch in shown for ch in "▁▂▃▄▅▆▇█")  # the sparkline of the hourly series
        assert "latest 40 of" in shown

        shown = ask(child, "/explain")
        assert '"bucket": "hour"' in shown and '"dbIncrement": "hour"' in shown and '"equals": "gpt-4"' in shown

        assert "starts fresh" in ask(child, "/reset")
        # No previous question any more: heliqa asks back instead of guessing.
        assert flat(answers(FOLLOW_UP)[0].message.splitlines()[0]) in ask(child, FOLLOW_UP)

        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    history = (home / "chat_history").read_text()
    assert QUESTION in history and FOLLOW_UP in history


def test_chat_reads_plain_lines_when_not_a_terminal(home, answers):
    script = f"{QUESTION}\n{FOLLOW_UP}\nwhat about gpt-4o?\n/quit\nnever asked\n"
    run = subprocess.run(
        [sys.executable, "-m", "heliqa.cli", *ARGS],
        input=script,
        capture_output=True,
        text=True,
        env={**os.environ, "HELIQA_HOME": str(home)},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    shown = flat(run.stdout)
    for answer in answers(QUESTION, FOLLOW_UP, "what about gpt-4o?"):
        assert answer.status == "ok" and answer.message in shown
    assert "model = gpt-4o" in shown and "never asked" not in shown
    assert "\x1b[" not in run.stdout  # no colour codes in a pipe


def test_chat_without_a_store_says_how_to_load_one(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "heliqa.cli", *ARGS],
        input="p90 latency\n",
        capture_output=True,
        text=True,
        env={**os.environ, "HELIQA_HOME": str(tmp_path)},
        timeout=60,
    )
    assert run.returncode != 0
    assert run.stderr.startswith("heliqa: no heliqa store at") and "heliqa import" in run.stderr
    assert "Traceback" not in run.stderr


def test_commands(sample_store, answers):
    now = datetime.fromisoformat(SAMPLE_NOW.replace("Z", "+00:00"))
    out, raw = io.StringIO(), io.StringIO()
    repl = Repl(
        Conversation(sample_store, make_planner("rules"), MAIN_ORG, ZoneInfo("UTC"), now),
        Console(file=out, width=100),
        raw_out=raw,
    )
    assert repl.handle("/json") and "No answer yet" in out.getvalue()
    assert repl.handle("/help") and all(name in out.getvalue() for name in ("/json", "/explain", "/reset", "/quit"))
    assert repl.handle("/nope") and "Unknown command /nope" in out.getvalue()

    repl.handle(QUESTION)
    repl.handle(FOLLOW_UP)
    repl.handle("/json")
    assert json.loads(raw.getvalue()) == answers(QUESTION, FOLLOW_UP)[1].to_json()
    assert repl.handle("/reset") and repl.conversation.last is None
    assert repl.handle("") is True
    assert repl.handle("/quit") is False and repl.handle("/exit") is False


def test_sparkline():
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8], 20) == "▁▂▃▄▅▆▇█"
    assert sparkline([0, None, 10], 20) == "▁ █"
    assert sparkline([5, 5, 5], 20) == "▁▁▁"
    assert sparkline([0, 0, 10, 10, 0, 0], 3) == "▁█▁"  # averaged into the width
    assert sparkline([None, None], 5) == ""
