"""Each person's recent lookups, for their App Home: bounded, kept in the state store, shown only to them."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable

from cachetools import LRUCache

from .state import Store

KIND = "recent"
KEEP = 10
KEEP_SECONDS = 30 * 86400.0
# The same person looking the same execution up again within this time (an incident storm: Refresh,
# Show steps, the link pasted again, back and forth between a few runs) is not written again: the list
# already has it, at most a minute out of order.
SAME_SECONDS = 60.0


class RecentLookups:
    """With `defer` (a pool's submit), a lookup is written to the store after the answer, not before it: in
    a storm the store's writes queue, and an answer waiting for its turn to note itself here waited up to
    100 ms. Written within milliseconds all the same, and a person's Home is read from the store."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time,
                 defer: Callable[[Callable[[], None]], object] | None = None) -> None:
        self._store = store
        self._clock = clock
        self._defer = defer
        self._writing = threading.Lock()  # one read-then-write of a list at a time (here)
        # Per person, what this replica wrote last (at most KEEP: what is surely still in their list) and when.
        self._written: LRUCache[str, dict[tuple[str, str], float]] = LRUCache(10_000)
        self._lock = threading.Lock()

    def add(self, user: str, execution_id: str, outcome: str) -> None:
        """Remember that `user` looked `execution_id` up (the newest first, the same one once)."""
        now = self._clock()
        with self._lock:
            written = self._written.setdefault(user, {})
            last = written.get((execution_id, outcome))
            if last is not None and now - last < SAME_SECONDS:
                return
            written.pop((execution_id, outcome), None)
            written[(execution_id, outcome)] = now  # the newest last
            while len(written) > KEEP:
                del written[next(iter(written))]
        write = functools.partial(self._write, user, execution_id, outcome, now)
        if self._defer is None or self._defer(write) is False:  # False: the pool has stopped
            write()

    def _write(self, user: str, execution_id: str, outcome: str, at: float) -> None:
        with self._writing:
            entries = [e for e in self.of(user) if e[0] != execution_id]
            entries.insert(0, (execution_id, outcome, at))
            entries.sort(key=lambda e: -e[2])  # a write deferred behind a later one keeps the newest first
            self._store.put(KIND, user, json.dumps(entries[:KEEP]), ttl=KEEP_SECONDS)

    def of(self, user: str) -> list[tuple[str, str, float]]:
        raw = self._store.get(KIND, user)
        try:
            data = json.loads(raw) if raw else []
            return [(str(e[0]), str(e[1]), float(e[2])) for e in data if isinstance(e, list) and len(e) == 3][:KEEP]
        except (ValueError, TypeError):
            return []
