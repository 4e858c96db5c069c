"""Followed cards as records in the state store, and each replica's share of refreshing them.

Every replica scans the records; a due card is refreshed by the one replica that holds its lease,
renewed at each refresh and lapsing after two intervals, so another replica (or the restarted app)
takes it over. Follow slots are fair: a person, a channel and the whole app each have a cap.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from cachetools import LRUCache
from slack_sdk import WebClient

from ..render import BadButtonValue, CardState, parse_state
from ..state import Store
from .destinations import Destination, ResponseUrl, destination_from

log = logging.getLogger(__name__)

MAX_FOLLOWED = 500
MAX_PER_PERSON = 10
MAX_PER_CHANNEL = 25
KIND = "follow"
Facts = tuple[str | None, str | None, bool]  # a followed card's user, channel, and whether it is a watch
LEASE_INTERVALS = 2.0  # a lease lapses after this many refresh intervals without a refresh


@dataclass
class Follow:
    """One card being kept up to date."""

    key: str
    state: CardState
    destination: Destination
    deadline: float  # wall-clock seconds: it survives a restart
    user: str | None = None
    channel: str | None = None
    signature: str | None = None
    due: float = 0.0
    version: str = field(default_factory=lambda: uuid.uuid4().hex)
    watcher: str | None = None  # a watch (`/qflow watch`): who started it; a thread reply when the run ends
    since: float | None = None
    stored: str | None = field(default=None, compare=False, repr=False)  # the record as last read or written

    def record(self) -> str:
        return json.dumps({"state": self.state.to_value(), "destination": self.destination.describe(),
                           "deadline": self.deadline, "user": self.user, "channel": self.channel,
                           "signature": self.signature, "due": self.due, "version": self.version,
                           "watcher": self.watcher, "since": self.since})


def follow_from(key: str, raw: str, client: WebClient, response_url: Callable[..., ResponseUrl]) -> Follow | None:
    """The Follow a record holds, or None for a record this version cannot use (it is then dropped)."""
    try:
        data = json.loads(raw)
        state = parse_state(data.get("state"))
    except (ValueError, BadButtonValue, AttributeError, RecursionError):
        return None
    destination = destination_from(data.get("destination"), client, response_url)
    deadline, due = data.get("deadline"), data.get("due")
    if destination is None or not isinstance(deadline, int | float) or not isinstance(due, int | float):
        return None

    def text(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) else None

    since = data.get("since")
    return Follow(key, state, destination, float(deadline), text("user"), text("channel"), text("signature"),
                  float(due), text("version") or uuid.uuid4().hex, text("watcher"),
                  float(since) if isinstance(since, int | float) else None)


class Follows:
    """The followed cards in the store, and this replica's share of refreshing them."""

    def __init__(self, store: Store, tick: Callable[[Follow], bool], submit: Callable[[Callable[[], None]], object],
                 interval: float, restore: Callable[[str, str], Follow | None], *,
                 clock: Callable[[], float] = time.time, most: int = MAX_FOLLOWED, per_person: int = MAX_PER_PERSON,
                 per_channel: int = MAX_PER_CHANNEL, run: bool = True) -> None:
        self._store = store
        self._tick = tick
        self._submit = submit
        self.interval = interval
        self._restore = restore
        self._clock = clock
        self._most, self._per_person, self._per_channel = most, per_person, per_channel
        self.owner = uuid.uuid4().hex  # this replica, for leases
        self._lock = threading.Lock()
        self._running: set[str] = set()  # refreshes this replica has under way
        self._reserved: Counter[str] = Counter()  # slots promised to cards being sent now
        self._handing: Counter[str] = Counter()  # keys of cards in the store whose slot is still reserved
        self._facts: LRUCache[str, Facts] = LRUCache(max(64, 4 * most))
        self._facts_lock = threading.Lock()
        self._added = 0  # cards this replica has added: a count read outside the lock is checked against it
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="qflow-follow", daemon=True)
        if run:  # False: the caller drives the schedule (start_due), as tests do
            self._thread.start()

    # --- slots ----------------------------------------------------------------------------------

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
        slot until add() gives it back."""
        return [facts for key, facts in follows.items() if key not in self._handing]

    def _whose(self) -> dict[str, Facts]:
        """(user, channel, watched) of each followed card, for the slot counts: each record is parsed once
        (a storm reserves a slot per card; parsing hundreds of records each time would cost milliseconds)."""
        found = {}
        for key, raw in self._store.items(KIND).items():
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

    # --- records ----------------------------------------------------------------------------------

    def add(self, follow: Follow, slot: tuple[str | None, str | None] | None = None) -> None:
        """Follow a card (a newer card of the same message replaces the older); this replica refreshes it.
        `slot`: the (user, channel) reserve() gave it a slot for; the slot becomes the card, given back the
        moment the card is in the store, and never counted twice meanwhile (a storm's eleventh card from one
        person was refused a slot while ten were free: the tenth, stored and still reserved, counted twice)."""
        follow.due = self._clock() + self.interval
        follow.stored = follow.record()
        if slot is not None:
            with self._lock:
                self._handing[follow.key] += 1
        try:
            self._store.put(KIND, follow.key, follow.stored)
        finally:
            with self._lock:
                self._added += 1
                if slot is not None:
                    self._handing[follow.key] -= 1
                    self._handing = +self._handing
                    self._release(*slot)
        self._store.lease(self._lease(follow.key), self.owner, self.interval * LEASE_INTERVALS)
        self._wake.set()

    def update(self, follow: Follow) -> bool:
        """Keep following, now showing what the reader chose through the newest destination; False (and
        nothing written) when the card stopped being followed meanwhile (unwatched, or its run ended): a
        stopped watch is never brought back."""
        follow.version = uuid.uuid4().hex
        record = follow.record()
        if follow.stored is None or not self._store.replace(KIND, follow.key, follow.stored, record):
            return False
        follow.stored = record
        return True

    def remove(self, key: str) -> None:
        self._store.delete(KIND, key)
        self._store.release(self._lease(key), self.owner)

    def find(self, key: str) -> Follow | None:
        raw = self._store.get(KIND, key)
        return self._stored(key, raw) if raw else None

    def _stored(self, key: str, raw: str) -> Follow | None:
        follow = self._restore(key, raw)
        if follow is not None:
            follow.stored = raw
        return follow

    def all(self) -> list[Follow]:
        found = []
        for key, raw in self._store.items(KIND).items():
            follow = self._stored(key, raw)
            if follow is None:
                log.info("dropping a followed card this version cannot read")
                self._store.delete(KIND, key)
            else:
                found.append(follow)
        return found

    def __len__(self) -> int:
        return len(self._store.items(KIND))

    def stop(self) -> None:
        """This replica stops refreshing; its leases are given back so another replica (or the next
        start) takes the cards over at once. No refresh starts after this returns."""
        with self._lock:
            self._stopped = True
            running = set(self._running)
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for key in self._store.items(KIND):
            if key not in running:
                self._store.release(self._lease(key), self.owner)

    # --- the schedule ---------------------------------------------------------------------------------

    @staticmethod
    def _lease(key: str) -> str:
        return f"follow:{key}"

    def _run(self) -> None:
        pause = min(max(self.interval / 4, 0.02), 2.0)
        while not self._stopped:
            try:
                self.start_due()
            except Exception:
                log.exception("could not read the followed cards; trying again")
            self._wake.wait(pause)
            self._wake.clear()

    def start_due(self) -> None:
        """Start refreshing each due card whose lease this replica gets."""
        now = self._clock()
        for follow in self.all():
            if follow.due > now:
                continue
            with self._lock:
                if self._stopped or follow.key in self._running:
                    continue
            if not self._store.lease(self._lease(follow.key), self.owner, self.interval * LEASE_INTERVALS):
                continue  # another replica refreshes it
            with self._lock:
                if self._stopped:
                    return
                self._running.add(follow.key)
            if not self._submit(functools.partial(self._run_tick, follow)):
                with self._lock:
                    self._running.discard(follow.key)

    def _run_tick(self, follow: Follow) -> None:
        again = False
        try:
            again = self._tick(follow)
        except Exception:
            log.exception("refreshing a followed card failed; no longer following it")
        try:
            current = self._store.get(KIND, follow.key)
            stored = self._restore(follow.key, current) if current else None
            if current is None or stored is None or stored.version != follow.version:
                pass  # removed (unwatched) or changed (a click, a newer card) meanwhile: that stands
            elif again:
                follow.due = self._clock() + self.interval
                # Only over the record just read: one removed (unwatched) or changed since is not written back.
                if self._store.replace(KIND, follow.key, current, follow.record()):
                    self._store.lease(self._lease(follow.key), self.owner, self.interval * LEASE_INTERVALS)
            else:
                self.remove(follow.key)
        finally:
            with self._lock:
                self._running.discard(follow.key)
