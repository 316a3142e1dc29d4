"""Import of Helicone's export files exactly as `npx @helicone/export` writes them (JSONL, JSON, CSV).

The writers below follow Helicone's examples/export/typescript/index.ts (ExportWriter): JSONL is
`JSON.stringify(record)` a line; JSON is `[\\n`, records `JSON.stringify(record, null, 2)` joined by `,\\n`, then
`\\n]\\n`; CSV has Helicone's twelve columns, every value quoted, and objects stringified with their quotes doubled
and then doubled again.
"""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from heliqa.tools.demo import generate
from heliqa.tools.store import Store
from tests.fake_helicone import helicone_row

ORG = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
END = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CSV_FIELDS = [
    "response_id",
    "response_created_at",
    "response_status",
    "request_created_at",
    "request_body",
    "request_properties",
    "request_user_id",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "latency",
    "cost",
]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    out = []
    for i, row in enumerate(generate(300, 17, END, ORG, days=3)):
        record = helicone_row(row)
        record["response_id"] = str(uuid.UUID(int=i + 1))  # Helicone's response id differs from the request id
        record["model"] = record["request_model"]
        out.append(record)
    out[0]["request_properties"] = {"note": 'say "hi", then, leave'}  # quotes and commas inside a CSV object
    out[0]["properties"] = out[0]["request_properties"]
    return out


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def write_json(path: Path, records: list[dict]) -> Path:
    path.write_text("[\n" + ",\n".join(json.dumps(r, indent=2) for r in records) + "\n]\n")
    return path


def write_csv(path: Path, records: list[dict]) -> Path:
    def cell(value) -> str:
        if isinstance(value, (dict, list)):
            value = json.dumps(value, separators=(",", ":")).replace('"', '""')
        if value is None:
            return ""
        if isinstance(value, bool):
            value = str(value).lower()
        return '"' + str(value).replace('"', '""') + '"'

    lines = [",".join(CSV_FIELDS)] + [",".join(cell(r.get(f)) for f in CSV_FIELDS) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def _ms(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def stored(path: Path) -> dict[str, tuple]:
    store = Store(path, read_only=True)
    try:
        rows = store.fetch(
            "SELECT request_id, request_created_at, status, model, latency, user_id, prompt_tokens, "
            "completion_tokens, cost, properties, scores, request_body FROM requests WHERE organization_id = $org",
            {"org": ORG},
        )
    finally:
        store.close()
    return {r[0]: (r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], dict(r[9]), dict(r[10]), r[11]) for r in rows}


def want(records: list[dict], csv: bool = False) -> dict[str, tuple]:
    return {
        (r["response_id"] if csv else r["request_id"]): (
            _ms(r["request_created_at"]),
            r["response_status"],
            r["model"],
            None if csv else r["delay_ms"],  # the CSV's latency column is empty: Helicone's rows say delay_ms
            r["request_user_id"],
            r["prompt_tokens"],
            r["completion_tokens"],
            round(r["cost"] * 1e9),
            r["request_properties"],
            {} if csv else r["scores"],  # the CSV has no scores column
            "",  # Helicone's body placeholder is not a body
        )
        for r in records
    }


@pytest.mark.parametrize("kind", ["jsonl", "json", "csv", "csv.gz"])
def test_helicone_export_files_import_exactly(tmp_path, records, kind):
    writer = {"jsonl": write_jsonl, "json": write_json, "csv": write_csv, "csv.gz": write_csv}[kind]
    path = writer(tmp_path / f"output.{kind.removesuffix('.gz')}", records)
    if kind.endswith(".gz"):
        packed = tmp_path / f"output.{kind}"
        packed.write_bytes(gzip.compress(path.read_bytes()))
        path = packed
    store = Store(tmp_path / "h.duckdb")
    report = store.import_files([str(path)], default_org=ORG)
    again = store.import_files([str(path)], default_org=ORG)
    store.close()
    assert report.bad == [] and report.added == len(records) and again.added == 0
    assert stored(tmp_path / "h.duckdb") == want(records, csv=kind.startswith("csv"))


def test_a_resumed_json_export_and_a_bad_record(tmp_path, records):
    # A resumed export appends `,\n{...}` after the first run's closing bracket; both halves are read.
    path = write_json(tmp_path / "output.json", records[:100])
    with path.open("a") as out:
        out.write(",\n" + ",\n".join(json.dumps(r, indent=2) for r in records[100:200]) + "\n]\n")
    broken = tmp_path / "broken.json"
    broken.write_text("[\n" + json.dumps(records[0], indent=2) + ',\n{"request_id": \n]\n')
    store = Store(tmp_path / "h.duckdb")
    report = store.import_files([str(path), str(broken)], default_org=ORG)
    store.close()
    assert report.added == 200
    assert len(report.bad) == 1 and "not valid JSON" in report.bad[0].reason and report.bad[0].path == str(broken)
