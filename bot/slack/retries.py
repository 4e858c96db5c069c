"""Retry handlers for Slack's Web API and response URLs: slack_sdk's, with 502 and 504 added."""

from __future__ import annotations

from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's handler retries 500 and 503 only; a 502 or 504 from a proxy is as passing."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return response is not None and 500 <= response.status_code <= 599


def slack_retry_handlers() -> list[RetryHandler]:
    """Dropped connections and 5xx twice, 429s (waiting Retry-After) three times."""
    return [ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3),
            AnyServerErrorRetryHandler(max_retry_count=2)]
