"""Helicone's own ClickHouse table (`request_response_rmt`) as a backend: a server or embedded chDB.

`HELIQA_CLICKHOUSE_URL` picks the connection: `http(s)://user:password@host:8123/database` reaches a ClickHouse
server through clickhouse-connect; `chdb:///path/to/dir` (or `chdb://memory`) opens embedded ClickHouse through
chDB's clickhouse-connect driver (`pip install 'heliqa[chdb]'`). Both run the same SQL: the filter tree compiled
by `ClickHouseDialect` with `{name:Type}` parameters, scoped to one organization, over Helicone's schema.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from heliqa.tools import investigate
from heliqa.tools.cache import VOCABULARY_TTL_S
from heliqa.tools.errors import BackendError, ConfigError, NotAvailable
from heliqa.tools.extras import require
from heliqa.tools.query import ScoresRequest
from heliqa.tools.results import USER_IDS_LIMIT, Vocabulary, iso_z
from heliqa.tools.settings import redact, settings
from heliqa.tools.sql import UNITS, SqlDialect, seconds_utc
from heliqa.tools.sqlbackend import DataPlace, SqlBackend, naive_utc

TABLE = "request_response_rmt"

# Helicone's table (its ClickHouse migrations 41 and later), the columns a query or the loader touches.
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    response_id Nullable(UUID),
    response_created_at Nullable(DateTime64(3)),
    latency Nullable(Int64),
    status Int64,
    completion_tokens Nullable(Int64),
    prompt_tokens Nullable(Int64),
    prompt_cache_write_tokens Int64 DEFAULT 0,
    prompt_cache_read_tokens Int64 DEFAULT 0,
    prompt_audio_tokens Int64 DEFAULT 0,
    completion_audio_tokens Int64 DEFAULT 0,
    reasoning_tokens Int64 DEFAULT 0,
    model LowCardinality(String),
    request_id UUID,
    request_created_at DateTime64(3),
    user_id LowCardinality(String),
    organization_id UUID,
    proxy_key_id Nullable(UUID),
    threat Nullable(Bool),
    time_to_first_token Nullable(Int64),
    provider LowCardinality(String),
    target_url Nullable(String),
    country_code Nullable(String),
    cache_enabled Bool DEFAULT false,
    cache_reference_id UUID DEFAULT '00000000-0000-0000-0000-000000000000',
    properties Map(LowCardinality(String), String),
    scores Map(LowCardinality(String), Int64),
    request_body String DEFAULT '',
    response_body String DEFAULT '',
    cost UInt64 DEFAULT 0,
    prompt_id String DEFAULT '',
    prompt_version String DEFAULT '',
    assets Array(String),
    updated_at DateTime64(3, 'UTC') DEFAULT now(),
    request_referrer String DEFAULT '',
    is_passthrough_billing Bool DEFAULT false
) ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(request_created_at)
ORDER BY (organization_id, provider, model, user_id, request_created_at, request_id)"""

# Columns the importer's normalized rows carry that Helicone's table has too (total_tokens, node_id, job_id don't).
LOAD_COLUMNS = (
    "request_id",
    "organization_id",
    "request_created_at",
    "response_created_at",
    "latency",
    "time_to_first_token",
    "status",
    "model",
    "provider",
    "user_id",
    "prompt_tokens",
    "completion_tokens",
    "prompt_cache_read_tokens",
    "prompt_cache_write_tokens",
    "cost",
    "threat",
    "target_url",
    "country_code",
    "cache_enabled",
    "cache_reference_id",
    "prompt_id",
    "prompt_version",
    "request_referrer",
    "is_passthrough_billing",
    "properties",
    "scores",
    "request_body",
    "response_body",
)
_UUID_COLUMNS = ("request_id", "organization_id", "cache_reference_id")
_MISSING_COLUMNS = ("node_id", "job_id")
# Helicone's metrics define total tokens as prompt + completion; the table has no total_tokens column.
_TOTAL_TOKENS = (
    "if(r.prompt_tokens IS NULL AND r.completion_tokens IS NULL, NULL, "
    "coalesce(r.prompt_tokens, 0) + coalesce(r.completion_tokens, 0))"
)


