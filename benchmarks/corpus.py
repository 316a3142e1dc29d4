"""The generated wording corpus at full size: answered share and wrong answers per slot family, on both vocabularies.

python benchmarks/corpus.py                      # 6,000 questions per vocabulary (seed 1)
python benchmarks/corpus.py --count 12000 --seed 2 --examples 5

A question is *answered* when the offline planner's spec (forms, then rules) means exactly what the question's
slots mean, *asked* when it asks back, and *wrong* otherwise (another meaning, a refusal, or an exception).
The goal is 0 wrong.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the corpus lives with the tests


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=6000, help="questions per vocabulary")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--examples", type=int, default=3, help="wrong answers to print per family")
    args = ap.parse_args()
    from heliqa.agent.forms import FormsPlanner
    from heliqa.agent.rules import RulesPlanner
    from tests import corpus

    planner, wrong = FormsPlanner(RulesPlanner()), 0
    for name in corpus.VOCABULARIES:
        t0 = time.perf_counter()
        tally = corpus.run(planner, name, args.count, args.seed)
        seconds = time.perf_counter() - t0
        print(
            f"{name}: {args.count:,} questions, answered {tally.share():.1%}, "
            f"wrong {sum(tally.wrong.values())} ({seconds:.1f} s)"
        )
        print(f"  {'family':12} {'n':>5} {'answered':>9} {'asked':>6} {'wrong':>6}")
        for family in corpus.FAMILIES:
            print(
                f"  {family:12} {tally.total(family):5} {tally.share(family):9.1%} "
                f"{tally.asked[family]:6} {tally.wrong[family]:6}"
            )
        for family, examples in tally.examples.items():
            for example in examples[: args.examples]:
                print(f"    wrong [{family}] {example[:400]}")
        wrong += sum(tally.wrong.values())
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
