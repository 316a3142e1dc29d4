"""What an install costs: distributions and disk for the core and for `.[all,test]`, in fresh virtual environments.

    python benchmarks/install.py                 # core only
    python benchmarks/install.py --extras all,test

Each run makes a new venv in a temporary folder, installs this checkout editable with the given extras, and
prints how many distributions pip added, the size of site-packages (beyond a bare venv), and the seconds the
install took. For the core it also checks that `heliqa demo && heliqa ask` answers and that nothing but
`heliqa` landed at the top level (`import tools` must fail outside the checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def size(path: Path) -> int:
    """Bytes of every file under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def distributions(python: Path) -> set[str]:
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, check=True
    ).stdout
    return {d["name"].lower() for d in json.loads(listed)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--extras", default="", help="comma-separated extras, e.g. all,test (default: none, the core)")
    args = p.parse_args()
    target = f"{ROOT}[{args.extras}]" if args.extras else str(ROOT)
    with tempfile.TemporaryDirectory(prefix="heliqa-install-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        site = next((venv / "lib").glob("python3*/site-packages"))
        before, bare = distributions(python), size(site)
        started = time.perf_counter()
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", target], check=True)
        took = time.perf_counter() - started
        added = sorted(distributions(python) - before)
        shown = f"[{args.extras}]" if args.extras else ""
        print(f"pip install -e '.{shown}': {len(added)} distributions, {(size(site) - bare) / 1e6:,.0f} MB in ")
        print(f"  site-packages beyond a bare venv, {took:.0f} s")
        print("  " + " ".join(added))
        if args.extras:
            return 0
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HELIQA_", "HELICONE_", "OPENAI_"))}
        env["HELIQA_HOME"] = str(Path(tmp) / "home")
        heliqa = str(venv / "bin" / "heliqa")
        subprocess.run([heliqa, "demo", "--rows", "5000"], check=True, env=env, capture_output=True)
        asked = subprocess.run(
            [heliqa, "ask", "p90 latency by model over the last 24 hours"], env=env, capture_output=True, text=True
        )
        print(f"  heliqa demo && heliqa ask: exit {asked.returncode}; {asked.stdout.splitlines()[0]}")
        for name in ("tools", "agent", "prompts", "slack_app"):
            done = subprocess.run([str(python), "-c", f"import {name}"], cwd=tmp, capture_output=True)
            print(f"  import {name} outside the checkout: {'fails' if done.returncode else 'WORKS (leak)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
