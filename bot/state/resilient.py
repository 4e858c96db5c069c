"""A store that never stops a lookup: when its backend fails (Redis down or slow, a full disk), the
process's memory stands in, the outage is logged once and shown as degraded, and the backend is tried
again every few seconds until it answers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from .base import Store, Stored
from .memory import MemoryStore

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0


class ResilientStore:
    """`primary`, with a MemoryStore standing in while it fails."""

    def __init__(self, primary: Store, *, clock: Callable[[], float] = time.monotonic,
                 retry_seconds: float = RETRY_SECONDS) -> None:
        self.primary = primary
        self.fallback = MemoryStore()
        self.backend = primary.backend
        self._clock = clock
        self._retry = retry_seconds
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._next_try = 0.0
        self.outages = 0

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    def _call(self, method: str, *args: Any, **options: Any) -> Any:
        # Read without the lock: while the backend answers (nearly always) a call takes no lock here, so no
        # thread waits for one that was paused holding it.
        skip = self._down_since is not None and self._clock() < self._next_try
        if not skip:
            try:
                result = getattr(self.primary, method)(*args, **options)
            except Exception as error:
                self._failed(error)
            else:
                self._answered()
                return result
        return getattr(self.fallback, method)(*args, **options)

    def _failed(self, error: Exception) -> None:
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = self._clock()
                self.outages += 1
            self._next_try = self._clock() + self._retry
        if first:
            log.warning("the %s state store failed (%s: %s): going on with in-process state (answers go on; "
                        "what this process remembers now is not shared); trying it again every %g s",
                        self.backend, type(error).__name__, str(error)[:200], self._retry)

    def _answered(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            was_down = self._down_since is not None
            self._down_since = None
        if was_down:
            log.warning("the %s state store answers again: back to shared state", self.backend)

    def claim(self, key: str, ttl: float) -> bool:
        return bool(self._call("claim", key, ttl))

    def lease(self, name: str, owner: str, ttl: float) -> bool:
        return bool(self._call("lease", name, owner, ttl))

    def release(self, name: str, owner: str) -> None:
        self._call("release", name, owner)

    def put(self, kind: str, key: str, value: str, ttl: float | None = None) -> None:
        self._call("put", kind, key, value, ttl)

    def replace(self, kind: str, key: str, old: str, new: str) -> bool:
        return bool(self._call("replace", kind, key, old, new))

    def get(self, kind: str, key: str) -> str | None:
        value = self._call("get", kind, key)
        return value if isinstance(value, str) else None

    def delete(self, kind: str, key: str) -> None:
        self._call("delete", kind, key)

    def get_or_lease(self, kind: str, key: str, name: str, owner: str, ttl: float, *,
                     take: bool = False) -> tuple[str | None, bool]:
        value, taken = self._call("get_or_lease", kind, key, name, owner, ttl, take=take)
        return (value if isinstance(value, str) else None), bool(taken)

    def hand_over(self, name: str, owner: str, topic: str, value: Stored | None = None) -> None:
        self._call("hand_over", name, owner, topic, value)

    def warm_up(self, connections: int) -> None:
        try:
            self.primary.warm_up(connections)
        except Exception as error:  # a hint only: the first real call meets the failure (and stands in)
            log.info("warming the %s state store up failed (%s)", self.backend, type(error).__name__)

    def items(self, kind: str) -> dict[str, str]:
        found = self._call("items", kind)
        return dict(found) if isinstance(found, dict) else {}

    @property
    def pushes(self) -> bool:
        return not self.degraded and self.primary.pushes

    def announce(self, topic: str) -> None:
        self._call("announce", topic)

    def listen(self, topic: str) -> AbstractContextManager[threading.Event]:
        return self.primary.listen(topic)  # a hint: while the backend is down, waiters poll

    def close(self) -> None:
        try:
            self.primary.close()
        except Exception:
            log.info("closing the %s state store failed", self.backend)
