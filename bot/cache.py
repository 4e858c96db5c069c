"""A TTL cache whose concurrent misses for one key share a single load."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

from cachetools import TLRUCache

from .work import Deferred, may_defer, not_deferred, resumed_from

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Load(Future[V], Generic[K, V]):
    """One load under way: which cache and key it is for."""

    def __init__(self, cache: SingleFlightCache[K, V], key: K) -> None:
        super().__init__()
        self.cache, self.key = cache, key


class SingleFlightCache(Generic[K, V]):
    """Values live for `ttl(value)` seconds; a miss already being loaded is waited for, not repeated."""

    def __init__(
        self, maxsize: int, ttl: Callable[[V], float], *, timer: Callable[[], float] = time.monotonic,
        getsizeof: Callable[[V], float] | None = None,
    ) -> None:
        # With `getsizeof`, `maxsize` bounds the sum of the values' sizes (least recently used go first).
        self._cache: TLRUCache[K, V] = TLRUCache(
            maxsize=maxsize, ttu=lambda _key, value, now: now + ttl(value), timer=timer, getsizeof=getsizeof
        )
        self._lock = threading.Lock()
        self._inflight: dict[K, _Load[K, V]] = {}
        self.loads = 0
        self.joined = 0  # misses that waited for a load already under way

    def get(self, key: K, load: Callable[[], V], *, fresh: bool = False,
            usable: Callable[[V], bool] | None = None) -> tuple[V, bool]:
        """The value for `key` and whether it came from the cache; `fresh` skips cached values, `usable`
        those it refuses (too old for this caller)."""
        resumed = resumed_from()
        if isinstance(resumed, _Load) and resumed.cache is self and resumed.key == key:
            return resumed.result(), False  # the load this job was set aside for: its value, or its error
        with self._lock:
            if not fresh:
                cached = self._cache.get(key)
                if cached is not None and (usable is None or usable(cached)):
                    return cached, True
            future = self._inflight.get(key)
            leader = future is None
            if future is None:
                future = self._inflight[key] = _Load(self, key)
                self.loads += 1
            else:
                self.joined += 1
        if not leader:
            if may_defer():  # a pool job that can be run again: its thread goes to other work meanwhile
                raise Deferred(future)
            return future.result(), False
        try:
            with not_deferred():
                value = load()
        except BaseException as error:
            future.set_exception(error)
            raise
        else:
            future.set_result(value)
            with self._lock:
                try:
                    self._cache[key] = value
                except ValueError:  # larger than the whole cache: served, never kept
                    self._cache.pop(key, None)
            return value, False
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    def replace(self, key: K, old: V, new: V) -> V:
        """Keep `new` in place of `old` if `old` (this very object) is what is kept for `key`; what is kept
        for `key` afterwards (or `new`, when nothing is)."""
        with self._lock:
            kept = self._cache.get(key)
            if kept is not old:
                return new if kept is None else kept
            try:
                self._cache[key] = new
            except ValueError:  # larger than the whole cache: served, never kept
                self._cache.pop(key, None)
            return new

    def peek(self, key: K) -> V | None:
        with self._lock:
            return self._cache.get(key)
