"""Rows per second of `heliqa sync`: one `heliqa serve` holding a sample, synced into a fresh store.

    python benchmarks/sync.py /work/shared/data/requests.jsonl.gz

Every organization of the sample gets its own serve key and its own `heliqa sync` run (as a user would).
Prints the rows, seconds and rows/s of each run and of the whole, and checks the copy holds every row.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from heliqa.tools.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tests/ helpers
from tests.servers import free_port, wait_listening  # noqa: E402


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sample", help="a JSONL(.gz) file to serve")
    parser.add_argument("--bodies", action="store_true", help="sync bodies too")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="heliqa-sync-bench-"))
    source, target = work / "source", work / "target"
    store = Store(source / "heliqa.duckdb")
    store.import_files([args.sample])
    orgs = store.organizations()
    store.close()
    keys = {f"bench-{secrets.token_hex(12)}": org for org in orgs}
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "heliqa.cli", "serve", "--port", str(port)],
        env={
            **os.environ,
            "HELIQA_HOME": str(source),
            "HELIQA_SERVE_KEYS": ",".join(f"{k}={o}" for k, o in keys.items()),
        },
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, 60)
        total_rows, total_seconds = 0, 0.0
        for key, org in keys.items():
            env = {
                **os.environ,
                "HELIQA_HOME": str(target),
                "HELICONE_API_KEY": key,
                "HELICONE_BASE_URL": f"http://127.0.0.1:{port}",
            }
            command = [sys.executable, "-m", "heliqa.cli", "sync", "--org", org, "--quiet"]
            started = time.monotonic()
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            serve_before = _cpu_seconds(serve.pid)
            done = subprocess.run(
                command + (["--bodies"] if args.bodies else []), env=env, capture_output=True, text=True
            )
            seconds = time.monotonic() - started
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            sync_cpu = cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
            serve_cpu = _cpu_seconds(serve.pid) - serve_before
            if done.returncode != 0:
                sys.stderr.write(done.stderr)
                return 1
            rows = orgs[org]
            total_rows += rows
            total_seconds += seconds
            print(
                f"{org}: {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s (process wall time); "
                f"CPU: sync {sync_cpu:.1f} s, serve {serve_cpu:.1f} s"
            )
            print(f"  {done.stdout.strip()}")
    finally:
        serve.terminate()
        serve.wait(10)
    copy = Store(target / "heliqa.duckdb", read_only=True)
    copied = copy.organizations()
    copy.close()
    assert copied == orgs, (copied, orgs)
    print(
        f"total: {total_rows:,} rows in {total_seconds:.1f} s = {total_rows / total_seconds:,.0f} rows/s; copy complete"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
