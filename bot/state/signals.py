"""Announcements: a hint to whoever waits that something in the store changed (an execution another
replica loaded), so it looks again at once rather than on its next poll. A hint only: a waiter still
looks again now and then, so a lost announcement (Redis reconnecting) costs time, never an answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


class Announcements:
    """This process's waiters, by topic: an event each, set when the topic is announced here (a store
    whose waiters are all in this process, or that cannot reach the others, announces with this alone)."""

    def __init__(self) -> None:
        self._waiting_lock = threading.Lock()
        self._waiting: dict[str, set[threading.Event]] = {}

    def listen(self, topic: str) -> AbstractContextManager[threading.Event]:
        """An event set by every announcement of `topic` while the block runs (the waiter clears it)."""
        return self._listening(topic)

    @contextmanager
    def _listening(self, topic: str) -> Iterator[threading.Event]:
        event = threading.Event()
        with self._waiting_lock:
            self._waiting.setdefault(topic, set()).add(event)
        try:
            yield event
        finally:
            with self._waiting_lock:
                events = self._waiting.get(topic)
                if events is not None:
                    events.discard(event)
                    if not events:
                        del self._waiting[topic]

    def announce(self, topic: str) -> None:
        with self._waiting_lock:
            events = tuple(self._waiting.get(topic, ()))
        for event in events:
            event.set()
