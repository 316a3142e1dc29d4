"""A small fake of the Slack Web API (and Socket Mode) on 127.0.0.1 that records every call.

Point `WebClient(base_url=fake.api_url)` at it (note the trailing slash). It answers `auth.test`,
`chat.postMessage` (kept, with their metadata, for `conversations.history` / `conversations.replies`),
`chat.postEphemeral`, `users.info`, the three calls behind `files_upload_v2`
(`files.getUploadURLExternal`, the upload URL, `files.completeUploadExternal`), `response_url` posts
and `apps.connections.open`. Tests sign their own requests with `sign()`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_USER = "UBOT0001"
TEAM = "T0000001"


@dataclass
class Call:
    """One request the fake received."""

    method: str  # Web API method ('chat.postMessage'), or 'upload' / 'response'
    path: str
    headers: dict[str, str]
    raw: bytes
    data: dict[str, Any] = field(default_factory=dict)
    reply: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request signature headers for `body` (v0 HMAC-SHA256 over 'v0:{ts}:{body}')."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class FakeSlack:
    """The fake Web API server; use as a context manager."""

    def __init__(self, users: dict[str, str] | None = None):
        self.users = dict(users or {})  # user id -> IANA time zone
        self.calls: list[Call] = []
        self.uploads: dict[str, bytes] = {}
        self.overrides: dict[str, dict[str, Any]] = {}  # method -> canned JSON reply (e.g. an error)
        # method -> HTTP failures to answer first, in order: (status, headers), e.g. (429, {"Retry-After": "1"})
        self.failures: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.delays: dict[str, float] = {}  # method -> seconds to wait, after accepting a call, before answering
        self.messages: list[dict[str, Any]] = []  # what chat.postMessage posted
        self.socket_url: str | None = None
        self._cond = threading.Condition()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self.api_url = self.url + "api/"

    def __enter__(self) -> FakeSlack:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what tests look at -----------------------------------------------------------------------
    def response_url(self, name: str = "r1") -> str:
        """A `response_url` for payloads; posts to it are recorded as method 'response'."""
        return f"{self.url}response/{name}"

    def of(self, method: str) -> list[Call]:
        """The calls of one method, in order."""
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        """Block until predicate(self) is true (re-checked after every call) or the timeout passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    # --- the server -------------------------------------------------------------------------------
    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _reply(self, method: str, data: dict[str, Any], host: str) -> dict[str, Any]:
        if method in self.overrides:
            return self.overrides[method]
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.com/",
                "team": "Fake",
                "user": "heliqa",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": "BBOT0001",
            }
        if method in ("chat.postMessage", "chat.update"):
            ts = f"1700000000.{next(self._ts):06d}"
            if method == "chat.postMessage":
                keep = ("channel", "text", "thread_ts", "metadata", "blocks")
                self.messages.append({"ts": ts, **{k: data.get(k) for k in keep}})
            return {
                "ok": True,
                "channel": data.get("channel"),
                "ts": ts,
                "message": {"text": data.get("text"), "ts": ts, "thread_ts": data.get("thread_ts")},
            }
        if method == "conversations.history":
            found = [m for m in self.messages if m["channel"] == data.get("channel") and not m["thread_ts"]]
            return {"ok": True, "messages": found[::-1]}
        if method == "conversations.replies":
            found = [
                m for m in self.messages if m["channel"] == data.get("channel") and m["thread_ts"] == data.get("ts")
            ]
            return {"ok": True, "messages": found}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "users.info":
            user = data.get("user")
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "tz": self.users[user], "tz_offset": 0}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):08d}"
            return {"ok": True, "file_id": file_id, "upload_url": f"http://{host}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = json.loads(data.get("files", "[]"))
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title"), "name": "chart.png"} for f in files]}
        if method == "files.info":
            return {"ok": True, "file": {"id": data.get("file")}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        return {"ok": False, "error": "unknown_method"}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if parts.path.startswith("/upload/"):  # raw file bytes (urllib labels them as a form)
                    file_id = parts.path.rsplit("/", 1)[1]
                    fake.uploads[file_id] = raw
                    fake._record(Call("upload", parts.path, headers, raw, {"file_id": file_id}))
                    return self._send(200, b"OK", "text/plain")
                data: dict[str, Any] = dict(parse_qsl(parts.query))
                if raw and "json" in headers.get("content-type", ""):
                    data.update(json.loads(raw))
                elif raw and "x-www-form-urlencoded" in headers.get("content-type", ""):
                    data.update(parse_qsl(raw.decode()))
                if parts.path.startswith("/response/"):
                    fake._record(Call("response", parts.path, headers, raw, data))
                    return self._send(200, b"ok", "text/plain")
                method = parts.path.removeprefix("/api/")
                with fake._cond:
                    failure = fake.failures.get(method, []).pop(0) if fake.failures.get(method) else None
                if failure is not None:
                    status, extra = failure
                    fake._record(Call(method, parts.path, headers, raw, data, {"status": status}))
                    return self._send(status, b"unavailable", "text/plain", extra)
                reply = fake._reply(method, data, self.headers.get("Host", ""))
                fake._record(Call(method, parts.path, headers, raw, data, reply))
                time.sleep(fake.delays.get(method, 0.0))
                self._send(200, json.dumps(reply).encode(), "application/json")

            def _send(self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

        return Handler


class FakeSocketMode:
    """A local Socket Mode websocket: sends `hello`, then the envelopes a test pushes; collects the acks."""

    def __init__(self):
        from websockets.sync.server import serve

        self.acks: queue.Queue[tuple[float, dict]] = queue.Queue()
        self._outbox: queue.Queue[dict | None] = queue.Queue()
        self._server = serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"
        self.connected = threading.Event()

    def __enter__(self) -> FakeSocketMode:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._outbox.put(None)
        self._server.shutdown()

    def send(self, envelope: dict) -> float:
        """Queue an envelope for the app; returns the monotonic time it was queued."""
        sent = time.monotonic()
        self._outbox.put(envelope)
        return sent

    def _session(self, ws) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1}))
        self.connected.set()

        def read() -> None:
            try:
                for message in ws:
                    self.acks.put((time.monotonic(), json.loads(message)))
            except Exception:  # the connection closes when the test ends
                return

        threading.Thread(target=read, daemon=True).start()
        while (envelope := self._outbox.get()) is not None:
            ws.send(json.dumps(envelope))
        self._outbox.put(None)  # let other sessions end too
