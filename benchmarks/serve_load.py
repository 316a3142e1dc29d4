"""Load `heliqa serve` with concurrent clients sending Helicone's scores query, for a bounded time.

    python benchmarks/serve_load.py [--home DIR] [--clients 8] [--seconds 10]

Starts `heliqa serve` on 127.0.0.1 (a free port) over the store in --home (importing the shared sample there
first when it is empty), runs the clients, prints throughput, latency percentiles and the error count, and
stops the server it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "requests.jsonl.gz"
MAIN_ORG = "8f2c1a4e-6b7d-4c3e-9a1f-2d5e8b7c6a01"
KEY = "load-test-key-0123456789abcdef"
BODY = {
    "timeFilter": {"start": "2026-09-25T00:00:00.000Z", "end": "2026-11-24T12:00:00.000Z"},
    "userFilter": "all",
    "dbIncrement": "day",
    "timeZoneDifference": 300,
}


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_store(home: Path) -> None:
    """Import the sample into `home` unless its store already exists."""
    if (home / "heliqa.duckdb").exists():
        return
    print(f"importing {SAMPLE} into {home} ...", flush=True)
    env = dict(os.environ, HELIQA_HOME=str(home))
    subprocess.run([sys.executable, "-m", "heliqa.cli", "import", "--quiet", str(SAMPLE)], env=env, check=True)


def start_server(home: Path, port: int) -> subprocess.Popen:
    """`heliqa serve` in a child process; returns once /healthz answers."""
    env = dict(os.environ, HELIQA_HOME=str(home), HELIQA_SERVE_KEYS=f"{KEY}={MAIN_ORG}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "heliqa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"heliqa serve exited: {proc.stderr.read().decode()[-500:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("heliqa serve did not start within 30 s")


def client(url: str, stop_at: float, latencies: list[float], errors: list[str], lock: threading.Lock) -> None:
    """Send the scores query back to back until `stop_at`."""
    mine, bad = [], []
    with httpx.Client(headers={"authorization": f"Bearer {KEY}"}, timeout=30) as http:
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                response = http.post(url, json=BODY)
                payload = response.json()
                if response.status_code != 200 or payload.get("error") or not payload.get("data"):
                    bad.append(f"HTTP {response.status_code}: {str(payload)[:120]}")
            except (httpx.HTTPError, ValueError) as error:
                bad.append(type(error).__name__)
            mine.append(time.perf_counter() - started)
    with lock:
        latencies.extend(mine)
        errors.extend(bad)


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def main() -> int:
    """Run the load test and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="HELIQA_HOME holding the store (default: a temporary one with the sample)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="heliqa-load-") as tmp:
        home = Path(args.home or tmp)
        ensure_store(home)
        port = free_port()
        proc = start_server(home, port)
        url = f"http://127.0.0.1:{port}/v1/dashboard/scores/query"
        try:
            httpx.post(url, json=BODY, headers={"authorization": f"Bearer {KEY}"}, timeout=30)  # warm up
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            started = time.monotonic()
            stop_at = started + args.seconds
            threads = [
                threading.Thread(target=client, args=(url, stop_at, latencies, errors, lock))
                for _ in range(args.clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    ms = [x * 1000 for x in latencies]
    print(
        f"heliqa serve, scores query on the sample ({BODY['dbIncrement']} buckets, 60 days), "
        f"{args.clients} clients for {elapsed:.1f} s"
    )
    print(f"  requests: {len(ms)}  throughput: {len(ms) / elapsed:.1f} req/s  errors: {len(errors)}")
    if ms:
        print(
            f"  latency ms: p50 {percentile(ms, 50):.1f}  p90 {percentile(ms, 90):.1f}  "
            f"p99 {percentile(ms, 99):.1f}  max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}"
        )
    for error in sorted(set(errors))[:5]:
        print(f"  error: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