class ClickHouseDialect(SqlDialect):
    """ClickHouse over `request_response_rmt`: `{name:Type}` parameters, native maps, exact quantiles."""

    table = TABLE
    FUNCTIONS = {
        "property_value": "r.properties[{key}]",  # a missing key reads '' in ClickHouse, as Helicone relies on
        "has_property": "mapContains(r.properties, {key})",
        "has_score": "has(r.scores, {key})",
        "score_value": "r.scores[{key}]",  # a missing key reads 0
        "quantile": "quantileExactInclusive({fraction})({expr})",
        "count_if": "countIf({condition})",
        "distinct_count_if": "uniqExactIf({expr}, {condition})",
        "to_text": "toString({expr})",
        "var_samp": "varSamp({expr})",
        "quarter_hour": "toStartOfFifteenMinutes({column})",
    }

    def param(self, value: Any, kind: str = "String") -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        # Instants are UTC whatever the server's own time zone is.
        type_sql = "DateTime('UTC')" if kind == "DateTime" else kind
        return "{" + f"{name}:{type_sql}" + "}"

    def col(self, name: str) -> str:
        if name == "total_tokens":
            return _TOTAL_TOKENS
        if name in _MISSING_COLUMNS:
            raise NotAvailable(f"{name} is not a column of Helicone's {TABLE} table", "filter on another field")
        # UUID columns compare as text so that every text operator behaves as on the embedded store.
        return f"toString(r.{name})" if name in _UUID_COLUMNS else f"r.{name}"

    def org(self, org: str) -> str:
        """The organization scope on the sorting key's first column (index-friendly)."""
        return f"r.organization_id = {self.param(org, 'UUID')}"

    # A score query reads one row per (request, score key) from the scores map.
    score_key_column = "score_key"
    score_value_column = "score_value"

    def source(self, score: bool) -> str:
        if not score:
            return f"{TABLE} AS r"
        return f"{TABLE} AS r ARRAY JOIN mapKeys(r.scores) AS score_key, mapValues(r.scores) AS score_value"

    def scope(self, org: str, score: bool) -> list[str]:
        return [self.org(org)]

    def local_bucket(self, column: str, increment: str, tz_difference: float) -> str:
        """Helicone's variant-B truncation: the local wall-clock bucket start, as a UTC-typed value."""
        shift = self.param(int(tz_difference), "Int64")  # ClickHouse truncates fractional minutes
        return f"toDateTime64(DATE_TRUNC('{UNITS[increment]}', {column} - toIntervalMinute({shift}), 'UTC'), 0, 'UTC')"

    def bucket(self, column: str, increment: str, tz_difference: float) -> str:
        local = self.local_bucket(column, increment, tz_difference)
        return f"addMicroseconds({local}, {self.param(round(tz_difference * 60_000_000), 'Int64')})"


def display_url(url: str) -> str:
    """The connection URL with any password removed, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]  # host[:port] as written, even when the port is malformed
    netloc = f"{parts.username}@{host}" if parts.username else host
    return parts._replace(netloc=netloc).geturl()


def connect(url: str):
    """A clickhouse-connect client for `http(s)://user:pass@host:port/db` or `chdb:///dir` / `chdb://memory`."""
    parts = urlsplit(url)
    shown = display_url(url)
    if parts.scheme == "chdb":
        require("chdb", "embedded ClickHouse (chdb://)")
    else:
        require("clickhouse", "the ClickHouse backend")
    import clickhouse_connect

    if parts.scheme == "chdb":
        import chdb  # noqa: F401  (registers the chdb:// driver with clickhouse-connect)

        path = parts.path if parts.netloc in ("", "localhost") else parts.netloc + parts.path
        if not path or path == "/":
            raise ConfigError(f"{shown} names no directory", "use chdb:///absolute/dir or chdb://memory")
        try:
            return clickhouse_connect.get_client(dsn="chdb://memory" if path == "memory" else f"chdb://{path}")
        except Exception as error:  # noqa: BLE001  (chDB raises plain RuntimeErrors)
            raise BackendError(f"cannot open embedded ClickHouse at {shown}: {_first_line(error, url)}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"HELIQA_CLICKHOUSE_URL has an unsupported scheme: {shown}",
            "use http(s)://user:password@host:8123/database or chdb:///path/to/dir",
        )
    if not parts.hostname:
        raise ConfigError(f"HELIQA_CLICKHOUSE_URL names no host: {shown}")
    try:
        port = parts.port or (8443 if parts.scheme == "https" else 8123)
    except ValueError:
        raise ConfigError(f"HELIQA_CLICKHOUSE_URL has a port that is not a number from 0 to 65535: {shown}") from None
    database = unquote(parts.path.strip("/")) or "default"
    try:
        return clickhouse_connect.get_client(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=database,
            secure=parts.scheme == "https",
            connect_timeout=10,
            send_receive_timeout=60,
            compress=False,
        )
    except Exception as error:  # noqa: BLE001  (connection, auth and HTTP errors all mean "cannot use it")
        raise BackendError(
            f"cannot connect to ClickHouse at {shown}: {_first_line(error, url)}",
            "check HELIQA_CLICKHOUSE_URL, the user's password and that the server is reachable",
        ) from None


def _first_line(error: BaseException, url: str = "") -> str:
    """A short, password-free error text."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    password = urlsplit(url).password if url else None
    if password:
        text = text.replace(password, "***").replace(unquote(password), "***")
    return redact(text)[:400]  # the server may echo the Authorization header, base64 and all


