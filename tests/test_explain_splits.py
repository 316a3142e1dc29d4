"""A score that falls within one property value only is found by "why did <score> drop", and thin data says so.

On the project's generated data of both vocabularies (40,000 requests over 14 days, denser than `heliqa demo`'s so
the planted drops are plain): the sample's prompt rollout lowers the yes/no correctness score in one feature, and
the second organization's canary deployment lowers groundedness in one app's canary requests. The total moves
little (the total's series shows no window, or one of a few hours), so the question judges the score within each
low-cardinality property key's values too and names the value whose scored requests fell. A quiet day finds
nothing and says what the answer rests on; a range without enough scored requests says that, never "nothing
changed".
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.investigate import SPLIT_BEYOND_Z, SPLIT_Z
from heliqa.tools.demo import AcmeIncidents, Incidents, demo_org, generate
from heliqa.tools.filters import parse_instant
from heliqa.tools.investigate import ScoreShift
from heliqa.tools.store import Store

END = datetime.fromisoformat("2026-11-24T12:00:00+00:00")
ROWS, SEED, DAYS = 40_000, 11, 14
# vocabulary -> (the planted span, the score key as asked, as stored, the property key and value it fell in)
PLANTED = {
    "sample": (Incidents(END).prompt, "is_correct", "is_correct-hcone-bool", "feature", "support-bot"),
    "acme": (AcmeIncidents(END).canary, "groundedness", "groundedness", "deployment", "canary"),
}
QUIET_DAY = END - timedelta(days=3)  # no planted score drop that day in either vocabulary


@pytest.fixture(scope="module", params=sorted(PLANTED))
def demo(request, tmp_path_factory):
    vocabulary = request.param
    org = demo_org(vocabulary)
    rows = list(generate(ROWS, SEED, END, org, DAYS, vocabulary=vocabulary))
    path = tmp_path_factory.mktemp(f"splits-{vocabulary}") / "heliqa.duckdb"
    store = Store(path)
    store.add_rows(rows)
    store.close()
    store = Store(path, read_only=True)
    yield vocabulary, store, org, rows
    store.close()


def _ask(store, org: str, question: str, now: datetime = END) -> dict:
    return Conversation(store, make_planner("rules"), org, ZoneInfo("UTC"), now).ask(question).to_json()


def _day(moment: datetime) -> str:
    return f"{moment:%b} {moment.day}".lower()


def _scored(rows: list[dict], key: str, start: datetime, end: datetime, where=lambda r: True) -> int:
    """Requests in [start, end) carrying the score key (and passing `where`), counted from the generated rows."""
    return sum(
        1 for r in rows if key in r["scores"] and start <= parse_instant(r["request_created_at"]) < end and where(r)
    )


def test_a_drop_within_one_property_value_is_found_without_naming_it(demo):
    vocabulary, store, org, _ = demo
    (start, end), asked, _, key, value = PLANTED[vocabulary]
    answer = _ask(store, org, f"why did {asked} drop on {_day(start)}?")
    assert answer["status"] == "ok" and answer["kind"] == "explain", answer["message"]
    assert answer["window"] is not None, answer["message"]
    window = parse_instant(answer["window"]["start"]), parse_instant(answer["window"]["end"])
    overlap = min(window[1], end) - max(window[0], start)
    assert overlap >= 0.8 * (end - start), (answer["window"], answer["message"])
    assert window[1] - window[0] <= 1.5 * (end - start), answer["window"]
    first = answer["data"][0]
    assert (first["dimension"], first["value"]) == (f"property:{key}", value), answer["message"]
    assert first["current"] == pytest.approx(1.0) and first["baseline"] < 0.5
    assert f"the fall is within {key} {value}" in answer["message"]
    assert answer["impact"]["bad_requests"] > 0 and answer["duration"]["seconds"] == (window[1] - window[0]).seconds


def test_what_happened_finds_the_drop_within_one_property_value_too(demo):
    """ "What happened" judges every measure: a score that fell within one value only is no "nothing stands out"."""
    vocabulary, store, org, _ = demo
    (start, _), _, _, key, value = PLANTED[vocabulary]
    answer = _ask(store, org, f"what happened on {_day(start)}?")
    assert answer["window"] is not None and "Nothing stands out" not in answer["message"], answer["message"]
    first = answer["data"][0]
    if vocabulary == "sample":  # the rollout also lowers the total accuracy, whose window names the prompt version
        assert (first["dimension"], first["value"]) == ("property:prompt_version", "v13"), answer["message"]
        return
    assert (first["dimension"], first["value"]) == (f"property:{key}", value), answer["message"]
    assert f"the fall is within {key} {value}" in answer["message"], answer["message"]
    quiet = _ask(store, org, f"what happened on {_day(QUIET_DAY)}?")
    assert "the fall is within" not in quiet["message"], quiet["message"]


def test_a_quiet_day_finds_nothing_and_says_what_it_rests_on(demo):
    vocabulary, store, org, rows = demo
    _, asked, stored, key, _ = PLANTED[vocabulary]
    day = QUIET_DAY.replace(hour=0)
    answer = _ask(store, org, f"why did {asked} drop on {_day(day)}?")
    assert answer["status"] == "ok" and answer["kind"] == "explain"
    assert answer["window"] is None and answer["data"] == [], answer["message"]
    assert "nothing stands out" in answer["message"]
    scored = _scored(rows, stored, day, day + timedelta(days=1))
    assert f"({scored:,} in the range" in answer["message"], answer["message"]
    assert f"Each value of {key}" in answer["message"] or f", {key}" in answer["message"], answer["message"]
    assert "none fell that far" in answer["message"]


# vocabulary -> a thin slice: a yes/no score key as asked, as stored, and a property value few scored requests hold
THIN = {
    "sample": ("is_correct", "is_correct-hcone-bool", "environment", "staging"),
    "acme": ("resolved", "resolved-hcone-bool", "deployment", "canary"),
}


def test_a_range_with_too_few_scored_requests_says_so(demo):
    vocabulary, store, org, rows = demo
    asked, stored, key, value = THIN[vocabulary]
    now = QUIET_DAY
    answer = _ask(store, org, f"why did {asked} drop for {key} {value} in the last hour?", now)
    assert answer["status"] == "ok" and answer["window"] is None and answer["data"] == [], answer["message"]
    scored = _scored(rows, stored, now - timedelta(hours=1), now, lambda r: r["properties"].get(key) == value)
    assert 0 < scored < 5  # the thin case this test is about
    assert f"can't be judged: the range holds only {scored:,} scored requests" in answer["message"], answer["message"]
    assert "nothing stands out" not in answer["message"] and "usual range" not in answer["message"]


def test_a_range_past_the_data_has_nothing_to_judge(demo):
    vocabulary, store, org, _ = demo
    asked = PLANTED[vocabulary][1]
    answer = _ask(store, org, f"why did {asked} drop today?", END + timedelta(days=2))
    assert answer["window"] is None and answer["data"] == []
    assert "no scored requests in the range" in answer["message"], answer["message"]
    assert "usual range" not in answer["message"]


def test_a_fall_every_request_shares_is_not_one_values():
    """The bar a value's fall must clear: far below its own baseline, and further than the rest of the requests fell."""
    value = ScoreShift(window_mean=80.0, window_n=60, base_mean=87.0, base_var=36.0, base_n=800)
    assert value.z >= SPLIT_Z
    everyone = ScoreShift(window_mean=80.5, window_n=300, base_mean=87.0, base_var=36.0, base_n=4000)
    assert value.beyond(everyone) < SPLIT_BEYOND_Z  # the whole organization fell: not concentrated
    steady = ScoreShift(window_mean=87.1, window_n=300, base_mean=87.0, base_var=36.0, base_n=4000)
    assert value.beyond(steady) >= SPLIT_BEYOND_Z
    few = ScoreShift(window_mean=80.0, window_n=3, base_mean=87.0, base_var=36.0, base_n=40)
    assert few.z < SPLIT_Z  # three low scores prove little


