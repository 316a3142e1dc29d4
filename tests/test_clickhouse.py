"""The ClickHouse backend on Helicone's own schema: the sample loaded into chDB once, compared with the embedded store.

A real ClickHouse server cannot be installed here (Debian ships 18.16, which predates `{name:Type}` query
parameters; no PyPI package ships the server), so the server path is exercised through clickhouse-connect's
real HTTP client against a small HTTP front on 127.0.0.1 that hands each request to the same ClickHouse engine
(chDB). Every query runs the real ClickHouse SQL engine.
"""

from __future__ import annotations

import base64
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("chdb")

from heliqa.tools.clickhouse import ClickHouseBackend, ClickHouseDialect, connect, display_url, load_files  # noqa: E402
from heliqa.tools.errors import BackendError, ConfigError, NotAvailable  # noqa: E402
from heliqa.tools.filters import Branch, all_of, any_of, leaf  # noqa: E402
from heliqa.tools.query import MetricsQuery, ScoresRequest, TimeFilter  # noqa: E402
from tests import reference  # noqa: E402
from tests.conftest import MAIN_ORG, OTHER_ORG  # noqa: E402
from tests.dev_cases import dev_query, ok_cases, reference_ask  # noqa: E402

EMPTY = TimeFilter(start="2020-01-01T00:00:00Z", end="2020-01-02T00:00:00Z")
WEEKS = TimeFilter(start="2026-10-20T00:00:00.000Z", end="2026-11-24T12:00:00.000Z")


@pytest.fixture(scope="session")
def chdb_root(tmp_path_factory):
    """The one chDB directory of this test run (chDB opens a single path per process)."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def chdb_dir(chdb_root, sample_path, sample_rows):
    """A chDB directory holding the sample in Helicone's `request_response_rmt`, loaded once."""
    import clickhouse_connect

    path = chdb_root
    client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    loaded, bad = load_files(client, [str(sample_path)])
    assert (loaded, bad) == (len(sample_rows), [])
    return path


@pytest.fixture(scope="session")
def ch(chdb_dir):
    """The ClickHouse backend on the chDB copy of the sample."""
    return ClickHouseBackend(connect(f"chdb://{chdb_dir}"), f"chdb://{chdb_dir}")


def _close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def assert_same_rows(left, right):
    assert [(r.bucket, r.group) for r in left] == [(r.bucket, r.group) for r in right]
    for a, b in zip(left, right, strict=True):
        assert _close(a.value, b.value), (a, b)


# --- the worded question set's queries ----------------------------------------------------------------
@pytest.mark.parametrize("case", ok_cases(), ids=lambda c: c["id"])
def test_dev_case_same_rows_on_both_backends(case, sample_store, sample_rows, ch):
    query = dev_query(case)
    embedded, clickhouse = sample_store.run(query, MAIN_ORG), ch.run(query, MAIN_ORG)
    assert_same_rows(embedded, clickhouse)
    # ... and both give the reference evaluator's answer; empty buckets may be left out of it.
    want = reference.expected(sample_rows, MAIN_ORG, reference_ask(case))
    assert any(row["value"] for row in want)
    assert reference.differences(want, [r.to_json() for r in clickhouse]) == []


# --- Helicone's scores endpoint ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("increment", "tzd", "user_filter"),
    [
        ("day", 0, "all"),
        ("day", 300, "all"),
        ("hour", -60, "all"),
        ("week", -330, "all"),
        ("month", 0, "all"),
        ("day", 300, leaf("properties", "equals", "support-bot", key="feature")),
        ("day", 0, leaf("model", "contains", "GPT")),
        ("hour", 0, all_of([leaf("status", "equals", 200), leaf("latency", "lt", 3000)])),
    ],
)
def test_scores_endpoint_matches_embedded(increment, tzd, user_filter, sample_store, ch):
    span = WEEKS if increment not in ("hour",) else TimeFilter(start="2026-11-20T03:30:00Z", end="2026-11-22T12:00:00Z")
    request = ScoresRequest(timeFilter=span, userFilter=user_filter, dbIncrement=increment, timeZoneDifference=tzd)
    embedded, clickhouse = sample_store.scores(request, MAIN_ORG), ch.scores(request, MAIN_ORG)
    assert len(embedded) > 3 and any(row["score_key"] for row in embedded)
    assert [(r["created_at_trunc"], r["score_key"]) for r in clickhouse] == [
        (r["created_at_trunc"], r["score_key"]) for r in embedded
    ]
    assert all(_close(a["score_sum"], b["score_sum"]) for a, b in zip(embedded, clickhouse, strict=True))


