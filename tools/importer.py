"""Read request logs into normalized rows, reporting every bad line (or record) with its number.

Files: JSONL, a JSON array, or CSV, each optionally gzipped; the format is read from the content. Two row
shapes are understood: rows like Helicone's `request_response_rmt` (the sample data) and rows of Helicone's
request export (`HeliconeRequest`: `request_user_id`, `delay_ms`, `response_status`, ...), exactly as
`npx @helicone/export` writes them (examples/export/typescript/index.ts): `--format jsonl` (one object a line),
`--format json` (`[`, pretty-printed objects joined by `,`, `]`; a resumed export's repeated brackets are read
too) and `--format csv` (columns response_id, response_created_at, response_status, request_created_at,
request_body, request_properties, request_user_id, model, prompt_tokens, completion_tokens, latency, cost; every
value quoted, objects as JSON whose quotes the tool doubles twice). The CSV has no request_id column: its
response_id identifies the request (so a CSV and a JSONL export of the same requests do not de-duplicate).
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import math
import operator
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
# Per-row limits, so one huge row never fails a batch: a body longer than MAX_BODY_CHARS is kept truncated, with
# TRUNCATED appended; a row whose other texts (names, ids, property keys and values) add up to more than
# MAX_ROW_CHARS is skipped and reported. Real rows are far below both (bodies of a few KB, names of a few dozen).
MAX_BODY_CHARS = 1_000_000
MAX_ROW_CHARS = 1_000_000
TRUNCATED = " [truncated by heliqa: {kept:,} of {total:,} characters kept]"
_SIZED = operator.itemgetter("request_id", "organization_id", *_TEXTS)
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


def _bigint(number: int | float, name: str) -> int:
    # The store's columns are BIGINT: a larger number would abort the whole batch instead of one line. orjson reads
    # an integer beyond 64 bits as a float (-2**63 - 1 becomes -2.0**63): a float that large is out of range too.
    if not -(2**63) <= number < 2**63 or (isinstance(number, float) and abs(number) >= 2**63):
        raise ValueError(f"{name} is out of range (more than 19 digits)")
    return int(number)


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
        value = int(value)
    if isinstance(value, float) and math.isfinite(value):
        value = round(_bigint(value, name))
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
    if isinstance(raw, _BadRecord):
        raise ValueError(raw.reason)
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
            clean[str(key)] = _bigint(value, f"score {key!r}")
        else:
            raise ValueError(f"score {key!r} must be an integer, got {value!r}")
    row["scores"] = clean
    _check_size(row)
    for name in ("request_body", "response_body"):
        value = src.get(name)
        if _is_placeholder(value):
            value = None  # Helicone's stand-in for a body kept in object storage is not the body
        row[name] = truncated(value if isinstance(value, str) else ("" if value is None else json.dumps(value)))
    return row


def truncated(body: str, limit: int | None = None) -> str:
    """`body`, or its first `limit` (default MAX_BODY_CHARS) characters followed by the TRUNCATED marker."""
    limit = MAX_BODY_CHARS if limit is None else limit
    if len(body) > limit:
        body = body[:limit] + TRUNCATED.format(kept=limit, total=len(body))
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from an escaped JSON string: the store cannot hold it
        body = body.encode("utf-8", "replace").decode("utf-8")
    return body


def _check_size(row: dict[str, Any]) -> None:
    """ValueError when the row's texts other than its bodies exceed MAX_ROW_CHARS or are not valid Unicode."""
    props = row["properties"]
    joined = "".join((*_SIZED(row), *props, *props.values(), *row["scores"]))
    if len(joined) > MAX_ROW_CHARS:
        raise ValueError(
            f"the row's names, ids and properties hold {len(joined):,} characters; the limit is "
            f"{MAX_ROW_CHARS:,} (row size)"
        )
    if not joined.isascii():
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a name, id or property holds a lone surrogate, which is not valid Unicode") from None


def _is_placeholder(value: Any) -> bool:
    if isinstance(value, str) and value.startswith('{"helicone_message"'):
        try:
            value = json.loads(value)
        except ValueError:
            return False
    return isinstance(value, dict) and set(value) == {"helicone_message"}


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


