"""Kept-alive connections for slack_sdk's clients. slack_sdk opens a new connection for every call (and over
TLS negotiates it anew): in a storm that was most of what posting an answer cost (measured on loopback:
0.35–0.44 ms of CPU per call, against 0.22 ms on a kept-alive connection; on the internet, a TLS handshake
more). Here a call borrows an idle connection to the same host, or opens one, and gives it back once the
answer is read; everything else (retries, errors, the answer's parsing) stays slack_sdk's.

The clients below replace slack_sdk's last step, where it calls urllib's `urlopen`: each returns, or
raises, what that step did with urllib (non-2xx answers as urllib's HTTPError, connection failures as
URLError), so slack_sdk's retry handlers and our callers see no difference.

The app's posts (a card to a `response_url`, and the Web API calls with a JSON body: chat.unfurl,
chat.postMessage, chat.update…) skip the rest of slack_sdk's request path too: `post_json` sends the
body and retries it with slack_sdk's own retry handlers, as slack_sdk's loop does, and a Web API call's
answer is slack_sdk's SlackResponse, checked by slack_sdk (SlackApiError when Slack says not ok). slack_sdk's
path around that step (its arguments rebuilt and walked for block models, a urllib Request, a client
made per response_url) was a third of a post's CPU, and a storm's first answers are mostly posts."""

from __future__ import annotations

import functools
import http.client
import io
import json as jsonlib
import logging
import os
import select
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from email.message import Message
from typing import Any, cast
from urllib.error import HTTPError, URLError
from urllib.parse import urljoin, urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.proxy_env_variable_loader import load_http_proxy_from_env
from slack_sdk.web import SlackResponse
from slack_sdk.web.internal_utils import get_user_agent
from slack_sdk.webhook import WebhookClient, WebhookResponse

from .http_answers import AnswerReader, text_of

# An idle connection older than this is closed rather than reused: servers close idle ones after a while
# (a request sent as they do would fail), and a quiet app needs none.
IDLE_SECONDS = 30.0
MOST_IDLE_PER_HOST = 32

MOST_ATTEMPTS = 100  # as slack_sdk's own loop: a retry handler that never stops is stopped here
JSON = "application/json;charset=utf-8"
log = logging.getLogger(__name__)

Answer = tuple[int, Message, bytes]  # status, headers, body
Key = tuple[str, str, int]  # scheme, host, port


class Connections:
    """Idle HTTP(S) connections by host, each lent to one call at a time."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS, most_idle: int = MOST_IDLE_PER_HOST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._idle_seconds = idle_seconds
        self._most_idle = most_idle
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: dict[Key, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._pid = os.getpid()
        self.opened = 0  # connections opened so far (the tests and benchmarks read it)

    def request(self, req: Request, *, timeout: float, context: ssl.SSLContext | None) -> Answer:
        """Send `req` (as urllib would) and read the whole answer; raises as urllib's `urlopen` does."""
        data = cast(bytes | None, req.data)  # slack_sdk's requests carry bytes
        status, reason, headers, body = self.exchange(req.get_method(), req.full_url, data,
                                                      dict(req.header_items()), timeout=timeout, context=context)
        if not 200 <= status < 300:  # urllib raises for these; slack_sdk reads them from the error
            raise HTTPError(req.full_url, status, reason, headers, io.BytesIO(body))
        return status, headers, body

    def exchange(self, method: str, url: str, body: bytes | None, headers: dict[str, str], *, timeout: float,
                 context: ssl.SSLContext | None) -> tuple[int, str, Message, bytes]:
        """Send one request and read its whole answer, whatever its status: status, reason, headers, body.
        A request that could not be sent raises URLError (as urllib's); a broken answer, what http.client
        raises."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise SlackRequestError(f"Invalid URL detected: {url}")
        key = (scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = self._borrow(key, timeout, context)
        try:
            try:
                connection.request(method, target, body=body, headers=headers)
            except OSError as error:  # as urllib reports a request that could not be sent
                raise URLError(error) from error
            response = connection.getresponse()
            data = response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._give_back(key, connection)
        return response.status, response.reason, response.msg, data

    def _borrow(self, key: Key, timeout: float, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
        # The idle connection is checked (a system call) under the lock, on purpose: checked outside it, the
        # answer threads stopped queueing here and took the interpreter from the acks (measured at 200 in
        # flight: ack p50 7-9 ms became 11-25 ms, the lean benchmark app's 4 ms became 46-162), and no answer
        # came sooner.
        now = self._clock()
        with self._lock:
            if self._pid != os.getpid():  # a forked worker: the parent's connections are not ours to use
                self._idle, self._pid = {}, os.getpid()
            idle = self._idle.get(key, [])
            while idle:
                connection, since = idle.pop()
                if now - since <= self._idle_seconds and not _closed_by_server(connection):
                    connection.timeout = timeout
                    if connection.sock is not None:
                        connection.sock.settimeout(timeout)
                    return connection
                connection.close()
            self.opened += 1
        scheme, host, port = key
        connection = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                 context=context or ssl.create_default_context()) \
            if scheme == "https" else http.client.HTTPConnection(host, port, timeout=timeout)
        connection.response_class = AnswerReader
        return connection

    def _give_back(self, key: Key, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._most_idle:
                idle.append((connection, self._clock()))
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection, _ in connections:
                connection.close()


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read has been closed by the server (or is out of step): not
    reusable. (Checked before each reuse, as urllib3 does.)"""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


