"""The scores endpoint on the embedded store: local-time buckets, fill rows, and the sample checked independently."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from heliqa.tools.errors import BackendError, ConfigError
from heliqa.tools.query import ScoresRequest
from heliqa.tools.store import Store
from tests.conftest import MAIN_ORG, OTHER_ORG

INCREMENTS = ["min", "hour", "day", "week", "month", "year"]


# --- an independent model of Helicone's scores over time (no code shared with tools/) ------------------------


def trunc(local: datetime, increment: str) -> datetime:
    if increment == "min":
        return datetime(local.year, local.month, local.day, local.hour, local.minute)
    if increment == "hour":
        return datetime(local.year, local.month, local.day, local.hour)
    if increment == "day":
        return datetime(local.year, local.month, local.day)
    if increment == "week":
        day = datetime(local.year, local.month, local.day)
        return day - timedelta(days=day.isoweekday() - 1)
    if increment == "month":
        return datetime(local.year, local.month, 1)
    return datetime(local.year, 1, 1)


def following(start: datetime, increment: str) -> datetime:
    if increment == "month":
        return datetime(start.year + (start.month == 12), start.month % 12 + 1, 1)
    if increment == "year":
        return datetime(start.year + 1, 1, 1)
    return (
        start
        + {
            "min": timedelta(minutes=1),
            "hour": timedelta(hours=1),
            "day": timedelta(days=1),
            "week": timedelta(days=7),
        }[increment]
    )


def utc(text: str) -> datetime:
    """'...Z' / '+00:00' / date-only -> naive UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=None) - (moment.utcoffset() or timedelta(0))


def label(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def expected_scores(rows, start: str, end: str, increment: str, tz: int, keep=lambda r: True) -> set:
    """(created_at_trunc, score_key, rounded score_sum) as Helicone gives them, from (created, scores, row) tuples."""
    start_s, end_s = utc(start).replace(microsecond=0), utc(end).replace(microsecond=0)
    shift = timedelta(minutes=tz)
    values: dict[tuple[datetime, str], list[int]] = defaultdict(list)
    for created, scores, row in rows:
        if start_s <= created <= end_s and keep(row):
            bucket = trunc(created - shift, increment)
            for key, value in scores.items():
                values[(bucket, key)].append(value)
    out = {(label(b + shift), k, round(sum(v) / len(v), 9)) for (b, k), v in values.items()}
    have = {b for b, _ in values}
    current, last = trunc(start_s - shift, increment), trunc(end_s - shift, increment)
    while current <= last:
        if current not in have:
            out.add((label(current + shift), "", 0))
        current = following(current, increment)
    return out


def answer(store: Store, org: str, **body) -> set:
    data = store.scores(ScoresRequest.model_validate(body), org)
    stamps = [r["created_at_trunc"] for r in data]
    assert stamps == sorted(stamps), "buckets must come in ascending order"
    assert all(set(r) == {"created_at_trunc", "score_key", "score_sum"} for r in data)
    assert len({(r["created_at_trunc"], r["score_key"]) for r in data}) == len(data), "one row per bucket and key"
    return {(r["created_at_trunc"], r["score_key"], round(r["score_sum"], 9)) for r in data}


# --- the rows verified on ClickHouse 26.9 -------------------------------------------------------

SPEC_ROWS = [
    ("2026-01-01T00:30:00.000Z", {"q": 5, "b": True}),
    ("2026-01-01T23:30:00.000Z", {"q": 3}),
    ("2026-01-02T10:00:00.000Z", {}),
    ("2026-01-03T12:00:00.000Z", {"q": 4, "z": -2}),
]


@pytest.fixture(scope="module")
def spec_store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("spec") / "heliqa.duckdb")
    store.add_rows(
        [
            {
                "request_id": f"spec-{i}",
                "organization_id": "spec",
                "request_created_at": at,
                "status": 200,
                "scores": scores,
            }
            for i, (at, scores) in enumerate(SPEC_ROWS)
        ]
    )
    yield store
    store.close()