def test_scores_fill_rows_for_empty_range(ch):
    # No data in 2020: Helicone's WITH FILL gives one `{"score_key": "", "score_sum": 0}` row per local day.
    request = ScoresRequest(
        timeFilter=TimeFilter(start="2020-01-01T00:00:00Z", end="2020-01-03T00:00:00Z"),
        userFilter="all",
        dbIncrement="day",
        timeZoneDifference=300,
    )
    assert ch.scores(request, MAIN_ORG) == [
        {"created_at_trunc": "2019-12-31T05:00:00.000Z", "score_key": "", "score_sum": 0.0},
        {"created_at_trunc": "2020-01-01T05:00:00.000Z", "score_key": "", "score_sum": 0.0},
        {"created_at_trunc": "2020-01-02T05:00:00.000Z", "score_key": "", "score_sum": 0.0},
    ]


# --- every filter operator, on both backends ----------------------------------------------------------
FILTERS = {
    "model equals": leaf("model", "equals", "gpt-4o"),
    "model not-equals": leaf("model", "not-equals", "gpt-4o"),
    "model like": leaf("model", "like", "gpt-4%"),
    "model ilike": leaf("model", "ilike", "GPT-4O%"),
    "model contains": leaf("model", "contains", "Claude"),
    "model not-contains": leaf("model", "not-contains", "mini"),
    "contains keeps wildcards": leaf("model", "contains", "gpt_4"),
    "like with escaped underscore": leaf("model", "like", "gpt\\_4%"),
    "provider": leaf("provider", "equals", "ANTHROPIC"),
    "user_id": leaf("user_id", "equals", "user_0042"),
    "country": leaf("country_code", "equals", "DE"),
    "country __empty__": leaf("country_code", "equals", "__empty__"),
    "country null": leaf("country_code", "equals", "null"),
    "country not null": leaf("country_code", "not-equals", "null"),
    "target_url null": leaf("target_url", "equals", "null"),
    "target_url contains": leaf("target_url", "contains", "anthropic.com"),
    "request_id equals": leaf("request_id", "equals", "<one request of the sample>"),
    "request_id not a uuid": leaf("request_id", "equals", "not-a-uuid"),
    "latency gte": leaf("latency", "gte", 5000),
    "latency lt float": leaf("latency", "lt", 999.5),
    "ttft gt": leaf("time_to_first_token", "gt", 800),
    "status equals": leaf("status", "equals", 429),
    "status not-equals": leaf("status", "not-equals", 200),
    "prompt_tokens lte": leaf("prompt_tokens", "lte", 100),
    "total_tokens gt": leaf("total_tokens", "gt", 1500),
    "cost gte": leaf("cost", "gte", 0.01),
    "cost lt": leaf("cost", "lt", 0.0005),
    "threat": leaf("threat", "equals", True),
    "cached false": leaf("cached", "equals", False),
    "request_created_at gte": leaf("request_created_at", "gte", "2026-11-20T06:30:00Z"),
    "response_created_at lt": leaf("response_created_at", "lt", "2026-11-01T00:00:00.999Z"),
    "property equals": leaf("properties", "equals", "production", key="environment"),
    "property not-equals (missing reads '')": leaf("properties", "not-equals", "production", key="environment"),
    "property contains": leaf("properties", "contains", "BOT", key="feature"),
    "property not-contains": leaf("properties", "not-contains", "bot", key="feature"),
    "property like": leaf("properties", "like", "sum%", key="feature"),
    "property missing key": leaf("properties", "equals", "", key="no_such_key"),
    "property_key": leaf("property_key", "equals", "customer_tier"),
    "score equals": leaf("scores", "equals", "1", key="is_correct-hcone-bool"),
    "score not-equals (has key)": leaf("scores", "not-equals", "0", key="is_correct-hcone-bool"),
    "feedback true": leaf("helicone-score-feedback", "equals", True),
    "feedback false (no feedback too)": leaf("helicone-score-feedback", "equals", False),
    "body contains": leaf("request_body", "contains", "refund"),
    "response_body not-contains": leaf("response_body", "not-contains", "sure"),
    "or branch": any_of([leaf("model", "equals", "gpt-4"), leaf("status", "gte", 500)]),
    "nested branch": Branch(
        left=any_of([leaf("provider", "equals", "OPENAI"), leaf("provider", "equals", "GOOGLE")]),
        operator="and",
        right=Branch(left=leaf("latency", "gt", 2000), operator="or", right=leaf("country_code", "equals", "US")),
    ),
    "injection in value": leaf("model", "equals", "gpt-4'; DROP TABLE request_response_rmt; --"),
    "injection in key": leaf("properties", "equals", "x", key="a'] OR 1=1 OR r.properties['b"),
}


