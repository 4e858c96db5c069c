"""Cards of running executions refresh themselves on a bounded schedule, whichever replica is alive.

Each followed card is a record in the state store (what it shows, where it is, until when). Every
replica scans the records; a due card is refreshed by the one replica that holds its lease, renewed at
each refresh and lapsing after two intervals, so another replica (or the restarted app) takes it over.
Follow slots are fair: a person, a channel and the whole app each have a cap, and a card says
"Following" only once it has a slot. CardFollower delivers cards and decides what each refresh shows;
refreshes read through the lookup cache, so many cards of one run cost one Qualys call per interval.
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
from typing import Any

from slack_sdk import WebClient

from ..cards import Cards
from ..policy import Asker
from ..qflow import Execution, QFlowError
from ..render import BadButtonValue, CardState, SlackMessage, parse_state
from ..render.messages import following_note, following_stopped
from ..state import Store
from .destinations import ChannelMessage, Destination, ResponseUrl, destination_from, send_safely

log = logging.getLogger(__name__)

MAX_FOLLOWED = 500
MAX_PER_PERSON = 10
MAX_PER_CHANNEL = 25
KIND = "follow"
LEASE_INTERVALS = 2.0  # a lease lapses after this many refresh intervals without a refresh
FRESH_SHARE = 0.9  # a refresh accepts a lookup this share of an interval old (one call per interval)


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

    def record(self) -> str:
        return json.dumps({"state": self.state.to_value(), "destination": self.destination.describe(),
                           "deadline": self.deadline, "user": self.user, "channel": self.channel,
                           "signature": self.signature, "due": self.due, "version": self.version})


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

    return Follow(key, state, destination, float(deadline), text("user"), text("channel"), text("signature"),
                  float(due), text("version") or uuid.uuid4().hex)


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
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="qflow-follow", daemon=True)
        if run:  # False: the caller drives the schedule (start_due), as tests do
            self._thread.start()

    # --- slots ----------------------------------------------------------------------------------

    def reserve(self, user: str | None, channel: str | None) -> bool:
        """A slot for one more card of `user` in `channel`, if the caps allow; release() it when done."""
        with self._lock:  # the store is read under the lock: a card added meanwhile is counted
            if self._stopped:
                return False
            follows = self.all()
            people = Counter(f.user for f in follows)
            channels = Counter(f.channel for f in follows)
            total = len(follows) + self._reserved["*"]
            if (total >= self._most or (user and people[user] + self._reserved[f"u:{user}"] >= self._per_person)
                    or (channel and channels[channel] + self._reserved[f"c:{channel}"] >= self._per_channel)):
                return False
            self._reserved.update(["*", f"u:{user}", f"c:{channel}"])
            return True

    def release(self, user: str | None, channel: str | None) -> None:
        with self._lock:
            self._reserved.subtract(["*", f"u:{user}", f"c:{channel}"])
            self._reserved = +self._reserved

    # --- records ----------------------------------------------------------------------------------

    def add(self, follow: Follow) -> None:
        """Follow a card (a newer card of the same message replaces the older); this replica refreshes it."""
        follow.due = self._clock() + self.interval
        self._store.put(KIND, follow.key, follow.record())
        self._store.lease(self._lease(follow.key), self.owner, self.interval * LEASE_INTERVALS)
        self._wake.set()

    def update(self, follow: Follow) -> None:
        """Keep following, now showing what the reader chose through the newest destination."""
        follow.version = uuid.uuid4().hex
        self._store.put(KIND, follow.key, follow.record())

    def remove(self, key: str) -> None:
        self._store.delete(KIND, key)
        self._store.release(self._lease(key), self.owner)

    def find(self, key: str) -> Follow | None:
        raw = self._store.get(KIND, key)
        return self._restore(key, raw) if raw else None

    def all(self) -> list[Follow]:
        found = []
        for key, raw in self._store.items(KIND).items():
            follow = self._restore(key, raw)
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
            if stored is not None and stored.version != follow.version:
                pass  # changed meanwhile (a click, a newer card): that version stands
            elif again:
                follow.due = self._clock() + self.interval
                self._store.put(KIND, follow.key, follow.record())
                self._store.lease(self._lease(follow.key), self.owner, self.interval * LEASE_INTERVALS)
            else:
                self.remove(follow.key)
        finally:
            with self._lock:
                self._running.discard(follow.key)


RESPONSE_URL_LIFETIME = 29 * 60.0  # Slack honours a response_url for 30 minutes


class CardFollower:
    """Delivers cards and keeps those of running executions up to date, on the Follows schedule."""

    def __init__(self, cards: Cards, submit: Callable[[Callable[[], None]], object], *, store: Store,
                 client: WebClient, refresh_seconds: float, refresh_max_minutes: float,
                 response_url: Callable[..., ResponseUrl] = ResponseUrl, may_call: Callable[[], bool] = lambda: True,
                 clock: Callable[[], float] = time.time, **caps: Any) -> None:
        self._cards = cards
        self._may_call = may_call  # the rate budget: False while background work must leave Qualys alone
        self._refresh_seconds = refresh_seconds
        self._max_seconds = refresh_max_minutes * 60
        self._clock = clock
        self._client = client
        self._response_url = response_url
        self.follows = Follows(store, self.tick, submit, refresh_seconds,
                               lambda key, raw: follow_from(key, raw, client, response_url), clock=clock, **caps)

    def stop(self) -> None:
        self.follows.stop()

    def find(self, key: str) -> Follow | None:
        return self.follows.find(key)

    def deliver(self, state: CardState, destination: Destination, *, fresh: bool = False, follow: bool = False,
                followed: Follow | None = None, asker: Asker | None = None, shared_by: str | None = None,
                errors_to: Callable[[SlackMessage], object] | None = None) -> bool:
        """Send the card for `state`; when asked and the run is still going, keep it up to date, if a slot
        is free (the card says so only then). `followed`: the card is already followed; it keeps its time
        limit and now shows `state` through `destination`. `errors_to`: where an error goes instead of
        `destination` (a card shared with a channel: the error is for the sharer)."""
        user, channel = (asker.user, asker.channel) if asker else (None, None)
        reserved = (not followed and follow and self._follow_seconds(destination) > 0
                    and self.follows.reserve(user, channel))
        try:
            left = (followed.deadline - self._clock()) if followed else \
                self._follow_seconds(destination) if reserved else 0.0
            note = (lambda e: None if e.is_finished else self._following_note(left)) if left > 0 else None
            message, lookup = self._cards.card(state, fresh=fresh, note=note, asker=asker, shared_by=shared_by)
            if lookup is None and errors_to is not None:
                errors_to(message)
                return False
            delivered = send_safely(destination, message)
            running = lookup is not None and not lookup.execution.is_finished
            if followed:
                followed.state, followed.destination = state, destination
                if lookup is not None:
                    followed.signature = _signature(lookup.execution)
                self.follows.update(followed) if running else self.follows.remove(followed.key)
            elif reserved and delivered and running and destination.key and lookup is not None:
                self.follows.add(Follow(destination.key, state, destination, self._clock() + left, user, channel,
                                        _signature(lookup.execution)))
            return delivered
        finally:
            if reserved:
                self.follows.release(user, channel)

    def tick(self, follow: Follow) -> bool:
        """One refresh of a followed card; True to keep following."""
        expired = self._clock() >= follow.deadline
        if not expired and not self._may_call():
            return True  # the rate budget is at its reserve: this refresh is skipped, the card kept
        try:
            lookup = self._cards.lookup(follow.state.execution_id, max_age=self._refresh_seconds * FRESH_SHARE)
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
        """How long a card here may be followed: never where it could not be edited later (a message the
        app posts is named once it is posted; anything else must be named already)."""
        if not destination.key and not isinstance(destination, ChannelMessage):
            return 0.0
        if isinstance(destination, ResponseUrl):
            return min(self._max_seconds, RESPONSE_URL_LIFETIME)
        return self._max_seconds

    def _following_note(self, seconds: float) -> str:
        return following_note(self._refresh_seconds, seconds)


def _signature(execution: Execution) -> str:
    """What a followed card shows that can change while a run goes on."""
    steps = execution.steps or []
    return json.dumps([execution.status, len(steps), [[s.status, s.error_text] for s in steps]], default=str)
