"""Follow slots, fair: a person, a channel and the whole app each have a cap on the cards followed at once
(and watches have their own). Counted from the followed cards' records in the store (every replica's),
plus the slots this replica has promised to cards being sent now."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cachetools import LRUCache

from ..state import Store

Facts = tuple[str | None, str | None, bool]  # a followed card's user, channel, and whether it is a watch


class Slots:
    """This replica's count of follow slots: what the store holds, plus what it has promised."""

    def __init__(self, store: Store, kind: str, *, most: int, per_person: int, per_channel: int) -> None:
        self._store, self._kind = store, kind
        self._most, self._per_person, self._per_channel = most, per_person, per_channel
        self._lock = threading.Lock()
        self._reserved: Counter[str] = Counter()  # slots promised to cards being sent now
        self._handing: Counter[str] = Counter()  # keys of cards in the store whose slot is still reserved
        self._facts: LRUCache[str, Facts] = LRUCache(max(64, 4 * most))
        self._facts_lock = threading.Lock()
        self._added = 0  # cards this replica has added: a count read outside the lock is checked against it
        self._stopped = False

    def stop(self) -> None:
        """No slot is given after this (the app is stopping)."""
        with self._lock:
            self._stopped = True

    def reserve(self, user: str | None, channel: str | None) -> bool:
        """A slot for one more card of `user` in `channel`, if the caps allow; release() it when done."""

        def decide(follows: list[Facts]) -> bool:
            people = Counter(user for user, _, _ in follows)
            channels = Counter(channel for _, channel, _ in follows)
            total = len(follows) + self._reserved["*"]
            if (total >= self._most or (user and people[user] + self._reserved[f"u:{user}"] >= self._per_person)
                    or (channel and channels[channel] + self._reserved[f"c:{channel}"] >= self._per_channel)):
                return False
            self._reserved.update(["*", f"u:{user}", f"c:{channel}"])
            return True

        return self._counted(decide)

    def reserve_watch(self, most: int) -> bool:
        """A slot for one more watch, while fewer than `most` are active (release_watch() it when done)."""

        def decide(follows: list[Facts]) -> bool:
            if sum(1 for _, _, watched in follows if watched) + self._reserved["watch"] >= most:
                return False
            self._reserved.update(["watch"])
            return True

        return self._counted(decide)

    def watch_count(self) -> int:
        return sum(1 for _, _, watched in self._whose().values() if watched)

    def _counted(self, decide: Callable[[list[Facts]], bool]) -> bool:
        """`decide` (under the lock) on the followed cards as the store has them, counting every card this
        replica added meanwhile. The store is read outside the lock, then read again if a card was added
        while it was read (a slot released after its card was added would otherwise be counted by
        neither); the last try reads it under the lock. Holding the lock across every read made a storm's
        cards queue behind a thread that held it while it waited for the interpreter."""
        for _ in range(2):
            with self._lock:
                seen = self._added
            follows = self._whose()
            with self._lock:
                if self._stopped:
                    return False
                if self._added == seen:
                    return decide(self._uncounted(follows))
        with self._lock:
            return False if self._stopped else decide(self._uncounted(self._whose()))

    def _uncounted(self, follows: dict[str, Facts]) -> list[Facts]:
        """The cards not counted yet (under the lock): one being added with its reserved slot counts as that
        slot until `adding` gives it back."""
        return [facts for key, facts in follows.items() if key not in self._handing]

    def _whose(self) -> dict[str, Facts]:
        """(user, channel, watched) of each followed card, for the slot counts: each record is parsed once
        (a storm reserves a slot per card; parsing hundreds of records each time would cost milliseconds)."""
        found = {}
        for key, raw in self._store.items(self._kind).items():
            with self._facts_lock:
                facts = self._facts.get(raw)
            if facts is None:
                try:
                    data = json.loads(raw)
                    user, channel, watcher = data.get("user"), data.get("channel"), data.get("watcher")
                except (ValueError, AttributeError, RecursionError):
                    continue  # unreadable: the schedule drops it
                facts = (user if isinstance(user, str) else None, channel if isinstance(channel, str) else None,
                         isinstance(watcher, str) and bool(watcher))
                with self._facts_lock:
                    self._facts[raw] = facts
            found[key] = facts
        return found

    def release_watch(self) -> None:
        with self._lock:
            self._reserved.subtract(["watch"])
            self._reserved = +self._reserved

    def release(self, user: str | None, channel: str | None) -> None:
        with self._lock:
            self._release(user, channel)

    def _release(self, user: str | None, channel: str | None) -> None:
        self._reserved.subtract(["*", f"u:{user}", f"c:{channel}"])
        self._reserved = +self._reserved

    @contextmanager
    def adding(self, key: str, slot: tuple[str | None, str | None] | None) -> Iterator[None]:
        """Around the store's write of a followed card. With `slot` (what reserve() gave it), the slot becomes
        the card: given back the moment the card is in the store, and never counted twice meanwhile (a
        storm's eleventh card from one person was refused a slot while ten were free: the tenth, stored
        and still reserved, counted twice)."""
        if slot is not None:
            with self._lock:
                self._handing[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._added += 1
                if slot is not None:
                    self._handing[key] -= 1
                    self._handing = +self._handing
                    self._release(*slot)
