"""State in an SQLite file (standard library `sqlite3`, WAL mode): survives restarts, shared by the
processes of one host. Each thread has its own connection: SQLite's own locks (held only inside a
statement) keep them apart, where one shared connection behind a Python lock made a storm's acks queue
behind threads that held the lock while they waited for the interpreter."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from .base import StateError, Steps
from .signals import Announcements

SCHEMA_VERSION = 1
# Each version's statements, applied in order to a file at the version before.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE claims (key TEXT PRIMARY KEY, expires REAL NOT NULL)",
        "CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL)",
        "CREATE TABLE kv (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires REAL,"
        " PRIMARY KEY (kind, key))",
        "CREATE INDEX claims_expiry ON claims (expires)",
    ),
}
_SWEEP_EVERY = 1000  # claims between two sweeps of expired rows


def _problem(path: str, error: sqlite3.Error) -> StateError:
    text = str(error).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        why = ("is not a usable SQLite database (corrupt, or another kind of file). Move it away (the app starts "
               "afresh without it) or point QFLOW_STATE_FILE at another file")
    elif "readonly" in text or "unable to open" in text or "permission" in text or "disk" in text:
        why = ("cannot be written. Check that its folder exists, that the app's user may write there, and that "
               "the disk has room; or point QFLOW_STATE_FILE at another file")
    else:
        why = f"cannot be used ({type(error).__name__}: {str(error)[:200]})"
    return StateError(f"The state file {os.path.abspath(path)} (QFLOW_STATE_FILE) {why}.")


class SqliteStore(Announcements, Steps):
    """The embedded default store."""

    backend = "sqlite"
    degraded = False
    pushes = False  # announcements wake this process's waiters only: the other processes on the file poll

    def __init__(self, path: str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._claims_since_sweep = 0
        self._local = threading.local()
        self._lock = threading.Lock()  # guards the list of connections, never a statement
        self._writing = threading.Lock()  # one writing statement at a time in this process
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._closed = False
        Announcements.__init__(self)
        try:
            db = self._connect()
        except sqlite3.Error as error:
            raise _problem(path, error) from None
        try:
            db.execute("PRAGMA journal_mode = WAL")  # kept in the file: every connection uses it
            self._migrate(db)
            db.execute("DELETE FROM claims WHERE expires <= ?", (self._clock(),))  # proves it writes
        except sqlite3.Error as error:
            self.close()
            raise _problem(path, error) from None

    def _connect(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            # The connections of threads that have ended are closed: a descriptor per thread ever seen
            # would otherwise accumulate.
            ended = [(thread, db) for thread, db in self._connections if not thread.is_alive()]
            for entry in ended:
                self._connections.remove(entry)
                entry[1].close()
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            self._connections.append((threading.current_thread(), db))
        db.execute("PRAGMA busy_timeout = 10000")
        # WAL with NORMAL: no sync on every commit (a claim on the ack path costs microseconds), and still
        # never corrupt; a power cut may forget the last claims, which Slack's retries cannot outlive.
        db.execute("PRAGMA synchronous = NORMAL")
        self._local.db = db
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StateError(f"The state file {os.path.abspath(self.path)} (QFLOW_STATE_FILE) was written by a newer "
                             f"version of the app (schema {version}, this one knows {SCHEMA_VERSION}): run that "
                             "version, or point QFLOW_STATE_FILE at another file.")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[target]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        db = getattr(self._local, "db", None) or self._connect()
        return db.execute(sql, args)

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """A statement that writes: this process's writers take turns here. SQLite lets one write at a time
        and makes the others sleep and try again (1, 2, 5, 10… ms: measured in a storm's first burst, its
        claims took 25-45 ms each); a writer waiting here goes on the moment the one before it is done."""
        with self._writing:
            return self._run(sql, args)

    def claim(self, key: str, ttl: float) -> bool:
        now = self._clock()
        changed = self._write(
            "INSERT INTO claims (key, expires) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires = excluded.expires"
            " WHERE claims.expires <= ?", (key, now + ttl, now)).rowcount
        self._claims_since_sweep += 1
        if self._claims_since_sweep >= _SWEEP_EVERY:
            self._claims_since_sweep = 0
            self._write("DELETE FROM claims WHERE expires <= ?", (now,))
        return changed == 1

    def lease(self, name: str, owner: str, ttl: float) -> bool:
        now = self._clock()
        return self._write(
            "INSERT INTO leases (name, owner, expires) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
            " owner = excluded.owner, expires = excluded.expires WHERE leases.owner = excluded.owner"
            " OR leases.expires <= ?", (name, owner, now + ttl, now)).rowcount == 1

    def release(self, name: str, owner: str) -> None:
        self._write("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def put(self, kind: str, key: str, value: str, ttl: float | None = None) -> None:
        expires = None if ttl is None else self._clock() + ttl
        self._write("INSERT INTO kv (kind, key, value, expires) VALUES (?, ?, ?, ?) ON CONFLICT (kind, key) DO UPDATE"
                  " SET value = excluded.value, expires = excluded.expires", (kind, key, value, expires))

    def replace(self, kind: str, key: str, old: str, new: str) -> bool:
        return self._write("UPDATE kv SET value = ? WHERE kind = ? AND key = ? AND value = ? AND (expires IS NULL OR"
                           " expires > ?)", (new, kind, key, old, self._clock())).rowcount == 1

    def get(self, kind: str, key: str) -> str | None:
        row = self._run("SELECT value FROM kv WHERE kind = ? AND key = ? AND (expires IS NULL OR expires > ?)",
                        (kind, key, self._clock())).fetchone()
        return row[0] if row else None

    def delete(self, kind: str, key: str) -> None:
        self._write("DELETE FROM kv WHERE kind = ? AND key = ?", (kind, key))

    def items(self, kind: str) -> dict[str, str]:
        rows = self._run("SELECT key, value FROM kv WHERE kind = ? AND (expires IS NULL OR expires > ?)",
                         (kind, self._clock())).fetchall()
        return dict(rows)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for _, db in connections:
            db.close()
