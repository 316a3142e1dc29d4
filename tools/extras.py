"""Optional parts of heliqa: which modules each pip extra brings, and a clear error when one is missing."""

from __future__ import annotations

import importlib.util

from heliqa.tools.errors import ConfigError

# The top-level modules each extra of pyproject.toml installs (and heliqa imports).
EXTRAS: dict[str, tuple[str, ...]] = {
    "llm": ("langchain_core", "langchain_openai", "openai"),
    "slack": ("matplotlib", "slack_bolt", "slack_sdk", "starlette", "uvicorn"),
    "serve": ("fastapi", "uvicorn"),
    "clickhouse": ("clickhouse_connect",),
    "chdb": ("chdb", "clickhouse_connect"),
}


def missing(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here (empty when the extra is installed)."""
    return [name for name in EXTRAS[extra] if not _importable(name)]


def installed(extra: str) -> bool:
    """True when every module of `extra` can be imported."""
    return not missing(extra)


def require(extra: str, what: str) -> None:
    """Raise a ConfigError (exit 2) naming the extra to install when `what` cannot run without it."""
    absent = missing(extra)
    if absent:
        raise ConfigError(
            f"{what} needs the [{extra}] extra ({', '.join(absent)} not installed)",
            f"pip install 'heliqa[{extra}]'",
        )


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module blocked in sys.modules, or a broken parent package
        return False
