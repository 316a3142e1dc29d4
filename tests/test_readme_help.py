"""The README and the commands' help say the same: import's formats, demo's options, orgs' columns."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