@pytest.mark.parametrize(
    ("tz", "rows"),
    [
        (
            0,
            {
                ("2025-12-31T00:00:00.000Z", "", 0),
                ("2026-01-01T00:00:00.000Z", "b-hcone-bool", 1),
                ("2026-01-01T00:00:00.000Z", "q", 4),
                ("2026-01-02T00:00:00.000Z", "", 0),
                ("2026-01-03T00:00:00.000Z", "z", -2),
                ("2026-01-03T00:00:00.000Z", "q", 4),
                ("2026-01-04T00:00:00.000Z", "", 0),
            },
        ),
        (
            300,
            {
                ("2025-12-30T05:00:00.000Z", "", 0),
                ("2025-12-31T05:00:00.000Z", "b-hcone-bool", 1),
                ("2025-12-31T05:00:00.000Z", "q", 5),
                ("2026-01-01T05:00:00.000Z", "q", 3),
                ("2026-01-02T05:00:00.000Z", "", 0),
                ("2026-01-03T05:00:00.000Z", "q", 4),
                ("2026-01-03T05:00:00.000Z", "z", -2),
            },
        ),
        (
            -60,
            {
                ("2025-12-30T23:00:00.000Z", "", 0),
                ("2025-12-31T23:00:00.000Z", "b-hcone-bool", 1),
                ("2025-12-31T23:00:00.000Z", "q", 5),
                ("2026-01-01T23:00:00.000Z", "q", 3),
                ("2026-01-02T23:00:00.000Z", "q", 4),
                ("2026-01-02T23:00:00.000Z", "z", -2),
                ("2026-01-03T23:00:00.000Z", "", 0),
            },
        ),
    ],
)
def test_the_spec_example(spec_store, tz, rows):
    got = answer(
        spec_store,
        "spec",
        timeFilter={"start": "2025-12-31", "end": "2026-01-04"},
        userFilter="all",
        dbIncrement="day",
        timeZoneDifference=tz,
    )
    assert got == rows


def test_an_empty_range_gives_one_filler_row_per_bucket(spec_store):
    got = answer(
        spec_store,
        "spec",
        timeFilter={"start": "2026-03-01T10:00:00Z", "end": "2026-03-01T13:00:00Z"},
        userFilter="all",
        dbIncrement="hour",
        timeZoneDifference=-330,
    )
    # Kolkata hours start at :30 UTC; 10:00Z is local 15:30 -> bucket 15:00 local = 09:30Z.
    assert got == {(f"2026-03-01T{h}:30:00.000Z", "", 0) for h in ("09", "10", "11", "12")}


def test_a_fractional_offset_labels_with_the_exact_fraction(spec_store):
    got = answer(
        spec_store,
        "spec",
        timeFilter={"start": "2026-01-03", "end": "2026-01-03T23:59:59Z"},
        userFilter="all",
        dbIncrement="day",
        timeZoneDifference=90.5,
    )
    # local = UTC - 90 minutes (fraction truncated), label = local day start + 90.5 minutes.
    assert got == {
        ("2026-01-02T01:30:30.000Z", "", 0),
        ("2026-01-03T01:30:30.000Z", "q", 4),
        ("2026-01-03T01:30:30.000Z", "z", -2),
    }


# --- bucket edges for every increment and offsets 300, -60, -330 --------------------------------------------

BOUNDARIES = {  # a local bucket start for each increment
    "min": datetime(2026, 11, 17, 10, 30),
    "hour": datetime(2026, 11, 17, 10, 0),
    "day": datetime(2026, 11, 17),
    "week": datetime(2026, 11, 16),  # a Monday
    "month": datetime(2026, 12, 1),
    "year": datetime(2027, 1, 1),
}
EDGE_CASES = [(tz, inc) for tz in (300, -60, -330) for inc in INCREMENTS]


@pytest.fixture(scope="module")
def edge_store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("edges") / "heliqa.duckdb")
    rows = []
    for tz, inc in EDGE_CASES:
        boundary = BOUNDARIES[inc] + timedelta(minutes=tz)  # the UTC instant of the local bucket start
        for n, (offset, score) in enumerate(
            [
                (-timedelta(milliseconds=1), 10),
                (timedelta(0), 20),
                (timedelta(milliseconds=999), 30),
                (timedelta(seconds=-61), 40),
            ]
        ):
            at = boundary + offset
            rows.append(
                {
                    "request_id": f"{tz}-{inc}-{n}",
                    "organization_id": f"edge{tz}{inc}",
                    "status": 200,
                    "request_created_at": label(at),
                    "scores": {"k": score, f"only{n}": 1},
                }
            )
    store.add_rows(rows)
    yield store, rows
    store.close()


