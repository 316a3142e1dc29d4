"""The one vocabulary cache every backend uses: entries expire after a TTL, so a long-running app sees new names."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

VOCABULARY_TTL_S = 300.0  # a model first used a few minutes ago is known to questions asked after this


class TtlCache(Generic[V]):
    """Values by key, each loaded on first use and again once `ttl` seconds have passed (thread-safe)."""

    def __init__(self, ttl: float = VOCABULARY_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        """The cached value for `key`, or `load()`'s (kept until the TTL passes)."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > self.clock():
            return entry[1]
        value = load()  # outside the lock: a slow backend must not hold up other keys
        with self._lock:
            self._entries[key] = (self.clock() + self.ttl, value)
        return value

    def clear(self) -> None:
        """Forget every value (after a write that changes them)."""
        with self._lock:
            self._entries.clear()