def _sniff(path: str, stream: BinaryIO) -> str:
    """'jsonl', 'json' (an array) or 'csv', from the first bytes (gzip already undone)."""
    head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{") or not text:
        return "jsonl"
    csv_name = path.lower().removesuffix(".gz").endswith(".csv")
    return "csv" if csv_name or b"," in text.split(b"\n", 1)[0] else "jsonl"


def read_lines(path: str, default_org: str | None, batch: int = 50_000, progress=None) -> Iterator[ReadResult]:
    """Yield batches of normalized rows from a JSONL, JSON-array or CSV file (gzipped or not).

    `progress(bytes_read)` is called per batch.
    """
    raw, stream = _open(path)
    reader = io.BufferedReader(stream, 1 << 20)  # kept referenced: dropping it closes `raw` before the last tell()
    try:
        kind = _sniff(path, reader)
        records = {"jsonl": _jsonl_records, "json": _json_records, "csv": _csv_records}[kind](reader)
        result = ReadResult()
        for number, lines, record in records:
            result.lines += lines
            if record is None:
                continue
            try:
                if isinstance(record, (bytes, str)):
                    record = _loads(record)
                result.rows.append(normalize(record, default_org))
            except (ValueError, TypeError, SyntaxError) as error:
                # orjson's JSONDecodeError subclasses json's.
                reason = "not valid JSON" if isinstance(error, json.JSONDecodeError) else str(error)
                result.bad.append(BadLine(path, number, reason))
            if len(result.rows) >= batch:
                if progress:
                    progress(raw.tell())
                yield result
                result = ReadResult()
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError, csv.Error) as error:
        raise ImportProblem(f"cannot read {path}: {error}") from None
    finally:
        if progress:
            progress(raw.tell())
        raw.close()
    yield result


Records = Iterator[tuple[int, int, Any]]  # (line number, lines consumed, record or None for a blank line)


def _jsonl_records(reader: BinaryIO) -> Records:
    for number, line in enumerate(reader, start=1):
        yield number, 1, (line if line.strip() else None)


def _json_records(reader: BinaryIO) -> Records:
    """Objects of a JSON array, one at a time; brackets and commas between objects are skipped wherever they are."""
    text = reader.read().decode("utf-8-sig")
    decoder = json.JSONDecoder()
    pos, line = 0, 1
    while True:
        start = pos
        while pos < len(text) and text[pos] in " \t\r\n[],":
            pos += 1
        line += text.count("\n", start, pos)
        if pos >= len(text):
            return
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as error:
            # nothing after a malformed object can be framed
            yield line, 1, _BadRecord(f"not valid JSON ({error.msg}); the rest of the file was not read")
            return
        yield line, 1, record
        line += text.count("\n", pos, end)
        pos = end


def _csv_object(value: str) -> Any:
    """A CSV cell holding an object: JSON, JSON whose quotes were doubled (Helicone's writer), or a Python repr."""
    for text in (value, value.replace('""', '"')):
        try:
            return json.loads(text)
        except ValueError:
            pass
    try:
        return ast.literal_eval(value)  # pandas' to_csv of Helicone's Python export example
    except (ValueError, SyntaxError):
        raise ValueError(f"not an object: {value[:60]!r}") from None


def _csv_text(value: str) -> str:
    """A body cell: JSON whose quotes Helicone's writer doubled is restored; other text is kept as written."""
    try:
        json.loads(value)
        return value
    except ValueError:
        pass
    undoubled = value.replace('""', '"')
    try:
        json.loads(undoubled)
        return undoubled
    except ValueError:
        return value


def _csv_records(reader: BinaryIO) -> Records:
    text = io.TextIOWrapper(reader, encoding="utf-8-sig", newline="")
    try:
        yield from _csv_rows(csv.DictReader(text))
    finally:
        text.detach()  # the caller still reads the byte position from the file underneath


def _csv_rows(rows: csv.DictReader) -> Records:
    previous = 1
    for record in rows:
        lines, previous = rows.line_num - previous, rows.line_num
        out: dict[str, Any] = {k: (None if v == "" else v) for k, v in record.items() if k is not None}
        if not out.get("request_id") and out.get("response_id"):
            out["request_id"] = out["response_id"]
        for name in ("request_body", "response_body"):
            if isinstance(out.get(name), str):
                out[name] = _csv_text(out[name])
        for name in ("request_properties", "properties", "scores"):
            if isinstance(out.get(name), str):
                try:
                    out[name] = _csv_object(out[name])
                except ValueError as error:
                    out = {"__bad__": f"{name}: {error}"}
                    break
        if "__bad__" in out:
            yield rows.line_num, lines, _BadRecord(out["__bad__"])
        else:
            yield rows.line_num, lines, out


class _BadRecord(dict):
    """A record that could not be decoded; normalize() rejects it with its reason."""

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason


def file_size(path: str) -> int:
    """Size in bytes, 0 when unknown."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