@pytest.mark.parametrize(("tz", "increment"), EDGE_CASES)
def test_rows_beside_a_local_boundary_land_in_the_right_bucket(edge_store, tz, increment):
    store, rows = edge_store
    boundary_utc = BOUNDARIES[increment] + timedelta(minutes=tz)
    # From well inside the bucket two before, to just inside the bucket after: two filler buckets around the data.
    previous = trunc(BOUNDARIES[increment] - timedelta(seconds=1), increment)
    earlier = trunc(previous - timedelta(seconds=1), increment)
    start = earlier + timedelta(minutes=tz) + timedelta(seconds=1, milliseconds=500)
    end = following(BOUNDARIES[increment], increment) + timedelta(minutes=tz, seconds=1)
    org = f"edge{tz}{increment}"
    mine = [(utc(r["request_created_at"]), r["scores"], r) for r in rows if r["organization_id"] == org]
    expected = expected_scores(mine, label(start), label(end), increment, tz)
    got = answer(
        store,
        f"edge{tz}{increment}",
        timeFilter={"start": label(start), "end": label(end)},
        userFilter="all",
        dbIncrement=increment,
        timeZoneDifference=tz,
    )
    assert got == expected
    # And spelled out: the row 1 ms before the boundary is in the previous bucket, the two at/after it in the new one.
    new = label(boundary_utc)
    assert (new, "k", 25) in got and (new, "only1", 1) in got and (new, "only2", 1) in got
    old = {r for r in got if r[1] == "only0"}
    assert len(old) == 1 and utc(old.pop()[0]) < boundary_utc
    assert (label(following(BOUNDARIES[increment], increment) + timedelta(minutes=tz)), "", 0) in got
    assert {r for r in got if r[1] == ""}, "buckets without data get a filler row"


@pytest.mark.parametrize("increment", INCREMENTS)
def test_labels_are_utc_instants_of_new_york_bucket_starts(edge_store, increment):
    store, _ = edge_store
    got = answer(
        store,
        "edge300day",
        timeFilter={"start": "2026-11-17T05:00:00Z", "end": "2026-11-17T05:00:00Z"},
        userFilter="all",
        dbIncrement=increment,
        timeZoneDifference=300,
    )
    local = trunc(datetime(2026, 11, 17), increment)
    assert {r[0] for r in got} == {label(local + timedelta(hours=5))}


# --- the generated sample, checked against plain Python over the generator's rows ---------------------------


@pytest.fixture(scope="module")
def scored_rows(sample_rows):
    """(created, scores, row) for each generated request: boolean scores stored under `<key>-hcone-bool`."""
    rows = []
    for r in sample_rows:
        scores = {(f"{k}-hcone-bool" if isinstance(v, bool) else k): int(v) for k, v in r["scores"].items()}
        rows.append((utc(r["request_created_at"]), scores, r))
    return rows


SAMPLE_REQUESTS = [
    ("all", "2026-11-17T12:00:00.000Z", "2026-11-24T12:00:00.000Z", "day", 0, lambda r: True),
    ("all", "2026-09-25", "2026-11-24T12:00:00Z", "week", 0, lambda r: True),
    (
        {"request_response_rmt": {"properties": {"feature": {"equals": "support-bot"}}}},
        "2026-10-25T12:00:00.000Z",
        "2026-11-24T12:00:00.000Z",
        "week",
        300,
        lambda r: r["properties"].get("feature", "") == "support-bot",
    ),
    (
        {"request_response_rmt": {"model": {"equals": "gpt-4o"}}},
        "2026-11-10T05:00:00.000Z",
        "2026-11-24T12:00:00.000Z",
        "day",
        300,
        lambda r: r["model"] == "gpt-4o",
    ),
    (
        {
            "left": {"request_response_rmt": {"model": {"equals": "gpt-4"}}},
            "operator": "or",
            "right": {"request_response_rmt": {"properties": {"environment": {"contains": "STAG"}}}},
        },
        "2026-11-01T00:00:00Z",
        "2026-11-20T00:00:00Z",
        "day",
        -330,
        lambda r: r["model"] == "gpt-4" or "stag" in r["properties"].get("environment", "").lower(),
    ),
]


