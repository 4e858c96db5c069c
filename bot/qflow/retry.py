"""When to retry a failed QFlow call, and how long to wait: a pure policy."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .errors import QFlowError, RateLimited


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: by attempts, by one wait, and by the time a lookup may take in all."""

    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 4.0
    max_retry_after: float = 10.0
    total_budget: float = 25.0

    def delay(
        self, attempt: int, error: QFlowError, elapsed: float, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait before another attempt after `attempt` failed with `error`, or None to stop."""
        if attempt >= self.max_attempts or not error.retryable:
            return None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None  # waiting that long would leave the user staring at nothing
            wait = max(0.0, error.retry_after)
        else:
            ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
            wait = ceiling * (0.5 + rand() / 2)  # "equal jitter": never zero, never in lock-step
        if elapsed + wait > self.total_budget:
            return None
        return wait


# The longest wait any header can ask for: past this, a number is clamped (an hour is already
# "try again later" for a person; an infinite or absurd value must not silence an answer).
MAX_WAIT_SECONDS = 3600.0
_MAX_HEADER_CHARS = 64


def seconds_from_header(raw: object, now: datetime | None = None) -> float | None:
    """A `Retry-After`-style value (delta seconds or an HTTP date) as seconds within 0..MAX_WAIT_SECONDS;
    None when it is garbage (not a finite number, not a date)."""
    if not isinstance(raw, str | bytes) or len(raw) > _MAX_HEADER_CHARS:
        return None
    text = (raw.decode("latin-1") if isinstance(raw, bytes) else raw).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_WAIT_SECONDS)


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or Qualys' `X-RateLimit-ToWait-Sec`,
    clamped to 0..MAX_WAIT_SECONDS; None when neither header holds a usable value."""
    for name in ("retry-after", "x-ratelimit-towait-sec"):
        seconds = seconds_from_header(headers.get(name), now)
        if seconds is not None:
            return seconds
    return None


_COUNT_DIGITS = 9


def header_count(headers: Mapping[str, str], name: str) -> int | None:
    """A non-negative whole number from a header (X-RateLimit-Remaining…), or None when absent or odd."""
    raw = headers.get(name)
    text = raw.strip() if isinstance(raw, str) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= _COUNT_DIGITS else None