SLACK_CONNECTIONS = Connections()  # one set for the process: every client to Slack shares it


def post_json(url: str, body: bytes, headers: Mapping[str, str], handlers: Sequence[RetryHandler], *,
              timeout: float, logger: logging.Logger, context: ssl.SSLContext | None = None,
              connections: Connections = SLACK_CONNECTIONS) -> Answer:
    """POST the JSON `body` to `url` over kept-alive connections, retried as slack_sdk's clients retry: after
    a failed attempt (no answer, or a non-2xx one) each of `handlers` (slack_sdk's RetryHandlers) is asked in
    turn, and the first that can retry waits and asks for another attempt. The last answer, whatever its
    status; the last error when no answer came. `logger` (the slack_sdk client's) gets slack_sdk's debug
    lines, bodies included: quiet unless the library loggers are asked for (QFLOW_DEBUG_LIBRARIES)."""
    sent = {"Content-Type": JSON, **headers}
    debug = logger.isEnabledFor(logging.DEBUG)
    if debug:
        logger.debug("Sending a request - url: %s, body: %s", url, body.decode(errors="replace"))
    state = RetryState()
    for attempt in range(1, MOST_ATTEMPTS + 1):
        state.next_attempt_requested = False
        try:
            status, _, answer_headers, answer = connections.exchange("POST", url, body, sent, timeout=timeout,
                                                                     context=context)
        except Exception as error:
            if attempt == MOST_ATTEMPTS or not _retrying(handlers, state, url, sent, body, None, error):
                raise
            continue
        if debug:
            logger.debug("Received the following response - status: %s, body: %s", status,
                         answer.decode(errors="replace"))
        if 200 <= status < 300 or attempt == MOST_ATTEMPTS or not _retrying(
                handlers, state, url, sent, body,
                HttpResponse(status_code=status, headers={k: [v] for k, v in answer_headers.items()}, data=answer), None):
            return status, answer_headers, answer
    raise AssertionError("unreachable: the last attempt returns or raises")


def _retrying(handlers: Sequence[RetryHandler], state: RetryState, url: str, headers: dict[str, str], body: bytes,
              response: HttpResponse | None, error: Exception | None) -> bool:
    """slack_sdk's retry step: the first handler that can retry prepares (waits for) the next attempt."""
    request = HttpRequest(method="POST", url=url, headers=dict(headers), data=body)
    for handler in handlers:
        if handler.can_retry(state=state, request=request, response=response, error=error):
            log.info("retrying a post to Slack (%s)", type(handler).__name__)
            handler.prepare_for_next_attempt(state=state, request=request, response=response, error=error)
            break
    return state.next_attempt_requested


