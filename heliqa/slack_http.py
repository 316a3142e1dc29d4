"""Slack's HTTP mode: an ASGI app that checks each request before Bolt sees it.

Bolt parses a body before its own checks can fail politely: a form whose `payload` is not JSON, a JSON array,
a body that is not UTF-8 or starts with a byte-order mark each ended in a 500 and a traceback. Here a request
is refused in order of cost, before anything is parsed for Bolt: too large (413), a bad timestamp or signature
(401, so an unsigned sender learns nothing about the body), then a body Bolt could not read (400).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App

from heliqa.tools.limits import MAX_BODY_BYTES

log = logging.getLogger("heliqa.slack")
MAX_BODY = MAX_BODY_BYTES  # Slack payloads are a few KB; refuse anything larger before reading it
SIGNATURE_WINDOW_S = 300  # Slack's replay window, as Bolt's verifier has it
MAX_DEPTH = 32  # Slack's payloads nest a handful of levels; a deeper one is not Slack's


def depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _json_problem(text: str, what: str) -> str | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return f"{what} is not JSON"
    if not isinstance(data, dict):
        return f"{what} is not a JSON object"
    if depth(data) > MAX_DEPTH:
        return f"{what} nests more than {MAX_DEPTH} levels deep"
    return None


def body_problem(raw: bytes, content_type: str | None) -> str | None:
    """Why Bolt could not read this body (None when it can), reading it the way Bolt's parse_body does."""
    if not raw:
        return "the body is empty"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if text.startswith("\ufeff"):
        return "the body starts with a byte-order mark"
    if content_type == "application/json" or text.startswith("{"):
        return _json_problem(text, "the body")
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        return None if payload is None else _json_problem(payload, "the payload")
    return None


def signed(secret: bytes, raw: bytes, headers: Any, now: float | None = None) -> bool:
    """True when Slack's signature headers match these raw bytes (HMAC-SHA256 over `v0:{ts}:{body}`) and the
    timestamp is within 5 minutes; computed on bytes, so a body that is not UTF-8 is simply unsigned."""
    timestamp = headers.get("x-slack-request-timestamp") or ""
    signature = headers.get("x-slack-signature") or ""
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_WINDOW_S:
        return False
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={digest}", signature)


def http_api(app: App, signing_secret: str):
    """An ASGI app serving Slack's requests on POST /slack/events (plus GET /healthz)."""
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    secret = signing_secret.encode()

    async def events(request):
        body = await _read(request)
        if body is None:
            return PlainTextResponse("payload too large", status_code=413)
        if not signed(secret, body, request.headers):
            return JSONResponse({"error": "invalid request"}, status_code=401)  # Bolt's own answer
        problem = body_problem(body, request.headers.get("content-type"))
        if problem:
            log.info("refused a signed Slack request: %s", problem)
            return JSONResponse({"error": f"malformed request: {problem}"}, status_code=400)
        # Bolt's dispatch blocks until ack(); run it on a worker so the event loop keeps serving.
        response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(response)

    async def health(request):
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", health)])


async def _read(request) -> bytes | None:
    """The whole body, or None as soon as it is known to be over MAX_BODY (declared or counted)."""
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():  # a chunked body announces no length: count what arrives
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
