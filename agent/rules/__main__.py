"""`python -m heliqa.agent.rules`: print the rule table in the order rules run, with each rule's examples."""

import json
import sys

from heliqa.agent.rules import RULES


def main() -> None:
    """Print priority, name, family module and examples of every rule."""
    for r in RULES:
        print(f"{r.priority:>5}  {r.name:<28} {r.module}")
        for question, fragment in r.examples.items():
            print(f"         {question!r:<50} -> {json.dumps(fragment)}")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:  # `... | head`: the reader has all it wanted
        sys.stderr.close()
