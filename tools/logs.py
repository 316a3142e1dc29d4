"""Every log record the process creates is redacted by heliqa.tools.settings.redact, whoever logs it and prints it.

httpx logs each request's full URL at INFO (`http://user:password@host/...` included), and the Slack app logs
at INFO; OPENAI_BASE_URL, HELICONE_BASE_URL and HELIQA_CLICKHOUSE_URL may carry passwords. Filters on handlers
miss the handlers configured after them (uvicorn's dictConfig in `heliqa serve`, `logging.lastResort` in the
CLI, a user's own), so `install()` redacts at the one place every record passes: the log-record factory. The
message, its string arguments, the formatted traceback and the stack are redacted; argument types are kept
where nothing was hidden, since formatters such as uvicorn's access log unpack them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from heliqa.tools.settings import redact

Redactor = Callable[[str], str]
_previous_factory = logging.getLogRecordFactory()
_redactor: Redactor | None = None
_busy = threading.local()


def _hidden(value: Any, redactor: Redactor) -> Any:
    """A log argument with its secrets hidden: the redacted text when redaction changed it, else the value."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = str(value)
    cleaned = redactor(text)
    return value if cleaned == text else cleaned


def redact_record(record: logging.LogRecord, redactor: Redactor = redact) -> logging.LogRecord:
    """Hide secrets in `record` in place: message, arguments, traceback and stack."""
    if isinstance(record.msg, str):
        record.msg = redactor(record.msg)
    else:
        record.msg = _hidden(record.msg, redactor)
    if isinstance(record.args, dict):
        record.args = {key: _hidden(value, redactor) for key, value in record.args.items()}
    elif record.args:
        record.args = tuple(_hidden(value, redactor) for value in record.args)
    if record.exc_info and not record.exc_text:  # formatters reuse exc_text, so the redacted traceback is printed
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """The same redaction as a filter, for a handler of one's own (e.g. a test's log capture)."""

    def __init__(self, redactor: Redactor = redact):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, self.redactor)
        return True


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    if _redactor is None or getattr(_busy, "on", False):  # one logged by the redaction itself: no recursion
        return record
    _busy.on = True
    try:
        return redact_record(record, _redactor)
    finally:
        _busy.on = False


def install(redactor: Redactor = redact) -> None:
    """Redact every record created from now on with `redactor` (heliqa.tools.settings.redact or a superset of it).

    Idempotent: installing again replaces the redactor rather than stacking factories.
    """
    global _redactor, _previous_factory
    _redactor = redactor
    current = logging.getLogRecordFactory()
    if current is not _factory:  # keep whatever factory was set before ours
        _previous_factory = current
        logging.setLogRecordFactory(_factory)
