"""State in the process's memory: for tests, tools, and standing in while Redis is unreachable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .base import Steps
from .signals import Announcements


class MemoryStore(Announcements, Steps):
    """Forgotten when the process ends. Bounded: expired entries are dropped as they are met."""

    backend = "memory"
    degraded = False
    pushes = True  # every waiter is in this process

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_claims: int = 200_000) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._claims: dict[str, float] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._values: dict[tuple[str, str], tuple[str, float | None]] = {}
        self._max_claims = max_claims
        Announcements.__init__(self)

    def claim(self, key: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            expires = self._claims.get(key)
            if expires is not None and expires > now:
                return False
            if len(self._claims) >= self._max_claims:
                self._claims = {k: e for k, e in self._claims.items() if e > now}
            self._claims[key] = now + ttl
            return True

    def lease(self, name: str, owner: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            held = self._leases.get(name)
            if held and held[0] != owner and held[1] > now:
                return False
            self._leases[name] = (owner, now + ttl)
            return True

    def release(self, name: str, owner: str) -> None:
        with self._lock:
            if self._leases.get(name, ("", 0.0))[0] == owner:
                del self._leases[name]

    def put(self, kind: str, key: str, value: str, ttl: float | None = None) -> None:
        with self._lock:
            self._values[(kind, key)] = (value, None if ttl is None else self._clock() + ttl)

    def replace(self, kind: str, key: str, old: str, new: str) -> bool:
        now = self._clock()
        with self._lock:
            found = self._values.get((kind, key))
            if found is None or found[0] != old or (found[1] is not None and found[1] <= now):
                return False
            self._values[(kind, key)] = (new, found[1])
            return True

    def get(self, kind: str, key: str) -> str | None:
        now = self._clock()
        with self._lock:
            found = self._values.get((kind, key))
            if found is None or (found[1] is not None and found[1] <= now):
                return None
            return found[0]

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self._values.pop((kind, key), None)

    def items(self, kind: str) -> dict[str, str]:
        now = self._clock()
        with self._lock:
            return {k: v for (c, k), (v, e) in self._values.items() if c == kind and (e is None or e > now)}

    def close(self) -> None:
        pass
