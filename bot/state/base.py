"""The state interface every backend keeps."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import NamedTuple, Protocol


class StateError(Exception):
    """The state store cannot be used (a corrupt or unwritable file, a refused Redis URL): says which
    and what to do, for the start-up message."""


class Stored(NamedTuple):
    """A value to put: under (`kind`, `key`), for `ttl` seconds or until deleted."""

    kind: str
    key: str
    value: str
    ttl: float | None = None


class Store(Protocol):
    """What must be remembered, atomically across the app's threads (and, for Redis, its replicas).
    Times are seconds; expiries are relative to now."""

    backend: str  # "memory", "sqlite" or "redis", for /metrics and doctor

    def claim(self, key: str, ttl: float) -> bool:
        """True for the first caller to claim `key` within `ttl` seconds, False for every later one."""
        ...

    def lease(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lease `name` for `owner` (or renew it when `owner` holds it) for `ttl` seconds;
        False while someone else holds it."""
        ...

    def release(self, name: str, owner: str) -> None:
        """Give the lease back, if `owner` holds it."""
        ...

    def put(self, kind: str, key: str, value: str, ttl: float | None = None) -> None:
        """Remember `value` under (`kind`, `key`), for `ttl` seconds or until deleted."""
        ...

    def replace(self, kind: str, key: str, old: str, new: str) -> bool:
        """Put `new` under (`kind`, `key`) only if `old` is still there (its expiry kept); False when the
        value has changed or is gone meanwhile: a read-then-write that must not bring back what another
        thread or replica removed in between."""
        ...

    def get(self, kind: str, key: str) -> str | None:
        ...

    def delete(self, kind: str, key: str) -> None:
        ...

    def items(self, kind: str) -> dict[str, str]:
        """Every live value of `kind`."""
        ...

    def get_or_lease(self, kind: str, key: str, name: str, owner: str, ttl: float, *,
                     take: bool = False) -> tuple[str | None, bool]:
        """The value under (`kind`, `key`), and whether the lease `name` was taken for `owner` in the same
        step: tried when no value is there, or whatever is there with `take`. What was stored before the
        lease was taken is the value returned."""
        ...

    def hand_over(self, name: str, owner: str, topic: str, value: Stored | None = None) -> None:
        """A load's end, in this order: `value` put when given, the lease `name` given back if `owner` holds
        it, and `topic` announced (the lease is given back and announced even when the put fails)."""
        ...

    def warm_up(self, connections: int) -> None:
        """Get ready for a burst of `connections` callers at once (Redis: connections opened, scripts loaded,
        announcements heard); a failure here is no error: the first real call will meet it."""
        ...

    def announce(self, topic: str) -> None:
        """Wake whoever waits on `topic` in `listen` (in every process that shares the store, when
        `pushes`): a hint that it changed, never the only way a waiter sees a change."""
        ...

    def listen(self, topic: str) -> AbstractContextManager[threading.Event]:
        """An event set by each announcement of `topic` while the block runs."""
        ...

    @property
    def pushes(self) -> bool:
        """True while announcements reach every process sharing the store (Redis' pub/sub, or one process's
        memory): a waiter may then look again seldom; False (an SQLite file several processes share) when
        a waiter in another process must poll."""
        ...

    @property
    def degraded(self) -> bool:
        """True while the store stands in for an unreachable one (Redis down)."""
        ...

    def close(self) -> None:
        ...


class Steps:
    """The steps a store offers over its single calls (`get_or_lease`, `hand_over`), made of those calls:
    for the stores whose calls are cheap (memory, the SQLite file). Redis does each in one round trip."""

    def get_or_lease(self: Store, kind: str, key: str, name: str, owner: str, ttl: float, *,
                     take: bool = False) -> tuple[str | None, bool]:
        value = self.get(kind, key)
        if value is not None and not take:
            return value, False
        if not self.lease(name, owner, ttl):
            return value, False
        return self.get(kind, key), True  # stored just before the lease was free?

    def hand_over(self: Store, name: str, owner: str, topic: str, value: Stored | None = None) -> None:
        try:
            if value is not None:
                self.put(*value)
        finally:
            self.release(name, owner)
            self.announce(topic)

    def warm_up(self, connections: int) -> None:
        pass
