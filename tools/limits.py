"""The limits every request obeys, written once and enforced at every entry.

Entries are the CLI (`heliqa query` files and stdin), `heliqa serve`, the Slack HTTP mode and the answers of
Helicone's API. Each limit exists because its absence let one input tie up a process or crash it: a
1,000-deep filter tree overflowed Python's stack, a 6 MB `or` tree took 27 s and 2 GB, a 5,001-digit number
overflowed a float, a lone surrogate broke the store, dates at the calendar's edges overflowed datetime.
A violation raises `LimitExceeded` (exit 2 / HTTP 4xx) whose message names the limit.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, Field

from heliqa.tools.errors import InvalidRequest, LimitExceeded

MAX_BODY_BYTES = 1 << 20  # a request body (CLI file, serve, Slack); real ones are a few KB
MAX_DEPTH = 64  # JSON nesting; a left-deep chain of ~60 filter leaves still fits
MAX_FILTER_LEAVES = 1_000  # filter conditions in one tree (1,000 ilike leaves, a month by hour: 0.6 s on 5k rows)
MAX_VALUES = 20_000  # JSON values of any kind in one request body
MAX_TEXT = 10_000  # characters in one string
MAX_NUMBER = 1e300  # |number|; beyond it floats overflow (cost * 1e9) and integers stop fitting a double
MAX_SCORE_DIGITS = 300  # digits of a score value (an integer string), as for any other number
MAX_BUCKETS = 10_000  # time buckets per answer: a year by hour fits, a decade by minute would not
MAX_RESPONSE_BYTES = 64 << 20  # a Helicone answer, decompressed
MAX_INT64 = 2**63 - 1  # an offset or count the stores take (DuckDB BIGINT, ClickHouse Int64); beyond, the query fails
# The time range a query may cover: the span of ClickHouse's DateTime, the type of Helicone's timestamps.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)


def _int64(value: int) -> int:
    if value > MAX_INT64:
        raise ValueError(f"must be at most {MAX_INT64} (a 64-bit integer)")
    return value


# A row offset of a request body: a non-negative integer the stores can take.
Offset = Annotated[int, Field(ge=0), AfterValidator(_int64)]


def parse_json(raw: bytes | str, what: str = "the body", max_bytes: int = MAX_BODY_BYTES) -> Any:
    """Parse JSON within the limits: size, UTF-8 without lone surrogates, finite numbers, depth, value count.

    Strict JSON (orjson): no NaN or Infinity, which Helicone's Express parser refuses too.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise LimitExceeded([f"{what} is {len(data):,} bytes; the limit is {max_bytes:,} bytes (body size)"])
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        text, where = str(error), f" (line {error.lineno}, column {error.colno})"
        if "recursion limit" in text or "depth limit" in text:
            raise LimitExceeded([f"{what} is nested deeper than {MAX_DEPTH} levels (tree depth)"]) from None
        if "infinity" in text:
            raise LimitExceeded([f"{what} holds a number beyond ±{MAX_NUMBER:g}{where} (number magnitude)"]) from None
        if "surrogate" in text or "UTF-8" in text:
            raise LimitExceeded([f"{what} holds text that is not valid UTF-8{where} (string encoding)"]) from None
        raise InvalidRequest([f"{what} is not valid JSON: {text.split(':', 1)[0]}{where}"]) from None
    check_json(value, what)
    return value


def check_json(value: Any, what: str = "the body") -> None:
    """Depth, value count, filter-leaf count, number magnitude and text limits of parsed JSON (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    values = leaves = 0
    while stack:
        item, depth = stack.pop()
        values += 1
        if depth > MAX_DEPTH:
            raise LimitExceeded([f"{what} is nested deeper than {MAX_DEPTH} levels (tree depth)"])
        if values > MAX_VALUES:
            raise LimitExceeded([f"{what} holds more than {MAX_VALUES:,} values (value count)"])
        if isinstance(item, dict):
            if "request_response_rmt" in item:
                leaves += 1
                if leaves > MAX_FILTER_LEAVES:
                    raise LimitExceeded(
                        [f"{what} holds more than {MAX_FILTER_LEAVES:,} filter conditions (leaf count)"],
                        "group values with fewer conditions, or ask for a grouping instead of one leaf per value",
                    )
            for key, child in item.items():
                check_text(key, what)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            check_text(item, what)
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            check_number(item, what)


def text_problem(text: str) -> str | None:
    """Why one string is outside the limits (length, encoding), or None; a lone surrogate cannot be stored or sent."""
    if len(text) > MAX_TEXT:
        return f"a text of {len(text):,} characters; the limit is {MAX_TEXT:,} (text length)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text that is not valid Unicode, a lone surrogate (string encoding)"
    return None


def check_text(text: str, what: str = "a value") -> None:
    problem = text_problem(text)
    if problem:
        raise LimitExceeded([f"{what} holds {problem}"])


def number_problem(value: float | int) -> str | None:
    """Why a number is outside the limits, or None."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN is not a number here"
    try:
        ok = abs(value) <= MAX_NUMBER
    except OverflowError:  # an integer too large for any float
        ok = False
    return None if ok else f"numbers are limited to ±{MAX_NUMBER:g} (number magnitude)"


def check_number(value: float | int, what: str = "a value") -> None:
    problem = number_problem(value)
    if problem:
        raise LimitExceeded([f"{what}: {problem}"])


def instant_problem(moment: datetime) -> str | None:
    """Why an instant is outside the time window queries may cover, or None."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        return (
            f"{moment.isoformat()} is outside {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} UTC "
            "(time window: the range of Helicone's DateTime)"
        )
    return None


def bucket_problem(count: int, increment: str) -> str | None:
    """Why a number of time buckets is too many, or None."""
    if count > MAX_BUCKETS:
        return f"the range holds {count:,} '{increment}' buckets; the limit is {MAX_BUCKETS:,} (bucket count)"
    return None


class BodyTooLarge(Exception):
    """read_capped: the decompressed body passed its cap."""


class BodyUnreadable(Exception):
    """read_capped: an encoding heliqa does not read, or data that is not valid in it (the text says which)."""


class BodyTooSlow(Exception):
    """read_capped: the body was still arriving at its deadline (a trickle: each byte in time, the whole never)."""


def read_capped(chunks: Iterable[bytes], encoding: str, max_bytes: int, deadline: float) -> bytes:
    """A response body from its raw chunks, decompressed in bounded steps (a gzip bomb never inflates past
    `max_bytes`), cut at `max_bytes` or at the monotonic `deadline`; each caller words the three failures."""
    encoding = encoding.strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
        raise BodyUnreadable(f"unsupported content-encoding {encoding[:40]!r}")
    inflate = zlib.decompressobj(47) if encoding != "identity" else None  # wbits 47: gzip or zlib framing
    out: list[bytes] = []
    size = 0
    for raw in chunks:
        pending = raw
        while pending:
            if inflate is None:
                piece, pending = pending, b""
            else:
                try:
                    piece = inflate.decompress(pending, max_bytes - size + 1)
                except zlib.error:
                    raise BodyUnreadable(f"not valid {encoding} data") from None
                pending = inflate.unconsumed_tail
            size += len(piece)
            if size > max_bytes:
                raise BodyTooLarge(f"larger than {max_bytes:,} bytes")
            out.append(piece)
        if time.monotonic() > deadline:
            raise BodyTooSlow("deadline passed")
    return b"".join(out)
