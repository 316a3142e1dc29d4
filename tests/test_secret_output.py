"""Secrets never shown (hardening finding 10): mistyped credential URLs, any-case secrets, encoded
Authorization values in error bodies, and keys in query strings."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest

from heliqa.tools.errors import ConfigError
from heliqa.tools.settings import load, redact

PASSWORD = "Pw0rdSecret9"
FORMS = [
    "htp:/user:{pw}@x",
    "http:/user:{pw}@x",
    "http//user:{pw}@x",
    "http:user:{pw}@x",
    "http:///user:{pw}@x",
    "//user:{pw}@x",
    "user:{pw}@x",
    "http://user:{pw}@x:port",
    "http://user:{pw}@",
    "http://user:{pw}@[x",
    "htp://user:{pw}@x",
    "http://user:pa/{pw}@x",
    "http://user:{pw}@x:99999",
    "https:\\\\user:{pw}@x",
    "ftp:/user:{pw}@x/db",
]
VARIABLES = ["HELICONE_BASE_URL", "OPENAI_BASE_URL", "HELIQA_CLICKHOUSE_URL"]


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("HELIQA_", "HELICONE_", "OPENAI_", "SLACK_")):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("variable", VARIABLES)
def test_a_mistyped_credential_url_is_never_echoed(clean_env, variable):
    refused = 0
    for form in FORMS:
        clean_env.setenv(variable, form.format(pw=PASSWORD))
        try:
            load()
        except ConfigError as error:
            refused += 1
            text = f"{error.message} {error.hint or ''}"
            assert PASSWORD not in text and PASSWORD.lower() not in text.lower(), (form, text)
            assert variable in text
    assert refused >= 12  # each of these forms is refused; none shows its password


def test_the_cli_prints_no_password_of_a_url_missing_a_slash(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELIQA_", "HELICONE_", "OPENAI_"))}
    env.update(HELIQA_HOME=str(tmp_path), HELICONE_BASE_URL=f"https:/reader:{PASSWORD}@api.example")
    done = subprocess.run(
        [sys.executable, "-m", "heliqa.cli", "ask", "requests today"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and "HELICONE_BASE_URL" in done.stderr and PASSWORD not in done.stderr


def test_secrets_are_hidden_in_any_case(clean_env):
    clean_env.setenv("SLACK_SIGNING_SECRET", "AbCdEf0123456789XyZ")
    shown = redact("signature mismatch for abcdef0123456789xyz and ABCDEF0123456789XYZ")
    assert "0123456789" not in shown and shown.count("***") == 2


def test_authorization_values_are_hidden_in_any_encoding(clean_env):
    clean_env.setenv("HELIQA_CLICKHOUSE_URL", f"http://reader:{PASSWORD}@ch:8123/db")
    basic = base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
    for body in (
        f"Code: 516. Authentication failed. Authorization: Basic {basic}",
        f'{{"headers": {{"authorization": "Basic {basic}"}}}}',
        f"echo {basic}",
        "authorization: Bearer some-unknown-token-value",
        f"reader:{PASSWORD.lower()}",
    ):
        shown = redact(body)
        assert basic not in shown and PASSWORD.lower() not in shown.lower(), shown
        assert "some-unknown-token-value" not in shown


def test_clickhouse_error_bodies_are_redacted(clean_env):
    from heliqa.tools.clickhouse import _first_line

    url = f"http://reader:{PASSWORD}@ch:8123/db"
    clean_env.setenv("HELIQA_CLICKHOUSE_URL", url)
    basic = base64.b64encode(f"reader:{PASSWORD}".encode()).decode()
    text = _first_line(RuntimeError(f"HTTP 401: authorization: basic {basic} rejected"), url)
    assert basic not in text and "rejected" in text


def test_keys_in_query_strings_are_masked(clean_env):
    shown = redact("GET https://api.example/v1/x?api_key=abc123def&limit=5&access_token=zz99&sig=00ff")
    assert shown == "GET https://api.example/v1/x?api_key=***&limit=5&access_token=***&sig=***"
