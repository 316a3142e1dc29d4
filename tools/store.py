"""The embedded analytics store: one DuckDB file under the user's data dir, scoped per organization."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from heliqa.tools import investigate
from heliqa.tools.errors import BackendError, ConfigError
from heliqa.tools.importer import COLUMNS, BadLine, file_size, read_lines
from heliqa.tools.lease import Lease
from heliqa.tools.query import ScoresRequest
from heliqa.tools.results import USER_IDS_LIMIT, Vocabulary, iso_z
from heliqa.tools.settings import settings
from heliqa.tools.sql import UNITS, SqlDialect, seconds_utc
from heliqa.tools.sqlbackend import DataPlace, SqlBackend
from heliqa.tools.timebuckets import bucket_labels

try:
    import orjson

    def _dumps(row: dict) -> bytes:
        return orjson.dumps(row)
except ImportError:  # pragma: no cover
    import json

    def _dumps(row: dict) -> bytes:
        return json.dumps(row).encode()


def default_home() -> Path:
    """`HELIQA_HOME`, else `$XDG_DATA_HOME/heliqa`, else `~/.local/share/heliqa`."""
    s = settings()
    if s.heliqa_home:
        return s.heliqa_home.expanduser()
    return (s.xdg_data_home or Path.home() / ".local" / "share") / "heliqa"


class DuckDialect(SqlDialect):
    """DuckDB: `$name` parameters, MAP subscripts, exact `quantile_cont`."""

    like_escape = " ESCAPE '\\'"
    FUNCTIONS = {
        "property_value": "coalesce(r.properties[{key}], '')",
        "has_property": "map_contains(r.properties, {key})",
        "has_score": "map_contains(r.scores, {key})",
        "score_value": "coalesce(r.scores[{key}], 0)",
        "quantile": "quantile_cont({expr}, {fraction})",
        "count_if": "count(*) FILTER (WHERE {condition})",
        "distinct_count_if": "count(DISTINCT {expr}) FILTER (WHERE {condition})",
        "to_text": "CAST({expr} AS VARCHAR)",
        "var_samp": "var_samp({expr})",
        "quarter_hour": "time_bucket(INTERVAL 15 MINUTE, {column})",
    }

    def _compare(self, lhs: str, operator: str, rhs: str) -> str:
        # ESCAPE costs DuckDB's LIKE ~1.7x and only matters when the pattern holds a backslash.
        value = self.params.get(rhs.removeprefix("$"))
        self.like_escape = type(self).like_escape if not isinstance(value, str) or "\\" in value else ""
        return super()._compare(lhs, operator, rhs)

    def param(self, value: Any, kind: str = "String") -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def source(self, score: bool) -> str:
        # scores live in their own narrow table, one row per (request, score key)
        join = "r.organization_id = s.organization_id AND r.request_id = s.request_id"
        return f"scores s JOIN requests r ON {join}" if score else "requests r"

    def time_column(self, score: bool) -> str:
        return "s.request_created_at" if score else "r.request_created_at"

    def scope(self, org: str, score: bool) -> list[str]:
        if not score:
            return super().scope(org, score)
        return [f"s.organization_id = {self.param(org)}", f"r.organization_id = {self.param(org)}"]

    def bucket(self, column: str, increment: str, tz_difference: float) -> str:
        if tz_difference == 0:  # UTC: skip the interval arithmetic, a third of a bucketed query's time
            return f"date_trunc('{UNITS[increment]}', {column})"
        shift = self.param(int(tz_difference), "Int64")  # ClickHouse truncates fractional minutes
        label = self.param(round(tz_difference * 60_000_000), "Int64")
        return f"date_trunc('{UNITS[increment]}', {column} - to_minutes({shift})) + to_microseconds({label})"


_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS requests (" + ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items()) + ")",
    # One row per (request, score key): the scores query scans this narrow table instead of a MAP column.
    "CREATE TABLE IF NOT EXISTS scores (organization_id VARCHAR, request_created_at TIMESTAMP, "
    "request_id VARCHAR, score_key VARCHAR, value BIGINT)",
    "CREATE TABLE IF NOT EXISTS vocabulary (organization_id VARCHAR, kind VARCHAR, name VARCHAR, "
    "value VARCHAR, n BIGINT)",
    # Score sums and counts per (organization, minute, key): the scores query without a user filter reads these
    # (a few hundred thousand rows) instead of every score row; minutes cut by the range's edges come from `scores`.
    "CREATE TABLE IF NOT EXISTS score_minutes (organization_id VARCHAR, minute TIMESTAMP, score_key VARCHAR, "
    "total HUGEINT, n BIGINT)",
    # Rows appended since `requests` was last clustered; a store from before this table counts all its rows.
    "CREATE TABLE IF NOT EXISTS layout AS SELECT count(*)::BIGINT AS unclustered FROM requests",
    # Requests per (organization, user): lets a batch update the vocabulary's top users and user count in its own
    # transaction without rescanning `requests`.
    "CREATE TABLE IF NOT EXISTS user_counts (organization_id VARCHAR, user_id VARCHAR, n BIGINT)",
]
# `requests` is kept in this order so a model filter and a time range both prune row groups: measured on
# 10M rows, p90-by-day for one model 38 -> 24 ms and a body search 1.08 -> 0.87 s against time order alone.
CLUSTER_ORDER = "organization_id, model, request_created_at"
RECLUSTER_SHARE = 0.10  # re-sort the whole table once this share of it was appended since the last time
_SCORE_MINUTES = (
    "INSERT INTO score_minutes SELECT organization_id, date_trunc('minute', request_created_at), score_key, "
    "sum(value), count(*) FROM {source} GROUP BY 1, 2, 3 ORDER BY 1, 2"
)


_STATEMENT_QUOTE = re.compile(r"\n\s*LINE \d+:")
_STAGING = ".import-"  # staging files are <store>.import-XXXX.jsonl


def _counts(requests: str, score_keys: str) -> str:
    """(organization_id, kind, name, value, n) of the vocabulary kinds that add up, over these rows."""
    return (
        f"SELECT organization_id, 'model' AS kind, model AS name, NULL::VARCHAR AS value, count(*) AS n "
        f"FROM {requests} GROUP BY 1, 3 "
        f"UNION ALL SELECT organization_id, 'provider', provider, NULL, count(*) FROM {requests} GROUP BY 1, 3 "
        "UNION ALL SELECT organization_id, 'property', k, v, count(*) FROM (SELECT organization_id, "
        f"unnest(map_keys(properties)) AS k, unnest(map_values(properties)) AS v FROM {requests}) GROUP BY 1, 3, 4 "
        f"UNION ALL SELECT organization_id, 'score', score_key, NULL, count(*) FROM {score_keys} GROUP BY 1, 3 "
        f"UNION ALL SELECT organization_id, 'country', country_code, NULL, count(*) FROM {requests} "
        "WHERE coalesce(country_code, '') != '' GROUP BY 1, 3"
    )


_USER_COUNTS = "SELECT organization_id, user_id, count(*) AS n FROM {requests} WHERE user_id != '' GROUP BY 1, 2"


def _user_vocabulary(con: duckdb.DuckDBPyConnection, orgs: str) -> None:
    """The top users (by requests) and the user count of these organizations, from user_counts."""
    con.execute(f"DELETE FROM vocabulary WHERE kind IN ('user', 'users') AND organization_id IN ({orgs})")
    con.execute(
        "INSERT INTO vocabulary SELECT organization_id, 'user', user_id, NULL, n FROM user_counts "
        f"WHERE organization_id IN ({orgs}) "
        "QUALIFY row_number() OVER (PARTITION BY organization_id ORDER BY n DESC, user_id) <= $limit",
        {"limit": USER_IDS_LIMIT},
    )
    con.execute(
        "INSERT INTO vocabulary SELECT organization_id, 'users', NULL, NULL, count(*) FROM user_counts "
        f"WHERE organization_id IN ({orgs}) GROUP BY 1"
    )


def _derive_vocabulary(con: duckdb.DuckDBPyConnection) -> None:
    """The whole vocabulary and user_counts again from `requests` and `scores` (inside the caller's transaction)."""
    con.execute("DELETE FROM vocabulary")
    con.execute(f"INSERT INTO vocabulary {_counts('requests', 'scores')}")
    con.execute("DELETE FROM user_counts")
    con.execute(f"INSERT INTO user_counts {_USER_COUNTS.format(requests='requests')}")
    _user_vocabulary(con, "SELECT organization_id FROM user_counts")


_SAME_KEY = (
    "{t}.organization_id = d.organization_id AND {t}.kind = d.kind AND {t}.name IS NOT DISTINCT FROM d.name "
    "AND {t}.value IS NOT DISTINCT FROM d.value"
)


def _count_vocabulary(con: duckdb.DuckDBPyConnection) -> None:
    """Add the new rows in temp table `staging` to the vocabulary and user_counts (inside the batch's transaction)."""
    scored = "(SELECT organization_id, unnest(map_keys(scores)) AS score_key FROM staging)"
    con.execute(f"CREATE OR REPLACE TEMP TABLE delta AS {_counts('staging', scored)}")
    con.execute(f"UPDATE vocabulary SET n = vocabulary.n + d.n FROM delta d WHERE {_SAME_KEY.format(t='vocabulary')}")
    con.execute(
        f"INSERT INTO vocabulary SELECT * FROM delta d WHERE NOT EXISTS (SELECT 1 FROM vocabulary v "
        f"WHERE {_SAME_KEY.format(t='v')})"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE delta AS {_USER_COUNTS.format(requests='staging')}")
    same_user = "{t}.organization_id = d.organization_id AND {t}.user_id = d.user_id"
    con.execute(
        f"UPDATE user_counts SET n = user_counts.n + d.n FROM delta d WHERE {same_user.format(t='user_counts')}"
    )
    con.execute(
        f"INSERT INTO user_counts SELECT * FROM delta d WHERE NOT EXISTS (SELECT 1 FROM user_counts u "
        f"WHERE {same_user.format(t='u')})"
    )
    _user_vocabulary(con, "SELECT organization_id FROM delta")
    con.execute("DROP TABLE delta")


def _one_id_per_organization(con: duckdb.DuckDBPyConnection) -> None:
    """Drop a uniqueness on `request_id` alone (a store built that way), so two organizations may share an id."""
    for (name,) in con.execute(
        "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'requests' AND is_unique "
        "AND replace(expressions, ' ', '') IN ('[request_id]', '[\"request_id\"]')"
    ).fetchall():
        con.execute(f'DROP INDEX "{name}"')
    if con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'requests' "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') AND constraint_column_names = ['request_id']"
    ).fetchone()[0]:
        # DuckDB cannot drop a key constraint: the table is copied without it (and without NOT NULLs or defaults).
        con.execute("CREATE TABLE requests_keyless AS SELECT * FROM requests")
        con.execute("DROP TABLE requests")
        con.execute("ALTER TABLE requests_keyless RENAME TO requests")


def _store_failure(what: str, error: BaseException, path: Path) -> BackendError:
    """One message for a failed write: a full disk and other I/O errors say what happened and what is kept."""
    text = str(error)
    kept = "every batch committed before the failure is kept and the store is consistent; run the command again"
    if getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in text:
        return BackendError(f"{what} failed: the disk holding {path.parent} is full", f"free some space; {kept}")
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    # A failed write can surface as DuckDB's IOException, a fatal error, or a commit's TransactionException.
    if isinstance(error, (OSError, duckdb.IOException, duckdb.FatalException)) or "Could not write" in text:
        return BackendError(f"{what} failed: cannot write {path}: {first}", kept)
    return BackendError(f"{what} failed: {first}")


@dataclass
class ImportReport:
    """What an import did."""

    files: list[str] = field(default_factory=list)
    lines: int = 0
    read: int = 0
    added: int = 0
    bad: list[BadLine] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.read - self.added


class Store(SqlBackend):
    """A DuckDB file holding request logs; every query is scoped to one organization."""

    name = "embedded"
    dialect = DuckDialect

    def __init__(self, path: str | Path | None = None, read_only: bool = False):
        super().__init__()
        self.path = Path(path) if path else default_home() / "heliqa.duckdb"
        self.read_only = read_only  # this Store never writes, and never creates the store
        # Every Store on this file in this process shares one connection, given up whenever another process
        # writes (tools/lease.py); its reads run on per-thread cursors.
        self._lease = Lease.of(self.path)
        self._lease.on_open(self._forget)
        self._created = False
        self._score_minutes: bool | None = None

    # --- connection -----------------------------------------------------------------------------
    def _forget(self) -> None:
        """The file was reopened, so another process may have written: cached metadata is reloaded."""
        self._vocab.clear()
        self._score_minutes = None

    def _require(self) -> None:
        """A read-only Store needs the file; a writable one creates it (and its tables) on first use."""
        if self.read_only:
            if not self.path.exists():
                raise ConfigError(
                    f"no heliqa store at {self.path}",
                    "load data with `heliqa import FILE...` or `heliqa demo` (HELIQA_HOME moves the store)",
                )
        elif not self._created:
            with self._writing("creating the store"):
                pass  # _writing creates the tables and brings an older store up to date
            self._created = True

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """This process's connection to the store (opened if needed), for scripts that run their own SQL.

        Unmanaged: another process's writer closes it between statements when it needs the file.
        """
        self._require()
        return self._lease.connection(writable=not self.read_only)

    def close(self) -> None:
        """Close this process's connection to the store after the reads in flight (a later call reopens it)."""
        self._lease.release()

    def fetch(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        """Run one read statement on this thread's cursor (DuckDB cursors of one connection read concurrently)."""
        if not self._lease.is_open:
            self._require()
        try:
            with self._lease.reading() as cursor:
                return cursor.execute(sql, params).fetchall()
        except duckdb.CatalogException:
            raise ConfigError("the store is empty", "load data with `heliqa import FILE...` or `heliqa demo`") from None
        except duckdb.Error as error:
            # DuckDB quotes the statement around the failing spot ("LINE 1: ..."): internals, kept out of answers
            reason = _STATEMENT_QUOTE.split(str(error), 1)[0].strip()
            raise BackendError(f"the embedded store failed: {reason}") from None

    # --- organizations ----------------------------------------------------------------------------
    def organizations(self) -> dict[str, int]:
        """Organization id -> number of stored requests."""
        rows = self.fetch(
            "SELECT organization_id, sum(n) FROM vocabulary WHERE kind = 'model' GROUP BY 1 ORDER BY 2 DESC", {}
        )
        return {org: int(n) for org, n in rows}

    def data_place(self) -> DataPlace:
        empty = ConfigError("the store is empty", "load data with `heliqa import FILE...` or `heliqa demo`")
        return DataPlace(f"in {self.path}", "the store", empty, "none (the store is empty)")

    # --- import ---------------------------------------------------------------------------------------
    def import_files(
        self,
        paths: Iterable[str],
        default_org: str | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        batch_rows: int = 50_000,
    ) -> ImportReport:
        """Load JSONL(.gz) files; idempotent on (organization, request id); bad lines are reported, the rest still load.

        Each batch commits alone, with the vocabulary and organization counts it changes: a killed import
        keeps the batches before it, and running it again adds the rest.
        """
        report = ImportReport()
        for path in paths:
            report.files.append(path)
            total = file_size(path)
            tick = (lambda done, p=path, t=total: progress(p, done, t)) if progress else None
            for batch in read_lines(path, default_org, batch=batch_rows, progress=tick):
                report.lines += batch.lines
                report.bad.extend(batch.bad)
                report.read += len(batch.rows)
                report.added += self._insert(batch.rows)
        if report.added:
            self.cluster(only_if_due=True)
        return report

    def cluster(self, only_if_due: bool = False) -> bool:
        """Rewrite `requests` in CLUSTER_ORDER (when due: once RECLUSTER_SHARE of it was appended); True if it ran."""
        with self._writing("re-clustering the store") as con:
            unclustered, total = con.execute(
                "SELECT unclustered, (SELECT count(*) FROM requests) FROM layout"
            ).fetchone()
            if unclustered == 0 or (only_if_due and unclustered < RECLUSTER_SHARE * total):
                return False
            con.execute(f"CREATE TABLE requests_clustered AS SELECT * FROM requests ORDER BY {CLUSTER_ORDER}")
            con.execute("DROP TABLE requests")
            con.execute("ALTER TABLE requests_clustered RENAME TO requests")
            con.execute("UPDATE layout SET unclustered = 0")
        return True

    @contextmanager
    def _writing(self, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction, alone among processes (tools/lease.py), on a store whose derived tables agree.

        Any error rolls it back; DuckDB errors, a full disk and other I/O errors become one BackendError.
        """
        if self.read_only:
            raise ConfigError(f"{what}: this store was opened read-only")
        try:
            with self._lease.writing(what) as con:
                self._remove_stale_staging()
                con.execute("BEGIN")
                try:
                    self._prepare(con)
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    try:
                        con.execute("ROLLBACK")
                    except duckdb.Error:
                        pass  # after a fatal error (disk full) DuckDB already aborted it; the lease drops the file
                    raise
        except (duckdb.Error, OSError) as error:
            raise _store_failure(what, error, self.path) from None
        self._created = True
        self._forget()

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create missing tables, and re-derive what an older heliqa or a crash left out of agreement."""
        for statement in _SCHEMA:
            con.execute(statement)
        _one_id_per_organization(con)
        # A store written before score_minutes existed gets it once, from its scores.
        if con.execute("SELECT NOT EXISTS (FROM score_minutes) AND EXISTS (FROM scores)").fetchone()[0]:
            con.execute(_SCORE_MINUTES.format(source="scores"))
        # Cheap checks: the models' counts add up to the rows, the user count to the counted users. An import by
        # an older heliqa killed between its batch and its vocabulary refresh fails the first.
        if con.execute(
            "SELECT (SELECT count(*) FROM requests) != (SELECT coalesce(sum(n), 0) FROM vocabulary "
            "WHERE kind = 'model') OR (SELECT count(*) FROM user_counts) != (SELECT coalesce(sum(n), 0) "
            "FROM vocabulary WHERE kind = 'users') OR (NOT EXISTS (FROM vocabulary WHERE kind = 'country') "
            "AND EXISTS (FROM requests WHERE coalesce(country_code, '') != ''))"
        ).fetchone()[0]:
            _derive_vocabulary(con)

    def add_rows(self, raw: Iterable[dict[str, Any]], default_org: str | None = None) -> int:
        """Insert already-parsed request objects (normalized like imported lines); returns how many were new."""
        from heliqa.tools.importer import normalize

        return self.add_normalized([normalize(r, default_org) for r in raw])

    def add_normalized(self, rows: list[dict[str, Any]]) -> int:
        """Insert rows `tools.importer.normalize` already returned (one transaction); returns how many were new."""
        added = self._insert(rows)
        if added:
            self.cluster(only_if_due=True)
        return added

    def _insert(self, rows: list[dict[str, Any]]) -> int:
        """One transaction: the new rows, their scores and per-minute sums, and the vocabulary counts they change."""
        if not rows:
            return 0
        columns = "{" + ", ".join(f"'{n}': '{t}'" for n, t in COLUMNS.items()) + "}"
        with self._staged(rows) as (staging, largest), self._writing("import") as con:
            # maximum_object_size covers the batch's longest line (DuckDB's default, 16 MB, failed the batch).
            con.execute(
                "CREATE OR REPLACE TEMP TABLE staging AS SELECT * FROM read_json($path, "
                f"format='newline_delimited', columns={columns}, maximum_object_size={largest + 1}) "
                "QUALIFY row_number() OVER (PARTITION BY organization_id, request_id) = 1",
                {"path": str(staging)},
            )
            # A request is (organization, request id): another organization's row with the same id is not this one.
            con.execute(
                "DELETE FROM staging WHERE EXISTS (SELECT 1 FROM requests r "
                "WHERE r.organization_id = staging.organization_id AND r.request_id = staging.request_id)"
            )
            added = con.execute("SELECT count(*) FROM staging").fetchone()[0]
            con.execute(f"INSERT INTO requests SELECT * FROM staging ORDER BY {CLUSTER_ORDER}")
            con.execute("UPDATE layout SET unclustered = unclustered + $n", {"n": added})
            con.execute(
                "INSERT INTO scores SELECT organization_id, request_created_at, request_id, "
                "unnest(map_keys(scores)), unnest(map_values(scores)) FROM staging "
                "ORDER BY organization_id, request_created_at"
            )
            con.execute(
                _SCORE_MINUTES.format(
                    source="(SELECT organization_id, request_created_at, unnest(map_keys(scores)) AS score_key, "
                    "unnest(map_values(scores)) AS value FROM staging)"
                )
            )
            _count_vocabulary(con)
            con.execute("DROP TABLE staging")
        return added

    @contextmanager
    def _staged(self, rows: list[dict[str, Any]]) -> Iterator[tuple[Path, int]]:
        """The rows as a JSONL file beside the store (and its longest line's bytes), locked while this process
        lives and removed on every exit.

        A killed process cannot remove it; the next write removes every staging file whose lock is free.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            while True:
                fd, name = tempfile.mkstemp(prefix=self.path.name + _STAGING, suffix=".jsonl", dir=self.path.parent)
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:  # still ours? another process's clean-up may have taken it between creation and lock
                    if os.stat(name).st_ino == os.fstat(fd).st_ino:
                        break
                except FileNotFoundError:
                    pass
                os.close(fd)
        except OSError as error:
            raise _store_failure("import", error, self.path) from None
        try:
            lines = [_dumps(r) for r in rows]
            largest = max(map(len, lines))
            with open(fd, "wb", closefd=False) as out:
                out.write(b"\n".join(lines))
            del lines  # not held through the transaction
            yield Path(name), largest
        except OSError as error:
            raise _store_failure("import", error, self.path) from None
        finally:
            Path(name).unlink(missing_ok=True)
            os.close(fd)

    def _remove_stale_staging(self) -> None:
        for stale in self.path.parent.glob(self.path.name + _STAGING + "*.jsonl"):
            try:
                fd = os.open(stale, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                stale.unlink(missing_ok=True)  # its writer is gone
            except BlockingIOError:
                pass  # a live import's batch
            finally:
                os.close(fd)

    def remove_org(self, org: str) -> int:
        """Delete one organization's requests and everything derived from them (`heliqa demo --reset`); returns
        how many requests went."""
        if not self.path.exists():
            return 0
        with self._writing("removing an organization") as con:
            removed = con.execute("SELECT count(*) FROM requests WHERE organization_id = $org", {"org": org}).fetchone()
            for table in ("requests", "scores", "score_minutes"):
                con.execute(f"DELETE FROM {table} WHERE organization_id = $org", {"org": org})
            _derive_vocabulary(con)
        return int(removed[0])

    def refresh_vocabulary(self) -> None:
        """Recompute the names each organization's questions may refer to (models, properties, scores, users)."""
        with self._writing("refreshing the vocabulary") as con:
            _derive_vocabulary(con)

    def repair(self) -> dict[str, int]:
        """Re-derive every table derived from `requests` (scores, per-minute sums, vocabulary) in one transaction."""
        with self._writing("repairing the store") as con:
            con.execute("DELETE FROM scores")
            con.execute(
                "INSERT INTO scores SELECT organization_id, request_created_at, request_id, "
                "unnest(map_keys(scores)), unnest(map_values(scores)) FROM requests "
                "ORDER BY organization_id, request_created_at"
            )
            con.execute("DELETE FROM score_minutes")
            con.execute(_SCORE_MINUTES.format(source="scores"))
            _derive_vocabulary(con)
            requests, scores, orgs = con.execute(
                "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM scores), "
                "(SELECT count(DISTINCT organization_id) FROM requests)"
            ).fetchone()
        return {"requests": requests, "scores": scores, "organizations": orgs}

    def load_vocabulary(self, org: str) -> Vocabulary:
        """Models, providers, property keys/values, score keys, users and countries of `org`, from the vocabulary
        table."""
        vocab = Vocabulary(countries={})
        for kind, name, value, n in self.fetch(
            "SELECT kind, name, value, n FROM vocabulary WHERE organization_id = $org ORDER BY n DESC", {"org": org}
        ):
            if kind == "model":
                vocab.models[name] = n
            elif kind == "provider":
                vocab.providers[name] = n
            elif kind == "property":
                vocab.properties.setdefault(name, {})[value] = n
            elif kind == "score":
                vocab.score_keys[name] = n
            elif kind == "user":
                vocab.user_ids[name] = n
            elif kind == "users":
                vocab.users = n
            elif kind == "country":
                vocab.countries[name] = n
        if not vocab.countries:
            # a store an older heliqa wrote lists no countries until its next write re-derives them: count them
            vocab.countries.update(
                self.fetch(
                    "SELECT country_code, count(*) AS n FROM requests WHERE organization_id = $org "
                    "AND coalesce(country_code, '') != '' GROUP BY 1 ORDER BY n DESC",
                    {"org": org},
                )
            )
        return vocab

    def vocabulary(self, org: str) -> Vocabulary:
        """The cached vocabulary; not kept when a writer elsewhere came in while it was read."""
        generation = self._lease.generation
        vocab = super().vocabulary(org)
        if generation != self._lease.generation:
            self._vocab.clear()
        return vocab

    # --- queries ----------------------------------------------------------------------------------------
    def scores(self, request: ScoresRequest, org: str) -> list[dict[str, Any]]:
        """Exactly what `POST /v1/dashboard/scores/query` returns as `data`."""
        d = DuckDialect()
        bucket = d.bucket("s.request_created_at", request.dbIncrement, request.timeZoneDifference)
        where = [f"s.organization_id = {d.param(org)}", d.time_range(request.timeFilter, "s.request_created_at")]
        if request.userFilter != "all":
            inner = DuckDialect()
            inner.params = d.params
            where.append(
                f"s.request_id IN (SELECT r.request_id FROM requests r WHERE r.organization_id = {inner.param(org)} "
                f"AND {inner.time_range(request.timeFilter)} AND {inner.node(request.userFilter)})"
            )
        sql = (
            f"SELECT {bucket} AS b, s.score_key, avg(s.value) FROM scores s WHERE {' AND '.join(where)} "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
        params = d.params
        if request.userFilter == "all" and self._has_score_minutes():
            sql, params = self._scores_by_minute(request, org)
        rows = self.fetch(sql, params)
        seen = {b for b, _, _ in rows}
        out = [(b, k, float(v)) for b, k, v in rows]
        for label in bucket_labels(request.timeFilter, request.dbIncrement, request.timeZoneDifference):
            if label not in seen:
                out.append((label, "", 0))
        out.sort(key=lambda r: (r[0], r[1]))
        return [{"created_at_trunc": iso_z(b, millis=True), "score_key": k, "score_sum": v} for b, k, v in out]

    def _has_score_minutes(self) -> bool:
        # A store opened read-only that was written before score_minutes existed lacks the table.
        if self._score_minutes is None:
            found = self.fetch("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'score_minutes'", {})
            self._score_minutes = bool(found[0][0])
        return self._score_minutes

    def _scores_by_minute(self, request: ScoresRequest, org: str) -> tuple[str, dict[str, Any]]:
        """The scores query from per-minute sums: whole minutes from score_minutes, the two edges from scores.

        Exact: every bucket is a whole number of minutes (the time zone shift is whole minutes), and
        sum / count over the same integers is the same average.
        """
        d = DuckDialect()
        start, end = seconds_utc(request.timeFilter.start), seconds_utc(request.timeFilter.end)
        first = start if start.second == 0 else start.replace(second=0) + timedelta(minutes=1)
        last = max(first, end.replace(second=0))  # whole minutes are [first, last)
        o, s0, f0, l0, e0 = (d.param(v) for v in (org, start, first, last, end))
        edge = f"SELECT request_created_at, score_key, value, 1 FROM scores WHERE organization_id = {o} AND "
        parts = [
            f"SELECT minute AS t, score_key, total, n FROM score_minutes WHERE organization_id = {o} "
            f"AND minute >= {f0} AND minute < {l0}",
            edge + f"request_created_at >= {s0} AND request_created_at < {f0} AND request_created_at <= {e0}",
            edge + f"request_created_at >= {l0} AND request_created_at <= {e0}",
        ]
        bucket = d.bucket("t", request.dbIncrement, request.timeZoneDifference)
        sql = (
            f"SELECT {bucket} AS b, score_key, CAST(sum(total) AS DOUBLE) / sum(n) FROM "
            f"({' UNION ALL '.join(parts)}) GROUP BY 1, 2 ORDER BY 1, 2"
        )
        return sql, d.params

    def engine(self) -> investigate.Engine:
        return investigate.Engine(
            DuckDialect, "requests r", self.fetch, lambda d, org: f"r.organization_id = {d.param(org)}"
        )
