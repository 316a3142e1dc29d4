"""A scripted OpenAI-compatible Chat Completions server on 127.0.0.1 for driving the real ChatOpenAI offline.

The script is a callable that sees each request body (the whole conversation so far) and returns the
assistant message to send back, so a test can branch on what the client really sent (e.g. only correct
a tool call after the tool error arrived). Every request is recorded.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[[dict[str, Any]], dict[str, Any]]
_ids = itertools.count(1)


def tool_call(name: str, args: dict[str, Any] | str, call_id: str | None = None) -> dict[str, Any]:
    """An assistant message that calls one tool (`args` as a dict, or a raw string to send malformed JSON)."""
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id or f"call_{next(_ids)}",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        ],
    }


def text(content: str) -> dict[str, Any]:
    """An assistant message with plain text."""
    return {"role": "assistant", "content": content}


def http_error(status: int, message: str) -> dict[str, Any]:
    """A reply that makes the server answer with an OpenAI-style HTTP error."""
    return {"_status": status, "error": {"message": message, "type": "invalid_request_error", "code": None}}


def last_message(body: dict[str, Any]) -> dict[str, Any]:
    """The last message of a chat request."""
    return body["messages"][-1]


def user_question(body: dict[str, Any]) -> str:
    """The first user message of a chat request."""
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def strict_problems(schema: dict[str, Any], path: str = "$") -> list[str]:
    """Where a JSON schema breaks OpenAI's strict-mode rules (objects closed, every property required)."""
    problems = []
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            problems.append(f"{path}: additionalProperties is not false")
        if sorted(schema.get("required", [])) != sorted(props):
            problems.append(f"{path}: required {schema.get('required')} != properties {sorted(props)}")
        for name, sub in props.items():
            problems += strict_problems(sub, f"{path}.{name}")
    for i, sub in enumerate(schema.get("anyOf", [])):
        problems += strict_problems(sub, f"{path}|{i}")
    if isinstance(schema.get("items"), dict):
        problems += strict_problems(schema["items"], f"{path}[]")
    if "$ref" in schema or "$defs" in schema:
        problems.append(f"{path}: unresolved $ref/$defs")
    return problems


class FakeOpenAI:
    """`with FakeOpenAI(script) as fake:` serves `fake.base_url` (ends in /v1) and records `fake.requests`."""

    def __init__(self, script: Script, model: str = "gpt-4o-mini"):
        self.script = script
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # lower-case names
        self.paths: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL to give the client."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAI:
        """Serve on an ephemeral port in a daemon thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.paths.append(self.path)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                body = json.loads(raw)
                fake.requests.append(body)
                try:
                    message = fake.script(body)
                except Exception as error:  # a broken script must fail the test visibly, not hang the client
                    return self._send(500, {"error": {"message": f"script failed: {error!r}", "type": "server_error"}})
                if "_status" in message:
                    return self._send(message["_status"], {"error": message["error"]})
                finish = "tool_calls" if message.get("tool_calls") else "stop"
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(fake.requests)}",
                        "object": "chat.completion",
                        "created": 1_790_000_000,
                        "model": body.get("model", fake.model),
                        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
