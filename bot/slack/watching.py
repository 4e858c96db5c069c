"""`/qflow watch`, `unwatch`, `watches` and the Stop watching button: a card posted in the channel for
everyone, kept current (a followed card with a watcher), and one thread reply when the run ends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from ..cards import Cards
from ..policy import Asker
from ..qflow import QFlowError
from ..render import CardState, SlackMessage, render_lookup_error
from ..render.messages import following_note
from ..render.watches import render_watch_refused, render_watches, render_watching, with_watch
from .access import Access
from .destinations import ChannelMessage, ResponseUrl, send_safely
from .follow import CardFollower
from .follows import Follow

log = logging.getLogger(__name__)
Say = Callable[[SlackMessage], Any]


class Watching:
    """Starts, lists and stops watches; the follower keeps the cards current and replies at the end."""

    def __init__(self, *, cards: Cards, follower: CardFollower, access: Access, client: WebClient,
                 most: int, refresh_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._cards = cards
        self._follower = follower
        self._access = access
        self._client = client
        self._most = most
        self._refresh_seconds = refresh_seconds
        self._clock = clock

    @property
    def hours(self) -> float:
        return self._follower.watch_hours

    def _watches(self, channel: str | None) -> list[Follow]:
        return [f for f in self._follower.follows.all() if f.watcher and f.channel == channel]

    def start(self, execution_id: str, asker: Asker, say: Say) -> None:
        """Post the execution's card in the asker's channel and keep it current until the run ends."""
        channel = asker.channel
        if not channel or not self._access.allowed(asker, [execution_id], say):
            return
        for follow in self._watches(channel):
            if follow.state.execution_id == execution_id:
                say(render_watch_refused("already", execution_id, by=follow.watcher))
                return
        private = CardState(execution_id, private=True)
        try:
            lookup = self._cards.lookup(execution_id)
        except QFlowError as error:
            say(render_lookup_error(error, private, redactor=self._cards.redactor))
            self._cards.record(entry="watch", user=asker.user, channel=channel, outcome=error.outcome,
                               execution_id=execution_id)
            return
        if lookup.execution.is_finished:
            say(self._cards.render(lookup, private, "This run has already finished: there is nothing to watch."))
            self._cards.record(entry="watch", user=asker.user, channel=channel, outcome="finished",
                               execution_id=execution_id)
            return
        if not self._follower.follows.slots.reserve_watch(self._most):
            say(render_watch_refused("limit", execution_id, most=self._most))
            return
        # The slot is given back before the asker is told: told first, they could start the next watch while
        # this one was still counted twice (its slot and its card).
        try:
            seconds = self.hours * 3600
            state = CardState(execution_id, private=False)
            card = with_watch(self._cards.render(lookup, state, following_note(self._refresh_seconds, seconds)),
                              state, asker.user, hours=self.hours)
            post = ChannelMessage(self._client, channel)
            key = post.key if send_safely(post, card) else None
            if key:
                now = self._clock()
                self._follower.follows.add(Follow(key, state, post, now + seconds, asker.user, channel,
                                                  watcher=asker.user, since=now))
        finally:
            self._follower.follows.slots.release_watch()
        if not key:
            say(render_watch_refused("cannot_post", execution_id))
            return
        self._cards.record(entry="watch", user=asker.user, channel=channel, outcome="watching",
                           execution_id=execution_id)
        say(render_watching(execution_id, self.hours))

    def stop(self, execution_id: str, asker: Asker, say: Say) -> None:
        """`/qflow unwatch <id>`: end this channel's watch of the execution."""
        found = [f for f in self._watches(asker.channel) if f.state.execution_id == execution_id]
        if not found:
            say(render_watch_refused("none", execution_id))
            return
        for follow in found:
            self._end(follow, asker.user)
        say(render_watch_refused("stopped", execution_id))

    def stop_card(self, key: str, asker: Asker, say: Say) -> None:
        """The Stop watching button on a watched card."""
        follow = self._follower.find(key)
        if follow is None or not follow.watcher:
            return  # already ended (a double click, or the run ended meanwhile)
        if self._access.allowed(asker, [follow.state.execution_id], say):
            self._end(follow, asker.user)

    def _end(self, follow: Follow, by: str | None) -> None:
        self._follower.follows.remove(follow.key)
        try:
            lookup = self._cards.lookup(follow.state.execution_id)
        except QFlowError:
            return  # the card keeps its last state; the watch is over all the same
        card = with_watch(self._cards.render(lookup, follow.state), follow.state, follow.watcher,
                          hours=self.hours, stopped_by=by)
        send_safely(follow.destination, card)

    def listing(self, channel: str | None, say: Say) -> None:
        watches = sorted(self._watches(channel), key=lambda f: f.since or 0.0)
        say(render_watches([(f.state.execution_id, f.watcher, f.since or 0.0) for f in watches],
                           poll_seconds=self._refresh_seconds))


def ephemeral_reply(response_url: Callable[..., ResponseUrl], url: str) -> Say:
    """Answers the asker privately through the command's response_url (replacing its "Working…" ack)."""
    destination = response_url(url, response_type="ephemeral", replace_original=True)

    def say(message: SlackMessage) -> None:
        destination.send(message)

    return say
