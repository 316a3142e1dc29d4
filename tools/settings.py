"""heliqa's configuration: every environment variable it reads, validated in one place, and the secrets to redact.

`settings()` reads the environment once and returns the same validated object until one of these variables
changes (tests and long-running apps may change them). A bad value is one ConfigError (exit 2) naming the
variable; secret values are never echoed. The README's configuration table is `markdown_table()` (a test
keeps them equal), and `redact()` hides every secret below, passwords inside URLs included.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from heliqa.tools.errors import ConfigError
from heliqa.tools.urls import mask_url

# Fields holding URLs that may carry `user:password@`; only the password is hidden in messages.
CREDENTIAL_URLS = ("helicone_base_url", "openai_base_url", "heliqa_clickhouse_url")
MIN_SECRET = 6  # shorter values would blank out ordinary words in a message
# `scheme://user:password@` anywhere in a text; masked like tools.urls.mask_url masks one URL (`scheme://***@`)
# Credential shapes hidden even when they are not heliqa's own secrets (a token pasted into a question or a log):
# Slack bot/user/app tokens and OpenAI-style API keys.
_TOKEN = re.compile(r"\b(?:xox[a-z]-|xapp-)[A-Za-z0-9-]+|\b(?:sk|pk)-[A-Za-z0-9_-]{8,}", re.IGNORECASE)
# An Authorization header's value echoed in an error body (`Authorization: Basic dXNlcjpwdw==`, JSON or not),
# and a credential in a URL's query string (`?api_key=…`, `&token=…`).
_SCHEMES = r"(?:basic|bearer|token|digest)"
_AUTHORIZATION = re.compile(
    rf"""(authorization["']?\s*[:=]\s*["']?(?:{_SCHEMES}\s+)?)(?!{_SCHEMES}\b)[^\s"',;}}*]{{4,}}""", re.IGNORECASE
)
_QUERY_SECRET = re.compile(
    r"([?&;][\w.-]*(?:key|token|secret|password|passwd|pwd|signature|sig|auth|credential)s?[\w.-]*=)[^&#\s\"'<>]+",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/?#@:]*:[^\s/?#@]*@", re.IGNORECASE)


class Settings(BaseSettings):
    """Every environment variable heliqa reads; the field name is the variable's name in lower case."""

    model_config = SettingsConfigDict(case_sensitive=False, env_ignore_empty=True, extra="ignore", frozen=True)

    # --- where, whose, when ------------------------------------------------------------------------------
    heliqa_home: Path | None = Field(
        None,
        description="where the embedded store lives (default `$XDG_DATA_HOME/heliqa`, else `~/.local/share/heliqa`)",
    )
    xdg_data_home: Path | None = Field(None, description="the standard data folder, used when `HELIQA_HOME` is unset")
    heliqa_org_id: str | None = Field(
        None, description="organization to answer for (implied when the store holds only one; `--org` overrides)"
    )
    heliqa_tz: str | None = Field(None, description="default time zone, an IANA name (`--tz` overrides)")
    heliqa_store_wait: float = Field(
        120.0, description="seconds a read or write of the embedded store waits for another process before failing"
    )
    tz: str | None = Field(None, description="the machine's zone, used when neither `--tz` nor `HELIQA_TZ` is set")
    heliqa_backend: Literal["embedded", "helicone", "clickhouse"] | None = Field(
        None, description="`embedded` (default), `helicone` or `clickhouse` (`--backend` overrides)"
    )
    heliqa_planner: Literal["auto", "rules", "llm"] = Field(
        "auto", description="`auto` (rules, then the LLM when configured), `rules` or `llm` (`--planner` overrides)"
    )
    # --- Helicone's REST API -------------------------------------------------------------------------------
    helicone_api_key: SecretStr | None = Field(None, description="Helicone API key with read access (secret)")
    helicone_base_url: str | None = Field(
        None,
        repr=False,
        description="Helicone's API: US `https://api.helicone.ai` (default), EU `https://eu.api.helicone.ai`, "
        "or a self-hosted URL",
    )
    helicone_timeout: float = Field(30.0, description="seconds to wait for Helicone's API")
    helicone_dashboard_url: str | None = Field(
        None, description="dashboard linked from Slack answers (default: the US or EU dashboard)"
    )
    heliqa_egress_hosts: str | None = Field(
        None,
        description="comma-separated hosts `heliqa sync --bodies` may fetch signed body URLs from besides the "
        "upstream's own (`*.example.com` for subdomains), e.g. your Helicone's object storage",
    )
    heliqa_egress_allow_private: bool = Field(
        False,
        description="`1` lets body fetches use plain http and reach private, loopback and link-local addresses "
        "(a self-hosted Helicone on your network; tests); off, they are refused",
    )
    # --- ClickHouse ----------------------------------------------------------------------------------------
    heliqa_clickhouse_url: SecretStr | None = Field(
        None,
        description="ClickHouse backend: `http://user:pass@host:8123/db`, or `chdb:///path` for embedded chDB (secret)",
    )
    # --- the LLM planner -----------------------------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(None, description="key of the OpenAI-compatible endpoint (secret)")
    openai_base_url: str | None = Field(
        None, repr=False, description="any OpenAI-compatible Chat Completions endpoint (default OpenAI's)"
    )
    heliqa_llm_model: str = Field("gpt-4o-mini", description="model name for the LLM planner")
    heliqa_llm_timeout: float = Field(30.0, description="seconds to wait for the LLM endpoint")
    heliqa_llm_max_tokens: int = Field(800, description="most tokens the LLM may answer with")
    heliqa_llm_summary: bool = Field(
        False, description="`1` adds a one-sentence LLM summary (kept only when its numbers are in the rows)"
    )
    # --- the Slack app -------------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(None, description="`xoxb-…` bot token, always needed (secret)")
    slack_app_token: SecretStr | None = Field(None, description="`xapp-…` app-level token for Socket Mode (secret)")
    slack_signing_secret: SecretStr | None = Field(None, description="signing secret for `--http` mode (secret)")
    slack_api_url: str | None = Field(None, description="Slack's Web API base URL (default Slack's own)")
    heliqa_slack_allowed_channels: str | None = Field(
        None, description="comma-separated channel ids allowed to ask (`dm` allows direct messages; default all)"
    )
    heliqa_slack_allowed_users: str | None = Field(
        None, description="comma-separated Slack user ids allowed to ask (default all)"
    )
    # --- heliqa serve --------------------------------------------------------------------------------------
    heliqa_serve_keys: SecretStr | None = Field(
        None, description="`heliqa serve` bearer keys: `key1=org_id1,key2=org_id2` (secret)"
    )

    @field_validator("helicone_timeout", "heliqa_llm_timeout", "heliqa_store_wait")
    @classmethod
    def _seconds(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError("must be a positive number of seconds")
        return value

    @field_validator("heliqa_llm_max_tokens")
    @classmethod
    def _tokens(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive whole number")
        return value

    @field_validator("heliqa_tz")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("is not a time zone; use an IANA name such as America/New_York or UTC") from None
        return value

    @field_validator("helicone_base_url", "openai_base_url", "helicone_dashboard_url", "slack_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.strip()
            _check_url(value, ("http", "https"))
        return value

    @field_validator("heliqa_clickhouse_url")
    @classmethod
    def _clickhouse_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _check_url(value.get_secret_value().strip(), ("http", "https", "chdb"))
            return SecretStr(value.get_secret_value().strip())
        return value

    def secret(self, name: str) -> str | None:
        """The plain value of a field (secret or not), or None when unset."""
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else value

    def secrets(self) -> list[str]:
        """The values to hide in every message and log line: secrets, and passwords inside URLs."""
        found: list[str] = []
        for name, field in type(self).model_fields.items():
            value = self.secret(name)
            if not value:
                continue
            if name in CREDENTIAL_URLS:
                password = _password(value)
                found += _encodings(value, password) if password else []
            elif field.annotation is not None and "SecretStr" in str(field.annotation):
                found.append(value)
        return sorted({s for s in found if len(s) >= MIN_SECRET}, key=len, reverse=True)


def _check_url(url: str, schemes: tuple[str, ...]) -> None:
    """Raise ValueError (never showing a password) unless `url` has one of `schemes`, a host or path, a port."""
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        kinds = " or ".join(["an http(s)", *(s for s in schemes if not s.startswith("http"))])
        raise ValueError(f"is not {kinds} URL")
    try:
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    if parts.scheme != "chdb" and not parts.hostname:
        raise ValueError("names no host")


def _userinfo(url: str) -> str:
    """What precedes a URL's last `@` after its scheme, read leniently (`htp:/user:pw@x`, `http//u:p@x` too)."""
    scheme = re.match(r"[A-Za-z][\w+.-]*:/{0,3}", url)
    rest = url[scheme.end() :] if scheme else url
    return rest.rpartition("@")[0]


def _password(url: str) -> str | None:
    """The password a URL carries (`user:password@`), also in a URL too mistyped to parse."""
    return _userinfo(url).partition(":")[2] or None


def _encodings(url: str, password: str) -> list[str]:
    """The forms a URL's password may be echoed in: as typed, decoded, and Basic auth's base64 of `user:password`."""
    import base64

    user = unquote(_userinfo(url).partition(":")[0])
    pair = f"{user}:{unquote(password)}".encode()
    return [password, unquote(password), base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()]


def shown_url(url: str) -> str:
    """A credential URL as a configuration error may show it: masked when it parses as `scheme://…@host`,
    as typed when it holds no `@`, else only its scheme (a mistyped URL's password is never echoed)."""
    if "@" not in url:
        return url[:200]
    try:
        parts = urlsplit(url)
        sound = url.startswith(f"{parts.scheme}://") and "@" in parts.netloc
        sound = sound and "@" not in parts.path + parts.query + parts.fragment and _password(url) == parts.password
    except ValueError:
        sound = False
    if sound:
        return mask_url(url)[:200]
    scheme = re.match(r"[A-Za-z][\w+.-]{0,15}(?=:)", url)
    return f"(not shown: it may hold a password; scheme {scheme.group()!r})" if scheme else "(not shown)"


def _shown(name: str, value: Any) -> str:
    """A bad value as it may be printed: secrets hidden, URL passwords masked, long values cut."""
    if name in CREDENTIAL_URLS:
        return repr(shown_url(str(value)))
    field = Settings.model_fields.get(name)
    if field is not None and "SecretStr" in str(field.annotation):
        return "(hidden)"
    return repr(str(value)[:200])


def load() -> Settings:
    """Read and validate the environment now; a bad value is a ConfigError naming every bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "?"
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{name.upper()}={_shown(name, item.get('input'))} {message}")
        raise ConfigError(
            "invalid configuration: " + "; ".join(problems), "fix or unset the variable (see the README)"
        ) from None


ENV_NAMES = tuple(name.upper() for name in Settings.model_fields)
_cached: tuple[tuple[str | None, ...], Settings] | None = None


def settings() -> Settings:
    """The validated settings, read again only when one of heliqa's variables changed."""
    global _cached
    snapshot = tuple(os.environ.get(name) for name in ENV_NAMES)
    cached = _cached
    if cached is None or cached[0] != snapshot:
        cached = (snapshot, load())
        _cached = cached
    return cached[1]


def redact(text: str, mask: str = "***") -> str:
    """`text` with passwords in URLs masked, and token shapes and the value of every secret replaced by `mask`."""
    text = _USERINFO.sub(r"\1***@", text)
    try:
        secrets = settings().secrets()
    except ConfigError:  # a bad configuration is reported elsewhere; still hide the raw values
        raw = {name: os.environ.get(name.upper()) for name in Settings.model_fields}
        secrets = Settings.model_construct(**{k: v for k, v in raw.items() if v}).secrets()
    if secrets:  # a secret is hidden whatever its case (an error body may echo it lower-cased)
        text = re.compile("|".join(map(re.escape, secrets)), re.IGNORECASE).sub(mask, text)
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + mask, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + mask, text)
    return _TOKEN.sub(mask, text)


def markdown_table() -> str:
    """The README's configuration table: one row per variable, with its default and meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "" if default is None else f"`{str(default).lower() if isinstance(default, bool) else default}`"
        lines.append(f"| `{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