@pytest.fixture(scope="session")
def filters(sample_rows):
    """FILTERS with "request_id equals" naming one request of the sample inside WEEKS."""
    one = next(r for r in sample_rows if r["organization_id"] == MAIN_ORG and r["request_created_at"] > "2026-11-20")
    return {**FILTERS, "request_id equals": leaf("request_id", "equals", one["request_id"])}


@pytest.mark.parametrize("name", FILTERS)
def test_filter_same_on_both_backends(name, filters, sample_store, ch):
    node = filters[name]
    counts = MetricsQuery(measure="requests", timeFilter=WEEKS, userFilter=node, groupBy="model")
    latency = MetricsQuery(measure="latency", aggregation="p90", timeFilter=WEEKS, userFilter=node, dbIncrement="week")
    for query in (counts, latency):
        assert_same_rows(sample_store.run(query, MAIN_ORG), ch.run(query, MAIN_ORG))


def test_filters_discriminate(filters, ch):
    # Guard against a comparison that passes because everything is empty or everything matches.
    totals = {}
    for name, node in filters.items():
        rows = ch.run(MetricsQuery(measure="requests", timeFilter=WEEKS, userFilter=node), MAIN_ORG)
        totals[name] = rows[0].value if rows else 0
    everything = ch.run(MetricsQuery(measure="requests", timeFilter=WEEKS), MAIN_ORG)[0].value
    assert len({v for v in totals.values()}) > 25
    assert sum(1 for v in totals.values() if 0 < v < everything) > 30
    assert totals["injection in value"] == 0 and totals["request_id equals"] == 1, totals


@pytest.mark.parametrize(
    "query",
    [
        MetricsQuery(measure="cost", groupBy="user", top=5, timeFilter=WEEKS, dbIncrement="week"),
        MetricsQuery(measure="users", timeFilter=WEEKS, dbIncrement="day", timeZoneDifference=-330),
        MetricsQuery(measure="ttft", aggregation="p50", groupBy="provider", timeFilter=WEEKS),
        MetricsQuery(measure="score", timeFilter=WEEKS, dbIncrement="week", timeZoneDifference=300),
        MetricsQuery(measure="score", scoreKey="accuracy", aggregation="p75", groupBy="model", timeFilter=WEEKS),
        MetricsQuery(measure="errors", groupBy="status", timeFilter=WEEKS, dbIncrement="week"),
        MetricsQuery(measure="error_rate", groupBy="property:environment", timeFilter=WEEKS),
        MetricsQuery(measure="threats", timeFilter=WEEKS, dbIncrement="month"),
        MetricsQuery(measure="completion_tokens", aggregation="max", groupBy="country", timeFilter=WEEKS),
        MetricsQuery(measure="latency", timeFilter=WEEKS, dbIncrement="hour", timeZoneDifference=90.5),
        MetricsQuery(measure="latency", timeFilter=EMPTY),
    ],
    ids=lambda q: f"{q.measure}-{q.agg}-{q.group}-{q.dbIncrement}",
)
def test_measures_same_on_both_backends(query, sample_store, ch):
    assert_same_rows(sample_store.run(query, MAIN_ORG), ch.run(query, MAIN_ORG))


# --- organizations, vocabulary, errors -----------------------------------------------------------------
def test_org_scoping_and_resolution(sample_store, ch):
    assert ch.organizations() == sample_store.organizations()
    with pytest.raises(ConfigError, match="2 organizations"):
        ch.resolve_org(None)
    with pytest.raises(ConfigError, match="no data"):
        ch.resolve_org("00000000-0000-0000-0000-0000000000ff")
    query = MetricsQuery(measure="requests", timeFilter=WEEKS)
    main, other = ch.run(query, MAIN_ORG)[0].value, ch.run(query, OTHER_ORG)[0].value
    assert main != other and other == sample_store.run(query, OTHER_ORG)[0].value