@pytest.mark.parametrize(("user_filter", "start", "end", "increment", "tz", "keep"), SAMPLE_REQUESTS)
def test_sample_scores_match_an_independent_computation(
    sample_store, scored_rows, user_filter, start, end, increment, tz, keep
):
    main = [row for row in scored_rows if row[2]["organization_id"] == MAIN_ORG]
    expected = expected_scores(main, start, end, increment, tz, keep)
    got = answer(
        sample_store,
        MAIN_ORG,
        timeFilter={"start": start, "end": end},
        userFilter=user_filter,
        dbIncrement=increment,
        timeZoneDifference=tz,
    )
    assert len([r for r in expected if r[1]]) > 5, "the case must exercise real scores"
    assert got == expected


def test_other_organization_scores_never_mix_in(sample_store, scored_rows):
    body = dict(
        timeFilter={"start": "2026-11-01", "end": "2026-11-24T12:00:00Z"},
        userFilter="all",
        dbIncrement="week",
        timeZoneDifference=0,
    )
    for org in (MAIN_ORG, OTHER_ORG):
        mine = [row for row in scored_rows if row[2]["organization_id"] == org]
        assert answer(sample_store, org, **body) == expected_scores(
            mine, "2026-11-01", "2026-11-24T12:00:00Z", "week", 0
        )
    assert answer(sample_store, "no-such-org", **body) == expected_scores(
        [], "2026-11-01", "2026-11-24T12:00:00Z", "week", 0
    )


def test_a_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        Store(tmp_path / "nothing" / "heliqa.duckdb", read_only=True).organizations()
    assert "no heliqa store at" in str(info.value) and "heliqa import" in str(info.value)


def test_a_failed_read_names_the_reason_without_the_statement(sample_store):
    with pytest.raises(BackendError) as info:
        sample_store.fetch("SELECT request_id FROM requests LIMIT $n", {"n": 2**64})
    assert info.value.message.startswith("the embedded store failed: Conversion Error: ")
    assert "out of range" in info.value.message
    assert "SELECT" not in info.value.message and "LINE" not in info.value.message


def test_threads_read_concurrently_with_right_answers(sample_store):
    from concurrent.futures import ThreadPoolExecutor

    from heliqa.tools.query import MetricsQuery, TimeFilter

    query = MetricsQuery(
        measure="requests",
        groupBy="model",
        timeFilter=TimeFilter(start="2026-11-01T00:00:00Z", end="2026-11-24T12:00:00Z"),
    )
    expected = sample_store.run(query, MAIN_ORG)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: sample_store.run(query, MAIN_ORG), range(32)))
    assert all(answer == expected for answer in answers)
    assert sum(r.value for r in expected) > 10_000


def test_requests_are_reclustered_once_a_tenth_was_appended(tmp_path):
    from heliqa.tools.query import MetricsQuery, TimeFilter

    def rows(start: int, n: int) -> list[dict]:
        models = ("gpt-4o", "gpt-4", "claude-3-5-haiku-20241022")
        return [
            {
                "request_id": f"r{i}",
                "organization_id": MAIN_ORG,
                "status": 200,
                "latency": 100 + i,
                "model": models[i % 3],
                "request_created_at": f"2026-11-01T{i // 60 % 24:02d}:{i % 60:02d}:00Z",
            }
            for i in range(start, start + n)
        ]

    store = Store(tmp_path / "heliqa.duckdb")
    unclustered = lambda: store.con.execute("SELECT unclustered FROM layout").fetchone()[0]  # noqa: E731
    query = MetricsQuery(
        measure="latency",
        aggregation="p90",
        groupBy="model",
        timeFilter=TimeFilter(start="2026-11-01T00:00:00Z", end="2026-11-02T00:00:00Z"),
    )
    store.add_rows(rows(0, 100))
    assert unclustered() == 0  # the first load is all new: clustered at once
    store.add_rows(rows(100, 5))
    assert unclustered() == 5  # 5 of 105 appended: not yet worth a rewrite
    before = store.run(query, MAIN_ORG)
    store.add_rows(rows(105, 20))
    assert unclustered() == 0  # 25 of 125 appended: rewritten in cluster order
    models = [m for (m,) in store.con.execute("SELECT model FROM requests").fetchall()]
    assert models == sorted(models)
    after = store.run(query, MAIN_ORG)
    assert {r.group for r in after} == {r.group for r in before}
    assert store.con.execute("SELECT count(*) FROM requests").fetchone()[0] == 125
