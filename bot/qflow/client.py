"""The QFlow API client: httpx transport, typed errors, bounded retries. Knows nothing of Slack."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from .auth import TokenProvider
from .errors import (
    InvalidExecutionId,
    InvalidResponse,
    QFlowConnectionError,
    QFlowError,
    QFlowTimeout,
    Unauthorized,
    status_error_for,
)
from .models import Execution, Step, WorkflowInfo, parse_execution, parse_steps, parse_workflow
from .retry import RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

API_PREFIX = "/qflowapi/v1"


def validate_execution_id(value: object) -> str:
    """The canonical (lower-case, hyphenated) form of a UUID, or InvalidExecutionId."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        raise InvalidExecutionId(text[:100]) from None
    if len(text) != 36:  # uuid.UUID also takes braces, urn: prefixes and bare hex
        raise InvalidExecutionId(text[:100])
    return str(parsed)


class QFlowClient:
    """Reads executions, their steps and workflow definitions from one Qualys gateway."""

    def __init__(
        self,
        gateway_url: str,
        tokens: TokenProvider,
        http: httpx.Client,
        *,
        execution_method: str = "POST",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = gateway_url.rstrip("/") + API_PREFIX
        self._tokens = tokens
        self._http = http
        self._method = execution_method.upper()
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    def get_execution(self, execution_id: str, *, include_steps: bool = True) -> Execution:
        """The execution's details (`includeSteps` as asked)."""
        execution_id = validate_execution_id(execution_id)
        params = {"includeSteps": "true" if include_steps else "false"}
        payload = self._request(self._method, f"/executions/{execution_id}", params)
        try:
            return parse_execution(payload)
        except ValueError as e:
            raise InvalidResponse(f"execution details: {e}") from None

    def get_steps(self, execution_id: str) -> tuple[list[Step], int | None]:
        """The execution's steps from the steps endpoint, and their total."""
        execution_id = validate_execution_id(execution_id)
        payload = self._request("GET", f"/executions/{execution_id}/steps", {"order": "eventOrder"})
        try:
            return parse_steps(payload)
        except ValueError as e:
            raise InvalidResponse(f"steps: {e}") from None

    def get_workflow(self, workflow_id: str) -> WorkflowInfo:
        """The workflow's name and its nodes' names, from its definition."""
        workflow_id = validate_execution_id(workflow_id)
        payload = self._request("GET", f"/workflows/{workflow_id}", None)
        try:
            return parse_workflow(payload)
        except ValueError as e:
            raise InvalidResponse(f"workflow: {e}") from None

    def _request(self, method: str, path: str, params: dict[str, str] | None) -> Any:
        started = self._clock()
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            token = ""
            try:
                token = self._tokens.token()
                return self._send_once(method, path, params, token)
            except Unauthorized:
                # One fresh token per call: an expired JWT is normal, a refused fresh one is not.
                if renewed or not self._tokens.invalidate(token):
                    raise
                renewed = True
                attempt -= 1
                continue
            except QFlowError as error:
                wait = self._retry.delay(attempt, error, self._clock() - started)
                if wait is None:
                    raise
                log.info("qflow %s %s failed (%s); retry %d in %.2fs", method, path, type(error).__name__,
                         attempt, wait)
                self._sleep(wait)

    def _send_once(self, method: str, path: str, params: dict[str, str] | None, token: str) -> Any:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
        }
        try:
            response = self._http.request(method, self._base + path, params=params, headers=headers)
        except httpx.TimeoutException as e:
            raise QFlowTimeout(f"Qualys did not answer in time ({type(e).__name__})") from e
        except httpx.TransportError as e:
            raise QFlowConnectionError(f"could not reach the Qualys gateway ({type(e).__name__})") from e
        if not response.is_success:
            raise status_error_for(
                response.status_code, _error_message(response), parse_retry_after(response.headers)
            )
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise InvalidResponse(f"expected JSON, got {kind}", response.status_code) from None


def _error_message(response: httpx.Response) -> str:
    """The gateway's own short message (e.g. "JWT expired"), when the body is JSON."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(body, dict):
        for key in ("message", "error", "errorMessage"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    return ""


def build_http_client(timeout_seconds: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The httpx client for Qualys: bounded timeouts and a connection pool sized for many lookups."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)),
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        transport=transport,
        headers={"User-Agent": "qflow-for-slack"},
        follow_redirects=False,
    )


__all__ = ["QFlowClient", "build_http_client", "validate_execution_id"]
