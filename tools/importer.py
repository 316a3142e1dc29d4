"""Read JSONL / JSONL.gz request logs into normalized rows, reporting every bad line with its number.

Two input shapes are understood: rows shaped like Helicone's `request_response_rmt` (the sample data) and
rows of Helicone's request export (`HeliconeRequest`: `request_user_id`, `delay_ms`, `response_status`, ...).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from heliqa.tools.errors import ImportProblem
from heliqa.tools.filters import parse_instant

try:  # orjson is several times faster on 100k-line files; json is the fallback
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

COLUMNS: dict[str, str] = {
    "request_id": "VARCHAR",
    "organization_id": "VARCHAR",
    "request_created_at": "TIMESTAMP",
    "response_created_at": "TIMESTAMP",
    "latency": "BIGINT",
    "time_to_first_token": "BIGINT",
    "status": "BIGINT",
    "model": "VARCHAR",
    "provider": "VARCHAR",
    "user_id": "VARCHAR",
    "prompt_tokens": "BIGINT",
    "completion_tokens": "BIGINT",
    "total_tokens": "BIGINT",
    "prompt_cache_read_tokens": "BIGINT",
    "prompt_cache_write_tokens": "BIGINT",
    "cost": "BIGINT",  # nano-USD, as Helicone stores it
    "threat": "BOOLEAN",
    "target_url": "VARCHAR",
    "country_code": "VARCHAR",
    "node_id": "VARCHAR",
    "job_id": "VARCHAR",
    "cache_enabled": "BOOLEAN",
    "cache_reference_id": "VARCHAR",
    "prompt_id": "VARCHAR",
    "prompt_version": "VARCHAR",
    "request_referrer": "VARCHAR",
    "is_passthrough_billing": "BOOLEAN",
    "properties": "MAP(VARCHAR, VARCHAR)",
    "scores": "MAP(VARCHAR, BIGINT)",
    "request_body": "VARCHAR",
    "response_body": "VARCHAR",
}
_INTS = [c for c, t in COLUMNS.items() if t == "BIGINT" and c != "cost"]
_BOOLS = [c for c, t in COLUMNS.items() if t == "BOOLEAN"]
_TEXTS = [
    "model",
    "provider",
    "user_id",
    "target_url",
    "country_code",
    "node_id",
    "job_id",
    "cache_reference_id",
    "prompt_id",
    "prompt_version",
    "request_referrer",
]
# Helicone export name -> our column
_EXPORT_NAMES = {
    "request_user_id": "user_id",
    "delay_ms": "latency",
    "response_status": "status",
    "request_properties": "properties",
    "request_model": "model",
    "response_model": "model",
}


@dataclass
class BadLine:
    """A line that was not imported, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class ReadResult:
    """Normalized rows read from one file, plus the lines that were skipped."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    lines: int = 0


def _bigint(number: int, name: str) -> int:
    # The store's columns are BIGINT: a larger number would abort the whole batch instead of one line.
    if not -(2**63) <= number < 2**63:
        raise ValueError(f"{name} is out of range (more than 19 digits)")
    return number


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
        value = int(value)
    if isinstance(value, float) and math.isfinite(value):
        value = round(value)
    if isinstance(value, int):
        return _bigint(value, name)
    raise ValueError(f"{name} must be an integer, got {value!r}")


# Helicone's own spelling (UTC, milliseconds): checked without the general parser, which halves import time.
_UTC_MILLIS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", re.ASCII)


def _timestamp(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and _UTC_MILLIS.fullmatch(value):
        try:
            datetime.fromisoformat(value[:-1])  # real calendar dates and clock times only
        except ValueError:
            raise ValueError(f"{name} is not an ISO 8601 instant: {value!r}") from None
        return value[:-1]
    try:
        moment = parse_instant(str(value))
    except ValueError:
        raise ValueError(f"{name} is not an ISO 8601 instant: {value!r}") from None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def normalize(raw: Any, default_org: str | None) -> dict[str, Any]:
    """One input object -> one row of COLUMNS; raises ValueError with the reason."""
    if not isinstance(raw, dict):
        raise ValueError("line is not a JSON object")
    src = dict(raw)
    for old, new in _EXPORT_NAMES.items():
        if old in src and src.get(new) in (None, ""):
            src[new] = src[old]
    row: dict[str, Any] = {}
    request_id = src.get("request_id")
    if not isinstance(request_id, str) or not request_id.strip():
        raise ValueError("missing request_id")
    row["request_id"] = request_id.strip()
    org = src.get("organization_id") or default_org
    if not org:
        raise ValueError("missing organization_id (pass --org to import export rows that lack it)")
    row["organization_id"] = str(org)
    created = _timestamp(src.get("request_created_at"), "request_created_at")
    if created is None:
        raise ValueError("missing request_created_at")
    row["request_created_at"] = created
    row["response_created_at"] = _timestamp(src.get("response_created_at"), "response_created_at")
    for name in _INTS:
        row[name] = _int(src.get(name), name)
    if row["status"] is None:
        raise ValueError("missing status")
    for name in ("prompt_cache_read_tokens", "prompt_cache_write_tokens"):
        row[name] = row[name] or 0
    if row["total_tokens"] is None and (row["prompt_tokens"] is not None or row["completion_tokens"] is not None):
        row["total_tokens"] = (row["prompt_tokens"] or 0) + (row["completion_tokens"] or 0)
    cost = src.get("cost", src.get("costUSD"))
    if cost in (None, ""):
        row["cost"] = 0
    elif isinstance(cost, bool) or not isinstance(cost, (int, float, str)):
        raise ValueError(f"cost must be a number of USD, got {cost!r}")
    else:
        try:
            nano = round(float(cost) * 1e9)
        except (ValueError, OverflowError):
            raise ValueError(f"cost must be a number of USD, got {cost!r}") from None
        row["cost"] = _bigint(nano, "cost in nano-USD")
    for name in _BOOLS:
        value = src.get(name)
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        row[name] = bool(value)
    for name in _TEXTS:
        value = src.get(name)
        row[name] = "" if value is None else str(value)
    row["provider"] = row["provider"].upper()
    row["cache_reference_id"] = row["cache_reference_id"] or "00000000-0000-0000-0000-000000000000"
    props = src.get("properties") or {}
    if not isinstance(props, dict):
        raise ValueError("properties must be an object")
    row["properties"] = {str(k): "" if v is None else str(v) for k, v in props.items()}
    scores = src.get("scores") or {}
    if not isinstance(scores, dict):
        raise ValueError("scores must be an object")
    clean: dict[str, int] = {}
    for key, value in scores.items():
        if isinstance(value, bool):
            clean[f"{key}-hcone-bool"] = int(value)
        elif isinstance(value, (int, float)) and float(value).is_integer():
            clean[str(key)] = _bigint(int(value), f"score {key!r}")
        else:
            raise ValueError(f"score {key!r} must be an integer, got {value!r}")
    row["scores"] = clean
    for name in ("request_body", "response_body"):
        value = src.get(name)
        row[name] = value if isinstance(value, str) else ("" if value is None else json.dumps(value))
    return row


def _open(path: str) -> tuple[BinaryIO, BinaryIO]:
    """(raw file for progress, decompressed stream)."""
    try:
        raw = open(path, "rb")
    except OSError as error:
        raise ImportProblem(f"cannot read {path}: {error.strerror}") from None
    head = raw.read(2)
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return raw, stream


def read_lines(path: str, default_org: str | None, batch: int = 50_000, progress=None) -> Iterator[ReadResult]:
    """Yield batches of normalized rows from a JSONL(.gz) file; `progress(bytes_read)` is called per batch."""
    raw, stream = _open(path)
    result = ReadResult()
    reader = io.BufferedReader(stream, 1 << 20)  # kept referenced: dropping it closes `raw` before the last tell()
    try:
        for number, line in enumerate(reader, start=1):
            result.lines += 1
            if not line.strip():
                continue
            try:
                result.rows.append(normalize(_loads(line), default_org))
            except (ValueError, TypeError) as error:
                # orjson's JSONDecodeError subclasses json's.
                reason = "not valid JSON" if isinstance(error, json.JSONDecodeError) else str(error)
                result.bad.append(BadLine(path, number, reason))
            if len(result.rows) >= batch:
                if progress:
                    progress(raw.tell())
                yield result
                result = ReadResult()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise ImportProblem(f"cannot read {path}: {error}") from None
    finally:
        if progress:
            progress(raw.tell())
        raw.close()
    yield result


def file_size(path: str) -> int:
    """Size in bytes, 0 when unknown."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
