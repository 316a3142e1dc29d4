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


# Names only the generator's sample organization uses: planner logic and prompts must take every key, value,
# user and score key from the organization's own vocabulary, so none of these may appear there.
SAMPLE_NAMES = re.compile(
    r"(?<![\w-])(?:features?|customer_tier|prompt_version|support-bot|summarizer|codegen|onboarding|"
    r"user_\d{4}|is_correct|helpfulness|accuracy|enterprise|v1[23])(?![\w-])",
    re.I,
)


def sample_names_in_the_planner() -> list[str]:
    """Each line of `agent/` and `prompts/` that names something only the sample organization has."""
    found = []
    for folder in ("agent", "prompts"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".md") or not path.is_file():
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SAMPLE_NAMES.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_the_sample_name_pattern_finds_names_and_only_whole_names():
    hits = [
        w for w in ("feature", "Features", "customer_tier", "user_0042", "v13", "is_correct") if SAMPLE_NAMES.search(w)
    ]
    assert len(hits) == 6
    assert not any(SAMPLE_NAMES.search(w) for w in ("featured", "user_id", "v130", "tiers", "correct"))


def test_the_planner_names_no_sample_organization_word():
    found = sample_names_in_the_planner()
    assert found == [], "\n".join(found)
