"""Each person's recent lookups, for their App Home: bounded, kept in the state store, shown only to them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from .state import Store

KIND = "recent"
KEEP = 10
KEEP_SECONDS = 30 * 86400.0


class RecentLookups:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def add(self, user: str, execution_id: str, outcome: str) -> None:
        """Remember that `user` looked `execution_id` up (the newest first, the same one once)."""
        entries = [e for e in self.of(user) if e[0] != execution_id]
        entries.insert(0, (execution_id, outcome, self._clock()))
        self._store.put(KIND, user, json.dumps(entries[:KEEP]), ttl=KEEP_SECONDS)

    def of(self, user: str) -> list[tuple[str, str, float]]:
        raw = self._store.get(KIND, user)
        try:
            data = json.loads(raw) if raw else []
            return [(str(e[0]), str(e[1]), float(e[2])) for e in data if isinstance(e, list) and len(e) == 3][:KEEP]
        except (ValueError, TypeError):
            return []