def test_vocabulary_matches_embedded(sample_store, ch):
    for org in (MAIN_ORG, OTHER_ORG):
        assert ch.vocabulary(org).to_json() == sample_store.vocabulary(org).to_json()


def test_sql_is_parameterized_and_uses_clickhouse_functions():
    d = ClickHouseDialect()
    node = all_of([leaf("model", "equals", "gpt-4'--"), leaf("properties", "equals", "v", key="k'x")])
    query = MetricsQuery(measure="latency", aggregation="p90", timeFilter=WEEKS, userFilter=node)
    value, _ = d.value_expr(query)
    sql = d.node(node) + value
    assert "quantileExactInclusive" in sql and "gpt-4" not in sql and "k'x" not in sql
    assert set(d.params.values()) >= {"gpt-4'--", "k'x", "v", 0.9}
    assert "r.model = {p1:String}" in sql and "r.properties[{p2:String}] = {p3:String}" in sql


def test_columns_helicone_lacks_are_refused(ch):
    query = MetricsQuery(measure="requests", timeFilter=WEEKS, userFilter=leaf("node_id", "equals", "n1"))
    with pytest.raises(NotAvailable, match="node_id"):
        ch.run(query, MAIN_ORG)


def test_configuration_errors(monkeypatch):
    monkeypatch.delenv("HELIQA_CLICKHOUSE_URL", raising=False)
    with pytest.raises(ConfigError, match="HELIQA_CLICKHOUSE_URL is not set"):
        ClickHouseBackend.from_env()
    with pytest.raises(ConfigError, match="unsupported scheme"):
        connect("mysql://u:secretpw@host/db")
    with pytest.raises(BackendError) as caught:
        connect("http://reader:secretpw@127.0.0.1:1/default")  # nothing listens on port 1
    assert "secretpw" not in str(caught.value) and "reader@127.0.0.1:1" in str(caught.value)
    assert display_url("https://u:p%40ss@h:8443/db") == "https://u@h:8443/db"


# --- the server path: clickhouse-connect over HTTP ------------------------------------------------------
@pytest.fixture(scope="session")
def http_front(chdb_dir):
    """ClickHouse's HTTP interface (the parts clickhouse-connect uses) on 127.0.0.1, over the same engine."""
    import chdb

    engine, lock = chdb.connect(str(chdb_dir)), threading.Lock()
    secret = "Basic " + base64.b64encode(b"heliqa_reader:pa ss@word").decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            parts = urlsplit(self.path)
            args = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.headers.get("Authorization") != secret:
                denied = b"Code: 516. DB::Exception: heliqa_reader: Authentication failed. (AUTHENTICATION_FAILED)\n"
                return self._send(401, denied)
            params = {k.removeprefix("param_"): v for k, v in args.items() if k.startswith("param_")}
            try:
                with lock:
                    data = engine.query((args.get("query", "") + "\n" + body).strip(), "TabSeparated", params=params)
                return self._send(200, data.bytes())
            except Exception as error:  # noqa: BLE001  (the engine's error text goes back as ClickHouse's does)
                return self._send(500, f"Code: 47. DB::Exception: {error}\n".encode())

        do_GET = do_POST

        def _send(self, status, data):
            self.send_response(status)
            if status != 200:
                self.send_header("X-ClickHouse-Exception-Code", data.split(b".")[0].split()[-1].decode())
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_server_path_over_http_gives_the_same_rows(http_front, ch, monkeypatch):
    monkeypatch.setenv("HELIQA_CLICKHOUSE_URL", f"http://heliqa_reader:pa%20ss%40word@{http_front}/default")
    remote = ClickHouseBackend.from_env()
    assert remote.where == f"http://heliqa_reader@{http_front}/default"
    assert remote.resolve_org(MAIN_ORG) == MAIN_ORG
    for case in ok_cases()[:6]:
        query = dev_query(case)
        assert_same_rows(remote.run(query, MAIN_ORG), ch.run(query, MAIN_ORG))
    request = ScoresRequest(timeFilter=WEEKS, userFilter="all", dbIncrement="week", timeZoneDifference=300)
    assert remote.scores(request, MAIN_ORG) == ch.scores(request, MAIN_ORG)


def test_server_path_wrong_password_is_a_clear_error(http_front):
    with pytest.raises(BackendError) as caught:
        connect(f"http://heliqa_reader:wrongpass@{http_front}/default")
    assert "Authentication failed" in str(caught.value) and "wrongpass" not in str(caught.value)


