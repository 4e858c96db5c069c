"""Cards of running executions refresh themselves on a bounded schedule.

One thread keeps a heap of due refreshes and hands each to the work pool; nothing runs
past its deadline, the number followed at once is capped, and stop() ends them all.
CardFollower delivers cards and decides what each refresh shows.
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

from ..cards import Cards
from ..policy import Asker
from ..qflow import Execution, QFlowError
from ..render import CardState
from ..render.messages import following_note, following_stopped
from .destinations import Destination, ResponseUrl, send_safely

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

    def __init__(self, tick: Callable[[Follow], bool], submit: Callable[[Callable[[], None]], object],
                 interval: float, *, clock: Callable[[], float] = time.monotonic, most: int = MAX_FOLLOWED) -> None:
        self._tick = tick
        self._submit = submit
        self.interval = interval
        self._clock = clock
        self._most = most
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
            if self._stopped or len(self._by_key) >= self._most:
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


RESPONSE_URL_LIFETIME = 29 * 60.0  # Slack honours a response_url for 30 minutes


class CardFollower:
    """Delivers cards and keeps those of running executions up to date, on the Follows schedule."""

    def __init__(self, cards: Cards, submit: Callable[[Callable[[], None]], object], *, refresh_seconds: float,
                 refresh_max_minutes: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._cards = cards
        self._refresh_seconds = refresh_seconds
        self._max_seconds = refresh_max_minutes * 60
        self._clock = clock
        self.follows = Follows(self.tick, submit, refresh_seconds, clock=clock)

    def stop(self) -> None:
        self.follows.stop()

    def find(self, key: str) -> Follow | None:
        return self.follows.find(key)

    def deliver(self, state: CardState, destination: Destination, *, fresh: bool = False, follow: bool = False,
                followed: Follow | None = None, asker: Asker | None = None) -> bool:
        """Send the card for `state`; when asked and the run is still going, keep it up to date
        (`followed`: the card is already followed, and its note stays)."""
        seconds = self._follow_seconds(destination) if follow else 0.0
        left = followed.deadline - self._clock() if followed else seconds
        following = (lambda e: None if e.is_finished else self._following_note(left)) if left > 0 else None
        message, lookup = self._cards.card(state, fresh=fresh, note=following, asker=asker)
        delivered = send_safely(destination, message)
        if delivered and seconds > 0 and lookup and not lookup.execution.is_finished:
            added = self.follows.add(state, destination, seconds)
            if added:
                added.signature = _signature(lookup.execution)
        return delivered

    def tick(self, follow: Follow) -> bool:
        """One refresh of a followed card; True to keep following."""
        expired = self._clock() >= follow.deadline
        try:
            lookup = self._cards.lookup(follow.state.execution_id, fresh=True)
        except QFlowError as error:
            log.info("following %s: lookup failed (%s)", follow.state.execution_id, type(error).__name__)
            return not expired
        execution = lookup.execution
        finished = execution.is_finished
        if not finished and not expired:
            signature = _signature(execution)
            if signature == follow.signature or follow.destination.updates_left <= 1:
                return True  # nothing new to show, or keep the last send for the final state
            follow.signature = signature
        if finished:
            note = None
        elif expired:
            note = following_stopped(self._follow_seconds(follow.destination))
        else:
            note = self._following_note(follow.deadline - self._clock())
        send_safely(follow.destination, self._cards.render(lookup, follow.state, note))
        return not (finished or expired)

    def _follow_seconds(self, destination: Destination) -> float:
        seconds = self._max_seconds
        if isinstance(destination, ResponseUrl):
            seconds = min(seconds, RESPONSE_URL_LIFETIME)
        return seconds if destination.key else 0.0

    def _following_note(self, seconds: float) -> str:
        return following_note(self._refresh_seconds, seconds)


def _signature(execution: Execution) -> tuple[object, ...]:
    """What a followed card shows that can change while a run goes on."""
    steps = execution.steps or []
    return (execution.status, len(steps), tuple((s.status, s.error_text) for s in steps))
