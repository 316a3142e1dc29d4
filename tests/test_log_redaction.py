"""No log line of heliqa or its libraries carries a password from a configured URL or a secret.

Each surface runs as a real subprocess whose root logger captures everything at DEBUG on stderr (as a user's
`logging.basicConfig` would), against a real local server; httpx logs every request's full URL at INFO, so a
credential URL would show there unless heliqa.tools.logs redacts the record.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from heliqa.tools import logs
from heliqa.tools.demo import DEMO_ORG
from tests.fake_helicone import FakeHelicone
from tests.fake_openai import FakeOpenAI, tool_call
from tests.servers import free_port

NOW = "2026-11-24T12:00:00Z"
EMPTY_ORG = "11111111-2222-4333-8444-555555555555"
SECRET = "pw-Zq81xLm0"
API_KEY = "sk-liveKEY0123456789"
CAPTURE = "import logging, sys\nlogging.basicConfig(level=logging.DEBUG, stream=sys.stderr)\n"


def environ(home: Path, **env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HELIQA_", "HELICONE_", "OPENAI_", "SLACK_"))}
    return {**clean, "HELIQA_HOME": str(home), **env}


def heliqa(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`heliqa ARGS` with every log record of the process printed on stderr."""
    code = CAPTURE + "from heliqa.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=environ(home, **env), timeout=120
    )


def with_password(url: str) -> str:
    return url.replace("http://", f"http://reader:{SECRET}@", 1)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("log-redaction")
    done = heliqa(home, "demo", "--rows", "500", "--now", NOW)
    assert done.returncode == 0, done.stderr
    return home


def test_llm_endpoint_password_never_logged(home):
    with FakeOpenAI(lambda body: tool_call("ask_clarifying_question", {"question": "Which model?"})) as fake:
        url = fake.base_url
        done = heliqa(
            home,
            "ask",
            "--planner",
            "llm",
            "--now",
            NOW,
            "how are things",
            OPENAI_BASE_URL=with_password(url),
            OPENAI_API_KEY=API_KEY,
        )
    assert fake.paths == ["/v1/chat/completions"]  # the request went out, so httpx logged it
    assert "Which model?" in done.stdout, done.stderr
    assert f"HTTP Request: POST http://***@{url.removeprefix('http://')}" in done.stderr
    assert SECRET not in done.stdout + done.stderr and API_KEY not in done.stdout + done.stderr


def test_helicone_password_never_logged(home):
    with FakeHelicone() as fake:  # nothing scripted: Helicone answers an error, which is reported
        done = heliqa(
            home,
            "ask",
            "--backend",
            "helicone",
            "--org",
            "org-1",
            "--now",
            NOW,
            "requests today",
            HELICONE_BASE_URL=with_password(fake.url),
            HELICONE_API_KEY=fake.key,
            HELICONE_TIMEOUT="5",
        )
        assert fake.paths()  # it was asked
    assert "heliqa: " in done.stderr and "HTTP Request: POST" in done.stderr
    assert SECRET not in done.stdout + done.stderr and fake.key not in done.stdout + done.stderr


def test_clickhouse_password_never_logged(home):
    pytest.importorskip("clickhouse_connect")
    with FakeHelicone() as fake:  # a server that answers, but not as ClickHouse does
        done = heliqa(
            home,
            "ask",
            "--backend",
            "clickhouse",
            "--now",
            NOW,
            "requests today",
            HELIQA_CLICKHOUSE_URL=with_password(fake.url) + "/helicone",
        )
        assert fake.paths()
    assert done.returncode != 0 and "heliqa: " in done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_serve_logs_are_redacted_and_its_messages_use_the_one_prefix(home):
    pytest.importorskip("uvicorn")
    port = free_port()
    code = CAPTURE + "from heliqa.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    env = environ(
        home,
        HELIQA_SERVE_KEYS=f"k-0123456789={DEMO_ORG},k-9876543210={EMPTY_ORG}",
        OPENAI_BASE_URL=with_password("http://llm.example/v1"),
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                url = f"http://127.0.0.1:{port}/healthz?next={with_password('http://ch.example')}"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    assert answer.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    # uvicorn's access log prints the query string; its formatter unpacks the record's arguments, kept intact
    assert '"GET /healthz?next=http://***@ch.example HTTP/1.1" 200' in out, out + err  # access log: stdout
    assert SECRET not in out + err and "k-0123456789" not in out + err
    # heliqa's own lines use the CLI's one prefix, as every command's do
    assert f"heliqa: organization {EMPTY_ORG} of HELIQA_SERVE_KEYS has no data in " in err
    assert "heliqa: serving 2 key(s), 1 organization(s) in " in err and "heliqa serve:" not in err


@pytest.fixture
def restored_factory():
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


def test_records_are_redacted_whatever_handler_prints_them(monkeypatch, caplog, restored_factory):
    monkeypatch.setenv("OPENAI_BASE_URL", with_password("http://llm.example/v1"))
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    logs.install()
    logs.install()  # idempotent
    with caplog.at_level(logging.INFO):
        log = logging.getLogger("httpx")
        log.info("HTTP Request: %s %s", "POST", with_password("http://llm.example/v1/chat/completions"))
        log.info("key %(key)s", {"key": API_KEY})
        try:
            raise ConnectionError(f"refused by {with_password('http://llm.example/v1')} with {API_KEY}")
        except ConnectionError:
            log.exception("failed")
    assert "HTTP Request: POST http://***@llm.example/v1/chat/completions" in caplog.text
    assert "key ***" in caplog.text and "ConnectionError: refused by http://***@llm.example" in caplog.text
    assert SECRET not in caplog.text and API_KEY not in caplog.text
    assert json.dumps([r.args for r in caplog.records if r.args]).count(SECRET) == 0


def test_slack_logging_hides_tokens_too(monkeypatch, caplog, restored_factory):
    pytest.importorskip("slack_bolt")
    from heliqa import slack

    monkeypatch.setenv("HELIQA_CLICKHOUSE_URL", with_password("http://ch.example:8123/helicone"))
    slack.configure_logging()
    token = "xoxb-1111-2222-abcdefABCDEF"
    with caplog.at_level(logging.INFO):
        logging.getLogger("slack_bolt.App").info("token %s, store %s", token, with_password("http://ch.example"))
    assert "token [redacted], store http://***@ch.example" in caplog.text
    assert SECRET not in caplog.text and token not in caplog.text