# --- the vocabulary cache --------------------------------------------------------------------------------
def test_a_new_model_is_known_once_the_vocabulary_ttl_passes(chdb_root):
    """A long-running app (Slack) sees a model first used after it started, once the cache's TTL has passed."""
    import clickhouse_connect

    from heliqa.tools.clickhouse import create_table, load_rows
    from heliqa.tools.importer import normalize

    clickhouse_connect.get_client(dsn=f"chdb://{chdb_root}").command("CREATE DATABASE IF NOT EXISTS vocabulary_ttl")
    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_root}", database="vocabulary_ttl")
    create_table(client)
    org = "cccccccc-0000-4000-8000-000000000003"

    def request(n: int, model: str) -> dict:
        row = {"request_id": f"dddddddd-0000-4000-8000-{n:012d}", "organization_id": org, "model": model}
        return normalize({**row, "request_created_at": "2026-11-10T10:00:00.000Z", "status": 200}, None)

    load_rows(client, [request(1, "gpt-4o"), request(2, "gpt-4o")])
    clock = [0.0]
    backend = ClickHouseBackend(client, "chdb://vocabulary_ttl", vocabulary_ttl=60)
    backend._vocab.clock = lambda: clock[0]
    assert backend.vocabulary(org).models == {"gpt-4o": 2}
    assert backend.resolve_org(None) == org

    load_rows(client, [request(3, "claude-3-7-sonnet")])
    clock[0] = 59.0  # within the TTL: the cached names still answer, without a query
    assert backend.vocabulary(org).models == {"gpt-4o": 2}
    clock[0] = 61.0
    assert backend.vocabulary(org).models == {"gpt-4o": 2, "claude-3-7-sonnet": 1}


# --- heliqa watch on ClickHouse ------------------------------------------------------------------------
def test_watch_backtest_same_incidents_on_both_backends(sample_store, ch):
    """The default monitors replayed over 10 days open, end and explain the same incidents on ClickHouse as on
    the embedded store (its quarter hours, score variances and bucketed windows included)."""
    from datetime import datetime, timedelta

    from heliqa.agent.watch import backtest
    from heliqa.tools.monitors import default_monitors

    end = datetime(2026, 11, 24, 12)
    monitors = default_monitors(sample_store.vocabulary(MAIN_ORG))
    here = backtest(sample_store, MAIN_ORG, monitors, end - timedelta(days=10), end, timedelta(hours=1))
    there = backtest(ch, MAIN_ORG, monitors, end - timedelta(days=10), end, timedelta(hours=1))
    assert len(here) >= 5  # the sample's storm, slow model and spend, overall and split

    def seen(incidents):
        return [
            (i.monitor, i.group, i.start, i.opened, i.end, [(d["dimension"], d["value"]) for d in i.drivers])
            for i in incidents
        ]

    assert seen(there) == seen(here)


def test_watch_score_checks_and_early_slices_same_on_both_backends(sample_store, ch):
    """A score monitor's checks every 15 minutes (window values, baseline with the requests' variance, the early
    half hours) agree between the engines."""
    from datetime import datetime, timedelta

    from heliqa.agent.watch import checks, early_values, evaluation_instants
    from heliqa.tools.monitors import Monitor

    m = Monitor(name="s", measure="score", score_key="accuracy", by="model", min_requests=1)
    start = datetime(2026, 11, 17, 0)
    instants = evaluation_instants(start, start + timedelta(days=1), timedelta(minutes=15))
    slices, theirs = early_values(sample_store, MAIN_ORG, m, instants), early_values(ch, MAIN_ORG, m, instants)
    assert slices and {g: s.keys() for g, s in slices.items()} == {g: s.keys() for g, s in theirs.items()}
    for group, by_time in slices.items():
        for t, (value, n) in by_time.items():
            assert n == theirs[group][t][1] and _close(value, theirs[group][t][0]), (group, t)
    here, there = checks(sample_store, MAIN_ORG, m, instants), checks(ch, MAIN_ORG, m, instants)
    assert here.keys() == there.keys()
    for group in here:
        for a, b in zip(here[group], there[group], strict=True):
            assert (a.at, a.requests, a.opens, a.firing) == (b.at, b.requests, b.opens, b.firing)
            assert _close(a.value, b.value, 1e-9) and _close(a.spreads, b.spreads, 1e-6)
