"""The `heliqa` command run as a user runs it: a subprocess with its own HELIQA_HOME."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from heliqa.tools.query import ScoresRequest
from tests import reference
from tests.conftest import MAIN_ORG, OTHER_ORG, SAMPLE_NOW

HELIQA = [shutil.which("heliqa")] if shutil.which("heliqa") else [sys.executable, "-m", "heliqa.cli"]
BODY = {
    "timeFilter": {"start": "2026-10-25T12:00:00.000Z", "end": "2026-11-24T12:00:00.000Z"},
    "userFilter": {"request_response_rmt": {"properties": {"feature": {"equals": "support-bot"}}}},
    "dbIncrement": "week",
    "timeZoneDifference": 300,
}


def heliqa(home, *args, stdin: str | None = None, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HELIQA_", "HELICONE_"))}
    environ.update(HELIQA_HOME=str(home), **env)
    done = subprocess.run([*HELIQA, *args], input=stdin, capture_output=True, text=True, env=environ, timeout=120)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


def rows(n: int, org: str = MAIN_ORG) -> list[str]:
    return [
        json.dumps(
            {
                "request_id": f"cli-{org[:4]}-{i}",
                "organization_id": org,
                "status": 200,
                "latency": 10 * i,
                "request_created_at": f"2026-11-20T10:{i:02d}:00.000Z",
                "model": "gpt-4o",
                "scores": {"accuracy": i},
            }
        )
        for i in range(n)
    ]


# --- import -------------------------------------------------------------------------------------------------


def test_import_reports_counts_and_is_idempotent(tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_text("\n".join(rows(5)) + "\n")
    first = heliqa(tmp_path / "home", "import", "--quiet", str(logs))
    assert first.returncode == 0, first.stderr
    assert first.stdout == (
        f"imported 5 new requests from 1 file(s) into {tmp_path / 'home' / 'heliqa.duckdb'} "
        "(0 already present, 0 bad lines skipped)\n"
    )
    again = heliqa(tmp_path / "home", "import", str(logs))
    assert again.returncode == 0 and "imported 0 new requests" in again.stdout and "5 already present" in again.stdout
    orgs = heliqa(tmp_path / "home", "orgs")
    # id, requests, first and last request (UTC)
    assert orgs.returncode == 0 and orgs.stdout == f"{MAIN_ORG}\t5\t2026-11-20T10:00:00Z\t2026-11-20T10:04:00Z\n"


def test_import_with_bad_lines_names_them_and_exits_0(tmp_path):
    logs = tmp_path / "logs.jsonl"
    lines = rows(3)
    lines.insert(1, "{oops")
    lines.append(
        json.dumps(
            {
                "request_id": "x",
                "organization_id": MAIN_ORG,
                "status": 200,
                "request_created_at": "2026-02-30T00:00:00Z",
            }
        )
    )
    logs.write_text("\n".join(lines) + "\n")
    done = heliqa(tmp_path / "home", "import", str(logs))
    assert done.returncode == 0
    assert f"skipped {logs}:2: not valid JSON\n" in done.stderr
    assert f"skipped {logs}:5: request_created_at is not an ISO 8601 instant" in done.stderr
    assert "imported 3 new requests" in done.stdout and "2 bad lines skipped" in done.stdout


def test_import_of_a_missing_file_is_a_clear_error(tmp_path):
    done = heliqa(tmp_path / "home", "import", str(tmp_path / "nope.jsonl.gz"))
    assert done.returncode == 2
    assert done.stderr == f"heliqa: cannot read {tmp_path / 'nope.jsonl.gz'}: No such file or directory\n"
    assert not (tmp_path / "home").exists(), "a failed import must not leave an empty store behind"


def test_import_gives_rows_without_an_org_the_one_passed(tmp_path):
    logs = tmp_path / "export.jsonl"
    logs.write_text(
        json.dumps(
            {"request_id": "e1", "request_created_at": "2026-11-20T10:00:00Z", "response_status": 200, "delay_ms": 5}
        )
        + "\n"
    )
    done = heliqa(tmp_path / "home", "import", "--org", OTHER_ORG, str(logs))
    assert done.returncode == 0 and "imported 1 new requests" in done.stdout
    stamp = "2026-11-20T10:00:00Z"
    assert heliqa(tmp_path / "home", "orgs").stdout == f"{OTHER_ORG}\t1\t{stamp}\t{stamp}\n"


# --- query --------------------------------------------------------------------------------------------------


def test_query_prints_helicones_exact_response_shape(sample_home, sample_store, tmp_path):
    path = tmp_path / "body.json"
    path.write_text(json.dumps(BODY))
    done = heliqa(sample_home, "query", "--org", MAIN_ORG, str(path))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert list(out) == ["data", "error"] and out["error"] is None
    assert out["data"] == sample_store.scores(ScoresRequest.model_validate(BODY), MAIN_ORG)
    assert out["data"] and all(list(r) == ["created_at_trunc", "score_key", "score_sum"] for r in out["data"])
    assert {r["created_at_trunc"][-14:] for r in out["data"]} == {"T05:00:00.000Z"}  # New York week starts
    # The same body from stdin, with the org from the environment.
    piped = heliqa(sample_home, "query", "-", stdin=json.dumps(BODY), HELIQA_ORG_ID=MAIN_ORG)
    assert piped.returncode == 0 and json.loads(piped.stdout) == out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dbIncrement": "days"}, "Validation failed: dbIncrement: should be 'min', 'hour'"),
        (
            {"userFilter": {"request_response_rmt": {"latency": {"between": [1, 2]}}}},
            "Validation failed: userFilter.request_response_rmt.latency: 'between' is not an operator; "
            "use gte/lte joined with an 'and' branch",
        ),
        ({"timeZoneDifference": 2000}, "Validation failed: timeZoneDifference: "),
        (
            {"timeFilter": {"start": "2026-11-24", "end": "2026-11-01"}},
            "Validation failed: timeFilter: start 2026-11-24",
        ),
    ],
)
def test_query_validation_errors_are_clear_and_exit_2(sample_home, tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**BODY, **change}))
    done = heliqa(sample_home, "query", "--org", MAIN_ORG, str(path))
    assert done.returncode == 2
    out = json.loads(done.stdout)
    assert out["data"] is None and out["error"].startswith(message)


def test_query_with_broken_json_or_missing_file(sample_home, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"timeFilter": ')
    done = heliqa(sample_home, "query", "--org", MAIN_ORG, str(path))
    assert done.returncode == 2 and json.loads(done.stdout)["error"].startswith(f"{path} is not valid JSON")
    missing = heliqa(sample_home, "query", str(tmp_path / "none.json"))
    assert missing.returncode == 2 and missing.stderr.startswith(f"heliqa: cannot read {tmp_path / 'none.json'}")


def test_query_needs_an_org_when_there_are_several(sample_home, tmp_path):
    path = tmp_path / "body.json"
    path.write_text(json.dumps(BODY))
    done = heliqa(sample_home, "query", str(path))
    assert done.returncode == 2
    assert "2 organizations" in done.stderr and MAIN_ORG in done.stderr and OTHER_ORG in done.stderr


# --- ask ----------------------------------------------------------------------------------------------------

QUESTION = ["p90", "latency", "last", "week", "by", "day"]


def test_ask_without_a_store_says_how_to_make_one(tmp_path):
    done = heliqa(tmp_path / "empty", "ask", "--now", SAMPLE_NOW, *QUESTION)
    assert done.returncode == 2
    assert "no heliqa store at" in done.stdout + done.stderr and "heliqa import" in done.stdout + done.stderr
    as_json = heliqa(tmp_path / "empty", "ask", "--json", "--now", SAMPLE_NOW, *QUESTION)
    answer = json.loads(as_json.stdout)
    assert as_json.returncode == 2 and answer["status"] == "error" and "no heliqa store" in answer["message"]


def test_ask_with_several_orgs_lists_them(sample_home):
    done = heliqa(sample_home, "ask", "--json", "--now", SAMPLE_NOW, *QUESTION)
    answer = json.loads(done.stdout)
    assert done.returncode == 2 and answer["status"] == "error"
    assert MAIN_ORG in answer["message"] and OTHER_ORG in answer["message"] and "HELIQA_ORG_ID" in answer["message"]


def test_ask_with_an_unknown_org_lists_the_known_ones(sample_home):
    done = heliqa(sample_home, "ask", "--org", "not-an-org", "--now", SAMPLE_NOW, *QUESTION)
    text = done.stdout + done.stderr
    assert done.returncode == 2 and "organization not-an-org has no data" in text and MAIN_ORG in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--now", "yesterday"], "--now 'yesterday' is not an ISO 8601 instant"),
        (["--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_ask_rejects_bad_options(sample_home, args, message):
    done = heliqa(sample_home, "ask", "--org", MAIN_ORG, *args, *QUESTION)
    assert done.returncode == 2 and message in done.stderr


def test_ask_answers_on_the_sample(sample_home, sample_rows):
    done = heliqa(
        sample_home,
        "ask",
        "--json",
        "--org",
        MAIN_ORG,
        "--tz",
        "UTC",
        "--now",
        SAMPLE_NOW,
        "--planner",
        "rules",
        *QUESTION,
    )
    answer = json.loads(done.stdout)
    assert done.returncode == 0, answer
    assert answer["status"] == "ok" and answer["request"]["measure"] == "latency"
    assert len(answer["data"]) >= 7 and all(set(r) == {"bucket", "group", "value"} for r in answer["data"])
    start, end, tzd = reference.local_range(reference.parse(SAMPLE_NOW), "UTC", "last", 7, "days")
    week = reference.Ask(metric="latency", agg="p90", start=start, end=end, tzd=tzd, bucket="day")
    assert reference.differences(reference.expected(sample_rows, MAIN_ORG, week), answer["data"]) == []
