"""One exception hierarchy for heliqa; every interface turns these into a friendly message."""

from __future__ import annotations


class HeliqaError(Exception):
    """Base error: `message` says what went wrong, `hint` what to try next."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class InvalidRequest(HeliqaError):
    """A request or query did not validate; `problems` lists one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str], hint: str | None = None):
        self.problems = problems
        super().__init__("; ".join(problems), hint)


class LimitExceeded(InvalidRequest):
    """A request broke one of the input limits (tools/limits.py); the message names the limit."""


class ConfigError(HeliqaError):
    """Missing or inconsistent configuration (org id, keys, URLs, store location)."""

    exit_code = 2


class NotAvailable(HeliqaError):
    """The chosen backend cannot answer this query exactly (we never approximate silently)."""

    exit_code = 4


class BackendError(HeliqaError):
    """The backend failed while running a valid query (network, server error, SQL engine)."""

    exit_code = 5


class Clarify(HeliqaError):
    """The question cannot be answered as asked; `message` asks the user back (never a guess)."""

    exit_code = 3


class ImportProblem(HeliqaError):
    """An input file could not be read at all (as opposed to single bad lines, which are reported)."""

    exit_code = 2
