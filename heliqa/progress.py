"""A small stderr progress bar for imports (only drawn on a terminal)."""

from __future__ import annotations

import sys
import time


class Progress:
    """Draws `path  [#####.....]  45%  12.3 MB` on stderr while a file is read."""

    def __init__(self, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self._last = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.stream.write("\n")

    def update(self, path: str, done: int, total: int) -> None:
        """Report `done` of `total` bytes read from `path`."""
        if not self.enabled or (time.monotonic() - self._last < 0.1 and done < total):
            return
        self._last = time.monotonic()
        share = done / total if total else 0
        bar = "#" * int(share * 30)
        self.stream.write(f"\r{path[-40:]}  [{bar:<30}] {share:4.0%}  {done / 1e6:.1f} MB")
        self.stream.flush()