class ClickHouseBackend(SqlBackend):
    """Answers queries from Helicone's `request_response_rmt` (server or chDB), one organization at a time."""

    name = "clickhouse"
    dialect = ClickHouseDialect

    def __init__(self, client: Any, url: str = "", vocabulary_ttl: float = VOCABULARY_TTL_S):
        super().__init__(vocabulary_ttl)
        self.client = client
        self.url = url
        self.where = display_url(url) or "ClickHouse"
        self._lock = threading.Lock()  # one client, possibly shared by threads (serve, Slack)

    @classmethod
    def from_env(cls) -> ClickHouseBackend:
        """Connect to `HELIQA_CLICKHOUSE_URL`."""
        url = settings().secret("heliqa_clickhouse_url") or ""  # validated: scheme, host, numeric port
        if not url:
            raise ConfigError(
                "HELIQA_CLICKHOUSE_URL is not set",
                "e.g. http://heliqa_reader:PASSWORD@clickhouse:8123/default, or chdb:///path/to/dir for embedded",
            )
        return cls(connect(url), url)

    def fetch(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        """Run one read statement (one at a time on the shared client)."""
        try:
            with self._lock:
                return self.client.query(sql, parameters=params).result_rows
        except Exception as error:  # noqa: BLE001  (driver, HTTP and server errors)
            text = _first_line(error, self.url)
            if "UNKNOWN_TABLE" in text or f"{TABLE} does not exist" in text or "doesn't exist" in text:
                raise ConfigError(
                    f"no {TABLE} table at {self.where}", "point HELIQA_CLICKHOUSE_URL at Helicone's database"
                ) from None
            raise BackendError(f"ClickHouse failed: {text}") from None

    # --- organizations ------------------------------------------------------------------------------
    def organizations(self) -> dict[str, int]:
        """Organization id -> number of requests (cached like the vocabulary: a new organization shows up)."""
        return self._vocab.get(None, self._load_organizations)

    def _load_organizations(self) -> dict[str, int]:
        rows = self.fetch(
            f"SELECT toString(organization_id) AS o, count() AS n FROM {TABLE} GROUP BY o ORDER BY n DESC", {}
        )
        return {org: int(n) for org, n in rows}

    def data_place(self) -> DataPlace:
        empty = ConfigError(f"{TABLE} at {self.where} is empty")
        return DataPlace(f"at {self.where}", TABLE, empty, "none (the table is empty)")

    def load_vocabulary(self, org: str) -> Vocabulary:
        """Models, providers, property keys/values, score keys, users and countries of `org`, counted in the table."""
        d = ClickHouseDialect()
        scope = d.org(org)
        vocab = Vocabulary(countries={})
        for kind, target in (("model", vocab.models), ("provider", vocab.providers)):
            sql = f"SELECT r.{kind} AS k, count() AS n FROM {TABLE} AS r WHERE {scope} GROUP BY k ORDER BY n DESC"
            target.update({k: int(n) for k, n in self.fetch(sql, d.params)})
        sql = (
            f"SELECT k, v, count() AS n FROM {TABLE} AS r ARRAY JOIN mapKeys(r.properties) AS k, "
            f"mapValues(r.properties) AS v WHERE {scope} GROUP BY k, v ORDER BY n DESC"
        )
        for key, value, n in self.fetch(sql, d.params):
            vocab.properties.setdefault(key, {})[value] = int(n)
        sql = (
            f"SELECT k, count() AS n FROM {TABLE} AS r ARRAY JOIN mapKeys(r.scores) AS k WHERE {scope} "
            "GROUP BY k ORDER BY n DESC"
        )
        vocab.score_keys.update({k: int(n) for k, n in self.fetch(sql, d.params)})
        sql = (
            f"SELECT r.country_code AS k, count() AS n FROM {TABLE} AS r WHERE {scope} AND "
            "coalesce(r.country_code, '') != '' GROUP BY k ORDER BY n DESC"
        )
        vocab.countries.update({k: int(n) for k, n in self.fetch(sql, d.params)})
        users = self.fetch(f"SELECT uniqExactIf(r.user_id, r.user_id != '') FROM {TABLE} AS r WHERE {scope}", d.params)
        vocab.users = int(users[0][0]) if users else 0
        sql = (
            f"SELECT r.user_id AS k, count() AS n FROM {TABLE} AS r WHERE {scope} AND r.user_id != '' "
            f"GROUP BY k ORDER BY n DESC LIMIT {d.param(USER_IDS_LIMIT, 'UInt64')}"
        )
        vocab.user_ids.update({k: int(n) for k, n in self.fetch(sql, d.params)})
        return vocab

    # --- queries ------------------------------------------------------------------------------------
    def scores(self, request: ScoresRequest, org: str) -> list[dict[str, Any]]:
        """Helicone's scores query (variant B buckets, WITH FILL gap rows) and its `data` rows."""
        d = ClickHouseDialect()
        inc, tzd = request.dbIncrement, request.timeZoneDifference
        unit = UNITS[inc]
        bucket = d.local_bucket("r.request_created_at", inc, tzd)
        where = [d.org(org), d.time_range(request.timeFilter), d.node(request.userFilter)]
        start = d.param(seconds_utc(request.timeFilter.start), "DateTime")
        end = d.param(seconds_utc(request.timeFilter.end), "DateTime")
        sql = (
            # Helicone explodes keys with arrayJoin and looks each value up again; one ARRAY JOIN of keys and
            # values gives the same rows about ten times faster.
            f"SELECT {bucket} AS created_at_trunc, score_key, avg(score_value) AS score_sum FROM {TABLE} AS r "
            "ARRAY JOIN mapKeys(r.scores) AS score_key, mapValues(r.scores) AS score_value "
            f"WHERE {' AND '.join(where)} "
            f"GROUP BY created_at_trunc, score_key ORDER BY created_at_trunc ASC "
            f"WITH FILL FROM {d.local_bucket(start, inc, tzd)} TO {d.local_bucket(end, inc, tzd)} + INTERVAL 1 {unit} "
            f"STEP INTERVAL 1 {unit}"
        )
        # Helicone adds timeZoneDifference to each label afterwards: the UTC instant of the local bucket start.
        shift = timedelta(minutes=tzd)
        rows = sorted((naive_utc(b) + shift, k, float(v)) for b, k, v in self.fetch(sql, d.params))
        return [{"created_at_trunc": iso_z(b, millis=True), "score_key": k, "score_sum": v} for b, k, v in rows]

    def engine(self) -> investigate.Engine:
        return investigate.Engine(
            ClickHouseDialect,
            f"{TABLE} AS r",
            self.fetch,
            lambda d, org: d.org(org),
            " SETTINGS group_by_use_nulls = 1",  # columns outside a grouping set read NULL, as in DuckDB
        )


# --- loading -------------------------------------------------------------------------------------------
def create_table(client: Any) -> None:
    """Create Helicone's `request_response_rmt` table if it does not exist."""
    client.command(DDL)


def _ch_time(value: str | None) -> str | None:
    # The importer writes `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC); DateTime64(3) keeps milliseconds.
    return None if value is None else f"{value[:10]} {value[11:23]}"


def load_rows(client: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows normalized by `tools.importer` into the table (no de-duplication: Helicone's table replaces
    re-inserted request ids on merge); returns how many were sent."""
    import orjson

    lines = []
    for row in rows:
        out = {name: row.get(name) for name in LOAD_COLUMNS}
        out["request_created_at"] = _ch_time(out["request_created_at"])
        out["response_created_at"] = _ch_time(out["response_created_at"])
        lines.append(orjson.dumps(out))
    if not lines:
        return 0
    try:
        client.raw_insert(TABLE, column_names=list(LOAD_COLUMNS), insert_block=b"\n".join(lines), fmt="JSONEachRow")
    except Exception as error:  # noqa: BLE001
        raise BackendError(f"loading into ClickHouse failed: {_first_line(error)}") from None
    return len(lines)


def load_files(client: Any, paths: Iterable[str], default_org: str | None = None) -> tuple[int, list]:
    """Load JSONL(.gz) files the embedded importer reads into the table: (rows loaded, bad lines)."""
    from heliqa.tools.importer import read_lines

    create_table(client)
    loaded, bad = 0, []
    for path in paths:
        for batch in read_lines(path, default_org):
            bad.extend(batch.bad)
            loaded += load_rows(client, batch.rows)
    return loaded, bad
