"""Explaining one user's cost spike: most of that user's hours cost nothing, and they count as nothing.

Hand-built rows: a light user who makes a small gpt-4o-mini call every third hour for eight days, then a burst of
large gpt-4 calls over three hours. The expected window and driver come from how the rows were built.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.tools.store import Store

ORG = "00000000-0000-4000-8000-0000000c0575"
NOW = datetime(2026, 11, 24, 20, tzinfo=UTC)
BURST = (datetime(2026, 11, 24, 13, tzinfo=UTC), datetime(2026, 11, 24, 16, tzinfo=UTC))


def _row(i: int, at: datetime, user: str, model: str, cost: float) -> dict:
    return {
        "request_id": f"00000000-0000-4000-8000-{i:012d}",
        "organization_id": ORG,
        "request_created_at": at.isoformat().replace("+00:00", "Z"),
        "response_created_at": (at + timedelta(seconds=1)).isoformat().replace("+00:00", "Z"),
        "latency": 1000,
        "status": 200,
        "model": model,
        "provider": "OPENAI",
        "user_id": user,
        "prompt_tokens": 100,
        "completion_tokens": 100,
        "total_tokens": 200,
        "cost": cost,
        "country_code": "US",
        "properties": {},
        "scores": {},
        "request_body": "{}",
        "response_body": "{}",
    }


def _rows() -> list[dict]:
    rows = []
    start = NOW - timedelta(days=8)
    hour = start
    while hour < NOW:  # the light user: one small call every third hour; another user every hour
        if (hour - start) // timedelta(hours=1) % 3 == 0:
            rows.append(_row(len(rows), hour + timedelta(minutes=7), "user_light", "gpt-4o-mini", 0.001))
        rows.append(_row(len(rows), hour + timedelta(minutes=31), "user_other", "gpt-4o-mini", 0.001))
        hour += timedelta(hours=1)
    for k in range(60):  # the burst: 60 large gpt-4 calls spread over three hours
        at = BURST[0] + (BURST[1] - BURST[0]) * (k + 0.5) / 60
        rows.append(_row(len(rows), at, "user_light", "gpt-4", 0.2))
    return rows


def test_one_users_cost_spike_over_mostly_empty_hours(tmp_path):
    store = Store(tmp_path / "heliqa.duckdb")
    store.add_rows(_rows())
    answer = Conversation(store, make_planner("rules"), ORG, ZoneInfo("UTC"), NOW).ask(
        "why is user_light spending so much today"
    )
    store.close()
    result = answer.to_json()
    assert result["status"] == "ok" and result["kind"] == "explain", result["message"]
    assert result["window"] == {"start": "2026-11-24T13:00:00Z", "end": "2026-11-24T16:00:00Z"}
    assert (result["data"][0]["dimension"], result["data"][0]["value"]) == ("model", "gpt-4")
