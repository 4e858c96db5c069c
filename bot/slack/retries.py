"""Retry handlers for Slack's Web API and response URLs: slack_sdk's, with 502 and 504 added."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from ..qflow.retry import seconds_from_header

# The longest a worker waits out one Slack 429, whatever Retry-After says (then it tries again).
MAX_SLACK_WAIT_SECONDS = 10.0


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's handler retries 500 and 503 only; a 502 or 504 from a proxy is as passing."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return response is not None and 500 <= response.status_code <= 599


class ClampedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler does `int(Retry-After)` and sleeps that long: garbage raises (and the
    answer is lost) and a huge value holds a worker for hours. Here any value is read safely and the
    wait is clamped to MAX_SLACK_WAIT_SECONDS (garbage: 1 s)."""

    def __init__(self, max_retry_count: int = 1, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        wait = _retry_after(response)
        self._sleep(min(1.0 if wait is None else wait, MAX_SLACK_WAIT_SECONDS) + random.random())
        state.increment_current_attempt()


def _retry_after(response: HttpResponse) -> float | None:
    for name, values in response.headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list | tuple) and values else values
            return seconds_from_header(value)
    return None


def slack_retry_handlers() -> list[RetryHandler]:
    """Dropped connections and 5xx twice, 429s (waiting Retry-After) three times."""
    return [ConnectionErrorRetryHandler(max_retry_count=2), ClampedRateLimitRetryHandler(max_retry_count=3),
            AnyServerErrorRetryHandler(max_retry_count=2)]
