"""Cards of running executions refresh themselves on a bounded schedule.

One thread keeps a heap of due refreshes and hands each to the work pool; nothing runs
past its deadline, the number followed at once is capped, and stop() ends them all.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..render import CardState
from .destinations import Destination

log = logging.getLogger(__name__)

MAX_FOLLOWED = 500


@dataclass
class Follow:
    """One card being kept up to date."""

    state: CardState
    destination: Destination
    deadline: float
    signature: tuple[object, ...] | None = None
    done: bool = field(default=False)


class Follows:
    """Calls `tick(follow)` every `interval` seconds per card until it returns False or stop()."""

    def __init__(self, tick: Callable[[Follow], bool], submit: Callable[[Callable[[], None]], None],
                 interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._tick = tick
        self._submit = submit
        self.interval = interval
        self._clock = clock
        self._heap: list[tuple[float, int, Follow]] = []
        self._by_key: dict[str, Follow] = {}
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="qflow-follow", daemon=True)
        self._thread.start()

    def add(self, state: CardState, destination: Destination, seconds: float) -> Follow | None:
        """Follow a card for at most `seconds`; None when following is not possible now."""
        key = destination.key
        with self._changed:
            if self._stopped or len(self._by_key) >= MAX_FOLLOWED:
                return None
            if key and key in self._by_key:
                self._by_key[key].done = True  # the newer card of the same message wins
            follow = Follow(state, destination, self._clock() + seconds)
            if key:
                self._by_key[key] = follow
            self._push(follow)
            return follow

    def find(self, key: str) -> Follow | None:
        with self._changed:
            follow = self._by_key.get(key)
            return follow if follow and not follow.done else None

    def __len__(self) -> int:
        with self._changed:
            return sum(1 for f in self._by_key.values() if not f.done)

    def stop(self) -> None:
        """End every follow; no tick starts after this returns."""
        with self._changed:
            self._stopped = True
            for follow in self._by_key.values():
                follow.done = True
            self._heap.clear()
            self._changed.notify_all()
        self._thread.join(timeout=5)

    def _push(self, follow: Follow) -> None:
        heapq.heappush(self._heap, (self._clock() + self.interval, next(self._order), follow))
        self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._stopped and (not self._heap or self._heap[0][0] > self._clock()):
                    self._changed.wait(timeout=(self._heap[0][0] - self._clock()) if self._heap else None)
                if self._stopped:
                    return
                _, _, follow = heapq.heappop(self._heap)
            if not follow.done:
                self._submit(functools.partial(self._run_tick, follow))

    def _run_tick(self, follow: Follow) -> None:
        again = False
        try:
            again = not follow.done and self._tick(follow)
        except Exception:
            log.exception("refreshing a followed card failed; no longer following it")
        with self._changed:
            if again and not follow.done and not self._stopped:
                self._push(follow)
            else:
                follow.done = True
                key = follow.destination.key
                if key and self._by_key.get(key) is follow:
                    del self._by_key[key]
