"""`ruff check` passes on the whole repository (the rules and line length of pyproject.toml), so it stays clean."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.skipif(find_spec("ruff") is None, reason="ruff is not installed (pip install -e '.[test]')")
def test_ruff_check_passes_on_the_repository():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# The project's shared spec and sample live beside the repository, not in it; only benchmarks may name the sample.
OUTSIDE = re.compile(r"\.\./shared|\bshared/(?:spec|eval|data)\b|\bquestions\.md\b|\bhelicone\.md\s*§")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".cfg"}


def test_code_and_docs_point_nowhere_outside_the_repository():
    skipped = {".git", ".pytest_cache", ".ruff_cache", ".benchmarks", "benchmarks", "build", "dist"}
    found = []
    for path in sorted(ROOT.rglob("*")):
        parts = path.relative_to(ROOT).parts
        if path.suffix not in TEXT_SUFFIXES or skipped & set(parts) or any(p.endswith(".egg-info") for p in parts):
            continue
        if path == Path(__file__) or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "\n".join(found)