@functools.cache
def env_proxy() -> str | None:
    """The proxy slack_sdk's clients would use, from the environment (read once: it does not change)."""
    return load_http_proxy_from_env(log)


@functools.cache
def user_agent() -> str:
    """The User-Agent slack_sdk's clients send."""
    return get_user_agent()


WEBHOOK_LOG = logging.getLogger("slack_sdk.webhook.client")  # the logger slack_sdk would ask for


class Encoded(dict[str, Any]):
    """A Web API call's JSON body, given with its encoding (made of parts encoded once for many calls)."""

    def __init__(self, fields: dict[str, Any], *, body: bytes) -> None:
        super().__init__(fields)
        self.body = body


class KeptAliveWebClient(WebClient):
    """slack_sdk's WebClient over kept-alive connections."""

    def __init__(self, *args: Any, connections: Connections = SLACK_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections = connections

    def api_call(self, api_method: str, *, http_verb: str = "POST", files: dict[str, Any] | None = None,
                 data: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                 json: dict[str, Any] | None = None, headers: dict[str, Any] | None = None,
                 auth: dict[str, Any] | None = None) -> SlackResponse:
        """A call with a JSON body and nothing else (chat.unfurl, chat.postMessage, chat.update…) goes out
        through `post_json`; its answer is read as slack_sdk reads it. Any other call is slack_sdk's."""
        body = None
        if (json is not None and http_verb == "POST" and not (files or data or params or headers or auth)
                and self.proxy is None and not self.default_params and "token" not in json):
            try:
                body = json.body if isinstance(json, Encoded) else jsonlib.dumps(json).encode()
            except TypeError:  # a block model, not a dict: slack_sdk turns those into dicts
                body = None
        if body is None:
            return super().api_call(api_method, http_verb=http_verb, files=files, data=data, params=params,
                                    json=json, headers=headers, auth=auth)
        url = urljoin(self.base_url, api_method.lstrip("/"))
        sent = {**self.headers, **({"Authorization": f"Bearer {self.token}"} if self.token else {})}
        status, answer_headers, answer = post_json(url, body, sent, self.retry_handlers, timeout=self.timeout,
                                                   logger=self._logger, context=self.ssl,
                                                   connections=self._connections)
        text = text_of(answer_headers, answer)
        try:
            parsed = jsonlib.loads(text)
        except ValueError:
            log.error("Slack answered %s with a body that is not JSON", api_method)
            parsed = {"ok": False, "error": f"Received a response in a non-JSON format: {text[:100]}"}
        return SlackResponse(client=self, http_verb="POST", api_url=url,
                             req_args={"headers": {**sent, "Content-Type": JSON}, "data": {}, "params": {},
                                       "files": None, "json": json},
                             data=parsed, headers=dict(answer_headers), status_code=status).validate()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)
        status, headers, body = self._connections.request(req, timeout=self.timeout, context=self.ssl)
        if headers.get_content_type() == "application/gzip":
            return {"status": status, "headers": headers, "body": body}
        return {"status": status, "headers": headers, "body": text_of(headers, body)}


class KeptAliveWebhookClient(WebhookClient):
    """slack_sdk's WebhookClient (response_url) over kept-alive connections. One is made per answer: given
    a logger, slack_sdk does not ask `logging.getLogger` (which takes logging's module-wide lock) each time."""

    def __init__(self, *args: Any, connections: Connections = SLACK_CONNECTIONS, **kwargs: Any) -> None:
        kwargs.setdefault("logger", WEBHOOK_LOG)
        super().__init__(*args, **kwargs)
        self._connections = connections

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None:
            return super()._perform_http_request_internal(url, req)
        status, headers, body = self._connections.request(req, timeout=self.timeout, context=self.ssl)
        return WebhookResponse(url=url, status_code=status, body=text_of(headers, body),
                               headers=headers)  # type: ignore[arg-type]
