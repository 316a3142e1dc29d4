"""A real HTTP server on 127.0.0.1 that behaves like Helicone's API for the REST backend's tests.

It answers like Helicone does (helicone.md §4, §11): 401 `{"error": "No authorization header"}` without a key,
401 with `isAuthenticated.error` for a wrong key, Result envelopes `{"data", "error"}`, the scores endpoint's
200-with-error, 500s from metrics endpoints, 422 `Validation Failed`, 429 with `Retry-After`, and slow answers.
Tests script the answers per path (FIFO) and read back every request the server received.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class RawReply:
    """A hostile answer written byte for byte: any payload (not JSON, a gzip bomb), trickled if asked."""

    payload: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds between single bytes of the payload (0: all at once)


def gzip_bomb(decompressed: int, chunk: int = 1 << 20) -> bytes:
    """A gzip stream of `decompressed` zero bytes (about 1,000 times smaller), built without holding it all."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    zeros = bytes(chunk)
    parts = [packer.compress(zeros) for _ in range(decompressed // chunk)]
    return b"".join(parts) + packer.flush()


def send_raw(handler: BaseHTTPRequestHandler, reply: RawReply) -> None:
    """Write `reply` on the handler's connection; a client that gave up is not an error."""
    try:
        handler.send_response(reply.status)
        handler.send_header("content-type", "application/json; charset=utf-8")
        handler.send_header("content-length", str(len(reply.payload)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if not reply.trickle:
            handler.wfile.write(reply.payload)
            return
        handler.wfile.flush()
        for i in range(len(reply.payload)):
            handler.wfile.write(reply.payload[i : i + 1])
            handler.wfile.flush()
            time.sleep(reply.trickle)
    except (BrokenPipeError, ConnectionResetError):
        pass


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeHelicone:
    """Start with `with FakeHelicone(key) as fake:`; `fake.url` is the base URL."""

    def __init__(self, key: str = "sk-helicone-test-0000000-1111111-2222222-3333333"):
        self.key = key
        self.script: dict[str, deque[Reply]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHelicone:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- scripting -----------------------------------------------------------------------------------
    def reply(self, path: str, data: Any, times: int = 1) -> None:
        """Answer `path` with `{"data": data, "error": null}` (200)."""
        for _ in range(times):
            self.script[path].append(Reply(200, {"data": data, "error": None}))

    def fail(self, path: str, status: int, error: str) -> None:
        """Answer with Helicone's error envelope: status 200 for the scores endpoint, 500 for metrics."""
        self.script[path].append(Reply(status, {"data": None, "error": error}))

    def raw(self, path: str, reply: Reply | RawReply) -> None:
        """Answer with exactly this reply."""
        self.script[path].append(reply)

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [s.path for s in self.seen]

    def bodies(self, path: str) -> list[Any]:
        """Bodies received on `path`, in order."""
        return [s.body for s in self.seen if s.path == path]

    # --- the server ----------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            wbufsize = 1 << 16  # headers and body leave in one write (no delayed-ACK stalls)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                with fake._lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    fake.seen.append(Seen(self.command, self.path, headers, body))
                    scripted = fake.script[self.path].popleft() if fake.script[self.path] else None
                auth = self.headers.get("authorization")
                if auth is None:
                    return self._send(Reply(401, {"error": "No authorization header"}))
                if auth != f"Bearer {fake.key}":
                    return self._send(Reply(401, {"error": "Invalid API key", "trace": "isAuthenticated.error"}))
                if scripted is None:
                    return self._send(Reply(404, {"message": f"no scripted answer for {self.path}"}))
                if isinstance(scripted, RawReply):
                    return send_raw(self, scripted)
                if scripted.delay:
                    time.sleep(scripted.delay)
                self._send(scripted)

            do_GET = _answer
            do_POST = _answer

            def _send(self, reply: Reply) -> None:
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json; charset=utf-8")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        return Handler
