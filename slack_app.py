"""The Bolt entry point: `python slack_app.py [--http] [--port N] ...` runs heliqa's Slack app.

It is the same as `heliqa slack`; the app itself (listeners, blocks, settings) lives in `heliqa.slack`, so the
installed package stays one namespace.
"""

import sys

from heliqa.cli import main

if __name__ == "__main__":
    sys.exit(main(["slack", *sys.argv[1:]]))
