"""Each Slack request acted on once: a replayed signature or a redelivered event is refused. The ack path
asks this process's memory only (a lock and a dict); the state store (shared by replicas, kept across
restarts) is asked by the request's work on the pool, before it does anything. Asked on the ack path, the
store's write (a file lock, or a round trip to Redis) was the costliest step of an ack in a storm.

So a request this process has seen is refused in its ack (401 for a replay; an event's redelivery is
acknowledged and dropped), and one another replica, or this one before a restart, has seen is acknowledged
and then dropped by its work, which never starts: nothing is answered twice either way."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cachetools import TLRUCache

from ..state import Store

log = logging.getLogger(__name__)
# Remembered in memory per process (each key is a few hundred bytes); past this, the oldest are forgotten
# here and the state store still refuses them.
MOST_REMEMBERED = 20_000


class SeenHere:
    """The requests this process has taken, each for its own time."""

    def __init__(self, most: int = MOST_REMEMBERED, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._seen: TLRUCache[str, float] = TLRUCache(most, ttu=lambda _key, ttl, now: now + ttl, timer=timer)
        self._lock = threading.Lock()

    def first(self, key: str, ttl: float) -> bool:
        """True the first time `key` is seen within `ttl` seconds."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = ttl
            return True


class Claim:
    """A request's claim in the state store, made once by the first of its jobs to run."""

    def __init__(self, store: Store, key: str, ttl: float, refused: Callable[[], None]) -> None:
        self._store, self._key, self._ttl, self._refused = store, key, ttl, refused
        self._lock = threading.Lock()
        self._granted: bool | None = None

    def granted(self) -> bool:
        with self._lock:
            if self._granted is None:
                self._granted = self._store.claim(self._key, self._ttl)
                if not self._granted:
                    self._refused()
            return self._granted


_pending: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("qflow_claim", default=None)


@contextmanager
def request_scope() -> Iterator[None]:
    """Around the handling of one request (middleware, then listeners): a claim pended in it is gone after."""
    token = _pending.set(None)
    try:
        yield
    finally:
        _pending.reset(token)


def pend(claim: Claim) -> None:
    """The work this request submits from now on (in its `request_scope`) is gated by `claim`."""
    _pending.set(claim)


def gated(job: Callable[..., Any]) -> Callable[..., Any]:
    """`job`, run only if the request that submitted it holds its claim (jobs submitted outside a request,
    and jobs those jobs submit, run as they are)."""
    claim = _pending.get()
    if claim is None:
        return job

    def run(*args: Any) -> None:
        _pending.set(None)  # this job's own context (a copy): what it submits is part of the same request
        if claim.granted():
            job(*args)

    return run
