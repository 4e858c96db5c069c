"""Cards of running executions refresh themselves on a bounded schedule, whichever replica is alive
(the records, leases and slots are in follows.py). CardFollower delivers cards and decides what each
refresh shows: a card says "Following" only once it has a slot, and refreshes read through the lookup
cache, so many cards of one run cost one Qualys call per interval."""

from __future__ import annotations

import functools
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache
from slack_sdk import WebClient

from ..cards import Cards
from ..policy import Asker
from ..qflow import Execution, ExecutionNotFound, QFlowError
from ..render import CardState, SlackMessage
from ..render.messages import following_note, following_stopped
from ..render.watches import render_watch_ended, render_watch_vanished, with_watch
from ..state import Store
from .destinations import ChannelMessage, Destination, ResponseUrl, send_safely
from .follows import Follow, Follows, follow_from

log = logging.getLogger(__name__)
FRESH_SHARE = 0.9  # a refresh accepts a lookup this share of an interval old (one call per interval)

RESPONSE_URL_LIFETIME = 29 * 60.0  # Slack honours a response_url for 30 minutes
SENDS_REMEMBERED = 10_000  # cards whose latest send is known here (a card sent without names is named in ~1 s)


class CardFollower:
    """Delivers cards and keeps those of running executions up to date, on the Follows schedule."""

    def __init__(self, cards: Cards, submit: Callable[[Callable[[], None]], object], *, store: Store,
                 client: WebClient, refresh_seconds: float, refresh_max_minutes: float,
                 response_url: Callable[..., ResponseUrl] = ResponseUrl, may_call: Callable[[], bool] = lambda: True,
                 watch_hours: float = 24.0, clock: Callable[[], float] = time.time, **caps: Any) -> None:
        self._cards = cards
        self._store = store
        self.watch_hours = watch_hours
        self._may_call = may_call  # the rate budget: False while background work must leave Qualys alone
        self._refresh_seconds = refresh_seconds
        self._max_seconds = refresh_max_minutes * 60
        self._clock = clock
        self._client = client
        self._response_url = response_url
        self._submit = submit
        # Each card's latest send from `deliver` (by its destination's key): a card sent without its workflow's
        # names is sent again with them only if nothing was sent in its place meanwhile (a click's new view).
        self._sends: LRUCache[str, int] = LRUCache(SENDS_REMEMBERED)
        self._sends_lock = threading.Lock()
        self._sent = itertools.count(1)
        # Cards sent again with their names go one at a time, each after what the pool had queued meanwhile:
        # a storm's first cards all wait for one workflow's names, and their updates are no answer's business.
        self._renames = OneAtATime(submit)
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
        may_follow = not followed and follow and self._follow_seconds(destination) > 0
        reserved, handed, left = False, False, 0.0
        noted: str | None = None

        def note(execution: Execution) -> str | None:
            # A slot is taken only for a run still going (a finished one never needs one).
            nonlocal reserved, left, noted
            if execution.is_finished:
                return None
            if followed:
                left = followed.deadline - self._clock()
            elif may_follow:
                reserved = self.follows.slots.reserve(user, channel)
                left = self._follow_seconds(destination) if reserved else 0.0
            noted = self._following_note(left) if left > 0 else None
            return noted

        try:
            message, lookup = self._cards.card(state, fresh=fresh, note=note, asker=asker, shared_by=shared_by,
                                               names_later=True)
            if lookup is None and errors_to is not None:
                errors_to(message)
                return False
            named_before = destination.key  # a message the app posts is named once it is posted
            sent = self._mark_sent(named_before)  # a names update of a card sent here before is off from now
            delivered = send_safely(destination, message)
            if named_before is None and destination.key:
                self._mark_sent(destination.key, sent)
            running = lookup is not None and not lookup.execution.is_finished
            if delivered and lookup is not None and lookup.names is not None:
                again = functools.partial(self._with_names, state, destination, message, noted, shared_by, sent)
                lookup.names.add_done_callback(lambda _: self._renames.add(again))
            if followed:
                followed.state, followed.destination = state, destination
                if lookup is not None:
                    followed.signature = _signature(lookup.execution)
                self.follows.update(followed) if running else self.follows.remove(followed.key)
            elif reserved and delivered and running and destination.key and lookup is not None:
                handed = True  # the slot becomes the card
                self.follows.add(Follow(destination.key, state, destination, self._clock() + left, user, channel,
                                        _signature(lookup.execution)), slot=(user, channel))
            return delivered
        finally:
            if reserved and not handed:
                self.follows.slots.release(user, channel)

    def _mark_sent(self, key: str | None, sent: int | None = None) -> int:
        sent = sent or next(self._sent)
        if key:
            with self._sends_lock:
                self._sends[key] = sent
        return sent

    def _with_names(self, state: CardState, destination: Destination, first: SlackMessage, note: str | None,
                    shared_by: str | None, sent: int) -> None:
        """The card `deliver` sent without its workflow's names, sent again with them now they are known,
        in place (unless another card was sent there since, or it is the last update Slack allows there,
        which a followed card keeps for its final state)."""
        key = destination.key
        with self._sends_lock:
            if key and self._sends.get(key) != sent:
                return
        if destination.updates_left <= 1:
            return
        message, lookup = self._cards.card(state, note=lambda _: note, shared_by=shared_by)
        if lookup is None or (message.text, message.blocks_json()) == (first.text, first.blocks_json()):
            return  # an error since, or no names to be had: the card stays as it is
        with self._sends_lock:
            if key and self._sends.get(key) != sent:
                return
        send_safely(destination, message)

    def tick(self, follow: Follow) -> bool:
        """One refresh of a followed card; True to keep following."""
        expired = self._clock() >= follow.deadline
        if not expired and not self._may_call():
            return True  # the rate budget is at its reserve: this refresh is skipped, the card kept
        try:
            lookup = self._cards.lookup(follow.state.execution_id, max_age=self._refresh_seconds * FRESH_SHARE)
        except ExecutionNotFound:
            log.info("following %s: the run is gone from Qualys; no longer following it", follow.state.execution_id)
            if follow.watcher and isinstance(follow.destination, ChannelMessage) and follow.destination.ts and \
                    self._store.claim(f"watch-ended:{follow.key}", 7 * 86400.0):
                reply = ChannelMessage(self._client, follow.destination.channel, thread_ts=follow.destination.ts)
                send_safely(reply, render_watch_vanished(follow.state.execution_id, follow.watcher))
            return False
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
        message = self._cards.render(lookup, follow.state, note)
        if follow.watcher:
            message = with_watch(message, follow.state, follow.watcher, hours=self.watch_hours, ended=finished,
                                 expired=expired and not finished)
        send_safely(follow.destination, message)
        if finished and follow.watcher:
            self._reply_once(follow, execution)
        return not (finished or expired)

    def _reply_once(self, follow: Follow, execution: Execution) -> None:
        """The one thread reply under a watched card when its run ends (once, whichever replica)."""
        destination = follow.destination
        if not isinstance(destination, ChannelMessage) or not destination.ts:
            return
        if not self._store.claim(f"watch-ended:{follow.key}", 7 * 86400.0):
            return
        reply = ChannelMessage(self._client, destination.channel, thread_ts=destination.ts)
        send_safely(reply, render_watch_ended(execution, follow.watcher, self._cards.redactor))

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


class OneAtATime:
    """Jobs run on the pool in the order added, the next submitted when one ends (so at most one runs, and
    it waits behind whatever the pool has queued meanwhile). A pool that drains runs them all: each is work
    its predecessor hands on."""

    def __init__(self, submit: Callable[[Callable[[], None]], object]) -> None:
        self._submit = submit
        self._jobs: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()
        self._running = False

    def add(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._jobs.append(job)
            if self._running:
                return
            self._running = True
        self._submit(self._next)

    def _next(self) -> None:
        with self._lock:
            if not self._jobs:
                self._running = False
                return
            job = self._jobs.popleft()
        try:
            job()
        except Exception:
            log.exception("a card could not be sent again with its names")
        finally:
            self._submit(self._next)


def _signature(execution: Execution) -> str:
    """What a followed card shows that can change while a run goes on."""
    steps = execution.steps or []
    return json.dumps([execution.status, len(steps), [[s.status, s.error_text] for s in steps]], default=str)