_CH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime
    from zoneinfo import ZoneInfo
    import clickhouse_connect
    from heliqa.agent.conversation import Conversation
    from heliqa.agent.factory import make_planner
    from heliqa.tools.clickhouse import ClickHouseBackend, load_files
    rows_path, directory, org, question, now = sys.argv[1:6]
    client = clickhouse_connect.get_client(dsn=f"chdb://{directory}")
    load_files(client, [rows_path])
    backend = ClickHouseBackend(client, f"chdb://{directory}")
    chat = Conversation(backend, make_planner("rules"), org, ZoneInfo("UTC"), datetime.fromisoformat(now))
    print(json.dumps(chat.ask(question).to_json()))
    """
)


def test_clickhouse_finds_the_same_value(demo, tmp_path):
    pytest.importorskip("chdb")
    vocabulary, store, org, rows = demo
    (start, _), asked, _, _, _ = PLANTED[vocabulary]
    question = f"why did {asked} drop on {_day(start)}?"
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    root = Path(__file__).resolve().parents[1]
    args = [str(path), str(tmp_path / "chdb"), org, question, END.isoformat()]
    done = subprocess.run(
        [sys.executable, "-c", _CH_SCRIPT, *args], capture_output=True, text=True, timeout=300, cwd=root
    )
    assert done.returncode == 0, done.stderr[-2000:]
    theirs, mine = json.loads(done.stdout), _ask(store, org, question)
    assert theirs["window"] == mine["window"]
    assert [(d["dimension"], d["value"]) for d in theirs["data"]] == [
        (d["dimension"], d["value"]) for d in mine["data"]
    ]
