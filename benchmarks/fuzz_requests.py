"""The big fuzz run of issue 9: N generated request bodies (default 10,000) through `heliqa query` and `heliqa serve`.

    python benchmarks/fuzz_requests.py [--bodies 10000] [--subprocess 200] [--seed 1]

Bodies come from tests/fuzz.py's generators (hypothesis, no shrinking). Each goes through `heliqa query -` in this
process (the CLI's code path, minus the interpreter start) and to a real `heliqa serve` (uvicorn on 127.0.0.1)
on one of its endpoints; `--subprocess` more go through the real `heliqa query` command. The store is a fresh
one filled by the seeded demo generator. Prints the counts of exit codes and HTTP statuses, the tracebacks and
5xx seen (there should be none), and the slowest body per entry.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
from hypothesis import HealthCheck, Phase, given, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from heliqa.serve import create_app  # noqa: E402
from heliqa.tools.demo import generate  # noqa: E402
from heliqa.tools.store import Store  # noqa: E402
from tests.fuzz import PATH_AND_BODY, SCORES_PATH, request_bodies, run_query_cli  # noqa: E402

ORG = "00000000-0000-4000-8000-00000000fa22"
KEY = "fuzz-run-key-0123456789"


def bodies(n: int, seed: int, strategy) -> list[tuple[str, bytes]]:
    """(serve path, body) pairs drawn from `strategy`."""
    out: list[tuple[str, bytes]] = []

    @given(strategy)
    @settings(
        max_examples=n,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def collect(path_and_body: tuple[str, bytes]) -> None:
        out.append(path_and_body)

    random.seed(seed)
    collect()
    return out


def serve(store: Store) -> tuple[str, object]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(store, {KEY: ORG}), log_level="critical"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=10_000)
    parser.add_argument("--subprocess", type=int, default=200, help="bodies also run through the real command")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="heliqa-fuzz-"))
    store = Store(home / "heliqa.duckdb")
    store.add_rows(generate(20_000, seed=3, end=datetime(2026, 11, 24, 12), org=ORG, days=30))
    store.close()
    import os

    os.environ["HELIQA_HOME"] = str(home)
    started = time.monotonic()
    scores_bodies = request_bodies(SCORES_PATH).map(lambda raw: (SCORES_PATH, raw))
    generated = bodies(args.bodies, args.seed, scores_bodies)  # heliqa query runs scores requests
    for_serve = bodies(args.bodies, args.seed + 1, PATH_AND_BODY)  # every endpoint's shape
    print(f"generated {len(generated) + len(for_serve):,} bodies in {time.monotonic() - started:.0f} s", flush=True)

    exits: Counter = Counter()
    tracebacks: list[tuple[bytes, str]] = []
    slowest = (0.0, b"")
    started = time.monotonic()
    for _, raw in generated:
        t0 = time.monotonic()
        try:
            code, _ = run_query_cli(raw, ORG)
            exits[code] += 1
        except BaseException as error:  # noqa: BLE001 (a traceback is what we count)
            exits["traceback"] += 1
            tracebacks.append((raw[:300], f"{type(error).__name__}: {str(error)[:200]}"))
        slowest = max(slowest, (time.monotonic() - t0, raw[:200]))
    print(f"heliqa query (in process): {len(generated):,} bodies in {time.monotonic() - started:.0f} s")
    print(f"  exit codes: {dict(sorted(exits.items(), key=str))}; slowest {slowest[0]:.2f} s")

    sub: Counter = Counter()
    for _, raw in generated[: args.subprocess]:
        done = subprocess.run(
            [sys.executable, "-m", "heliqa.cli", "query", "-", "--org", ORG], input=raw, capture_output=True, timeout=60
        )
        sub[done.returncode] += 1
        if b"Traceback" in done.stderr:
            sub["traceback"] += 1
            tracebacks.append((raw[:300], done.stderr.decode(errors="replace")[-300:]))
    if args.subprocess:
        print(f"heliqa query (subprocess): {sum(v for k, v in sub.items() if k != 'traceback'):,} bodies: {dict(sub)}")

    store = Store(home / "heliqa.duckdb", read_only=True)
    url, server = serve(store)
    statuses: Counter = Counter()
    errors5xx: list[tuple[str, bytes, str]] = []
    slowest = (0.0, b"")
    started = time.monotonic()
    rng = random.Random(args.seed)
    with httpx.Client(base_url=url, timeout=60) as http:
        for path, raw in for_serve:
            kind = "application/json" if rng.random() < 0.9 else "text/plain"
            t0 = time.monotonic()
            answer = http.post(path, content=raw, headers={"authorization": f"Bearer {KEY}", "content-type": kind})
            slowest = max(slowest, (time.monotonic() - t0, raw[:200]))
            statuses[answer.status_code] += 1
            if answer.status_code >= 500:
                errors5xx.append((path, raw[:300], answer.text[:300]))
    server.should_exit = True
    print(f"heliqa serve: {len(for_serve):,} bodies in {time.monotonic() - started:.0f} s")
    print(f"  statuses: {dict(sorted(statuses.items()))}; slowest {slowest[0]:.2f} s")
    for raw, what in tracebacks[:10]:
        print(f"TRACEBACK {what}\n  body: {raw!r}")
    for path, raw, text in errors5xx[:10]:
        print(f"5xx {path}: {text}\n  body: {raw!r}")
    print(json.dumps({"tracebacks": len(tracebacks), "5xx": len(errors5xx)}))
    return 1 if tracebacks or errors5xx else 0


if __name__ == "__main__":
    sys.exit(main())
