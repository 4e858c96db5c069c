"""The QFlow API client: httpx transport, typed errors, bounded retries. Knows nothing of Slack."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .auth import CallObserver, TokenProvider
from .deadline import deadline, deadline_transport
from .errors import (
    InvalidExecutionId,
    InvalidResponse,
    QFlowConnectionError,
    QFlowError,
    QFlowTimeout,
    Unauthorized,
    status_error_for,
)
from .models import (
    Execution,
    Step,
    WorkflowInfo,
    parse_execution,
    parse_execution_list,
    parse_steps,
    parse_workflow,
    parse_workflow_list,
)
from .retry import RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

API_PREFIX = "/qflowapi/v1"
# An execution with thousands of steps is a few MB of JSON; anything past this is refused unread.
MAX_BODY_BYTES = 16 * 1024 * 1024


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
        answer_seconds: float | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        observe: CallObserver | None = None,
    ) -> None:
        self._base = gateway_url.rstrip("/") + API_PREFIX
        self._tokens = tokens
        self._http = http
        self._method = execution_method.upper()
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        # A whole answer (connect, headers and body) ends within this; httpx's timeouts bound each read.
        self._answer_seconds = answer_seconds if answer_seconds is not None else (http.timeout.read or 10.0)
        self._max_body = max_body_bytes
        self._observe = observe

    def get_execution(self, execution_id: str, *, include_steps: bool = True) -> Execution:
        """The execution's details (`includeSteps` as asked)."""
        execution_id = validate_execution_id(execution_id)
        params = {"includeSteps": "true" if include_steps else "false"}
        payload, size = self._request("execution", self._method, f"/executions/{execution_id}", params)
        try:
            execution = parse_execution(payload)
        except ValueError as e:
            raise InvalidResponse(f"execution details: {e}") from None
        return execution.with_source_bytes(size)

    def get_steps(self, execution_id: str) -> tuple[list[Step], int | None, int]:
        """The execution's steps from the steps endpoint, their total, and the answer's size in bytes."""
        execution_id = validate_execution_id(execution_id)
        payload, size = self._request("steps", "GET", f"/executions/{execution_id}/steps", {"order": "eventOrder"})
        try:
            return (*parse_steps(payload), size)
        except ValueError as e:
            raise InvalidResponse(f"steps: {e}") from None

    def get_workflow(self, workflow_id: str) -> WorkflowInfo:
        """The workflow's name and its nodes' names, from its definition."""
        workflow_id = validate_execution_id(workflow_id)
        payload, _ = self._request("workflow", "GET", f"/workflows/{workflow_id}", None)
        try:
            return parse_workflow(payload)
        except ValueError as e:
            raise InvalidResponse(f"workflow: {e}") from None

    def list_executions(self, workflow_id: str, *, since: datetime, page_size: int = 50,
                        max_pages: int = 4) -> list[Execution]:
        """The workflow's executions started since `since` (the API keeps 30 days), every page up to
        `max_pages`; each a summary (fetch details for what is shown)."""
        workflow_id = validate_execution_id(workflow_id)
        start = max(since, datetime.now(UTC) - timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ")
        found: dict[str, Execution] = {}
        for page in range(1, max_pages + 1):
            params = {"pageSize": str(page_size), "pageNumber": str(page), "order": "createdAt", "startAt": start}
            payload, _ = self._request("executions", "GET", f"/workflows/{workflow_id}/executions", params)
            try:
                items, total = parse_execution_list(payload)
            except ValueError as e:
                raise InvalidResponse(f"executions list: {e}") from None
            for item in items:
                found.setdefault(item.execution_id or "", item)
            if len(items) < page_size or (total is not None and page * page_size >= total):
                break
        return list(found.values())

    def find_workflows(self, name: str) -> list[tuple[str, str]]:
        """(id, name) of the workflows whose name is exactly `name`."""
        query = 'qflow.name: "' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        payload, _ = self._request("workflows", "GET", "/workflows", {"pageSize": "50", "pageNumber": "1", "query": query})
        return [(wid, wname) for wid, wname in parse_workflow_list(payload) if wname == name]

    def _request(self, endpoint: str, method: str, path: str, params: dict[str, str] | None) -> tuple[Any, int]:
        """The parsed JSON answer and its size in bytes, after retries."""
        started = self._clock()
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            token = ""
            try:
                token = self._tokens.token()
                return self._observed(endpoint, method, path, params, token)
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

    def _observed(self, endpoint: str, method: str, path: str, params: dict[str, str] | None,
                  token: str) -> tuple[Any, int]:
        """One call, reported to the observer (endpoint, outcome, seconds, the answer's headers)."""
        if self._observe is None:
            return self._send_once(method, path, params, token)[:2]
        started = time.perf_counter()
        try:
            payload, size, headers = self._send_once(method, path, params, token)
        except QFlowError as error:
            self._observe(endpoint, error.outcome, time.perf_counter() - started, getattr(error, "headers", None))
            raise
        self._observe(endpoint, "ok", time.perf_counter() - started, headers)
        return payload, size

    def _send_once(self, method: str, path: str, params: dict[str, str] | None,
                   token: str) -> tuple[Any, int, httpx.Headers]:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
        }
        try:
            with deadline(self._answer_seconds), \
                    self._http.stream(method, self._base + path, params=params, headers=headers) as response:
                body = self._read_body(response)
        except httpx.TimeoutException as e:
            raise QFlowTimeout(f"Qualys did not answer in time ({type(e).__name__})") from e
        except httpx.TransportError as e:
            raise QFlowConnectionError(f"could not reach the Qualys gateway ({type(e).__name__})") from e
        if not response.is_success:
            error = status_error_for(response.status_code, _error_message(body), parse_retry_after(response.headers))
            error.headers = response.headers
            raise error
        try:
            return json.loads(body), len(body), response.headers
        except (ValueError, UnicodeDecodeError, RecursionError):
            kind = response.headers.get("content-type", "no content type").split(";")[0][:60]
            raise InvalidResponse(f"expected JSON, got {kind}", response.status_code) from None

    def _read_body(self, response: httpx.Response) -> bytes:
        """The body, refused unread past `max_body_bytes` (what the header promises, or what arrives)."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise InvalidResponse(f"the answer is larger than {self._max_body // 1_048_576} MB", response.status_code)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_body:
                raise InvalidResponse(f"the answer is larger than {self._max_body // 1_048_576} MB",
                                      response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)


def _error_message(raw: bytes) -> str:
    """The gateway's own short message (e.g. "JWT expired"), when the body is JSON."""
    try:
        body = json.loads(raw[:65_536])
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    if isinstance(body, dict):
        for key in ("message", "error", "errorMessage"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    return ""


def build_http_client(timeout_seconds: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The httpx client for Qualys: bounded timeouts, whole-answer deadlines, and a connection pool sized
    for many lookups."""
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)),
        limits=limits,
        transport=transport or deadline_transport(limits),
        headers={"User-Agent": "qflow-for-slack"},
        follow_redirects=False,
    )


__all__ = ["QFlowClient", "build_http_client", "validate_execution_id"]
