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

    def update(self, path: str, done: int, total: int, unit: str = "MB") -> None:
        """Report `done` of `total` bytes read from `path` (or of `total` requests written, `unit="requests"`)."""
        if not self.enabled or (time.monotonic() - self._last < 0.1 and done < total):
            return
        self._last = time.monotonic()
        share = done / total if total else 0
        bar = "#" * int(share * 30)
        amount = f"{done / 1e6:.1f} MB" if unit == "MB" else f"{done:,} {unit}"
        self.stream.write(f"\r{path[-40:]}  [{bar:<30}] {share:4.0%}  {amount}")
        self.stream.flush()


class SyncProgress:
    """Draws `synced 12,345 rows (12,001 new) up to 2026-11-24T12:00:00Z  4,321 rows/s` on stderr (a terminal only)."""

    def __init__(self, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self._started = time.monotonic()
        self._last = 0.0

    def __enter__(self) -> SyncProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled and self._last:
            self.stream.write("\n")

    def update(self, report) -> None:
        """Report a `SyncReport` in progress."""
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.2:
            return
        self._last = now
        rate = report.fetched / max(now - self._started, 1e-9)
        where = f" up to {report.cursor:%Y-%m-%dT%H:%M:%SZ}" if report.cursor else ""
        skipped = f", {len(report.bad):,} skipped" if report.bad else ""
        missed = f", {len(report.bodies_missed):,} bodies refused or unread" if report.bodies_missed else ""
        self.stream.write(
            f"\rsynced {report.fetched:,} rows ({report.added:,} new{skipped}{missed}){where}  {rate:,.0f} rows/s   "
        )
        self.stream.flush()
