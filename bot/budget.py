"""One Qualys rate budget for the whole app (every replica, with Redis).

Qualys states its limit on every answer (`X-RateLimit-Limit` calls per `X-RateLimit-Window-Sec`, with
`X-RateLimit-Remaining` left now and, once spent, `X-RateLimit-ToWait-Sec`). The budget remembers the
last of these in the state store. Background work (refreshing followed cards) pauses while fewer than the
reserve remain, so people's lookups are never starved; after a 429, nobody calls until its wait is over.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

from .qflow.retry import MAX_WAIT_SECONDS, header_count, parse_retry_after
from .state import Store

log = logging.getLogger(__name__)
KIND, KEY = "budget", "qualys"
DEFAULT_RESERVE = "20%"


@dataclass
class Seen:
    """What Qualys last said of the budget (wall-clock seconds)."""

    limit: int | None = None
    window: int | None = None
    remaining: int | None = None
    seen_at: float = 0.0
    wait_until: float = 0.0


def reserve_calls(reserve: str, limit: int | None) -> int:
    """The calls kept for people: `20%` of the limit, or a number of calls."""
    text = reserve.strip()
    if text.endswith("%"):
        share = float(text[:-1]) / 100
        return math.ceil(share * limit) if limit else 0
    return int(text)


class RateBudget:
    """Reads the rate-limit headers of every Qualys answer; says whether background work may call now.

    With `defer` (a pool's submit), what an answer says is written to the store after the lookup that got
    it, not inside it: in a storm the store's writes queue (claims, followed cards), and a lookup waiting
    for its turn to note the figures kept its answer waiting (the last of a burst's fetches ended 200 ms
    after Qualys answered it). Figures seen meanwhile are written once, the latest. A 429's wait is written
    at once: the other lookups, here and in other replicas, must not call before it is over."""

    def __init__(self, store: Store, reserve: str = DEFAULT_RESERVE, *, clock: Callable[[], float] = time.time,
                 defer: Callable[[Callable[[], None]], object] | None = None) -> None:
        self._store = store
        self._reserve = reserve
        self._clock = clock
        self._defer = defer
        self._lock = threading.Lock()  # guards `_unwritten`, briefly
        self._writing = threading.Lock()  # one read-merge-write of the store's figures at a time
        self._unwritten: Seen | None = None  # seen here, not yet in the store
        self._paused_logged = False

    def _read(self) -> Seen:
        raw = self._store.get(KIND, KEY)
        try:
            data = json.loads(raw) if raw else {}
            return Seen(**{k: v for k, v in data.items() if k in Seen.__dataclass_fields__})
        except (ValueError, TypeError):
            return Seen()

    def observe(self, endpoint: str, outcome: str, _seconds: float, headers: Mapping[str, str] | None) -> None:
        """A Qualys answer (the client's call observer): remember its budget headers, and a 429's wait."""
        if headers is None or endpoint == "auth":  # the limits apply to every API but /auth
            return
        limit, window = header_count(headers, "x-ratelimit-limit"), header_count(headers, "x-ratelimit-window-sec")
        remaining = header_count(headers, "x-ratelimit-remaining")
        wait = None
        if outcome == "rate_limited":
            wait = parse_retry_after(headers)
            wait = 1.0 if wait is None else wait  # no figure: a moment, not a free-for-all
        if limit is None and remaining is None and wait is None:
            return
        now = self._clock()
        with self._lock:
            scheduled = self._unwritten is not None
            seen = self._unwritten or Seen()
            seen.limit = limit if limit is not None else seen.limit
            seen.window = window if window is not None else seen.window
            seen.remaining = remaining if remaining is not None else seen.remaining
            seen.seen_at = now
            if wait is not None:
                seen.wait_until = max(seen.wait_until, now + min(wait, MAX_WAIT_SECONDS))
            self._unwritten = seen
        # A 429 at once; else one write for what is seen until the pool runs it (False: it has stopped).
        if wait is not None or self._defer is None or (not scheduled and self._defer(self._write) is False):
            self._write()

    def _write(self) -> None:
        """The figures seen here since the last write, merged into the store's (a 429's wait kept)."""
        with self._writing:
            with self._lock:
                mine, self._unwritten = self._unwritten, None
            if mine is None:
                return
            seen = self._read()
            seen.limit = mine.limit if mine.limit is not None else seen.limit
            seen.window = mine.window if mine.window is not None else seen.window
            seen.remaining = mine.remaining if mine.remaining is not None else seen.remaining
            seen.seen_at = mine.seen_at
            seen.wait_until = max(seen.wait_until, mine.wait_until)
            ttl = max(float(seen.window or 3600), seen.wait_until - mine.seen_at, 1.0)
            self._store.put(KIND, KEY, json.dumps(asdict(seen)), ttl=ttl)

    def wait_left(self) -> float:
        """Seconds until Qualys takes calls again after a 429 (0: now)."""
        return max(0.0, self._read().wait_until - self._clock())

    def background_allowed(self) -> bool:
        """Whether background work may call Qualys now: not while a 429's wait runs, nor while fewer than
        the reserve remain in the current window (stale figures, older than a window, do not count)."""
        seen = self._read()
        now = self._clock()
        allowed = True
        if seen.wait_until > now:
            allowed = False
        elif seen.remaining is not None and now - seen.seen_at < float(seen.window or 3600):
            allowed = seen.remaining > reserve_calls(self._reserve, seen.limit)
        if allowed == self._paused_logged:  # log the changes only
            self._paused_logged = not allowed
            if allowed:
                log.info("the Qualys rate budget allows background refreshes again")
            else:
                log.warning("pausing background refreshes: the Qualys rate budget is at its reserve "
                            "(%s of %s calls left, QFLOW_RATE_RESERVE=%s) or waiting out a 429",
                            seen.remaining, seen.limit, self._reserve)
        return allowed

    def snapshot(self) -> Seen:
        return self._read()
