"""Shared access to one DuckDB file by many processes: readers hold it until a writer wants it, writers briefly.

DuckDB lets several processes read a file only while no process has it open for writing, and a process that
has it open read-only keeps every writer out. So every heliqa process leases the file instead of owning it:

- A process opens one connection per store file (every `Store` on that path in the process shares it) and its
  threads read through cursors of it, so a long-running server keeps its warm cache between questions.
- A writer (an import batch, a sync, a repair) first takes the *gate*, an exclusive `flock` on `<store>.gate`,
  then opens the file for writing, runs one transaction, closes the file (DuckDB checkpoints) and lets the gate
  go. The gate also puts writers of different processes in line, one transaction at a time.
- Each process with the file open watches the gate from a background thread; when a writer in another process
  holds it, the process closes its connection as soon as its reads in flight finish, and later reads wait
  (bounded) for the gate to be free and reopen. Inside the writing process, reads keep running on cursors of
  the write connection (DuckDB's MVCC shows them the last commit).

flock locks die with their process, so a killed writer never leaves the store locked.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from heliqa.tools.errors import BackendError

POLL_SECONDS = 0.02  # how often a waiting process retries, and how often an open one looks at the gate


def wait_seconds() -> float:
    """How long a read or a write waits for the other side before giving up (`HELIQA_STORE_WAIT`, default 120 s)."""
    from heliqa.tools.settings import settings  # validated there: a positive, finite number of seconds

    return settings().heliqa_store_wait


def _locked_out(error: duckdb.Error) -> bool:
    return isinstance(error, duckdb.IOException) and "Could not set lock" in str(error)


class Lease:
    """The connection one process holds on one store file, given up whenever another process wants to write."""

    _leases: dict[Path, Lease] = {}
    _leases_lock = threading.Lock()

    @classmethod
    def of(cls, path: Path) -> Lease:
        """The process-wide lease of this file (one DuckDB instance per file per process)."""
        key = path.resolve()
        with cls._leases_lock:
            if key not in cls._leases:
                cls._leases[key] = cls(key)
            return cls._leases[key]

    def __init__(self, path: Path):
        self.path = path
        self.gate = path.with_name(path.name + ".gate")
        self._cond = threading.Condition()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._writable = False
        self._readers = 0  # reads in flight on this process's connection
        self._switching = False  # a thread is opening or closing the connection; others wait
        self._generation = 0  # bumped at every close: cursors of an older connection are dead
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._local = threading.local()
        self._write_mutex = threading.Lock()  # one writer per process at a time
        self._writing_here = False
        self._on_open: list[weakref.WeakMethod] = []
        self._watcher: threading.Thread | None = None

    @property
    def generation(self) -> int:
        """Bumped whenever this process closes the file: what was read before may since have changed."""
        return self._generation

    @property
    def is_open(self) -> bool:
        """True while this process has the file open."""
        return self._con is not None

    def on_open(self, callback: Callable[[], None]) -> None:
        """Call `callback` (a bound method, held weakly) whenever the file is closed or opened: data may change."""
        self._on_open.append(weakref.WeakMethod(callback))

    # --- the gate ---------------------------------------------------------------------------------------
    def writer_elsewhere(self) -> bool:
        """True while a writer of another process (or another Store of this one) holds the gate."""
        try:
            fd = os.open(self.gate, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing the descriptor drops a shared lock taken just above

    @contextmanager
    def _gate_held(self, what: str) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.gate, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + wait_seconds()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise BackendError(
                            f"{what}: another heliqa process kept writing to {self.path} for {wait_seconds():.0f} s",
                            "try again when the other import or sync finishes (HELIQA_STORE_WAIT sets the wait)",
                        ) from None
                    time.sleep(POLL_SECONDS)
            yield
        finally:
            os.close(fd)  # releases the lock too

    # --- the connection ---------------------------------------------------------------------------------
    def _busy(self, writable: bool, what: str) -> BackendError:
        side = "writing to" if not writable else "reading"
        return BackendError(
            f"{what}: the store {self.path} stayed busy for {wait_seconds():.0f} s (another process is {side} it)",
            "an import, sync or server of an older heliqa, or another DuckDB client, may hold it; "
            "try again when it finishes (HELIQA_STORE_WAIT sets the wait)",
        )

    def _try_connect(self, writable: bool) -> duckdb.DuckDBPyConnection | None:
        """Open the file, or None while another process has it open in a conflicting mode."""
        try:
            con = duckdb.connect(str(self.path), read_only=not writable)
        except duckdb.Error as error:
            if _locked_out(error):
                return None
            raise BackendError(f"cannot open the store {self.path}: {error}") from None
        con.execute("SET enable_progress_bar = false")  # heliqa draws its own; DuckDB's would leak out
        return con

    def _close_locked(self) -> None:
        """Close the connection and every cursor; the caller holds `_switching` with no reads in flight."""
        for cursor in self._cursors:
            try:
                cursor.close()
            except duckdb.Error:
                pass
        self._cursors.clear()
        con, self._con = self._con, None
        self._generation += 1
        self._changed()  # while the file is closed here, other processes may write
        if con is not None:
            try:
                con.close()  # a write connection checkpoints here
            except duckdb.Error:
                pass  # an invalidated database (disk full) cannot checkpoint; its WAL is replayed at the next open

    def _switch(self, change: Callable[[], None]) -> None:
        """Run `change` (open or close) alone: wait for other switches and for reads in flight to finish."""
        with self._cond:
            while self._switching:
                self._cond.wait()
            self._switching = True
            while self._readers:
                self._cond.wait()
        try:
            change()
        finally:
            with self._cond:
                self._switching = False
                self._cond.notify_all()

    def release(self) -> None:
        """Close the file now (after reads in flight); the next read reopens it."""
        self._switch(self._close_locked)

    def _changed(self) -> None:
        for ref in list(self._on_open):
            callback = ref()
            if callback is None:
                self._on_open.remove(ref)
            else:
                callback()

    def _opened(self, con: duckdb.DuckDBPyConnection, writable: bool) -> None:
        self._con, self._writable = con, writable
        self._changed()
        with self._cond:
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name=f"heliqa-lease-{self.path.name}", daemon=True)
                self._watcher.start()

    def _watch(self) -> None:
        """While the file is open here, give it up whenever a writer elsewhere waits for it."""
        while True:
            time.sleep(POLL_SECONDS)
            with self._cond:
                if self._con is None and not self._switching:
                    self._watcher = None  # decided under the condition: _opened starts a new one if needed
                    return
            if not self._writing_here and self._con is not None and self.writer_elsewhere():
                self._switch(lambda: None if self._writing_here else self._close_locked())

    def connection(self, writable: bool, what: str = "opening the store") -> duckdb.DuckDBPyConnection:
        """The open connection (any mode), else one opened in this mode, waiting (bounded) while a writer works.

        A reader waits for the gate without blocking this process's other threads, so a writer of this
        process can open its connection meanwhile, and the reader then reads through that.
        """
        deadline = time.monotonic() + wait_seconds()
        while True:
            con = self._con
            if con is not None:
                return con
            if writable or not (self._writing_here or self.writer_elsewhere()):

                def open_it() -> None:
                    if self._con is None and (con := self._try_connect(writable)) is not None:
                        self._opened(con, writable)

                self._switch(open_it)
                if self._con is not None:
                    return self._con
            if time.monotonic() > deadline:
                raise self._busy(writable, what)
            time.sleep(POLL_SECONDS)

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """This thread's cursor of the open connection, held open (not given up to a writer) until the block ends."""
        while True:
            with self._cond:
                while self._switching:
                    self._cond.wait()
                if self._con is not None:
                    self._readers += 1
                    break
            self.connection(writable=False, what="reading the store")
        try:
            cursor = getattr(self._local, "cursor", None)
            if cursor is None or self._local.generation != self._generation:
                with self._cond:
                    cursor = self._con.cursor()  # type: ignore[union-attr]
                    self._cursors.append(cursor)
                self._local.cursor, self._local.generation = cursor, self._generation
            yield cursor
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self, what: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """The file open for writing, alone among processes, for one transaction; closed again afterwards."""
        with self._write_mutex, self._gate_held(what):
            self._writing_here = True
            try:

                def reopen() -> None:
                    if self._con is not None and not self._writable:
                        self._close_locked()
                    deadline = time.monotonic() + wait_seconds()
                    while self._con is None:  # readers elsewhere close within POLL_SECONDS of their last read
                        if (con := self._try_connect(True)) is not None:
                            self._opened(con, True)
                        elif time.monotonic() > deadline:
                            raise self._busy(True, what)
                        else:
                            time.sleep(POLL_SECONDS)

                self._switch(reopen)
                try:
                    yield self._con  # type: ignore[misc]
                finally:
                    self.release()  # checkpoint and let readers of other processes back in
            finally:
                self._writing_here = False
