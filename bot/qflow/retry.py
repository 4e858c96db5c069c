"""When to retry a failed QFlow call, and how long to wait: a pure policy."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .errors import QFlowConnectionError, QFlowError, QFlowTimeout, RateLimited, ServerError

RETRYABLE = (ServerError, QFlowTimeout, QFlowConnectionError, RateLimited)


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
        if attempt >= self.max_attempts or not isinstance(error, RETRYABLE):
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


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or Qualys' `X-RateLimit-ToWait-Sec`."""
    for name in ("retry-after", "x-ratelimit-towait-sec"):
        raw = headers.get(name)
        if raw is None:
            continue
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return None
