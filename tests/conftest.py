"""Shared fixtures: the sample data, loaded once per test run into a real embedded store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLE = SHARED / "data" / "requests.jsonl.gz"
DEV_CASES = SHARED / "eval" / "dev.jsonl"
MAIN_ORG = "8f2c1a4e-6b7d-4c3e-9a1f-2d5e8b7c6a01"
OTHER_ORG = "1b9e7d3c-2a4f-4e6b-8c5d-7f3a9e1b2c02"
SAMPLE_NOW = "2026-11-24T12:00:00Z"

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
def sample_path() -> Path:
    """The shared sample logs (131,136 requests, two organizations)."""
    if not SAMPLE.exists():
        pytest.fail(f"sample data missing at {SAMPLE}: the repo expects ../shared beside it")
    return SAMPLE


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory, sample_path) -> Path:
    """A HELIQA_HOME whose store holds the whole sample, built once per run."""
    from heliqa.tools.store import Store

    home = tmp_path_factory.mktemp("heliqa-sample-home")
    store = Store(home / "heliqa.duckdb")
    report = store.import_files([str(sample_path)])
    store.close()
    assert report.added == 131_136, report
    return home


@pytest.fixture(scope="session")
def sample_store(sample_home):
    """A read-only Store over the sample."""
    from heliqa.tools.store import Store

    store = Store(sample_home / "heliqa.duckdb", read_only=True)
    yield store
    store.close()
