"""What `heliqa watch` keeps beside the store: series states, last evaluations, the outbox, the threads, the mutes.

Two small JSON files, each replaced atomically (a temporary file, then rename), so a kill at any point leaves the
previous or the next version, never half of one:
- `heliqa.watch.json`, written only by the watching process: per series its open incident and last verdicts, the
  last evaluation per monitor, the outbox of Slack posts not yet confirmed, and each incident's thread per channel;
- `heliqa.watch.mutes.json`, written by `heliqa watch mute` and the Slack commands (under a lock file, as several
  processes may), read by the watcher every cycle: monitors' mutes by name, digests' in its `digests` part.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from heliqa.tools.errors import ConfigError
from heliqa.tools.results import iso_z

MAX_ENDED = 500  # ended incidents kept for the digests (weeks of a noisy setup)


def write_atomic(path: Path, data: Any) -> None:
    """Replace `path` with `data` as JSON: a temporary file in the same folder, flushed, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> dict[str, Any]:
    """A state file's content ({} when there is none); ConfigError when it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read {path}: {error}", "fix or delete it (watching starts afresh)") from None
    return data if isinstance(data, dict) else {}


class WatchState:
    """The watcher's own state file."""

    def __init__(self, path: Path):
        self.path = path
        data = read_json(path)
        self.series: dict[str, Any] = data.get("series", {})
        self.last: dict[str, str] = data.get("last", {})
        self.outbox: list[dict[str, Any]] = data.get("outbox", [])
        self.threads: dict[str, dict[str, str]] = data.get("threads", {})
        self.zones: dict[str, dict[str, str]] = data.get("zones", {})  # incident id -> channel -> its post's zone
        self.monitors: list[dict[str, str]] = data.get("monitors", [])
        self.scopes: dict[str, dict[str, Any]] = data.get("scopes", {})  # incident id -> its question spec (JSON)
        self.posted: int = int(data.get("posted", 0))
        self.ended: list[dict[str, Any]] = data.get("ended", [])  # the newest MAX_ENDED ended incidents, oldest first
        self.digests: dict[str, dict[str, str | None]] = data.get("digests", {})  # digest key -> since, last period
        self.digest_list: list[dict[str, str]] | None = data.get("digest_list")  # the digests watched (commands read)

    def save(self) -> None:
        """Write everything at once, atomically."""
        write_atomic(
            self.path,
            {
                "series": self.series,
                "last": self.last,
                "outbox": self.outbox,
                "threads": self.threads,
                "zones": self.zones,
                "monitors": self.monitors,
                "scopes": self.scopes,
                "posted": self.posted,
                "ended": self.ended,
                "digests": self.digests,
                "digest_list": self.digest_list,
            },
        )

    def remember_ended(self, incident: dict[str, Any]) -> None:
        """Keep an ended incident (its JSON, by its `id`) among the newest MAX_ENDED; a later end replaces it."""
        self.ended = [i for i in self.ended if i.get("id") != incident["id"]] + [incident]
        del self.ended[:-MAX_ENDED]


def claim(path: Path):
    """Hold the store's watch lock (`heliqa.watch.lock`) for this process's life: a second watcher on the same store
    would post every incident twice. Returns the open lock file (keep it); ConfigError when another process holds it.
    The lock is the kernel's (flock), so a watcher killed with -9 leaves it free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115  (held open for the process's life)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read(40).strip()
        handle.close()
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise ConfigError(
            f"another heliqa watch{who} is already watching this store",
            "stop it first, or give this one its own HELIQA_HOME",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


class Mutes:
    """Name -> muted until (UTC instant), plus stopped (unwatched) names; shared by several processes. Monitors are
    keyed by name at the top of the file, digests by their `Digest.key` in its `digests` part (`.digests()`), so a
    monitor and a digest never share a mute whatever they are called."""

    def __init__(self, path: Path, part: str | None = None):
        self.path = path
        self.part = part

    def digests(self) -> Mutes:
        """The digests' mutes, in the same file."""
        return Mutes(self.path, "digests")

    def _of(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.part is None:
            return data
        if not isinstance(data.get(self.part), dict):
            data[self.part] = {}
        return data[self.part]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = read_json(self.path)
            yield self._of(data)
            write_atomic(self.path, data)

    def _read(self) -> dict[str, Any]:
        return self._of(read_json(self.path))

    def mute(self, name: str, until: datetime) -> None:
        """Mute `name` until `until`."""
        with self._locked() as data:
            data.setdefault("muted", {})[name] = iso_z(until)

    def unwatch(self, name: str) -> None:
        """Stop evaluating `name` (until `watch` again)."""
        with self._locked() as data:
            data["unwatched"] = sorted(set(data.get("unwatched", [])) | {name})

    def rewatch(self, name: str) -> None:
        """Evaluate `name` again and lift its mute."""
        with self._locked() as data:
            data["unwatched"] = [n for n in data.get("unwatched", []) if n != name]
            data.get("muted", {}).pop(name, None)

    def muted_until(self, name: str, now: datetime) -> datetime | None:
        """Until when `name` is muted, if it is at `now`."""
        text = self._read().get("muted", {}).get(name)
        until = datetime.fromisoformat(text.replace("Z", "")) if text else None
        return until if until and until > now else None

    def unwatched(self) -> set[str]:
        """Names not to evaluate (monitors) or post (digests)."""
        return set(self._read().get("unwatched", []))


def state_paths(home: Path) -> tuple[Path, Path]:
    """The watcher's state file and the mutes file in a store's folder."""
    return home / "heliqa.watch.json", home / "heliqa.watch.mutes.json"


def lock_path(home: Path) -> Path:
    """The lock one watcher per store holds."""
    return home / "heliqa.watch.lock"
