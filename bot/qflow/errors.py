"""Typed errors of the QFlow client. They carry facts, never secrets or Slack text.

What each error means for the app is said here, once: `outcome` names it (the audit log's word, and
the key of the texts in `render/errors.py`), `retryable` says whether the client tries again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class QFlowError(Exception):
    """Base of every error the QFlow client raises."""

    outcome: ClassVar[str] = "qualys_error"
    retryable: ClassVar[bool] = False  # the client tries the call again (bounded by its retry policy)


class InvalidExecutionId(QFlowError, ValueError):
    """The id is not a UUID; no request was made."""

    outcome = "invalid_id"

    def __init__(self, value: str) -> None:
        super().__init__("execution id must be a UUID")
        self.value = value


class QFlowTimeout(QFlowError):
    """Qualys did not answer in time (after retries)."""

    outcome = "timeout"
    retryable = True


class QFlowConnectionError(QFlowError):
    """Qualys could not be reached (after retries)."""

    outcome = "unreachable"
    retryable = True


class InvalidResponse(QFlowError):
    """Qualys answered with something that is not the expected JSON."""

    outcome = "bad_response"

    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


class AuthenticationFailed(QFlowError):
    """The service account could not get a token from the gateway's /auth."""

    outcome = "auth_failed"

    def __init__(self, status_code: int | None, detail: str = "") -> None:
        super().__init__(f"service account login failed (HTTP {status_code})" if status_code else detail)
        self.status_code = status_code
        self.detail = detail


class QFlowStatusError(QFlowError):
    """A non-2xx answer from the QFlow API."""

    headers: Mapping[str, str] | None = None  # the answer's headers (rate limits), when the client has them

    def __init__(self, status_code: int, message: str = "") -> None:
        super().__init__(f"HTTP {status_code}{': ' + message if message else ''}")
        self.status_code = status_code
        self.message = message


class Unauthorized(QFlowStatusError):
    """401: the service token was refused (even after one renewal)."""

    outcome = "unauthorized"


class Forbidden(QFlowStatusError):
    """403: the service account lacks a needed permission."""

    outcome = "forbidden"


class ExecutionNotFound(QFlowStatusError):
    """404: no such execution, or older than the API's 30-day window."""

    outcome = "not_found"


class RateLimited(QFlowStatusError):
    """429: the subscription's API budget is spent for now."""

    outcome = "rate_limited"
    retryable = True

    def __init__(self, status_code: int = 429, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(status_code, message)
        self.retry_after = retry_after


class ServerError(QFlowStatusError):
    """5xx (or 408): Qualys failed to answer the request."""

    outcome = "server_error"
    retryable = True


def status_error_for(status_code: int, message: str = "", retry_after: float | None = None) -> QFlowStatusError:
    """The typed error for an HTTP status code."""
    if status_code == 401:
        return Unauthorized(status_code, message)
    if status_code == 403:
        return Forbidden(status_code, message)
    if status_code == 404:
        return ExecutionNotFound(status_code, message)
    if status_code == 429:
        return RateLimited(status_code, message, retry_after)
    if status_code >= 500 or status_code == 408:
        return ServerError(status_code, message)
    return QFlowStatusError(status_code, message)
