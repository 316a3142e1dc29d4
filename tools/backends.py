"""Backends behind one interface: the embedded store (default), Helicone's REST API, and ClickHouse."""

from __future__ import annotations

from typing import Any, Protocol

from heliqa.tools.errors import ConfigError
from heliqa.tools.investigate import ExplainQuery, Explanation, ListQuery, RequestRow
from heliqa.tools.query import MetricsQuery, ScoresRequest
from heliqa.tools.results import Row, Vocabulary
from heliqa.tools.settings import settings

BACKENDS = ("embedded", "helicone", "clickhouse")


class Backend(Protocol):
    """Runs validated queries for one organization at a time."""

    name: str

    def resolve_org(self, org: str | None) -> str:
        """The organization to scope to (the one given, or the only one there is)."""
        ...

    def run(self, query: MetricsQuery, org: str) -> list[Row]:
        """Answer an extended query as rows of (bucket, group, value)."""
        ...

    def scores(self, request: ScoresRequest, org: str) -> list[dict[str, Any]]:
        """The `data` of Helicone's scores endpoint for this request."""
        ...

    def vocabulary(self, org: str) -> Vocabulary:
        """Models, providers, properties and score keys that exist for the org."""
        ...

    def list_requests(self, query: ListQuery, org: str) -> list[RequestRow]:
        """Individual requests (NotAvailable where the backend cannot list them)."""
        ...

    def explain(self, query: ExplainQuery, org: str) -> Explanation:
        """Where a measure departed from its baseline and what the bad requests hold (or NotAvailable)."""
        ...


def open_backend(name: str | None = None) -> Backend:
    """The backend named (or `HELIQA_BACKEND`, default `embedded`), configured from the environment."""
    name = name or settings().heliqa_backend or "embedded"
    if name == "embedded":
        from heliqa.tools.store import Store

        return Store(read_only=True)
    if name == "helicone":
        from heliqa.tools.helicone import HeliconeBackend

        return HeliconeBackend.from_env()
    if name == "clickhouse":
        from heliqa.tools.clickhouse import ClickHouseBackend

        return ClickHouseBackend.from_env()
    raise ConfigError(f"unknown backend {name!r}", f"choose one of {', '.join(BACKENDS)}")
