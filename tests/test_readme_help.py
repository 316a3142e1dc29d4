"""The README and the commands' help say the same: import's formats, demo's options, orgs' columns."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _help(command: str) -> str:
    done = subprocess.run([sys.executable, "-m", "heliqa.cli", command, "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def _readme_row(command: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return next(line for line in readme.splitlines() if line.startswith(f"| `heliqa {command}"))


def test_import_help_names_every_format_the_readme_lists():
    row, text = _readme_row("import").replace("\\|", "|"), _help("import")  # a table cell escapes its pipes
    for words in ("JSONL, a JSON array or CSV, gzipped or not", "npx @helicone/export --format jsonl|json|csv"):
        assert words in row and words in text, words
    assert "--batch-rows" in row and "--batch-rows" in text


def test_demo_and_orgs_help_match_the_readme():
    row, text = _readme_row("demo"), _help("demo")
    for option in re.findall(r"--\w+", row.split("|")[1]):
        assert option in text, option
    assert "first and last request" in _readme_row("orgs") and "first and last request" in _help("orgs")


def test_the_readme_s_import_line_imports_as_it_says(tmp_path):
    """The sample-shape line the README shows loads as one request, with its cost in USD and its score."""
    readme = (ROOT / "README.md").read_text()
    line = re.search(r"A line of the sample shape.*?```json\n(.*?)\n```", readme, re.S)[1]
    path = tmp_path / "one.jsonl"
    path.write_text(line + "\n")
    env = {**os.environ, "HELIQA_HOME": str(tmp_path / "home")}
    run = [sys.executable, "-m", "heliqa.cli"]
    done = subprocess.run([*run, "import", "--quiet", str(path)], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "imported 1 new request" in done.stdout, done.stderr
    orgs = subprocess.run([*run, "orgs"], capture_output=True, text=True, env=env)
    assert orgs.stdout.split("\t")[:2] == ["my-org", "1"], orgs.stdout
    ask = [*run, "ask", "--json", "--now", "2026-11-24T12:00:00Z", "--tz", "UTC"]
    cost = json.loads(subprocess.run([*ask, "total cost today"], capture_output=True, text=True, env=env).stdout)
    assert cost["data"][0]["value"] == pytest.approx(0.0012)
    score = json.loads(subprocess.run([*ask, "avg accuracy today"], capture_output=True, text=True, env=env).stdout)
    assert score["data"][0]["value"] == 90
