"""Followed cards as records in the state store, and each replica's share of refreshing them.

Every replica scans the records; a due card is refreshed by the one replica that holds its lease,
renewed at each refresh and lapsing after two intervals, so another replica (or the restarted app)
takes it over. How many may be followed at once is counted in bot/slack/slots.py.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk import WebClient

from ..render import BadButtonValue, CardState, parse_state
from ..state import Store
from .destinations import Destination, ResponseUrl, destination_from
from .slots import Slots

log = logging.getLogger(__name__)

MAX_FOLLOWED = 500
MAX_PER_PERSON = 10
MAX_PER_CHANNEL = 25
KIND = "follow"
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
        self.slots = Slots(store, KIND, most=most, per_person=per_person, per_channel=per_channel)
        self.owner = uuid.uuid4().hex  # this replica, for leases
        self._lock = threading.Lock()
        self._running: set[str] = set()  # refreshes this replica has under way
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="qflow-follow", daemon=True)
        if run:  # False: the caller drives the schedule (start_due), as tests do
            self._thread.start()

    # --- records ----------------------------------------------------------------------------------

    def add(self, follow: Follow, slot: tuple[str | None, str | None] | None = None) -> None:
        """Follow a card (a newer card of the same message replaces the older); this replica refreshes it.
        `slot`: the (user, channel) `slots.reserve()` gave it a slot for: the slot becomes the card."""
        follow.due = self._clock() + self.interval
        follow.stored = follow.record()
        with self.slots.adding(follow.key, slot):
            self._store.put(KIND, follow.key, follow.stored)
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
        self.slots.stop()
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
