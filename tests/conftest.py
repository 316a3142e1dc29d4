"""Shared fixtures: data from the project's seeded generator, loaded once per test run into a real embedded store.

Nothing here reads outside the repository: the rows come from `heliqa.tools.demo` (two organizations over 60
days up to SAMPLE_NOW, with its planted incidents), and tests compute what they expect from the same rows with
tests/reference.py.
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAIN_ORG = "8f2c1a4e-6b7d-4c3e-9a1f-2d5e8b7c6a01"
OTHER_ORG = "1b9e7d3c-2a4f-4e6b-8c5d-7f3a9e1b2c02"
SAMPLE_NOW = "2026-11-24T12:00:00Z"
NOW = datetime.fromisoformat(SAMPLE_NOW.replace("Z", "+00:00"))
SAMPLE_ORGS = {MAIN_ORG: 40_000, OTHER_ORG: 4_000}  # requests per organization
SAMPLE_DAYS = 60
SAMPLE_SEED = 11

# Tests never reach a real LLM or tracing service.
for _var in (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "LANGSMITH_TRACING",
    "LANGCHAIN_TRACING_V2",
    "HELIQA_ORG_ID",
    "HELIQA_BACKEND",
    "HELICONE_API_KEY",
    "HELICONE_BASE_URL",
):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def sample_rows() -> list[dict]:
    """The generated requests of both organizations (the tests' sample), as the generator yields them."""
    from heliqa.tools.demo import generate_orgs

    return list(generate_orgs(SAMPLE_ORGS, SAMPLE_SEED, NOW, SAMPLE_DAYS))


@pytest.fixture(scope="session")
def sample_path(tmp_path_factory, sample_rows) -> Path:
    """The sample as a gzipped JSONL log file, the format `heliqa import` reads."""
    path = tmp_path_factory.mktemp("heliqa-sample") / "requests.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as handle:
        handle.writelines(json.dumps(row) + "\n" for row in sample_rows)
    return path


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory, sample_rows) -> Path:
    """A HELIQA_HOME whose store holds the whole sample, built once per run."""
    from heliqa.tools.store import Store

    home = tmp_path_factory.mktemp("heliqa-sample-home")
    store = Store(home / "heliqa.duckdb")
    added = store.add_rows(sample_rows)
    store.close()
    assert added == sum(SAMPLE_ORGS.values())
    return home


@pytest.fixture(scope="session")
def sample_store(sample_home):
    """A read-only Store over the sample."""
    from heliqa.tools.store import Store

    store = Store(sample_home / "heliqa.duckdb", read_only=True)
    yield store
    store.close()
